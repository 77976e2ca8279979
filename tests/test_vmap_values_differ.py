"""``xg.vmap`` of a computation that reads its values (``run_quietly``'s: the incomplete gamma
and beta functions pick a series per element and iterate to convergence) where the examples
take different branches: it runs once per example, counted as one fallback under the
function's name (the failed batched attempt's own loops not counted), and equals SciPy and
the loop over the examples; before, it raised (a ragged ``x[mask]`` or a ``bool()`` that
differs between the examples) on every backend."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

sc = pytest.importorskip("scipy.special")


def test_examples_in_different_regions_equal_scipy_and_the_loop():
    a = np.array([[0.5, 3.0, 30.0], [2.0, 0.7, 25.0]])
    x = np.array([[0.2, 9.0, 29.0], [0.1, 4.0, 60.0]])      # each example: other series
    mapped = xg.vmap(lambda a, x: xg.special.gammainc(a, x) + xg.special.betainc(
        a, a + 1.0, x / (x + 1.0)))
    got = mapped(xg.asarray(a), xg.asarray(x)).numpy()
    want = sc.gammainc(a, x) + sc.betainc(a, a + 1.0, x / (x + 1.0))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert sum(mapped.fallbacks.values()) > 0
    grads = xg.vmap(xg.grad(lambda a, x: xg.sum(xg.special.gammainc(a, x)), argnums=1))(
        xg.asarray(a), xg.asarray(x)).numpy()
    one = [xg.grad(lambda a, x: xg.sum(xg.special.gammainc(a, x)), argnums=1)(
        xg.asarray(a[b]), xg.asarray(x[b])).numpy() for b in range(2)]
    np.testing.assert_allclose(grads, np.stack(one), rtol=1e-12)
    # d/dx P(a, x) is the Gamma(a) density
    np.testing.assert_allclose(grads, np.exp((a - 1) * np.log(x) - x - sc.gammaln(a)),
                               rtol=1e-10)


def test_a_read_that_differs_outside_such_a_computation_still_raises():
    with pytest.raises(ValueError, match="differs from example to example"):
        xg.vmap(lambda v: v * 2.0 if bool(xg.sum(v) > 0) else v)(
            xg.asarray([[1.0, 2.0], [-3.0, 1.0]]))


def test_fallbacks_count_the_per_example_run_alone_under_the_function_name():
    # the batched attempt's own loops (getitem of a ragged mask, setitem) are not counted: the
    # per-example run that replaced it is, once, named after the function, not its closure
    a, x = xg.asarray([0.5, 30.0, 2.0, 100.0]), xg.asarray([0.1, 25.0, 5.0, 120.0])
    values = xg.vmap(xg.special.gammainc)
    values(a, x)
    assert dict(values.fallbacks) == {"gammainc (examples' values differ)": 1}
    fractions = xg.vmap(xg.special.betainc)
    fractions(a, a, xg.asarray([0.1, 0.5, 0.9, 0.3]))
    assert dict(fractions.fallbacks) == {"betainc (examples' values differ)": 1}
    grads = xg.vmap(xg.grad(xg.special.gammainc))
    grads(a, x)
    assert dict(grads.fallbacks) == {"gammainc (examples' values differ)": 1,
                                     "gammainc's a derivative (examples' values differ)": 1}
    same = xg.vmap(xg.special.gammainc)         # one series for all: the batched run stands
    same(xg.asarray([2.0, 3.0]), xg.asarray([1.0, 2.0]))
    assert same.fallbacks and not any("values differ" in name for name in same.fallbacks)
