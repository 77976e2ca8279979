"""``xg.special.rgamma`` past the overflow of Gamma: float64 Gamma(x) is inf above 171.62
while 1 / Gamma(x) stays subnormal up to 178.3 (float32: above 35.04, up to 41.8). Before
2026-12-07 those were 0 (SciPy's are too, past 171.62); now each is mpmath's value rounded
(1 / Gamma(x - 8) over the product of x - 1 .. x - 8), on every backend."""
import warnings

import mpmath
import numpy as np
import pytest

import xpgrad as xg

F64 = [171.0, 171.5, 171.62, 171.63, 171.7, 171.75, 171.79, 172.0, 174.4, 175.0, 177.0, 178.0,
       178.3, 178.45, 179.0, 179.5, 200.0, float("inf")]
F32 = [34.9, 35.0, 35.1, 35.5, 36.0, 38.0, 41.0, 41.5, 42.5, 60.0]


def _mpmath(x, dtype):
    with mpmath.workdps(50):
        value = 0.0 if np.isinf(x) else float(mpmath.rgamma(mpmath.mpf(float(x))))
    return np.asarray(value).astype(dtype)      # rounded once, into the dtype's subnormals


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype, xs", [(np.float64, F64), (np.float32, F32)])
def test_subnormal_reciprocals_past_the_overflow_match_mpmath(backend, dtype, xs):
    xs = np.asarray(xs, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = xg.special.rgamma(xg.asarray(xs, backend=backend)).numpy()
    want = np.array([_mpmath(x, dtype) for x in xs])
    assert got.dtype == dtype
    tiny = np.finfo(dtype).smallest_subnormal
    # subnormals hold an absolute precision: within one unit of the last place there
    np.testing.assert_allclose(got, want, rtol=8 * np.finfo(dtype).eps, atol=tiny)
    assert (got[(want > 0)] > 0).all(), got


def test_values_below_the_overflow_are_unchanged():
    xs = np.array([3.0, 10.5, 100.25, 170.9])
    got = xg.special.rgamma(xg.asarray(xs)).numpy()
    want = np.array([float(mpmath.rgamma(x)) for x in xs])
    np.testing.assert_allclose(got, want, rtol=1e-13)
