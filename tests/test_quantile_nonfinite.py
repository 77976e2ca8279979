"""``np.median``/``np.quantile``/``np.percentile`` on Tensors with NaN and infinities: a NaN
anywhere along the axis makes the result NaN, an infinite neighbour does not spoil a value
interpolated from the nearer end, and the median is the middle value (or the mean of the two
middle ones) as NumPy's; compared with NumPy itself (an array ``q``: NumPy's scalar-``q``
path differs from its own array path at q = 0)."""
import warnings

import numpy as np
import pytest

import xpgrad as xg

CASES = [[1.0, 2.0, np.inf], [3.0, 1.0, 2.0, np.nan, 5.0], [-np.inf, 0.0, np.inf],
         [1.0, 2.0, 3.0, 4.0], [np.inf, np.inf], [-np.inf, -np.inf, 1.0], [-np.inf, np.inf],
         [4.0, -np.inf, 2.0, 7.0]]


def _numpy(fn, *args, **kw):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kw)


@pytest.mark.parametrize("values", CASES)
def test_median_and_quantiles_match_numpy(values):
    a = np.array(values)
    t = xg.asarray(a)
    np.testing.assert_array_equal(np.median(t).numpy(), _numpy(np.median, a))
    q = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(np.quantile(t, q).numpy(), _numpy(np.quantile, a, q))


def test_nan_propagates_along_an_axis_only():
    x = np.random.default_rng(0).normal(size=(4, 5))
    x[1, 2] = np.nan
    t = xg.asarray(x)
    for axis in (0, 1):
        got = np.percentile(t, [25, 75], axis=axis).numpy()
        np.testing.assert_allclose(got, _numpy(np.percentile, x, [25, 75], axis=axis))
        np.testing.assert_allclose(np.median(t, axis=axis).numpy(), _numpy(np.median, x, axis=axis))


def test_gradient_of_a_quantile_beside_an_infinity():
    x = xg.asarray(np.array([-np.inf, 0.0, 1.0, np.inf]))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = np.quantile(x, 0.5)
    assert y.item() == 0.5
    assert tape.gradient(y, x).tolist() == [0.0, 0.5, 0.5, 0.0]
