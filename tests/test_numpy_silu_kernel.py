"""The NumPy backend's silu kernel (``backends/numpy/activations.py``: ``x / (1 + e)``, the
derivative kept by the forward from ``e = exp(-x)``): float32 values and gradients against the
rule in float64, float64 against the rule and finite differences, the edges (infinities,
signed zeros, NaN, where exp overflows) as the generic rule's, the in-place vjp equal to the
vjp, an untaped call's value the taped one's."""
from __future__ import annotations

import numpy as np
import pytest

import array_api_compat.numpy as npx
import xpgrad as xg
from xpgrad.primitive import PRIMITIVES

KERNEL = xg.get_backend("numpy").kernels["silu"]
SILU = PRIMITIVES["silu"]


def test_float32_values_and_gradients_against_the_exact_ones():
    x = np.concatenate([np.linspace(-88, 40, 256001),
                        np.random.default_rng(0).normal(size=50000) * 4]).astype(np.float32)
    wide = x.astype(np.float64)
    y, slope = KERNEL.forward(x)
    grad = KERNEL.vjp(np.ones_like(x), slope, x)[0]
    want = SILU.forward(npx, wide)
    want_grad = SILU.vjp(npx, np.ones_like(wide), None, [True], [wide], {})[0]
    normal = np.abs(want) > np.finfo(np.float32).tiny
    ulps = np.abs(y - want)[normal] / np.spacing(np.abs(want[normal]).astype(np.float32))
    assert (ulps / (1 + np.abs(wide[normal]))).max() <= 2.5     # exp's argument, |x| times
    assert ulps[np.abs(x[normal]) < 4].max() <= 3.5
    # the derivative crosses 0 near -1.28: absolute, within 2 float32 roundings of 1
    assert np.abs(grad - want_grad).max() <= 2 * np.finfo(np.float32).eps


def test_float64_against_the_rule_and_finite_differences():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=3000) * 6, np.linspace(-30, 30, 601)])
    g = rng.normal(size=x.shape)
    y, slope = KERNEL.forward(x)
    np.testing.assert_allclose(y, SILU.forward(npx, x), rtol=4e-16, atol=1e-300)
    got = KERNEL.vjp(g, slope, x)[0]
    want = SILU.vjp(npx, g, None, [True], [x], {})[0]
    np.testing.assert_array_less(np.abs(got - want), 4e-16 * (np.abs(g) + np.abs(want)) + 1e-300)
    h = 1e-6
    numeric = (KERNEL.forward(x + h)[0] - KERNEL.forward(x - h)[0]) / (2 * h)
    np.testing.assert_allclose(KERNEL.vjp(np.ones_like(x), slope, x)[0], numeric, rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_array_equal(KERNEL.vjp_in_place(g.copy(), slope, x)[0], got)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_are_the_generic_rules(dtype):
    """+inf (gradient 1), signed zeros, NaN, and -100/-800, where exp(-x) overflows (value and
    gradient -0.0, the rule's a subnormal or -0.0), with no floating-point warning; at -inf
    value and gradient are -0.0 (the rule's selects give 0.0)."""
    x = np.array([np.inf, -np.inf, 0.0, -0.0, np.nan, -100.0, -800.0, 1e30, -1e30,
                  np.finfo(dtype).max, -np.finfo(dtype).max], dtype)
    with np.errstate(all="raise", under="ignore"):
        y, slope = KERNEL.forward(x)
        grad = KERNEL.vjp(np.ones_like(x), slope, x)[0]
    assert y.dtype == grad.dtype == dtype
    with np.errstate(all="ignore"):
        want = SILU.forward(npx, x)
        want_grad = SILU.vjp(npx, np.ones_like(x), None, [True], [x], {})[0]
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
    # below exp's overflow the value is -0.0, the rule's a subnormal (float32 at -100)
    np.testing.assert_allclose(y, want, rtol=4 * np.finfo(dtype).eps,
                               atol=1e3 * np.finfo(dtype).tiny)
    np.testing.assert_allclose(grad, want_grad, rtol=4 * np.finfo(dtype).eps,
                               atol=1e3 * np.finfo(dtype).tiny)
    np.testing.assert_array_equal(np.signbit(grad), np.signbit(want_grad) | np.isneginf(x))
    assert np.signbit(y[1]) and y[1] == 0 and np.signbit(grad[1]) and grad[1] == 0


def test_declines_integers_and_scalars():
    assert KERNEL.forward(np.arange(3)) is None
    assert KERNEL.forward(np.float64(2.0)) is None


@pytest.mark.usefixtures("numpy_default")
def test_an_empty_input_has_an_empty_value_and_gradient():
    x = xg.Variable(np.zeros((0, 3), np.float32))
    with xg.GradientTape() as tape:
        total = xg.sum(xg.nn.silu(x))
    assert total.item() == 0.0
    assert tape.gradient(total, x).shape == (0, 3)


def test_an_untaped_call_keeps_nothing_and_gives_the_taped_value():
    x = np.random.default_rng(2).normal(size=(40, 30)).astype(np.float32) * 5
    y, saved = KERNEL.value(x)
    assert saved is None
    np.testing.assert_array_equal(y, KERNEL.forward(x)[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("edge", [np.inf, -np.inf, np.nan, -100.0, -800.0])
def test_a_block_without_edges_gives_the_guarded_paths_bits(dtype, edge):
    """The forward without clips (a block whose least and largest values show no infinity,
    NaN or overflow) equals the guarded one, which a block holding one such value takes."""
    x = (np.random.default_rng(4).normal(size=5000) * 8).astype(dtype)
    y, slope = KERNEL.forward(x)
    guarded = np.append(x, dtype(edge))
    y_guarded, slope_guarded = KERNEL.forward(guarded)
    np.testing.assert_array_equal(y_guarded[:-1], y)
    np.testing.assert_array_equal(slope_guarded[:-1], slope)
