"""Tests of hephaestus.data on the reference data (../shared/data): the renderer against the real 3D Shapes pictures.

Factors, indices, labels, the renderer, the tables, the h5 format and the dataset are checked in nbs/00_data.ipynb
(which prints the fidelity but does not hold the renderer to it); the paths and file helpers in nbs/00_paths.ipynb.
"""
import pytest
import torch

from hephaestus.data import fidelity, load_shapes3d_jpegs

torch.set_num_threads(1)
FIDELITY_REACHED = 30   # of 5 pictures x 6 factors: the count the renderer reached (the goal), held here


def test_fidelity_to_real_pictures(shared_data):
    folder = shared_data / 'shapes3d'
    if not any(folder.glob('*.jpg')):
        print(f'skipping: no 3D Shapes reference pictures in {folder}')
        pytest.skip(f'no 3D Shapes reference pictures in {folder}')
    real, cls = load_shapes3d_jpegs(folder)
    assert len(real) == 5 and real.shape[1:] == (3, 64, 64)
    fid = fidelity(real, cls)
    print('fidelity', fid['correct'], '/', fid['total'], fid['per_factor'], 'MAE', fid['mae'].mean().item())
    assert fid['correct'] >= FIDELITY_REACHED
    assert fid['mae'].mean() < 0.06
