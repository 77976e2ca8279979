"""``xg.special``'s two-argument functions at the extremes of float64: tiny, huge and
near-pole arguments. Values are checked against mpmath (and SciPy where it is right there),
gradients against mpmath's derivative written out in polygammas at high precision (a central
difference's step is too coarse next to the poles these points sit by): a NaN, inf or 0
gradient where the true one is a finite nonzero float64 is a defect, as is a finite one off by
more than 1e-12 relative."""
from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import pytest

import xpgrad as xg

scipy_special = pytest.importorskip("scipy.special")

def _digits(*arguments):
    """mpmath's working digits at one point: the decimal span of its nonzero arguments' (and
    1's) magnitudes, so that a sum such as 1e300 + 1e-300 keeps both parts and a difference
    such as ``psi(z + m) - psi(z)`` keeps its leading digits after cancelling that many, plus
    60 guard digits (float64 needs 17). A flat 700 (the widest span, 600, plus guards) cost
    ~0.1 s a point, 6.6 s in all; each point's float64 reference is the same at both
    precisions (checked 2026-12-07).

    >>> _digits(1e-300, 1e300), _digits(2.5, -5.0)
    (660, 61)
    """
    exponents = [math.log10(abs(a)) for a in arguments if a] + [0.0]
    return 60 + math.ceil(max(exponents) - min(exponents))


def _agree(got, want, rtol=1e-12):
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= rtol * abs(want)


def _ours(function, arguments, backend="numpy"):
    """The value and the gradients in every argument at one point, eagerly."""
    tensors = [xg.asarray(np.float64(a), dtype=xg.float64, backend=backend) for a in arguments]
    with np.errstate(all="ignore"):
        value = function(*tensors).item()
        slopes = xg.grad(function, argnums=tuple(range(len(tensors))))(*tensors)
    return value, [s.item() for s in slopes]


def _mp_betaln_slopes(a, b):
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    return [mpmath.digamma(a) - mpmath.digamma(a + b), mpmath.digamma(b) - mpmath.digamma(a + b)]


@functools.lru_cache(maxsize=None)
def _mp_betaln(a, b):
    """mpmath's ``log B(a, b)`` and its two slopes as floats, once per point (both argument
    orders of the test below compare with it)."""
    with mpmath.workdps(_digits(a, b)):
        return float(mpmath.log(mpmath.beta(a, b))), [float(s) for s in _mp_betaln_slopes(a, b)]


BETALN_POINTS = [(a, b) for a in [1e-300, 1e-20, 1e-8] for b in [1e-8, 0.5, 1.0, 2.5, 30.0,
                                                                  170.5, 1e5, 1e20, 1e300]
                 if a < 1e-3 * b]


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("a, b", BETALN_POINTS)
@pytest.mark.parametrize("swap", [False, True])
def test_betaln_gradients_with_one_tiny_argument_match_mpmath(a, b, swap):
    """``psi(b) - psi(a + b)`` for the larger ``b`` is ``-a psi'(b)``: it was 0 (or 1e-5 off)
    once ``a`` fell below ``b``'s last bits."""
    want, want_slopes = _mp_betaln(a, b)
    arguments = (b, a) if swap else (a, b)
    value, slopes = _ours(xg.special.betaln, arguments)
    if swap:
        slopes = slopes[::-1]
    assert _agree(value, want, 1e-14), (value, want)
    assert _agree(slopes[0], want_slopes[0]) and _agree(slopes[1], want_slopes[1]), \
        (slopes, want_slopes)


def _mp_poch(z, m):
    """mpmath's ``Gamma(z + m) / Gamma(z)`` and its two derivatives."""
    z, m = mpmath.mpf(z), mpmath.mpf(m)
    value = mpmath.rf(z, m)
    return value, value * (mpmath.digamma(z + m) - mpmath.digamma(z)), \
        value * mpmath.digamma(z + m)


