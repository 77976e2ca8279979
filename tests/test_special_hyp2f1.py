"""``xg.special.hyp2f1`` (``jax.scipy.special.hyp2f1``): values against mpmath over a random
grid of parameters and x in (-5, 1) plus x near 1 and at -1e6 (each method: the series, Pfaff's
and the connection formulas, the logarithmic cases of an integer ``c - a - b``), against SciPy,
the edges (x = 0, 1, > 1, poles of c, polynomials), float32, both backends, and the
x-gradient against mpmath's derivative, and finite differences (JAX's
hyp2f1 is not compared: it compiles for ~10 s, and SciPy and mpmath already are)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

mpmath = pytest.importorskip("mpmath")
sc = pytest.importorskip("scipy.special")
pytestmark = pytest.mark.usefixtures("numpy_default")


def f64(values, backend="numpy"):
    return xg.asarray(values, dtype=xg.float64, backend=backend)


def _grid():
    """200 random (a, b, c, x) with |a|, |b| <= 6, c in [-6, 8] (no pole of c), x in (-5, 1),
    then x near 1 and far left, and integer ``c - a - b`` (the logarithmic cases)."""
    rng = np.random.default_rng(7)
    n = 200
    a, b = rng.uniform(-6, 6, n).round(2), rng.uniform(-6, 6, n).round(2)
    c = rng.uniform(-6, 8, n).round(2)
    c = np.where((c <= 0) & (c == np.round(c)), c + 0.5, c)
    x = np.concatenate([rng.uniform(-5, 1, n - 40), np.full(20, 0.999), np.full(20, -1e3)])
    ints = np.array([-3.0, -1.0, 0.0, 1.0, 2.0, 4.0])
    la, lb = np.array([1.5, 0.7, 2.25, 1.2, 3.5, 0.4]), np.array([2.25, 1.3, 0.5, 2.6, 1.1, 1.9])
    lx = np.array([0.9, -3.0, 0.99, -20.0, 0.8, 0.999999])
    return (np.concatenate([a, la]), np.concatenate([b, lb]),
            np.concatenate([c, la + lb + ints]), np.concatenate([x, lx]))


@pytest.fixture(scope="module")
def grid():
    a, b, c, x = _grid()
    with mpmath.workdps(40):
        ref = np.array([float(mpmath.hyp2f1(*(mpmath.mpf(float(v)) for v in p)))
                        for p in zip(a, b, c, x)])
    return a, b, c, x, ref


def test_values_match_mpmath(grid):
    a, b, c, x, ref = grid
    got = xg.special.hyp2f1(f64(a), f64(b), f64(c), f64(x)).numpy()
    np.testing.assert_allclose(got, ref, rtol=5e-12, atol=1e-300)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_backends_match_scipy(grid, backend):
    a, b, c, x, _ = grid
    got = xg.special.hyp2f1(*(f64(v, backend) for v in (a, b, c, x))).numpy()
    # SciPy's own error reaches 7e-12 on this grid (mpmath's values above are the reference)
    np.testing.assert_allclose(got, sc.hyp2f1(a, b, c, x), rtol=5e-11)


def test_edges_as_scipy():
    cases = np.array([
        [1.0, 1.0, 2.0, 0.0], [1.0, 1.0, -2.0, 0.0],        # x = 0: 1, even at a pole of c
        [0.3, 0.4, 5.0, 1.0], [2.0, 3.0, 4.0, 1.0],         # x = 1: Gauss's sum; d <= 0: inf
        [1.0, 1.0, 2.0, 2.0],                               # x > 1: inf
        [1.0, 1.0, -2.0, 0.5], [-3.0, 1.0, -2.0, 0.5],      # poles of c: inf
        [-1.0, 1.0, -2.0, 0.5], [1.0, -2.0, -3.0, 0.5],     # polynomials ending before them
        [-2.0, 1.0, 3.0, 2.0], [-2.0, 1.0, 3.0, 1.0], [3.0, -4.0, 2.5, -7.0],
        [1.0, 1.0, 2.0, -np.inf], [np.nan, 1.0, 2.0, 0.5], [1.0, 1.0, 2.0, np.nan]])
    got = xg.special.hyp2f1(*(f64(col) for col in cases.T)).numpy()
    np.testing.assert_allclose(got, sc.hyp2f1(*cases.T), rtol=1e-14)
    # SciPy's is inf at -1e300; the true value is log(1 - x) / (-x) = 6.9e-298
    far = xg.special.hyp2f1(1.0, 1.0, 2.0, f64(-1e300)).item()
    assert far == pytest.approx(np.log(1e300) / 1e300, rel=1e-14)


def test_polynomials_of_high_degree_and_ending_at_c_match_mpmath():
    """Before 2026-12-08 a polynomial (a a non-positive integer) was summed at x itself, whose
    terms alternate for 0 < x < 1: 2F1(-60, 1; 1; 1/2) = 2^-60 came out -4.4e-7, (-45, 2.5, 3,
    0.9) 23% off, (-300, 2, 3, 0.99) 1.6e69 for 2.2e-5, x = 1 at degree 60 3.3 for 0; and
    a = c (the series ends where c's pole would come) gave NaN for mpmath's 1 + x."""
    cases = np.array([
        [-60.0, 1.0, 1.0, 0.5], [-45.0, 2.5, 3.0, 0.9], [-300.0, 2.0, 3.0, 0.99],
        [-20.0, 3.5, 2.5, 0.6], [-40.0, 0.3, 4.5, 0.8], [-20.0, 1.5, 2.5, 0.999],
        [-60.0, 1.0, 1.0, 1.0], [-20.0, 1.5, 2.5, 1.0], [-80.0, 1.0, 1.0, -0.5],
        [-1.0, 1.0, -1.0, 0.5], [-3.0, 2.0, -3.0, 0.5], [-3.0, 2.0, -3.0, 2.0]])
    got = xg.special.hyp2f1(*(f64(col) for col in cases.T)).numpy()
    with mpmath.workdps(50):
        want = np.array([float(mpmath.hyp2f1(*(mpmath.mpf(float(v)) for v in p)))
                         for p in cases])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    x = np.array([0.5, 0.9])
    slope = xg.grad(lambda t: xg.sum(xg.special.hyp2f1(-40.0, 1.5, 2.0, t)))(f64(x)).numpy()
    with mpmath.workdps(50):
        want = [float(mpmath.diff(lambda t: mpmath.hyp2f1(-40, 1.5, 2, t), v)) for v in x]
    np.testing.assert_allclose(slope, want, rtol=1e-11)


def test_float32_and_shapes():
    x = np.linspace(-3.0, 0.95, 40, dtype=np.float32)
    got = xg.special.hyp2f1(0.5, 1.5, 2.5, xg.asarray(x))
    assert got.dtype == xg.float32
    wide = xg.special.hyp2f1(0.5, 1.5, 2.5, f64(x.astype(np.float64))).numpy()
    np.testing.assert_array_equal(got.numpy(), wide.astype(np.float32))
    assert xg.special.hyp2f1(f64([[1.0], [2.0]]), 1.0, 3.0, f64([0.1, 0.2, 0.3])).shape == (2, 3)
    assert xg.special.hyp2f1(1.0, 1.0, 2.0, f64(np.zeros(0))).shape == (0,)


def test_x_gradient_matches_mpmath_and_finite_differences():
    a, b, c = f64([1.5, -2.5, 0.7]), f64([2.25, 1.2, 3.1]), f64([3.75, 2.0, 1.7])
    x = np.array([0.9, -4.0, 0.6])
    slope = xg.grad(lambda t: xg.sum(xg.special.hyp2f1(a, b, c, t)))(f64(x)).numpy()
    with mpmath.workdps(30):
        want = [float(mpmath.diff(lambda t: mpmath.hyp2f1(*p, t), v))
                for p, v in zip(zip(a.tolist(), b.tolist(), c.tolist()), x)]
    np.testing.assert_allclose(slope, want, rtol=1e-12)
    check_grads(lambda t: xg.special.hyp2f1(a, b, c, t), (f64([0.3, -1.7, 0.8]),), order=2)


def test_parameter_gradients_are_refused_naming_the_argument():
    for position, name in enumerate("abc"):
        def f(p, position=position):
            args = [f64(1.5), f64(0.5), f64(2.5), f64(0.3)]
            args[position] = p
            return xg.special.hyp2f1(*args)
        with pytest.raises(NotImplementedError, match=f"hyp2f1: the gradient in {name}"):
            xg.grad(f)(f64(1.1))


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="hyp2f1.*c"):
        xg.special.hyp2f1(1.0, 1.0, "a", f64(0.5))
