"""Tests of hephaestus.tcvae_loss: importance weights, exact small cases, the KL identity, the losses, errors."""
import itertools
import math

import pytest
import torch

from hephaestus.tcvae_loss import (ESTIMATORS, beta_vae_loss, kl_per_dim, log_density_gaussian, mss_log_weights,
                                   mws_log_weights, tcvae_loss, tcvae_terms)
from hephaestus.vae import VAE

torch.set_num_threads(1)
F64 = torch.float64


def sample(mu, logvar, gen):
    return mu + torch.randn(mu.shape, generator=gen, dtype=mu.dtype) * (0.5 * logvar).exp()


def test_log_density_matches_torch_normal():
    mu, logvar = torch.randn(5, 3, dtype=F64), torch.randn(5, 3, dtype=F64)
    z = torch.randn(5, 3, dtype=F64)
    ref = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z)
    assert torch.allclose(log_density_gaussian(z, mu, logvar), ref, atol=1e-12)


@pytest.mark.parametrize('B, N', [(2, 2), (2, 50), (5, 5), (7, 100), (64, 480_000)])
def test_mss_weights(B, N):
    w = mss_log_weights(B, N, F64).exp()
    assert w.shape == (B, B)
    assert torch.allclose(w.sum(1), torch.ones(B, dtype=F64), atol=1e-12)    # a proper mixture in every row
    assert torch.allclose(w.diagonal(), torch.full((B,), 1 / N, dtype=F64))  # own sample: its true weight 1/N
    off = w[~torch.eye(B, dtype=torch.bool)].view(B, B - 1)
    strat = (N - B + 1) / (N * (B - 1))
    for row in off:  # one member stands for the own stratum, the others for a stratum of N/(B-1) pictures each
        n_strat = torch.isclose(row, torch.tensor(strat, dtype=F64)).sum().item()
        n_plain = torch.isclose(row, torch.tensor(1 / (B - 1), dtype=F64)).sum().item()
        assert (n_strat, n_plain) == (1, B - 2)


def test_mws_weights_rows_sum_to_one():
    w = mws_log_weights(9, F64).exp()
    assert torch.allclose(w, torch.full((9, 9), 1 / 9, dtype=F64))
    assert torch.allclose(w.sum(1), torch.ones(9, dtype=F64))


@pytest.mark.parametrize('N, B', [(4, 2), (5, 3), (5, 5), (6, 4)])
def test_mss_is_unbiased_for_the_density(N, B):
    """Averaged over every ordered batch with picture n at position i, q_hat(z) equals the exact mixture density."""
    g = torch.Generator().manual_seed(N * 10 + B)
    mu, logvar = torch.randn(N, 2, generator=g, dtype=F64) * 1.5, torch.randn(N, 2, generator=g, dtype=F64) * 0.3
    z = torch.randn(5, 2, generator=g, dtype=F64)
    dens = log_density_gaussian(z[:, None], mu[None], logvar[None]).sum(-1).exp()  # [5, N]
    exact = dens.mean(1)
    w = mss_log_weights(B, N, F64).exp()
    batches = list(itertools.permutations(range(N), B))
    for n in range(N):
        for i in range(B):
            sel = [b for b in batches if b[i] == n]
            est = torch.stack([dens[:, list(b)] @ w[i] for b in sel]).mean(0)
            assert torch.allclose(est, exact, rtol=1e-12)


def test_mws_with_the_whole_dataset_is_exact_per_sample():
    g = torch.Generator().manual_seed(0)
    N = 6
    mu, logvar = torch.randn(N, 2, generator=g, dtype=F64), torch.randn(N, 2, generator=g, dtype=F64) * 0.3
    z = sample(mu, logvar, g)
    pair = log_density_gaussian(z[:, None], mu[None], logvar[None])
    exact_log_qz = torch.logsumexp(pair.sum(2), 1) - math.log(N)
    est_log_qz = torch.logsumexp(mws_log_weights(N, F64) + pair.sum(2), 1)
    assert torch.allclose(est_log_qz, exact_log_qz, atol=1e-12)


