"""Tests of hephaestus.metrics: sanity checks on synthetic codes (small samples) and input validation."""
import numpy as np
import pytest

from hephaestus.metrics import (SHAPES3D_FACTORS, SHAPES3D_SIZES, DCI_MODELS, active_dims, dci, dci_from_importance,
                                evaluate_all, factor_entropies, factor_vae_score, histogram_discretize, mig,
                                mutual_info_matrix, name_latents, sample_factors, toy_codes)

SIZES = SHAPES3D_SIZES
SMALL = (5, 4, 3, 6)     # a small grid where DCI's one-classifier-per-factor fits must stay fast
FV = dict(n_train=600, n_eval=300, n_variance=2000, progress=False)


@pytest.fixture(scope='module')
def data():
    "Toy codes of every kind for 2,000 train and 500 test factor rows on the 3D Shapes grid."
    f_tr, f_te = sample_factors(SIZES, 2000, seed=0), sample_factors(SIZES, 500, seed=1)
    kinds = ('copy', 'rotated', 'random')
    return (f_tr, f_te, {k: toy_codes(k, f_tr, SIZES, rng=0) for k in kinds},
            {k: toy_codes(k, f_te, SIZES, rng=1) for k in kinds})


@pytest.fixture(scope='module')
def small():
    "Toy codes on the small grid: 900 train and 300 test rows."
    f_tr, f_te = sample_factors(SMALL, 900, seed=0), sample_factors(SMALL, 300, seed=1)
    kinds = ('copy', 'rotated', 'random')
    return (f_tr, f_te, {k: toy_codes(k, f_tr, SMALL, n_extra=2, rng=0) for k in kinds},
            {k: toy_codes(k, f_te, SMALL, n_extra=2, rng=1) for k in kinds})


def sampler(kind, seed=0, extra_scale=1.0, sizes=SIZES):
    rng = np.random.default_rng(seed)
    def fn(f):
        z = toy_codes(kind, f, sizes, rng=rng)
        z[:, len(sizes):] *= extra_scale
        return z
    return fn


# --- MIG -------------------------------------------------------------------------------------------------------------
def test_histogram_discretize_matches_numpy_histogram():
    x = np.random.default_rng(0).normal(size=(500, 3))
    d = histogram_discretize(x, 20)
    assert d.min() == 1 and d.max() == 20
    counts, _ = np.histogram(x[:, 1], 20)           # same equal-width bins as np.histogram (last bin closed)
    np.testing.assert_array_equal(np.bincount(d[:, 1], minlength=21)[1:], counts)


def test_mig_sanity(data):
    f_tr, _, c, _ = data
    assert mig(c['copy'], f_tr)['score'] > 0.95
    assert mig(c['random'], f_tr)['score'] < 0.03
    assert mig(c['rotated'], f_tr)['score'] < 0.3
    r = mig(c['copy'], f_tr)
    assert r['per_factor'].shape == (6,) and r['mi'].shape == (10, 6)
    np.testing.assert_allclose(r['entropy'], factor_entropies(f_tr))


def test_mutual_info_matrix_normalised(data):
    f_tr, _, c, _ = data
    m = mutual_info_matrix(c['copy'], f_tr, normalize=True)
    np.testing.assert_allclose(np.diag(m[:6]), 1, atol=1e-6)   # copied dims carry all of their factor
    assert m[6:].max() < 0.1


def test_mig_errors(data):
    f_tr, _, c, _ = data
    with pytest.raises(ValueError, match='one factor row per code row'): mig(c['copy'][:10], f_tr)
    with pytest.raises(ValueError, match='NaN'): mig(np.where(np.eye(2000, 10) > 0, np.nan, c['copy']), f_tr)
    with pytest.raises(ValueError, match='integer factor classes'): mig(c['copy'], f_tr + 0.5)
    with pytest.raises(ValueError, match='2-D'): mig(c['copy'][:, 0], f_tr)
    with pytest.raises(ValueError, match='at least 2 code dimensions'): mig(c['copy'][:, :1], f_tr)
    with pytest.raises(ValueError, match='constant'): mig(c['copy'], np.zeros((2000, 2), int))
    with pytest.raises(ValueError, match='n_bins'): mig(c['copy'], f_tr, n_bins=1)


