"""The array API's 2025.12 revision: linalg.eig/eigvals (values against NumPy, gradients against
PyTorch and finite differences), tuples from broadcast_arrays/meshgrid/devices(),
expand_dims with a tuple, permute_dims with negative axes, searchsorted and isin with Python
scalars, clip's and __setitem__'s promotion, broadcast_shapes, and the version string."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads

BACKENDS = [b for b in ("numpy", "numba") if backend_report()[b]["available"]]
backends = pytest.mark.parametrize("backend", BACKENDS)


def matrices(rng, shape, complex_=False):
    a = rng.standard_normal(shape)
    return a + 1j * rng.standard_normal(shape) if complex_ else a


def sorted_eigenvalues(w):
    """Eigenvalues in a fixed order (the backend's is its own), for comparisons."""
    w = np.asarray(w)
    return np.sort_complex(np.round(w, 10))


# -- the version and the tuple returns ----------------------------------------------------------
def test_version_is_2025_12():
    assert xg.__array_api_version__ == "2025.12"
    assert xg.ones(2).__array_namespace__(api_version="2025.12") is xg


@backends
def test_broadcast_arrays_and_meshgrid_return_tuples(backend):
    a, b = xg.ones((2, 1), backend=backend), xg.ones(3, backend=backend)
    out = xg.broadcast_arrays(a, b)
    assert type(out) is tuple and [t.shape for t in out] == [(2, 3), (2, 3)]
    grids = xg.meshgrid(xg.ones(3, backend=backend), xg.ones(2, backend=backend))
    assert type(grids) is tuple and [g.shape for g in grids] == [(2, 3), (2, 3)]
    assert xg.broadcast_arrays() == () and xg.meshgrid() == ()


def test_devices_is_a_tuple():
    devices = xg.__array_namespace_info__().devices()
    assert type(devices) is tuple and xg.Device("numpy", "cpu") in devices


@backends
def test_broadcast_arrays_gradient_still_sums_back(backend):
    x = xg.asarray([1.0, 2.0, 3.0], dtype=xg.float64, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        a, _ = xg.broadcast_arrays(x, xg.ones((4, 1), dtype=xg.float64, backend=backend))
        loss = xg.sum(a * a)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), 8 * x.numpy())


def test_broadcast_shapes():
    assert xg.broadcast_shapes() == ()
    assert xg.broadcast_shapes((2, 1, 4), (3, 1), (1,)) == np.broadcast_shapes((2, 1, 4),
                                                                              (3, 1), (1,))
    with pytest.raises(ValueError, match="do not broadcast"):
        xg.broadcast_shapes((2, 3), (4,))


# -- expand_dims, permute_dims -----------------------------------------------------------------
@backends
@pytest.mark.parametrize("axes", [(0,), (0, 2), (-1, 0), (1, -2), (3, 0, -1)])
def test_expand_dims_with_a_tuple_matches_numpy(backend, axes):
    a = np.arange(6.0).reshape(2, 3)
    out = xg.expand_dims(xg.asarray(a, backend=backend), axis=axes)
    np.testing.assert_array_equal(out.numpy(), np.expand_dims(a, axis=axes))


@backends
@pytest.mark.parametrize("axes", [(0, 0), (0, -4), (4,), (-5, 0)])
def test_expand_dims_bad_tuple_raises(backend, axes):
    with pytest.raises((IndexError, ValueError)):
        xg.expand_dims(xg.ones((2, 3), backend=backend), axis=axes)


@backends
@pytest.mark.parametrize("axes", [(-1, 0, 1), (-3, -1, -2), (2, -3, 1)])
def test_permute_dims_negative_axes(backend, axes):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = xg.asarray(a, dtype=xg.float64, backend=backend)
    np.testing.assert_array_equal(xg.permute_dims(x, axes).numpy(), np.transpose(a, axes))
    check_grads(lambda t: xg.permute_dims(t, axes), x)


def test_permute_dims_repeated_axis_raises():
    with pytest.raises(ValueError, match="permutation"):
        xg.permute_dims(xg.ones((2, 3)), (-1, 1))


# -- searchsorted and isin with Python scalars --------------------------------------------------
@backends
@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_python_float_takes_x1_dtype(backend, side):
    # 0.1 in float32 is above float64's 0.1: comparing in float32 put it after the tie
    x1 = xg.asarray([0.1, 0.2, 0.3], dtype=xg.float64, backend=backend)
    for v in (0.1, 0.2, 0.25, -1.0, 5):
        out = xg.searchsorted(x1, v, side=side)
        assert out.shape == () and out.dtype == xg.int64
        assert int(out) == np.searchsorted(x1.numpy(), v, side=side), v


def test_np_searchsorted_on_a_tensor_with_a_python_float():
    x1 = xg.asarray([0.1, 0.2], dtype=xg.float64)
    for v in (0.1, 0.2, 0.15):
        assert int(np.searchsorted(x1, v)) == np.searchsorted(x1.numpy(), v)


