"""Compare the shipped models trained on one dataset: one table and one metric-vs-time figure.

Usage: python tools/compare_training.py [--models shapes3d shapes3d-betavae shapes3d-vae] [--out reports/training]
Reads reports/training/NAME-metrics.json, written by tools/ship.py from each checkpoint (no number is typed here),
and writes comparison.md and comparison.png next to them.
"""
import argparse, json
from pathlib import Path
from hephaestus.data import reports_dir

KEYS = (('mig', 'MIG'), ('dci_d', 'DCI-D'), ('dci_c', 'DCI-C'), ('dci_i', 'DCI-I'), ('factorvae', 'FactorVAE'))
LOSS = {'tcvae': 'β-TCVAE', 'betavae': 'β-VAE', 'vae': 'VAE (β=1)'}

def label_of(d: dict) -> str:
    cmd = d['command']
    loss = next((v for k, v in LOSS.items() if f'--loss {k} ' in cmd + ' '), 'β-TCVAE')
    return f"{loss}{' + pairs' if '--pair-factors' in cmd else ''} (`{d['model']}`)"

def row(label: str, d: dict, steps: int, wall: float) -> str:
    m = d['metrics'] if 'metrics' in d else d
    cells = ' | '.join(f"{m[k]['mean']:.3f} ± {m[k]['std']:.3f}" for k, _ in KEYS)
    return f"| {label} | {steps:,} | {wall/60:.1f} min | {cells} |"

def main(models, out: Path):
    runs = {n: json.loads((out/f'{n}-metrics.json').read_text()) for n in models if (out/f'{n}-metrics.json').exists()}
    if not runs: raise SystemExit(f'no NAME-metrics.json for {models} in {out}: ship the models first (tools/ship.py)')
    first = next(iter(runs.values()))
    n_seeds = len(first['metrics']['mig']['values'])
    md = ['# Training: the shipped model against its baselines\n',
          f'Held-out metrics, mean ± std over {n_seeds} evaluation seeds (tools/ship.py: 10,000 / 5,000 codes for MIG and DCI, '
          'FactorVAE at a fifth of the protocol votes). Same architecture, data, batch, steps and precision; only the loss differs '
          '(β = 6 for β-VAE and β-TCVAE). Wall times are on the shared 2-core CPU (runs that shared the machine are slower).\n',
          '| model | steps | wall | ' + ' | '.join(k for _, k in KEYS) + ' |', '|---|---|---|' + '---|'*len(KEYS)]
    for n, d in runs.items():
        md.append(row(label_of(d), d, d['step'], d['wall']))
        for b in d.get('baselines', []): md.append(row(b['label'], b['metrics'], b['step'], b['wall']))
    md += ['', '![](comparison.png)', '', f'Produced by `python tools/compare_training.py --models {" ".join(models)}`.']
    (out/'comparison.md').write_text('\n'.join(md) + '\n')
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for n, d in runs.items():
        pts = d.get('curve') or []
        for a, (k, name) in zip(ax, (('mig', 'MIG'), ('dci_d', 'DCI disentanglement'))):
            a.plot([p['step'] for p in pts], [p[k] for p in pts], 'o-', ms=3, label=label_of(d).split(' (')[0])
            a.set_title(name, fontsize=9); a.set_xlabel('training step (batch of 128 pairs)'); a.grid(alpha=.3)
    ax[0].set_ylabel('score (3,000 / 1,500 codes, seed 7)'); ax[0].set_ylim(0, 1); ax[1].legend(fontsize=8)
    fig.tight_layout(); fig.savefig(out/'comparison.png', dpi=120)
    print('\n'.join(md))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--models', nargs='+', default=['shapes3d', 'shapes3d-betavae', 'shapes3d-vae'])
    ap.add_argument('--out', type=Path, default=None)
    a = ap.parse_args()
    main(a.models, a.out or reports_dir()/'training')
