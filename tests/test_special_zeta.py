"""xg.special.zeta(s, q), the Hurwitz zeta function at real (not only integer) s: values
against mpmath (80 digits: its own Hurwitz zeta at 40 is 8e-10 off at s = 22, q = 170) and
SciPy, gradients in q (-s zeta(s + 1, q)) and s against mpmath and jax.grad, finite
differences to second order in q, the second derivative in s refused, edges, traced replays,
bad input."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads
from special_scipy_paths import path  # noqa: F401  (a fixture)

sc = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")



def _grid():
    rng = np.random.default_rng(3)
    s = np.concatenate([1.0 + 10 ** rng.uniform(-6, 1.7, 150), [1.5, 2.0, 3.0, 50.0]])
    q = np.concatenate([10 ** rng.uniform(-3, 3, 150), [0.5, 1.0, 1e-3, 1.5]])
    return s, q


def test_values_and_gradients_match_mpmath(path):
    s, q = _grid()
    mpmath.mp.dps = 80
    exact = np.array([float(mpmath.zeta(a, b)) for a, b in zip(s, q)])
    by_s = np.array([float(mpmath.zeta(a, b, 1)) for a, b in zip(s, q)])
    by_q = np.array([float(-a * mpmath.zeta(a + 1, b)) for a, b in zip(s, q)])
    s_t, q_t = xg.asarray(s, dtype=xg.float64), xg.asarray(q, dtype=xg.float64)
    value = xg.special.zeta(s_t, q_t).numpy()
    np.testing.assert_allclose(value, exact, rtol=2e-15)
    np.testing.assert_allclose(value, sc.zeta(s, q), rtol=2e-15)
    gs, gq = xg.grad(lambda s, q: xg.sum(xg.special.zeta(s, q)), argnums=(0, 1))(s_t, q_t)
    np.testing.assert_allclose(gs.numpy(), by_s, rtol=5e-15)
    np.testing.assert_allclose(gq.numpy(), by_q, rtol=2e-15)


def test_riemann_zeta_by_default():
    s = xg.asarray([2.0, 4.0], dtype=xg.float64)
    np.testing.assert_allclose(xg.special.zeta(s).numpy(), [np.pi ** 2 / 6, np.pi ** 4 / 90],
                               rtol=1e-15)


def test_gradients_match_jax(jax):
    jsp = pytest.importorskip("jax.scipy.special")
    s, q = np.array([1.3, 2.5, 4.0, 9.5]), np.array([0.2, 1.5, 7.0, 40.0])
    # one trace for both slopes (3.4-3.7 s of CPU where one each took 4.4-4.7), jit: one XLA
    # compile, not one per primitive
    theirs = [np.asarray(g) for g in jax.jit(jax.vmap(jax.grad(jsp.zeta, argnums=(0, 1))))(s, q)]
    ours = xg.grad(lambda s, q: xg.sum(xg.special.zeta(s, q)), argnums=(0, 1))(
        xg.asarray(s, dtype=xg.float64), xg.asarray(q, dtype=xg.float64))
    for mine, their in zip(ours, theirs):
        np.testing.assert_allclose(mine.numpy(), their, rtol=1e-9)


def test_second_order_in_q_and_mixed_match_finite_differences():
    s, q = np.array([1.5, 2.5, 6.0]), np.array([0.3, 2.0, 10.0])
    check_grads(lambda q: xg.special.zeta(xg.asarray(s), q), (q,), order=2, rtol=1e-6,
                atol=1e-9)
    mixed = xg.grad(lambda q: xg.sum(xg.grad(lambda s: xg.sum(xg.special.zeta(s, q)))(
        xg.asarray(s, dtype=xg.float64))))(xg.asarray(q, dtype=xg.float64))
    mpmath.mp.dps = 40
    exact = [float(mpmath.diff(lambda a, b: mpmath.zeta(a, b), (a, b), (1, 1)))
             for a, b in zip(s, q)]
    np.testing.assert_allclose(mixed.numpy(), exact, rtol=1e-12)


def test_second_derivative_in_s_is_refused_naming_it():
    second = xg.grad(xg.grad(lambda s: xg.special.zeta(s, 2.0)))
    with pytest.raises(NotImplementedError, match="zeta: second derivatives in s"):
        second(xg.asarray(2.5, dtype=xg.float64))


def test_edges(path):
    s = np.array([1.0, 2.0, 2.5, 0.5, np.inf, np.nan, 2.0, 2.5, 2.0])
    q = np.array([2.0, 0.0, np.inf, 2.0, 2.0, 1.0, np.nan, -0.5, 1e-300])
    ours = xg.special.zeta(xg.asarray(s, dtype=xg.float64), xg.asarray(q)).numpy()
    np.testing.assert_array_equal(ours, sc.zeta(s, q))       # inf, inf, 0, NaN ..., inf
    assert np.isnan(xg.special.zeta(2.0, xg.asarray(-0.5, dtype=xg.float64)).item())


def test_float32_is_float64s_rounded():
    s, q = np.array([1.5, 3.0, 8.0], np.float32), np.array([0.5, 2.0, 1.0], np.float32)
    narrow = xg.special.zeta(xg.asarray(s), xg.asarray(q))
    assert narrow.dtype == xg.float32
    np.testing.assert_array_equal(narrow.numpy(), sc.zeta(s.astype(np.float64), q.astype(
        np.float64)).astype(np.float32))


def test_traced_values_and_gradients_equal_eager(path):
    step = xg.value_and_grad(lambda s, q: xg.sum(xg.special.zeta(s, q)), argnums=(0, 1))
    traced = xg.function(step)
    for s, q in (([1.2, 5.0, 30.0], [0.1, 3.0, 1.0]), ([2.0, 1.01, 9.0], [50.0, 1.0, 0.7])):
        s, q = xg.asarray(s, dtype=xg.float64), xg.asarray(q, dtype=xg.float64)
        (value, grads), (eager_value, eager_grads) = traced(s, q), step(s, q)
        assert value.item() == eager_value.item()
        for a, b in zip(grads, eager_grads):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="zeta: s must be real"):
        xg.special.zeta(xg.asarray([2.0 + 1.0j]), 1.0)
    with pytest.raises(TypeError, match="zeta: q must be a tensor or numbers"):
        xg.special.zeta(2.0, "one")


def test_scipys_ufuncs_on_a_tensor_differentiate():
    """scipy.special.zeta calls its private ufuncs _zeta / _riemann_zeta: both reach
    xg.special.zeta through NumPy's dispatch, as the new erfcx, exp1, expi, betaincinv and the
    a-gradients of gammainc / gammaincinv do through their public names."""
    x = xg.asarray([0.5, 2.0], dtype=xg.float64)
    cases = [(lambda t: sc.zeta(2.5, t), lambda t: xg.special.zeta(2.5, t)),
             (lambda t: sc.zeta(t + 1.5), lambda t: xg.special.zeta(t + 1.5)),
             (sc.erfcx, xg.special.erfcx), (sc.exp1, xg.special.exp1), (sc.expi, xg.special.expi),
             (lambda t: sc.betaincinv(2.0, t, 0.3), lambda t: xg.special.betaincinv(2.0, t, 0.3)),
             (lambda t: sc.gammainc(t, 1.0), lambda t: xg.special.gammainc(t, 1.0)),
             (lambda t: sc.gammaincinv(t, 0.3), lambda t: xg.special.gammaincinv(t, 0.3))]
    for theirs, ours in cases:
        value = theirs(x)
        assert isinstance(value, xg.Tensor)
        np.testing.assert_array_equal(value.numpy(), ours(x).numpy())
        np.testing.assert_array_equal(xg.grad(lambda t: xg.sum(theirs(t)))(x).numpy(),
                                      xg.grad(lambda t: xg.sum(ours(t)))(x).numpy())
