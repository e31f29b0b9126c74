"""Latency of refining one 64x64 picture with the diffusion refiner: 10 DDIM steps (goal: <= 1.5 s on this CPU).

Side by side in one run: one VAE decode (the picture the refiner starts from) and one UNet forward pass.
Uses the shipped refiner when there is one, else the recommended full-size configuration with random
weights (the time does not depend on the weights). Prints median milliseconds over --repeats runs.
Usage: python benchmarks/refine_latency.py [--steps 10] [--repeats 5] [--threads 1] [--batch 1]
"""
import argparse, statistics, time
import torch

def median_ms(fn, repeats):
    fn()                                                               # warm
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t)*1000)
    return statistics.median(out)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--batch', type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from hephaestus.diffusion import Refiner, refine
    from hephaestus.model import available_pretrained, load_pretrained
    from hephaestus.vae import VAE
    model = load_pretrained('shapes3d') if 'shapes3d' in available_pretrained() else None
    shipped = model is not None and model.has_refiner
    r = model.refiner if shipped else Refiner().eval()
    vae = model.vae if model is not None else VAE().eval()
    n = sum(q.numel() for q in r.parameters())
    print(f"refiner {'shipped' if shipped else 'random weights'}: {r.config}, {n/1e6:.2f} M parameters; "
          f"batch {a.batch}, {a.threads} thread(s), median of {a.repeats}")
    z = torch.randn(a.batch, vae.latent_dim)
    with torch.no_grad():
        cond = vae.decode(z)
        dec = median_ms(lambda: vae.decode(z), a.repeats)
        t = torch.full((a.batch,), 500)
        fwd = median_ms(lambda: r(cond*2 - 1, t, cond*2 - 1), a.repeats)
    ref = median_ms(lambda: refine(r, cond, steps=a.steps), a.repeats)
    print(f"VAE decode                 {dec:8.1f} ms")
    print(f"UNet forward               {fwd:8.1f} ms")
    print(f"refine, {a.steps:2d} DDIM steps      {ref:8.1f} ms   "
          f"goal <= 1500 ms: {'met' if ref <= 1500 else 'NOT met'}")
    print('reproduce: .venv/bin/python benchmarks/refine_latency.py --steps %d --repeats %d --threads %d --batch %d'
          % (a.steps, a.repeats, a.threads, a.batch))
