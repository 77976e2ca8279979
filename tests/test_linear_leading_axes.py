"""``linear`` on input with leading axes (a sequence's (T, N, in), attention's (N, L, d)) runs
as one (T*N, in) product, as PyTorch's ``F.linear`` (it was a batched matmul whose weight
gradient summed T products: twice the time): values and gradients equal PyTorch's, with and
without bias, with a fused activation, on every CPU backend."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("activation", [None, "relu", "tanh"])
@pytest.mark.parametrize("shape", [(5, 3, 4), (2, 3, 2, 4)])
def test_leading_axes_equal_torch(backend, bias, activation, shape):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=shape), rng.normal(size=(4, 6)), rng.normal(size=6)
    seed = rng.normal(size=shape[:-1] + (6,))
    xs = [xg.asarray(a, backend=backend) for a in (x, w, b)]
    with xg.GradientTape() as tape:
        for t in xs:
            tape.watch(t)
        y = xg.nn.linear(xs[0], xs[1], xs[2] if bias else None, activation=activation)
    grads = tape.gradient(y, xs[:3] if bias else xs[:2],
                          output_gradients=xg.asarray(seed, backend=backend))
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ty = torch.nn.functional.linear(ts[0], ts[1].T, ts[2] if bias else None)
    if activation is not None:
        ty = {"relu": torch.relu, "tanh": torch.tanh}[activation](ty)
    ty.backward(torch.tensor(seed))
    assert y.shape == shape[:-1] + (6,)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, ts):
        np.testing.assert_allclose(got.numpy(), want.grad.numpy(), rtol=1e-12, atol=1e-12)
