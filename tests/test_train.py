"Tests of hephaestus.train: short runs, resume after SIGKILL, two-process DDP, the NaN guard, errors."
import json, os, signal, subprocess, sys, time
from dataclasses import asdict
from pathlib import Path
import pytest, torch
from hephaestus.train import TrainConfig, load_checkpoint, model_from_checkpoint, step_loss, train, batch_source
from hephaestus.vae import VAE

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def small(tmp_path, **kw):
    return TrainConfig(**{**dict(steps=6, batch_size=16, out=str(tmp_path/'run'), ckpt_every=3, log_every=3, threads=1), **kw})

@pytest.mark.parametrize('loss', ['tcvae', 'betavae', 'vae'])
def test_short_run_each_loss(tmp_path, loss):
    last = train(small(tmp_path, loss=loss), progress=False)
    ck = load_checkpoint(last)
    assert ck['step'] == 6 and ck['train_config']['loss'] == loss
    assert all(torch.isfinite(v).all() for v in ck['model'].values())
    assert len((tmp_path/'run'/'log.jsonl').read_text().splitlines()) == 2

def test_bf16_and_object_weight_run(tmp_path):
    last = train(small(tmp_path, precision='bf16', object_weight=3.0), progress=False)
    assert load_checkpoint(last)['step'] == 6

def test_loss_decreases(tmp_path):
    cfg = small(tmp_path, steps=60, batch_size=32, log_every=20, ckpt_every=60, lr=2e-3)
    ck = load_checkpoint(train(cfg, progress=False))
    h = ck['history']
    assert h[-1]['recon'] < h[0]['recon']

def _cli(*args):
    return [str(BIN/'hephaestus'), 'train', *args]

