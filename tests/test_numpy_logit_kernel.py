"""``xg.special.logit``'s NumPy kernel (``backends/numpy/special_more.py``) against the generic
rule (``xpgrad.ops.special._logit``, the forward run on the generic path): float64 the same
values (the rule's two branches, each on its own entries), float32 within one ulp of them
(``log(p / (1 - p))`` in float64, rounded once) and against mpmath; edges (0, 1, outside
[0, 1], NaN, 0-d, empty) as the rule's; gradients against PyTorch and finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.special_more import KERNELS
from xpgrad.ops.special import _logit_prim
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
mp = pytest.importorskip("mpmath")
pytestmark = pytest.mark.usefixtures("numpy_default")     # the NumPy backend's kernel

KERNEL = KERNELS["special_logit"]
_EDGES = [0.0, -0.0, 1.0, 0.5, 0.3, 0.7, 0.29999, 0.70001, 1e-30, 1.0 - 2.0 ** -24,
          0.5 + 2.0 ** -24, 0.5 - 2.0 ** -25, -0.5, 1.5, np.inf, -np.inf, np.nan]


def _generic(p):
    with np.errstate(all="ignore"):
        return _logit_prim.forward(np, p)


def _points(dtype, count=200000):
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0.0, 1.0, count), 0.5 + rng.uniform(-1e-4, 1e-4, 2000),
                        10.0 ** rng.uniform(-40, 0, 2000), 1.0 - 10.0 ** rng.uniform(-8, 0, 2000),
                        _EDGES])
    return p.astype(dtype)


def test_float64_is_the_generic_rule():
    p = _points(np.float64)
    out, _ = KERNEL.forward(p)
    np.testing.assert_array_equal(out, _generic(p))


def test_float32_within_an_ulp_of_the_generic_rule_mostly_equal():
    p = _points(np.float32)
    out, _ = KERNEL.forward(p)
    want = _generic(p)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(out[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    ulps = np.abs(out[finite] - want[finite]) / np.spacing(np.abs(want[finite]))
    assert ulps.max() <= 1.0
    assert (ulps == 0).mean() > 0.999


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_against_mpmath(dtype):
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(0.0, 1.0, 300), 0.5 + rng.uniform(-1e-6, 1e-6, 100),
                        [1e-300 if dtype == np.float64 else 1e-40, 0.5 + 2.0 ** -24]]).astype(dtype)
    out, _ = KERNEL.forward(p)
    mp.mp.dps = 40
    for pi, oi in zip(p, out):
        exact = mp.log(mp.mpf(float(pi)) / (1 - mp.mpf(float(pi))))
        assert abs(oi - exact) <= 1.01 * np.spacing(np.abs(dtype(float(exact)))), pi


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_as_the_rule_and_torch(dtype):
    p = np.asarray(_EDGES, dtype)
    got = xg.special.logit(xg.asarray(p)).numpy()
    np.testing.assert_allclose(got, _generic(p), rtol=np.finfo(dtype).eps, atol=0, equal_nan=True)
    # PyTorch's log(p / (1 - p)) in the input's dtype is off by its rounding next to 1/2
    # (float32 1/2 - 2**-25: -5.96e-8 for -1.19e-7): absolutely, within an eps
    want = torch.special.logit(torch.from_numpy(p)).numpy()
    np.testing.assert_allclose(got, want, rtol=8 * np.finfo(dtype).eps, atol=np.finfo(dtype).eps,
                               equal_nan=True)
    assert got[0] == -np.inf and got[2] == np.inf and got[3] == 0.0
    assert np.isnan(got[-5:]).all()                   # outside [0, 1], and NaN


def test_zero_d_empty_and_declines():
    out, _ = KERNEL.forward(np.array(0.3, np.float32))
    assert out.__class__ is np.ndarray and out.shape == () and out.dtype == np.float32
    assert KERNEL.forward(np.zeros((0, 3)))[0].shape == (0, 3)
    assert KERNEL.forward(np.float16([0.5])) is None
    with pytest.raises(TypeError, match="logit: p must be real"):
        xg.special.logit(xg.asarray([0.5j]))
    with pytest.raises(ValueError, match="logit: eps must be a number"):
        xg.special.logit(xg.asarray([0.5]), eps=0.7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_match_torch(dtype):
    rng = np.random.default_rng(2)
    p = rng.uniform(0.01, 0.99, (64, 50)).astype(dtype)
    g = rng.normal(size=p.shape).astype(dtype)
    pt = xg.asarray(p)
    with xg.GradientTape() as tape:
        tape.watch(pt)
        y = xg.special.logit(pt)
    got = tape.gradient(y, pt, output_gradients=xg.asarray(g)).numpy()
    tp = torch.tensor(p, requires_grad=True)
    torch.special.logit(tp).backward(torch.tensor(g))
    np.testing.assert_allclose(got, tp.grad.numpy(), rtol=8 * np.finfo(dtype).eps, atol=0)
    np.testing.assert_allclose(y.numpy(), torch.special.logit(torch.tensor(p)).numpy(),
                               rtol=8 * np.finfo(dtype).eps, atol=1e-7)


def test_gradients_against_finite_differences():
    p = xg.asarray(np.array([0.02, 0.31, 0.5, 0.69, 0.71, 0.97]))
    check_grads(xg.special.logit, [p], order=2)
    check_grads(lambda q: xg.special.logit(q * q), [p], order=1)
