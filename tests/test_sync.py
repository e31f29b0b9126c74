"""Notebooks and exported modules are in sync (tools/nbsync.py), and the check itself works."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
import nbsync  # noqa: E402


def test_repo_in_sync():
    problems = nbsync.check_sync(ROOT)
    assert not problems, ('notebooks and modules are out of sync; run `make export` and commit:\n'
                          + '\n'.join(problems))


def _nb(cells: list[str]) -> str:
    return json.dumps({'cells': [{'cell_type': 'code', 'execution_count': None, 'id': f'c{i}', 'metadata': {},
                                  'outputs': [], 'source': s} for i, s in enumerate(cells)],
                       'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
                       'nbformat': 4, 'nbformat_minor': 5})


@pytest.fixture
def project(tmp_path) -> Path:
    "A two-notebook nbdev project, exported once so that it starts in sync."
    shutil.copy(ROOT / 'settings.ini', tmp_path / 'settings.ini')
    (tmp_path / 'nbs').mkdir()
    (tmp_path / 'nbs' / '00_a.ipynb').write_text(_nb(['#| default_exp a', '#| export\ndef f(x): return x + 1']))
    (tmp_path / 'nbs' / '01_b.ipynb').write_text(_nb(['#| default_exp b', '#| export\nY = 2']))
    (tmp_path / 'hephaestus').mkdir()
    (tmp_path / 'hephaestus' / '__init__.py').write_text('__version__ = "0.1.0"\n')
    _, exported = nbsync.export_copy(tmp_path)
    for rel, data in exported.items(): (tmp_path / 'hephaestus' / rel).write_bytes(data)
    return tmp_path


def test_check_sync_clean(project):
    assert nbsync.check_sync(project) == []
    assert (project / 'hephaestus' / 'a.py').exists()


def test_check_sync_hand_edit(project):
    p = project / 'hephaestus' / 'a.py'
    p.write_text(p.read_text().replace('x + 1', 'x + 2'))
    problems = nbsync.check_sync(project)
    assert len(problems) == 1 and problems[0].startswith('hephaestus/a.py: differs')
    assert '-def f(x): return x + 2' in problems[0] and '+def f(x): return x + 1' in problems[0]


def test_check_sync_not_exported(project):
    (project / 'nbs' / '02_c.ipynb').write_text(_nb(['#| default_exp c', '#| export\nZ = 3']))
    problems = nbsync.check_sync(project)
    assert any(p.startswith('hephaestus/c.py: produced by nbdev_export but missing') for p in problems)


def test_check_sync_orphan(project):
    (project / 'nbs' / '01_b.ipynb').unlink()
    problems = nbsync.check_sync(project)
    assert any(p.startswith('hephaestus/b.py: exported from nbs/01_b.ipynb, which no longer exists') for p in problems)


def test_check_sync_leaves_tree_alone(project):
    p = project / 'hephaestus' / 'a.py'
    p.write_text('# hand edit\n')
    nbsync.check_sync(project)
    assert p.read_text() == '# hand edit\n'
