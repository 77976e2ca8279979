"""The derivative of xg.special.gammainc / gammaincc in ``a`` (and of gammaincinv, through the
implicit function): against mpmath's high-precision numerical derivative over a in [1e-3, 1e3]
and x in [1e-6, 1e3] (each of the four regions: P's series, Q's fraction, Q's small-a series,
Temme's expansion), against jax.grad of jax.scipy.special.gammainc, against finite differences,
its edges, traced replays, and the second derivative refused naming its argument."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops.incomplete_gamma_regions import _regions
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")


def _grid():
    a = np.geomspace(1e-3, 1e3, 16)
    x = np.geomspace(1e-6, 1e3, 16)
    aa, xx = (v.ravel() for v in np.meshgrid(a, x))
    near = np.concatenate([a[a > 1] + k * np.sqrt(a[a > 1]) for k in (-3.0, -0.5, 0.0, 1.0)])
    keep = (near >= 1e-6) & (near <= 1e3)
    a_near = np.tile(a[a > 1], 4)[keep]
    return np.concatenate([aa, a_near]), np.concatenate([xx, near[keep]])


def _exact_upper_by_a(a, x):
    """dQ/da by mpmath's numerical derivative at 40 digits, of whichever of P and Q is below
    1/2 (1 - P would lose the small one's digits)."""
    mpmath.mp.dps = 40
    out = []
    for ai, xi in zip(a, x):
        ai, xi = mpmath.mpf(float(ai)), mpmath.mpf(float(xi))
        if mpmath.gammainc(ai, 0, xi, regularized=True) < 0.5:
            out.append(-mpmath.diff(lambda s: mpmath.gammainc(s, 0, xi, regularized=True), ai))
        else:
            out.append(mpmath.diff(lambda s: mpmath.gammainc(s, xi, mpmath.inf,
                                                             regularized=True), ai))
    return np.array([float(v) for v in out])


def test_every_region_is_on_the_grid():
    a, x = _grid()
    masks = _regions(np, a, x, True)
    assert all(int(m.sum()) > 10 for m in masks[1:])


def test_derivative_in_a_matches_mpmath_within_1e_10():
    a, x = _grid()
    exact = _exact_upper_by_a(a, x)
    a_t, x_t = xg.asarray(a, dtype=xg.float64), xg.asarray(x, dtype=xg.float64)
    by_a_upper = xg.grad(lambda a: xg.sum(xg.special.gammaincc(a, x_t)))(a_t).numpy()
    by_a_lower = xg.grad(lambda a: xg.sum(xg.special.gammainc(a, x_t)))(a_t).numpy()
    nonzero = np.abs(exact) > 1e-300     # subnormal or 0 in float64: no relative accuracy
    assert nonzero.sum() > 200           # the rest underflow (large a, tiny x)
    error = np.abs(by_a_upper - exact)[nonzero] / np.abs(exact[nonzero])
    assert error.max() < 1e-10, (a[nonzero][error.argmax()], x[nonzero][error.argmax()])
    np.testing.assert_array_equal(by_a_lower, -by_a_upper)
    assert np.all(np.abs(by_a_upper[~nonzero]) < 1e-299)


def test_derivative_in_a_matches_jax(jax):
    jsp = pytest.importorskip("jax.scipy.special")
    rng = np.random.default_rng(7)
    a, x = 10 ** rng.uniform(-1, 2, 40), 10 ** rng.uniform(-2, 2, 40)
    theirs = np.asarray(jax.jit(jax.vmap(jax.grad(jsp.gammainc)))(a, x))   # one XLA compile
    ours = xg.grad(lambda a: xg.sum(xg.special.gammainc(a, xg.asarray(x))))(
        xg.asarray(a, dtype=xg.float64)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-300)


@pytest.mark.parametrize("fn", [xg.special.gammainc, xg.special.gammaincc])
def test_derivative_in_a_matches_finite_differences(fn):
    a = np.array([0.01, 0.7, 5.0, 40.0, 300.0])
    x = np.array([0.5, 2.0, 3.0, 41.0, 260.0])
    check_grads(lambda a, x: fn(a, x), (a, x), order=1, rtol=1e-6, atol=1e-10)


def test_gammaincinv_derivative_in_a_is_the_implicit_function():
    a = np.array([0.05, 1.5, 8.0, 90.0])
    y = np.array([0.2, 0.5, 0.999, 1e-5])
    grad = xg.grad(lambda a: xg.sum(xg.special.gammaincinv(a, xg.asarray(y))))(
        xg.asarray(a, dtype=xg.float64)).numpy()
    h = 1e-6 * a
    fd = (sc.gammaincinv(a + h, y) - sc.gammaincinv(a - h, y)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6)
    check_grads(lambda a, y: xg.special.gammaincinv(a, y), (a, np.array([0.2, 0.5, 0.9, 0.3])),
                order=1, rtol=1e-5, atol=1e-10)
    edges = xg.grad(lambda a: xg.sum(xg.special.gammaincinv(a, xg.asarray([0.0, 1.0]))))(
        xg.asarray(2.0, dtype=xg.float64))
    assert edges.item() == 0.0


def test_edges_of_the_derivative():
    x = xg.asarray([0.0, np.inf, 1.0, 1.0], dtype=xg.float64)
    a = xg.asarray([2.0, 2.0, -1.0, np.nan], dtype=xg.float64)
    grad = xg.grad(lambda a: xg.sum(xg.special.gammainc(a, x) * xg.asarray([1.0, 1, 0, 0])))(a)
    assert grad.numpy()[:2].tolist() == [0.0, 0.0]
    each = xg.vjp(lambda a: xg.special.gammainc(a, x), a)[1](xg.ones_like(a))[0].numpy()
    assert each[:2].tolist() == [0.0, 0.0] and np.isnan(each[2:]).all()


def test_float32_gradient_is_float64s_rounded():
    a, x = np.array([0.5, 3.0, 50.0]), np.array([0.2, 4.0, 47.0])
    wide = xg.grad(lambda a: xg.sum(xg.special.gammaincc(a, xg.asarray(x))))(
        xg.asarray(a, dtype=xg.float64)).numpy()
    narrow = xg.grad(lambda a: xg.sum(xg.special.gammaincc(a, xg.asarray(x, dtype=xg.float32))))(
        xg.asarray(a, dtype=xg.float32))
    assert narrow.dtype == xg.float32
    np.testing.assert_allclose(narrow.numpy(), wide, rtol=1e-6)


@pytest.mark.parametrize("name", ["gammainc", "gammaincc", "gammaincinv"])
def test_second_derivatives_involving_a_are_refused_naming_it(name):
    fn = getattr(xg.special, name)
    second = xg.grad(xg.grad(lambda a: fn(a, xg.asarray(0.5, dtype=xg.float64))))
    with pytest.raises(NotImplementedError, match=rf"{name}: second derivatives involving a"):
        second(xg.asarray(2.0, dtype=xg.float64))


def test_traced_gradient_in_a_equals_eager():
    x = xg.asarray([1e-4, 0.5, 3.0, 40.0, 900.0], dtype=xg.float64)

    def grads(a):
        return xg.grad(lambda a: xg.sum(xg.special.gammainc(a, x)
                                        + xg.special.gammaincinv(a, x / (1.0 + x))))(a)
    traced = xg.function(grads)
    for a in ([0.01, 0.3, 2.5, 35.0, 880.0], [0.7, 5.0, 0.002, 41.0, 120.0]):
        a = xg.asarray(a, dtype=xg.float64)
        np.testing.assert_array_equal(traced(a).numpy(), grads(a).numpy())


def test_mixed_second_derivative_is_the_densitys_derivative_in_a():
    a, x = np.array([0.4, 2.0, 30.0]), np.array([0.3, 1.5, 33.0])

    def density_by_a(a):
        return xg.grad(lambda x: xg.sum(xg.special.gammainc(a, x)))(
            xg.asarray(x, dtype=xg.float64))
    ours = xg.jacobian(density_by_a)(xg.asarray(a, dtype=xg.float64)).numpy().diagonal()
    h = 1e-6
    density = lambda a: np.exp((a - 1) * np.log(x) - x - sc.gammaln(a))
    np.testing.assert_allclose(ours, (density(a + h) - density(a - h)) / (2 * h), rtol=1e-7)


def test_docs_example_runs(capsys):
    """docs/special.md's last example: P(3, 2), its a-derivative and the 90% quantile's, as
    SciPy's values and central differences of them."""
    import re

    from docs_text import section

    (code,) = re.findall(r"```python\n(.*?)```", section(
        "Shape derivatives, quantiles, erfcx, exponential integrals and zeta"), re.S)
    exec(code, {})
    p, dp, dq = (float(v) for v in capsys.readouterr().out.split())
    h = 1e-6
    assert p == pytest.approx(sc.gammainc(3.0, 2.0), rel=1e-14)
    assert dp == pytest.approx((sc.gammainc(3 + h, 2.0) - sc.gammainc(3 - h, 2.0)) / (2 * h),
                               rel=1e-8)
    assert dq == pytest.approx((sc.gammaincinv(3 + h, 0.9) - sc.gammaincinv(3 - h, 0.9))
                               / (2 * h), rel=1e-8)
