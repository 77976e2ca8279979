"""``sigmoid_cross_entropy_with_logits`` with ``pos_weight=`` or ``weight=`` far out: PyTorch's
form ``(1 - t) x + lw softplus(-x)`` differentiates to ``(1 - t) - lw sigmoid(-x)``, which
cancels for a negative class at negative logits (0 below x = -17 in float32, -37 in float64;
the second derivative 0 too). xpgrad's ``(1 - t) softplus(x) + pw t softplus(-x)`` has the
same values; here its gradients are checked in relative terms against mpmath, on every
backend, and all of its inputs' gradients against PyTorch's."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

mp = pytest.importorskip("mpmath")

BACKENDS = ["numpy", "numba"]
OPTIONS = {"pos_weight": (3.0, None), "weight": (None, 0.5), "both": (3.0, 0.5)}
LOGITS = {  # down to where sigmoid(x) is still a normal number
    xg.float32: [-87.0, -40.0, -20.0, -12.0, -9.0, -1.0, 0.0, 1.0, 9.0, 12.0, 20.0, 40.0, 87.0],
    xg.float64: [-700.0, -300.0, -80.0, -40.0, -12.0, 0.0, 12.0, 40.0, 80.0, 300.0, 700.0],
}
RTOL = {xg.float32: 1e-6, xg.float64: 1e-14}


def _loss(x, t, option):
    pos_weight, weight = OPTIONS[option]
    return xg.losses.sigmoid_cross_entropy_with_logits(
        x, xg.full_like(x, t), reduction="sum", pos_weight=pos_weight,
        weight=None if weight is None else xg.full_like(x, weight))


def _exact(points, t, option, order):
    """The loss (order 0) or its derivatives, ``w ((1 - t) softplus(x) + pw t softplus(-x))``,
    at 50 digits."""
    pos_weight, weight = OPTIONS[option]
    pw, w = pos_weight or 1.0, weight or 1.0
    out = []
    with mp.workdps(50):
        for x in map(mp.mpf, points):
            s, c = 1 / (1 + mp.exp(-x)), 1 / (1 + mp.exp(x))          # sigmoid(x), sigmoid(-x)
            value = [(1 - t) * mp.log1p(mp.exp(x)) + pw * t * mp.log1p(mp.exp(-x)),
                     (1 - t) * s - pw * t * c, ((1 - t) + pw * t) * s * c][order]
            out.append(float(w * value))
    return np.array(out)


@pytest.mark.parametrize("t", [0.0, 1.0, 0.3])
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("dtype", [xg.float32, xg.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_is_accurate_in_relative_terms_far_out(backend, dtype, option, t):
    points = LOGITS[dtype]
    x = xg.asarray(points, dtype=dtype, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = _loss(x, t, option)
    grad = tape.gradient(loss, x)
    assert grad.dtype == dtype and grad.backend.name == backend
    np.testing.assert_allclose(grad.numpy().astype(np.float64), _exact(points, t, option, 1),
                               rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("dtype", [xg.float32, xg.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_values_far_out(backend, dtype, option):
    """Where PyTorch's ``-700 + (700 + 1e-304)`` gives 0, the value too is exact."""
    points = LOGITS[dtype]
    for t in (0.0, 1.0, 0.3):
        x = xg.asarray(points, dtype=dtype, backend=backend)
        per = xg.losses.sigmoid_cross_entropy_with_logits(
            x, xg.full_like(x, t), reduction="none", pos_weight=OPTIONS[option][0],
            weight=OPTIONS[option][1])
        np.testing.assert_allclose(per.numpy().astype(np.float64), _exact(points, t, option, 0),
                                   rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("t", [0.0, 1.0, 0.3])
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_second_derivative_is_accurate_far_out(backend, option, t):
    points = [-700.0, -80.0, -20.0, -1.0, 0.0, 1.0, 20.0, 80.0, 700.0]
    x = xg.asarray(points, dtype=xg.float64, backend=backend)
    first = xg.grad(lambda u: _loss(u, t, option))
    second = xg.grad(lambda u: xg.sum(first(u)))(x)
    np.testing.assert_allclose(second.numpy(), _exact(points, t, option, 2), rtol=1e-12, atol=0)


def test_the_probe_that_found_it():
    """x = [-20, -12, -9], targets 0, pos_weight 3, float32: the gradient is sigmoid(x), where
    it was [0, 6.139e-06, 1.2338e-04]."""
    for backend in BACKENDS:
        x = xg.asarray(np.array([-20.0, -12.0, -9.0], np.float32), backend=backend)
        grad = xg.grad(lambda u: xg.losses.sigmoid_cross_entropy_with_logits(
            u, xg.zeros(3, backend=backend), reduction="sum", pos_weight=3.0))(x)
        np.testing.assert_allclose(grad.numpy(), 1 / (1 + np.exp([20.0, 12.0, 9.0])), rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_input_gradient_matches_pytorch(backend, reduction):
    """Logits, targets, pos_weight and weight all watched, first and second order (PyTorch's
    gives none for either weight: the reference is its formula, written out)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x0, t0 = rng.normal(0, 3, (4, 3)), rng.uniform(0, 1, (4, 3))
    pw0, w0 = rng.uniform(0.5, 4.0, 3), rng.uniform(0.1, 2.0, (4, 1))
    cot0 = rng.normal(size=(4, 3)) if reduction == "none" else np.array(1.7)
    ours = [xg.asarray(a, backend=backend) for a in (x0, t0, pw0, w0)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x0, t0, pw0, w0)]
    with xg.GradientTape(persistent=True) as outer:
        outer.watch(ours)
        with xg.GradientTape() as tape:
            tape.watch(ours)
            loss = xg.losses.sigmoid_cross_entropy_with_logits(
                ours[0], ours[1], reduction=reduction, pos_weight=ours[2], weight=ours[3])
            total = xg.sum(loss * xg.asarray(cot0, backend=backend))
        grads = tape.gradient(total, ours)
        gx_sum = xg.sum(grads[0] * grads[0])
    # PyTorch's differentiates neither weight: its formula, written out, checked against it
    x, t, pw, w = theirs
    per = ((1 - t) * x + (1 + (pw - 1) * t) * (torch.log1p(torch.exp(-x.abs())) + (-x).relu())) * w
    expected = {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]
    np.testing.assert_allclose(expected.detach().numpy(),
                               torch.nn.functional.binary_cross_entropy_with_logits(
                                   *(a.detach() for a in theirs[:2]), reduction=reduction,
                                   pos_weight=theirs[2].detach(),
                                   weight=theirs[3].detach()).numpy(), rtol=1e-13)
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12)
    expected_grads = torch.autograd.grad((expected * torch.tensor(cot0)).sum(), theirs,
                                         create_graph=True)
    for ours_g, theirs_g in zip(grads, expected_grads):
        np.testing.assert_allclose(ours_g.numpy(), theirs_g.detach().numpy(), rtol=1e-11,
                                   atol=1e-13)
    expected_second = torch.autograd.grad((expected_grads[0] ** 2).sum(), theirs)
    for ours_g, theirs_g in zip(outer.gradient(gx_sum, ours), expected_second):
        np.testing.assert_allclose(ours_g.numpy(), theirs_g.numpy(), rtol=1e-11, atol=1e-13)
