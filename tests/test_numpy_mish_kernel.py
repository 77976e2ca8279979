"""The NumPy backend's mish kernel (``backends/numpy/mish.py``: ``x n / (n + 2)``, ``n = w (w +
2)``, ``w = exp(x)``, the derivative kept by a taped forward): float32 values and gradients
against PyTorch in float64, float64 against the rule, PyTorch and finite differences, the edges
(infinities, signed zeros, NaN, underflow, the cap at 30) as the generic rule's, the untaped
value and the in-place vjp equal to the taped ones."""
from __future__ import annotations

import numpy as np
import pytest

import array_api_compat.numpy as npx
import xpgrad as xg
from xpgrad.primitive import PRIMITIVES

torch = pytest.importorskip("torch")

KERNEL = xg.get_backend("numpy").kernels["mish"]
MISH = PRIMITIVES["mish"]


def _torch_mish(x):
    t = torch.tensor(x.astype(np.float64), requires_grad=True)
    y = torch.nn.functional.mish(t)
    y.sum().backward()
    return y.detach().numpy(), t.grad.numpy()


def test_float32_values_and_gradients_against_the_exact_ones():
    x = np.concatenate([np.linspace(-90, 40, 200001),
                        np.random.default_rng(0).normal(size=50000) * 4]).astype(np.float32)
    y, slope = KERNEL.forward(x)
    want, want_grad = _torch_mish(x)
    normal = np.abs(want) > np.finfo(np.float32).tiny
    ulps = np.abs(y - want)[normal] / np.spacing(np.abs(want[normal]).astype(np.float32))
    assert (ulps / (1 + np.abs(x[normal]))).max() <= 3     # exp's argument, |x| times
    assert ulps[np.abs(x[normal]) < 4].max() <= 5
    # the derivative crosses 0 near -1.19: absolute, within 2 float32 roundings of 1 (the
    # generic float32 rule is 8 off: 1 - t**2 cancels)
    assert np.abs(KERNEL.vjp(np.ones_like(x), slope, x)[0] - want_grad).max() \
        <= 2 * np.finfo(np.float32).eps


def test_float64_against_the_rule_torch_and_finite_differences():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=3000) * 6, np.linspace(-40, 40, 801)])
    g = rng.normal(size=x.shape)
    y, slope = KERNEL.forward(x)
    want, want_grad = _torch_mish(x)
    np.testing.assert_allclose(y, MISH.forward(npx, x), rtol=8e-16, atol=1e-300)
    np.testing.assert_allclose(y, want, rtol=8e-16, atol=1e-300)
    got = KERNEL.vjp(g, slope, x)[0]
    # PyTorch's and the rule's 1 - t**2 cancel where t is near 1: x times it is 2e-15 at 19
    np.testing.assert_array_less(np.abs(got - g * want_grad), 4e-15 * np.abs(g) + 1e-300)
    h = 1e-6
    numeric = (KERNEL.forward(x + h)[0] - KERNEL.forward(x - h)[0]) / (2 * h)
    np.testing.assert_allclose(slope, numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(KERNEL.vjp_in_place(g.copy(), slope, x)[0], got)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_are_the_generic_rules(dtype):
    """+-inf (gradients 1 and 0), signed zeros, NaN, -100 and -800 (underflowed values), 30 and
    beyond (the cap: t is 1), +-huge, with no floating-point warning; at -inf the value is -0.0
    (the rule's select gives 0.0)."""
    x = np.array([np.inf, -np.inf, 0.0, -0.0, np.nan, -100.0, -800.0, 29.0, 30.0, 31.0, 60.0,
                  1e30, -1e30, np.finfo(dtype).max, -np.finfo(dtype).max], dtype)
    with np.errstate(all="raise", under="ignore"):
        y, slope = KERNEL.forward(x)
    assert y.dtype == slope.dtype == dtype
    with np.errstate(all="ignore"):
        want = MISH.forward(npx, x)
        want_grad = MISH.vjp(npx, np.ones_like(x), None, [True], [x], {})[0]
    tolerance = dict(rtol=4 * np.finfo(dtype).eps, atol=1e3 * np.finfo(dtype).tiny)
    np.testing.assert_allclose(y, want, **tolerance)
    np.testing.assert_allclose(slope, want_grad, **tolerance)
    np.testing.assert_array_equal(np.signbit(y), np.signbit(want) | np.isneginf(x))
    assert y[1] == 0 and slope[0] == 1 and slope[1] == 0


def test_an_untaped_call_keeps_nothing_and_gives_the_taped_value():
    x = np.random.default_rng(2).normal(size=(40, 30)).astype(np.float32) * 5
    y, saved = KERNEL.value(x)
    assert saved is None
    np.testing.assert_array_equal(y, KERNEL.forward(x)[0])


def test_declines_integers_and_scalars():
    assert KERNEL.forward(np.arange(3)) is None
    assert KERNEL.value(np.float64(2.0)) is None
