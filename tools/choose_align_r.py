"""Choose `ALIGN_R` (10b): the causal check of the turned axes for each R, on training pictures only.

Usage: python tools/choose_align_r.py --data-dir D [--model cifar10] [--values 0.5 0.6 0.7 0.8]
The shipped model's turn is undone (`trained_axes`), the axes are turned again for each R on the 10,000 training
pictures `natural_model` uses, and `causal_check` runs on 1,000 other training pictures (the held-out part is not
looked at).
"""
import argparse
import torch
from hephaestus.attributes import aligned_basis, name_dimensions, picture_attributes, rotate_vae
from hephaestus.evaluation.natural import causal_check, causal_totals, trained_axes
from hephaestus.evaluation.stats import ci_text
from hephaestus.loaders import load_pictures
from hephaestus.model import Model, load_pretrained
from hephaestus.summary import encode_images, summary_from_codes

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data-dir', required=True)
    ap.add_argument('--model', default='cifar10')
    ap.add_argument('--values', type=float, nargs='+', default=[0.5, 0.6, 0.7, 0.8])
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pics = load_pictures('cifar10', a.data_dir, progress=False)
    model = load_pretrained(a.model)
    tr = pics.split('train')
    perm = torch.randperm(len(tr), generator=torch.Generator().manual_seed(0))
    x, cx = pics.pictures(tr[perm[:10_000]]), pics.pictures(tr[perm[10_000:11_000]])   # as natural_model draws
    trained = trained_axes(model, x)
    attrs = picture_attributes(x)
    mu, lv = encode_images(trained.vae, x)
    print('as trained:', ci_text(causal_totals(causal_check(trained, cx))['named']))
    for r in a.values:
        turn, fit = aligned_basis(mu, attrs, summary_from_codes(mu, lv).active, min_r=r)
        vae = rotate_vae(trained.vae, turn)
        m2, l2 = encode_images(vae, x)
        labels, words, _ = name_dimensions(m2, attrs, summary_from_codes(m2, l2).active)
        t = causal_totals(causal_check(Model(vae, summary_from_codes(m2, l2, labels, words)), cx))
        print(f"R >= {r:g}: {len(fit)} attributes turned to, {t['edits_named']} of {t['edits']} edits named; "
              f"named dimension moves most in {ci_text(t['named'])} of the named edits, {ci_text(t['all'])} of all")
