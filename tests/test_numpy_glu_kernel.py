"""glu as one primitive (``ops/activations_torch.py``) and its NumPy kernel
(``backends/numpy/activations.py``: ``a / (1 + e)``, the backward from ``e = exp(-b)``): the
kernel against the generic rule (float64 to rounding, float32 against the float64 rule), both
against PyTorch and finite differences, the edges (infinities, NaN, where exp overflows) as the
rule's, empty and non-contiguous inputs, and one tape node whose gradient has ``x``'s shape."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import array_api_compat.numpy as npx
import xpgrad as xg
from xpgrad.primitive import PRIMITIVES

pytestmark = pytest.mark.usefixtures("numpy_default")

KERNEL = xg.get_backend("numpy").kernels["glu"]
GLU = PRIMITIVES["glu"]


def _rule(x, g, axis):
    return GLU.forward(npx, x, axis=axis), GLU.vjp(npx, g, None, [True], [x], {"axis": axis})[0]


def _kernel(x, g, axis):
    y, saved = KERNEL.forward(x, axis=axis)
    return y, KERNEL.vjp(g, saved, x, axis=axis)[0]


def _taped(x, g, axis):
    t = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(t)
        y = xg.nn.glu(t, axis=axis)
    return y.numpy(), tape.gradient(y, t, output_gradients=xg.asarray(g)).numpy()


def _torch(x, g, axis):
    t = torch.tensor(x, requires_grad=True)
    y = F.glu(t, axis)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_float64_kernel_is_the_rule_and_pytorch(axis):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8)) * 6
    g = rng.normal(size=_torch(x, np.zeros((3, 8) if axis == 0 else (6, 4)), axis)[0].shape)
    y, grad = _kernel(x, g, axis)
    want_y, want_grad = _rule(x, g, axis)
    np.testing.assert_allclose(y, want_y, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-15, atol=1e-15 * np.abs(g).max())
    torch_y, torch_grad = _torch(x, g, axis)
    np.testing.assert_allclose(y, torch_y, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-12, atol=1e-14)
    taped_y, taped_grad = _taped(x, g, axis)
    np.testing.assert_array_equal(taped_y, y)
    np.testing.assert_array_equal(taped_grad, grad)


def test_float64_gradient_against_finite_differences():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=(2, 500)) * 8, np.linspace(-30, 30, 1000).reshape(2, -1)],
                       axis=1)
    g = rng.normal(size=(2, x.shape[1] // 2))
    grad = _kernel(x, g, 1)[1]
    h = 1e-6
    for i in range(0, x.size, 97):
        up, down = x.copy(), x.copy()
        up.flat[i] += h
        down.flat[i] -= h
        numeric = np.sum(g * (KERNEL.forward(up, axis=1)[0] - KERNEL.forward(down, axis=1)[0]))
        assert abs(grad.flat[i] - numeric / (2 * h)) <= 1e-7 * (1 + abs(grad.flat[i]))


def test_float32_against_the_float64_rule():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(size=(64, 256)) * 5,
                        np.linspace(-90, 90, 64 * 256).reshape(64, 256)]).astype(np.float32)
    g = rng.normal(size=(128, 128)).astype(np.float32)
    y, grad = _kernel(x, g, 1)
    assert y.dtype == grad.dtype == np.float32
    want_y, want_grad = _rule(x.astype(np.float64), g.astype(np.float64), 1)
    eps = np.finfo(np.float32).eps
    np.testing.assert_allclose(y, want_y, rtol=3 * eps, atol=1e-37)
    np.testing.assert_allclose(grad, want_grad, rtol=4 * eps, atol=1e-37)
    torch_y, torch_grad = _torch(x, g, 1)
    np.testing.assert_allclose(y, torch_y, rtol=3 * eps, atol=1e-37)
    # PyTorch's sigmoid'(b) = s (1 - s) cancels where s is near 1: absolute
    np.testing.assert_allclose(grad, torch_grad, rtol=4 * eps, atol=4 * eps * np.abs(g).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_are_the_generic_rules(dtype):
    """+-inf and NaN in either half, and -100/-800 where exp(-b) overflows: the rule's values
    and NaNs, with no floating-point warning from the kernel."""
    big = np.finfo(dtype).max
    a = np.array([1.0, -2.0, np.inf, -np.inf, np.inf, np.nan, 3.0, 0.5, -0.0, big, 2.0],
                 dtype)
    b = np.array([np.inf, -np.inf, -np.inf, 5.0, -800.0, 0.0, np.nan, -100.0, 1.0, 1e30, -big],
                 dtype)
    x = np.stack([a, b], axis=1)                   # the halves along axis 1
    g = np.linspace(-1.5, 2.0, a.size).astype(dtype)[:, None]
    with np.errstate(all="raise", under="ignore"):
        y, grad = _kernel(x, g, 1)
    with np.errstate(all="ignore"):
        want_y, want_grad = _rule(x, g, 1)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want_y))
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(want_grad))
    tiny = np.finfo(dtype).tiny
    np.testing.assert_allclose(y, want_y, rtol=4 * np.finfo(dtype).eps, atol=1e3 * tiny)
    np.testing.assert_allclose(grad, want_grad, rtol=4 * np.finfo(dtype).eps, atol=1e3 * tiny)


def test_empty_and_non_contiguous_inputs():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 10))
    strided = x.T[::2]                             # (5, 6), neither C nor F contiguous
    g = rng.normal(size=(5, 3))
    for got, want in zip(_kernel(strided, g, 1), _rule(strided, g, 1)):
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-300)
    for got, want in zip(_taped(strided, g, 1), _torch(np.ascontiguousarray(strided), g, 1)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    for shape, axis in (((0, 4), 1), ((3, 0), 1), ((0, 4), 0)):
        empty = np.zeros(shape)
        out_shape = list(shape)
        out_shape[axis] //= 2
        y, grad = _taped(empty, np.zeros(out_shape), axis)
        assert y.shape == tuple(out_shape) and grad.shape == shape


def test_declines_integers_and_0d():
    assert KERNEL.forward(np.arange(4), axis=0) is None
    assert KERNEL.forward(np.float64(2.0), axis=0) is None


def test_one_tape_node_with_one_gradient_array():
    x = xg.asarray(np.random.default_rng(4).normal(size=(3, 8)))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.nn.glu(x)
    assert len(tape._nodes) == 1
    assert tape.gradient(y, x).shape == (3, 8)


@pytest.mark.parametrize("call, error, text", [
    (lambda x: xg.nn.glu(x[:, :3]), ValueError, "even length"),
    (lambda x: xg.nn.glu(x, axis=2), ValueError, "out of range"),
    (lambda x: xg.nn.glu(x[0, 0]), ValueError, "at least one dimension"),
    (lambda x: xg.nn.glu(x, dim=1), TypeError, "dim"),
    (lambda x: xg.nn.glu(xg.asarray([1 + 2j, 3j])), TypeError, "glu: x must be real"),
])
def test_bad_input_is_named(call, error, text):
    with pytest.raises(error, match=text):
        call(xg.asarray(np.ones((2, 4))))


def test_a_backend_without_the_kernel_composes_and_agrees(monkeypatch):
    """Without a glu kernel (numba, CUDA) glu is the composition, whose sigmoid is the
    backend's kernel: several tape nodes, the same value and gradient as the primitive's."""
    rng = np.random.default_rng(5)
    x0, g0 = rng.normal(size=(4, 6)) * 5, rng.normal(size=(4, 3))
    with_kernel = _taped(x0, g0, 1)
    monkeypatch.delitem(xg.get_backend("numpy").kernels, "glu")
    x = xg.asarray(x0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.nn.glu(x)
    assert len(tape._nodes) > 1
    np.testing.assert_allclose(y.numpy(), with_kernel[0], rtol=1e-15)
    np.testing.assert_allclose(tape.gradient(y, x, output_gradients=xg.asarray(g0)).numpy(),
                               with_kernel[1], rtol=1e-14, atol=1e-16)
