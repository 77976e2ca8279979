"""Bug bash (session 14): xg.special edge values against SciPy (and PyTorch where it has the
function): entr of NaN, pseudo_huber of residuals whose square overflows."""
import math

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

scipy_special = pytest.importorskip("scipy.special")
torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_entr_of_nan_is_nan(backend):
    """entr(NaN) was -inf (the 'x < 0' branch caught NaN); SciPy and PyTorch give NaN."""
    x = np.array([math.nan, -1.0, 0.0, 0.5, math.inf])
    got = xg.special.entr(xg.asarray(x, backend=backend)).numpy()
    np.testing.assert_array_equal(got, scipy_special.entr(x))
    np.testing.assert_array_equal(got, torch.special.entr(torch.tensor(x)).numpy())


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e200), (np.float32, 3e19)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_pseudo_huber_of_a_huge_residual_is_finite(backend, dtype, big):
    """r * r overflowed and r * r / (sqrt(1 + (r/delta)**2) + 1) gave inf / inf = NaN."""
    delta = np.array([1.0, 2.0, 1.0, 0.5], dtype)
    r = np.array([big, -big, math.inf, 3.0], dtype)
    got = xg.special.pseudo_huber(xg.asarray(delta, backend=backend),
                                  xg.asarray(r, backend=backend)).numpy()
    expected = delta.astype(np.float64) * np.abs(r.astype(np.float64))   # delta |r|, |r| >> delta
    expected[-1] = scipy_special.pseudo_huber(0.5, 3.0)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_pseudo_huber_values_and_gradients_unchanged_elsewhere():
    rng = np.random.default_rng(0)
    delta = rng.uniform(0.1, 3.0, 6)
    r = np.concatenate([rng.normal(size=5) * 4, [0.0]])
    got = xg.special.pseudo_huber(xg.asarray(delta), xg.asarray(r)).numpy()
    np.testing.assert_allclose(got, scipy_special.pseudo_huber(delta, r), rtol=1e-13)
    check_grads(lambda d, x: xg.special.pseudo_huber(d, x), (xg.asarray(delta), xg.asarray(r)),
                order=2)
