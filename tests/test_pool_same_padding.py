"""Pooling with Keras's and TensorFlow's string padding: ``padding="same"`` / ``"valid"`` for
``max_pool1d/2d``, ``avg_pool1d/2d`` and their layers, both layouts. The reference is JAX's
``lax.reduce_window`` with ``"SAME"`` / ``"VALID"`` padding (TensorFlow's rule: ``ceil(length
/ stride)`` windows, the padding split with the odd one at the end; max pooling ignores it,
average pooling divides by the input entries in each window, TensorFlow's ``avg_pool``),
values and gradients in float64; finite differences; the layers; bad padding named."""
import functools

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from window_checks import BACKENDS

jax = pytest.importorskip("jax", reason="JAX is not installed: no reference")
pytestmark = pytest.mark.usefixtures("jax")     # float64 in JAX for this module only
jnp, lax = jax.numpy, jax.lax


def _jax_pool(kind, x, kernel, stride, padding):
    """TensorFlow's pooling of channels-last ``x`` (N, *spatial, C) by reduce_window."""
    window, strides = (1, *kernel, 1), (1, *stride, 1)
    if kind == "max":
        return lax.reduce_window(x, -jnp.inf, lax.max, window, strides, padding)
    total = lax.reduce_window(x, 0.0, lax.add, window, strides, padding)
    count = lax.reduce_window(jnp.ones_like(x), 0.0, lax.add, window, strides, padding)
    return total / count


def _ours(kind, dims):
    return getattr(xg.nn, f"{kind}_pool{dims}d")


# (spatial shape, kernel, stride): odd and even totals of padding, kernel above and below the
# stride, stride 1, a kernel as long as the input
CASES = [
    ((7,), (3,), (2,)), ((6,), (2,), (1,)), ((6,), (4,), (1,)), ((9,), (2,), (3,)),
    ((5,), (5,), (2,)), ((7, 6), (3, 3), (2, 2)), ((5, 8), (2, 3), (1, 2)),
    ((6, 5), (4, 2), (3, 1)), ((4, 4), (2, 2), (2, 2)),
]


@functools.cache
def _tensorflows_rule(kind, padding, spatial, kernel, stride):
    """The case's input, JAX's pooled values, a cotangent and JAX's gradient for it: computed
    once for ``"same"`` and ``"SAME"`` (one rule; each JAX shape compiles anew)."""
    x = np.random.default_rng(len(spatial) * 10 + kernel[0]).standard_normal((2, *spatial, 3))
    reference, pullback = jax.vjp(
        lambda x: _jax_pool(kind, x, kernel, stride, padding), jnp.asarray(x))
    cotangent = np.cos(np.arange(reference.size)).reshape(reference.shape)
    (expected_grad,) = pullback(jnp.asarray(cotangent))
    return x, np.asarray(reference), cotangent, np.asarray(expected_grad)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("padding", ["same", "valid", "SAME"])
