"Tests of hephaestus.generate: changes, the shared code, generate_like, edit, similarity paths, the edit evaluation, the refiner hook."
import sys, types

import numpy as np
import pytest
import torch
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from hephaestus.data import Shapes3D, render_shapes3d
from hephaestus.groups import sample_groups
from hephaestus.pretrained import load_pretrained
from hephaestus.ranking import rank_group
from hephaestus.vae import VAE
from hephaestus.generate import (Changes, parse_changes, apply_changes, context_code, generate_like, edit, similarity_path,
                                 SimilarityPath, plot_path, plot_edit_grid, evaluate_edits, nearest_classes, editable_factors,
                                 own_value, gradient_energy, _context, _far_value, _maybe_refine)

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def model():
    return load_pretrained('shapes3d')


@pytest.fixture(scope='module')
def groups():
    return sample_groups(Shapes3D(), 10, style='single', seed=21)


# ---- changes ----------------------------------------------------------------------------------------------

def test_parse_factor_and_latent_changes(model):
    hue = [d for d, f in enumerate(model.factor_of_dim) if f == 'object_hue']     # the factor's own dimensions
    free = next(d for d in range(model.latent_dim) if d not in hue)
    ch = parse_changes(model, {'object_hue': 3, f'z{free}': 0.5})
    assert isinstance(ch, Changes) and hue and ch.dims.tolist() == hue + [free]
    assert torch.allclose(ch.values[:len(hue)], model.centroids['object_hue'][3, hue]) and ch.values[-1] == 0.5
    assert ch.factors == ['object_hue'] and 'object_hue=3' in ch.describe()
    assert parse_changes(model, {'shape': 'sphere'}).named == {'shape': 2}
    assert parse_changes(model, {'shape': '1', 'z0': '-1.5'}).values[-1] == -1.5
    assert parse_changes(model, {'scale': np.int64(2)}).named == {'scale': 2}
    assert parse_changes(model, {'scale': 2.0}).named == {'scale': 2}
    assert len(parse_changes(model, None)) == 0 and len(parse_changes(model, {})) == 0
    assert parse_changes(model, ch) is ch


@pytest.mark.parametrize('changes, match', [
    ({'colour': 1}, r"unknown change 'colour'.*floor_hue, wall_hue, object_hue, scale, shape, orientation"),
    ({'shape': 4}, r'shape takes value classes 0\.\.3, got 4'),
    ({'orientation': -1}, r'0\.\.14, got -1'),
    ({'shape': 1.5}, r'fraction 1\.5'),
    ({'shape': 'blob'}, r'cube, cylinder, sphere, capsule'),
    ({'shape': True}, r'integer value class'),
    ({'shape': float('nan')}, r'integer value class'),
    ({'z10': 0.0}, r'z10 does not exist.*z0\.\.z9'),
    ({'z1': float('nan')}, r'finite'),
    ({'z1': float('inf')}, r'finite'),
    ({'z1': 'abc'}, r'takes a number'),
    ({'object_hue': 1, 'zHUE': 0.0}, r'zHUE is set twice'),   # zHUE: a dimension of object_hue (filled in below)
    ({3: 1}, r'must be strings'),
])
def test_bad_changes(model, changes, match):
    if 'zHUE' in changes:
        hue = f"z{model.factor_of_dim.index('object_hue')}"
        changes, match = {k.replace('zHUE', hue): v for k, v in changes.items()}, match.replace('zHUE', hue)
    with pytest.raises(ValueError, match=match): parse_changes(model, changes)


def test_changes_on_a_model_without_centroids():
    torch.manual_seed(0)
    m = VAE(latent_dim=4)
    with pytest.raises(ValueError, match='unknown change'): parse_changes(m, {'shape': 1})
    m.factor_names = ['shape']
    with pytest.raises(ValueError, match='no factor centroids'): parse_changes(m, {'shape': 1})
    assert parse_changes(m, {'z3': 2}).values.tolist() == [2.0]
    with pytest.raises(TypeError, match='must be a dict'): parse_changes(m, [('z3', 2)])


