"""Compare trained runs on validation groups, to choose the one to ship: each run is ranked per dimension and through
a factor readout fitted for it.

Usage: python tools/select_runs.py RUN_DIR [RUN_DIR ...] [--dataset shapes3d|dsprites] [--data-dir D]
       [--groups 2000] [--seeds 99 98] [--readout-n 20000] --out reports/training/NAME-selection
Validation groups are single-factor groups of 6 drawn with seeds that no report uses (99 and 98). Each run gets
the same readout recipe as a shipped model (`hephaestus.ship.validate_run`). Writes OUT.md (a table, best first)
and OUT.json.
"""
import argparse, json, sys
from pathlib import Path
import torch
from hephaestus.ship import source_for, validate_run


def table(results: dict, seeds) -> str:
    "Markdown table of `results` {run: validate_run(...)}, best mean readout (else robust) top-1 first."
    meth = 'readout' if all(r.get('readout_accuracy') for r in results.values()) else 'robust'
    mean = lambda r, k: sum(r[f'{meth} seed {s}'][k] for s in seeds) / len(seeds)
    cols = [f'{m} seed {s}' for m in ('robust', 'readout') for s in seeds
            if f'{m} seed {s}' in next(iter(results.values()))]
    lines = ['| run | ' + ' | '.join(f'{c} top-1 / named' for c in cols) + ' |', '|---|' + '---|' * len(cols)]
    for run, r in sorted(results.items(), key=lambda kv: -mean(kv[1], 'top1')):
        lines.append(f'| {run} | ' + ' | '.join(f"{r[c]['top1']:.3f} / {r[c]['named']:.3f}" for c in cols) + ' |')
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('runs', nargs='+')
    ap.add_argument('--dataset', default='shapes3d')
    ap.add_argument('--data-dir')
    ap.add_argument('--groups', type=int, default=2000)
    ap.add_argument('--seeds', type=int, nargs='+', default=[99, 98])
    ap.add_argument('--readout-n', type=int, default=20_000,
                    help='pictures to fit each readout on (as shipped: 20,000)')
    ap.add_argument('--summary-n', type=int, default=10_000,
                    help="pictures each run's latent summary is measured on (as shipped: 10,000)")
    ap.add_argument('--out', required=True, help='path without suffix: writes OUT.md and OUT.json')
    a = ap.parse_args()
    torch.set_num_threads(2)
    src, results = source_for(a.dataset, a.data_dir), {}
    for run in a.runs:
        results[Path(run).name] = validate_run(Path(run) / 'last.pt', src, a.groups, a.seeds, readout_n=a.readout_n,
                                              summary_n=a.summary_n)
        print(Path(run).name, {k: v for k, v in results[Path(run).name].items() if 'seed' in k}, flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = 'python tools/select_runs.py ' + ' '.join(sys.argv[1:])
    out.with_suffix('.md').write_text(
        f"# Choosing the {a.dataset} run\n\nSingle-factor validation groups of 6 ({a.groups:,} per "
        f"seed, seeds {', '.join(map(str, a.seeds))}; no report uses them). Top-1 / factor named, "
        "ranked per dimension ('robust') and through a factor readout fitted for each run "
        "('readout').\n\n" + table(results, a.seeds) + f"\nProduced by `{cmd}`.\n")
    out.with_suffix('.json').write_text(
        json.dumps(dict(command=cmd, groups=a.groups, seeds=a.seeds, results=results), indent=1))
    print(out.with_suffix('.md').read_text())
