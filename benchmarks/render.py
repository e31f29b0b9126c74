"""Rendering speed of the built-in 3D Shapes renderer (goal: >= 2,000 images/s on the 2-core machine).

Side by side in one run: `render_shapes3d` (table gather) against `render_direct` (ray casting
every picture, the reference it must agree with). Prints images/s of each and their ratio.
Usage: python benchmarks/render.py [--n 4096] [--repeats 5] [--threads 2]
"""
import argparse, time
import torch
from hephaestus.data import FACTOR_SIZES, render_direct, render_shapes3d, scene_tables

def rate(fn, classes, repeats):
    best = float('inf')
    for _ in range(repeats):
        t = time.perf_counter()
        fn(classes)
        best = min(best, time.perf_counter() - t)
    return len(classes) / best

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=4096)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    classes = torch.stack([torch.randint(0, k, (a.n,), generator=g) for k in FACTOR_SIZES], 1)
    scene_tables()                                          # build/load tables outside the timing
    render_shapes3d(classes[:64])
    fast = rate(render_shapes3d, classes, a.repeats)
    ref = rate(render_direct, classes[:256], max(1, a.repeats // 2))
    print(f"render_shapes3d (tables): {fast:9.0f} images/s  (batch of {a.n}, best of {a.repeats}, {a.threads} threads)")
    print(f"render_direct (ray cast): {ref:9.0f} images/s")
    print(f"ratio: {fast / ref:.1f}x;  goal >= 2000 images/s: {'met' if fast >= 2000 else 'NOT met'}")
