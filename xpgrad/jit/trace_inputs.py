"""What a trace's program takes in (``capture.py``): the stand-ins of a call's tensor arguments
(``traced_args``) and the Variables whose arrays the program reads (``live_variables``).

>>> import numpy as np, xpgrad as xg
>>> from xpgrad.jit.tracer import Tracer
>>> x = xg.asarray([1.0, 2.0])
>>> made = []
>>> args = traced_args(Tracer(xg.get_backend("numpy")), (x, {"again": x}), made, {})
>>> len(made), args[1]["again"] is args[0]
(1, True)
"""
from __future__ import annotations

from .traced import Traced


def live_variables(be):
    """Every Variable in the process whose raw array is on backend ``be`` (from the registry
    ``Variable.__new__`` fills: a scan of every object, ``gc.get_objects()``, took 30 ms with
    PyTorch imported and 0.2 s in a test-suite worker). A Variable whose ``__init__`` raised
    has no array; a kept exception's traceback can hold it: skipped."""
    from ..variable import live_variables as every_variable

    return [o for o in every_variable()
            if getattr(o, "_backend", None) is be and type(o._data) is not Traced]


def traced_args(tracer, obj, made, seen):
    """``obj`` with each tensor argument replaced by a stand-in (appended to ``made``); one
    tensor given twice is one stand-in (``seen``: id -> stand-in), so a tape sees one tensor,
    as eagerly (each occurrence is still an input of the program, the second unused)."""
    from ..tensor import Tensor, Variable, _wrap
    from .structure import map_leaves

    def traced(o):
        if isinstance(o, Tensor) and not isinstance(o, Variable):
            t = _wrap(tracer.input(o._data), o._backend)
            if id(o) in seen:
                return seen[id(o)]
            seen[id(o)] = t
            made.append((t, t._data))
            return t
        return o

    return map_leaves(traced, obj)
