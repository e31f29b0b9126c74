"Tests of hephaestus.interpret: saliency maps of outlier scores, traversals, figures, the saliency-on-object check."
import numpy as np
import pytest
import torch
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from hephaestus.data import Shapes3D
from hephaestus.groups import sample_groups
from hephaestus.vae import VAE
from dataclasses import replace
from hephaestus.ranking import outlier_scores, rank_group
from hephaestus.interpret import (GroupScores, OwnScore, METHODS, CAM_METHODS, saliency, overlay, traverse, dims_of,
                                  dim_labels, contribution_bars, saliency_figure, traversal_figure, explain_figure,
                                  saliency_on_object, saliency_table, gaussian_blur)

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def model():
    "A small untrained VAE dressed like a pretrained one (names, activity, spread)."
    torch.manual_seed(0)
    m = VAE(latent_dim=6)
    m.factor_of_dim = ['object_hue', None, 'shape', 'object_hue', None, 'floor_hue']
    m.active = torch.tensor([True, True, True, True, False, True])
    m.latent_std = torch.ones(6)
    return m.eval()


@pytest.fixture(scope='module')
def group():
    g = sample_groups(Shapes3D(), 1, style='single', seed=3)
    return g.images[0]


def test_wrapper_returns_a_tensor_not_a_tuple(model, group):
    out = GroupScores(model)(group)
    assert isinstance(out, torch.Tensor) and not isinstance(out, tuple) and out.shape == (6, 1)
    assert torch.allclose(out[:, 0], outlier_scores(model, group))
    assert OwnScore()(out[2]) == out[2, 0] and OwnScore(0.0)(out[2]) == 0
    with pytest.raises(ValueError, match='score_fn must return a tensor of 6 scores'):
        GroupScores(model, lambda m, x: (m.encode(x)[0].sum(1),))(group)


@pytest.mark.parametrize('method', METHODS)
def test_maps_shape_and_range(model, group, method):
    s = saliency(model, group, method)
    assert s.shape == (6, 64, 64) and s.dtype == torch.float32 and torch.isfinite(s).all() and (s >= 0).all()
    if method in CAM_METHODS: assert s.max() <= 1 + 1e-5
    assert saliency(model, group, method, index=[1, -1]).shape == (2, 64, 64)


def test_cam_under_no_grad_and_leaves_model_as_it_was(model, group):
    ref = saliency(model, group, 'gradcam')
    model.train()
    p = next(model.parameters()); p.grad = torch.full_like(p, 7.0)
    try:
        with torch.no_grad():
            s = saliency(model, group, 'gradcam')
            assert not torch.is_grad_enabled(), "the caller's no_grad mode was not restored"
        assert torch.allclose(s, ref, atol=1e-5)
        assert model.training, "grad-cam's model.eval() was not undone"
        assert p.grad is not None and (p.grad == 7.0).all(), "parameter gradients were not restored"
    finally:
        p.grad = None; model.eval()


@pytest.mark.parametrize('method', ['gradcam', 'gradcam++'])
def test_one_target_per_image(model, group, method):
    s = saliency(model, group, method)
    assert all(not torch.allclose(s[i], s[j], atol=1e-4) for i in range(6) for j in range(i + 1, 6))
    # each map is that picture's own score: asking for picture 3 alone gives the same map
    assert torch.allclose(saliency(model, group, method, index=[3])[0], s[3], atol=1e-5)


def test_gradient_is_own_score_and_not_rescaled(model, group):
    g = saliency(model, group, 'gradient', smooth=0)
    x = group.clone().requires_grad_(True)
    own = torch.autograd.grad(outlier_scores(model, x)[2], x)[0][2].abs().sum(0)
    assert torch.allclose(g[2], own, rtol=1e-4, atol=1e-7)
    # magnitudes are comparable: a score 10x larger gives a map 10x larger (a CAM map does not change)
    g10 = saliency(model, group, 'gradient', score_fn=lambda m, x: 10 * outlier_scores(m, x), smooth=0)
    assert torch.allclose(g10, 10 * g, rtol=1e-4, atol=1e-6)
    c1 = saliency(model, group, 'gradcam')
    c10 = saliency(model, group, 'gradcam', score_fn=lambda m, x: 10 * outlier_scores(m, x))
    assert torch.allclose(c1, c10, atol=1e-4)
    mx = g.amax((1, 2))
    assert not torch.allclose(mx, mx[0].expand(6))   # not min-max scaled per picture


def test_blur_keeps_mass():
    m = torch.zeros(1, 32, 32); m[0, 16, 16] = 1
    b = gaussian_blur(m, 1.5)
    assert b.shape == m.shape and abs(float(b.sum()) - 1) < 1e-5 and b[0, 16, 16] < 1
    assert gaussian_blur(m, 0) is m


def test_saliency_errors(model, group):
    with pytest.raises(ValueError, match="unknown saliency method 'smoothgrad'"):
        saliency(model, group, 'smoothgrad')
    with pytest.raises(ValueError, match='add the batch dimension'):
        saliency(model, group[0], 'gradcam')
    with pytest.raises(ValueError, match=r'expected images of shape \[N, 3, 64, 64\]'):
        saliency(model, group[:, :, :32, :32], 'gradient')
    with pytest.raises(ValueError, match='at least 3 pictures'):
        saliency(model, group[:2], 'gradcam')
    with pytest.raises(ValueError, match='out of range'):
        saliency(model, group, 'gradient', index=[6])


