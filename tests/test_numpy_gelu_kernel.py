"""The NumPy backend's exact gelu kernel (``backends/numpy/gelu.py``): float32 values against
``x Phi(x)`` in float64 (at least as close as the generic float32 rule, within 3.5 ulp for
|x| < 1 and 3.2 ulp times ``1 + x**2`` beyond; measured 3.2 and 2.9), its polynomial the fit
script's, the untaped forward (``value``) the taped one's, the signed zeros and limits of the
generic rule, gradients against the generic rule in float64 and finite differences, and a
non-float input declined."""
from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import array_api_compat.numpy as npx
import xpgrad as xg
from xpgrad.backends.numpy import gelu as numpy_gelu
from xpgrad.primitive import PRIMITIVES

KERNEL = xg.get_backend("numpy").kernels["gelu"]
GELU = PRIMITIVES["gelu"]


def _exact(x):
    """gelu at float32 ``x``, by the generic rule in float64 (1e-13 relative: exact here)."""
    return GELU.forward(npx, x.astype(np.float64), approximate="none")


def _ulps(got, want):
    spacing = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / spacing


def test_float32_values_are_within_a_few_ulp_of_the_exact_ones():
    x = np.concatenate([np.linspace(-14, 14, 280001),
                        np.random.default_rng(0).normal(size=50000) * 3]).astype(np.float32)
    want = _exact(x)
    normal = np.abs(want) > np.finfo(np.float32).tiny
    got, _ = KERNEL.forward(x)
    generic = GELU.forward(npx, x, approximate="none")
    error, generic_error = _ulps(got, want)[normal], _ulps(generic, want)[normal]
    near = np.abs(x[normal]) < 1
    conditioning = 1 + x[normal].astype(np.float64) ** 2
    assert error[near].max() <= 3.5
    assert (error / conditioning).max() <= 3.2
    assert (error / conditioning).max() <= (generic_error / conditioning).max()


def test_the_fit_script_gives_the_kernels_polynomial():
    """``tools/fit_gelu_erfc32.py`` reproduces ``_C32`` and ``_Q32``; its 3,500 least-squares
    solves of 40,000x7 run on one BLAS thread (a pool of two on a busy 2-core machine spins
    several times the CPU and wall time)."""
    pytest.importorskip("scipy.special")
    import runpy
    from pathlib import Path

    script = Path(__file__).parents[1] / "tools" / "fit_gelu_erfc32.py"
    tool = runpy.run_path(str(script), run_name="fit_gelu_erfc32")
    with threadpool_limits(limits=1, user_api="blas"):     # restores the count after
        q, error = tool["fit"]()
    assert tool["C"] == numpy_gelu._C32 and error < 5e-8
    np.testing.assert_allclose(q, numpy_gelu._Q32, rtol=1e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_untaped_forward_is_the_taped_ones_bit_for_bit(dtype, approximate):
    """``value`` (what ``apply`` runs when no tape records) keeps nothing; its values are the
    forward's, in one block and by blocks (300x700 is past ``blocks.BLOCK_BYTES``)."""
    x = np.random.default_rng(3).normal(size=(300, 700)).astype(dtype) * 5
    x[0, :4] = [np.inf, -np.inf, np.nan, -0.0]
    for part in (x[:5, :5], x, x.T):
        y, saved = KERNEL.value(part, approximate=approximate)
        assert saved is None
        np.testing.assert_array_equal(y, KERNEL.forward(part, approximate=approximate)[0])
    with xg.GradientTape() as tape:
        t = xg.asarray(x[:5, :5])
        tape.watch(t)
        taped = xg.nn.gelu(t, approximate=approximate)
    np.testing.assert_array_equal(xg.nn.gelu(xg.asarray(x[:5, :5]), approximate=approximate)
                                  .numpy(), taped.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_are_the_generic_rules_bit_for_bit(dtype):
    """Signed zeros, +-inf, NaN, +-huge: the same values and signs of zero as the generic rule
    (but -0.0 at -inf, as below -40, where the generic rule's select gives 0.0), the gradients
    too (1 at +inf, 0 at -inf, 1/2 at 0), and no floating-point warning."""
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 40.0, -40.0,
                  np.finfo(dtype).max, -np.finfo(dtype).max, -1e-40], dtype)
    with np.errstate(all="raise", under="ignore"):
        got, lower = KERNEL.forward(x)
        grad = KERNEL.vjp(np.ones_like(x), lower, x)[0]
    with np.errstate(over="ignore", invalid="ignore"):
        want = GELU.forward(npx, x, approximate="none")
        want_grad = GELU.vjp(npx, np.ones_like(x), want, [True], [x], {"approximate": "none"})[0]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want) | np.isneginf(x))
    np.testing.assert_array_equal(grad, want_grad)


