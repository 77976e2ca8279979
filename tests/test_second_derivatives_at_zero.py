"""Second derivatives of the sigmoid- and erfc-based rules at exactly 0 (and next to it, and far
out): the shared formulas split at 0 for stability, and a rule that calls them is differentiated
again by an outer tape, so the split must not leave a kink. ``exp(-abs(x))`` did (abs'(0) = 0):
sigmoid'(0) came out 0 in every second derivative that went through it, and the Hessian of a
logistic regression at w = 0 was all zeros. References: PyTorch's double backward and mpmath's
derivatives of the textbook functions, in float64 on every backend."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
mp = pytest.importorskip("mpmath")
F = torch.nn.functional

BACKENDS = ["numpy", "numba"]
NEAR = [0.0, 1e-8, -1e-8, 1.0, -3.0]           # where PyTorch's double backward is exact
FAR = [30.0, -30.0, 80.0, -80.0]                # where it loses digits (1 - sigmoid(30)): mpmath
# sigmoid's rule reads its output, s (1 - s), and mish's 1 - tanh(softplus(x))**2, as PyTorch's
# do: far right both cancel (1e-3 off at x = 30, 0 beyond 37), first derivatives included
POSITIVE_TAIL_AS_PYTORCH = ("sigmoid", "mish")
T = 0.3                                         # a target between the two classes


def _sp(x):
    return mp.log1p(mp.exp(x))


def _sig(x):
    return 1 / (1 + mp.exp(-x))


def _tanh_gelu(x):
    u = mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x ** 3)
    return x * _sig(2 * u)


def _bce(xg_kw, torch_kw, pw, w):
    """The loss with targets T as (xpgrad, torch, mpmath) functions of the logits."""
    def ours(x):
        return xg.losses.sigmoid_cross_entropy_with_logits(x, xg.full_like(x, T),
                                                           reduction="sum", **xg_kw(x))

    def theirs(x):
        return F.binary_cross_entropy_with_logits(x, torch.full_like(x, T), reduction="sum",
                                                  **torch_kw(x))

    return ours, theirs, lambda x: w * ((1 - T) * _sp(x) + pw * T * _sp(-x))


# name: (xpgrad's, PyTorch's, mpmath's) elementwise function
FUNCTIONS = {
    "sigmoid": (xg.nn.sigmoid, torch.sigmoid, _sig),
    "log_sigmoid": (xg.nn.log_sigmoid, F.logsigmoid, lambda x: -_sp(-x)),
    "softplus": (xg.nn.softplus, F.softplus, _sp),
    "softplus_beta": (lambda x: xg.nn.softplus(x, beta=2.0),
                      lambda x: F.softplus(x, beta=2.0, threshold=1e9), lambda x: _sp(2 * x) / 2),
    "silu": (xg.nn.silu, F.silu, lambda x: x * _sig(x)),
    "mish": (xg.nn.mish, F.mish, lambda x: x * mp.tanh(_sp(x))),
    "gelu": (xg.nn.gelu, F.gelu, lambda x: x * mp.erfc(-x / mp.sqrt(2)) / 2),
    "gelu_tanh": (lambda x: xg.nn.gelu(x, approximate="tanh"),
                  lambda x: F.gelu(x, approximate="tanh"), _tanh_gelu),
    "sigmoid_mse": (lambda x: xg.losses.sigmoid_mse(x, xg.full_like(x, T), reduction="sum"),
                    lambda x: ((torch.sigmoid(x) - T) ** 2).sum(), lambda x: (_sig(x) - T) ** 2),
    "sigmoid_cross_entropy": _bce(lambda x: {}, lambda x: {}, 1, 1),
    "sigmoid_cross_entropy_pos_weight": _bce(
        lambda x: {"pos_weight": 3.0}, lambda x: {"pos_weight": torch.tensor(3.0)}, 3, 1),
    "sigmoid_cross_entropy_weight": _bce(
        lambda x: {"weight": xg.full_like(x, 0.5)}, lambda x: {"weight": torch.full_like(x, 0.5)},
        1, 0.5),
    "sigmoid_cross_entropy_both": _bce(
        lambda x: {"pos_weight": 3.0, "weight": 0.5},
        lambda x: {"pos_weight": torch.tensor(3.0), "weight": torch.tensor(0.5)}, 3, 0.5),
}


def _second(f, x0, backend, dtype=xg.float64):
    """d^2/dx^2 of ``f`` at each entry of ``x0`` (``f`` is elementwise or a sum of such)."""
    x = xg.asarray(np.asarray(x0), dtype=dtype, backend=backend)
    first = xg.grad(lambda u: xg.sum(f(u)))
    out = xg.grad(lambda u: xg.sum(first(u)))(x)
    assert out.dtype == dtype and out.backend.name == backend
    return out.numpy().astype(np.float64)


@functools.lru_cache(maxsize=None)
def _mp_second(name, points):
    """mpmath's second derivative of ``FUNCTIONS[name]`` at ``points``, by its numerical
    differentiation at 300 digits (40 are not enough far out: softplus(60) is 60 + 9e-27)."""
    exact = FUNCTIONS[name][2]
    with mp.workdps(300):
        return np.array([float(mp.diff(exact, mp.mpf(p), 2)) for p in points])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_second_derivative_at_and_near_zero_matches_pytorch(name, backend):
    ours, theirs, _ = FUNCTIONS[name]
    x = torch.tensor(NEAR, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(theirs(x).sum(), x, create_graph=True)
    (expected,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(_second(ours, NEAR, backend), expected.numpy(), rtol=1e-10,
                               atol=1e-300)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_second_derivative_matches_mpmath_near_and_far(name, backend):
    """Near 0 within 1e-16 absolute (sigmoid'' = s' (1 - 2 s) is 1e-9 at x = 1e-8, and
    1 - 2 s cancels), far out in relative terms down to 1e-35 (x = 80)."""
    far = tuple(p for p in FAR if p < 20 or name not in POSITIVE_TAIL_AS_PYTORCH)
    for points, atol in ((tuple(NEAR), 1e-16), (far, 1e-300)):
        np.testing.assert_allclose(_second(FUNCTIONS[name][0], points, backend),
                                   _mp_second(name, points), rtol=1e-9, atol=atol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_second_derivative_at_zero_in_float32(name, backend):
    points = (0.0, -0.0, 1e-8, -1e-8)
    np.testing.assert_allclose(_second(FUNCTIONS[name][0], points, backend, xg.float32),
                               _mp_second(name, points), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", [xg.float64, xg.float32])
@pytest.mark.parametrize("backend", BACKENDS)
def test_logistic_regression_hessian_at_zero_weights(backend, dtype):
    """At w = 0 every logit is 0 and the Hessian of the summed cross-entropy is
    sigmoid'(0) X^T X = X^T X / 4 (it was all zeros)."""
    X = np.random.default_rng(0).normal(size=(8, 3))
    y = (np.arange(8) % 2).astype(float)
    Xt = xg.asarray(X, dtype=dtype, backend=backend)
    yt = xg.asarray(y, dtype=dtype, backend=backend)

    def loss(w):
        return xg.losses.sigmoid_cross_entropy_with_logits(Xt @ w, yt, reduction="sum")

    hessian = xg.hessian(loss)(xg.zeros(3, dtype=dtype, backend=backend)).numpy()
    expected = torch.autograd.functional.hessian(
        lambda w: F.binary_cross_entropy_with_logits(torch.tensor(X) @ w, torch.tensor(y),
                                                     reduction="sum"),
        torch.zeros(3, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(expected, 0.25 * X.T @ X, rtol=1e-14)
    rtol = 1e-12 if dtype == xg.float64 else 1e-5
    np.testing.assert_allclose(hessian, 0.25 * X.T @ X, rtol=rtol, atol=rtol)


# -- the recurrent scans' rules recompute their gates with the same sigmoid ----------------------
def _lstm_torch(xproj, h0, c0, w_hh):
    H, (h, c), out = h0.shape[-1], (h0, c0), []
    for t in range(xproj.shape[1]):
        z = xproj[:, t] + h @ w_hh
        i, f = torch.sigmoid(z[:, :H]), torch.sigmoid(z[:, H:2 * H])
        g, o = torch.tanh(z[:, 2 * H:3 * H]), torch.sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * torch.tanh(c)
        out.append(torch.cat([h, c], dim=-1))
    return torch.stack(out, dim=1)


def _gru_torch(xproj, h0, w_hh, b_hn):
    H, h, out = h0.shape[-1], h0, []
    for t in range(xproj.shape[1]):
        a, x_t = h @ w_hh, xproj[:, t]
        r = torch.sigmoid(x_t[:, :H] + a[:, :H])
        z = torch.sigmoid(x_t[:, H:2 * H] + a[:, H:2 * H])
        n = torch.tanh(x_t[:, 2 * H:] + r * (a[:, 2 * H:] + b_hn))
        h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_scan_hessian_vector_product_at_zero_preactivations(cell, backend):
    """xproj = 0 and w_hh = 0: every gate's pre-activation is exactly 0."""
    rng = np.random.default_rng(3)
    B, steps, H = 2, 3, 2
    G = 4 if cell == "lstm" else 3
    xproj0, w0 = np.zeros((B, steps, G * H)), np.zeros((H, G * H))
    h00, c00, b0 = rng.normal(size=(B, H)), rng.normal(size=(B, H)), np.zeros(H)
    cot0 = rng.normal(size=(B, steps, (2 if cell == "lstm" else 1) * H))
    v0 = rng.normal(size=xproj0.shape)

    def ours(xproj):
        h0, c0, w = (xg.asarray(a, backend=backend) for a in (h00, c00, w0))
        seq = (xg.nn.lstm_scan(xproj, h0, c0, w) if cell == "lstm"
               else xg.nn.gru_scan(xproj, h0, w, xg.asarray(b0, backend=backend)))
        return xg.sum(seq * xg.asarray(cot0, backend=backend))

    def theirs(xproj):
        h0, c0, w, b = (torch.tensor(a) for a in (h00, c00, w0, b0))
        seq = _lstm_torch(xproj, h0, c0, w) if cell == "lstm" else _gru_torch(xproj, h0, w, b)
        return (seq * torch.tensor(cot0)).sum()

    x = xg.asarray(xproj0, backend=backend)
    np.testing.assert_allclose(ours(x).item(), theirs(torch.tensor(xproj0)).item(), rtol=1e-14)
    _, hvp = xg.hvp(ours, x, xg.asarray(v0, backend=backend))
    _, expected = torch.autograd.functional.hvp(theirs, torch.tensor(xproj0), torch.tensor(v0))
    assert np.abs(expected.numpy()).max() > 0.1          # the zero preactivations matter
    np.testing.assert_allclose(hvp.numpy(), expected.numpy(), rtol=1e-12, atol=1e-14)


def test_formulas_magnitude_is_abs_differentiated_as_the_nonnegative_side():
    """On Tensors (a rule an outer tape records) |x| and max(x, 0) have the x >= 0 side's
    derivative at 0; on raw arrays they are abs and maximum themselves."""
    from xpgrad.ops import formulas

    x = xg.asarray([-2.0, 0.0, 3.0], dtype=xg.float64)
    assert formulas.magnitude(xg, x).tolist() == [2.0, 0.0, 3.0]
    assert formulas.positive_part(xg, x).tolist() == [0.0, 0.0, 3.0]
    assert xg.grad(lambda u: xg.sum(formulas.magnitude(xg, u)))(x).tolist() == [-1.0, 1.0, 1.0]
    assert xg.grad(lambda u: xg.sum(formulas.positive_part(xg, u)))(x).tolist() == [0.0, 1.0, 1.0]
    assert xg.grad(lambda u: xg.sum(formulas.sigmoid(xg, u)))(x).tolist()[1] == 0.25
    raw = np.array([-2.0, -0.0, 3.0])
    assert np.array_equal(formulas.magnitude(np, raw), np.abs(raw))
    assert np.signbit(formulas.positive_part(np, raw)[1]) == np.signbit(np.maximum(-0.0, 0.0))
