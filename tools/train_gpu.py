"""Train the shipped models on one GPU in one sitting: several VAE runs side by side, pick one, train its refiner.

Usage: python tools/train_gpu.py OUT [--runs main|baselines|dsprites] [--vae-minutes 4.5] [--refiner-minutes 2.5] \
[--steps N]
                                     [--dsprites NPZ] [--device cuda]

What it does, in order (every step is the package's own CLI, so each model card can quote its command):
1. Starts the VAE runs of RUNS (3D Shapes: the shipped recipe with two training seeds and one variant; dSprites
   when --dsprites is given) as parallel `hephaestus train` processes sharing the GPU, each with a wall-time budget
   (`--minutes`) over which the learning rate follows a cosine schedule, with gradient clipping.
2. Selects the 3D Shapes run to ship on *validation* groups (seed 99, never used by the reports): the top-1
   accuracy of `rank_group` on 300 single-factor groups of 6. All runs are kept and reported.
3. Trains the diffusion refiner (`hephaestus train-refiner`) on the selected VAE's decodes.
4. Packs each run into OUT/NAME.tar (weights without optimiser state, logs, at most 5 snapshots), \
small enough to copy back.
`--runs baselines` trains BASELINES instead (the same recipe with another loss, or without pairs; give --steps the
shipped run's step count to match it) and no refiner. `--runs dsprites --dsprites NPZ` trains the DSPRITES variants
on the dSprites grid and selects among them on validation groups drawn from the grid (seed 99); no refiner.
Validation here ranks per dimension only; `tools/select_runs.py` compares the packed runs again, afterwards, with a
factor readout fitted for each (how the shipped dSprites model was chosen).
Nothing here needs a GPU to run: `--device cpu --vae-minutes 0.2 --refiner-minutes 0.1` is the smoke test.
"""
import argparse, json, os, platform, subprocess, sys, tarfile, time
from pathlib import Path
import torch
from hephaestus.ship import source_for, validate_run

# bf16 autocast is for the GPU: on the CPU (the smoke test) it is about 20x slower than fp32.
CPU_PRECISION = ['--precision', 'fp32']
RECIPE = ['--batch-size', '256', '--precision', 'bf16', '--object-weight', '4', '--pair-factors', '1',
          '--lr', '1e-3', '--lr-schedule', 'cosine', '--clip', '5000', '--ckpt-every', '500',
          '--log-every', '100', '--threads', '2']
RUNS = {  # name -> extra options of `hephaestus train`
    'shapes3d-s0': ['--seed', '0'],
    'shapes3d-s1': ['--seed', '1'],
    'shapes3d-b3': ['--seed', '0', '--beta', '3'],
}
BASELINES = {  # the same recipe with another loss, or without pairs (seed 1, as the shipped run): `--runs baselines`
    'shapes3d-betavae-s1': ['--seed', '1', '--loss', 'betavae'],
    'shapes3d-vae-s1': ['--seed', '1', '--loss', 'vae'],
    'shapes3d-nopairs-s1': ['--seed', '1', '--pair-factors', '0'],
}
DS = ['--dataset', 'dsprites', '--object-weight', '0', '--lr', '5e-4']
DSPRITES = {  # `--runs dsprites`: earlier dSprites runs dropped orientation; these ask for more information (β <= 1)
    'dsprites-vae': [*DS, '--loss', 'vae', '--seed', '0'],
    'dsprites-bvae05': [*DS, '--loss', 'betavae', '--beta', '0.5', '--seed', '0'],
    'dsprites-bvae025': [*DS, '--loss', 'betavae', '--beta', '0.25', '--seed', '0'],
    'dsprites-bvae05-lr1e-3': [*DS, '--loss', 'betavae', '--beta', '0.5', '--lr', '1e-3', '--seed', '0'],
    'dsprites-bvae05-nopairs': [*DS, '--loss', 'betavae', '--beta', '0.5', '--pair-factors', '0', '--seed', '0'],
}

