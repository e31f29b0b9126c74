"""Execute every notebook in nbs/ (one test each), as `nbdev_test` would.

Each notebook runs in its own process (tests/nbrun.py) from nbs/ as working directory, with
`#| eval: false` cells and cells flagged by settings.ini's tst_flags (`#| slow`) skipped;
HEPHAESTUS_SLOW=1 runs the slow cells too. A failure shows the failing cell's source and
traceback. A notebook may write files under reports/ and data/ only: anything else it leaves
in the git work tree fails its test (outside CI, changed sources are taken for others' edits). \
HEPHAESTUS_NB_TIMEOUT sets the per-notebook limit (s).
"""
from __future__ import annotations

import os
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
RUNNER = Path(__file__).resolve().parent / 'nbrun.py'
ALLOWED_PREFIXES = ('reports/', 'data/')
SOURCE_SUFFIXES = ('.ipynb', '.py', '.md')
NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))


def _tst_flags() -> list[str]:
    cfg = ConfigParser(delimiters=['='])
    cfg.read(ROOT / 'settings.ini')
    return cfg['DEFAULT'].get('tst_flags', '').split()


def _tree_state() -> set[str] | None:
    "Entries of `git status` (untracked files listed one by one), or None outside a git work tree."
    try:
        res = subprocess.run(['git', 'status', '--porcelain=v1', '-z', '--untracked-files=all'],
                             cwd=ROOT, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode: return None
    return {e for e in res.stdout.decode('utf-8', 'replace').split('\0') if e}


def _in_ci() -> bool: return os.environ.get('CI', '').lower() not in ('', '0', 'false')


def _written(before: set[str], after: set[str], strict: bool) -> list[str]:
    """Paths that appeared or changed state in the work tree, outside reports/ and data/. Unless
    `strict` (CI), sources (*.ipynb, *.py, *.md) are left out: on a shared work tree they are far
    more likely someone's edit made while the notebook ran than the notebook's own doing."""
    paths = [e[3:] for e in sorted(after - before)]
    paths = [p for p in paths if not p.startswith(ALLOWED_PREFIXES)]
    return paths if strict else [p for p in paths if not p.endswith(SOURCE_SUFFIXES)]


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb: Path):
    skip = _tst_flags()
    force = skip if os.environ.get('HEPHAESTUS_SLOW', '') not in ('', '0') else []
    timeout = float(os.environ.get('HEPHAESTUS_NB_TIMEOUT', 600))
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}
    env.setdefault('MPLBACKEND', 'Agg')
    if os.environ.get('PYTEST_XDIST_WORKER'):   # tests run side by side (make test): one core each, no oversubscribing
        env.setdefault('OMP_NUM_THREADS', '1')
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(ROOT), env.get('PYTHONPATH')]))
    before = _tree_state()
    cmd = [sys.executable, str(RUNNER), str(nb), '--skip', *skip, '--force', *force, '--root', str(ROOT)]
    try:
        res = subprocess.run(cmd, cwd=NBS, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'')
        out = out.decode('utf-8', 'replace') if isinstance(out, bytes) else out
        pytest.fail(f'{nb.name} did not finish within {timeout:.0f}s '
                    f'(HEPHAESTUS_NB_TIMEOUT); notebooks must run in well under a minute.\n{out[-3000:]}',
                    pytrace=False)
    if res.returncode:
        pytest.fail(f'{res.stdout.strip()}\n{res.stderr.strip()[-3000:]}'.strip()
                    or f'{nb.name}: runner exited {res.returncode}', pytrace=False)
    after = _tree_state()
    if before is not None and after is not None:
        written = _written(before, after, strict=_in_ci())
        if written:
            pytest.fail(f'{nb.name} wrote into the repository tree outside reports/ and data/: '
                        + ', '.join(written) + '\nWrite to a temporary folder, reports/ or data/ instead.',
                        pytrace=False)
    print(res.stdout.strip())


# ------------------------------------------------------------------ the runner itself
def _write_nb(path: Path, sources: list[str]) -> Path:
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata = {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}
    nbformat.write(nb, path)
    return path


def _run(nb: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}
    return subprocess.run([sys.executable, str(RUNNER), str(nb), *args], cwd=nb.parent, env=env,
                          capture_output=True, text=True, timeout=120)


def test_runner_reports_failing_cell(tmp_path):
    nb = _write_nb(tmp_path / 'demo.ipynb', [
        'import os\nopen("cwd.txt", "w").write(os.getcwd())',
        '#| slow\nraise RuntimeError("slow cell ran")',
        '#| eval: false\nraise RuntimeError("eval false ran")',
        'from nbdev import nbdev_export\nnbdev_export()',
        'def f(a):\n    return a / 0\nprint("before the error")\nf(1)'])
    res = _run(nb, '--skip', 'slow')
    assert res.returncode == 1
    out = res.stdout
    assert out.startswith('demo.ipynb: code cell #5 of 5 raised ZeroDivisionError')
    assert 'def f(a):\n    return a / 0' in out and 'before the error' in out
    assert 'return a / 0' in out.split('----- traceback')[1]
    assert 'slow cell ran' not in out and 'eval false ran' not in out
    assert (tmp_path / 'cwd.txt').read_text() == str(tmp_path)  # ran in the notebook's folder
    res = _run(nb, '--skip', 'slow', '--force', 'slow')
    assert res.returncode == 1 and 'code cell #2 of 5 raised RuntimeError: slow cell ran' in res.stdout


def test_runner_passes(tmp_path):
    nb = _write_nb(tmp_path / 'ok.ipynb', ['x = 1', '#| slow\nraise RuntimeError()', 'assert x == 1'])
    res = _run(nb, '--skip', 'slow')
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith('ok.ipynb: 2 code cells ran, 1 skipped')


def test_written():
    before = {'?? nbs/old.png', ' M hephaestus/vae.py'}
    after = before | {'?? nbs/model.pt', '?? reports/demo/x.png', '?? data/cache.npz', ' M nbs/01_vae.ipynb'}
    assert _written(before, after, strict=True) == ['nbs/01_vae.ipynb', 'nbs/model.pt']
    assert _written(before, after, strict=False) == ['nbs/model.pt']
