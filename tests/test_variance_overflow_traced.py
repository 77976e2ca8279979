"""Overflow-safe variances under ``xg.function``: float32 data with N * std**2 > 3.4e38 (std
1e19 over 1000 entries) gave inf from a replayed ``xg.var``/``xg.std`` and 0 from replayed
normalization layers, though the eager call rescales (``xpgrad.ops.moments``): the traced code
asked no question of its data. Now a trace at such data records the rescaled way, and one at
ordinary data guards that the statistics stay finite (a replay where they do not runs
eagerly). Values and gradients of every replay must equal the eager call's, bit for bit."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import xpgrad as xg

from test_function_guards import _counting_guard_failures

torch = pytest.importorskip("torch")


def _data(scale, shape=(4, 6, 50), seed=0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def _ops():
    return {
        "var": lambda x: xg.var(x, axis=2, correction=1),
        "std": lambda x: xg.std(x),
        "layer_norm": lambda x: xg.nn.layer_norm(x, 50),
        "group_norm": lambda x: xg.nn.group_norm(x, 3),
        "batch_norm": lambda x: xg.nn.batch_norm(x, None, None, training=True),
    }


def _value_and_gradient(op):
    def run(x, g):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = op(x)
            # a statistic's sum, scaled by a power of two, stays finite (and exact)
            total = xg.sum(y * g) if y.shape == g.shape else xg.sum(y * 2.0 ** -100)
        return y, tape.gradient(total, x)
    return run


def _check_equal(got, want):
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def _calls(scales):
    g = xg.asarray(_data(1.0, seed=9))
    return [(xg.asarray(_data(s, seed=k)), g) for k, s in enumerate(scales)]


@pytest.mark.parametrize("name", sorted(_ops()))
def test_replays_of_huge_float32_data_equal_the_eager_call(name):
    run = _value_and_gradient(_ops()[name])
    compiled = xg.function(run)
    for x, g in _calls([1e19] * 4):
        want = run(x, g)
        assert np.isfinite(want[1].numpy()).all()
        _check_equal(compiled(x, g), want)
    assert compiled.programs(), "never traced: the test checks nothing"


@pytest.mark.parametrize("name", sorted(_ops()))
def test_traced_at_ordinary_data_replays_at_huge_data_equal_eager(name):
    """var and std guard that the statistics stay finite (the huge calls run eagerly); the
    normalization layers' NumPy kernels rescale themselves (they run whole on replay)."""
    run = _value_and_gradient(_ops()[name])
    compiled = xg.function(run)
    with _counting_guard_failures() as failures:
        for x, g in _calls([1.0, 1.0, 1.0, 1e19, 1.0, 1e19]):
            want = run(x, g)
            assert np.isfinite(want[1].numpy()).all()
            _check_equal(compiled(x, g), want)
    assert len(compiled.programs()) == 1
    assert bool(failures) == (name in ("var", "std"))


@pytest.mark.parametrize("name", sorted(_ops()))
def test_traced_at_huge_data_ordinary_replays_still_equal_eager(name):
    run = _value_and_gradient(_ops()[name])
    compiled = xg.function(run)
    for x, g in _calls([1e19, 1e19, 1e19, 1.0, 1e-3, 1.0]):
        _check_equal(compiled(x, g), run(x, g))


def test_replayed_var_matches_torch_in_float64():
    data = _data(1e19, (1000,))
    var = xg.function(lambda x: (xg.var(x), xg.std(x)))
    for _ in range(3):
        v, s = var(xg.asarray(data))
    t = torch.tensor(data.astype(np.float64))
    assert math.isclose(v.item(), torch.var(t, correction=0).item(), rel_tol=1e-5)
    assert math.isclose(s.item(), torch.std(t, correction=0).item(), rel_tol=1e-5)


def test_nan_data_still_gives_nan_when_replayed():
    var = xg.function(lambda x: xg.var(x))
    ordinary = xg.asarray(np.array([1.0, 2.0, 3.0], np.float32))
    with_nan = xg.asarray(np.array([1.0, np.nan, 3.0], np.float32))
    for x in (ordinary, ordinary, ordinary, with_nan, ordinary):
        assert np.array_equal(var(x).numpy(), xg.var(x).numpy(), equal_nan=True)


@pytest.mark.parametrize("first", [1.0, 1e19], ids=["traced at ordinary", "traced at huge"])
def test_replays_at_overflowing_data_warn_of_nothing(first):
    """The plain formula's overflow is expected (the statistic is checked, then rescaled or run
    eagerly): no NumPy RuntimeWarning from any replay, as from none of the eager calls."""
    stats = xg.function(lambda x: (xg.var(x), xg.std(x, axis=0, correction=1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for scale in (first, first, first, 1e19, 1.0, 1e19):
            x = xg.asarray(_data(scale, (1000,)))
            _check_equal(stats(x), (xg.var(x), xg.std(x, axis=0, correction=1)))
    assert stats.programs()


def test_an_overflow_of_the_users_own_still_warns_in_a_replay():
    compiled = xg.function(lambda x: (xg.var(x), x * 1e30))
    ordinary, huge = (xg.asarray(_data(s, (1000,))) for s in (1.0, 1e19))
    for _ in range(3):
        compiled(ordinary)
    with pytest.warns(RuntimeWarning, match="overflow encountered in multiply"):
        compiled(huge)
