"""Ship a natural-picture model: a VAE run and (optionally) a semantic run put together, measured, with its card.

Usage: python tools/ship_natural.py VAE_RUN NAME --data-dir D [--semantic SEMANTIC_RUN] [--dataset cifar10]
       [--groups 2000] [--weights-dir W]
       python tools/ship_natural.py --from-model MODEL.pt NAME --data-dir D ...
The second form builds a shipped model again from its own file (`model_sources`: the VAE as trained and its
semantic encoder), for a new step of the build when the run folders are gone.
Writes W/NAME.{pt,md,json} (default: the package's weights) through `hephaestus.evaluation.natural.ship_natural`;
every number in the card is computed there, on the held-out part of the data set.
"""
import argparse, shlex, sys
from pathlib import Path
import torch
from hephaestus.evaluation.natural import model_sources, ship_natural
from hephaestus.loaders import load_pictures

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('run', nargs='?',
                    help="the VAE run folder (its vae.pt from finetune-decoder, else last.pt) or a .pt")
    ap.add_argument('--from-model', help='a shipped model file to build again from (instead of the runs)')
    ap.add_argument('name')
    ap.add_argument('--data-dir', required=True)
    ap.add_argument('--dataset', default='cifar10')
    ap.add_argument('--semantic', help='the semantic run folder (its last.pt)')
    ap.add_argument('--groups', type=int, default=2000, help='evaluation class groups (as shipped: 2,000)')
    ap.add_argument('--summary-n', type=int, default=10_000)
    ap.add_argument('--choose-groups', type=int, default=1000)
    ap.add_argument('--weights-dir', default=None)
    ap.add_argument('--threads', type=int, default=2, help='CPU threads (default: %(default)s)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pics = load_pictures(a.dataset, a.data_dir)
    if bool(a.run) == bool(a.from_model):
        sys.exit('ship_natural: give a VAE run folder or --from-model MODEL.pt, not both or neither')
    if a.from_model:
        vae, sem = model_sources(a.from_model)
    else:
        run = Path(a.run)
        vae = run if run.suffix == '.pt' else (run / 'vae.pt' if (run / 'vae.pt').exists() else run / 'last.pt')
        sem = Path(a.semantic) / 'last.pt' if a.semantic else None
    m, res = ship_natural(vae, sem, pics, a.name,
                          a.weights_dir, a.groups, a.summary_n, a.choose_groups,
                          produced_by='python tools/ship_natural.py ' + shlex.join(sys.argv[1:]))
    print(m.card.render())
