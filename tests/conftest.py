"""Shared pytest setup: one torch thread (the machine is shared), repo paths, reference data.

Fixtures: `repo_root` (the project folder) and `shared_data` (the read-only reference data,
../shared/data beside the project or $HEPHAESTUS_SHARED_DATA; tests using it skip with a
printed reason when it is absent).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault('MPLBACKEND', 'Agg')  # figures in tests never open a window


def shared_data_dir() -> Path:
    "Where the reference data should be (it may be absent): `hephaestus.data.reference_dir`, the one rule."
    from hephaestus.paths import reference_dir
    # the latter only for an installed, non-editable package
    return reference_dir(existing=False) or ROOT.parent / 'shared' / 'data'


def pytest_configure(config):
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def pytest_report_header(config):
    d = shared_data_dir()
    return f'hephaestus: reference data {d} ({"present" if d.is_dir() else "ABSENT: tests using it skip"})'


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope='session')
def shared_data() -> Path:
    d = shared_data_dir()
    if not d.is_dir():
        print(f'skipping: reference data {d} is absent')
        pytest.skip(f'reference data {d} is absent')
    return d


# The slowest tests, slowest first (seconds measured under `make test`, 2 workers). Run first, they let the
# workers end together (longest processing time first); unlisted tests follow in collection order.
SLOWEST = ['test_package_in_a_fresh_venv', '08a_ship', 'test_ship_and_add_readout_tools', '04_metrics',
           'test_train_gpu_pipeline_on_cpu', 'test_full_build', 'test_cli_demo_on_the_renderer', '05e_evaluate_ranking',
           'test_select_runs', '04b_model', '00_data', '03_train', 'test_train_gpu_dsprites_sweep',
           'test_dashboard_in_jupyterlab', '02_tcvae_loss', '08_diffusion', '06_interpret', '04a_summary',
           'test_tiny_natural_model', '05b_confidence']


def pytest_collection_modifyitems(session, config, items):
    rank = lambda item: next((i for i, k in enumerate(SLOWEST) if k in item.nodeid), len(SLOWEST))
    items.sort(key=rank)   # stable: the others keep their order