@backends
def test_searchsorted_python_int_into_integers_and_sorter(backend):
    x1 = xg.asarray([2**40 + 5, 7, 2**40], dtype=xg.int64, backend=backend)
    order = xg.argsort(x1)
    for v in (7, 2**40, 2**40 + 1, 2**41):
        expected = np.searchsorted(x1.numpy(), v, sorter=order.numpy())
        assert int(xg.searchsorted(x1, v, sorter=order)) == expected
    small = xg.asarray([1, 2, 3], dtype=xg.int8, backend=backend)
    assert int(xg.searchsorted(small, 2, side="right")) == 2


@backends
def test_searchsorted_bad_scalar_raises(backend):
    with pytest.raises(TypeError, match="x2"):
        xg.searchsorted(xg.asarray([1.0, 2.0], backend=backend), "2")


@backends
@pytest.mark.parametrize("invert", [False, True])
def test_isin_with_python_scalars(backend, invert):
    x = np.array([[1, 5], [300, 5]], dtype=np.int64)
    t = xg.asarray(x, backend=backend)
    out = xg.isin(t, 5, invert=invert)
    assert out.dtype == xg.bool and out.shape == (2, 2)
    np.testing.assert_array_equal(out.numpy(), np.isin(x, 5, invert=invert))
    out = xg.isin(300, t, invert=invert)
    assert out.shape == () and bool(out) is (not invert)
    out = xg.isin(7, t, invert=invert)
    assert bool(out) is invert
    small = xg.asarray([1, 2], dtype=xg.int8, backend=backend)
    np.testing.assert_array_equal(xg.isin(small, 2, invert=invert).numpy(),
                                  np.isin([1, 2], 2, invert=invert))


@backends
def test_isin_arrays_of_different_integer_dtypes(backend):
    a = xg.asarray([1, 2, 3, -1], dtype=xg.int8, backend=backend)
    b = xg.asarray([[3, 1000], [-1, 7]], dtype=xg.int16, backend=backend)
    np.testing.assert_array_equal(xg.isin(a, b).numpy(), [False, False, True, True])


# -- clip and __setitem__ promotion -------------------------------------------------------------
@backends
def test_clip_python_scalars_keep_the_array_dtype(backend):
    for dtype, lo, hi in ((xg.float32, 2, 3), (xg.float64, 2.5, 3), (xg.int8, -1, 3),
                          (xg.float32, None, 1.5)):
        x = xg.asarray([1, 5, -4], dtype=dtype, backend=backend)
        out = xg.clip(x, lo, hi)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.numpy(), np.clip(x.numpy(), lo, hi))


@backends
def test_setitem_array_value_is_promoted_to_self_dtype(backend):
    for self_dtype, value_dtype in ((xg.float64, xg.float32), (xg.float32, xg.int16),
                                    (xg.complex64, xg.float32), (xg.int32, xg.int8)):
        x = xg.zeros(3, dtype=self_dtype, backend=backend)
        x[0:2] = xg.asarray([1, 2], dtype=value_dtype, backend=backend)
        assert x.dtype == self_dtype
        np.testing.assert_array_equal(x.numpy(), [1, 2, 0])


# -- linalg.eig / eigvals: values and shapes ----------------------------------------------------
@backends
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_eig_values_match_numpy(backend, dtype, rng):
    a = matrices(rng, (3, 4, 4), dtype.startswith("complex")).astype(dtype)
    x = xg.asarray(a, backend=backend)
    w, v = xg.linalg.eig(x)
    expected = {"float32": xg.complex64, "float64": xg.complex128}.get(dtype, x.dtype)
    assert w.dtype == v.dtype == expected and w.shape == (3, 4) and v.shape == (3, 4, 4)
    tol = 1e-4 if dtype in ("float32", "complex64") else 1e-10
    av = a.astype(np.complex128) @ v.numpy()
    np.testing.assert_allclose(av, v.numpy() * w.numpy()[:, None, :], atol=tol * 10)
    np.testing.assert_allclose(np.linalg.norm(v.numpy(), axis=-2), 1.0, rtol=tol)
    for got, want in zip(w.numpy(), np.linalg.eigvals(a)):
        np.testing.assert_allclose(sorted_eigenvalues(got), sorted_eigenvalues(want),
                                   atol=tol * 10)
    np.testing.assert_allclose(xg.linalg.eigvals(x).numpy(), w.numpy(), atol=tol * 10)


@backends
def test_eig_of_real_matrix_with_real_eigenvalues_is_complex(backend):
    x = xg.asarray([[2.0, 0.0], [0.0, 3.0]], dtype=xg.float64, backend=backend)
    w, v = xg.linalg.eig(x)
    assert w.dtype == v.dtype == xg.complex128
    assert isinstance(xg.linalg.eig(x), xg.linalg.EigResult)
    np.testing.assert_allclose(sorted(w.numpy().real), [2.0, 3.0])
    assert xg.linalg.eigvals(x).dtype == xg.complex128


