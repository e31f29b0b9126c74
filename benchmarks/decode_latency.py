"""Latency of making one picture with the shipped model: decode one code, and edit() one picture \
(goal: decode <= 20 ms).

Also times generate_like on a group of 6 (rank, shared code, decode) and similarity_path (49 decodes, scored,
8 re-ranked), which the dashboards call per click. Prints median and 90th-percentile milliseconds.
Usage: python benchmarks/decode_latency.py [--calls 200] [--threads 1]
"""
import argparse, sys, time
import numpy as np
import torch

def timings(fn, calls, warm=5):
    for _ in range(warm): fn()
    out = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out

def show(name, ms, goal=None):
    q = np.percentile(ms, [50, 90])
    verdict = f"   goal <= {goal} ms: {'met' if q[0] <= goal else 'NOT met'}" if goal else ''
    print(f"{name:38s} median {q[0]:7.2f} ms   p90 {q[1]:7.2f} ms   ({len(ms)} calls){verdict}")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--calls', type=int, default=200)
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from hephaestus.data import Shapes3D, render_shapes3d
    from hephaestus.groups import sample_groups
    from hephaestus.model import available_pretrained, load_pretrained
    from hephaestus.generate import edit, generate_like, similarity_path
    if 'shapes3d' not in available_pretrained():
        print('no shipped shapes3d model: nothing to measure')
        sys.exit(0)
    model = load_pretrained('shapes3d')
    z = model.summary.mean[None].clone()
    x = render_shapes3d(torch.tensor([[2, 5, 8, 6, 1, 3]]))
    group = sample_groups(Shapes3D(), 1, n=6, style='seed', seed=0).images[0]
    print(f"model {model.name}, {a.threads} thread(s)")
    with torch.no_grad(): show('decode one code', timings(lambda: model.decode(z), a.calls), goal=20)
    show("edit() one picture {'shape': 2}", timings(lambda: edit(model, x, {'shape': 2}), a.calls), goal=20)
    show('generate_like (group of 6, n=1)', timings(lambda: generate_like(model, group), max(10, a.calls // 10)))
    show('similarity_path (group of 6, 8 steps)',
         timings(lambda: similarity_path(model, group), max(5, a.calls // 20), warm=1))
    print('reproduce: .venv/bin/python benchmarks/decode_latency.py --calls %d --threads %d' % (a.calls, a.threads))