def _exact_terms(mu, logvar, n, gen):
    """MI, TC, dwKL by Monte Carlo with the exact aggregate posterior (mean of all N posteriors): (mean, SE)."""
    N, D = mu.shape
    idx = torch.randint(0, N, (n,), generator=gen)
    z = sample(mu[idx], logvar[idx], gen)
    pair = log_density_gaussian(z[:, None], mu[None], logvar[None])
    log_qz = torch.logsumexp(pair.sum(2), 1) - math.log(N)
    log_qzd = torch.logsumexp(pair, 1) - math.log(N)
    log_qz_x = log_density_gaussian(z, mu[idx], logvar[idx]).sum(1)
    per = dict(mi=log_qz_x - log_qz, tc=log_qz - log_qzd.sum(1),
               dwkl=(log_qzd + 0.5 * (math.log(2 * math.pi) + z ** 2)).sum(1))
    return {k: (v.mean().item(), v.std().item() / math.sqrt(n)) for k, v in per.items()}


@pytest.mark.parametrize('estimator, bias', [('mws', 0.0), ('mss', 0.002)])
def test_tiny_exact_case(estimator, bias):
    """5 distinct 2-D posteriors on a curve, each repeated K=40 times (N=200); the batch is the whole data set.

    MWS is then exact per sample, so only Monte Carlo error remains (4 combined standard errors).
    MSS misweights by |q_hat/q - 1| <= 1/(N-1) + (N-2)/(N(N-1)) * N/K ~ 0.03 with mean 0 over batch orders, so the
    Jensen bias of each log term is below 0.03^2/(2*0.97) < 5e-4; TC has three log terms: + 0.002.
    """
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(-1.6, 1.6, 5, dtype=F64)
    mu5 = torch.stack([t, 1.2 * t ** 2 - 1.0], 1)
    logvar5 = torch.log(torch.tensor([[.45, .35], [.3, .5], [.4, .4], [.5, .3], [.35, .45]], dtype=F64) ** 2)
    K = 40
    mu, logvar = mu5.repeat(K, 1), logvar5.repeat(K, 1)
    N = mu.shape[0]
    exact = _exact_terms(mu5, logvar5, 60_000, g)
    vals = {k: [] for k in exact}
    for _ in range(80):
        p = torch.randperm(N, generator=g)
        m, lv = mu[p], logvar[p]
        res = tcvae_terms(sample(m, lv, g), m, lv, N, estimator)
        for k in vals: vals[k].append(res[k].item())
    assert exact['tc'][0] > 0.3 and exact['mi'][0] > 1.0  # the case is not degenerate
    for k, v in vals.items():
        v = torch.tensor(v)
        tol = 4 * math.hypot(exact[k][1], v.std().item() / math.sqrt(len(v))) + bias
        assert abs(v.mean().item() - exact[k][0]) < tol, (k, v.mean().item(), exact[k][0], tol)


@pytest.mark.parametrize('estimator', ESTIMATORS)
def test_terms_add_up_to_the_kl(estimator):
    g = torch.Generator().manual_seed(3)
    B, D = 1000, 4
    mu, logvar = torch.randn(B, D, generator=g, dtype=F64), torch.randn(B, D, generator=g, dtype=F64) * 0.5 - 1
    z = sample(mu, logvar, g)
    t = tcvae_terms(z, mu, logvar, 10_000, estimator)
    total = t['mi'] + t['tc'] + t['dwkl']
    # exactly the one-sample Monte Carlo KL, whatever the weights
    mc = (log_density_gaussian(z, mu, logvar) - log_density_gaussian(z, 0 * z, 0 * z)).sum(1)
    assert torch.allclose(total, mc.mean(), atol=1e-10)
    # and that is the analytic KL up to Monte Carlo noise
    se = mc.std().item() / math.sqrt(B)
    assert abs(total.item() - t['kl'].item()) < 4 * se
    assert torch.allclose(t['kl_per_dim'], kl_per_dim(mu, logvar)) and t['kl_per_dim'].shape == (D,)
    assert torch.allclose(t['dwkl_per_dim'].sum(), t['dwkl']) and t['dwkl_per_dim'].shape == (D,)


