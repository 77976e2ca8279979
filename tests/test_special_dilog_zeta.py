"""xg.special.spence and zetac: values against mpmath (on both sides of each switch of method)
and SciPy, SciPy's edges, gradients against finite differences (spence to second order) and
the closed-form derivative, and bad input. PyTorch has neither."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")


def f64(values):
    return xg.asarray(values, dtype=xg.float64)


def test_spence_matches_mpmath_across_the_switches():
    z = np.concatenate([np.linspace(0.0, 12.0, 241), [0.5 - 1e-9, 0.5, 0.5 + 1e-9, 1.5 - 1e-9,
                                                      1.5, 1.5 + 1e-9, 1.0 - 1e-7, 1e-300,
                                                      1e10, 1e300]])
    ours = xg.special.spence(f64(z)).numpy()
    with mpmath.workdps(30):
        for value, at in zip(ours, z):
            expected = float(mpmath.polylog(2, 1 - mpmath.mpf(at)))
            assert value == pytest.approx(expected, rel=2e-15, abs=1e-300), at
    np.testing.assert_allclose(ours, sc.spence(z), rtol=3e-15)


def test_spence_edges_and_float32():
    edges = np.array([-1.0, np.inf, np.nan, 0.0, 1.0, -0.0])
    np.testing.assert_array_equal(xg.special.spence(f64(edges)).numpy(), sc.spence(edges))
    z = np.linspace(0.0, 5.0, 51).astype(np.float32)
    ours = xg.special.spence(xg.asarray(z))
    assert ours.dtype == xg.float32
    np.testing.assert_allclose(ours.numpy(), sc.spence(z.astype(np.float64)), rtol=1e-6,
                               atol=1e-7)


def test_spence_gradients():
    z = np.array([0.2, 0.7, 1.0, 1.3, 4.0])
    grad = xg.grad(lambda v: xg.sum(xg.special.spence(v)))(f64(z)).numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(z == 1, -1.0, np.log(z) / (1 - z))
    np.testing.assert_allclose(grad, expected, rtol=1e-14)
    check_grads(xg.special.spence, [f64([0.2, 0.7, 1.3, 4.0])], order=2)


def test_spence_higher_derivatives_next_to_one():
    """Second and third derivatives against mpmath's at and beside z = 1, where the slope
    ``log(z) / (1 - z)`` is 0/0 and its own derivatives cancel (they were 0 and 0 at 1, and the
    third 0 at 1 - 1e-8), and on both sides of the slope's switch to a series, |z - 1| = 1/8."""
    first = xg.grad(lambda z: xg.special.spence(z))
    second = xg.grad(first)
    third = xg.grad(second)
    for at in (1.0, 1.0 - 1e-8, 1.0 + 1e-3, 0.874, 0.876, 1.124, 1.126):
        z = f64(at)
        with mpmath.workdps(30):
            expected = [float(mpmath.diff(lambda v: mpmath.polylog(2, 1 - v), at, n))
                        for n in (1, 2, 3)]
        got = [first(z).item(), second(z).item(), third(z).item()]
        np.testing.assert_allclose(got, expected, rtol=1e-13, err_msg=str(at))


def test_zetac_matches_mpmath_and_scipy():
    x = np.concatenate([np.linspace(-20.0, 60.0, 161), [0.0, 1e-9, 0.999999, 1.000001, 0.5,
                                                        -1e-9, 2.0, 80.0]])
    x = x[x != 1.0]
    ours = xg.special.zetac(f64(x)).numpy()
    with mpmath.workdps(40):
        for value, at in zip(ours, x):
            expected = float(mpmath.zeta(at) - 1)
            # below -1/2 the functional equation's gamma and powers: ~1e-14 relative at -20
            assert value == pytest.approx(expected, rel=2e-15 if at >= -0.5 else 5e-14), at
    np.testing.assert_allclose(ours, sc.zetac(x), rtol=5e-14)


def test_zetac_below_minus_170_where_gamma_overflows():
    """Below -170.6 ``Gamma(1 - x)`` overflows float64 but ``zeta(x)`` is finite to about -260:
    values and gradients against mpmath there (they were inf and NaN), +-inf past it as
    SciPy's, and still exactly -1 at the even integers."""
    x = np.array([-170.1, -171.0, -171.5, -172.5, -180.3, -200.1, -250.7])
    ours = xg.special.zetac(f64(x)).numpy()
    grad = xg.grad(lambda v: xg.sum(xg.special.zetac(v)))(f64(x)).numpy()
    with mpmath.workdps(40):
        expected = [float(mpmath.zeta(at) - 1) for at in x]
        slopes = [float(mpmath.zeta(at, derivative=1)) for at in x]
    np.testing.assert_allclose(ours, expected, rtol=1e-13)
    np.testing.assert_allclose(grad, slopes, rtol=2e-13)
    far = np.array([-260.3, -270.5, -1000.5, -172.0, -400.0])
    np.testing.assert_array_equal(xg.special.zetac(f64(far)).numpy(), sc.zetac(far))
    np.testing.assert_array_equal(sc.zetac(far), [-np.inf, np.inf, -np.inf, -1.0, -1.0])


def test_zetac_edges():
    x = np.array([1.0, np.inf, -np.inf, np.nan, 0.0, -2.0, -4.0, -10.0])
    np.testing.assert_array_equal(xg.special.zetac(f64(x)).numpy(), sc.zetac(x))


def test_zetac_gradients():
    for points in ([0.2, 0.6, 0.95, -0.3], [-3.5, -0.7], [1.5, 3.0, 10.0]):
        grad = xg.grad(lambda v: xg.sum(xg.special.zetac(v)))(f64(points)).numpy()
        with mpmath.workdps(30):
            expected = [float(mpmath.zeta(p, derivative=1)) for p in points]
        np.testing.assert_allclose(grad, expected, rtol=1e-12)
    check_grads(xg.special.zetac, [f64([0.2, 0.6, -0.4, -0.7, -3.5, 1.5, 3.0])])
    with pytest.raises(NotImplementedError, match=r"xg\.special\.zeta: second derivatives"):
        xg.grad(xg.grad(lambda v: xg.special.zetac(v)))(f64(0.5))


def test_bad_input_is_named():
    with pytest.raises(TypeError, match=r"xg\.special\.spence: z must be"):
        xg.special.spence("z")
    with pytest.raises(TypeError, match=r"xg\.special\.zetac: x must be"):
        xg.special.zetac("x")


def test_scipy_ufuncs_on_a_tensor_record_on_the_tape():
    z = f64([0.5, 2.5])
    grad = xg.grad(lambda v: xg.sum(sc.spence(v)))(z).numpy()
    np.testing.assert_allclose(grad, np.log(z.numpy()) / (1 - z.numpy()), rtol=1e-14)
