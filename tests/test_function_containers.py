"""``xg.function`` looks into dict, list and tuple subclasses (an ``OrderedDict`` or
``defaultdict`` argument's tensors are inputs, not constants baked into the trace, and such a
result comes back with its type on every replay), refuses at the trace a result that hides
tensors elsewhere (a dataclass, a closure), and warns when new signatures keep it from ever
tracing."""
import collections
import dataclasses
import warnings

import numpy as np
import pytest

import xpgrad as xg


class Rows(list):
    pass


@pytest.mark.parametrize("make", [collections.OrderedDict,
                                  lambda: collections.defaultdict(list)],
                         ids=["OrderedDict", "defaultdict"])
def test_a_dict_subclass_argument_is_read_on_every_call(make):
    f = xg.function(lambda d: d["x"] * 2)
    d = make()
    got = []
    for i in range(4):
        d["x"] = xg.asarray(np.full(3, float(i)))
        got.append(f(d).tolist())
    assert got == [[2.0 * i] * 3 for i in range(4)]
    assert f.trace_count == 1


def test_a_list_subclass_argument_is_read_on_every_call():
    f = xg.function(lambda rows: rows[0] + rows[1])
    got = [f(Rows([xg.asarray([float(i)]), xg.ones(1)])).tolist() for i in range(4)]
    assert got == [[i + 1.0] for i in range(4)] and f.trace_count == 1


def test_container_subclass_results_keep_their_type():
    f = xg.function(lambda x: collections.OrderedDict(double=x * 2, rows=Rows([x * 3])))
    for i in range(4):
        out = f(xg.asarray([float(i)]))
        assert type(out) is collections.OrderedDict and type(out["rows"]) is Rows
        assert out["double"].tolist() == [2.0 * i] and out["rows"][0].tolist() == [3.0 * i]
    assert f.trace_count == 1


def test_a_result_hiding_tensors_is_refused_at_the_trace():
    @dataclasses.dataclass
    class Out:
        loss: object

    f = xg.function(lambda x: Out(x * 2))
    x = xg.ones(2)
    assert f(x).loss.tolist() == [2.0, 2.0]             # the warm-up call runs eagerly
    with pytest.raises(xg.jit.TraceError, match="holds a Out with tensors inside.*named tuple"):
        f(x)
    g = xg.function(lambda x: xg.vjp(lambda a: a * 2, x))
    g(x)
    with pytest.raises(xg.jit.TraceError, match="holds a function"):
        g(x)


def test_a_new_signature_on_every_call_warns_once():
    f = xg.function(lambda x, step: xg.tanh(x) * step, retrace_warning=2)
    x = xg.ones(3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(20):
            f(x, step)
    churn = [w for w in caught if issubclass(w.category, xg.jit.RetracingWarning)]
    assert len(churn) == 1 and "met 8 signatures and traced 0" in str(churn[0].message)
    assert f.trace_count == 0
    g = xg.function(lambda x, step: xg.tanh(x) * step, retrace_warning=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(20):
            g(x, 1.0)