def test_sigkill_then_resume(tmp_path):
    out = tmp_path/'killed'
    args = ['--steps', '400', '--batch-size', '8', '--ckpt-every', '5', '--log-every', '5', '--threads', '1', '--out', str(out), '--quiet']
    p = subprocess.Popen(_cli(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t0 = time.time()
    while time.time() - t0 < 120:
        if (out/'last.pt').exists() and load_checkpoint(out/'last.pt')['step'] >= 10: break
        time.sleep(0.2)
    p.send_signal(signal.SIGKILL); p.wait()
    killed_at = load_checkpoint(out/'last.pt')['step']
    assert 10 <= killed_at < 400
    assert not list(out.glob('*.tmp*'))  # no half-written files left behind as checkpoints
    r = subprocess.run(_cli(*[a if a != '400' else str(killed_at + 10) for a in args], '--resume'),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ck = load_checkpoint(out/'last.pt')
    assert ck['step'] == killed_at + 10
    assert ck['history'][-1]['step'] == killed_at + 10

def test_ddp_two_processes(tmp_path):
    out = tmp_path/'ddp'
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([str(BIN/'torchrun'), '--standalone', '--nproc_per_node', '2', '--no-python', str(BIN/'hephaestus'), 'train',
                        '--steps', '4', '--batch-size', '8', '--ckpt-every', '2', '--log-every', '2', '--threads', '1',
                        '--out', str(out), '--quiet'], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    ck = load_checkpoint(out/'last.pt')
    assert ck['step'] == 4
    assert ck['history'][-1]['images_per_s'] > 0
    # both ranks trained the same replicated model: rank 0's checkpoint is that model
    m = model_from_checkpoint(ck)
    assert isinstance(m, VAE)

def test_nan_guard_keeps_last_good_checkpoint(tmp_path):
    cfg = small(tmp_path, steps=4, ckpt_every=2)
    train(cfg, progress=False)
    good = load_checkpoint(tmp_path/'run'/'last.pt')
    bad = TrainConfig(**{**asdict(cfg), 'steps': 8, 'lr': 1e30})
    with pytest.raises(FloatingPointError, match='last good checkpoint'):
        train(bad, resume=True, progress=False)
    ck = load_checkpoint(tmp_path/'run'/'last.pt')
    assert all(torch.isfinite(v).all() for v in ck['model'].values())
    assert ck['step'] >= good['step']

def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match='unknown dataset'): TrainConfig(dataset='imagenet')
    with pytest.raises(ValueError, match='data-dir'): TrainConfig(dataset='cifar10')
    with pytest.raises(ValueError, match='steps'): TrainConfig(steps=0)
    with pytest.raises(ValueError, match='precision'): TrainConfig(precision='fp8')

def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError): load_checkpoint(tmp_path/'none.pt')
    (tmp_path/'junk.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='not a readable checkpoint'): load_checkpoint(tmp_path/'junk.pt')
    last = train(small(tmp_path), progress=False)
    ck = load_checkpoint(last); ck['model_config'] = {**ck['model_config'], 'latent_dim': 4}
    with pytest.raises(ValueError, match='do not fit'): model_from_checkpoint(ck)

def test_dsprites_source(tmp_path):
    grid = ROOT.parent/'shared'/'data'/'dsprites'/'dsprites-grid.npz'
    if not grid.exists(): pytest.skip(f'real dSprites grid not found at {grid}')
    src = batch_source(TrainConfig(dataset='dsprites', data_dir=str(grid)))
    x, w = src.sample(8, torch.Generator().manual_seed(0))
    assert x.shape == (8, 1, 64, 64) and w is None and src.dataset_size == 46080

def test_pairs_differ_in_k_factors():
    from hephaestus.train import _partners
    from hephaestus.data import FACTOR_SIZES
    g = torch.Generator().manual_seed(1)
    c = torch.stack([torch.randint(0, k, (500,), generator=g) for k in FACTOR_SIZES], 1)
    for k in (1, 2, 3):
        p = _partners(c, k, g)
        assert ((p != c).sum(1) == k).all()
        assert (p >= 0).all() and (p < torch.tensor(FACTOR_SIZES)).all()

def test_paired_run(tmp_path):
    last = train(small(tmp_path, pair_factors=1, batch_size=8), progress=False)
    ck = load_checkpoint(last)
    assert ck['step'] == 6 and ck['train_config']['pair_factors'] == 1
    with pytest.raises(ValueError, match='source of factor classes'): TrainConfig(dataset='cifar10', data_dir='x', pair_factors=1)
    with pytest.raises(ValueError, match='pair_factors'): TrainConfig(pair_factors=6)

def test_dsprites_pairs():
    grid = ROOT.parent/'shared'/'data'/'dsprites'/'dsprites-grid.npz'
    if not grid.exists(): pytest.skip(f'real dSprites grid not found at {grid}')
    from hephaestus.train import _partners
    from hephaestus.loaders import DSprites
    ds = DSprites(grid)
    g = torch.Generator().manual_seed(0)
    c = ds.classes[torch.randint(0, len(ds), (200,), generator=g)]
    p = _partners(c, 1, g, ds.factor_sizes)
    assert ((p != c).sum(1) == 1).all() and (p < torch.tensor(ds.factor_sizes)).all()
    src = batch_source(TrainConfig(dataset='dsprites', data_dir=str(grid), pair_factors=1))
    x, w = src.sample(8, torch.Generator().manual_seed(0))   # 8 pairs: rows i and 8+i
    assert x.shape == (16, 1, 64, 64) and w is None
    assert (x[:8] != x[8:]).flatten(1).any(1).all()   # one factor changed -> a different picture (no symmetric no-ops at these seeds)

def test_cosine_schedule_by_steps_and_minutes():
    from hephaestus.train import lr_at
    c = TrainConfig(steps=100, lr=1e-3, lr_schedule='cosine')
    assert lr_at(c, 0) == pytest.approx(1e-3) and lr_at(c, 100) == pytest.approx(5e-5) and lr_at(c, 50) == pytest.approx(5.25e-4)
    assert lr_at(TrainConfig(steps=100), 80) == 1e-3                      # constant by default
    m = TrainConfig(steps=10_000, lr=1e-3, lr_schedule='cosine', minutes=2)
    assert lr_at(m, 10, wall=60) == pytest.approx(5.25e-4)                # half the time budget spent: half way down
    assert lr_at(m, 10, wall=500) == pytest.approx(5e-5)

def test_time_budget_clip_and_logged_lr(tmp_path):
    last = train(small(tmp_path, steps=10_000, minutes=1e-9), progress=False)
    assert load_checkpoint(last)['step'] == 0                              # stops at once, with a checkpoint
    ck = load_checkpoint(train(small(tmp_path, out=str(tmp_path/'c'), clip=1.0, lr_schedule='cosine'), progress=False))
    h = ck['history']
    assert all('grad_norm' in r and r['grad_norm'] > 1 for r in h)         # the norm before clipping is logged
    assert h[0]['lr'] > h[-1]['lr'] and ck['step'] == 6

def test_schedule_and_device_errors(tmp_path):
    with pytest.raises(ValueError, match='lr_schedule'): TrainConfig(lr_schedule='step')
    with pytest.raises(ValueError, match='clip and minutes'): TrainConfig(clip=-1)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='no GPU is available'): train(small(tmp_path, device='cuda'), progress=False)

def test_render_on_a_device_matches_cpu():
    from hephaestus.data import render_shapes3d
    c = torch.tensor([[0, 3, 5, 2, 1, 7], [9, 9, 9, 7, 3, 14]])
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    x = render_shapes3d(c, device=dev)
    assert x.device.type == dev and torch.allclose(x.cpu(), render_shapes3d(c), atol=1e-6)
    assert render_shapes3d(c[:0], device=dev).shape == (0, 3, 64, 64)
