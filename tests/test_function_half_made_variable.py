"""A Variable whose construction raised (a float16 value) stays alive while its exception is
kept -- ``sys.last_exc`` in a REPL or notebook, a test framework's report -- and has no array.
Every later trace listed it among the live Variables and failed with ``AttributeError:
'Variable' object has no attribute '_backend'``; it is skipped now."""
import numpy as np
import pytest

import xpgrad as xg


def test_a_trace_ignores_a_variable_whose_construction_failed():
    with pytest.raises(TypeError, match="float16") as kept:
        xg.Variable(np.zeros(2, np.float16), name="half")
    assert any(type(f.f_locals.get("self")) is xg.Variable for f in
               (tb.tb_frame for tb in _tracebacks(kept.value.__traceback__)))
    w = xg.Variable([1.0, 2.0], name="w")
    f = xg.function(lambda x: x * w)
    for _ in range(3):
        assert f(xg.asarray([3.0, 4.0])).tolist() == [3.0, 8.0]
    assert f.trace_count == 1


def _tracebacks(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next
