"""NumPy's reductions on Tensors: ``np.sum``, ``np.mean``, ``np.max``, ``np.std``/``np.var``
(``ddof``), ``np.argmax``, ``np.cumsum``, ``np.average`` (weights) and their aliases.

>>> import numpy as np, xpgrad as xg
>>> np.std(xg.asarray([1.0, 3.0]), ddof=1).item()
1.4142135381698608
"""
from __future__ import annotations

from .arguments import (_Unsupported, _axis_and_input, _cast, _fn, _keepdims, _norm_axes,
                        _refuse, _tensor)
from .functions import numpy_function


# -- reductions -----------------------------------------------------------------------------------

def _reduction(xg_name, np_name, initial_ok=()):
    def adapter(a, axis=None, dtype=None, keepdims=False, **rest):
        initial = rest.pop("initial", None)
        _refuse(rest, f"np.{np_name}", where=True)
        if initial is not None and initial not in initial_ok:
            raise _Unsupported(f"np.{np_name} with initial={initial!r}")
        a = _tensor(a)
        if dtype is not None:
            a = _cast(a, dtype)
        return _fn(xg_name)(a, axis=_norm_axes(axis),
                            keepdims=_keepdims(keepdims, f"np.{np_name}"))
    return adapter


numpy_function("sum")(_reduction("sum", "sum", initial_ok=(0,)))
numpy_function("prod")(_reduction("prod", "prod", initial_ok=(1,)))
numpy_function("mean")(_reduction("mean", "mean"))
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
        if dtype is not None:
            a = _cast(a, dtype)
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
    if returned:
        raise _Unsupported("np.average with returned=True")
    keepdims = _keepdims(keepdims, "np.average")
    a = _tensor(a)
    if weights is None:
        return _fn("mean")(a, axis=_norm_axes(axis), keepdims=keepdims)
    w = _tensor(weights)
    if w.shape != a.shape:
        if axis is None or w.ndim != 1:
            raise _Unsupported("np.average with weights of another shape than a")
        w = _fn("reshape")(w, tuple(-1 if i == axis % a.ndim else 1 for i in range(a.ndim)))
    total = _fn("sum")(a * w, axis=_norm_axes(axis), keepdims=keepdims)
    return total / _fn("sum")(_fn("broadcast_to")(w, a.shape), axis=_norm_axes(axis),
                              keepdims=keepdims)