def test_apply_changes_is_pure(model):
    z = torch.randn(3, 10)
    before = z.clone()
    sd = model.factor_of_dim.index('shape')                                          # the shape dimension
    free = next(d for d in range(10) if model.factor_of_dim[d] is None)               # a dimension of no factor
    out = apply_changes(model, z, {'shape': 0, f'z{free}': 1.25})
    assert torch.equal(z, before) and out is not z
    assert (out[:, free] == 1.25).all() and torch.allclose(out[:, sd], model.centroids['shape'][0, sd].expand(3))
    keep = [d for d in range(10) if d not in (sd, free)]
    assert torch.equal(out[:, keep], z[:, keep])
    with pytest.raises(ValueError, match=r'codes must be a tensor \[N, 10\]'): apply_changes(model, torch.zeros(10), {})


# ---- shared code and generate_like -------------------------------------------------------------------------

def test_context_code(model, groups):
    x = groups.images[0]
    c = context_code(model, x)
    r = rank_group(model, x)
    inl = r.mu[torch.arange(6) != r.outlier]
    assert c.shape == (10,) and torch.allclose(c, inl.median(0).values)
    assert torch.allclose(context_code(model, x, how='mean'), inl.mean(0))
    with pytest.raises(ValueError, match="'median' or 'mean'"): context_code(model, x, how='mode')


def test_generate_like_keeps_the_context(model, groups):
    "The generated picture is not the odd one out among the inliers; with a context factor changed it is, in most groups."
    kept = broken = 0
    for g in range(len(groups)):
        x = groups.images[g]
        c, _, inl = _context(model, x)
        kept += rank_group(model, torch.cat([inl, generate_like(model, x)])).outlier != len(inl)
        f = groups.factor_names[int(torch.nonzero(groups.context[g])[0])]
        broken += rank_group(model, torch.cat([inl, generate_like(model, x, {f: _far_value(model, f, c)})])).outlier == len(inl)
    assert kept >= 9, f'the unchanged picture was the outlier in {10 - kept} of 10 groups'
    assert broken >= 7, f'a changed context factor made the picture the outlier in only {broken} of 10 groups'


def test_generate_like_several_are_seeded_and_differ(model, groups):
    x = groups.images[1]
    a = generate_like(model, x, n=3, seed=4)
    assert a.shape == (3, 3, 64, 64) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, generate_like(model, x, n=3, seed=4))
    assert not torch.equal(a, generate_like(model, x, n=3, seed=5))
    assert (a[0] - a[1]).abs().mean() > 0.01 and (a[1] - a[2]).abs().mean() > 0.01
    one = generate_like(model, x)
    assert one.shape == (1, 3, 64, 64)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match='n must be a positive integer'): generate_like(model, x, n=bad)


def test_generate_like_varies_only_free_dims(model, groups, monkeypatch):
    "Shared and changed dimensions are the same in every sample; free ones differ."
    import hephaestus.generate as G
    seen = {}
    real = G._decode
    monkeypatch.setattr(G, '_decode', lambda m, z, batch=500: (seen.__setitem__('z', z), real(m, z, batch))[1])
    x = groups.images[2]
    generate_like(model, x, {'z3': 0.7}, n=4, seed=0)
    z = seen['z']
    r = rank_group(model, x)
    shared = [d for d, nm in enumerate(r.names) if nm in r.context]
    assert (z[:, 3] == 0.7).all()
    same = (z == z[:1]).all(0)
    assert same[shared].all() and same[3]
    assert not same.all()


# ---- edit ---------------------------------------------------------------------------------------------------

def test_edit_changes_the_named_factor(model):
    "The edited picture is nearest (MSE) to the render of the edited factor's new value, for hue and shape edits."
    src = Shapes3D()
    cls = torch.tensor([[0, 3, 1, 5, 0, 7], [6, 2, 8, 2, 3, 3], [4, 9, 5, 6, 1, 10], [1, 6, 7, 4, 2, 5]])
    x = src.images(cls)
    for factor, k, v in [('object_hue', 2, 4), ('shape', 4, 2), ('wall_hue', 1, 0)]:
        out = edit(model, x, {factor: v})
        assert out.shape == x.shape
        new = cls.clone(); new[:, k] = v
        pred = nearest_classes(src, out, new)
        assert (pred[:, k] == v).sum() >= 3, f'{factor} -> {v}: nearest values {pred[:, k].tolist()}'


