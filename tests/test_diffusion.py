"""Tests of hephaestus.diffusion: the UNet, the schedule, DDIM sampling, training, checkpoints and shipping of the refiner."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hephaestus import diffusion as D
from hephaestus.diffusion import (Refiner, RefinerConfig, UNet, alphas_cumprod, check_refiner, export_refiner,
                                  load_refiner, load_refiner_checkpoint, refine, train_refiner, vae_fingerprint)
from hephaestus.vae import VAE

TINY = dict(base=8, mults=(1, 2), attn=True)


@pytest.fixture(scope='module')
def vae():
    torch.manual_seed(0)
    return VAE(latent_dim=4).eval()


def tiny_refiner(param='v', **kw) -> Refiner:
    torch.manual_seed(0)
    return Refiner(**(TINY | kw), param=param)


def tiny_cfg(tmp_path, **kw) -> RefinerConfig:
    return RefinerConfig(**(dict(steps=4, batch_size=2, base=8, mults=(1, 2), warmup=1, ckpt_every=2, log_every=1,
                                 out=str(tmp_path/'run'), precision='fp32') | kw))


# ------------------------------------------------------------------ network and schedule
@pytest.mark.parametrize('mults,attn', [((1, 2), False), ((1, 2, 2, 2), True)])
def test_unet_output_shape(mults, attn):
    net = UNet(3, base=8, mults=mults, attn=attn)
    x = torch.randn(2, 3, 64, 64)
    assert net(x, torch.tensor([0, 999]), x).shape == (2, 3, 64, 64)
    assert UNet(1, base=8, mults=mults)(torch.randn(1, 1, 32, 32), torch.tensor([5]), torch.randn(1, 1, 32, 32)).shape == (1, 1, 32, 32)


def test_full_size_unet_is_small():
    n = sum(p.numel() for p in Refiner().parameters())
    assert 1e6 < n <= 4e6, n   # fp16 storage <= 8 MB


@pytest.mark.parametrize('schedule', ['cosine', 'linear'])
def test_schedule(schedule):
    ab = alphas_cumprod(1000, schedule)
    assert ab.shape == (1000,) and (ab[1:] < ab[:-1]).all()
    assert (ab > 0).all() and (ab < 1).all()
    assert ab[0] > 0.99 and ab[-1] < 1e-3


def test_targets_invert():
    x0, noise, t = torch.rand(3, 3, 64, 64)*2 - 1, torch.randn(3, 3, 64, 64), torch.tensor([0, 500, 999])
    for p in ('v', 'x0', 'eps'):
        r = tiny_refiner(p)
        xt = r.add_noise(x0, t, noise)
        x0_hat = r.predict_x0(xt, t, r.target(x0, t, noise))
        assert torch.allclose(x0_hat[:2], x0[:2], atol=1e-4)   # eps loses x0 at t = T-1, where ᾱ is about 0


# ------------------------------------------------------------------ DDIM sampling
class Oracle(torch.nn.Module):
    "A perfect network: it knows the clean picture and answers with the exact target for any x_t."
    def __init__(self, r: Refiner, x0: torch.Tensor): super().__init__(); self.r, self.x0 = [r], x0
    def forward(self, xt, t, cond):
        r = self.r[0]
        a, s = r.ab[t].sqrt()[:, None, None, None], (1 - r.ab[t]).sqrt()[:, None, None, None]
        return r.target(self.x0, t, (xt - a*self.x0)/s)


@pytest.mark.parametrize('param', ['v', 'x0'])
@pytest.mark.parametrize('eta', [0.0, 1.0])
def test_ddim_with_oracle_recovers_x0(param, eta):
    x0 = torch.rand(2, 3, 64, 64)
    r = tiny_refiner(param)
    r.unet = Oracle(r, x0*2 - 1)
    for steps in (1, 10):
        assert torch.allclose(refine(r, torch.rand(2, 3, 64, 64), steps=steps, eta=eta), x0, atol=1e-4)


def test_shared_noise_and_seed():
    r = tiny_refiner()
    with torch.no_grad():   # an untrained network outputs zeros: make it non-trivial
        for p in r.parameters(): p.add_(0.05*torch.randn_like(p))
    c = torch.rand(1, 3, 64, 64).expand(3, -1, -1, -1)
    same = refine(r, c, steps=3, seed=1, shared_noise=True)
    assert torch.allclose(same[0], same[1]) and torch.allclose(same[0], same[2])
    diff = refine(r, c, steps=3, seed=1)
    assert not torch.allclose(diff[0], diff[1])
    assert torch.equal(refine(r, c, steps=3, seed=1), diff)                     # deterministic per seed
    assert not torch.equal(refine(r, c, steps=3, seed=2), diff)
    assert torch.allclose(refine(r, c, steps=3, seed=1, shared_noise=True, eta=1.0)[0],
                          refine(r, c, steps=3, seed=1, shared_noise=True, eta=1.0)[2])
    assert same.min() >= 0 and same.max() <= 1


def test_refine_errors():
    r = tiny_refiner()
    x = torch.rand(2, 3, 64, 64)
    with pytest.raises(TypeError, match='torch.Tensor'): refine(r, x.numpy())
    with pytest.raises(ValueError, match='add the batch dimension'): refine(r, x[0])
    with pytest.raises(ValueError, match=r'shape \[N, 3, 64, 64\]'): refine(r, torch.rand(2, 1, 64, 64))
    with pytest.raises(ValueError, match=r'shape \[N, 3, 64, 64\]'): refine(r, torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match='float images'): refine(r, (x*255).byte())
    with pytest.raises(ValueError, match=r'in \[0, 1\]'): refine(r, x*255)
    with pytest.raises(ValueError, match='NaN'): refine(r, torch.full_like(x, float('nan')))
    with pytest.raises(ValueError, match=r'steps must lie in 1\.\.1000'): refine(r, x, steps=0)
    with pytest.raises(ValueError, match=r'steps must lie in 1\.\.1000'): refine(r, x, steps=1001)
    with pytest.raises(ValueError, match='eta'): refine(r, x, eta=-1)


# ------------------------------------------------------------------ VAE fingerprint
def test_fingerprint_and_check(vae):
    fp = vae_fingerprint(vae)
    assert len(fp) == 16 and fp == vae_fingerprint(vae)
    other = VAE(latent_dim=4)
    assert vae_fingerprint(other) != fp
    r = Refiner(**TINY, vae_id=fp)
    check_refiner(r, vae)
    with pytest.raises(ValueError, match='trained for the VAE'): check_refiner(r, other)
    with pytest.raises(ValueError, match='the VAE makes 1x64x64'): check_refiner(r, VAE(latent_dim=4, in_channels=1))


# ------------------------------------------------------------------ training
def test_training_lowers_loss_on_fixed_batch(vae):
    torch.manual_seed(0)
    r = tiny_refiner('x0')
    x0, cond = D.make_batch(vae, 4, torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(r.parameters(), lr=3e-3)
    def loss():
        torch.manual_seed(1)
        return D.diffusion_loss(r, x0, cond)
    before = loss().item()
    for _ in range(30):
        l = loss(); opt.zero_grad(); l.backward(); opt.step()
    assert loss().item() < 0.7*before


def test_train_resume_and_time_budget(tmp_path, vae):
    last = train_refiner(tiny_cfg(tmp_path, steps=3), vae, progress=False)
    ck = load_refiner_checkpoint(last)
    assert ck['step'] == 3 and ck['vae_id'] == vae_fingerprint(vae) and len(ck['history']) == 3
    last = train_refiner(tiny_cfg(tmp_path, steps=5), vae, resume=True, progress=False)
    ck2 = load_refiner_checkpoint(last)
    assert ck2['step'] == 5 and [h['step'] for h in ck2['history']] == [1, 2, 3, 4, 5]
    # a resumed run continues where an uninterrupted one would be: same batches, same noise
    full = train_refiner(tiny_cfg(tmp_path, steps=5, out=str(tmp_path/'full')), vae, progress=False)
    ck3 = load_refiner_checkpoint(full)
    assert all(torch.allclose(ck2['model'][k], ck3['model'][k], atol=1e-5) for k in ck3['model'])
    # the time budget stops the run early, with a checkpoint
    last = train_refiner(tiny_cfg(tmp_path, steps=10_000, minutes=1e-9, out=str(tmp_path/'t')), vae, progress=False)
    assert load_refiner_checkpoint(last)['step'] == 0
    with pytest.raises(ValueError, match='refines the VAE'):
        train_refiner(tiny_cfg(tmp_path, steps=6), VAE(latent_dim=4), resume=True, progress=False)


def test_nan_guard_keeps_last_checkpoint(tmp_path, vae, monkeypatch):
    last = train_refiner(tiny_cfg(tmp_path, steps=2), vae, progress=False)
    good = load_refiner_checkpoint(last)['step']
    monkeypatch.setattr(D, 'diffusion_loss', lambda *a, **k: torch.tensor(float('nan'), requires_grad=True))
    with pytest.raises(FloatingPointError, match='loss became nan at step 2.*last good checkpoint'):
        train_refiner(tiny_cfg(tmp_path, steps=4), vae, resume=True, progress=False)
    assert load_refiner_checkpoint(last)['step'] == good


def test_config_errors():
    with pytest.raises(ValueError, match='param must be one of'): RefinerConfig(param='score')
    with pytest.raises(ValueError, match='batch_size must be at least 1'): RefinerConfig(batch_size=0)
    with pytest.raises(ValueError, match='minutes'): RefinerConfig(minutes=-1)
    with pytest.raises(ValueError, match='precision'): RefinerConfig(precision='fp16')
    assert RefinerConfig(mults='1,2,4').mults == (1, 2, 4)


# ------------------------------------------------------------------ shipping
def test_export_load_round_trip(tmp_path, vae):
    last = train_refiner(tiny_cfg(tmp_path, steps=2), vae, progress=False)
    path = export_refiner(last, 'tiny-refiner', vae, dict(mse=0.01, note='x'), '# card\n', weights_dir=tmp_path/'w')
    blob = torch.load(path, weights_only=True)
    assert blob['format'] == D.FORMAT and all(v.dtype == torch.float16 for v in blob['model'].values() if v.is_floating_point())
    n = sum(v.numel() for v in blob['model'].values())
    assert path.stat().st_size < 2*n + 200_000
    r = load_refiner(path)
    assert not r.training and r.vae_id == vae_fingerprint(vae) and r.card == '# card\n' and r.metrics == dict(mse=0.01)
    ema = load_refiner_checkpoint(last)['ema']
    assert all(torch.allclose(r.state_dict()[k], ema[k].half().float()) for k in ema)
    assert next(r.parameters()).dtype == torch.float32
    check_refiner(r, vae)
    assert refine(r, torch.rand(1, 3, 64, 64), steps=2).shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match='refines the VAE'):
        export_refiner(last, 'x', VAE(latent_dim=4), {}, '', weights_dir=tmp_path/'w')


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='no Hephaestus refiner'): load_refiner(tmp_path/'missing.pt')
    bad = tmp_path/'bad.pt'; bad.write_bytes(b'not a torch file')
    with pytest.raises(ValueError, match='damaged or not a Hephaestus refiner'): load_refiner(bad)
    other = tmp_path/'other.pt'; torch.save(dict(format='hephaestus-pretrained-1'), other)
    with pytest.raises(ValueError, match='not a Hephaestus refiner'): load_refiner(other)
    with pytest.raises(ValueError, match='not a refiner training checkpoint'): load_refiner_checkpoint(other)
