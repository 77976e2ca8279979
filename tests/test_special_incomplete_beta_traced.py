"""xg.special.betainc, betaincc, stdtr, fdtr, fdtrc and gammaincinv under xg.function: their
loops (the continued fraction, Newton's steps) run as one step of the program, so a traced
call and its replays give the eager values and gradients, also where the fraction needs a
thousand steps (a or b in the thousands next to the crossover), and the program stays short.
Both paths of the NumPy backend: SciPy's kernels for the values, and the generic formulas
(which the other backends run) with SciPy switched off."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import special_scipy

sc = pytest.importorskip("scipy.special")

SHAPES = (0.5, 50.0, 5000.0)
# unrolled, the fraction made a program of ~94,000 lines; run as one step per loop, what is
# left (the densities, log-gammas of the x-gradient: ~2,400 lines) stays well below
MOST_LINES = 10_000


@pytest.fixture(params=["scipy", "generic"])
def path(request, monkeypatch):
    """``"generic"``: SciPy's kernels decline (as where SciPy is not installed)."""
    monkeypatch.setattr(special_scipy, "_SCIPY",
                        None if request.param == "scipy" else special_scipy._MISSING)
    return request.param


def f64(values):
    return xg.asarray(values, dtype=xg.float64)


def _near_crossover(scale):
    """Every pair of a, b in SHAPES, x just below and just above the crossover ``c = (a + 1)
    / (a + b + 2)`` (where the fraction takes the most steps): ``c (1 - scale)`` and
    ``1 - (1 - c) (1 - scale)``."""
    a, b = (v.ravel() for v in np.meshgrid(SHAPES, SHAPES))
    crossover = (a + 1.0) / (a + b + 2.0)
    x = np.concatenate([crossover * (1.0 - scale), 1.0 - (1.0 - crossover) * (1.0 - scale)])
    return np.concatenate([a, a]), np.concatenate([b, b]), x


def _program_lines(compiled):
    (program,) = compiled.programs()
    return program.source.count("\n")


def _all_gradients(fn):
    return xg.value_and_grad(lambda *args: xg.sum(fn(*args)), argnums=(0, 1, 2))


def _flat(result):
    value, grads = result
    return [value.numpy()] + [g.numpy() for g in grads]


def _assert_same(traced, eager):
    for ours, expected in zip(_flat(traced), _flat(eager)):
        assert not np.isnan(expected).any()
        np.testing.assert_allclose(ours, expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", ["betainc", "betaincc"])
def test_traced_values_and_gradients_equal_eager_at_large_shapes(path, name):
    step = _all_gradients(getattr(xg.special, name))
    compiled = xg.function(step)
    for scale in (1e-3, 1e-2, 1e-4):            # eager call, trace, replay at other values
        a, b, x = (f64(v) for v in _near_crossover(scale))
        _assert_same(compiled(a, b, x), step(a, b, x))
    assert compiled.trace_count == 1
    assert _program_lines(compiled) < MOST_LINES
    a, b, x = _near_crossover(1e-4)
    reference = getattr(sc, name)(a, b, x)
    np.testing.assert_allclose(compiled(f64(a), f64(b), f64(x))[0].item(), reference.sum(),
                               rtol=1e-12)


def test_traced_shape_gradients_match_finite_differences(path):
    compiled = xg.function(_all_gradients(xg.special.betainc))
    a, b, x = _near_crossover(1e-3)
    compiled(f64(a), f64(b), f64(x))
    _, (by_a, by_b, by_x) = compiled(f64(a), f64(b), f64(x))
    for ours, shifted, h in ((by_a, lambda h: sc.betainc(a + h, b, x), 1e-5 * a),
                             (by_b, lambda h: sc.betainc(a, b + h, x), 1e-5 * b)):
        central = (shifted(h) - shifted(-h)) / (2.0 * h)
        np.testing.assert_allclose(ours.numpy(), central, rtol=1e-5)
    central = (sc.betainc(a, b, x * (1 + 1e-7)) - sc.betainc(a, b, x * (1 - 1e-7))) / (2e-7 * x)
    np.testing.assert_allclose(by_x.numpy(), central, rtol=1e-5)


@pytest.mark.parametrize("name", ["fdtr", "fdtrc"])
def test_traced_f_distribution_equals_eager(path, name):
    step = _all_gradients(getattr(xg.special, name))
    compiled = xg.function(step)
    for scale in (0.5, 1.0, 2.0):
        a, b, _ = _near_crossover(0.0)
        dfn, dfd, f = f64(2.0 * a), f64(2.0 * b), f64(scale * b / a)
        _assert_same(compiled(dfn, dfd, f), step(dfn, dfd, f))
    assert _program_lines(compiled) < MOST_LINES


def test_traced_stdtr_equals_eager(path):
    step = xg.value_and_grad(lambda df, t: xg.sum(xg.special.stdtr(df, t)), argnums=(0, 1))
    compiled = xg.function(step)
    df = f64(np.repeat(SHAPES, 3))
    for t in ([-2.0, 0.3, 4.0] * 3, [-0.01, 1.5, -8.0] * 3, [0.7, -0.7, 1e-3] * 3):
        _assert_same(compiled(df, f64(t)), step(df, f64(t)))
    assert _program_lines(compiled) < MOST_LINES


def test_traced_gammaincinv_equals_eager(path):
    step = xg.value_and_grad(lambda y, a: xg.sum(xg.special.gammaincinv(a, y)))
    compiled = xg.function(step)
    a = f64(np.repeat(SHAPES, 2))
    for y in ([1e-6, 0.3] * 3, [0.5, 0.999] * 3, [0.01, 0.9] * 3):
        traced, eager = compiled(f64(y), a), step(f64(y), a)
        np.testing.assert_allclose(traced[0].item(), eager[0].item(), rtol=1e-13)
        np.testing.assert_allclose(traced[1].numpy(), eager[1].numpy(), rtol=1e-13)
        quantile = sc.gammaincinv(a.numpy(), y)         # dx/dy: 1 / the Gamma(a) density
        np.testing.assert_allclose(eager[1].numpy(), np.exp(
            quantile + sc.gammaln(a.numpy()) - (a.numpy() - 1.0) * np.log(quantile)), rtol=1e-9)
    assert _program_lines(compiled) < MOST_LINES


def test_traced_float32_rounds_the_float64_result(path):
    compiled = xg.function(lambda a, b, x: xg.special.betainc(a, b, x))
    a, b, x = _near_crossover(1e-2)
    for _ in range(3):
        out = compiled(*(xg.asarray(v, dtype=xg.float32) for v in (a, b, x)))
        assert out.dtype == xg.float32
        expected = sc.betainc(*(v.astype(np.float32).astype(np.float64) for v in (a, b, x)))
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
