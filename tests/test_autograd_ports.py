"""HIPS autograd's examples ported to xpgrad as an autograd user writes them: ``import numpy as
np`` where autograd's said ``import autograd.numpy as np`` (NumPy's functions dispatch on
Tensors), ``xg.grad`` for ``autograd.grad``, ``xg.special`` and ``xg.distributions`` for
``autograd.scipy``. Reduced sizes; each is checked against something independent of autograd
(finite differences in float64, a closed form, or the same program in PyTorch).
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")


def _torch(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)


# -- tanh.py: higher derivatives with elementwise_grad ------------------------------------------

def _tanh(x):
    return (1.0 - np.exp(-2 * x)) / (1.0 + np.exp(-(2 * x)))


def test_tanh_four_derivatives_match_their_closed_forms_and_torch():
    x = np.linspace(-4, 4, 41)
    egrad = xg.elementwise_grad
    got = [egrad(_tanh)(x), egrad(egrad(_tanh))(x), egrad(egrad(egrad(_tanh)))(x),
           egrad(egrad(egrad(egrad(_tanh))))(x)]
    t = np.tanh(x)
    s = 1 - t ** 2
    closed = [s, -2 * t * s, -2 * s * (1 - 3 * t ** 2), 8 * t * s * (2 - 3 * t ** 2)]
    xt = _torch(x)
    y, torch_derivatives = torch.tanh(xt), []
    for _ in range(4):
        (y,) = torch.autograd.grad(y.sum(), xt, create_graph=True)
        torch_derivatives.append(y.detach().numpy())
    for order, (g, want, theirs) in enumerate(zip(got, closed, torch_derivatives), 1):
        assert g.dtype == xg.float64, order
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-9, atol=1e-12, err_msg=order)
        np.testing.assert_allclose(g.numpy(), theirs, rtol=1e-9, atol=1e-12, err_msg=order)


# -- logistic_regression.py ------------------------------------------------------------------

INPUTS = np.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30],
                   [0.74, -2.49, 1.39]])
TARGETS = np.array([True, True, False, True])


def _training_loss(weights):
    preds = 0.5 * (np.tanh(np.dot(INPUTS, weights)) + 1)
    label_probabilities = preds * TARGETS + (1 - preds) * (1 - TARGETS)
    return -np.sum(np.log(label_probabilities))


def test_logistic_regression_trains_with_torchs_gradients():
    weights = np.array([0.0, 0.0, 0.0])
    check_grads(_training_loss, [weights + 0.3])
    training_gradient = xg.grad(_training_loss)
    w_torch = _torch(weights)
    opt = torch.optim.SGD([w_torch], lr=0.01)
    for _ in range(50):
        weights -= training_gradient(weights) * 0.01          # autograd's in-place NumPy step
        opt.zero_grad()
        preds = 0.5 * (torch.tanh(torch.tensor(INPUTS) @ w_torch) + 1)
        t = torch.tensor(TARGETS, dtype=torch.float64)
        (-torch.log(preds * t + (1 - preds) * (1 - t)).sum()).backward()
        opt.step()
    assert isinstance(weights, np.ndarray)
    np.testing.assert_allclose(weights, w_torch.detach().numpy(), rtol=1e-12)


# -- hmm_em.py: the E-step as the gradient of the log partition function -----------------------

def _log_partition(natural_params, data, logsumexp):
    log_pi, log_A, log_B = natural_params
    total = 0.0
    for sequence in data:
        log_alpha = log_pi
        for y in sequence:
            log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y]
        total = total + logsumexp(log_alpha, axis=0)
    return total


def test_hmm_expected_counts_match_torch():
    rng = np.random.RandomState(0)
    params = [rng.rand(3), rng.rand(3, 3), rng.rand(3, 5)]
    params = [np.log(p / p.sum(-1, keepdims=True)) for p in params]
    data = [rng.randint(0, 5, size=6), rng.randint(0, 5, size=4)]
    loglike, counts = xg.value_and_grad(_log_partition)(params, data, xg.special.logsumexp)
    theirs = [_torch(p) for p in params]
    value = _log_partition(theirs, data, torch.logsumexp)
    value.backward()
    np.testing.assert_allclose(loglike.item(), value.item(), rtol=1e-13)
    for ours, t in zip(counts, theirs):
        np.testing.assert_allclose(ours.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-14)
    # expected initial-state counts of each sequence sum to one: two sequences
    np.testing.assert_allclose(float(np.sum(counts[0])), 2.0, rtol=1e-12)


# -- gmm.py: ravel_pytree, MultivariateNormal and a Hessian-vector product --------------------

def _gmm_params():
    rng = np.random.RandomState(0)
    return {"log proportions": rng.randn(3) * 0.1, "means": rng.randn(3, 2),
            "lower triangles": np.zeros((3, 2, 2)) + np.eye(2) + 0.1 * rng.randn(3, 2, 2)}


GMM_DATA = np.random.RandomState(1).randn(20, 2)


def _gmm_negative_log_likelihood(params, mvn_log_prob, logsumexp, stack):
    log_proportions = params["log proportions"] - logsumexp(params["log proportions"], axis=0)
    cluster_lls = []
    for k in range(3):
        cov_sqrt = params["lower triangles"][k]
        cov = cov_sqrt.T @ cov_sqrt
        cluster_lls.append(log_proportions[k] + mvn_log_prob(params["means"][k], cov))
    return -logsumexp(stack(cluster_lls), axis=0).sum()


def _ours(params):
    return _gmm_negative_log_likelihood(
        params, lambda m, c: xg.distributions.MultivariateNormal(
            m, covariance_matrix=c).log_prob(GMM_DATA), xg.special.logsumexp, np.vstack)


def _theirs(params):
    return _gmm_negative_log_likelihood(
        params, lambda m, c: torch.distributions.MultivariateNormal(
            m, covariance_matrix=c).log_prob(torch.tensor(GMM_DATA)), torch.logsumexp,
        torch.stack)


def test_gmm_flattened_gradient_and_hessian_vector_product_match_torch():
    params = _gmm_params()
    flat, unravel = xg.ravel_pytree(params)
    objective = lambda v: _ours(unravel(v))
    v = np.linspace(-1, 1, flat.shape[0])
    value, product = xg.hvp(objective, flat, v)
    gradient = xg.grad(objective)(flat)
    keys = list(params)
    torch_flat = torch.cat([torch.tensor(params[k]).reshape(-1) for k in keys])
    sizes = [params[k].size for k in keys]

    def torch_objective(vec):
        pieces = torch.split(vec, sizes)
        return _theirs({k: p.reshape(params[k].shape) for k, p in zip(keys, pieces)})

    want_value, want_product = torch.autograd.functional.hvp(torch_objective, torch_flat,
                                                             torch.tensor(v))
    want_gradient = torch.autograd.functional.jacobian(torch_objective, torch_flat)
    np.testing.assert_allclose(value.item(), want_value.item(), rtol=1e-12)
    np.testing.assert_allclose(gradient.numpy(), want_gradient.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(product.numpy(), want_product.numpy(), rtol=1e-9, atol=1e-10)


# -- fluidsim.py: np.roll, advection by indexing, in-place updates, many steps ------------------

def _project(vx, vy):
    p = np.zeros(vx.shape)
    h = 1.0 / vx.shape[0]
    div = -0.5 * h * (np.roll(vx, -1, axis=0) - np.roll(vx, 1, axis=0)
                      + np.roll(vy, -1, axis=1) - np.roll(vy, 1, axis=1))
    for _ in range(4):
        p = (div + np.roll(p, 1, axis=0) + np.roll(p, -1, axis=0) + np.roll(p, 1, axis=1)
             + np.roll(p, -1, axis=1)) / 4.0
    vx -= 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
    vy -= 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
    return vx, vy


def _advect(f, vx, vy):
    rows, cols = f.shape
    cell_ys, cell_xs = np.meshgrid(np.arange(rows), np.arange(cols))
    center_xs = (cell_xs - vx).ravel()
    center_ys = (cell_ys - vy).ravel()
    left_ix = np.floor(center_xs).astype(int)
    top_ix = np.floor(center_ys).astype(int)
    rw = center_xs - left_ix
    bw = center_ys - top_ix
    left_ix = np.mod(left_ix, rows)
    right_ix = np.mod(left_ix + 1, rows)
    top_ix = np.mod(top_ix, cols)
    bot_ix = np.mod(top_ix + 1, cols)
    flat_f = (1 - rw) * ((1 - bw) * f[left_ix, top_ix] + bw * f[left_ix, bot_ix]) \
        + rw * ((1 - bw) * f[right_ix, top_ix] + bw * f[right_ix, bot_ix])
    return np.reshape(flat_f, (rows, cols))


def _fluid_objective(params, smoke, target, steps=6):
    n = smoke.shape[0]
    vx, vy = np.reshape(params[:n * n], (n, n)), np.reshape(params[n * n:], (n, n))
    for _ in range(steps):
        vx_updated, vy_updated = _advect(vx, vx, vy), _advect(vy, vx, vy)
        vx, vy = _project(vx_updated, vy_updated)
        smoke = _advect(smoke, vx, vy)
    return np.mean((target - smoke) ** 2)


def test_fluid_simulation_gradient_matches_finite_differences():
    n = 6
    yy, xx = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n))
    smoke = np.exp(-4 * (xx ** 2 + (yy + 0.4) ** 2))
    target = np.exp(-4 * ((xx - 0.3) ** 2 + (yy - 0.3) ** 2))
    # velocities well inside cells, so no finite-difference step crosses a floor()
    params = 0.3 + 0.2 * np.sin(np.arange(2 * n * n) * 0.7)
    value, gradient = xg.value_and_grad(_fluid_objective)(params, smoke, target)
    assert gradient.dtype == xg.float64 and gradient.shape == params.shape
    np.testing.assert_allclose(value.item(), _fluid_objective(params, smoke, target),
                               rtol=1e-14)
    check_grads(lambda p: _fluid_objective(p, smoke, target), [params], eps=1e-7, rtol=1e-6,
                atol=1e-9)


# -- define_gradient.py: a custom rule (autograd's @primitive + defvjp) -------------------------

def _logsumexp(x):
    max_x = np.max(x)
    return max_x + np.log(np.sum(np.exp(x - max_x)))


def _logsumexp_vjp(ans, x):
    return lambda g: xg.full(x.shape, g) * np.exp(x - xg.full(x.shape, ans))


logsumexp_with_rule = xg.custom_vjp(_logsumexp)
logsumexp_with_rule.defvjp(lambda x: (_logsumexp(x), (_logsumexp(x), x)),
                           lambda saved, g: (_logsumexp_vjp(*saved)(g),))


def test_custom_rule_gives_softmax_and_differentiates_again():
    y = np.random.RandomState(0).randn(10)
    example = lambda v: np.sum(logsumexp_with_rule(v ** 2))
    gradient = xg.grad(example)(y)
    softmax = np.exp(y ** 2 - _logsumexp(y ** 2))
    np.testing.assert_allclose(gradient.numpy(), 2 * y * softmax, rtol=1e-13)
    second = xg.grad(lambda v: np.sum(xg.grad(example)(v) ** 2))(y)
    yt = _torch(y)
    (g,) = torch.autograd.grad(torch.logsumexp(yt ** 2, 0), yt, create_graph=True)
    (want,) = torch.autograd.grad((g ** 2).sum(), yt)
    np.testing.assert_allclose(second.numpy(), want.numpy(), rtol=1e-12)
