"""Variables a traced function reads straight from a module's attribute (``x @ layer.w``, the
layer neither called nor walked, so no structure guard covers it: module_structure.py).

While a trace runs, ``Module.__getattribute__`` notes each attribute read that returns a
Variable (``Tracer.module_reads``); ``jit/name_guards.read_guards`` turns the reads of modules no structure
guard covers into guards of the program (``layer.w`` is still that Variable), so setting
``layer.w = xg.Variable(...)`` traces anew. Outside traces Module has no
``__getattribute__`` of its own: attribute reads cost what they cost without this.

>>> import xpgrad as xg
>>> layer = xg.nn.Linear(2, 2, rng=0)
>>> undo = watch_reads()
>>> layer.w is vars(layer)["w"], "__getattribute__" in vars(xg.nn.Module)
(True, True)
>>> undo()
>>> "__getattribute__" in vars(xg.nn.Module)
False
"""
from __future__ import annotations

import weakref

from ..jit.trace_state import THREAD
from ..tensor import Variable


def _noting_reads(module, name):
    value = object.__getattribute__(module, name)
    if isinstance(value, Variable):
        tracer = THREAD.tracer
        if tracer is not None and not tracer.paused:
            try:        # weakly: a module the function makes must not outlive the call
                tracer.module_reads.append((weakref.ref(module), name, weakref.ref(value)))
            except TypeError:       # __slots__ without __weakref__: no guard
                pass
    return value


def watch_reads():
    """Note reads of Variables from modules' attributes in traces (module docstring) until the
    function returned is called."""
    from .module import Module

    if "__getattribute__" in vars(Module):          # another trace watches already
        return lambda: None
    Module.__getattribute__ = _noting_reads

    def undo():
        if vars(Module).get("__getattribute__") is _noting_reads:
            del Module.__getattribute__
    return undo
