"""Training throughput (images/s, data included): Hephaestus's loop against the plain reference recipe.

Both in one run, same machine, same architecture (Burgess et al. VAE), same β-TCVAE MSS loss:
- reference: pre-rendered 3D Shapes pictures in a tensor, a torch DataLoader (shuffle, batch 64),
  the model in the default memory layout, fp32, torch's default threads;
- ours: `hephaestus.train` as the shipped model is trained (pictures rendered on the fly,
  batch 256, channels-last model, bf16 autocast of the network, object-weighted reconstruction).
Goal: ours >= 2x the reference. Usage: python benchmarks/train_throughput.py [--seconds 40]
"""
import argparse, time
import torch
from hephaestus.data import FACTOR_SIZES, N_IMAGES, render_shapes3d
from hephaestus.tcvae_loss import tcvae_loss
from hephaestus.train import TrainConfig, batch_source, step_loss
from hephaestus.vae import VAE

def timed(step, seconds, warmup=3):
    for _ in range(warmup): step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds: n += step()
    return n / (time.perf_counter() - t0)

def reference(seconds):
    g = torch.Generator().manual_seed(0)
    c = torch.stack([torch.randint(0, k, (8192,), generator=g) for k in FACTOR_SIZES], 1)
    data = torch.utils.data.TensorDataset(render_shapes3d(c))
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, drop_last=True)
    model = VAE().to(memory_format=torch.contiguous_format)   # the plain layout
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    it = iter(loader)
    def step():
        nonlocal it
        try: (x,) = next(it)
        except StopIteration:
            it = iter(loader)
            (x,) = next(it)
        loss, _ = tcvae_loss(model, x, model(x), N_IMAGES, beta=6)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return len(x)
    return timed(step, seconds)

def ours(seconds, batch_size=256, object_weight=4.0, precision='bf16'):
    cfg = TrainConfig(batch_size=batch_size, object_weight=object_weight, precision=precision)
    src, g = batch_source(cfg), torch.Generator().manual_seed(0)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    def step():
        x, w = src.sample(cfg.batch_size, g)
        loss, _ = step_loss(model, x, cfg, src.dataset_size, 0, w)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return len(x)
    return timed(step, seconds)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seconds', type=float, default=40)
    a = p.parse_args()
    default_threads = torch.get_num_threads()
    ref = reference(a.seconds)
    torch.set_num_threads(default_threads)
    mine = ours(a.seconds)
    print(f"reference (DataLoader, batch 64, plain layout): {ref:7.0f} images/s")
    print(f"hephaestus (rendered on the fly, batch 256, bf16): {mine:7.0f} images/s")
    print(f"ratio: {mine/ref:.2f}x  (goal >= 2x; {default_threads} threads)")
