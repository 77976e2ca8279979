"""``Tensor.__array_function__``: NumPy's functions sent to the adapter registered for them
(``numpy_function``; the adapters live in the modules named by kind), functions without a
gradient (``NO_GRADIENT``) run by NumPy on the values.

>>> import numpy as np, xpgrad as xg
>>> ("numpy", "concatenate") in FUNCTIONS, np.shape(xg.ones((2, 3)))
(True, (2, 3))
"""
from __future__ import annotations

from ..tensor import Tensor
from .arguments import _Unsupported
from .fallback import _fallback, _known_types, _values, _write_out, on_tensors_backend


# -- functions ------------------------------------------------------------------------------------
#: (NumPy module, function name) -> adapter(*args, **kwargs) with NumPy's signature
FUNCTIONS: dict = {}

#: functions whose results carry no gradient: NumPy may run them on the values even while a
#: tape records (booleans, shapes, dtypes, printing)
NO_GRADIENT = {
    "shape", "ndim", "size", "isclose", "allclose", "array_equal", "array_equiv",
    "result_type", "iscomplexobj", "isrealobj", "iscomplex", "isreal", "isneginf",
    "isposinf", "shares_memory", "may_share_memory", "array_repr", "array_str",
    "array2string", "min_scalar_type", "can_cast", "isfortran",
}


def numpy_function(*names, module="numpy"):
    """Register an adapter for NumPy functions ``names`` of ``module``."""
    def register(fn):
        for name in names:
            FUNCTIONS[(module, name)] = fn
        return fn
    return register


def array_function(func, types, args, kwargs):
    """What ``Tensor.__array_function__`` does (the package docstring)."""
    if not _known_types(types):
        return NotImplemented
    module = getattr(func, "__module__", "numpy") or "numpy"
    name = func.__name__
    what = f"{module.replace('numpy', 'np')}.{name}"
    kwargs = dict(kwargs)
    out = kwargs.pop("out", None)
    if out is not None and not isinstance(out, tuple):
        out = (out,)
    adapter = FUNCTIONS.get((module, name))
    try:
        if adapter is None:
            raise _Unsupported(f"{what} has no xpgrad counterpart")
        if out is not None and not all(isinstance(o, Tensor) for o in out):
            raise _Unsupported("out= that is not a Tensor")
        result = on_tensors_backend(adapter, (args, kwargs), *args, **kwargs)
    except _Unsupported as e:
        if out is not None:
            kwargs["out"] = out if len(out) > 1 else out[0]
        if name in NO_GRADIENT and module == "numpy":
            return func(*_values(args), **_values(kwargs))
        return _fallback(what, str(e), (args, kwargs), lambda a, k: func(*a, **k))
    return _write_out(result, out)
