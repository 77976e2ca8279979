"""A Python scalar of a higher kind beside an integer tensor: ``int8 * 0.5`` is float32 (the
default float, as PyTorch and as ``int8 / 2`` already was), ``where`` refuses a Python int that
does not fit the tensor's dtype instead of wrapping it, and a complex value written into a real
tensor is refused (a Python complex) or warned about (a complex tensor), as NumPy does."""
import numpy as np
import pytest

import xpgrad as xg


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["int8", "int64", "uint8", "bool"])
def test_integer_tensor_beside_a_float_is_float32(backend, dtype):
    torch = pytest.importorskip("torch")
    raw = np.array([1, 0, 1], dtype=dtype)
    x = xg.asarray(raw, backend=backend)
    t = torch.from_numpy(raw)
    pairs = [(x * 0.5, t * 0.5), (0.5 * x, 0.5 * t), (x + 1.25, t + 1.25), (x * 1j, t * 1j)]
    if dtype != "bool":                         # PyTorch refuses to subtract bools
        pairs += [(x - 2.5, t - 2.5), (2.5 - x, 2.5 - t)]
    for got, want in pairs:
        assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_float_tensors_and_int_scalars_keep_their_dtype():
    x = xg.asarray(np.array([1, 2], np.int8))
    assert (x + 1).dtype == xg.int8
    assert (xg.asarray([1.0, 2.0], dtype=xg.float64) * 0.5).dtype == xg.float64


def test_where_refuses_an_int_outside_the_dtype():
    x = xg.asarray(np.array([1, 2, 3], np.int8))
    with pytest.raises(OverflowError, match="where: Python integer 300 out of bounds for int8"):
        xg.where(x > 1, x, 300)
    with pytest.raises(OverflowError, match="-129"):
        xg.where(x > 1, -129, x)
    assert xg.where(x > 1, x, -128).tolist() == [-128, 2, 3]


def test_where_with_a_float_beside_an_int_tensor_is_float32():
    x = xg.asarray(np.array([1, 2, 3], np.int16))
    got = xg.where(x > 1, x, 0.5)
    assert got.dtype == xg.float32 and got.tolist() == [0.5, 2.0, 3.0]
    assert xg.where(x > 1, x, 1j).dtype == xg.complex64


def test_complex_into_a_real_tensor():
    x = xg.zeros(3)
    for value in (1 + 2j, np.complex128(1 + 2j)):
        with pytest.raises(TypeError, match="complex value .* into a float32 tensor"):
            x[0] = value
    with pytest.warns(UserWarning, match="discards their imaginary part"):
        x[1:2] = xg.asarray(np.array([3 + 4j]))
    assert x.tolist() == [0.0, 3.0, 0.0]
    z = xg.zeros(2, dtype=xg.complex64)
    z[0] = 1 + 2j
    assert z.tolist() == [1 + 2j, 0j]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_every_arithmetic_op_and_result_type_agree(backend):
    torch = pytest.importorskip("torch")
    raw = np.array([1, 3, 7], np.int64)
    x, t = xg.asarray(raw, backend=backend), torch.from_numpy(raw)
    pairs = [(x ** 2.5, t ** 2.5), (2.5 ** x, 2.5 ** t), (x // 2.5, t // 2.5),
             (x % 2.5, t % 2.5), (x ** 1j, t ** 1j),
             (xg.maximum(x, 2.5), torch.clamp(t, min=2.5)),
             (xg.minimum(x, 2.5), torch.clamp(t, max=2.5))]
    for got, want in pairs:
        assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
        scalar = 1j if got.dtype.is_complex else 2.5
        assert xg.result_type(x, scalar) == got.dtype
    assert xg.result_type(x, 2) == xg.int64
    assert xg.result_type(x, xg.int8, 2.5) == xg.float32
    assert xg.result_type(xg.ones(2, dtype=xg.float64), 2.5) == xg.float64


def test_clip_of_an_integer_tensor_keeps_its_bounds():
    x = xg.asarray([1, 50, 120], dtype=xg.int8)
    assert xg.clip(x, max=xg.asarray([300, -300, 5])).tolist() == [1, -128, 5]
    assert xg.clip(x, min=xg.asarray([-300, 300, 5])).tolist() == [1, 127, 120]
    small = xg.asarray([0, 5, 200], dtype=xg.uint8)
    assert xg.clip(small, max=xg.asarray(100, dtype=xg.int8)).tolist() == [0, 5, 100]
    assert xg.clip(small, min=xg.asarray(-5, dtype=xg.int8)).tolist() == [0, 5, 200]
    for bound in (1.5, float("nan"), xg.asarray([1.5, 2.0, 3.0])):
        with pytest.raises(TypeError, match="clip: min is .* but x is int8.*cast x first"):
            xg.clip(x, min=bound)


def test_python_integers_past_int64():
    with pytest.raises(OverflowError, match="asarray: obj: the Python integer 10{30} fits no"):
        xg.asarray(10 ** 30)
    with pytest.raises(OverflowError, match="integers from -1 to 9223372036854775808 fit no"):
        xg.asarray([2 ** 63, -1])            # NumPy: float64, which was then cast to float32
    assert xg.asarray([2 ** 63]).dtype == xg.uint64
    got = xg.asarray([1.0, 2 ** 70])        # beside a float: a float, as PyTorch
    assert got.dtype == xg.float32 and got.tolist() == [1.0, float(np.float32(2 ** 70))]
    assert xg.asarray(10 ** 30, dtype=xg.float64).item() == 1e30
