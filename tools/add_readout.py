"""Fit a new factor readout of a shipped model (and its calibrator), and store them in the model's files.

Usage: python tools/add_readout.py NAME [--dataset shapes3d|dsprites] [--data-dir D] [--n 20000] [--seed 0]
The readout is fitted on labelled pictures of the model's own dataset (`hephaestus.ship.refit_readout`); the VAE's
weights are not touched, so its fingerprint (and its refiner) stay valid; the card's readout and confidence
sections are replaced.
"""
import argparse
import torch
from hephaestus.paths import WEIGHTS_DIR
from hephaestus.ship import refit_readout, source_for

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('name')
    ap.add_argument('--dataset', default='shapes3d')
    ap.add_argument('--data-dir')
    ap.add_argument('--n', type=int, default=20_000)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--weights-dir', default=None, help='where the model is (default: the package)')
    a = ap.parse_args()
    torch.set_num_threads(2)
    m = refit_readout(a.name, source_for(a.dataset, a.data_dir), n=a.n, seed=a.seed,
                      weights_dir=a.weights_dir or WEIGHTS_DIR)
    print(a.name, m.readout.report['val_accuracy'], f"{m.readout.report['epochs']} epochs")
