"""A tiny run of each part of a natural-picture model (VAE, its decoder fine-tuned, semantic view), put together,
saved, loaded and used."""
import os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, '-c', 'import sys; from hephaestus.cli import main; sys.exit(main(sys.argv[1:]))']


def _pictures(root: Path, classes=('cat', 'dog', 'ship'), k=20) -> Path:
    "k pictures per class, 32x32, each class its own tint and stripes (so that classes differ, not always clearly)."
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / 'train' / name).mkdir(parents=True)
        for i in range(k):
            a = rng.integers(0, 90, (32, 32, 3)) + np.array([50 * c, 120, 180 - 50 * c]) + rng.integers(-30, 30)
            a[:, (np.arange(32) // (2 + c)) % 2 == 0] += 50
            Image.fromarray(a.clip(0, 255).astype(np.uint8)).save(root / 'train' / name / f'{i}.png')
    return root


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('natural')
    data = _pictures(tmp / 'pics')
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', 'HEPHAESTUS_DATA': str(tmp / 'cache')}
    common = ['--dataset', 'folder', '--data-dir', str(data / 'train'), '--threads', '1', '--quiet', '--seed', '0']
    r = subprocess.run([*CLI, 'train', *common, '--steps', '4', '--batch-size', '16', '--latent-dim', '8',
                        '--likelihood', 'gaussian', '--gaussian-std', '0.05', '--ckpt-every', '4', '--log-every', '2',
                        '--out', str(tmp / 'vae')], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = subprocess.run([*CLI, 'train-semantic', *common, '--steps', '4', '--batch-size', '16', '--width', '8',
                        '--ckpt-every', '4', '--log-every', '2', '--out', str(tmp / 'sem')],
                       capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = subprocess.run([*CLI, 'finetune-decoder', '--source', str(tmp / 'vae' / 'last.pt'), '--steps', '3',
                        '--batch-size', '16', '--threads', '1', '--quiet', '--out', str(tmp / 'vae-ft')],
                       capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert r.returncode == 0 and '3 steps of the decoder' in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    os.environ['HEPHAESTUS_DATA'] = str(tmp / 'cache')
    return tmp, data


def test_tiny_natural_model(runs, tmp_path):
    "The two runs make one model: named (or zD) dimensions, semantic ranking by default, edits by aspect, saved."
    from hephaestus.attributes import ATTRIBUTES
    from hephaestus.evaluation.natural import (calibration_check, causal_check, causal_totals, class_groups,
                                               edit_groups, evaluate_natural, group_pictures, model_sources,
                                               natural_model, trained_axes, _choice)
    from hephaestus.train import model_from_checkpoint
    from hephaestus.generate import edit, generate_like, similarity_path
    from hephaestus.loaders import load_pictures
    from hephaestus.model import load_pretrained, save_model
    from hephaestus.ranking import rank_group
    tmp, data = runs
    pics = load_pictures('folder', data / 'train', progress=False)
    assert len(pics) == 60 and len(pics.split('val')) == 6
    model, built = natural_model(tmp / 'vae-ft' / 'vae.pt', tmp / 'sem' / 'last.pt', pics, 'tiny-natural',
                                 summary_n=54, choose_groups=20, calibrate_groups=120)
    assert model.info['steps'] == 4 and model.latent_takeover == built['takeover']
    assert set(built['takeover']) == {3, 4, 5, 6, 8, 10} and min(built['takeover'].values()) >= 1
    assert model.method == 'semantic' and model.semantic_weight in (0.0, 0.1, 0.25, 0.5, 1.0)
    assert len(model.summary.names()) == 8 and len(built['choice_top1_on_train_groups']) == 4 * 5
    assert model.semantic.layers == built['embedding']['layers'] and model.semantic.centre.shape == \
        (model.semantic.embed_dim,)
    assert 'semantic' in model.calibrators and 0 <= model.calibrators['semantic'].threshold <= 1
    gr = class_groups(pics, 5, n=4, part='train')
    r = rank_group(model, group_pictures(pics, gr)[0])
    assert r.method == 'semantic' and r.semantic is not None and not r.takeover and 0 <= r.confidence <= 1
    assert r.has_outlier == (r.confidence >= model.calibrators['semantic'].threshold)
    take, model.latent_takeover = model.latent_takeover, 1.0       # every group: the latent view ranks it
    t = rank_group(model, group_pictures(pics, gr)[0])
    assert t.takeover and t.confidence is None and t.has_outlier and 'latent view' in t.explain()
    model.latent_takeover = take
    assert ('odd one out' if r.has_outlier else 'No clear outlier') in r.explain()
    assert r.outlier in range(4) and len(r.factors) >= 1
    x = pics.pictures(pics.split('val')[:3])
    labels = [n for n in (model.summary.labels or []) if n]
    change = {labels[0]: 1.0} if labels else {'z0': 0.5}
    assert edit(model, x, change).shape == x.shape
    assert generate_like(model, x, change, n=2).shape == (2, *x.shape[1:])
    p = similarity_path(model, x, steps=3)         # a 4-step model: its path may not rise past the start
    assert 1 <= len(p.images) <= 3 and p.images.shape[1:] == x.shape[1:] and (p.scores.diff() > 0).all()
    trained = model_from_checkpoint(tmp / 'vae-ft' / 'vae.pt')     # the axes are turned, the pictures are not
    assert set(model.info['aligned']['attributes']) <= set(ATTRIBUTES)
    with torch.no_grad():
        torch.testing.assert_close(model.vae.decode(model.encode(x)[0]), trained.decode(trained.encode(x)[0]),
                                   atol=1e-4, rtol=0)
    xt = pics.pictures(pics.split('train'))
    back_then = trained_axes(model, xt)                          # the turn undone: the codes as trained
    with torch.no_grad():
        torch.testing.assert_close(back_then.encode(x)[0], trained.encode(x)[0], atol=1e-4, rtol=0)
    cc = causal_check(model, x)
    t = causal_totals(cc)
    assert t['edits'] == len(cc) == 10 and t['edits_named'] == sum(r['dim'] is not None for r in cc)
    assert t['all'][0] <= t['named'][0] or t['edits_named'] == 0
    with pytest.raises(ValueError, match='no turn to undo'):
        trained_axes(back_then, xt)
    save_model(model, tmp_path)
    vck, sck = model_sources(tmp_path / 'tiny-natural.pt')        # built again from the model file alone
    with torch.no_grad():
        torch.testing.assert_close(model_from_checkpoint(vck).encode(x)[0], trained.encode(x)[0], atol=1e-4, rtol=0)
    assert vck['step'] == 4 and sck['step'] == model.info['semantic_steps']
    again, _ = natural_model(vck, sck, pics, 'again', summary_n=54, choose_groups=20, calibrate_groups=120)
    with torch.no_grad():
        torch.testing.assert_close(again.encode(x)[0], model.encode(x)[0], atol=1e-4, rtol=0)
    back = load_pretrained('tiny-natural', tmp_path)
    assert back.semantic is not None and back.semantic_weight == model.semantic_weight
    assert back.latent_takeover == model.latent_takeover
    assert torch.equal(back.semantic.centre, model.semantic.centre)
    torch.testing.assert_close(back.embed(x), model.embed(x))
    assert rank_group(back, group_pictures(pics, gr)[0]).confidence == r.confidence
    res = evaluate_natural(model, pics, n_groups=10, n=3, sizes=(3,), size_groups=5, baseline_n=30,
                           calibration_groups=0, progress=False)   # 2 held-out pictures a class: no group of one
    assert {r['ranker'] for r in res['table']} >= {'chance', 'pixels', 'HOG + thumbnail', res['default']}
    assert res['calibration'] is None
    vae_only, _ = natural_model(tmp / 'vae' / 'last.pt', None, pics, 'tiny-vae', summary_n=54)
    assert vae_only.method == 'robust' and not vae_only.calibrators and 'no semantic view' in _choice(vae_only, 1)
    eg = edit_groups(model, pics, 4, n=3, context='views')
    assert set(eg) == {'top1', 'named', 'per_edit'} and sum(v['n'] for v in eg['per_edit'].values()) == 4
    with pytest.raises(ValueError, match="context must be 'class' or 'views'"):
        edit_groups(model, pics, 1, context='crowd')
    c = calibration_check(model, pics, 10, n=4, part='train')   # the held-out part is too small here
    assert c['n_groups'] == 10 and 0 <= c['ece'] <= 1 and 0 <= c['none_said'][0] <= 1


def test_bad_semantic_checkpoint(runs, tmp_path):
    "A damaged semantic checkpoint, or a VAE checkpoint given as one: one clear error each."
    from hephaestus.semantic import load_semantic_checkpoint
    tmp, _ = runs
    bad = tmp_path / 'bad.pt'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='damaged'):
        load_semantic_checkpoint(bad)
    with pytest.raises(ValueError, match='semantic-encoder checkpoint'):
        load_semantic_checkpoint(tmp / 'vae' / 'last.pt')


def test_cifar100_training_run_on_the_genuine_pickles(tmp_path, shared_data):
    "`hephaestus train --dataset cifar100` on the official-format pickles of the reference data (5 pictures)."
    root = shared_data / 'cifar100'
    if not (root / 'cifar-100-python' / 'train').exists():
        print(f'skipping: no CIFAR-100 pickles at {root}')
        pytest.skip(f'no CIFAR-100 pickles at {root}')
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', 'HEPHAESTUS_DATA': str(tmp_path / 'c')}
    r = subprocess.run([*CLI, 'train', '--dataset', 'cifar100', '--data-dir', str(root), '--steps', '2',
                        '--batch-size', '4', '--latent-dim', '4', '--likelihood', 'gaussian', '--threads', '1',
                        '--quiet', '--out', str(tmp_path / 'run')], capture_output=True, text=True, env=env,
                       timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    from hephaestus.train import load_checkpoint
    ck = load_checkpoint(tmp_path / 'run' / 'last.pt')
    assert ck['step'] == 2 and ck['model_config']['image_size'] == 32