def test_edit_single_picture_and_errors(model):
    x = render_shapes3d(torch.tensor([[2, 5, 8, 6, 1, 3]]))[0]
    out = edit(model, x, {'object_hue': 0})
    assert out.shape == (3, 64, 64)
    assert torch.equal(out, edit(model, x[None], {'object_hue': 0})[0])
    with pytest.raises(ValueError, match=r'\[0, 1\]'): edit(model, x * 255, {'shape': 1})
    with pytest.raises(ValueError, match='expected images of shape'): edit(model, x[:1], {'shape': 1})
    with pytest.raises(TypeError, match='must be a tensor'): edit(model, x.numpy(), {'shape': 1})
    assert own_value(model, model.encode(x[None])[0][0].detach(), 'object_hue') == 8


# ---- similarity path ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('style', ['seed', 'single'])
def test_similarity_path_scores_rise(model, style):
    gs = sample_groups(Shapes3D(), 4, style=style, seed=31)
    for g in range(len(gs)):
        p = similarity_path(model, gs.images[g], steps=6)
        assert isinstance(p, SimilarityPath) and p.images.shape == (len(p), 3, 64, 64) and len(p) == 6
        assert p.monotone and not p.reordered and (p.scores[1:] > p.scores[:-1]).all()
        assert p.alphas[0] == 0 and (p.alphas[1:] > p.alphas[:-1]).all()
        inl = rank_group(model, gs.images[g]).images[torch.arange(6) != rank_group(model, gs.images[g]).outlier]
        last = rank_group(model, torch.cat([inl, p.images[-1:]])).scores[-1]
        assert torch.isclose(last, p.scores[-1], rtol=1e-4)


def test_similarity_path_along_a_factor(model, groups):
    p = similarity_path(model, groups.images[0], factor='object_hue', steps=5)
    hue = [d for d, f in enumerate(model.factor_of_dim) if f == 'object_hue']
    assert p.factor == 'object_hue' and p.dims == hue and p.monotone and len(p) <= 5
    moved = (p.codes - p.codes[:1]).abs().sum(0) > 0
    assert moved[hue].all() and not moved[[d for d in range(10) if d not in hue]].any()
    with pytest.raises(ValueError, match='factor must be one of'): similarity_path(model, groups.images[0], factor='colour')
    with pytest.raises(ValueError, match='steps must be an integer >= 2'): similarity_path(model, groups.images[0], steps=1)


# ---- figures ------------------------------------------------------------------------------------------------

def test_figures(model, groups):
    x = groups.images[0]
    fig = plot_edit_grid(model, x[0], factors=['shape', 'scale'])
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 9
    plt.close(fig)
    fig = plot_path(similarity_path(model, x, steps=4))
    assert isinstance(fig, Figure) and 'score' in fig.axes[0].get_xlabel()
    plt.close(fig)
    with pytest.raises(ValueError, match='one picture'): plot_edit_grid(model, x[:2])


# ---- evaluation -----------------------------------------------------------------------------------------------

def test_evaluate_edits_small(model):
    ev = evaluate_edits(model, n=12, seed=3, progress=False, batch=6)
    rows = ev['rows']
    assert set(rows) == {'reconstruction (no edit)', 'edit (VAE)'} and ev['refiner_ssim_wins'] is None
    e = rows['edit (VAE)']
    assert e['n'] == 12 and sum(s['n'] for s in ev['by_factor']['edit (VAE)'].values()) == 12
    for k in ('edit_right', 'edited_right', 'others_kept', 'edit_right_1'):
        p, lo, hi = e[k]; assert 0 <= lo <= p <= hi <= 1
    assert e['psnr'][0] > 15 and 0.5 < e['ssim'][0] <= 1 and 0.3 < e['sharpness'][0] < 1.5
    assert e['factor_right']['floor_hue'][0] == 1.0
    md = ev.markdown()
    assert '| edit (VAE) | 12 |' in md and 'By edited factor' in md
    assert evaluate_edits(model, n=12, seed=3, progress=False)['rows']['edit (VAE)']['ssim'] == e['ssim']   # seeded
    with pytest.raises(ValueError, match='at least 2'): evaluate_edits(model, n=1, progress=False)


def test_nearest_classes_and_gradient_energy():
    cls = torch.tensor([[1, 2, 3, 4, 0, 5], [9, 0, 2, 7, 3, 14]])
    x = render_shapes3d(cls)
    assert torch.equal(nearest_classes(Shapes3D(), x, cls), cls)
    pred = nearest_classes(Shapes3D(), x, torch.tensor([[0, 2, 3, 4, 0, 5], [9, 0, 2, 7, 1, 14]]))   # one wrong reference value
    assert pred[0, 0] == 1 and pred[1, 4] == 3 and torch.equal(pred[0], cls[0])
    assert (gradient_energy(x) > 0).all() and (gradient_energy(torch.full((1, 3, 8, 8), 0.3)) == 0).all()


