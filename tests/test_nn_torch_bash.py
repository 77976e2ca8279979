"""``xg.nn`` activations and ``xg.losses`` as a PyTorch user meets them at the edges: integer
inputs to activations, empty batches under reduction="mean"."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
F = torch.nn.functional

BACKENDS = [b for b in ("numpy", "numba") if b in xg.available_backends()]
#: activations that only make sense on floating point: integers come out in float32, as
#: ``xg.tanh``'s and ``xg.mean``'s do (and PyTorch's sigmoid and softsign in its default float32)
FLOATING = ["sigmoid", "softplus", "elu", "selu", "celu", "gelu", "silu", "mish", "softsign",
            "log_sigmoid", "hardsigmoid", "hardswish", "leaky_relu", "softmax", "log_softmax",
            "glu"]
#: activations PyTorch computes in the integer dtype itself, and the interval each clips to
INTEGRAL = {"relu": (torch.relu, 0, None), "relu6": (F.relu6, 0, 6),
            "hardtanh": (F.hardtanh, -1, 1)}
INT_DTYPES = [np.int64, np.int32, np.int8, np.uint8]


def _ints(dtype):
    values = [1, 0, 3, 4] if np.dtype(dtype).kind == "u" else [1, -2, 3, -4]
    return np.array(values, dtype=dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", INT_DTYPES + [np.bool_])
@pytest.mark.parametrize("name", FLOATING)
def test_floating_activations_of_integers_are_float32(name, dtype, backend):
    """They came out in float64 (NumPy's int-with-float promotion), or raised NumPy's "boolean
    negative is not supported" for booleans."""
    x = _ints(dtype) if dtype is not np.bool_ else np.array([True, False, True, False])
    fn = getattr(xg.nn, name)
    got = fn(xg.asarray(x, backend=backend))
    assert got.dtype == xg.float32 == xg.tanh(xg.asarray(x, backend=backend)).dtype
    np.testing.assert_array_equal(got.numpy(), fn(xg.asarray(x.astype(np.float32),
                                                             backend=backend)).numpy())


@pytest.mark.parametrize("name", ["sigmoid", "softsign"])
def test_integer_sigmoid_and_softsign_match_pytorch(name):
    x = _ints(np.int64)
    theirs = getattr(F, name)(torch.tensor(x))
    ours = getattr(xg.nn, name)(xg.asarray(x))
    assert str(theirs.dtype) == "torch.float32" and ours.dtype == xg.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("name", sorted(INTEGRAL))
def test_relu_relu6_hardtanh_keep_integers_as_pytorch(name, dtype, backend):
    """relu gave float64 where relu6 and hardtanh (and PyTorch's three) keep the dtype.
    (PyTorch refuses hardtanh's negative limit on unsigned integers; here it clips.)"""
    theirs, low, high = INTEGRAL[name]
    x = _ints(dtype)
    ours = getattr(xg.nn, name)(xg.asarray(x, backend=backend)).numpy()
    assert ours.dtype == dtype
    np.testing.assert_array_equal(ours, np.clip(x, low, high))
    if np.dtype(dtype).kind == "i":
        np.testing.assert_array_equal(ours, theirs(torch.tensor(x)).numpy())
