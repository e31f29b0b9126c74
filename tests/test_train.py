"""Tests of hephaestus.train that nbs/03_train.ipynb does not run: the `hephaestus train` command killed with SIGKILL \
and
resumed, two-process DDP under torchrun (subprocesses), a longer run whose loss falls (slow), and dSprites batches on
the reference data (../shared/data).

The config, the batches, the loss, checkpoints, a short run and its resume are checked in the notebook; the run skeleton
(atomic checkpoints, resume, random state, guard) in nbs/02a_runs.ipynb.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hephaestus.train import TrainConfig, _partners, batch_source, load_checkpoint, model_from_checkpoint, train
from hephaestus.vae import VAE

torch.set_num_threads(1)
BIN = Path(sys.executable).parent


def _cli(*args):
    return [str(BIN / 'hephaestus'), 'train', *args]


def test_loss_decreases(tmp_path):
    cfg = TrainConfig(steps=60, batch_size=32, lr=2e-3, out=str(tmp_path / 'run'), ckpt_every=60, log_every=20,
                      threads=1)
    h = load_checkpoint(train(cfg, progress=False))['history']
    assert len(h) == 3 and h[-1]['recon'] < h[0]['recon']


def test_sigkill_then_resume(tmp_path):
    out = tmp_path / 'killed'
    args = ['--steps', '400', '--batch-size', '8', '--ckpt-every', '5', '--log-every', '5', '--threads', '1',
            '--out', str(out), '--quiet']
    p = subprocess.Popen(_cli(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t0 = time.time()
    try:
        while time.time() - t0 < 120:
            if (out / 'last.pt').exists() and load_checkpoint(out / 'last.pt')['step'] >= 10:
                break
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    killed_at = load_checkpoint(out / 'last.pt')['step']
    assert 10 <= killed_at < 400
    # a kill while saving may leave `last.pt<random>.tmp`, but `last.pt` itself is always whole (read above)
    assert all(f.name.startswith('last.pt') for f in out.glob('*.tmp'))
    (out / 'last.ptkilled.tmp').write_bytes(b'half')   # as if the kill had always come mid-save
    r = subprocess.run(_cli(*[a if a != '400' else str(killed_at + 10) for a in args], '--resume'),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ck = load_checkpoint(out / 'last.pt')
    assert ck['step'] == killed_at + 10 and ck['history'][-1]['step'] == killed_at + 10
    assert not list(out.rglob('*.tmp'))  # the resumed run removed what the killed one left half-written


def test_ddp_two_processes(tmp_path):
    out = tmp_path / 'ddp'
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([str(BIN / 'torchrun'), '--standalone', '--nproc_per_node', '2', '--no-python',
                        str(BIN / 'hephaestus'), 'train', '--steps', '4', '--batch-size', '8', '--ckpt-every', '2',
                        '--log-every', '2', '--threads', '1', '--out', str(out), '--quiet'],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    ck = load_checkpoint(out / 'last.pt')
    assert ck['step'] == 4 and ck['history'][-1]['images_per_s'] > 0
    assert isinstance(model_from_checkpoint(ck), VAE)   # rank 0's checkpoint is the replicated model


def test_dsprites_batches_and_pairs(shared_data):
    grid = shared_data / 'dsprites' / 'dsprites-grid.npz'
    if not grid.exists():
        print(f'skipping: no dSprites grid at {grid}')
        pytest.skip(f'no dSprites grid at {grid}')
    src = batch_source(TrainConfig(dataset='dsprites', data_dir=str(grid)))
    x, w = src.sample(8, torch.Generator().manual_seed(0))
    assert x.shape == (8, 1, 64, 64) and w is None and src.dataset_size == 46080
    from hephaestus.loaders import DSprites
    ds = DSprites(grid)
    g = torch.Generator().manual_seed(0)
    c = ds.classes[torch.randint(0, len(ds), (200,), generator=g)]
    p = _partners(c, 1, g, ds.factor_sizes)
    assert ((p != c).sum(1) == 1).all() and (p < torch.tensor(ds.factor_sizes)).all()
    src = batch_source(TrainConfig(dataset='dsprites', data_dir=str(grid), pair_factors=1))
    x, w = src.sample(8, torch.Generator().manual_seed(0))   # 8 pairs: rows i and 8+i
    assert x.shape == (16, 1, 64, 64) and w is None
    assert (x[:8] != x[8:]).flatten(1).any(1).all()   # one factor changed: a different picture (at these seeds)
