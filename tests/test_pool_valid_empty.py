"""Pooling with padding="valid" over an input shorter than the (dilated) window: an empty
output (0 windows on that axis) as TensorFlow's and ``lax.reduce_window(..., "VALID")``'s,
whose gradient is zeros; PyTorch's integer padding still refuses it (a ValueError)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

CASES = [  # (function, input shape (N, C, *spatial), kernel, stride, dilation, JAX's reducer)
    (xg.nn.max_pool1d, (2, 3, 3), 5, 1, 1, "max"),
    (xg.nn.avg_pool1d, (2, 3, 4), 5, 2, 1, "add"),
    (xg.nn.max_pool1d, (2, 3, 4), 2, 1, 4, "max"),
    (xg.nn.max_pool2d, (1, 2, 3, 8), (5, 2), (1, 2), 1, "max"),
    (xg.nn.avg_pool2d, (1, 2, 8, 3), (2, 4), None, 1, "add"),
]


def _jax_valid(x, kernel, stride, dilation, reducer):
    """``lax.reduce_window`` over the spatial axes of ``x`` (N, C, *spatial), "VALID"."""
    dims = x.ndim - 2
    as_tuple = lambda v: (v,) * dims if isinstance(v, int) else tuple(v)
    kernel = as_tuple(kernel)
    stride = kernel if stride is None else as_tuple(stride)
    init, op = (-jnp.inf, jax.lax.max) if reducer == "max" else (0.0, jax.lax.add)
    return jax.lax.reduce_window(x, init, op, (1, 1) + kernel, (1, 1) + stride, "VALID",
                                 window_dilation=(1, 1) + as_tuple(dilation))


def _call(fn, x, kernel, stride, dilation, **kwargs):
    extra = {"dilation": dilation} if fn in (xg.nn.max_pool1d, xg.nn.max_pool2d) else {}
    return fn(x, kernel, stride, padding="valid", **extra, **kwargs)


@pytest.mark.parametrize("fn, shape, kernel, stride, dilation, reducer", CASES)
def test_shape_matches_jax_and_gradient_is_zeros(fn, shape, kernel, stride, dilation, reducer):
    data = np.random.default_rng(0).standard_normal(shape)
    expected = _jax_valid(jnp.asarray(data), kernel, stride, dilation, reducer)
    assert 0 in expected.shape
    x = xg.asarray(data, dtype=xg.float64)
    y = _call(fn, x, kernel, stride, dilation)
    assert y.shape == expected.shape and y.dtype == xg.float64
    grad = xg.grad(lambda t: xg.sum(_call(fn, t, kernel, stride, dilation) ** 2))(x)
    if dilation == 1:                 # JAX has no max-pooling VJP with a window dilation
        jax_grad = jax.grad(lambda t: jnp.sum(_jax_valid(t, kernel, stride, dilation,
                                                         reducer) ** 2))(jnp.asarray(data))
        np.testing.assert_array_equal(grad.numpy(), np.asarray(jax_grad))
    np.testing.assert_array_equal(grad.numpy(), np.zeros(shape))     # an empty sum's
    assert grad.shape == shape


def test_unbatched_channels_last_and_indices():
    x = xg.asarray(np.ones((3, 4)))                                   # (L, C), L < kernel
    y = xg.nn.max_pool1d(x, 5, padding="VALID", data_format="channels_last")
    assert y.shape == (0, 4)
    values, indices = xg.nn.max_pool1d(xg.ones((2, 3)), 5, padding="valid",
                                       return_indices=True)
    assert values.shape == indices.shape == (2, 0) and indices.dtype == xg.int64
    layer = xg.nn.MaxPool2d(4, padding="valid")
    assert layer(xg.ones((1, 1, 3, 9))).shape == (1, 1, 0, 2)


@pytest.mark.parametrize("fn", [xg.nn.max_pool1d, xg.nn.avg_pool1d])
def test_integer_padding_still_refuses_a_kernel_longer_than_the_input(fn):
    with pytest.raises(ValueError, match=f"{fn.__name__}: the padded input has length 3"):
        fn(xg.ones((1, 2, 3)), 5, padding=0)
