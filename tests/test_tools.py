"Smoke test of tools/train_gpu.py (the script that trained the shipped models on a GPU), here on the CPU \
with tiny budgets."
import json, os, subprocess, sys, tarfile
import pytest
from pathlib import Path
from hephaestus.train import load_checkpoint
from hephaestus.diffusion import load_refiner_checkpoint

ROOT = Path(__file__).resolve().parents[1]

def test_train_gpu_pipeline_on_cpu(tmp_path):
    out, work = tmp_path/'out', tmp_path/'work'
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'train_gpu.py'), str(out), '--work', str(work),
                        '--device', 'cpu', '--val-groups', '40', '--summary-n', '1500',
                        '--vae-minutes', '0.02', '--refiner-minutes', '0.01', '--snapshot-every', '2',
                        '--only', 'shapes3d-s0', 'shapes3d-b3'],
                       capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    val = json.loads((out/'validation.json').read_text())
    assert set(val) == {'shapes3d-s0', 'shapes3d-b3'} and all(0 <= v['top1'] <= 1 for v in val.values())
    best = max(val, key=lambda k: (val[k]['top1'], val[k]['factor_acc'] or 0))
    assert f'selected {best}' in r.stdout
    for name in [*val, 'refiner']:
        with tarfile.open(out/f'{name}.tar') as t: t.extractall(tmp_path/'back', filter='data')
    ck = load_checkpoint(tmp_path/'back'/best/'last.pt')
    assert ck['optimizer'] is None and ck['train_config']['lr_schedule'] == 'cosine' \
        and ck['train_config']['clip'] == 5000
    rk = load_refiner_checkpoint(tmp_path/'back'/'refiner'/'last.pt')
    assert rk['model'] is None and rk['ema'] and (tmp_path/'back'/'refiner'/'selected.txt').read_text() == best
    assert json.loads((tmp_path/'back'/best/'hardware.json').read_text())['device'] == 'cpu'


def test_train_gpu_dsprites_sweep_on_cpu(tmp_path, shared_data):
    "`--runs dsprites`: every variant trains on the grid, is validated on grid groups and packed; \
one is selected; no refiner."
    import importlib.util
    grid = shared_data/'dsprites'/'dsprites-grid.npz'
    if not grid.exists():
        print(f'skipping: no dSprites grid at {grid}')
        pytest.skip(f'no dSprites grid at {grid}')
    spec = importlib.util.spec_from_file_location('train_gpu', ROOT/'tools'/'train_gpu.py')
    tg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tg)
    ONLY = ['dsprites-vae', 'dsprites-bvae05']   # two of the sweep's variants are enough to test the choice
    out, work = tmp_path/'out', tmp_path/'work'
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'train_gpu.py'), str(out), '--work', str(work),
                        '--device', 'cpu', '--val-groups', '40', '--summary-n', '1500',
                        '--runs', 'dsprites', '--dsprites', str(grid), '--only', *ONLY,
                        '--vae-minutes', '0.02', '--snapshot-every', '0'],
                       capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    val = json.loads((out/'validation.json').read_text())
    assert set(val) == set(ONLY) and set(ONLY) <= set(tg.DSPRITES) and all(0 <= v['top1'] <= 1 for v in val.values())
    best = max(val, key=lambda k: val[k]['top1'] + (val[k]['factor_acc'] or 0))
    assert f'selected {best}' in r.stdout and not (out/'refiner.tar').exists()
    with tarfile.open(out/f'{best}.tar') as t: t.extractall(tmp_path/'back', filter='data')
    cfg = load_checkpoint(tmp_path/'back'/best/'last.pt')['train_config']
    assert cfg['dataset'] == 'dsprites' and cfg['data_dir'] == str(grid) and cfg['object_weight'] == 0


def test_select_runs_compares_runs_with_a_readout(tmp_path):
    "tools/select_runs.py: each run is ranked per dimension and through a readout fitted for it; a table, best first."
    from hephaestus.train import TrainConfig, train
    runs = []
    for s in (0, 1):
        cfg = TrainConfig(steps=3, batch_size=8, ckpt_every=3, log_every=3, threads=1, seed=s,
                          out=str(tmp_path/f'run{s}'))
        train(cfg, progress=False)
        runs.append(str(tmp_path/f'run{s}'))
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'select_runs.py'), *runs, '--groups', '12', '--seeds', '99',
                        '--readout-n', '300', '--summary-n', '1000', '--out', str(tmp_path/'sel')],
                       capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads((tmp_path/'sel.json').read_text())['results']
    assert set(res) == {'run0', 'run1'}
    for v in res.values():
        assert {'robust seed 99', 'readout seed 99'} <= set(v) and 0 <= v['readout seed 99']['top1'] <= 1 \
            and v['readout_accuracy']
    md = (tmp_path/'sel.md').read_text()
    assert 'readout seed 99 top-1 / named' in md and md.count('| run') == 3 \
        and 'Produced by `python tools/select_runs.py' in md


def test_ship_and_add_readout_tools(tmp_path):
    "tools/ship.py ships a tiny run through the package (card from its sections); \
tools/add_readout.py replaces the readout."
    from hephaestus.model import load_pretrained
    from hephaestus.train import TrainConfig, train
    train(TrainConfig(steps=3, batch_size=8, ckpt_every=3, log_every=3, threads=1, out=str(tmp_path / 'run')),
          progress=False)
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', 'MPLBACKEND': 'Agg'}
    w = tmp_path / 'w'
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'ship.py'), str(tmp_path / 'run'), 'tiny',
                        '--eval-seeds', '1', '--fast', '--no-curve',
                        '--weights-dir', str(w), '--report-dir', str(tmp_path / 'r')],
                       capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    model = load_pretrained('tiny', w)
    assert model.readout is not None and set(model.calibrators) == {'readout', 'robust', 'plain'}
    assert 'Produced by `python tools/ship.py' in (w / 'tiny.md').read_text() \
        and (tmp_path / 'r' / 'tiny-metrics.json').exists()
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'add_readout.py'), 'tiny', '--n', '600', '--seed', '1',
                        '--weights-dir', str(w)], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    again = load_pretrained('tiny', w)
    assert again.readout.report['seed'] == 1 and again.card.sections['Training'] == model.card.sections['Training']