@pytest.mark.parametrize("fn", ["eig", "eigvals"])
def test_eig_bad_inputs_name_the_function(fn):
    f = getattr(xg.linalg, fn)
    with pytest.raises(ValueError, match=f"linalg.{fn}.*square"):
        f(xg.ones((2, 3)))
    with pytest.raises(ValueError, match=f"linalg.{fn}.*2 dimensions"):
        f(xg.ones(3))
    with pytest.raises(TypeError, match=f"linalg.{fn}.*floating"):
        f(xg.asarray([[1, 2], [3, 4]]))


# -- linalg.eig / eigvals: gradients ------------------------------------------------------------
def eig_loss_xg(w, v):
    """A loss invariant to each eigenvector's phase (and to the eigenvalues' order)."""
    return xg.sum(xg.real(w) ** 2 + xg.imag(w) * 0.5) + xg.sum(xg.abs(v) ** 3)


def eig_loss_torch(w, v):
    return (w.real ** 2 + w.imag * 0.5).sum() + (v.abs() ** 3).sum()


@backends
@pytest.mark.parametrize("complex_", [False, True])
def test_eig_gradient_matches_pytorch(backend, complex_, rng):
    torch = pytest.importorskip("torch")
    a = matrices(rng, (2, 4, 4), complex_)
    x = xg.asarray(a, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = eig_loss_xg(*xg.linalg.eig(x))
    t = torch.tensor(a, requires_grad=True)
    want_loss = eig_loss_torch(*torch.linalg.eig(t))
    want_loss.backward()
    got = tape.gradient(loss, x)
    assert got.dtype == x.dtype
    np.testing.assert_allclose(float(loss), want_loss.item(), rtol=1e-12)
    np.testing.assert_allclose(got.numpy(), t.grad.numpy(), atol=1e-10)


@backends
@pytest.mark.parametrize("complex_", [False, True])
def test_eigvals_gradient_matches_pytorch(backend, complex_, rng):
    torch = pytest.importorskip("torch")
    a = matrices(rng, (3, 3), complex_)
    x = xg.asarray(a, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(xg.abs(xg.linalg.eigvals(x)) ** 2 + xg.real(xg.linalg.eigvals(x)))
    t = torch.tensor(a, requires_grad=True)
    w = torch.linalg.eigvals(t)
    (w.abs() ** 2 + w.real).sum().backward()
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), t.grad.numpy(), atol=1e-10)


@backends
def test_eig_gradient_matches_finite_differences(backend, rng):
    x = xg.asarray(matrices(rng, (2, 3, 3)), backend=backend)
    check_grads(lambda t: eig_loss_xg(*xg.linalg.eig(t)), x)
    check_grads(lambda t: xg.real(xg.linalg.eigvals(t)) ** 2, x, order=2)
    # the eigenprojector v v^H / (v^H v) of each eigenvector: independent of its phase
    def projectors(t):
        v = xg.linalg.eig(t).eigenvectors
        p = v[..., :, None, :] * xg.conj(v[..., None, :, :])
        return xg.real(p) + xg.imag(p)
    check_grads(projectors, x, order=2)


@backends
def test_eig_second_order_matches_pytorch(backend, rng):
    torch = pytest.importorskip("torch")
    a = matrices(rng, (3, 3), True)
    x = xg.asarray(a, backend=backend)
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            loss = eig_loss_xg(*xg.linalg.eig(x))
        g = inner.gradient(loss, x)
        second = xg.sum(xg.abs(g) ** 2)
    t = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad(eig_loss_torch(*torch.linalg.eig(t)), t, create_graph=True)
    (gt.abs() ** 2).sum().backward()
    np.testing.assert_allclose(outer.gradient(second, x).numpy(), t.grad.numpy(), atol=1e-8)


@pytest.mark.parametrize("fn", ["eig", "eigvals"])
def test_numpy_linalg_eig_on_a_tensor_stays_on_the_tape(fn, rng):
    x = xg.asarray(matrices(rng, (3, 3)))
    with xg.GradientTape() as tape:
        tape.watch(x)
        out = getattr(np.linalg, fn)(x)
        w = out if fn == "eigvals" else out.eigenvalues
        loss = xg.sum(xg.real(w) ** 2)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(),
                               2 * x.numpy().T, atol=1e-10)    # d tr(A^2) / dA = 2 A^T


def test_eig_on_a_namespace_without_eig_says_so():
    from types import SimpleNamespace

    from xpgrad.ops.linalg_eig import _backend_eig

    bare = SimpleNamespace(linalg=SimpleNamespace(), __name__="bare_namespace")
    with pytest.raises(NotImplementedError, match="linalg.eig.*bare_namespace"):
        _backend_eig(bare, np.eye(2), "eig")
