"""The Numba backend's exponential (``_math.exp_neg``) keeps subnormal results, as NumPy's and
PyTorch's do: eager kernels (sigmoid, softmax) agree with ``xg.function``'s compiled path and
with NumPy down to the smallest subnormal, where they used to flush to 0 below 1.2e-38."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

numba = pytest.importorskip("numba")
if "numba" not in backend_report():
    pytest.skip("needs the numba backend", allow_module_level=True)
xg.get_backend("numba")
from xpgrad.backends.numba import _math  # noqa: E402  (after the backend sets Numba up)

DTYPES = [np.float32, np.float64]


@numba.njit(fastmath=_math.LOOP_FLAGS, error_model="numpy")
def _exp_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = _math.exp_neg(x[i])


def _subnormal_arguments(dt):
    """Arguments whose exponential is subnormal, and a little either side."""
    lowest = np.log(np.finfo(dt).smallest_subnormal.astype(np.float64)) - 1.0
    normal = np.log(np.finfo(dt).tiny.astype(np.float64)) + 1.0
    return np.linspace(lowest, normal, 200001).astype(dt)


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
def test_exp_neg_keeps_subnormal_results_as_numpy(dt):
    x = _subnormal_arguments(dt)
    out = np.empty_like(x)
    _exp_loop(x, out)
    want = np.exp(x)
    subnormal = (want > 0) & (want < np.finfo(dt).tiny)
    assert subnormal.sum() > 1000
    step = float(np.finfo(dt).smallest_subnormal)
    error = np.abs(out.astype(np.float64) - want.astype(np.float64)) / step
    assert error[subnormal].max() <= 2.0
    np.testing.assert_array_equal(out == 0, want == 0)      # the same last nonzero argument


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
def test_exp_neg_edges(dt):
    x = np.array([0.0, -0.0, -np.inf, np.nan, -1e30, -0.5], dt)
    out = np.empty_like(x)
    _exp_loop(x, out)
    assert out[0] == 1.0 and out[1] == 1.0 and out[2] == 0.0 and np.isnan(out[3])
    assert out[4] == 0.0
    np.testing.assert_allclose(out[5], np.exp(dt(-0.5)), rtol=4 * np.finfo(dt).eps)


def test_sigmoid_eager_equals_compiled_and_numpy_at_subnormal_results():
    data = np.array([-88.5, -95.0, -100.0, -103.0, -104.0, -5.0], np.float32)
    x = xg.asarray(data, backend="numba")

    def step(v):
        with xg.GradientTape() as tape:
            tape.watch(v)
            y = xg.sigmoid(v)
            total = xg.sum(y)
        return y, tape.gradient(total, v)

    eager_y, eager_g = step(x)
    compiled = xg.function(step)
    for _ in range(2):
        compiled_y, compiled_g = compiled(x)
    want = (1.0 / (1.0 + np.exp(-data.astype(np.float64)))).astype(np.float32)
    step_size = float(np.finfo(np.float32).smallest_subnormal)
    np.testing.assert_allclose(eager_y.numpy(), want, rtol=1e-6, atol=2 * step_size)
    np.testing.assert_allclose(eager_y.numpy(), compiled_y.numpy(), rtol=1e-6,
                               atol=2 * step_size)
    np.testing.assert_allclose(eager_g.numpy(), compiled_g.numpy(), rtol=1e-6,
                               atol=2 * step_size)
    assert eager_y.numpy()[0] > 3e-39                       # 3.7e-39, not flushed


def test_softmax_keeps_a_subnormal_probability_as_torch():
    torch = pytest.importorskip("torch")
    data = np.array([[0.0, -95.0, -88.5]], np.float32)
    got = xg.nn.softmax(xg.asarray(data, backend="numba")).numpy()
    want = torch.softmax(torch.tensor(data), -1).numpy()
    step_size = float(np.finfo(np.float32).smallest_subnormal)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=2 * step_size)
    assert got[0, 1] > 0
