"""asarray of nested lists with a dtype: one pass of NumPy's dtype discovery, whose float64
array is cast (the values equal NumPy's direct conversion), and integer dtypes converted from
the list itself (NumPy's own NaN and range checks)."""
import numpy as np
import pytest

import xpgrad as xg


@pytest.mark.parametrize("values", [[1.5, 2.25], [[1, 2.5], [3, 4]], [True, 1.0], [2**70, 1.0],
                                    [1e-50, 3.4e38], [float("nan"), -0.0], [1, 2, 3]])
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
def test_a_list_with_a_float_dtype_is_numpys_own_conversion(values, dtype):
    # the list is read once (its float64 array cast), not twice: the values must not change
    got = np.asarray(xg.asarray(values, dtype=dtype))
    want = np.asarray(values, dtype=dtype)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_a_list_with_an_integer_dtype_keeps_numpys_checks():
    assert xg.asarray([1.5, 2.0], dtype="int32").tolist() == [1, 2]
    with pytest.raises(ValueError, match="NaN"):
        xg.asarray([float("nan")], dtype="int32")