# --- DCI -------------------------------------------------------------------------------------------------------------
def test_dci_from_importance_extremes():
    r = dci_from_importance(np.eye(4))
    assert r['disentanglement'] == pytest.approx(1, abs=1e-6) and r['completeness'] == pytest.approx(1, abs=1e-6)
    r = dci_from_importance(np.ones((4, 4)))
    assert r['disentanglement'] == pytest.approx(0, abs=1e-6) and r['completeness'] == pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError, match='non-negative'): dci_from_importance(-np.eye(3))


def test_dci_sanity_hgb(small):
    f_tr, f_te, c, ct = small
    cp = dci(c['copy'], f_tr, ct['copy'], f_te, progress=False)
    assert cp['disentanglement'] > 0.95 and cp['completeness'] > 0.95 and cp['informativeness_test'] > 0.95
    assert cp['importance'].shape == (6, 4)
    np.testing.assert_allclose(cp['importance'].sum(0), 1)
    rd = dci(c['random'], f_tr, ct['random'], f_te, progress=False)
    assert rd['disentanglement'] < 0.1 and rd['completeness'] < 0.1 and rd['informativeness_test'] < 0.5
    rot = dci(c['rotated'], f_tr, ct['rotated'], f_te, progress=False)
    assert rot['disentanglement'] < 0.3 and rot['completeness'] < 0.45


def test_dci_exact_gbt_and_lasso_agree_on_copy():
    sizes = (4, 3)                                           # small factors keep sklearn's exact GBT fast
    f = sample_factors(sizes, 300, seed=0); ft = sample_factors(sizes, 100, seed=1)
    z, zt = toy_codes('copy', f, sizes, n_extra=1, rng=0), toy_codes('copy', ft, sizes, n_extra=1, rng=1)
    for model in ('gbt', 'lasso'):
        r = dci(z, f, zt, ft, model=model, progress=False)
        assert r['disentanglement'] > 0.95 and r['completeness'] > 0.95, model
        assert r['informativeness_test'] > 0.95, model


def test_dci_errors(data):
    f_tr, f_te, c, ct = data
    with pytest.raises(ValueError, match='unknown DCI model'): dci(c['copy'], f_tr, ct['copy'], f_te, model='forest')
    with pytest.raises(ValueError, match='dims'): dci(c['copy'], f_tr, ct['copy'][:, :3], f_te)
    with pytest.raises(ValueError, match='factors_test has 2 factors'): dci(c['copy'], f_tr, ct['copy'], f_te[:, :2])
    with pytest.raises(ValueError, match='single class'):
        dci(c['copy'], np.c_[f_tr[:, :1], np.zeros(2000, int)], ct['copy'], f_te[:, :2])
    with pytest.raises(TypeError, match='alpha'): dci(c['copy'][:50], f_tr[:50], ct['copy'][:20], f_te[:20],
                                                      model='hgb', alpha=0.1, progress=False)
    assert set(DCI_MODELS) == {'gbt', 'hgb', 'hgb_perm', 'lasso'}


# --- FactorVAE -------------------------------------------------------------------------------------------------------
def test_factor_vae_sanity():
    assert factor_vae_score(sampler('copy'), SIZES, **FV)['score'] > 0.99
    rd = factor_vae_score(sampler('random'), SIZES, **FV)
    assert abs(rd['score'] - 1 / len(SIZES)) < 0.07                  # chance level 1/K
    pairs = factor_vae_score(sampler('pairs'), SIZES, **FV)
    assert pairs['score'] < 0.75


def test_factor_vae_prunes_collapsed_dims_and_batches_calls():
    calls = []
    def fn(f):
        calls.append(len(f)); return sampler('copy', extra_scale=1e-3)(f)
    r = factor_vae_score(fn, SIZES, votes_per_call=10, batch_size=64, **FV)
    assert r['n_active'] == 6 and r['active_mask'].tolist() == [True] * 6 + [False] * 4
    assert r['score'] > 0.99 and max(calls) == 640                   # 10 votes x 64 codes per call
    assert r['votes_train'].sum() == FV['n_train'] and r['votes_eval'].sum() == FV['n_eval']


