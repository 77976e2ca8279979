"""The NumPy backend's mask kernels (hardtanh/relu6, hardsigmoid, hardswish): their gradients
against the generic rules where the product with the 0/1 mask is not finite (a NaN or infinite
incoming gradient anywhere, the last element included); hardtanh's remembered bounds check (a
bound beyond float32 still declines after a call with fitting bounds); hardswish's forward
(``x h``, five passes) against the rule and the exact value."""
from __future__ import annotations

import numpy as np
import pytest

import array_api_compat.numpy as npx
import xpgrad as xg
from xpgrad.primitive import PRIMITIVES

KERNELS = xg.get_backend("numpy").kernels
CASES = {"hardtanh": ("hardtanh", dict(min_val=-1.0, max_val=1.0)),
         "relu6": ("hardtanh", dict(min_val=0.0, max_val=6.0)),
         "hardsigmoid": ("hardsigmoid", {}), "hardswish": ("hardswish", {})}


def _gradients(name, g, x):
    prim_name, params = CASES[name]
    kernel, prim = KERNELS[prim_name], PRIMITIVES[prim_name]
    _, saved = kernel.forward(x, **params)
    got = kernel.vjp(g, saved, x, **params)[0]
    with np.errstate(invalid="ignore", over="ignore"):
        want = prim.vjp(npx, g, None, [True], [x], params)[0]
    return got, want


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", [0, 500, -1])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_non_finite_incoming_gradient_gives_the_generic_rules_gradient(name, bad, where,
                                                                         dtype):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(40, 25)) * 4).astype(dtype)
    x.flat[where] = 7.5                       # outside every mask: g * 0 would be NaN
    g = rng.normal(size=x.shape).astype(dtype)
    g.flat[where] = bad
    got, want = _gradients(name, g, x)
    np.testing.assert_array_equal(got, want)


def test_hardtanh_bounds_beyond_the_dtype_decline_after_fitting_ones():
    kernel = KERNELS["hardtanh"]
    x = np.array([-2.0, 0.5, 3.0], np.float32)
    assert kernel.forward(x, min_val=-1.0, max_val=1.0) is not None
    assert kernel.forward(x, min_val=-1e300, max_val=1.0) is None
    assert kernel.vjp(np.ones_like(x), None, x, min_val=-1e300, max_val=1.0) \
        == (NotImplemented,)
    assert kernel.forward(x.astype(np.float64), min_val=-1e300, max_val=1.0) is not None
    with pytest.raises(ValueError, match="min_val"):
        xg.nn.hardtanh(xg.asarray(x), min_val=2.0, max_val=1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hardswish_forward_is_the_rules_to_two_ulp_and_its_edges_bit_for_bit(dtype):
    """Within 2 ulp of the generic rule and 2 of the exact value (long double) on a fine grid;
    +-inf, NaN, signed zeros, +-3 and their neighbours, +-huge: the rule's values and signs of
    zero exactly (+0.0 at and below -3, x itself from 3 on), with no floating-point warning."""
    kernel, prim = KERNELS["hardswish"], PRIMITIVES["hardswish"]
    edges = [-np.inf, np.inf, np.nan, 0.0, -0.0, -3.0, 3.0, -4.0, 4.0, 6.0, 7.0, 1e30, -1e30,
             np.finfo(dtype).max, -np.finfo(dtype).max]
    edges += [np.nextafter(dtype(v), dtype(d)) for v in (-3.0, 3.0) for d in (-9, 9)]
    edges = np.array(edges, dtype)
    with np.errstate(all="raise"):
        got, _ = kernel.forward(edges)
    want = prim.forward(npx, edges)
    np.testing.assert_array_equal(got[:-4], want[:-4])
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    above = edges >= 3
    np.testing.assert_array_equal(got[above], edges[above])          # 3 and above: x
    x = np.linspace(-8, 8, 400001).astype(dtype)
    got, _ = kernel.forward(x)
    want = prim.forward(npx, x).astype(np.float64)
    exact = prim.forward(npx, x.astype(np.longdouble)).astype(np.float64)
    nonzero = exact != 0
    spacing = np.spacing(np.abs(exact[nonzero]).astype(dtype)).astype(np.float64)
    assert (np.abs(got[nonzero] - want[nonzero]) / spacing).max() <= 2
    assert (np.abs(got[nonzero] - exact[nonzero]) / spacing).max() <= 2
    np.testing.assert_array_equal(np.signbit(got[~nonzero]), np.signbit(want[~nonzero]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hardswish_gradient_is_the_rules_values_on_a_grid_and_at_the_edges(dtype):
    """``g (t + 1/2 - trunc(t) / 2)`` equals the rule's selects (zeros up to their sign) on a
    fine grid, at +-3 and their neighbours (where ``x / 3`` must round to no +-1), +-inf and
    +-huge (no NaN, whose product sends the whole gradient to the rule); a NaN ``x`` gets
    ``g``, as there."""
    edges = [-np.inf, np.inf, 0.0, -0.0, -3.0, 3.0, 1e30, -1e30, np.finfo(dtype).max,
             -np.finfo(dtype).max]
    edges += [np.nextafter(dtype(v), dtype(d)) for v in (-3.0, 3.0) for d in (-9, 9)]
    x = np.concatenate([np.linspace(-8, 8, 400001), edges]).astype(dtype)
    g = np.random.default_rng(3).normal(size=x.shape).astype(dtype)
    kernel = KERNELS["hardswish"]
    got = kernel.vjp(g, None, x)[0]
    np.testing.assert_array_equal(got, _gradients("hardswish", g, x)[1])
    assert np.isfinite(got).all()                   # the kernel's own product, not the rule's
    x[7] = np.nan
    assert kernel.vjp(g, None, x)[0][7] == g[7]
