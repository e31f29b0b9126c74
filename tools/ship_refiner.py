"""Ship a trained diffusion refiner: evaluate it against the renderer, write its model card, export it into the package.

Usage: python tools/ship_refiner.py RUN_DIR [--name shapes3d-refiner] [--vae shapes3d] [--edits 500] [--seed 7]
Writes hephaestus/weights/NAME.{pt,md}, reports/generate/edits.{md,json} (VAE alone vs VAE + refiner on one-factor
edits of held-out renders) and reports/generate/refiner.png. Every number in the card is computed here.
"""
import argparse, json, shlex, sys, tempfile, time
from pathlib import Path
import numpy as np, torch
from hephaestus.data import FACTOR_SIZES, render_shapes3d, reports_dir
from hephaestus.diffusion import (export_refiner, load_refiner, load_refiner_checkpoint, refine, refiner_metrics,
                                  show_refinement)
from hephaestus.generate import evaluate_edits
from hephaestus.pretrained import load_pretrained
from hephaestus.diffusion import RefinerConfig
from ship import command_of, hardware_of   # tools/ is on sys.path when this script runs

def latency(refiner, vae, reps: int = 5) -> dict:
    "Median ms to decode one picture and to refine it with 10 DDIM steps (1 thread)."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    z = torch.zeros(1, vae.latent_dim)
    with torch.no_grad():
        x = vae.decode(z); refine(refiner, x, steps=10)
        dec, ref = [], []
        for _ in range(reps):
            t = time.perf_counter(); x = vae.decode(z); dec.append(time.perf_counter() - t)
            t = time.perf_counter(); refine(refiner, x, steps=10); ref.append(time.perf_counter() - t)
    torch.set_num_threads(n)
    return dict(decode_ms=1000*float(np.median(dec)), refine10_ms=1000*float(np.median(ref)))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('run'); ap.add_argument('--name', default='shapes3d-refiner'); ap.add_argument('--vae', default='shapes3d')
    ap.add_argument('--edits', type=int, default=500); ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--n-metrics', type=int, default=256, help='fresh scenes for the reconstruction metrics')
    ap.add_argument('--checkpoint', help='this checkpoint instead of RUN/last.pt'); ap.add_argument('--note', default='')
    a = ap.parse_args()
    torch.set_num_threads(2)
    ckpt = Path(a.checkpoint or Path(a.run)/'last.pt')
    ck = load_refiner_checkpoint(ckpt)
    vae = load_pretrained(a.vae)
    with tempfile.TemporaryDirectory() as d:         # the EMA weights exactly as shipped (float16), to evaluate them
        refiner = load_refiner(export_refiner(ckpt, a.name, vae, {}, '', weights_dir=d))
    rm = refiner_metrics(refiner, vae, n=a.n_metrics, steps=10, progress=True)
    ev = evaluate_edits(vae, n=a.edits, seed=a.seed, refiner=refiner, progress=True)
    lat = latency(refiner, vae)
    out = reports_dir()/'generate'; out.mkdir(parents=True, exist_ok=True)
    cmd = "python tools/ship_refiner.py " + shlex.join(sys.argv[1:])
    (out/'edits.json').write_text(json.dumps(dict(edits=ev, refiner_metrics=rm, latency=lat, command=cmd), indent=1))
    (out/'edits.md').write_text(f"# Edits against the renderer: VAE alone and VAE + diffusion refiner\n\nMade by `{cmd}` "
                                f"(`evaluate_edits(load_pretrained('{a.vae}'), n={a.edits}, seed={a.seed}, refiner=...)`, "
                                "10 DDIM steps).\n\n" + ev.markdown() + '\n')
    g = torch.Generator().manual_seed(3)
    classes = torch.stack([torch.randint(0, k, (8,), generator=g) for k in FACTOR_SIZES], 1)
    truth = render_shapes3d(classes)
    with torch.no_grad(): decoded = vae.decode(vae.encode(truth)[0])
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig = show_refinement(truth, decoded, refine(refiner, decoded, steps=10, seed=0)); fig.savefig(out/'refiner.png', dpi=110); plt.close(fig)
    cfg = ck['train_config']
    rows = ev['rows']
    ci = lambda v, d=3: f"{v[0]:.{d}f} [{v[1]:.{d}f}, {v[2]:.{d}f}]"
    tab = '\n'.join(f"| {k} | {ci(s['edit_right'])} | {ci(s['edited_right'])} | {ci(s['psnr'], 2)} | {ci(s['ssim'])} | {ci(s['sharpness'])} |"
                    for k, s in rows.items())
    n_params = sum(p.numel() for p in refiner.parameters())
    card = f"""# Model card: `{a.name}`

A DiffuseVAE-style ("Form-1", Pandey et al. 2022) conditional diffusion model that turns the blurry decodes of the
shipped `{a.vae}` β-TCVAE into sharp pictures: a UNet ({n_params/1e6:.2f} M parameters, stored in float16) sees the noisy
picture next to the VAE's decode and predicts the clean picture ({cfg['param']}-parameterisation, {cfg['schedule']} schedule,
T = {cfg['T']}); sampling is DDIM in 10-25 steps. Load it with `hephaestus.load_pretrained('{a.name}')`; it only accepts
the VAE it was trained with (fingerprint `{ck['vae_id']}`, checked by `check_refiner`).

## Training
- Command: `{command_of(cfg, config_cls=RefinerConfig, prog='hephaestus train-refiner', out=a.run)}`{(chr(10) + '- ' + a.note) if a.note else ''}
- Pairs rendered on the fly: a 3D Shapes scene of uniform random factors, and the VAE's decode of its posterior mean
  (or, with probability {cfg['sample_p']}, of a posterior sample) as the condition.
- Seed {cfg['seed']}; {ck['step']:,} steps of batch {cfg['batch_size']} ({ck['step']*cfg['batch_size']:,} pictures); wall time {ck['wall_time']/60:.1f} min;
  EMA {cfg['ema']} of the weights is what ships.
- Hardware: {hardware_of(a.run, cfg)}.

## Measured (held-out renders; `tools/ship_refiner.py`)
Reconstructions of {a.n_metrics} fresh scenes (10 DDIM steps): MSE decode {rm['mse_decode']:.4f} vs refined {rm['mse_refined']:.4f};
PSNR {rm['psnr_decode']:.2f} vs {rm['psnr_refined']:.2f} dB; sharpness (gradient energy / truth's) {rm['sharpness_decode']:.3f} vs {rm['sharpness_refined']:.3f}.

{a.edits} one-factor edits of held-out renders against the true render of the edited factors (95 % intervals):

| output | edit right | edited factor right | PSNR (dB) | SSIM | sharpness ratio |
|---|---|---|---|---|---|
{tab}

The refiner raises SSIM in {ci(ev['refiner_ssim_wins'])} of the edits. Full tables: `reports/generate/edits.md`.

Latency on one CPU thread (median of 5): decode one picture {lat['decode_ms']:.1f} ms; refine it with 10 DDIM steps {lat['refine10_ms']:.0f} ms.

Produced by `{cmd}`.
"""
    metrics = dict(rm) | {f'latency_{k}': v for k, v in lat.items()} | {'ssim_wins': ev['refiner_ssim_wins'][0]}
    export_refiner(ckpt, a.name, vae, metrics, card)
    print(card)
