"""The NumPy backend's fused LSTM kernels (``backends/numpy/lstm_scans.py``) against the generic
rules of ``xpgrad.ops.recurrent`` in float64, on the paths the benchmarks' step takes: an odd
and an even number of steps (two buffers take turns in the backward), the c half's gradient
given or not, and the gradients of ``h0`` and ``c0`` not wanted (step 0's product skipped)."""
import numpy as np
import pytest

from xpgrad.backends.numpy.scans import scan_kernels
from xpgrad.ops import recurrent

KERNELS = scan_kernels(np)


def _layer_args(rng, B, T, I, H):
    return [rng.standard_normal((B, T, I)), rng.standard_normal((B, H)),
            rng.standard_normal((B, H)), rng.standard_normal((I, 4 * H)) * 0.5,
            rng.standard_normal((H, 4 * H)) * 0.5, rng.standard_normal(4 * H)]


@pytest.mark.parametrize("T", [1, 4, 5])
@pytest.mark.parametrize("c_gradient", [True, False])
def test_lstm_layer_kernel_equals_the_generic_rule(T, c_gradient):
    _check_the_layer_kernel(np.random.default_rng(T), 3, T, 2, 4, c_gradient)


def _check_the_layer_kernel(rng, B, T, I, H, c_gradient):
    """The kernel's outputs and six gradients (the c half's gradient zero and the h half's
    through ``vjp_sliced`` unless ``c_gradient``) against the generic rules, float64."""
    args = _layer_args(rng, B, T, I, H)
    g = rng.standard_normal((2, B, T, H))
    if not c_gradient:
        g[1] = 0.0
    kernel = KERNELS["lstm_layer"]
    out, saved = kernel.forward(*args)
    want_out = recurrent._lstm_layer_forward(np, *args)
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-12)
    got = (kernel.vjp(g, saved, [True] * 6, *args) if c_gradient else
           kernel.vjp_sliced((0, Ellipsis), g[0], saved, [True] * 6, *args))
    want = recurrent._lstm_layer_vjp(np, g, want_out, [True] * 6, *args)
    for name, a, b in zip(["x", "h0", "c0", "w_ih", "w_hh", "b"], got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("T", [1, 3])
def test_the_c_half_alone_equals_the_generic_rule(T):
    """Only ``states[1]`` has a gradient (through ``vjp_sliced``): the h half's is None, on
    the one-step path (``lstm_step.py``) and the scan's."""
    rng = np.random.default_rng(20 + T)
    args = _layer_args(rng, 3, T, 2, 4)
    g = rng.standard_normal((2, 3, T, 4))
    g[0] = 0.0
    kernel = KERNELS["lstm_layer"]
    out, saved = kernel.forward(*args)
    got = kernel.vjp_sliced((1, Ellipsis), g[1], saved, [True] * 6, *args)
    want = recurrent._lstm_layer_vjp(np, g, out, [True] * 6, *args)
    for name, a, b in zip(["x", "h0", "c0", "w_ih", "w_hh", "b"], got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("T", [1, 4, 5])
def test_unwanted_state_gradients_are_none_and_the_rest_unchanged(T):
    rng = np.random.default_rng(10 + T)
    args = _layer_args(rng, 2, T, 3, 4)
    g = rng.standard_normal((2, 2, T, 4))
    kernel = KERNELS["lstm_layer"]
    _, saved = kernel.forward(*args)
    every = kernel.vjp(g, saved, [True] * 6, *args)
    _, saved = kernel.forward(*args)
    some = kernel.vjp(g, saved, [False, False, False, True, True, True], *args)
    assert some[:3] == (None, None, None)
    for a, b in zip(some[3:], every[3:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("zero_state", [True, False])
def test_the_kernel_in_product_blocks_and_from_a_zero_state_equals_the_generic_rule(
        monkeypatch, zero_state):
    """At a size whose per-step products run in blocks (``blas.stepped_update``'s ``split``;
    under any kernels here), and from a zero ``h0`` (a module's default: step 0's product
    skipped), the kernel is still the generic rule."""
    from xpgrad.backends import blas, blas_steps

    lib = blas._library()
    monkeypatch.setattr(blas_steps, "BLOCKED_CORES", (getattr(lib, "core", None),))
    rng = np.random.default_rng(20)
    B, T, I, H = 64, 3, 5, 128
    args = _layer_args(rng, B, T, I, H)
    args[3] *= 0.2
    args[4] *= 0.2
    if zero_state:
        args[1] = np.zeros((B, H))
    g = rng.standard_normal((2, B, T, H))
    kernel = KERNELS["lstm_layer"]
    out, saved = kernel.forward(*args)
    want_out = recurrent._lstm_layer_forward(np, *args)
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-12)
    got = kernel.vjp(g, saved, [True] * 6, *args)
    want = recurrent._lstm_layer_vjp(np, g, want_out, [True] * 6, *args)
    for name, a, b in zip(["x", "h0", "c0", "w_ih", "w_hh", "b"], got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11 * np.abs(b).max(), err_msg=name)


@pytest.mark.parametrize("ring, T", [(2, 7), (3, 7), (3, 6), (2, 2)])
@pytest.mark.parametrize("c_gradient", [True, False])
def test_the_backward_through_a_ring_of_a_few_steps_equals_the_generic_rule(
        monkeypatch, ring, T, c_gradient):
    """With the ring of gate gradients shorter than the sequence (``scan_rings.RING_BYTES`` made
    ``ring`` steps' worth): whole blocks, a partial first one, one block, each adding its part
    of the weights' gradient and writing its rows of ``dx``."""
    from xpgrad.backends.numpy import scan_rings

    B, I, H = 3, 2, 4
    monkeypatch.setattr(scan_rings, "RING_BYTES", ring * B * 4 * H * 8)
    assert scan_rings.ring_steps(T, B * 4 * H * 8) == ring
    _check_the_layer_kernel(np.random.default_rng(30 + ring + T), B, T, I, H, c_gradient)