POCH_POINTS = (
    # a tiny m against a positive z (both slopes were 0, m's is psi(z))
    [(z, m) for z in [1e-8, 0.5, 1.0, 2.5, 30.0, 170.5, 1e5, 1e20, 1e300]
     for m in [1e-300, 1e-20, -1e-300, -1e-20] if abs(m) < 1e-3 * z]
    # ... against a negative z off the poles
    + [(z, m) for z in [-0.5, -2.5, -3 + 1e-10, -1e-20] for m in [1e-300, -1e-300, 1e-30]]
    # a whole m < 0 with a z next to 0, where z + m rounds onto a pole it is not (was inf)
    + [(z, m) for z in [1e-300, 1e-20, -1e-20] for m in [-1.0, -5.0, -30.0]]
    # ... or next to another pole, past the product formula's 20 factors
    + [(1e-8, -30.0), (-3 + 1e-10, -30.0), (0.5, -25.0), (-7.5, -40.0)]
    # a tiny z and a tiny m (d/dz was 1e40 off: 1 / Gamma(z)'s gradient overflowed)
    + [(1e-300, -1e-20), (1e-300, -0.5), (1e-300, -2.5)])


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("z, m", POCH_POINTS)
def test_poch_at_tiny_arguments_and_next_to_poles_matches_mpmath(z, m):
    with mpmath.workdps(_digits(z, m)):
        want, want_z, want_m = (float(v) for v in _mp_poch(z, m))
    value, (slope_z, slope_m) = _ours(xg.special.poch, (z, m))
    assert _agree(value, want, 1e-13), (value, want)
    assert _agree(slope_z, want_z), ("d/dz", slope_z, want_z)
    assert _agree(slope_m, want_m), ("d/dm", slope_m, want_m)


@pytest.mark.parametrize("z, m", [(1e-20, -5.0), (1e-300, -30.0), (-1e-20, -1.0),
                                  (1e-8, -30.0), (1.0, 1e-20), (1e300, -1e-300)])
def test_poch_values_match_scipy_where_it_is_right(z, m):
    """SciPy computes these (mpmath agrees, the test above); xpgrad's poch(1e-20, -5) was inf."""
    got = _ours(xg.special.poch, (z, m))[0]
    np.testing.assert_allclose(got, scipy_special.poch(z, m), rtol=1e-14)


def test_poch_and_betaln_agree_across_backends():
    pytest.importorskip("numba")
    points = [(1e-20, -5.0), (1.0, 1e-20), (2.5, -1e-300), (1e-300, -0.5), (1e300, 1e-20)]
    for z, m in points:
        for function in (xg.special.poch, xg.special.betaln):
            at_numpy = _ours(function, (z, m) if function is xg.special.poch else (m * m, z))
            at_numba = _ours(function, (z, m) if function is xg.special.poch else (m * m, z),
                             backend="numba")
            np.testing.assert_allclose(at_numba[0], at_numpy[0], rtol=1e-14)
            np.testing.assert_allclose(at_numba[1], at_numpy[1], rtol=1e-13)


#: x far from 1: x**lmbda underflows while the derivative x**(lmbda - 1) does not
BOX_COX_POINTS = [(1e-300, 1.0), (1e-20, 1.0), (1e20, -1.0), (2.5, -30.0), (1e300, 1.0)]


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("name", ["boxcox", "boxcox1p"])
@pytest.mark.parametrize("x, lmbda", BOX_COX_POINTS)
def test_box_cox_gradient_in_x_where_the_power_underflows(name, x, lmbda):
    """``d/dx (x**lmbda - 1) / lmbda = x**(lmbda - 1)`` was 0: ``expm1``'s rule read
    ``expm1(u) + 1``, which is 0 once ``expm1(u)`` rounds to -1."""
    with mpmath.workdps(_digits(x, lmbda)):
        base = mpmath.mpf(x) + (1 if name == "boxcox1p" else 0)
        want = float(base ** (lmbda - 1))
    assert _agree(_ours(getattr(xg.special, name), (x, lmbda))[1][0], want)


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("name, x, lmbda", [
    (name, x, lmbda) for name, below_one in [("boxcox", [0.5, 1e-20]), ("boxcox1p", [-0.5, -0.9])]
    for x, lmbda in [(below_one[0], 1e300), (2.5, -1e300), (1e20, -1e300), (below_one[1], 1e300)]])
def test_box_cox_gradients_at_huge_lambdas_are_not_nan(name, x, lmbda):
    """The series branch's ``z**5`` overflowed where ``where`` does not use it; its NaN
    gradient leaked through. Both derivatives are 0 to float64 there (mpmath's < 1e-300)."""
    value, slopes = _ours(getattr(xg.special, name), (x, lmbda))
    np.testing.assert_allclose(value, getattr(scipy_special, name)(x, lmbda), rtol=1e-14)
    assert all(abs(s) < 1e-290 for s in slopes), slopes


@pytest.mark.parametrize("x", [-40.0, -300.0, -700.0, -745.0])
def test_expm1_gradient_is_exp_where_the_value_rounds_to_minus_one(x):
    tensor = xg.asarray(x, dtype=xg.float64)
    assert xg.expm1(tensor).item() == -1.0     # the value has rounded; the slope has not
    slope = xg.grad(xg.expm1)(tensor).item()
    assert slope == math.exp(x) and slope > 0
