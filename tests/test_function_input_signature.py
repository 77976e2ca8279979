"""``xg.function(fn, input_signature=[xg.TensorSpec(...)])``, TensorFlow's fixed signature:
matching calls trace once and replay (a ``None`` dimension once per length), calls that do not
match raise naming the argument instead of tracing again; methods, keywords, copies, tapes."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import xpgrad as xg

SPEC = [xg.TensorSpec((None, 2), xg.float64), xg.TensorSpec((), xg.float64)]


def scaled_sum(x, s):
    return xg.sum(x * s, axis=0)


def test_matching_calls_replay_and_none_dimensions_trace_per_length():
    f = xg.function(scaled_sum, input_signature=SPEC)
    rng = np.random.default_rng(0)
    for rows in (3, 3, 3, 5, 5, 3):
        x, s = rng.standard_normal((rows, 2)), rng.standard_normal()
        got = f(xg.asarray(x), s=xg.asarray(s, dtype=xg.float64)).numpy()
        np.testing.assert_allclose(got, (x * s).sum(axis=0), rtol=1e-14)
    assert f.trace_count == 2 and len(f.programs()) == 2


def test_calls_that_do_not_match_raise_naming_the_argument_and_trace_nothing():
    f = xg.function(scaled_sum, input_signature=SPEC)
    x, s = xg.ones((3, 2), dtype=xg.float64), xg.asarray(2.0, dtype=xg.float64)
    cases = [
        ((xg.ones((3, 2)), s), TypeError,
         r"argument 'x' has dtype float32, input_signature\[0\] TensorSpec\(shape=\(None, 2\), "
         r"dtype=float64\) needs float64"),
        ((xg.ones((3, 4), dtype=xg.float64), s), ValueError,
         r"argument 'x' has shape \(3, 4\), which input_signature\[0\] .* does not allow"),
        ((x, xg.ones((1,), dtype=xg.float64)), ValueError, r"argument 's' has shape \(1,\)"),
        ((x, 2.0), TypeError, r"argument 's' is a float, not a tensor; input_signature\[1\] is "
                              r"TensorSpec\(shape=\(\), dtype=float64\)"),
        ((x,), TypeError, r"xg.function 'scaled_sum' takes 2 arguments \(its "
                          r"input_signature\), got 1"),
        ((x, s, s), TypeError, "takes 2 arguments .*got 3"),
    ]
    for args, error, words in cases:
        with pytest.raises(error, match=words):
            f(*args)
    assert f.trace_count == 0
    with pytest.raises(TypeError, match="are not the positional parameters"):
        f(x, t=s)


def test_shape_none_takes_any_shape_and_a_method_leaves_self_out():
    class Scale:
        def __init__(self, factor):
            self.factor = factor

        @xg.function(input_signature=[xg.TensorSpec(None, xg.float32)])
        def __call__(self, x):
            return x * self.factor

    layer = Scale(3.0)
    for shape in ((2,), (2, 2), ()):
        np.testing.assert_array_equal(layer(xg.ones(shape)).numpy(), np.full(shape, 3.0))
    with pytest.raises(TypeError, match="has dtype int64"):
        layer(xg.asarray([1, 2]))


class _SlottedScale:
    """No __dict__ and no weak references: its instances call the class's own Function."""

    __slots__ = ("factor",)

    def __init__(self, factor):
        self.factor = factor

    @xg.function(input_signature=[xg.TensorSpec((None,), xg.float64)])
    def __call__(self, x):
        return x * self.factor


def test_a_method_of_a_class_with_slots_leaves_self_out_too():
    """It counted self against the input_signature ('takes 1 argument ..., got 2')."""
    layers = [_SlottedScale(2.0), _SlottedScale(-1.5)]
    for rows in (3, 3, 4):
        x = np.arange(float(rows))
        for layer in layers:
            np.testing.assert_array_equal(layer(xg.asarray(x)).numpy(), x * layer.factor)
    one = xg.asarray([1.0], dtype=xg.float64)
    np.testing.assert_array_equal(_SlottedScale.__call__(layers[0], one).numpy(), [2.0])
    with pytest.raises(TypeError, match=r"argument 'x' has dtype float32"):
        layers[0](xg.ones(3))
    with pytest.raises(TypeError, match=r"'__call__' takes 1 argument \(its input_signature\), "
                                        "got 2"):
        layers[0](one, one)


def test_under_a_tape_and_in_a_copy_the_signature_still_holds():
    f = xg.function(scaled_sum, input_signature=SPEC)
    x = xg.asarray(np.arange(6.0).reshape(3, 2))
    s = xg.asarray(0.5, dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(s)
        y = xg.sum(f(x, s))
    assert tape.gradient(y, s).item() == 15.0
    clone = copy.deepcopy(f)
    assert clone.input_signature == tuple(SPEC)
    with pytest.raises(TypeError, match="needs float64"):
        clone(xg.ones((3, 2)), s)


def test_bad_signatures_are_named():
    with pytest.raises(TypeError, match="input_signature must be a list of xg.TensorSpec, got "
                                        "TensorSpec"):
        xg.function(scaled_sum, input_signature=SPEC[0])
    with pytest.raises(TypeError, match=r"input_signature\[1\] must be an xg.TensorSpec"):
        xg.function(input_signature=[SPEC[0], (None, 2)])(scaled_sum)
    with pytest.raises(TypeError, match="shape's lengths must be non-negative ints or None, "
                                        "got -1"):
        xg.TensorSpec((-1, 2))
    with pytest.raises(TypeError, match="shape must be a sequence of ints or None"):
        xg.TensorSpec(3)
    with pytest.raises(TypeError, match="TensorSpec: dtype: unsupported dtype"):
        xg.TensorSpec((2,), "float33")


def test_numpy_integer_lengths_are_lengths():
    """A length from NumPy (``np.int64(3)``, what ``array.shape`` arithmetic gives) was
    refused as not an int; TensorFlow's TensorShape takes it."""
    spec = xg.TensorSpec((np.int64(3), None), xg.float64)
    assert spec == xg.TensorSpec((3, None), xg.float64) and type(spec.shape[0]) is int
    assert spec.is_compatible_with(xg.zeros((3, 5), dtype=xg.float64))
    assert not spec.is_compatible_with(xg.zeros((4, 5), dtype=xg.float64))
    with pytest.raises(TypeError, match="lengths must be non-negative ints or None, got "
                                        r"np.int64\(-2\)"):
        xg.TensorSpec((np.int64(-2),))


def test_retracing_under_a_none_dimension_says_each_length_is_its_own_trace():
    # TensorFlow traces once for any length of a None dimension; xpgrad plans its programs per
    # shape, so the warning names the None dimension, not input_signature as the fix
    f = xg.function(scaled_sum, input_signature=SPEC)
    s = xg.asarray(0.5, dtype=xg.float64)
    with pytest.warns(xg.jit.RetracingWarning) as record:
        for rows in range(1, 10):
            f(xg.ones((rows, 2), dtype=xg.float64), s), f(xg.ones((rows, 2), dtype=xg.float64), s)
    assert f.trace_count == 9
    message = str(record[0].message)
    assert "input_signature[0] TensorSpec(shape=(None, 2)" in message
    assert "each new length is its own trace" in message and "max_traces" in message
    assert "Pad to a few fixed lengths" in message
