"""The NumPy backend's ``sign`` kernel (backends/numpy/kernels.py): ``np.sign``'s values bit for
bit (signed zeros, subnormals, infinities, NaN) in both float dtypes, a zero gradient (as
PyTorch's and finite differences'); complex numbers and 0-d arrays left to the generic rule.
(tests/test_kernel_protocol.py checks it against the generic rule.)"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.kernels import KERNELS
from xpgrad.testing import check_grads

pytestmark = pytest.mark.usefixtures("numpy_default")
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_are_numpys_bit_for_bit(dtype):
    info = np.finfo(dtype)
    x = np.concatenate([np.random.default_rng(0).normal(size=500) * 1e3,
                        [0.0, -0.0, info.smallest_subnormal, -info.smallest_subnormal,
                         info.tiny, info.max, -info.max, np.inf, -np.inf, np.nan]]).astype(dtype)
    got = xg.sign(xg.asarray(x)).numpy()
    want = np.sign(x)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))      # -0.0 gives 0.0
    np.testing.assert_array_equal(xg.sign(xg.asarray(x[::-2])).numpy(), want[::-2])


def test_gradient_is_zero_as_torch_and_finite_differences():
    x = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    xt = xg.asarray(x)
    d = xg.grad(lambda v: xg.sum(xg.sign(v) * v))(xt).numpy()
    tx = torch.tensor(x, requires_grad=True)
    (torch.sign(tx) * tx).sum().backward()
    np.testing.assert_array_equal(d, tx.grad.numpy())            # |x|' = sign(x), sign' = 0
    check_grads(xg.sign, [xg.asarray(np.array([-2.0, -0.3, 0.7, 5.0]))], order=2)


def test_complex_and_0d_are_the_generic_rules():
    forward = KERNELS["sign"].forward
    assert forward(np.array([1 + 1j])) is None and forward(np.float32(-2.0)) is None
    assert forward(np.array([1, -2])) is None                     # integers: the generic rule
    z = np.array([3 + 4j, 0j], np.complex64)
    np.testing.assert_allclose(xg.sign(xg.asarray(z)).numpy(), [0.6 + 0.8j, 0j], rtol=1e-6)
    assert xg.sign(xg.asarray(np.float32(-2.0))).item() == -1.0
    with pytest.raises(TypeError):
        xg.sign("x")
