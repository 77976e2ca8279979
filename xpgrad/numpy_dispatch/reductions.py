"""NumPy's reductions on Tensors: ``np.sum``, ``np.mean``, ``np.max``, ``np.std``/``np.var``
(``ddof``), ``np.argmax``, ``np.cumsum``, ``np.average`` (weights) and their aliases. Means,
variances and averages of integers are float64, as NumPy's (``xg.mean``'s are float32).

>>> import numpy as np, xpgrad as xg
>>> np.std(xg.asarray([1.0, 3.0]), ddof=1).item()
1.4142135381698608
"""
from __future__ import annotations

import numpy as np

from .arguments import (_Unsupported, _axis_and_input, _cast, _fn, _keepdims,
                        _norm_axes, _numpy_float, _refuse, _tensor)
from ..tensor import Tensor
from .functions import numpy_function


# -- reductions -----------------------------------------------------------------------------------

def _reduction(xg_name, np_name, initial_ok=(), averages=False):
    """``np.<np_name>`` as ``xg.<xg_name>``; ``averages``: integers in float64 (NumPy's)."""
    def adapter(a, axis=None, dtype=None, keepdims=False, **rest):
        initial = rest.pop("initial", None)
        _refuse(rest, f"np.{np_name}", where=True)
        if initial is not None and initial not in initial_ok:
            raise _Unsupported(f"np.{np_name} with initial={initial!r}")
        a = _tensor(a)
        if dtype is not None:
            a = _cast(a, dtype)
        elif averages:
            a = _numpy_float(a)
        return _fn(xg_name)(a, axis=_norm_axes(axis),
                            keepdims=_keepdims(keepdims, f"np.{np_name}"))
    return adapter


numpy_function("sum")(_reduction("sum", "sum", initial_ok=(0,)))
numpy_function("prod")(_reduction("prod", "prod", initial_ok=(1,)))
numpy_function("mean")(_reduction("mean", "mean", averages=True))
for _name in ("max", "amax"):
    numpy_function(_name)(_reduction("max", _name))
for _name in ("min", "amin"):
    numpy_function(_name)(_reduction("min", _name))
numpy_function("all")(_reduction("all", "all"))
numpy_function("any")(_reduction("any", "any"))


def _moments(xg_name):
    def adapter(a, axis=None, dtype=None, ddof=0, keepdims=False, *, correction=None, **rest):
        _refuse(rest, f"np.{xg_name}", where=True)
        a = _tensor(a)
        a = _numpy_float(a) if dtype is None else _cast(a, dtype)
        corr = ddof if correction is None else correction
        return _fn(xg_name)(a, axis=_norm_axes(axis), correction=corr,
                            keepdims=_keepdims(keepdims, f"np.{xg_name}"))
    return adapter


numpy_function("std")(_moments("std"))
numpy_function("var")(_moments("var"))


def _arg_reduction(xg_name):
    def adapter(a, axis=None, keepdims=False):
        return _fn(xg_name)(_tensor(a), axis=axis,
                            keepdims=_keepdims(keepdims, f"np.{xg_name}"))
    return adapter


numpy_function("argmax")(_arg_reduction("argmax"))
numpy_function("argmin")(_arg_reduction("argmin"))


def _cumulative(xg_name, np_name):
    def adapter(a, axis=None, dtype=None, include_initial=False):
        a, axis = _axis_and_input(a, axis)
        if dtype is not None:
            a = _cast(a, dtype)
        kwargs = {"include_initial": True} if include_initial else {}
        return _fn(xg_name)(a, axis=axis, **kwargs)
    return adapter


numpy_function("cumsum", "cumulative_sum")(_cumulative("cumulative_sum", "cumsum"))
numpy_function("cumprod", "cumulative_prod")(_cumulative("cumulative_prod", "cumprod"))


@numpy_function("average")
def _average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """``xg.average`` in NumPy's result dtype: ``a``'s and the weights' (a list's as NumPy
    reads it), at least float64 for integer or boolean ``a``; an array ``a`` with Tensor
    weights on their backend."""
    if not isinstance(a, Tensor) and isinstance(weights, Tensor):
        a = _fn("asarray")(a, backend=weights.backend)
    a = _tensor(a)
    if weights is None:
        a = _numpy_float(a)
    else:
        w = weights if isinstance(weights, Tensor) else \
            _fn("asarray")(np.asarray(weights), backend=a.backend)
        floor = ("f8",) if _fn("isdtype")(a.dtype, ("integral", "bool")) else ()
        common = np.result_type(np.dtype(str(a.dtype)), np.dtype(str(w.dtype)), *floor)
        a, weights = _cast(a, common), _cast(w, common)
    return _fn("average")(a, axis=_norm_axes(axis), weights=weights, returned=returned,
                          keepdims=_keepdims(keepdims, "np.average"))
