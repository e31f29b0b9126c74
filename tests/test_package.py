"""The package on its own: the wheel built from this checkout holds the modules and the shipped weights and nothing
of the project around them; installed into a fresh virtual environment outside the repository it pulls its runtime
dependencies but no dev tools, imports from that environment, loads a shipped model and runs the `hephaestus`
console script (ranking picture files; a bad input is one line on stderr with status 2).

The fresh install copies torch (several GB) and takes a minute or two; the venv is deleted afterwards."""
from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = 'hephaestus'
# dev tools that must never come with `pip install hephaestus` (settings.ini's dev_requirements are added below)
DEV_TOOLS = {'nbdev', 'execnb', 'pytest', 'jupyterlab', 'voila', 'playwright', 'sphinx', 'nbclient', 'ruff'}
# project folders and caches that have no place in the wheel
NOT_IN_WHEEL = {'tests', 'nbs', 'reports', 'data', 'runs', 'benchmarks', 'tools', 'apps', 'docs', '__pycache__',
                '.ipynb_checkpoints', '.pytest_cache', '.ruff_cache', '.git', '.venv', 'build', 'dist', '_docs',
                '_proc'}


def _norm(name: str) -> str:
    "A distribution name, normalised (PEP 503)."
    return re.sub(r'[-_.]+', '-', name).lower()


def _req_names(key: str) -> set[str]:
    "The distribution names in a settings.ini requirements line."
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT / 'settings.ini')
    return {_norm(re.split(r'[<>=!~;\[ ]', r, maxsplit=1)[0]) for r in cfg['DEFAULT'].get(key, '').split()}


def _env() -> dict:
    "The environment for the fresh venv's processes: nothing pointing into the repository or at another venv."
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYTHONSTARTUP')}
    env.update(MPLBACKEND='Agg', OMP_NUM_THREADS='1', PYTHONNOUSERSITE='1', PIP_DISABLE_PIP_VERSION_CHECK='1')
    return env


