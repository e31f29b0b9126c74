"""Latency of ranking one group of 6 pictures with the shipped model: rank_group + explain (goal: <= 50 ms).

Side by side in one run: the robust leave-one-out score (default), the plain Euclidean distance, and the factor readout.
Also times the PNG path (6 files read, converted, ranked, explained). Prints median and 90th-percentile
milliseconds per group over fixed seed-style groups.
Usage: python benchmarks/ranking_latency.py [--groups 20] [--repeats 5] [--threads 1]
"""
import argparse, statistics, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch

def timings(fn, items, repeats):
    out = []
    for x in items:
        fn(x)                                                          # warm
        for _ in range(repeats):
            t = time.perf_counter()
            fn(x)
            out.append((time.perf_counter() - t) * 1000)
    return out

def show(name, ms, goal=50):
    q = np.percentile(ms, [50, 90])
    print(f"{name:28s} median {q[0]:6.1f} ms   p90 {q[1]:6.1f} ms   "
          f"goal <= {goal} ms: {'met' if q[0] <= goal else 'NOT met'}")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--groups', type=int, default=20)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from hephaestus.data import Shapes3D
    from hephaestus.groups import sample_groups
    from hephaestus.model import available_pretrained, load_pretrained
    from hephaestus.ranking import rank_group
    if 'shapes3d' not in available_pretrained():
        print('no shipped shapes3d model: nothing to measure')
        sys.exit(0)
    model = load_pretrained('shapes3d')
    gs = sample_groups(Shapes3D(), a.groups, n=6, style='seed', seed=0)
    print(f"{a.groups} groups of 6, {a.repeats} repeats each, {a.threads} thread(s), model {model.name}")
    for method in ('readout', 'robust', 'plain'):    # readout: the default
        show(f'rank + explain ({method})',
             timings(lambda x: rank_group(model, x, method=method).explain(), gs.images, a.repeats))
    from PIL import Image
    with tempfile.TemporaryDirectory() as d:
        files = []
        for g in range(min(a.groups, 5)):
            fs = []
            for i, x in enumerate(gs.images[g]):
                f = Path(d) / f'{g}_{i}.png'
                Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype('uint8')).save(f)
                fs.append(f)
            files.append(fs)
        show('6 PNG files -> explain (default)', timings(lambda fs: rank_group(model, fs).explain(), files, a.repeats))
    print('reproduce: .venv/bin/python benchmarks/ranking_latency.py --groups %d --repeats %d --threads %d'
          % (a.groups, a.repeats, a.threads))
