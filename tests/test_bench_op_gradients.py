"""The ``op_gradient`` workloads (``xpgrad/bench_workloads/gradients.py``) do the same work on
xpgrad and PyTorch: each operation's value and gradient agree, and an unknown one is named."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad import bench_workloads as W
from xpgrad.bench_workloads._libs import _Lib
from xpgrad.bench_workloads.gradients import _function, _inputs

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no peer to compare")


@pytest.mark.parametrize("name", W.GRADIENT_OPS)
def test_xpgrad_and_torch_compute_the_same_value_and_gradient(name):
    x0, others, _ = _inputs(name)
    x = xg.asarray(x0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = _function(_Lib("xpgrad-numpy"), name)(x, *[xg.asarray(a) for a in others])
        loss = xg.sum(y * xg.cos(xg.arange(y.size, dtype=y.dtype).reshape(y.shape)))
    tx = torch.tensor(x0, requires_grad=True)
    ty = _function(_Lib("torch-cpu"), name)(tx, *[torch.from_numpy(a) for a in others])
    (ty * torch.cos(torch.arange(ty.numel(), dtype=ty.dtype).reshape(ty.shape))).sum().backward()
    # PyTorch's float32 lgamma(a) + lgamma(b) - lgamma(a + b) cancels: 3e-6 off absolute;
    # float32 running sums of 256 normal entries reach about 40 (an ulp of 4e-6) and may
    # cancel to near zero: np.cumsum itself is 2e-5 off float64's sums there, PyTorch 2e-6
    atol = 1e-5 if name == "betaln" else 3e-5 if name.startswith("cumsum") else 1e-6
    if name == "cumprod_last":     # products and gradients reach 1.5e3: float32's (NumPy's
        atol = 1e-3                # running sums and PyTorch's) are 2.5e-4 off float64's

    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=atol)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), tx.grad.numpy(), rtol=1e-5,
                               atol=atol)
    assert W.build("op_gradient", "xpgrad-numpy", name=name).work == {"shape": x0.shape}


def test_an_unknown_operation_is_named():
    with pytest.raises(ValueError, match="unknown operation 'topk'; expected one of"):
        W.build("op_gradient", "xpgrad-numpy", name="topk")