def test_independent_factorised_posteriors_have_small_tc():
    """Posterior means drawn independently per dimension on a grid: TC of the aggregate posterior is ~0."""
    g = torch.Generator().manual_seed(0)
    grid = torch.linspace(-1.5, 1.5, 20, dtype=F64)
    mu = torch.cartesian_prod(grid, grid)                 # 400 posteriors, independent coordinates
    logvar = torch.full_like(mu, 2 * math.log(0.3))
    tcs = [tcvae_terms(sample(mu, logvar, g), mu, logvar, 400, 'mss')['tc'].item() for _ in range(5)]
    assert abs(sum(tcs) / 5) < 0.05


def test_half_precision_is_computed_in_float32():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(16, 3, generator=g), torch.randn(16, 3, generator=g) * 0.2
    z = sample(mu, logvar, g)
    t32 = tcvae_terms(z, mu, logvar, 100)
    t16 = tcvae_terms(z.bfloat16(), mu.bfloat16(), logvar.bfloat16(), 100)
    assert t16['tc'].dtype == torch.float32
    assert abs(t16['tc'].item() - t32['tc'].item()) < 0.2


def test_losses_and_gradients():
    torch.manual_seed(0)
    model = VAE(latent_dim=5, in_channels=1, image_size=32)
    x = torch.rand(64, 1, 32, 32)
    out = model(x)
    loss, logs = tcvae_loss(model, x, out, dataset_size=1000, alpha=1, beta=1, gamma=1)
    vae_loss, vae_logs = beta_vae_loss(model, x, out, beta=1)
    # alpha = beta = gamma = 1: recon + Monte Carlo KL, i.e. the plain VAE objective up to the KL's sampling noise
    mc = (log_density_gaussian(out.z, out.mu, out.logvar) - log_density_gaussian(out.z, 0 * out.z, 0 * out.z)).sum(1)
    assert torch.allclose(loss, logs['recon'] + mc.mean(), atol=1e-3)
    assert abs(loss.item() - vae_loss.item()) < 4 * mc.std().item() / math.sqrt(64) + 1e-3
    assert set(logs) >= {'loss', 'recon', 'mi', 'tc', 'dwkl', 'kl', 'dwkl_per_dim', 'kl_per_dim'}
    assert all(not v.requires_grad for v in logs.values())
    assert torch.allclose(vae_logs['kl'], logs['kl'])
    # beta weighs only the TC term
    loss6, logs6 = tcvae_loss(model, x, out, dataset_size=1000, beta=6)
    assert torch.allclose(loss6 - loss, 5 * logs['tc'], atol=1e-3)
    vae4, _ = beta_vae_loss(model, x, out, beta=4)
    assert torch.allclose(vae4 - vae_loss, 3 * vae_logs['kl'], atol=1e-3)
    loss6.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_errors():
    z = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"estimator must be one of \('mss', 'mws'\)"):
        tcvae_terms(z, z, z, 10, 'xyz')
    with pytest.raises(ValueError, match=r'must all have shape \[B, D\]'):
        tcvae_terms(z, z, torch.zeros(4, 2), 10)
    with pytest.raises(ValueError, match=r'must all have shape \[B, D\]'):
        tcvae_terms(torch.zeros(4), torch.zeros(4), torch.zeros(4), 10)
    with pytest.raises(TypeError, match='z must be a torch.Tensor'):
        tcvae_terms([[0.0]], z, z, 10)
    with pytest.raises(ValueError, match=r'dataset_size \(N=3\) must be at least the batch size \(B=4\)'):
        tcvae_terms(z, z, z, 3, 'mss')
    tcvae_terms(z, z, z, 3, 'mws')  # MWS does not need B <= N
    with pytest.raises(TypeError, match='dataset_size must be an int'):
        tcvae_terms(z, z, z, 10.0)
    with pytest.raises(ValueError, match='dataset_size must be at least 1'):
        tcvae_terms(z, z, z, 0, 'mws')
    with pytest.raises(ValueError, match='drop_last=True'):
        tcvae_terms(z[:1], z[:1], z[:1], 10)
    with pytest.raises(ValueError, match='batch_size must be at least 2'):
        mss_log_weights(1, 10)
    with pytest.raises(TypeError, match='batch_size must be an int'):
        mws_log_weights(4.0)
