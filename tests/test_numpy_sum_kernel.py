"""The NumPy backend's sum kernel gives the generic primitive's value and gradient bit for bit:
every float dtype the kernels cover, axes, keepdims, gradients written out (small inputs) and
broadcast (past ``_FILLED_MAX``); integer inputs and ``dtype=`` take the generic path. NumPy's
own warnings (inf - inf) come from NumPy's frames, in this sum and the linear kernel's bias
gradient."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.kernels import _FILLED_MAX, FLOATS, KERNELS

_CASES = [((), None), ((7,), None), ((7,), (0,)), ((3, 5), None), ((3, 5), (1,)),
          ((3, 5), (0,)), ((2, 3, 4), (0, 2)), ((0, 3), (0,)), ((3, 400), (0,)),
          ((3, 400), None)]


def _sum_and_gradient(x0, axis, keepdims, backend, generic, monkeypatch):
    be = xg.get_backend(backend)
    with monkeypatch.context() as patch:
        if generic:
            patch.delitem(be.kernels, "sum")
        x = xg.asarray(x0, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.sum(x * 1.0, axis=axis, keepdims=keepdims)
            total = xg.sum(y * xg.asarray(np.linspace(0.5, 1.5, y.size).reshape(y.shape),
                                          dtype=y.dtype, backend=backend))
        return y.numpy(), tape.gradient(total, x).numpy()


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", _CASES)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_the_sum_kernel_equals_the_generic_sum(dtype, shape, axis, keepdims, backend,
                                               monkeypatch):
    x0 = np.random.default_rng(0).normal(size=shape).astype(dtype)
    kernel = _sum_and_gradient(x0, axis, keepdims, backend, False, monkeypatch)
    generic = _sum_and_gradient(x0, axis, keepdims, backend, True, monkeypatch)
    for got, expected in zip(kernel, generic):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def test_the_sum_kernel_writes_small_gradients_out_and_broadcasts_large_ones():
    kernel = KERNELS["sum"]
    g = np.float32(2.0)
    small = np.ones(_FILLED_MAX, np.float32)
    (out,) = kernel.vjp(g, None, small, None, False)
    assert out.flags.writeable and out.flags.owndata and (out == 2.0).all()
    # past _FILLED_MAX: a read-only view of g, as the generic rule's np.broadcast_to
    large = np.ones((3, _FILLED_MAX), np.float32)
    g_rows = np.array([1.0, 2.0, 3.0], np.float32)
    (view,) = kernel.vjp(g_rows, None, large, (1,), False)
    assert not view.flags.writeable and view.base is not None and view.strides == (4, 0)
    np.testing.assert_array_equal(view, np.broadcast_to(g_rows[:, None], large.shape))
    (view,) = kernel.vjp(g, None, large, None, False)
    assert view.strides == (0, 0) and (view == 2.0).all()


def test_the_sum_kernel_leaves_a_strided_gradient_to_the_rule():
    g = np.arange(6, dtype=np.float32)[::2]       # not one block: no zero-stride view of it
    x = np.ones((_FILLED_MAX, 3), np.float32)
    assert KERNELS["sum"].vjp(g, None, x, (0,), False) == (NotImplemented,)


@pytest.mark.parametrize("x,dtype", [(np.arange(5, dtype=np.int8), None),
                                     (np.ones(3, np.float32), np.float64),
                                     (np.ones(3, np.complex64), None)], ids=str)
def test_the_sum_kernel_declines_what_the_generic_sum_handles(x, dtype):
    assert KERNELS["sum"].forward(x, None, False, dtype) is None


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_inf_minus_inf_warns_as_numpy_does_not_as_xpgrad(backend):
    # NumPy warns about inf - inf from its own frame; a reduction called from the kernel made the
    # warning xpgrad's (which the suite's filter turns into an error, as for xpgrad's own faults)
    x = xg.asarray([np.inf, -np.inf, 1.0], backend=backend)
    with pytest.warns(RuntimeWarning, match="invalid value") as caught:
        total = xg.sum(x)
    assert np.isnan(total.numpy())
    assert all("xpgrad" not in w.filename for w in caught), [w.filename for w in caught]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_bias_gradient_of_inf_minus_inf_warns_as_numpy_does(backend):
    # the numpy linear kernel's bias gradient is a column sum too (the numba backend uses it)
    x = xg.asarray(np.ones((2, 3)), backend=backend)
    w = xg.asarray(np.ones((3, 2)), backend=backend)
    b = xg.asarray(np.zeros(2), backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(b)
        y = xg.nn.linear(x, w, b)
    upstream = xg.asarray([[np.inf, 1.0], [-np.inf, 2.0]], backend=backend)
    with pytest.warns(RuntimeWarning, match="invalid value") as caught:
        db = tape.gradient(y, b, output_gradients=upstream).numpy()
    assert np.isnan(db[0]) and db[1] == 3.0
    assert all("xpgrad" not in w.filename for w in caught), [w.filename for w in caught]