def test_factor_vae_all_collapsed_scores_zero():
    r = factor_vae_score(lambda f: np.zeros((len(f), 3)), SIZES, **FV)
    assert r['score'] == 0 and r['n_active'] == 0


def test_factor_vae_errors():
    with pytest.raises(ValueError, match='sample_fn must return'): factor_vae_score(lambda f: np.zeros((3, 2)), SIZES, **FV)
    with pytest.raises(ValueError, match='NaN'): factor_vae_score(lambda f: np.full((len(f), 2), np.nan), SIZES, **FV)
    with pytest.raises(ValueError, match='>= 2 classes'): factor_vae_score(sampler('copy'), (10, 1), **FV)
    with pytest.raises(ValueError, match='batch_size'): factor_vae_score(sampler('copy'), SIZES, batch_size=1, **FV)
    with pytest.raises(TypeError, match='callable'): factor_vae_score(None, SIZES, **FV)


# --- active dims, naming, evaluate_all ---------------------------------------------------------------------------------
def test_active_dims_and_name_latents(data):
    f_tr, _, c, _ = data
    z = np.c_[c['copy'][:, :7], 1e-3 * c['copy'][:, 7:]]
    act = active_dims(codes=z)
    assert act.tolist() == [True] * 7 + [False] * 3
    assert active_dims([0.5, 0.001, 2.0]).tolist() == [True, False, True]
    assert active_dims(np.array([[0.0, 1.0], [0.04, 1.0]]), threshold=0.01).tolist() == [True, True]
    nmi = mutual_info_matrix(z, f_tr, normalize=True)
    assert name_latents(nmi, SHAPES3D_FACTORS, act) == list(SHAPES3D_FACTORS) + [None] * 4
    swapped = nmi[:, [1, 0, 2, 3, 4, 5]]                              # names follow the columns
    assert name_latents(swapped, SHAPES3D_FACTORS, act)[:2] == ['wall_hue', 'floor_hue']
    mixed = np.array([[0.5, 0.4], [0.9, 0.1], [0.01, 0.0]])
    assert name_latents(mixed, ['a', 'b']) == [None, 'a', None]      # unclear, dominant, too weak
    with pytest.raises(ValueError, match='at least one'): active_dims()
    assert active_dims(kl_per_dim=[0.5, 5.0, 2.0], variance=[1.0, 1e-4, 0.5]).tolist() == [True, False, True]
    with pytest.raises(ValueError, match='factor_names'): name_latents(nmi, ['a'])
    with pytest.raises(ValueError, match='active_mask'): name_latents(nmi, SHAPES3D_FACTORS, act[:3])


def test_evaluate_all(small):
    f_tr, _, c, _ = small
    out = evaluate_all(c['copy'], f_tr, sample_fn=sampler('copy', sizes=SMALL), factor_sizes=SMALL,
                       factorvae_kw=FV, progress=False)
    assert set(out) >= {'mig', 'dci_d', 'dci_c', 'dci_i', 'factorvae'}
    assert out['mig'] > 0.9 and out['dci_d'] > 0.9 and out['dci_c'] > 0.9 and out['factorvae'] > 0.99
    assert out['n_train'] == 600 and out['n_test'] == 300
    no_fv = evaluate_all(c['random'], f_tr, progress=False)
    assert np.isnan(no_fv['factorvae']) and no_fv['mig'] < 0.05
    with pytest.raises(ValueError, match='factor_sizes'): evaluate_all(c['copy'], f_tr, sample_fn=sampler('copy'))
    with pytest.raises(ValueError, match='both codes_test'): evaluate_all(c['copy'], f_tr, codes_test=c['copy'])
    with pytest.raises(ValueError, match='unknown DCI model'): evaluate_all(c['copy'], f_tr, dci_model='rf')


def test_toy_codes_errors():
    f = sample_factors(SIZES, 10)
    with pytest.raises(ValueError, match='unknown toy code kind'): toy_codes('spiral', f, SIZES)
    with pytest.raises(ValueError, match='factor_sizes lists'): toy_codes('copy', f, (10, 10))
    with pytest.raises(ValueError, match='< factor_sizes'): toy_codes('copy', f + 20, SIZES)
