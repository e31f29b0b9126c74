"""Compare the shipped models trained on one dataset: one table and one metric-vs-time figure.

Usage: python tools/compare_training.py [--models shapes3d shapes3d-betavae shapes3d-vae] [--extra CKPT:LABEL ...]
       [--eval-seeds 2] [--out reports/training]
Reads reports/training/NAME-metrics.json, written by tools/ship.py from each checkpoint (no number is typed here),
evaluates each --extra checkpoint (e.g. a snapshot of the shipped run at the baselines' step count) the same way,
and writes comparison.md, comparison.json and comparison.png next to them.
"""
import argparse, json, re
from pathlib import Path
from hephaestus.paths import reports_dir
from hephaestus.ship import metrics_over_seeds, source_for
from hephaestus.train import TrainConfig, load_checkpoint, model_from_checkpoint

KEYS = (('mig', 'MIG'), ('dci_d', 'DCI-D'), ('dci_c', 'DCI-C'), ('dci_i', 'DCI-I'), ('factorvae', 'FactorVAE'))
LOSS = {'tcvae': 'β-TCVAE', 'betavae': 'β-VAE', 'vae': 'VAE (β=1)'}

def label_of(d: dict) -> str:
    cmd = d['command']
    loss = next((v for k, v in LOSS.items() if f'--loss {k} ' in cmd + ' '), 'β-TCVAE')
    return f"{loss}{' + pairs' if '--pair-factors' in cmd else ''} (`{d['model']}`)"

def batch_of(d: dict) -> str:
    "The batch size of a run, from its training command."
    m = re.search(r'--batch-size (\d+)', d['command'])
    if m: return m.group(1)
    return str(TrainConfig.batch_size)   # the command leaves out options at their default

def row(label: str, d: dict, steps: int, wall: float) -> str:
    m = d['metrics'] if 'metrics' in d else d
    cells = ' | '.join(f"{m[k]['mean']:.3f} ± {m[k]['std']:.3f}" for k, _ in KEYS)
    return f"| {label} | {steps:,} | {wall/60:.1f} min | {cells} |"

def evaluate_extra(specs, seeds: int, cache: Path | None = None) -> list[dict]:
    "Held-out metrics of checkpoints given as PATH:LABEL, with tools/ship.py's protocol \
(reused from `cache` when it has them)."
    old = ({r['checkpoint']: r for r in json.loads(cache.read_text()).get('extra', [])}
           if cache and cache.exists() else {})
    rows = []
    for spec in specs:
        path, label = spec.split(':', 1)
        hit = old.get(path)
        if hit and len(hit['metrics']['mig']['values']) == seeds:
            rows.append(hit | dict(label=label))
            continue
        ck = load_checkpoint(path)
        stats = metrics_over_seeds(model_from_checkpoint(ck), source_for('shapes3d', None),
                                   list(range(1, seeds + 1)), False)
        rows.append(dict(label=label, checkpoint=path, step=ck['step'], wall=ck['wall_time'], metrics=stats))
    return rows

def main(models, out: Path, extra=(), seeds: int = 2):
    runs = {n: json.loads((out/f'{n}-metrics.json').read_text()) for n in models if (out/f'{n}-metrics.json').exists()}
    if not runs: raise SystemExit(f'no NAME-metrics.json for {models} in {out}: ship the models first (tools/ship.py)')
    extras = evaluate_extra(extra, seeds, out/'comparison.json')
    first = next(iter(runs.values()))
    n_seeds = len(first['metrics']['mig']['values'])
    md = ['# Training: the shipped model against its baselines\n',
          f'Held-out metrics, mean ± std over {n_seeds} evaluation seeds '
          '(tools/ship.py: 10,000 / 5,000 codes for MIG and DCI, '
          'FactorVAE at a fifth of the protocol votes). Same architecture, data, batch, steps and precision; '
          'only the loss differs '
          '(β = 6 for β-VAE and β-TCVAE). Wall times are those of the hardware in each model card '
          '(runs that shared a machine are slower).\n',
          '| model | steps | wall | ' + ' | '.join(k for _, k in KEYS) + ' |', '|---|---|---|' + '---|'*len(KEYS)]
    for n, d in runs.items():
        md.append(row(label_of(d), d, d['step'], d['wall']))
        for b in d.get('baselines', []): md.append(row(b['label'], b['metrics'], b['step'], b['wall']))
    for b in extras: md.append(row(b['label'], b['metrics'], b['step'], b['wall']))
    cmd = f'python tools/compare_training.py --models {" ".join(models)}' + \
        (' --extra ' + ' '.join(f'"{e}"' for e in extra) if extra else '')
    md += ['', '![](comparison.png)', '', f'Produced by `{cmd}`.']
    (out/'comparison.md').write_text('\n'.join(md) + '\n')
    (out/'comparison.json').write_text(json.dumps(dict(models={n: d['metrics'] for n, d in runs.items()},
                                                       extra=extras, command=cmd), indent=1))
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for n, d in runs.items():
        pts = d.get('curve') or []
        for a, (k, name) in zip(ax, (('mig', 'MIG'), ('dci_d', 'DCI disentanglement'))):
            a.plot([p['step'] for p in pts], [p[k] for p in pts], 'o-', ms=3, label=label_of(d).rsplit(' (`', 1)[0])
            a.set_title(name, fontsize=9)
            a.set_xlabel(f"training step (batch of {batch_of(d)} pairs)")
            a.grid(alpha=.3)
    ax[0].set_ylabel('score (3,000 / 1,500 codes, seed 7)')
    ax[0].set_ylim(0, 1)
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out/'comparison.png', dpi=120)
    print('\n'.join(md))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--models', nargs='+', default=['shapes3d', 'shapes3d-betavae', 'shapes3d-vae'])
    ap.add_argument('--extra', nargs='*', action='extend', default=[], help='CHECKPOINT:LABEL to evaluate alongside')
    ap.add_argument('--eval-seeds', type=int, default=2)
    ap.add_argument('--out', type=Path, default=None)
    a = ap.parse_args()
    import torch
    torch.set_num_threads(2)
    main(a.models, a.out or reports_dir()/'training', a.extra, a.eval_seeds)