# ---- refiner hook ---------------------------------------------------------------------------------------------

def test_refine_without_a_refiner(model):
    x = torch.rand(2, 3, 64, 64)
    assert _maybe_refine(model, x) is x
    torch.manual_seed(0)
    with pytest.raises(ValueError, match='has no name'): _maybe_refine(VAE(), x, refine=True)
    from hephaestus.pretrained import available_pretrained
    if 'shapes3d-refiner' not in available_pretrained():
        with pytest.raises(ValueError, match="no refiner is shipped for model 'shapes3d'"): _maybe_refine(model, x, refine=True)
    else:   # the shipped refiner: loaded once, checked against the model, pictures stay pictures
        out = _maybe_refine(model, x, refine=True)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1 and not torch.equal(out, x)


def test_refiner_is_checked_and_called_with_shared_noise_for_paths(model, groups, monkeypatch):
    "A stand-in hephaestus.diffusion records what the hook asks of it (the real refiner is tested in test_diffusion)."
    calls = []
    fake = types.ModuleType('hephaestus.diffusion')
    def check_refiner(refiner, m):
        if refiner != 'ok': raise ValueError('this refiner was trained for the VAE xyz, not for this one')
    def refine(refiner, images, steps=10, seed=0, shared_noise=False):
        calls.append(dict(n=len(images), seed=seed, shared_noise=shared_noise))
        return (images * 0.5 + 0.25).clamp(0, 1)
    fake.check_refiner, fake.refine = check_refiner, refine
    monkeypatch.setitem(sys.modules, 'hephaestus.diffusion', fake)
    x = groups.images[0]
    plain = generate_like(model, x, n=2, seed=1)
    out = generate_like(model, x, n=2, seed=1, refiner='ok')
    assert torch.allclose(out, plain * 0.5 + 0.25) and calls[-1] == dict(n=2, seed=1, shared_noise=False)
    e = edit(model, x[:2], {'shape': 1}, refiner='ok')
    assert e.shape == (2, 3, 64, 64) and calls[-1]['shared_noise'] is False
    p = similarity_path(model, x, steps=4, refiner='ok')
    assert calls[-1]['shared_noise'] is True and p.monotone
    ev = evaluate_edits(model, n=4, seed=0, refiner='ok', progress=False)
    assert 'edit (VAE + refiner)' in ev['rows'] and ev['refiner_ssim_wins'] is not None
    with pytest.raises(ValueError, match='trained for the VAE'): generate_like(model, x, refiner='other')


def test_with_a_tiny_real_refiner(model, groups):
    "The hook against the real hephaestus.diffusion interface, with a tiny untrained refiner (output quality is not tested here)."
    diffusion = pytest.importorskip('hephaestus.diffusion')
    torch.manual_seed(0)
    r = diffusion.Refiner(base=8, mults=(1, 2), attn=False, T=20, vae_id=diffusion.vae_fingerprint(model))
    out = generate_like(model, groups.images[0], n=2, refiner=r)
    assert out.shape == (2, 3, 64, 64) and out.min() >= 0 and out.max() <= 1
    other = diffusion.Refiner(base=8, mults=(1, 2), attn=False, T=20, vae_id='0123456789abcdef')
    with pytest.raises(ValueError, match='trained for the VAE 0123456789abcdef'): edit(model, groups.images[0][:1], {'shape': 1}, refiner=other)


def test_untrained_model_without_summary(groups):
    "A bare VAE (no names, centroids or spread) still generates, edits latents and walks a path; factor requests fail clearly."
    torch.manual_seed(0)
    m = VAE(latent_dim=5).eval()
    x = groups.images[0]
    out = generate_like(m, x, {'z1': 0.3}, n=2, seed=0)
    assert out.shape == (2, 3, 64, 64)
    assert edit(m, x[:2], {'z0': 1.0}).shape == (2, 3, 64, 64)
    p = similarity_path(m, x, steps=3)
    assert p.monotone and 1 <= len(p) <= 3
    with pytest.raises(ValueError, match='none'): similarity_path(m, x, factor='shape')
    assert editable_factors(m) == []
