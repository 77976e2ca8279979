"""Gradients where PyTorch's rule picks a side: hardtanh/relu6 at NaN (0, PyTorch's vectorized
loop), and the second derivative of elu/selu/celu at exactly 0 (0, the x > 0 side), on every
host backend; also checked against finite differences away from the kink.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
F = torch.nn.functional

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]

CLIPS = {
    "hardtanh": (xg.nn.hardtanh, F.hardtanh),
    "hardtanh_range": (lambda x: xg.nn.hardtanh(x, min_val=-0.5, max_val=2.0),
                       lambda x: F.hardtanh(x, -0.5, 2.0)),
    "relu6": (xg.nn.relu6, F.relu6),
}


def _clip_input(dtype):
    """64 entries (a whole number of PyTorch's SIMD chunks: none in its scalar tail), NaN at
    several places among values inside, outside and on the edges."""
    pattern = [math.nan, 0.5, -5.0, 7.0, -1.0, 1.0, 0.0, 6.0]
    return np.array(pattern * 8, dtype)


def _weighted_gradients(ours, theirs, data, backend):
    """The gradients of ``sum(f(x) * weights)`` at ``data``, xpgrad's and PyTorch's, as NumPy
    arrays, and the weights (a ramp from 0.5 to 1.5: every entry its own)."""
    weights = np.linspace(0.5, 1.5, data.size).astype(data.dtype)
    x = xg.asarray(data, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        total = xg.sum(ours(x) * xg.asarray(weights, backend=backend))
    t = torch.tensor(data, requires_grad=True)
    (want,) = torch.autograd.grad((theirs(t) * torch.tensor(weights)).sum(), t)
    return tape.gradient(total, x).numpy(), want.numpy(), weights


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_clip_gradient_at_nan_is_zero_as_torch(name, dtype, backend):
    data = _clip_input(dtype)
    got, want, _ = _weighted_gradients(*CLIPS[name], data, backend)
    np.testing.assert_array_equal(got, want)
    assert not got[np.isnan(data)].any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_clip_kernel_in_place_gradient_at_nan_is_zero(backend):
    """The in-place backward (a gradient no one else holds) is the same loop's: 0 at NaN."""
    x = xg.asarray(_clip_input(np.float32), backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        total = xg.sum(xg.nn.relu6(x * 1.0) * 2.0)
    got = tape.gradient(total, x).numpy()
    inside = (x.numpy() > 0) & (x.numpy() < 6)
    np.testing.assert_array_equal(got, np.where(inside, 2.0, 0.0))


ELUS = {
    "elu": (xg.nn.elu, F.elu),
    "elu_alpha": (lambda x: xg.nn.elu(x, alpha=0.3), lambda x: F.elu(x, alpha=0.3)),
    "elu_negative_alpha": (lambda x: xg.nn.elu(x, alpha=-0.5), lambda x: F.elu(x, alpha=-0.5)),
    "selu": (xg.nn.selu, F.selu),
    "celu": (xg.nn.celu, F.celu),
    "celu_alpha": (lambda x: xg.nn.celu(x, alpha=2.5), lambda x: F.celu(x, alpha=2.5)),
}

POINTS = [0.0, -0.0, 1e-30, -1e-30, -0.7, 0.7, math.nan]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ELUS))
def test_elu_gradient_at_nan_and_infinities_matches_torch(name, dtype, backend):
    """The first derivative at +inf, the limit 0 at -inf and past exp's underflow, over more
    entries than one block of the NumPy kernel's backward; at NaN the x > 0 side's (the
    generic rule's select; PyTorch's elu and selu too, its celu gives NaN)."""
    edges = [math.nan, -math.inf, math.inf, 0.0, -0.0, -200.0, 3.0, -0.7]
    data = np.concatenate([np.array(edges * 4), np.linspace(-6, 6, 40000)]).astype(dtype)
    got, want, weights = _weighted_gradients(*ELUS[name], data, backend)
    nan = np.isnan(data)
    np.testing.assert_allclose(got[~nan], want[~nan], atol=0,
                               rtol=4e-7 if dtype == np.float32 else 1e-15)
    positive_slope = want[6] / weights[6]                         # at x = 3
    np.testing.assert_allclose(got[nan], weights[nan] * positive_slope, rtol=1e-6)


def _second_derivatives(fn, data, backend):
    x = xg.asarray(data, backend=backend)
    first = xg.grad(lambda v: xg.sum(fn(v)))
    return xg.grad(lambda v: xg.sum(first(v)))(x).numpy()


def _torch_second_derivatives(fn, data):
    t = torch.tensor(data, requires_grad=True)
    (g,) = torch.autograd.grad(fn(t).sum(), t, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), t)
    return gg.numpy()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ELUS))
def test_elu_second_derivative_matches_torch_at_zero(name, dtype, backend):
    ours, theirs = ELUS[name]
    data = np.array(POINTS, dtype)
    got = _second_derivatives(ours, data, backend)
    want = _torch_second_derivatives(theirs, data)
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert got[0] == 0.0 and got[1] == 0.0


@pytest.mark.parametrize("name", sorted(ELUS))
def test_elu_second_derivative_matches_finite_differences_off_zero(name):
    ours, _ = ELUS[name]
    x = xg.asarray(np.array([-2.0, -0.3, 0.4, 1.5]))
    check_grads(lambda v: ours(v), (x,), order=2)