def test_float64_gradient_is_the_generic_rules_and_the_finite_differences():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=2000) * 4, np.linspace(-9, 9, 721)])
    g = rng.normal(size=x.shape)
    _, lower = KERNEL.forward(x)
    got = KERNEL.vjp(g, lower, x)[0]
    want = GELU.vjp(npx, g, None, [True], [x], {"approximate": "none"})[0]
    np.testing.assert_array_less(np.abs(got - want), 1e-14 * (np.abs(g) + np.abs(want)))
    h = 1e-6
    numeric = (KERNEL.forward(x + h)[0] - KERNEL.forward(x - h)[0]) / (2 * h)
    np.testing.assert_allclose(KERNEL.vjp(np.ones_like(x), lower, x)[0], numeric,
                               rtol=1e-7, atol=1e-9)


def test_float32_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.linspace(-12, 12, 4801).astype(np.float32)
    _, lower = KERNEL.forward(x)
    got = KERNEL.vjp(np.ones_like(x), lower, x)[0]
    t = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    torch.nn.functional.gelu(t).sum().backward()
    np.testing.assert_allclose(got, t.grad.numpy(), rtol=6e-7, atol=4e-7)


def test_declines_what_it_does_not_cover():
    assert KERNEL.forward(np.arange(4)) is None
    assert KERNEL.forward(np.float32(1.0)) is None
    with pytest.raises(ValueError, match="approximate"):
        xg.nn.gelu(xg.asarray(np.ones(3, np.float32)), approximate="exact")


@pytest.mark.parametrize("edge", [np.inf, -np.inf, np.nan, -30.0, -2e4, 2e4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_tanh_block_without_edges_gives_the_guarded_paths_bits(dtype, edge):
    """The tanh form without clips (a block whose least and largest values show no infinity,
    NaN, overflow of ``exp(-2u)`` or value past the cap; or without the value's clips only,
    where the exponential overflows) equals the guarded one, which a block holding one such
    value takes, taped or not."""
    x = (np.random.default_rng(4).normal(size=5000) * 2).astype(dtype)
    x[:3] = [-9.9, 9.9, -0.0]
    if edge == -2e4:            # the value's clips left out, the slope's taken (exp overflows)
        x[3] = -50.0
    paths = tuple(map(bool, numpy_gelu._tanh_inside(x)))
    assert paths == (True, edge != -2e4)
    assert tuple(map(bool, numpy_gelu._tanh_inside(np.append(x, dtype(edge))))) != paths
    y, slope = KERNEL.forward(x, approximate="tanh")
    guarded = np.append(x, dtype(edge))
    y_guarded, slope_guarded = KERNEL.forward(guarded, approximate="tanh")
    np.testing.assert_array_equal(y_guarded[:-1], y)
    np.testing.assert_array_equal(np.signbit(y_guarded[:-1]), np.signbit(y))
    np.testing.assert_array_equal(slope_guarded[:-1], slope)
    np.testing.assert_array_equal(KERNEL.value(guarded, approximate="tanh")[0][:-1], y)
