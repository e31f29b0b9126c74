"""Ship a trained run as a package model: latent summary, factor readout, calibrators, held-out metrics, model card.

Usage: python tools/ship.py RUN_DIR NAME [--dataset shapes3d|dsprites] [--data-dir D] [--eval-seeds 3]
       [--baseline RUN_DIR:LABEL ...] [--fast] [--no-curve] [--note TEXT] [--checkpoint CKPT] [--weights-dir D]
Writes hephaestus/weights/NAME.{pt,md,json}, reports/training/NAME-metrics.json and a metric-vs-time figure from
the run's snapshots (`hephaestus.ship.ship_model`). Every number in the card is computed there, from the checkpoint.
"""
import argparse, shlex, sys
import torch
from hephaestus.paths import WEIGHTS_DIR
from hephaestus.ship import ship_model

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('run')
    ap.add_argument('name')
    ap.add_argument('--dataset', default='shapes3d')
    ap.add_argument('--data-dir')
    ap.add_argument('--eval-seeds', type=int, default=3)
    ap.add_argument('--fast', action='store_true', help='reduced evaluation sizes (for tests)')
    ap.add_argument('--baseline', nargs='*', default=[], help='RUN_DIR:LABEL runs evaluated the same way, for the card')
    ap.add_argument('--no-curve', action='store_true', help="skip evaluating the run's snapshots")
    ap.add_argument('--note', default='', help='a sentence for the card (e.g. how the run was resumed)')
    ap.add_argument('--checkpoint', help='ship this snapshot of the run instead of RUN/last.pt')
    ap.add_argument('--weights-dir', default=None, help='where the model goes (default: the package)')
    ap.add_argument('--report-dir', default=None, help='where its training report goes (default: reports/training)')
    a = ap.parse_args()
    torch.set_num_threads(2)
    m = ship_model(a.run, a.name, a.dataset, a.data_dir, a.eval_seeds, a.fast, a.baseline, a.note, a.checkpoint,
                   curve=not a.no_curve, out_dir=a.weights_dir or WEIGHTS_DIR, report_dir=a.report_dir,
                   produced_by='python tools/ship.py ' + shlex.join(sys.argv[1:]))
    print(m.card.render())
