"""NumPy functions on tensors where they differed from NumPy: complex float_power, complex to
bool, cbrt/logaddexp2 of complex, split points, NumPy integers as axes and counts, clip of
integers by float bounds, out= casting, where= without a tape, the errors of
column_stack/dstack/apply_along_axis. Each against NumPy itself."""
import numpy as np
import pytest

import xpgrad as xg


def test_float_power_keeps_complex_and_its_gradient():
    torch = pytest.importorskip("torch")
    z = np.array([1 + 1j, -2 + 0.5j])
    x = xg.asarray(z)
    got = np.float_power(x, 2)
    assert got.dtype == xg.complex128
    np.testing.assert_allclose(got.numpy(), np.float_power(z, 2), rtol=1e-15)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(xg.real(np.float_power(x, 2)))
    t = torch.tensor(z, requires_grad=True)
    torch.real(t ** 2).sum().backward()
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), t.grad.numpy(), rtol=1e-15)
    assert np.float_power(xg.asarray([2.0, 3.0], dtype=xg.float32), 2).dtype == xg.float64


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_complex_to_bool_is_nonzero(backend):
    z = np.array([0j, 1j, 2 + 0j, -0.0 + 0j])
    x = xg.asarray(z, backend=backend)
    assert xg.astype(x, xg.bool).tolist() == z.astype(bool).tolist() == [False, True, True,
                                                                          False]
    assert xg.asarray(x, dtype=xg.bool).tolist() == z.astype(bool).tolist()


@pytest.mark.parametrize("name", ["cbrt", "logaddexp2"])
def test_real_only_ufuncs_refuse_complex(name):
    args = (xg.asarray(np.array([1j])),) * (1 if name == "cbrt" else 2)
    with pytest.raises(TypeError, match=f"np.{name} is not defined for complex input"):
        getattr(np, name)(*args)


@pytest.mark.parametrize("points", [[2, -1], [-1], [3, 1], [2, 10], 3, np.int64(2), [-8, 2]])
def test_split_points_are_numpys(points):
    a = np.arange(6.0)
    assert [p.tolist() for p in np.split(xg.asarray(a), points)] == \
        [p.tolist() for p in np.split(a, points)]


def test_split_into_unequal_sections_is_refused_and_array_split_allows_it():
    a = np.arange(6.0)
    with pytest.raises(ValueError, match="equal division"):
        np.split(xg.asarray(a), 4)
    assert [p.tolist() for p in np.array_split(xg.asarray(a), 4)] == \
        [p.tolist() for p in np.array_split(a, 4)]


def test_numpy_integers_serve_as_axes_and_counts():
    a = np.arange(12.0).reshape(3, 4)
    t = xg.asarray(a)
    for fn in (np.mean, np.max, np.std, np.flip):
        np.testing.assert_allclose(fn(t, axis=np.int64(1)).numpy(), fn(a, axis=np.int64(1)))
    assert np.tile(t, np.int64(2)).shape == np.tile(a, np.int64(2)).shape
    assert np.expand_dims(t, np.int64(0)).shape == (1, 3, 4)


def test_clip_of_integers_by_float_bounds_is_floating():
    got = np.clip(xg.asarray([0, 1, 3]), 0.5, 2.5)
    assert got.dtype.is_floating
    assert got.tolist() == np.clip(np.array([0, 1, 3]), 0.5, 2.5).tolist()
    assert np.clip(xg.asarray([0, 1, 3]), 1, 2).tolist() == [1, 1, 2]


def test_out_follows_same_kind_casting():
    with pytest.raises(TypeError, match="cannot write the complex128 result into an array of "
                                        "dtype float64"):
        np.multiply(xg.asarray([1.0], dtype=xg.float64), 1j, out=xg.zeros(1, dtype=xg.float64))
    with pytest.raises(TypeError, match="float32 result into an array of dtype int64"):
        np.add(xg.asarray([0.7]), xg.asarray([0.7]), out=xg.zeros(1, dtype=xg.int64))
    out = xg.zeros(2, dtype=xg.float64)
    np.add(xg.asarray([1.0, 2.0]), 1.0, out=out)           # float32 into float64: allowed
    assert out.tolist() == [2.0, 3.0]


def test_where_without_a_tape_is_numpys():
    a, mask = np.ones(3), np.array([True, False, True])
    out = np.zeros(3)
    np.add(xg.asarray(a), xg.asarray(a), where=mask, out=out)
    assert out.tolist() == [2.0, 0.0, 2.0]


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("call", [
    lambda a, t: np.dot(a, t), lambda a, t: np.dot(t, a), lambda a, t: np.matmul(a, t),
    lambda a, t: np.stack([a, t]), lambda a, t: np.where(a > 1.5, a, t),
    lambda a, t: np.multiply(a, t), lambda a, t: np.concatenate([a, t])])
def test_an_ndarray_beside_a_tensor_goes_to_the_tensors_backend_as_in_an_operator(call):
    # numba tensors, numpy the default: the ndarray converts to numba as in t + a (NumPy's
    # functions raised MixedBackendError before, its ufuncs went through)
    a, values = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 4.0])
    t = xg.asarray(values, backend="numba")
    assert (t + a).backend.name == "numba"
    with xg.GradientTape() as tape:
        tape.watch(t)
        out = call(a, t)
        total = xg.sum(out * out)
    assert out.backend.name == "numba"
    np.testing.assert_array_equal(out.numpy(), call(a, values))
    eps = 1e-6
    fd = [(np.sum(call(a, values + eps * e) ** 2) - np.sum(call(a, values - eps * e) ** 2))
          / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(tape.gradient(total, t).numpy(), fd, rtol=1e-7, atol=1e-8)


def test_tensors_of_two_backends_in_a_numpy_function_still_say_so():
    with pytest.raises(xg.MixedBackendError, match="move one explicitly"):
        np.dot(xg.ones(2, backend="numpy"), xg.ones(2, backend="numba"))


@pytest.mark.parametrize("fn", [
    lambda a: np.column_stack([a, a[:2]]),                   # columns of unequal length
    lambda a: np.dstack([a, a[:, :2]]),
    lambda a: np.apply_along_axis(np.sum, 2, a),             # no such axis
    lambda a: np.apply_along_axis(np.sum, -3, a),
    lambda a: np.apply_along_axis(np.sum, 1, a[:0]),         # nothing to iterate over
])
def test_joining_and_apply_along_axis_refuse_what_numpy_refuses(fn):
    a = np.arange(12.0).reshape(3, 4)
    with pytest.raises(ValueError) as numpy_error:           # AxisError is a ValueError
        fn(a)
    with pytest.raises(type(numpy_error.value)):
        fn(xg.asarray(a))


def test_apply_along_axis_records_what_the_function_does():
    x = xg.asarray(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(np.apply_along_axis(lambda r: r[0] * r[1], 1, x))
    assert tape.gradient(loss, x).tolist() == [[2.0, 1.0], [4.0, 3.0]]
