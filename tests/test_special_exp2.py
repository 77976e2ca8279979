"""``xg.special.exp2``: a primitive (``np.exp2``, not ``pow(2, x)``), its NumPy kernel's float32
results float64's rounded once. Values against mpmath (float64), the correctly rounded float32
value and PyTorch, on the whole range (subnormal results, overflow, +-inf, NaN, -0.0);
gradients against PyTorch and finite differences (second order too)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.special_more import KERNELS
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
mp = pytest.importorskip("mpmath")

_EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 127.0, 128.0, -126.0, -149.0, -150.0, 1023.0, 1024.0,
          -1074.0, -1075.0, np.inf, -np.inf, np.nan]


def test_float64_against_mpmath():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1074, 1023, 400), rng.uniform(-4, 4, 400)])
    got = xg.special.exp2(xg.asarray(x)).numpy()
    mp.mp.dps = 30
    for xi, gi in zip(x, got):
        exact = mp.power(2, mp.mpf(float(xi)))
        assert abs(gi - exact) <= 0.7 * np.spacing(float(exact)) + 5e-324, xi


def test_float32_is_the_rounded_exact_value():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-152, 129, 200000), _EDGES]).astype(np.float32)
    with np.errstate(over="ignore"):
        want = np.exp2(x.astype(np.float64)).astype(np.float32)       # 0.64 ulp of float64
    got = xg.special.exp2(xg.asarray(x)).numpy()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    t = torch.exp2(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, t, rtol=2.5e-7, atol=3e-45, equal_nan=True)  # subnormals


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_as_torch(dtype):
    x = np.asarray(_EDGES, dtype)
    got = xg.special.exp2(xg.asarray(x)).numpy()
    want = torch.exp2(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=2 * np.finfo(dtype).eps, atol=0, equal_nan=True)
    assert got[4] == np.sqrt(dtype(2.0))                      # correctly rounded; torch's is not
    assert got[0] == 1.0 and got[1] == 1.0 and np.isnan(got[-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_match_torch(dtype):
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(20, 30)) * 8).astype(dtype)
    x[0, :3] = [np.inf, -np.inf, 200.0]
    g = rng.normal(size=(20, 30)).astype(dtype)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.special.exp2(xt)
    got = tape.gradient(y, xt, output_gradients=xg.asarray(g)).numpy()
    tx = torch.tensor(x, requires_grad=True)
    torch.exp2(tx).backward(torch.tensor(g))
    np.testing.assert_allclose(got, tx.grad.numpy(), rtol=4 * np.finfo(dtype).eps, atol=0)


def test_gradients_against_finite_differences():
    x = xg.asarray(np.array([-3.0, -0.5, 0.0, 1.5, 7.0]))
    check_grads(xg.special.exp2, [x], order=2)
    check_grads(lambda x: xg.special.exp2(x * x), [x * 0.3], order=2)


def test_integers_bad_input_and_declines():
    np.testing.assert_array_equal(xg.special.exp2(xg.asarray([3, -1])).numpy(), [8.0, 0.5])
    assert xg.special.exp2(xg.asarray([3, -1])).dtype == xg.float32
    with pytest.raises(TypeError, match="exp2: x must be real"):
        xg.special.exp2(xg.asarray([1j]))
    with pytest.raises(TypeError, match="exp2: x must be a tensor or numbers"):
        xg.special.exp2("2")
    assert KERNELS["special_exp2"].forward(np.float16([1.0])) is None
    out, _ = KERNELS["special_exp2"].forward(np.array(1.0, np.float32))
    assert out.__class__ is np.ndarray and out.shape == () and out == 2.0
    assert xg.special.exp2(xg.asarray(3.0, dtype=xg.float64)).item() == 8.0
