"""The backend's ``xp`` namespace while a function is traced (``tracer.py``): a proxy whose
function calls go through the tracer, so a call that takes no traced array (``xp.zeros(...)``) is
recorded too; submodules (``xp.linalg``) are proxied likewise, and the functions about dtypes and
devices (``_STATIC_FUNCS``) and classes are the namespace's own.

>>> import numpy as np
>>> class Recorder:
...     def call(self, fn, args, kwargs):
...         return fn.__name__, args
>>> xp = _XpProxy(np, Recorder())
>>> xp.exp(1.0), xp.linalg.norm([3.0]), xp.float64 is np.float64
(('exp', (1.0,)), ('norm', ([3.0],)), True)
"""
from __future__ import annotations

import types


class _XpProxy:
    """The backend's namespace during a trace: every function call goes through the tracer."""

    def __init__(self, real, tracer):
        self._real = real
        self._tracer = tracer
        self._cache = {}

    def __getattr__(self, name):
        try:
            return self._cache[name]
        except KeyError:
            pass
        value = getattr(self._real, name)
        tracer = self._tracer
        if isinstance(value, types.ModuleType):
            wrapped = _XpProxy(value, tracer)
        elif callable(value) and not isinstance(value, type) and name not in _STATIC_FUNCS:
            def wrapped(*args, _fn=value, **kwargs):
                return tracer.call(_fn, args, kwargs)
            wrapped.__name__ = name
        else:
            wrapped = value
        self._cache[name] = wrapped
        return wrapped


#: namespace functions about dtypes and devices, never arrays: called directly
_STATIC_FUNCS = frozenset(("isdtype", "finfo", "iinfo", "result_type", "can_cast",
                           "__array_namespace_info__", "dtype"))