def sh(args, log):
    "Start `hephaestus ARGS` in the background, output to `log`."
    cmd = [sys.executable, '-c', 'import sys; from hephaestus.cli import main; sys.exit(main(sys.argv[1:]))', *args]
    return subprocess.Popen(cmd, stdout=open(log, 'w'), stderr=subprocess.STDOUT)

def wait(procs: dict, what: str, every: float = 60):
    "Wait for all processes, printing each run's last logged step every `every` s; report exits and failed logs' tails."
    ok, t0, last = {}, time.time(), time.time()
    while len(ok) < len(procs):
        for name, (p, log) in procs.items():
            if name in ok or p.poll() is None: continue
            ok[name] = p.returncode == 0
            print(f"{what} {name}: exit {p.returncode} after {time.time() - t0:.0f} s", flush=True)
            if p.returncode: print(Path(log).read_text()[-3000:], flush=True)
        if time.time() - last > every:
            last = time.time()
            for name, (p, log) in procs.items():
                lines = ((Path(log).parent/'log.jsonl').read_text().splitlines()
                         if (Path(log).parent/'log.jsonl').exists() else [])
                if lines:
                    r = json.loads(lines[-1])
                    print(f"  {name}: step {r['step']}, loss {r['loss']:.4g}, {r['images_per_s']:.0f} img/s",
                          flush=True)
        time.sleep(1)
    return ok

def validation_accuracy(ckpt: Path, dsprites: str | None = None, groups: int = 300, summary_n: int = 10_000) -> dict:
    "Top-1 (and factor-named) accuracy of rank_group on 300 validation single-factor groups of 6 (seed 99), \
of 3D Shapes or the dSprites grid."
    res = validate_run(ckpt, source_for('dsprites' if dsprites else 'shapes3d', dsprites), groups=groups, seeds=(99,),
                       readout=False, summary_n=summary_n)
    r = res['robust seed 99']
    return dict(top1=r['top1'], factor_acc=r['named'], factor_of_dim=res['factor_of_dim'])

def slim(ckpt: Path, drop=('optimizer',)):
    "Rewrite a checkpoint without its optimiser state (and other keys in `drop`), to copy it back cheaply."
    ck = torch.load(ckpt, map_location='cpu', weights_only=True)
    for k in drop:
        if k in ck: ck[k] = None
    torch.save(ck, ckpt)

