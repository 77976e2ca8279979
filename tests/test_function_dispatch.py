"""The usual xg.function call -- plain Tensors, positional, on one backend -- is keyed and its
arrays gathered without the general walk over nested arguments (``signature.tensors_key``,
``arguments.plain_arrays``): the key is the general one, and every other call takes the
general way."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import Function
from xpgrad.jit import signature as signature_module
from xpgrad.jit.arguments import plain_arrays
from xpgrad.jit.signature import tensors_key


def _general_key(fn, args, kwargs, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr("xpgrad.jit.tensors_key", lambda args: None)
        return fn._key(args, kwargs)


def _tensor(shape, dtype="float32", backend="numpy"):
    return xg.asarray(np.zeros(shape, dtype), backend=backend)


@pytest.mark.parametrize("args", [
    lambda: (_tensor((2, 3)),),
    lambda: (_tensor((2, 3)), _tensor(4, "int64")),
    lambda: (_tensor(()), _tensor((1,), "float64"), _tensor((5, 1, 2))),
])
def test_the_plain_key_is_the_general_one(args, monkeypatch):
    fn = Function(lambda *a: a[0])
    args = args()
    key, be = fn._key(args, {})
    assert tensors_key(args) == (key, be)
    assert (key, be) == _general_key(fn, args, {}, monkeypatch)


def test_other_calls_take_the_general_key():
    t = _tensor((2,))
    for args in [(), (t, 2.0), (xg.Variable([1.0]),), (t, t), ([t],),
                 (t, _tensor((2,), backend="numba"))]:
        assert tensors_key(args) is None


def test_keywords_take_the_general_key(monkeypatch):
    calls = []
    monkeypatch.setattr("xpgrad.jit.tensors_key",
                        lambda args: calls.append(args) or signature_module.tensors_key(args))
    fn = Function(lambda x, y=None: x)
    t = _tensor((2,))
    fn._key((t,), {"y": t})
    assert calls == []
    fn._key((t, t), {})
    assert len(calls) == 1


def test_the_same_tensor_twice_replays_its_own_trace():
    fn = xg.function(lambda a, b: a * 2 + b)
    x, y = _tensor((3,)) + 1, _tensor((3,)) + 2
    for _ in range(3):
        assert fn(x, y).tolist() == [4.0, 4.0, 4.0]
        assert fn(x, x).tolist() == [3.0, 3.0, 3.0]
    assert len(fn.programs()) == 2


def test_plain_arrays_of_plain_tensors_only():
    t = _tensor((2,))
    assert plain_arrays((t, t))[0] is t._data
    assert plain_arrays(()) == []
    assert plain_arrays((t, 1.0)) is None
    assert plain_arrays((xg.Variable([1.0]),)) is None
    assert plain_arrays(([t],)) is None


def test_variable_reads_and_array_attributes_are_inline_in_the_program():
    import re

    w = xg.Variable(np.arange(6.0).reshape(3, 2), backend="numpy")

    def f(x):
        with xg.GradientTape() as tape:
            loss = xg.sum((x @ w) ** 2)
        return tape.gradient(loss, [w])[0]               # x.mT @ g: an array attribute

    compiled = xg.function(f)
    x = xg.asarray(np.ones((4, 3)), backend="numpy")
    for _ in range(3):
        np.testing.assert_array_equal(compiled(x).numpy(), f(x).numpy())
    w.assign(w * 2.0)                                # a read sees the Variable's new array
    np.testing.assert_array_equal(compiled(x).numpy(), f(x).numpy())
    source = compiled.programs()[0].source
    assert re.search(r"= c\d+\._data$", source, re.M), source
    assert re.search(r"= s\d+\.mT$", source, re.M), source
    from xpgrad.jit.tracer import VariableRead
    assert not any(type(v) is VariableRead for v in compiled.programs()[0]._namespace.values())
