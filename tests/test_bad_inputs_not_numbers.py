"""Inputs that hold no numbers (a str, bytes, a dict, another object) name the argument they came
in as, in asarray and in every operation that converts its operands."""
import numpy as np
import pytest

import xpgrad as xg


@pytest.mark.parametrize("bad, kind", [("a", "a str"), (b"a", "a bytes"), ({"a": 1}, "a dict"),
                                       (["a", "b"], "a list"), (object(), "an object")])
def test_asarray_names_obj(bad, kind):
    with pytest.raises(TypeError, match=f"asarray: obj is {kind} .*not an array, a number"):
        xg.asarray(bad)


@pytest.mark.parametrize("call, named", [
    (lambda t: xg.hypot(t, "a"), "hypot: argument 2"),
    (lambda t: xg.add("a", t), "add: argument 1"),
    (lambda t: t * "a", "multiply: argument 2"),
    (lambda t: xg.maximum(t, {"x": 1}), "maximum: argument 2"),
    (lambda t: xg.sin("a"), "sin: argument 1"),
])
def test_an_operation_names_the_argument(call, named):
    with pytest.raises(TypeError, match=f"{named} is an? "):
        call(xg.ones(3))


@pytest.mark.parametrize("name, call", [
    ("sum", xg.sum), ("mean", xg.mean), ("max", xg.max), ("prod", xg.prod), ("var", xg.var),
    ("std", xg.std), ("logsumexp", xg.logsumexp), ("reshape", lambda x: xg.reshape(x, (3,))),
    ("squeeze", xg.squeeze), ("expand_dims", xg.expand_dims),
    ("moveaxis", lambda x: xg.moveaxis(x, 0, 0)),
    ("broadcast_to", lambda x: xg.broadcast_to(x, (3,))),
    ("permute_dims", lambda x: xg.permute_dims(x, (0,))),
])
@pytest.mark.parametrize("bad", [None, "a"])
def test_reductions_and_shape_functions_name_their_argument(name, call, bad):
    # they said "asarray: obj is None", the function unnamed (found by
    # tests/test_differential_fuzz.py)
    with pytest.raises(TypeError, match=f"^{name}: x is .*not an array, a number"):
        call(bad)


def test_numbers_still_convert():
    # what the check must not refuse: nested lists, NumPy arrays and scalars of supported dtypes
    t = xg.ones(3)
    np.testing.assert_array_equal(xg.add(t, [1.0, 2.0, 3.0]).numpy(), [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(xg.add(t, np.arange(3.0)).numpy(), [1.0, 2.0, 3.0])
    assert xg.asarray(np.float64(2.5)).item() == 2.5


def test_a_half_precision_array_keeps_its_own_advice():
    with pytest.raises(TypeError, match="obj has dtype float16.*convert it to float32"):
        xg.asarray(np.ones(2, np.float16))