def _run(cmd: list, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    "The wheel `pip wheel` builds from the repository root (its build folders in tmp: the checkout is left as it is)."
    d = tmp_path_factory.mktemp('wheel')
    cfg = d / 'build.cfg'   # setuptools reads $DIST_EXTRA_CONFIG: build/ and *.egg-info go to tmp, not the checkout
    cfg.write_text(f'[build]\nbuild_base = {d / "build"}\n[egg_info]\negg_base = {d}\n')
    t = time.perf_counter()
    res = subprocess.run([sys.executable, '-m', 'pip', 'wheel', str(ROOT), '--no-deps', '-w', str(d / 'dist')],
                         cwd=d, env={**_env(), 'DIST_EXTRA_CONFIG': str(cfg)}, capture_output=True, text=True,
                         timeout=600, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, f'pip wheel failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}'
    wheels = list((d / 'dist').glob(f'{PKG}-*.whl'))
    assert len(wheels) == 1, f'expected one {PKG} wheel, got {wheels}'
    print(f'\nbuilt {wheels[0].name} ({wheels[0].stat().st_size / 2**20:.1f} MiB) in {time.perf_counter() - t:.1f} s')
    return wheels[0]


def test_wheel_contents(wheel):
    with zipfile.ZipFile(wheel) as z:
        infos = {i.filename: i for i in z.infolist()}
        dist_info = next(n.split('/')[0] for n in infos if n.split('/')[0].endswith('.dist-info'))
        meta = z.read(f'{dist_info}/METADATA').decode()
        entry_points = z.read(f'{dist_info}/entry_points.txt').decode()
    names = [PurePosixPath(n) for n in infos]
    assert {p.parts[0] for p in names} == {PKG, dist_info}, 'the wheel holds only the package and its metadata'
    # every module of the checkout, nothing else (a stale build/lib would show here)
    src = {p.relative_to(ROOT).as_posix() for p in (ROOT / PKG).rglob('*.py') if '__pycache__' not in p.parts}
    assert {n.as_posix() for n in names if n.suffix == '.py'} == src
    assert f'{PKG}/__init__.py' in src and f'{PKG}/cli.py' in src and f'{PKG}/evaluation/__init__.py' in src
    # the shipped checkpoints and their cards, byte for byte as in the checkout
    weights = sorted(p for ext in ('pt', 'md', 'json') for p in (ROOT / PKG / 'weights').glob(f'*.{ext}'))
    assert any(p.suffix == '.pt' for p in weights) and any(p.name == 'shapes3d.pt' for p in weights)
    for p in weights:
        n = p.relative_to(ROOT).as_posix()
        assert n in infos, f'{n} (package data) is missing from the wheel'
        assert infos[n].file_size == p.stat().st_size, f'{n} differs in size from the checkout'
    # nothing of the project around the package, no caches, notebooks or compiled files
    bad = [n.as_posix() for n in names if set(n.parts[:-1]) & NOT_IN_WHEEL
           or n.suffix in ('.ipynb', '.pyc', '.pyo', '.tmp') or n.name in ('.DS_Store', 'settings.ini', 'setup.py')]
    assert not bad, f'the wheel holds files it should not: {bad}'
    allowed = {'.py'} | {'.pt', '.md', '.json'}
    stray = [n.as_posix() for n in names if n.parts[0] == PKG and n.suffix not in allowed]
    assert not stray, f'unexpected files in the package: {stray}'
    assert {n.as_posix() for n in names if n.parts[0] == PKG and n.suffix != '.py'} == \
        {p.relative_to(ROOT).as_posix() for p in weights}, 'package data is exactly the weights and their cards'
    # metadata: the console script, runtime requirements unconditional, dev tools only behind the `dev` extra
    assert re.search(r'^hephaestus\s*=\s*hephaestus\.cli:main$', entry_points, re.MULTILINE), entry_points
    reqs = re.findall(r'^Requires-Dist: (.+)$', meta, re.MULTILINE)
    plain = {_norm(re.split(r'[<>=!~;\[ (]', r, maxsplit=1)[0]) for r in reqs if ';' not in r}
    extra = {_norm(re.split(r'[<>=!~;\[ (]', r, maxsplit=1)[0]) for r in reqs if 'extra == "dev"' in r}
    assert plain == _req_names('requirements')
    assert not plain & (DEV_TOOLS | _req_names('dev_requirements')), 'a dev tool is a runtime requirement'
    assert extra == _req_names('dev_requirements')


@pytest.fixture(scope='module')
def fresh_venv(tmp_path_factory, wheel):
    "A fresh venv (no system site-packages) outside the repository with the wheel installed; deleted afterwards."
    d = tmp_path_factory.mktemp('fresh')
    venv = d / 'venv'
    res = _run([sys.executable, '-m', 'venv', venv], cwd=d, timeout=300)
    py = venv / 'bin' / 'python'
    if res.returncode != 0 or not py.exists():
        reason = f'cannot create a virtual environment with {sys.executable} -m venv: {res.stderr.strip()[-500:]}'
        print(f'skipping: {reason}')
        pytest.skip(reason)
    try:
        # pin torch to the release the dev venv uses (it lies on this machine's disk): pip never hunts a newer build
        pins = [f'{n}=={metadata.version(n)}' for n in ('torch', 'torchvision') if _has(n)]
        (d / 'pins.txt').write_text('\n'.join(pins) + '\n')
        t = time.perf_counter()
        res = _run([py, '-m', 'pip', 'install', '--no-compile', '--progress-bar', 'off', '-c', d / 'pins.txt',
                    wheel], cwd=d, timeout=1500)
        took = time.perf_counter() - t
        assert res.returncode == 0, f'pip install of the wheel failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}'
        print(f'\nfresh venv: pip install {wheel.name} ({", ".join(pins)}) took {took:.0f} s')
        yield venv
    finally:
        t = time.perf_counter()   # several GB: do not leave them to pytest's tmp retention
        shutil.rmtree(d, ignore_errors=True)
        print(f'removed the fresh venv in {time.perf_counter() - t:.1f} s')


def _has(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


PROBE = """
import json, sys, sysconfig
from importlib import metadata
import hephaestus as hp
from hephaestus import paths
m = hp.load_pretrained('shapes3d')
print(json.dumps(dict(name=m.name, file=hp.__file__, weights=str(paths.WEIGHTS_DIR), project=str(paths.PROJECT_DIR),
                      prefix=sys.prefix, base=sys.base_prefix, path=sys.path, site=sysconfig.get_paths()['purelib'],
                      dists=sorted({d.metadata['Name'] for d in metadata.distributions()}),
                      direct_url=metadata.distribution('hephaestus').read_text('direct_url.json'))))
"""


def test_package_in_a_fresh_venv(fresh_venv, tmp_path):
    venv, work = fresh_venv, tmp_path / 'work'
    work.mkdir()
    py, script = venv / 'bin' / 'python', venv / 'bin' / 'hephaestus'
    assert ROOT not in work.parents and ROOT not in venv.parents, 'the test must run outside the repository'
    cfg = (venv / 'pyvenv.cfg').read_text()
    assert re.search(r'^include-system-site-packages\s*=\s*false', cfg, re.MULTILINE), cfg

    # 2. runtime dependencies are installed and consistent; no dev tool came along
    res = _run([py, '-m', 'pip', 'check'], cwd=work)
    assert res.returncode == 0, f'pip check:\n{res.stdout}{res.stderr}'
    res = _run([py, '-m', 'pip', 'list', '--format', 'json'], cwd=work)
    assert res.returncode == 0, res.stderr
    listed = {_norm(d['name']) for d in json.loads(res.stdout)}

    # 3. import outside the repository: the installed copy, the shipped model
    t = time.perf_counter()
    res = _run([py, '-c', PROBE], cwd=work)
    print(f'import and load_pretrained in the fresh venv: {time.perf_counter() - t:.1f} s')
    assert res.returncode == 0, f'import in the fresh venv failed:\n{res.stderr[-3000:]}'
    info = json.loads(res.stdout.strip().splitlines()[-1])
    dists = {_norm(n) for n in info['dists']}
    assert dists == listed, 'pip list and importlib.metadata disagree'
    missing = _req_names('requirements') - dists
    assert not missing, f'runtime dependencies not installed: {sorted(missing)}'
    dev = dists & ((DEV_TOOLS | _req_names('dev_requirements')) - _req_names('requirements'))
    assert not dev, f'pip install pulled dev tools: {sorted(dev)}'
    assert info['name'] == 'shapes3d'
    site = Path(info['site']).resolve()
    assert venv.resolve() in site.parents and Path(info['prefix']).resolve() == venv.resolve()
    assert Path(info['file']).resolve() == site / PKG / '__init__.py', f"imported {info['file']}, not the venv's copy"
    assert Path(info['weights']).resolve() == site / PKG / 'weights'
    assert info['project'] == 'None', 'the installed package must not see a source checkout'
    assert 'editable' not in (info['direct_url'] or ''), 'installed editable, not from the wheel'
    into_repo = [p for p in info['path'] if p and str(ROOT) in str(Path(p).resolve())]
    assert not into_repo, f'sys.path of the fresh venv points into the repository: {into_repo}'
    pth = [p.name for p in site.glob('*.pth') if str(ROOT) in p.read_text(errors='replace')]
    assert not pth, f'.pth files point into the repository: {pth}'

    # 4. the console script ranks six picture files
    import numpy as np
    from PIL import Image

    from hephaestus.data import Shapes3D
    from hephaestus.groups import sample_groups
    gs = sample_groups(Shapes3D(), 1, style='seed', seed=3)   # one group of 6: five share a context, one breaks it
    pngs = []
    for i, x in enumerate(gs.images[0]):
        pngs.append(work / f'{"abcdef"[i]}.png')
        Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(pngs[-1])
    assert script.exists(), f'no console script {script}'
    t = time.perf_counter()
    res = _run([script, 'rank', *[p.name for p in pngs]], cwd=work)
    print(f'hephaestus rank in the fresh venv: {time.perf_counter() - t:.1f} s')
    assert res.returncode == 0, f'hephaestus rank failed:\n{res.stderr[-3000:]}'
    assert 'Traceback' not in res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ['rank', 'image', 'score'], res.stdout
    assert len([ln for ln in lines if re.match(r'\s+\d+\s+[a-f]\.png', ln)]) == 6, res.stdout
    m = re.search(r'^([a-f])\.png is the odd one out \(confidence [01]\.\d\d\): .*; \1\.png has a different ',
                  res.stdout, re.MULTILINE)
    assert m, f'no odd one out named:\n{res.stdout}'
    assert 'abcdef'.index(m.group(1)) == int(gs.outlier[0]), f'wrong odd one out:\n{res.stdout}'

    # ... and a bad input is one clear line with status 2, no traceback
    gone = work / 'missing.png'
    res = _run([script, 'rank', *[p.name for p in pngs[:5]], gone], cwd=work)
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert res.stderr.strip() == f'hephaestus: error: image not found: {gone}', res.stderr
    assert res.stdout == '' and 'Traceback' not in res.stderr
