"""Ship a trained diffusion refiner beside its model: evaluate it against the renderer, write its card, export it.

Usage: python tools/ship_refiner.py RUN_DIR [--model shapes3d] [--edits 500] [--seed 7] [--n-metrics 256]
       [--checkpoint CKPT] [--note TEXT]
       python tools/ship_refiner.py --remeasure [--model shapes3d] ...   (measure the shipped refiner again)
Writes hephaestus/weights/MODEL-refiner.{pt,md} and reports/generate/edits.{md,json} (`hephaestus.ship.ship_refiner`,
`remeasure_refiner`). Every number in the card is computed there.
"""
import argparse, shlex, sys
import torch
from hephaestus.ship import remeasure_refiner, ship_refiner

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('run', nargs='?')
    ap.add_argument('--model', default='shapes3d')
    ap.add_argument('--edits', type=int, default=500)
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--n-metrics', type=int, default=256, help='fresh scenes for the reconstruction metrics')
    ap.add_argument('--checkpoint', help='this checkpoint instead of RUN/last.pt')
    ap.add_argument('--note', default='')
    ap.add_argument('--remeasure', action='store_true', help='measure the shipped refiner again (weights untouched)')
    a = ap.parse_args()
    torch.set_num_threads(2)
    cmd = 'python tools/ship_refiner.py ' + shlex.join(sys.argv[1:])
    if a.remeasure:
        print(remeasure_refiner(a.model, a.edits, a.seed, a.n_metrics, produced_by=cmd))
    elif a.run is None:
        ap.error('give the refiner run folder, or --remeasure')
    else:
        print(ship_refiner(a.run, a.model, a.edits, a.seed, a.n_metrics, a.checkpoint, a.note, produced_by=cmd))
