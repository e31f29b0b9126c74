"""Rewrite the shipped model files of format 1 (before the model object) in today's format.

Usage: python tools/upgrade_weights.py [NAME ...] [--dsprites NPZ]
The VAE weights, latent summaries and factor readouts are copied as they are (the VAE fingerprints, and so the
refiner, stay valid); the cards are read into sections; calibrators are fitted for every ranking method
(`hephaestus.ship.upgrade_model_file`). Models of dSprites need the grid (--dsprites, default: the reference data).
"""
import argparse
import torch
from hephaestus.paths import reference_dir
from hephaestus.ship import source_for, upgrade_model_file

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('names', nargs='*', default=['shapes3d', 'shapes3d-betavae', 'shapes3d-vae', 'dsprites'])
    ap.add_argument('--dsprites', default=None, help='the dSprites grid npz (default: the reference data folder)')
    a = ap.parse_args()
    torch.set_num_threads(2)
    grid = a.dsprites or (reference_dir() / 'dsprites' / 'dsprites-grid.npz' if reference_dir() else None)
    for name in a.names:
        src = source_for('dsprites', grid) if name.startswith('dsprites') else source_for('shapes3d')
        m = upgrade_model_file(name, src)
        print(m, {k: c.describe() for k, c in m.calibrators.items()}, flush=True)
