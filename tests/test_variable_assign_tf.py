"""Variable.assign / assign_add / assign_sub as a TensorFlow 2 user writes them: the variable
returned (calls chain), None with ``read_value=False``; a value whose kind the dtype would lose
(a float into an integer variable, a complex into a real one) is refused, the variable left as
it was, where it used to be truncated silently."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg


@pytest.mark.parametrize("method, value, expected", [
    ("assign", [5.0, 6.0], [5.0, 6.0]),
    ("assign_add", [1.0, 1.0], [2.0, 3.0]),
    ("assign_sub", [1.0, 1.0], [0.0, 1.0]),
])
def test_read_value_false_updates_and_returns_none(method, value, expected):
    v = xg.Variable([1.0, 2.0], dtype=xg.float64)
    assert getattr(v, method)(value, read_value=False) is None
    assert v.tolist() == expected
    assert getattr(v, method)(value) is v                # the default: the variable


def test_assignments_chain_as_tensorflows():
    v = xg.Variable(1.0, dtype=xg.float64)
    assert v.assign(7.0).assign_add(1.0).assign_sub(0.5).item() == 7.5


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_read_value_must_be_a_bool(method):
    v = xg.Variable([1.0])
    with pytest.raises(TypeError, match=f"Variable.{method}: read_value must be True or False"):
        getattr(v, method)([2.0], read_value="no")


@pytest.mark.parametrize("value", [2.7, [2.7], np.array(2.7), np.float32(1.5),
                                   xg.asarray(2.7, dtype=xg.float64)])
@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_a_float_into_an_integer_variable_is_refused_not_truncated(method, value):
    v = xg.Variable(3, dtype=xg.int32, name="count")
    if isinstance(value, list):
        v = xg.Variable([3], dtype=xg.int32, name="count")
    before = v.tolist()
    with pytest.raises(TypeError, match=rf"{method}: variable 'count' has dtype int32.*"
                                        r"floating value.*xg.astype\(value, int32\)"):
        getattr(v, method)(value)
    assert v.tolist() == before


@pytest.mark.parametrize("value", [1 + 2j, [1 + 2j], np.array(1 + 2j)])
def test_a_complex_into_a_real_variable_is_refused(value):
    v = xg.Variable(1.0, dtype=xg.float32, name="w")
    if isinstance(value, list):
        v = xg.Variable([1.0], dtype=xg.float32, name="w")
    with pytest.raises(TypeError, match=r"assign: variable 'w' has dtype float32.*complex "
                                        r"floating value.*xg.real\(value\)"):
        v.assign(value)


def test_a_float_into_a_bool_variable_is_refused():
    v = xg.Variable([True, False])
    with pytest.raises(TypeError, match="floating value"):
        v.assign([0.5, 0.0])


@pytest.mark.parametrize("variable, value, expected", [
    (xg.Variable([1.0], dtype=xg.float32), [2], [2.0]),                       # int -> float
    (xg.Variable([1.0], dtype=xg.float32), np.array([2.5]), [2.5]),           # float64 -> 32
    (xg.Variable([1.0], dtype=xg.float64), xg.asarray([3], dtype=xg.int32), [3.0]),
    (xg.Variable([3], dtype=xg.int32), [True], [1]),
    (xg.Variable([3], dtype=xg.int32), np.array([4], dtype=np.int64), [4]),
    (xg.Variable([1 + 1j]), [2.0], [2 + 0j]),                                 # real -> complex
    (xg.Variable([True]), np.array([False]), [False]),
])
def test_values_the_dtype_holds_are_still_cast(variable, value, expected):
    assert variable.assign(value).tolist() == expected


def test_an_integer_variable_counts_with_python_ints():
    steps = xg.Variable(0, dtype=xg.int64, name="steps")
    for _ in range(3):
        steps.assign_add(1)
    assert steps.item() == 3 and steps.dtype == xg.int64


def test_the_optimizer_still_updates_in_place():
    w = xg.Variable([1.0, 2.0], dtype=xg.float64)
    opt = xg.optim.SGD(learning_rate=0.5)
    with xg.GradientTape() as tape:
        loss = xg.sum(w * w)
    opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
    assert w.tolist() == [0.0, 0.0]


_WIDE = [2 ** 40, np.int64(2 ** 40), np.array([2 ** 40]), [2 ** 40],
         xg.asarray([2 ** 40], dtype=xg.int64), [-2 ** 40, 5]]


@pytest.mark.parametrize("value", _WIDE)
@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_an_integer_the_dtype_cannot_hold_is_refused_not_wrapped(method, value):
    v = xg.Variable([3], dtype=xg.int32, name="count")
    if isinstance(value, list) and len(value) == 2:
        v = xg.Variable([3, 4], dtype=xg.int32, name="count")
    before = v.tolist()
    wrapped = np.asarray(value, dtype=np.int64).astype(np.int32)     # what used to be stored
    assert not np.array_equal(wrapped, np.asarray(value))
    flat = np.ravel(np.asarray(value)).tolist()
    bad = min(flat) if min(flat) < 0 else max(flat)
    with pytest.raises(OverflowError, match=rf"{method}: the value {bad} is out of range for "
                                            r"variable 'count' of dtype int32 \(-2147483648 to "
                                            r"2147483647\)"):
        getattr(v, method)(value)
    assert v.tolist() == before


def test_numpy_refuses_the_same_python_int_with_overflowerror():
    with pytest.raises(OverflowError):
        np.asarray(2 ** 40, dtype=np.int32)


@pytest.mark.parametrize("value", [-1, np.array([-1]), [256], xg.asarray([300])])
def test_an_unsigned_variable_refuses_what_it_would_wrap(value):
    v = xg.Variable([7], dtype=xg.uint8, name="byte")
    v = xg.Variable(7, dtype=xg.uint8, name="byte") if value == -1 else v
    with pytest.raises(OverflowError, match=r"variable 'byte' of dtype uint8 \(0 to 255\)"):
        v.assign(value)
    assert np.ravel(v.numpy()).tolist() == [7]


@pytest.mark.parametrize("value, number", [(2, "an integer"), ([3], "an integer"),
                                           (np.array([1]), "an integer"),
                                           (xg.asarray([0], dtype=xg.int8), "an integer"),
                                           ([0.5], "a floating"), (1.0, "a floating")])
@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_a_number_into_a_bool_variable_is_refused(method, value, number):
    v = xg.Variable([True], name="mask")
    with pytest.raises(TypeError, match=rf"{method}: variable 'mask' has dtype bool, and "
                                        rf"{number} value would become its truthiness"):
        getattr(v, method)(value)
    assert v.tolist() == [True]


@pytest.mark.parametrize("value, expected", [
    (np.array([2 ** 31 - 1, -2 ** 31], dtype=np.int64), [2 ** 31 - 1, -2 ** 31]),  # fits
    (xg.asarray([5, 6], dtype=xg.int64), [5, 6]),
    (np.array([9, 0], dtype=np.uint32), [9, 0]),
    (xg.asarray([-128, 127], dtype=xg.int8), [-128, 127]),                     # widening
    ([True, False], [1, 0]),
])
def test_integers_the_dtype_holds_still_assign(value, expected):
    v = xg.Variable([0, 0], dtype=xg.int32, name="n")
    assert v.assign(value).tolist() == expected and v.dtype == xg.int32
    assert v.assign_add(np.array([0, 1])).tolist() == [expected[0], expected[1] + 1]


def test_a_bool_variable_takes_booleans():
    v = xg.Variable([True, False], name="mask")
    assert v.assign([False, True]).tolist() == [False, True]
    assert v.assign(np.array([True, True])).tolist() == [True, True]


def test_an_out_of_range_value_inside_xg_function_is_refused_on_replay():
    v = xg.Variable([0, 0], dtype=xg.int32, name="n")

    @xg.function
    def store_double(x):
        v.assign(x * 2)
        return v.read_value()

    assert store_double(xg.asarray([1, 2])).tolist() == [2, 4]
    assert store_double(xg.asarray([3, 4])).tolist() == [6, 8]          # a replay
    with pytest.raises(OverflowError, match=r"the value 2199023255552 .* variable 'n'"):
        store_double(xg.asarray([2 ** 40, 4]))
    assert v.tolist() == [6, 8]


def test_read_value_is_differentiated_as_the_variable_as_in_tensorflow():
    # TensorFlow: a tape records v.read_value() (and v.value()) as a read of v; it was a copy
    # cut from the tapes, whose gradient was None
    v = xg.Variable([1.0, 2.0, 3.0], dtype=xg.float64)
    with xg.GradientTape() as tape:
        snapshot = v.read_value()
        loss = xg.sum(snapshot * snapshot * xg.asarray([1.0, 10.0, 100.0], dtype=xg.float64))
    assert tape.gradient(loss, v).tolist() == [2.0, 40.0, 600.0]
    v.assign([0.0, 0.0, 0.0])                     # still a copy: the variable's write is not seen
    assert snapshot.tolist() == [1.0, 2.0, 3.0]
