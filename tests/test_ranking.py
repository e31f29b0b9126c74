"""Tests of hephaestus.ranking: input checks, the robust score on synthetic codes, explanations, evaluation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hephaestus.groups import StripeSource, sample_groups
from hephaestus.ranking import (LATENT_METHODS, METHODS, EvalTable, PCARanker, Ranking, StripeEncoder, evaluate_ranking, latent_deviations,
                                load_group, model_ranker, oracle_scores, outlier_scores, pixel_scores, rank_group,
                                shared_factors, wilson)

FACTORS = ('floor_hue', 'wall_hue', 'object_hue', 'scale', 'shape', 'orientation')


@pytest.fixture(scope='module')
def toy():
    return StripeSource((10, 10, 10, 8, 4, 15), FACTORS, size=16)


@pytest.fixture(scope='module')
def enc(toy):
    return StripeEncoder(toy)


# ------------------------------------------------------------------ input
def test_load_group_errors(tmp_path):
    from PIL import Image
    x = torch.rand(4, 3, 64, 64)
    assert load_group(x) is x
    with pytest.raises(ValueError, match='at least 3 images'): load_group(x[:2])
    with pytest.raises(ValueError, match=r'1 channel\(s\) \(grayscale\) but the model takes 3'): load_group(x[:, :1])
    with pytest.raises(ValueError, match='the images are 32x32 but the model takes 64x64'): load_group(x[..., :32, :32])
    with pytest.raises(ValueError, match='divide by 255'): load_group(x * 255)
    with pytest.raises(ValueError, match=r'pixels must lie in \[0, 1\]'): load_group(x - 0.5)
    y = x.clone(); y[1, 2, 3, 4] = float('nan')
    with pytest.raises(ValueError, match='NaN'): load_group(y)
    with pytest.raises(TypeError, match='must be float'): load_group((x * 255).byte())
    with pytest.raises(TypeError, match='list of PIL images or paths'): load_group('a.png')
    paths = []
    for i in range(3):
        p = tmp_path / f'{i}.png'; Image.fromarray((np.random.rand(64, 64, 3) * 255).astype(np.uint8)).save(p); paths.append(p)
    g = load_group(paths)
    assert g.shape == (3, 3, 64, 64) and g.dtype == torch.float32 and 0 <= g.min() and g.max() <= 1
    small = tmp_path / 'small.png'; Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(small)
    with pytest.raises(ValueError, match='different sizes'): load_group(paths[:2] + [small])
    gray = tmp_path / 'gray.png'; Image.fromarray(np.zeros((64, 64), np.uint8)).save(gray)
    with pytest.raises(ValueError, match='grayscale image .* takes RGB'): load_group(paths[:2] + [gray])
    assert load_group([gray] * 3, channels=1).shape == (3, 1, 64, 64)
    with pytest.raises(ValueError, match='colour image .* takes grayscale'): load_group(paths, channels=1)
    txt = tmp_path / 'x.png'; txt.write_text('not a picture')
    with pytest.raises(ValueError, match='is not an image file'): load_group(paths[:2] + [txt])
    with pytest.raises(FileNotFoundError, match='image not found'): load_group(paths[:2] + [tmp_path / 'missing.png'])
    with pytest.raises(ValueError, match='at least 3 images'): load_group(paths[:2])


# ------------------------------------------------------------------ the score on synthetic codes
def test_robust_beats_plain_on_a_single_factor_group():
    mu = torch.tensor([[0., -1.0, 1.2], [0., 1.2, -1.0], [0., 0.1, 0.0], [0., -0.2, 0.3], [1., -1.0, 1.2], [0., 1.3, 1.1]])
    robust, plain = [latent_deviations(mu, method=m).pow(2).sum(-1) for m in LATENT_METHODS]
    assert int(robust.argmax()) == 4 and int(plain.argmax()) != 4


def test_deviation_invariants():
    g = torch.Generator().manual_seed(0)
    mu, lv = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g) - 3
    z = latent_deviations(mu, lv)
    perm = torch.randperm(7, generator=g)
    assert torch.allclose(latent_deviations(mu[perm], lv[perm]), z[perm], atol=1e-5)          # permutation equivariant
    assert torch.allclose(latent_deviations(mu * 3 + 2, lv + 2 * math.log(3), torch.full((5,), 3.)), z, atol=1e-4)  # units
    act = torch.tensor([True, False, True, True, False])
    za = latent_deviations(mu, lv, active=act)
    assert (za[:, ~act] == 0).all() and torch.allclose(za[:, act], z[:, act])
    assert latent_deviations(torch.zeros(4, 3)).abs().max() == 0                                 # identical codes: no outlier
    batched = latent_deviations(torch.stack([mu, mu * 2]), torch.stack([lv, lv]))
    assert torch.allclose(batched[0], z)
    with pytest.raises(ValueError, match='method must be one of'): latent_deviations(mu, method='euclid')
    with pytest.raises(ValueError, match='at least 3 codes'): latent_deviations(mu[:2])


def test_ideal_encoder_accuracy(toy, enc):
    gs = sample_groups(toy, 120, style='single', seed=5)
    acc = {m: np.mean([int(outlier_scores(enc, x, m).argmax()) == int(o) for x, o in zip(gs.images, gs.outlier)]) for m in LATENT_METHODS}
    assert acc['robust'] > 0.7 and acc['robust'] > acc['plain'] + 0.3, acc


def test_outlier_scores_is_differentiable(toy, enc):
    gs = sample_groups(toy, 1, style='seed', seed=1)
    x = gs.images[0].clone().requires_grad_(True)
    s = outlier_scores(enc, x)
    assert s.shape == (6,) and s.requires_grad
    s[int(gs.outlier[0])].backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


# ------------------------------------------------------------------ the ranking and its explanation
def test_rank_group_explains(toy, enc):
    gs = sample_groups(toy, 30, style='single', seed=9)
    right = 0
    for g in range(len(gs)):
        r = rank_group(enc, gs.images[g])
        assert isinstance(r, Ranking) and sorted(r.order.tolist()) == list(range(6)) and r.outlier == int(r.order[0])
        tot = r.contributions.sum(1)
        assert torch.allclose(tot, (r.scores > 0).float(), atol=1e-4) and (r.contributions[:, -1] == 0).all()
        assert r.scores[r.outlier] == r.scores.max() and r.margin >= 1
        fs = r.factors_for(r.outlier)
        assert [f for f, _ in fs][0] == r.factor and all(a >= b for (_, a), (_, b) in zip(fs, fs[1:]))
        assert 'z6' not in dict(fs)                                                  # the inactive dimension is ignored
        if r.outlier == int(gs.outlier[g]):
            right += 1
            truth = FACTORS[int(torch.nonzero(gs.differs[g])[0])]
            assert r.factor == truth
            assert {FACTORS[j] for j in range(6) if gs.context[g, j]} <= set(r.context)   # shared factors are found (a free factor may vary too little to tell)
            e = r.explain()
            assert e.startswith(f'image {r.outlier} is the odd one out: the group shares ')
            assert e.endswith(f'image {r.outlier} has a different {truth.replace("_", " ")}.')
    assert right >= 20
    d = r.to_dict()
    assert d['outlier'] == r.outlier and d['explanation'] == r.explain() and len(d['scores']) == 6
    assert 'rank' in r.table() and len(r.table().splitlines()) == 7


def test_rank_group_on_the_shipped_model():
    from hephaestus.data import Shapes3D
    from hephaestus.pretrained import available_pretrained, load_pretrained
    if 'shapes3d' not in available_pretrained(): pytest.skip('no shipped shapes3d model')
    m = load_pretrained('shapes3d')
    gs = sample_groups(Shapes3D(), 2, style='seed', seed=4)
    r = rank_group(m, gs.images[0])
    assert r.scores.shape == (6,) and r.contributions.shape == (6, m.latent_dim)
    assert r.factor in r.names and set(r.context) <= set(r.names)
    assert 'odd one out' in r.explain()
    with pytest.raises(ValueError, match='model takes 3'): rank_group(m, gs.images[0][:, :1])


def test_plot_ranking(toy, enc):
    import matplotlib.pyplot as plt
    from hephaestus.ranking import plot_ranking
    gs = sample_groups(toy, 1, seed=2)
    fig = plot_ranking(rank_group(enc, gs.images[0]))
    assert len(fig.axes) == 12
    plt.close(fig)


def test_shared_factors():
    u = torch.tensor([[0., 0., 5.], [0., 1., 0.], [0.1, -1., 0.], [0., 0.5, 0.]])
    assert shared_factors(u, 0, ['a', 'b', 'c'], torch.ones(3, dtype=torch.bool)) == ['a', 'c']
    assert shared_factors(u, 0, ['a', 'b', 'a'], torch.ones(3, dtype=torch.bool)) == ['a']
    assert shared_factors(u, 0, ['a', 'b', 'c'], torch.tensor([False, True, True])) == ['c']


# ------------------------------------------------------------------ evaluation
def test_wilson():
    lo, hi = wilson(50, 100)
    assert abs(lo - 0.404) < 2e-3 and abs(hi - 0.596) < 2e-3
    assert wilson(0, 10)[0] == 0 and wilson(10, 10)[1] == 1


def test_oracle_scores(toy):
    gs = sample_groups(toy, 50, style='seed', seed=3, render=False)
    for g in range(50):
        s, f = oracle_scores(gs.classes[g])
        assert int(s.argmax()) == int(gs.outlier[g]) and bool(gs.differs[g, f])


def test_evaluate_ranking(toy, enc):
    gs = sample_groups(toy, 60, style='single', seed=12)
    pca = PCARanker(toy.images(torch.stack([torch.randint(0, k, (300,)) for k in toy.factor_sizes], 1)), 6)
    t = evaluate_ranking({'oracle': oracle_scores, 'ideal': model_ranker(enc), 'pixels': pixel_scores, 'pca': pca,
                          'constant': lambda x: torch.zeros(len(x))}, gs, seed=1)
    assert isinstance(t, EvalTable) and [r['ranker'] for r in t] == ['oracle', 'ideal', 'pixels', 'pca', 'constant']
    for r in t:
        assert r['n'] == 60 and r['top1_lo'] <= r['top1'] <= r['top1_hi'] and r['mrr_lo'] <= r['mrr'] <= r['mrr_hi']
        assert r['top1'] <= r['mrr'] + 1e-9 and r['mrr'] <= 1 + 1e-9
    assert t[0]['top1'] > 0.9 and t[1]['top1'] > 0.75 and t[1]['factor_acc'] <= t[1]['top1']
    assert t[2]['factor_acc'] is None and t[4]['factor_acc'] is None
    assert t[4]['top1'] < 0.4                                                        # ties broken at random: about 1/6
    assert '| oracle | 60 |' in t.markdown()
    with pytest.raises(ValueError, match='gave 2 scores for a group of 6'):
        evaluate_ranking({'bad': lambda x: torch.zeros(2)}, gs)


def test_ranking_report(tmp_path, toy, enc):
    from hephaestus.ranking import ranking_report
    res = ranking_report(enc, tmp_path / 'r', n_groups=12, n_study=6, sizes=(3, 5), n_train=100, source=toy, seed=1,
                         dsprites_path=tmp_path / 'absent.npz')
    assert sorted(p.name for p in (tmp_path / 'r').iterdir()) == ['accuracy_vs_group_size.png', 'accuracy_vs_k.png', 'ranking.json', 'ranking.md']
    assert set(res['main']) == {'seed', 'single'} and set(res['by_size']['single']) == {3, 5}
    assert str(res['dsprites']).startswith('skipped')


def test_dsprites_evaluation_takes_any_model(shared_data):
    from hephaestus.pretrained import available_pretrained, load_pretrained
    from hephaestus.ranking import evaluate_dsprites
    path = shared_data / 'dsprites' / 'dsprites-grid.npz'
    if not path.exists(): pytest.skip(f'{path} is absent')
    if 'dsprites' not in available_pretrained():
        print('skipping: no dsprites model is shipped yet'); pytest.skip('no dsprites model is shipped yet')
    res = evaluate_dsprites(load_pretrained('dsprites'), path, n_groups=10, seed=0)
    assert set(res) == {'seed', 'single'} and res['seed'][-1]['top1'] > 0.9


def test_ranking_report_studies_dsprites_group_size(tmp_path, toy, enc, shared_data):
    "With a dSprites model and the grid, the report adds the dSprites tables and their group-size study (figure and JSON)."
    from hephaestus.pretrained import available_pretrained, load_pretrained
    from hephaestus.ranking import ranking_report
    path = shared_data / 'dsprites' / 'dsprites-grid.npz'
    if not path.exists() or 'dsprites' not in available_pretrained():
        print('skipping: no dSprites grid or model'); pytest.skip('no dSprites grid or model')
    res = ranking_report(enc, tmp_path / 'r', n_groups=8, n_study=6, sizes=(3, 7), n_train=100, source=toy, seed=1,
                         dsprites_model=load_pretrained('dsprites'), dsprites_path=path)
    assert (tmp_path / 'r' / 'dsprites_accuracy_vs_group_size.png').exists()
    assert set(res['dsprites']) == {'seed', 'single'} and set(res['dsprites_by_size']['single']) == {3, 7}
    assert 'dsprites_accuracy_vs_group_size.png' in (tmp_path / 'r' / 'ranking.md').read_text()


def test_factor_map_splits_a_shared_dimension(toy):
    "With the checkpoint's MI matrix, a dimension's share is split among factors; without it, each goes wholly to its name."
    from hephaestus.ranking import factor_map
    enc = StripeEncoder(toy)
    names, W = factor_map(enc, 7)
    assert names == [*toy.factor_names, 'z6'] and torch.equal(W, torch.eye(7))        # named: one-hot, every dimension active
    names, W = factor_map(enc, 7, enc.active)
    assert names == list(toy.factor_names) and torch.equal(W[:6], torch.eye(6)) and (W[6] == 0).all()   # the inactive one dropped
    enc.mi = torch.zeros(7, 6); enc.mi[:6, :6] = torch.eye(6)
    enc.mi[5] = torch.tensor([0., 0., 0., 0., 0.3, 0.6])        # dim 5 holds orientation and some shape
    names, W = factor_map(enc, 7, enc.active)
    assert names == list(toy.factor_names) and (W[6] == 0).all()                      # the inactive dimension gives nothing
    assert torch.allclose(W[5], torch.tensor([0., 0., 0., 0., 1 / 3, 2 / 3])) and torch.allclose(W.sum(1)[:6], torch.ones(6))
    gs = sample_groups(toy, 1, style='single', seed=3)
    r = rank_group(enc, gs.images[0])
    s = dict(r.factors_for(r.outlier))
    assert set(s) == set(toy.factor_names) and math.isclose(sum(s.values()), 1, rel_tol=1e-4)
    assert math.isclose(s['orientation'], 2 / 3 * float(r.contributions[r.outlier, 5]), rel_tol=1e-4, abs_tol=1e-6)
    enc.mi = torch.zeros(7, 6)                                   # an all-zero row on an active dimension: fall back to names
    assert factor_map(enc, 7, enc.active)[0] == list(toy.factor_names)
