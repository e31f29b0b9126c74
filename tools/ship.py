"""Ship a trained run as a package model: latent summary, factor readout, metrics on held-out pictures, model card.

Usage: python tools/ship.py RUN_DIR NAME [--dataset shapes3d|dsprites] [--data-dir D] [--eval-seeds 3]
       [--baseline RUN_DIR:LABEL ...] [--fast]
Writes hephaestus/weights/NAME.{pt,md,json}, reports/training/NAME-*.json and a metric-vs-time figure
from the run's snapshots. Every number in the card is computed here, from the checkpoint.
"""
import argparse, json, os, platform, shlex, sys
from dataclasses import fields
from pathlib import Path
import numpy as np, torch
from hephaestus.data import Shapes3D, reports_dir
from hephaestus.pretrained import evaluate_model, export_pretrained, latent_summary
from hephaestus.readout import fit_readout
from hephaestus.train import TrainConfig, load_checkpoint, model_from_checkpoint

def source_for(dataset, data_dir):
    if dataset == 'shapes3d': return Shapes3D()
    from hephaestus.loaders import DSprites
    return DSprites(data_dir)

def metrics_over_seeds(model, src, seeds, fast):
    kw = (dict(n_train=3000, n_test=1500, factorvae_kw=dict(n_train=500, n_eval=250, n_variance=2000)) if fast else
          dict(n_train=10_000, n_test=5_000, factorvae_kw=dict(n_train=2_000, n_eval=1_000, n_variance=10_000)))
    runs = [evaluate_model(model, src, seed=s, progress=True, **kw) for s in seeds]
    keys = [k for k in runs[0] if isinstance(runs[0][k], float)]
    return {k: dict(mean=float(np.mean([r[k] for r in runs])), std=float(np.std([r[k] for r in runs], ddof=1)) if len(runs) > 1 else 0.0,
                    values=[r[k] for r in runs]) for k in keys}, runs[0]

def command_of(cfg: dict, steps: int | None = None, config_cls=TrainConfig, prog: str = 'hephaestus train', out: str | None = None) -> str:
    "The command line that reproduces a saved config: the options whose value differs from `config_cls`'s default."
    default, parts = config_cls(), [prog]
    if steps is not None: cfg = {**cfg, 'steps': steps}
    opt = lambda v: ','.join(map(str, v)) if isinstance(v, (list, tuple)) else v
    for f in fields(config_cls):
        v = cfg.get(f.name)
        if opt(v) != opt(getattr(default, f.name)) and f.name != 'out': parts.append(f"--{f.name.replace('_', '-')} {opt(v)}")
    return ' '.join(parts) + f" --out {out or cfg.get('out')}"

def hardware_of(run_dir, cfg: dict) -> str:
    "Where a run was trained: RUN/hardware.json (written by tools/train_gpu.py) if present, else this machine."
    p = Path(run_dir)/'hardware.json'
    if p.exists():
        h = json.loads(p.read_text())
        if h.get('gpu'):
            return (f"one {h['gpu']} GPU ({h['cpu_count']}-core {h['machine']} host; tools/train_gpu.py, which runs several trainings side by side on it), "
                    f"precision {cfg.get('precision', 'fp32')}, torch {h['torch']}")
    return (f"{platform.machine()} CPU, {os.cpu_count()} cores on the machine, training with {cfg.get('threads') or 'default'} torch thread(s), "
            f"precision {cfg.get('precision', 'fp32')}, torch {torch.__version__}; no GPU")

