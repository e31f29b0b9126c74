"""Fit the factor readout of a shipped model and store it in the model's checkpoint, card and JSON.

Usage: python tools/add_readout.py NAME [--dataset shapes3d|dsprites] [--data-dir D] [--n 20000] [--seed 0]
The readout (hephaestus.readout.fit_readout) is fitted on labelled pictures of the model's own dataset; the
VAE's weights are not touched, so its fingerprint (and its refiner) stay valid. tools/ship.py fits one too.
"""
import argparse, json, re, sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).parent))
from ship import source_for
from hephaestus.pretrained import WEIGHTS_DIR, load_pretrained
from hephaestus.readout import fit_readout
from hephaestus.train import atomic_save

def store_readout(name: str, readout, weights_dir=WEIGHTS_DIR) -> None:
    "Put `readout` into NAME.pt, replace the readout section of NAME.md and the readout entry of NAME.json."
    d = Path(weights_dir)
    blob = torch.load(d/f'{name}.pt', map_location='cpu', weights_only=True)
    blob['readout'] = readout.to_state()
    atomic_save(blob, d/f'{name}.pt')
    card = (d/f'{name}.md').read_text()
    card = re.sub(r'## Factor readout\n.*?\n(?=\n|## |Produced by)', '', card, flags=re.S).rstrip('\n') + '\n'
    sec = readout.describe()
    card = card.replace('\nProduced by', '\n' + sec + '\nProduced by', 1) if '\nProduced by' in card else card + '\n' + sec
    (d/f'{name}.md').write_text(card)
    j = json.loads((d/f'{name}.json').read_text()); j['readout'] = readout.report
    (d/f'{name}.json').write_text(json.dumps(j, indent=1))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('name'); ap.add_argument('--dataset', default='shapes3d'); ap.add_argument('--data-dir')
    ap.add_argument('--n', type=int, default=20_000); ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(2)
    model = load_pretrained(a.name, readout=False)             # any old readout is replaced
    r = fit_readout(model, source_for(a.dataset, a.data_dir), n=a.n, seed=a.seed, progress=True)
    store_readout(a.name, r)
    print(a.name, r.report['val_accuracy'], f"{r.report['epochs']} epochs")
