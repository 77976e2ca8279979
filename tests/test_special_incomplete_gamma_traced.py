"""xg.special.gammainc / gammaincc under xg.function (each call one step of the program, run
again whole on each replay's arrays: its choice of series by range and its loops read the
values) against eager calls, exactly, including replays at values in other regions than the
traced ones, and a short program; the compaction of the loops (converged elements dropped as
they go) against one element at a time; and NaN, never a truncated sum, where the iterations
would not converge."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import incomplete_gamma_formulas as igf

sc = pytest.importorskip("scipy.special")
torch = pytest.importorskip("torch")
D = xg.distributions


def _every_region(rng, n=64):
    """a and x over all four evaluations: P's series, Q's series (small a, x <= 1.1), Q's
    continued fraction, Temme's expansion (a >= 20, x within 30% of a), with a up to 1e20."""
    a = np.exp(rng.uniform(np.log(1e-4), np.log(1e20), n))
    x = a * np.exp(rng.uniform(-1.5, 1.5, n))
    a[:8], x[:8] = rng.uniform(1e-3, 0.5, 8), rng.uniform(1e-3, 1.1, 8)     # Q's series
    a[8:16] = np.geomspace(20.0, 1e20, 8)
    x[8:16] = a[8:16] * rng.uniform(0.7, 1.3, 8)                            # Temme's
    return a, x


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_traced_equals_eager_and_replays_at_other_regions(name):
    fn = getattr(xg.special, name)
    compiled = xg.function(lambda a, x: fn(a, x))
    rng = np.random.default_rng(3)
    for _ in range(3):                       # the first call traces, the others replay
        a, x = _every_region(rng)
        a_t, x_t = xg.asarray(a, dtype=xg.float64), xg.asarray(x, dtype=xg.float64)
        traced, eager = compiled(a_t, x_t).numpy(), fn(a_t, x_t).numpy()
        np.testing.assert_array_equal(traced, eager)
        # far tails lose digits to rounding (x - a) / a (test_special_incomplete_gamma*.py
        # measure accuracy); here only that both are the function
        np.testing.assert_allclose(traced, getattr(sc, name)(a, x), rtol=1e-10, atol=1e-300)
    # a replay where every element takes the one evaluation the trace's elements all avoided
    a_t = xg.asarray(np.full(64, 1e15), dtype=xg.float64)
    x_t = xg.asarray(np.linspace(0.99e15, 1.01e15, 64), dtype=xg.float64)
    np.testing.assert_array_equal(compiled(a_t, x_t).numpy(), fn(a_t, x_t).numpy())
    assert compiled.trace_count == 1
    (program,) = compiled.programs()
    assert program.source.count("\n") < 20      # unrolled (150 steps a loop): 11,459 lines


def test_compiled_gamma_and_chi2_cdf_equal_eager_with_gradients():
    def cdf_and_grad(concentration, rate, value):
        with xg.GradientTape() as tape:
            tape.watch(rate)
            tape.watch(value)
            p = D.Gamma(concentration, rate).cdf(value)
            total = xg.sum(p)
        return (p, *tape.gradient(total, [rate, value]))

    compiled = xg.function(cdf_and_grad)
    rng = np.random.default_rng(7)
    for _ in range(2):
        a, x = _every_region(rng, 32)
        rate = rng.uniform(0.5, 2.0, 32)
        args = [xg.asarray(v, dtype=xg.float64) for v in (a, rate, x / rate)]
        for got, want in zip(compiled(*args), cdf_and_grad(*args)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    chi2 = xg.function(lambda df, v: D.Chi2(df).cdf(v))
    df, v = xg.asarray([3.0, 2e6], dtype=xg.float64), xg.asarray([2.5, 2e6], dtype=xg.float64)
    want = torch.distributions.Chi2(torch.tensor([3.0, 2e6], dtype=torch.float64)).cdf(
        torch.tensor([2.5, 2e6], dtype=torch.float64)).numpy()
    np.testing.assert_array_equal(chi2(df, v).numpy(), D.Chi2(df).cdf(v).numpy())
    np.testing.assert_allclose(chi2(df, v).numpy(), want, rtol=1e-10)


def test_compacted_loops_give_each_element_its_own_value():
    # elements converging at very different steps, in one array and one at a time
    rng = np.random.default_rng(11)
    a = np.exp(rng.uniform(np.log(1e-3), np.log(19.0), 300))
    x = np.exp(rng.uniform(np.log(1e-3), np.log(400.0), 300))
    together = xg.special.gammaincc(xg.asarray(a, dtype=xg.float64),
                                    xg.asarray(x, dtype=xg.float64)).numpy()
    alone = [xg.special.gammaincc(xg.asarray(ai, dtype=xg.float64),
                                  xg.asarray(xi, dtype=xg.float64)).item()
             for ai, xi in zip(a, x)]
    np.testing.assert_allclose(together, alone, rtol=4e-16, atol=0)
    np.testing.assert_allclose(together, sc.gammaincc(a, x), rtol=1e-13, atol=1e-300)
    grid = xg.special.gammainc(xg.asarray(a.reshape(20, 15), dtype=xg.float64),
                               xg.asarray(x.reshape(20, 15), dtype=xg.float64))
    assert grid.shape == (20, 15)
    np.testing.assert_allclose(grid.numpy().ravel(), sc.gammainc(a, x), rtol=1e-13,
                               atol=1e-300)


@pytest.mark.parametrize("traced", [False, True])
def test_unconverged_iterations_give_nan_not_a_truncated_sum(monkeypatch, traced):
    monkeypatch.setattr(igf, "SERIES_ITERATIONS", 20)
    monkeypatch.setattr(igf, "FRACTION_ITERATIONS", 20)
    a = xg.asarray([10.0, 0.5, 3.0, 1e5], dtype=xg.float64)
    x = xg.asarray([9.0, 0.01, 40.0, 1e5], dtype=xg.float64)   # slow series, fast, fast, Temme
    fn = xg.function(xg.special.gammainc) if traced else xg.special.gammainc
    got = fn(a, x).numpy()
    assert np.isnan(got[0])
    np.testing.assert_allclose(got[1:], sc.gammainc(a.numpy()[1:], x.numpy()[1:]), rtol=1e-14)


def test_iterate_rejects_nothing_silently():
    import array_api_compat.numpy as xp

    def halve(xp, n, v, c):
        return v[0] * 0.5, v[1] + v[0] * 0.5

    def small(xp, v, c):
        return v[0] <= 1e-16 * v[1] * c[0]

    start = (np.ones(3), np.ones(3))
    for eager in (True, False):                   # c[0] = 0 never converges
        got = igf.iterate(xp, halve, small, lambda v, c: v[1], start,
                          (np.array([1.0, 0.0, 1.0]),), 100, eager)
        assert got[0] == got[2] == pytest.approx(2.0, rel=1e-15) and np.isnan(got[1])