def curve(run_dir, src, fast, max_points=10, must=None):
    pts = []
    snaps = sorted((Path(run_dir)/'snapshots').glob('step_*.pt'))
    if len(snaps) > max_points: snaps = [snaps[round(i*(len(snaps) - 1)/(max_points - 1))] for i in range(max_points)]
    if must and Path(must) not in snaps: snaps = sorted(snaps + [Path(must)])
    for p in snaps:
        ck = load_checkpoint(p); m = model_from_checkpoint(ck)
        r = evaluate_model(m, src, n_train=3000, n_test=1500, seed=7, factorvae=False)
        pts.append(dict(step=ck['step'], wall=ck['wall_time'], mig=r['mig'], dci_d=r['dci_d'], dci_c=r['dci_c'], dci_i=r['dci_i']))
        print('curve', pts[-1], flush=True)
    return pts

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('run'); ap.add_argument('name')
    ap.add_argument('--dataset', default='shapes3d'); ap.add_argument('--data-dir')
    ap.add_argument('--eval-seeds', type=int, default=3); ap.add_argument('--fast', action='store_true')
    ap.add_argument('--baseline', nargs='*', default=[])
    ap.add_argument('--no-curve', action='store_true')
    ap.add_argument('--note', default='', help='a sentence for the card (e.g. how the run was resumed)')
    ap.add_argument('--checkpoint', help='ship this snapshot of the run instead of RUN/last.pt')
    a = ap.parse_args()
    torch.set_num_threads(2)
    src = source_for(a.dataset, a.data_dir)
    ck = load_checkpoint(a.checkpoint or Path(a.run)/'last.pt'); model = model_from_checkpoint(ck)
    seeds = list(range(1, a.eval_seeds + 1))
    summary = latent_summary(model, src, progress=True)
    readout = fit_readout(model, src, progress=True)          # factor coordinates for rank_group(..., method='readout')
    stats, first = metrics_over_seeds(model, src, seeds, a.fast)
    out = reports_dir()/'training'; out.mkdir(parents=True, exist_ok=True)
    base_rows = []
    for spec in a.baseline:
        run, label = spec.split(':')
        bck = load_checkpoint(Path(run)/'last.pt')
        bstats, _ = metrics_over_seeds(model_from_checkpoint(bck), src, seeds, a.fast)
        base_rows.append(dict(label=label, run=run, step=bck['step'], wall=bck['wall_time'], command=command_of(bck['train_config'], bck['step']), metrics=bstats))
    pts = [] if a.no_curve else curve(a.run, src, a.fast, must=a.checkpoint)
    cfg = ck['train_config']
    hw = hardware_of(a.run, cfg)
    fmt = lambda k: f"{stats[k]['mean']:.3f} ± {stats[k]['std']:.3f}"
    dims = '\n'.join(f"| z{d} | {summary['factor_of_dim'][d] or ('inactive' if not summary['active'][d] else 'unclear')} | "
                     f"{summary['kl_per_dim'][d]:.2f} | {summary['std'][d]:.2f} |" for d in range(len(summary['std'])))
    base_md = '\n'.join(f"| {b['label']} | {b['step']} | {b['wall']/60:.0f} min | " + ' | '.join(f"{b['metrics'][k]['mean']:.3f} ± {b['metrics'][k]['std']:.3f}" for k in ('mig', 'dci_d', 'dci_c', 'dci_i', 'factorvae')) + ' |' for b in base_rows)
    baseline = ', a baseline' if a.name.endswith(('-betavae', '-vae')) else ''   # the shipped dSprites model is a β-VAE, and no baseline
    kind = {'tcvae': 'β-TCVAE', 'betavae': f"β-VAE (β = {cfg['beta']:g}{baseline})", 'vae': f'plain VAE (β = 1{baseline})'}[cfg['loss']]
    card = f"""# Model card: `{a.name}`

{kind} with the convolutional encoder/decoder of Burgess et al. (2018), latent D = {ck['model_config']['latent_dim']},
{ck['model_config']['likelihood']} decoder, trained on {'pictures rendered on the fly by hephaestus.data (the built-in 3D Shapes renderer)' if a.dataset == 'shapes3d' else 'the real dSprites grid (' + str(a.data_dir) + ')'}.
Load it with `hephaestus.load_pretrained('{a.name}')`.

## Training
- Command: `{command_of(cfg, ck['step'])}`{(chr(10) + '- ' + a.note) if a.note else ''}
- Seed {cfg['seed']}; {ck['step']} steps of batch {cfg['batch_size']}{' pairs' if cfg.get('pair_factors') else ''} ({ck['step']*cfg['batch_size']*(2 if cfg.get('pair_factors') else 1):,} pictures rendered); wall time {ck['wall_time']/60:.1f} min
- Hardware: {hw}.
{('- Weak supervision: every batch holds ' + str(cfg['batch_size']) + ' pairs of pictures (rendered, or looked up in the factor grid) that differ in ' + str(cfg['pair_factors']) + ' random factor(s) (which ones is not given); latent dimensions whose posteriors agree within a pair are averaged (Ada-GVAE, Locatello et al. 2020), on top of the ' + {'tcvae': 'β-TCVAE', 'betavae': 'β-VAE', 'vae': 'VAE'}[cfg['loss']] + ' objective.') if cfg.get('pair_factors') else ''}
{('- Object pixels weigh ' + str(1 + cfg['object_weight']) + 'x in the reconstruction term (the renderer knows the object mask).') if cfg.get('object_weight') else ''}

## Metrics on held-out pictures
Fresh pictures drawn uniformly from the factor grid, disjoint seeds from the latent summary; mean ± std over {len(seeds)} evaluation seeds
({'reduced sample sizes (--fast)' if a.fast else 'MIG and DCI with disentanglement_lib sizes (10,000 train / 5,000 test codes, DCI by histogram gradient boosting); FactorVAE with 2,000 train / 1,000 eval votes of batch 64 (a fifth of the protocol, to fit the CPU budget)'}).

| metric | value |
|---|---|
| MIG | {fmt('mig')} |
| DCI disentanglement | {fmt('dci_d')} |
| DCI completeness | {fmt('dci_c')} |
| DCI informativeness (test accuracy) | {fmt('dci_i')} |
| FactorVAE score | {fmt('factorvae')} |

## Latent dimensions
Inactive: KL below 0.01 nats, or the mean code varies by less than 0.1 (std) across pictures, so the dimension carries no factor.

| dim | factor | KL (nats) | std of mean |
|---|---|---|---|
{dims}

{readout.describe()}
{('## Baselines, same evaluation' + chr(10) + '| model | steps | wall | MIG | DCI-D | DCI-C | DCI-I | FactorVAE |' + chr(10) + '|---|---|---|---|---|---|---|---|' + chr(10) + base_md) if base_rows else ''}

Produced by `python tools/ship.py {shlex.join(sys.argv[1:])}`.
"""
    export_pretrained(ck, a.name, src, {k: v['mean'] for k, v in stats.items()}, card, summary=summary,
                      extra=dict(metrics_std={k: v['std'] for k, v in stats.items()}, eval_seeds=seeds, fast=a.fast), readout=readout)
    (out/f'{a.name}-metrics.json').write_text(json.dumps(dict(model=a.name, metrics=stats, baselines=base_rows, curve=pts,
                                                             step=ck['step'], wall=ck['wall_time'], command=command_of(cfg, ck['step']), note=a.note), indent=1))
    if pts:
        import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for k in ('mig', 'dci_d'): ax.plot([p['wall']/60 for p in pts], [p[k] for p in pts], 'o-', label=k.upper().replace('_D', ' disentanglement'))
        ax.axvline(ck['wall_time']/60, color='gray', ls='--', lw=1, label=f"shipped (step {ck['step']})")
        ax.set_xlabel(f"training wall time (min, {'GPU' if 'GPU' in hw else '2-core CPU'})"); ax.set_ylabel('score'); ax.set_ylim(0, 1); ax.grid(alpha=.3); ax.legend()
        ax.set_title(f'{a.name}: metrics during training (3,000/1,500 codes, seed 7)', fontsize=9)
        fig.tight_layout(); fig.savefig(out/f'{a.name}-curve.png', dpi=120)
    print(card)