def pack(run: Path, dest: Path, keep: int = 5):
    "RUN -> DEST.tar: last.pt (slimmed), logs, config, hardware and at most `keep` evenly spaced snapshots."
    snaps = sorted((run/'snapshots').glob('step_*.pt'))
    if len(snaps) > keep: snaps = [snaps[round(i*(len(snaps) - 1)/(keep - 1))] for i in range(keep)]
    with tarfile.open(dest, 'w') as tar:
        for p in [run/'last.pt', run/'log.jsonl', run/'config.json', run/'hardware.json', run/'train.log',
                  run/'selected.txt', *snaps]:
            if p.exists(): tar.add(p, arcname=f'{run.name}/{p.relative_to(run)}')
    print(f"packed {dest.name}: {dest.stat().st_size/2**20:.1f} MiB", flush=True)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('out')
    ap.add_argument('--work', default='/tmp/hephaestus-runs')
    ap.add_argument('--vae-minutes', type=float, default=4.5)
    ap.add_argument('--refiner-minutes', type=float, default=2.5)
    ap.add_argument('--dsprites', help='the dSprites grid npz: also train the dsprites model')
    ap.add_argument('--runs', default='main', choices=('main', 'baselines', 'dsprites'),
                    help="'main' (RUNS, then the refiner), 'baselines' (BASELINES, no refiner) "
                         "or 'dsprites' (DSPRITES, needs --dsprites)")
    ap.add_argument('--only', nargs='+', help='train only these runs of the chosen set (by name)')
    ap.add_argument('--steps', type=int, default=1_000_000,
                    help='steps of each VAE run (the --minutes budget usually ends it first)')
    ap.add_argument('--no-validate', action='store_true',
                    help='skip the validation groups (evaluate later, on the CPU)')
    ap.add_argument('--val-groups', type=int, default=300, help='validation groups per run (as shipped: 300)')
    ap.add_argument('--summary-n', type=int, default=10_000,
                    help="pictures each run's latent summary is measured on for validation (as shipped: 10,000)")
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--snapshot-every', type=int, default=1000)
    a = ap.parse_args()
    if a.runs == 'dsprites' and not a.dsprites: ap.error("--runs dsprites needs --dsprites NPZ (the grid)")
    out, work = Path(a.out), Path(a.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    hw = dict(machine=platform.machine(), cpu_count=os.cpu_count(), torch=torch.__version__,
              gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, device=a.device)
    print('hardware', hw, flush=True)
    t0 = time.time()
    runs = dict({'main': RUNS, 'baselines': BASELINES, 'dsprites': DSPRITES}[a.runs])
    if a.dsprites and a.runs != 'dsprites':
        runs['dsprites'] = ['--dataset', 'dsprites', '--seed', '0', '--object-weight', '0']
    if a.only:
        unknown = sorted(set(a.only) - set(runs))
        if unknown: ap.error(f"--only: no run {', '.join(unknown)} in --runs {a.runs} (it has {', '.join(runs)})")
        runs = {k: v for k, v in runs.items() if k in a.only}
    runs = {k: [*v, '--data-dir', a.dsprites] if k.startswith('dsprites') else v for k, v in runs.items()}
    procs = {}
    for name, extra in runs.items():
        d = work/name
        d.mkdir(parents=True, exist_ok=True)
        (d/'hardware.json').write_text(json.dumps(hw))
        args = ['train', *RECIPE, '--steps', str(a.steps), *extra, '--minutes', str(a.vae_minutes),
                '--device', a.device, '--out', str(d), '--quiet', '--snapshot-every', str(a.snapshot_every)]
        args += CPU_PRECISION if a.device == 'cpu' else []
        procs[name] = (sh(args, d/'train.log'), d/'train.log')
        print('started', name, ' '.join(args), flush=True)
    ok = wait(procs, 'train')
    print(f"VAE runs done after {time.time() - t0:.0f} s", flush=True)
    for name in runs:
        if (work/name/'last.pt').exists():
            slim(work/name/'last.pt')
            pack(work/name, out/f'{name}.tar')
    val = {}
    for name in runs:
        if ok[name] and not a.no_validate and (name.startswith('shapes3d') or a.runs == 'dsprites'):
            try:
                val[name] = validation_accuracy(work/name/'last.pt', a.dsprites if a.runs == 'dsprites' else None,
                                                a.val_groups, a.summary_n)
            except Exception as e:
                print('validation failed', name, repr(e), flush=True)
                continue
            print('validation', name, val[name], flush=True)
    (out/'validation.json').write_text(json.dumps(val, indent=1))
    if val and a.runs == 'dsprites':
        # dSprites: naming is the weak part
        print('selected', max(val, key=lambda k: val[k]['top1'] + (val[k]['factor_acc'] or 0)), flush=True)
    elif val and a.refiner_minutes > 0:
        best = max(val, key=lambda k: (val[k]['top1'], val[k]['factor_acc'] or 0))
        print('selected', best, flush=True)
        d = work/'refiner'
        d.mkdir(exist_ok=True)
        (d/'hardware.json').write_text(json.dumps(hw))
        (d/'selected.txt').write_text(best)
        args = ['train-refiner', '--vae', str(work/best/'last.pt'), '--minutes', str(a.refiner_minutes),
                '--batch-size', '128', '--lr', '5e-4', '--device', a.device, '--ckpt-every', '500',
                '--log-every', '50', '--out', str(d), '--quiet']
        args += CPU_PRECISION if a.device == 'cpu' else []
        print('started refiner', ' '.join(args), flush=True)
        wait({'refiner': (sh(args, d/'train.log'), d/'train.log')}, 'train')
        if (d/'last.pt').exists():
            slim(d/'last.pt', drop=('optimizer', 'model'))
            pack(d, out/'refiner.tar')
    print(f"all done after {time.time() - t0:.0f} s", flush=True)