@pytest.mark.parametrize("spatial, kernel, stride", CASES)
def test_values_and_gradients_match_tensorflows_rule(kind, padding, spatial, kernel, stride):
    dims = len(spatial)
    x, reference, cotangent, expected_grad = _tensorflows_rule(kind, padding.upper(), spatial,
                                                               kernel, stride)
    fn = _ours(kind, dims)
    k, s = (kernel[0], stride[0]) if dims == 1 else (kernel, stride)
    for layout in ("channels_last", "channels_first"):
        given = xg.asarray(x if layout == "channels_last" else np.moveaxis(x, -1, 1))
        out, pull = xg.vjp(lambda t: fn(t, k, s, padding=padding, data_format=layout), given)
        back = (lambda a: a) if layout == "channels_last" else (lambda a: np.moveaxis(a, 1, -1))
        np.testing.assert_allclose(back(out.numpy()), np.asarray(reference), rtol=1e-13,
                                   atol=1e-15)
        ct = cotangent if layout == "channels_last" else np.moveaxis(cotangent, -1, 1)
        (grad,) = pull(xg.asarray(ct))
        np.testing.assert_allclose(back(grad.numpy()), np.asarray(expected_grad), rtol=1e-13,
                                   atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_max_pooling_on_each_backend_and_its_indices(backend):
    x = np.random.default_rng(3).standard_normal((2, 7, 6, 3))
    t = xg.asarray(x, backend=backend)
    y = xg.nn.max_pool2d(t, 3, 2, padding="same", data_format="channels_last")
    np.testing.assert_array_equal(y.numpy(), np.asarray(_jax_pool("max", x, (3, 3), (2, 2),
                                                                  "SAME")))
    values, indices = xg.nn.max_pool2d(t, 3, 2, padding="same", return_indices=True,
                                       data_format="channels_last")
    np.testing.assert_array_equal(values.numpy(), y.numpy())
    planes = np.moveaxis(x, -1, 1).reshape(2, 3, -1)          # (N, C, H * W)
    picked = np.take_along_axis(planes, np.moveaxis(indices.numpy(), -1, 1).reshape(2, 3, -1),
                                axis=2)
    np.testing.assert_array_equal(picked, np.moveaxis(y.numpy(), -1, 1).reshape(2, 3, -1))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_gradients_match_finite_differences(kind):
    x = xg.asarray(np.random.default_rng(5).standard_normal((2, 5, 7, 2)))
    check_grads(lambda t: _ours(kind, 2)(t, (2, 3), (2, 2), padding="same",
                                         data_format="channels_last"), [x])
    y = xg.asarray(np.random.default_rng(6).standard_normal((2, 3, 8)))
    check_grads(lambda t: _ours(kind, 1)(t, 3, 3, padding="same"), [y])


def test_count_include_pad_with_same_padding():
    x = xg.asarray([[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]])
    # padding (1, 2): TensorFlow divides the first window [pad, 1, 2, 3] by 3
    assert xg.nn.avg_pool1d(x, 4, 1, padding="same").tolist() == \
        [[[2.0, 2.5, 3.5, 4.5, 5.0, 5.5]]]
    with_pad = xg.nn.avg_pool1d(x, 4, 1, padding="same", count_include_pad=True)
    assert with_pad.tolist() == [[[1.5, 2.5, 3.5, 4.5, 3.75, 2.75]]]
    int_padding = xg.nn.avg_pool1d(x, 3, 1, padding=1)            # PyTorch's default
    assert int_padding.tolist()[0][0][0] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_layers_take_string_padding(kind):
    x = np.random.default_rng(7).standard_normal((2, 7, 6, 3))
    layer = getattr(xg.nn, f"{kind.capitalize()}Pool2d")(3, 2, padding="SAME",
                                                          data_format="channels_last")
    assert layer.padding == "same" and "padding='same'" in repr(layer)
    np.testing.assert_allclose(layer(xg.asarray(x)).numpy(),
                               np.asarray(_jax_pool(kind, x, (3, 3), (2, 2), "SAME")),
                               rtol=1e-13, atol=1e-15)
    one_d = getattr(xg.nn, f"{kind.capitalize()}Pool1d")(2, padding="valid")
    assert one_d.padding == "valid"
    assert one_d(xg.ones((1, 5))).shape == (1, 2)


@pytest.mark.parametrize("make", [
    lambda: xg.nn.max_pool2d(xg.ones((1, 4, 4)), 2, padding="full"),
    lambda: xg.nn.avg_pool1d(xg.ones((1, 4)), 2, padding="Same"),
    lambda: xg.nn.MaxPool1d(2, padding="causal"),
    lambda: xg.nn.AvgPool2d(2, padding=""),
])
def test_unknown_padding_strings_are_named(make):
    with pytest.raises(ValueError, match=r"padding must be an int, a tuple of ints, 'valid' or "
                                         r"'same', got"):
        make()


def test_same_padding_needs_a_kernel_no_longer_than_the_input_no_more():
    # TensorFlow pads a kernel longer than the input too: one window, of the input entries
    y = xg.nn.avg_pool1d(xg.asarray([[[1.0, 2.0, 3.0]]]), 5, 2, padding="same")
    np.testing.assert_allclose(y.numpy(), np.asarray(_jax_pool(
        "avg", np.array([[[1.0], [2.0], [3.0]]]), (5,), (2,), "SAME")).reshape(1, 1, -1))