def test_overlay(group):
    mp = torch.zeros(64, 64); mp[10:20, 10:20] = 1
    o = overlay(group[0], mp)
    assert o.shape == (64, 64, 3) and o.min() >= 0 and o.max() <= 1
    assert not np.allclose(o[15, 15], o[40, 40])
    o2 = overlay(group[0].permute(1, 2, 0).numpy(), mp, vmax=4.0, gray=False)
    assert o2.shape == (64, 64, 3)
    with pytest.raises(ValueError, match='does not match'):
        overlay(group[0], torch.zeros(8, 8))
    with pytest.raises(ValueError, match='one picture'):
        overlay(group, mp)


def test_traverse(model, group):
    t = traverse(model, group[0], [0, 2], torch.linspace(-2, 2, 5))
    assert t.shape == (2, 5, 3, 64, 64) and t.min() >= 0 and t.max() <= 1
    z = torch.zeros(6)
    t = traverse(model, z, 3, [[-1.0, 0.0, 1.0]])
    want = z.clone(); want[3] = 1.0
    with torch.no_grad(): assert torch.allclose(t[0, 2], model.decode(want[None])[0], atol=1e-6)
    assert dims_of(model, 'object_hue') == [0, 3]
    assert traverse(model, z[None], 'object_hue', [0., 1.]).shape == (2, 2, 3, 64, 64)
    assert dim_labels(model) == ['object_hue (z0)', 'z1', 'shape', 'object_hue (z3)', 'z4', 'floor_hue']


def test_traverse_errors(model, group):
    with pytest.raises(ValueError, match='one picture'):
        traverse(model, group, 0, [0.])
    with pytest.raises(ValueError, match=r'out of range 0\.\.5'):
        traverse(model, torch.zeros(6), [9], [0.])
    with pytest.raises(ValueError, match='values must be'):
        traverse(model, torch.zeros(6), [0, 1], torch.zeros(3, 2))
    with pytest.raises(ValueError, match="no latent dimension encodes 'colour'"):
        traverse(model, torch.zeros(6), 'colour', [0.])


def test_ranking_and_figures(model, group):
    r = rank_group(model, group)
    assert len(r.scores) == 6 and int(r.order[0]) == r.outlier and tuple(r.contributions.shape) == (6, 6)
    figs = [contribution_bars(model, r.contributions[r.outlier], highlight=r.factor),
            saliency_figure(model, group, outlier=r.outlier),
            traversal_figure(model, group, r), traversal_figure(model, group, r, dims=[1]),
            explain_figure(model, group), explain_figure(model, group, ranking=r)]
    assert all(isinstance(f, Figure) for f in figs)
    plt.close('all')
    with pytest.raises(ValueError, match=r'contributions must be \[D=6\]'):
        contribution_bars(model, r.contributions)
    with pytest.raises(ValueError, match='at least 3 pictures'):
        explain_figure(model, group[:2])


def test_explain_figure_with_a_given_ranking(model, group):
    r = rank_group(model, group)
    c = torch.zeros(6, 6); c[4, 2] = 1.0; c[:4, 0] = 1.0; c[5, 0] = 1.0
    r = replace(r, scores=torch.tensor([1., 2., 3., 4., 50., 5.]), contributions=c)
    assert r.outlier == 4 and r.factor == 'shape'
    f = explain_figure(model, group, ranking=r)
    assert isinstance(f, Figure) and 'picture 4' in f._suptitle.get_text() and 'shape' in f._suptitle.get_text()
    assert isinstance(traversal_figure(model, group, r), Figure)
    r2 = replace(r, contributions=torch.zeros(6, 6).index_fill_(1, torch.tensor([1]), 1.0))   # an unnamed dim: 'z1'
    assert r2.factor == 'z1' and isinstance(traversal_figure(model, group, r2), Figure)
    plt.close('all')


def test_saliency_on_object(model):
    res = saliency_on_object(model, n_groups=4, seed=0, methods=('gradcam', 'gradient'))
    assert res['n'] == 4 and set(res['methods']) == {'gradcam', 'gradient'}
    assert sum(res['n_by_factor'].values()) == 4 and set(res['n_by_factor']) == {'object_hue', 'shape'}
    for r in res['methods'].values():
        m, lo, hi = r['mass_in_object']
        assert 0 <= m <= 1 and lo <= m <= hi and 0 <= r['beats_area'] <= 1
        assert 0 <= r['twin_mass_in_object'][0] <= 1 and -1 <= r['outlier_minus_twin'][0] <= 1
    assert 0 < res['area'][0] < 1
    tab = saliency_table(res)
    assert tab.count('\n') == 3 and 'input gradient' in tab
    with pytest.raises(ValueError, match='unknown saliency method'):
        saliency_on_object(model, n_groups=4, methods=('gradcam', 'occlusion'))
    with pytest.raises(ValueError, match='at least 2'):
        saliency_on_object(model, n_groups=1)
