"""``Tensor.__array_ufunc__``: NumPy's ufuncs (called, ``reduce``, ``accumulate``, ``outer``)
sent to the xpgrad function of the same meaning (``np.power`` to ``xg.pow``, ``np.add.reduce``
to ``xg.sum``), a few composed from several (``np.cbrt``, ``np.logaddexp2``); SciPy's special
ufuncs to ``xg.special``'s function of their name (``scipy.special.entr``).

>>> import numpy as np, xpgrad as xg
>>> np.add.reduce(xg.asarray([1.0, 2.0, 3.0])).tolist(), UFUNCS["power"]
(6.0, 'pow')
"""
from __future__ import annotations

import math

from ..tensor import Tensor
from .arguments import _cast, _fn, _keepdims, _ns, _refuse, _tensor, _Unsupported
from .fallback import _fallback, _known_types, _write_out, on_tensors_backend


# -- ufuncs ---------------------------------------------------------------------------------------
#: NumPy ufunc name -> xpgrad function with the same positional arguments
UFUNCS = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "divide",
    "floor_divide": "floor_divide", "remainder": "remainder", "power": "pow",
    "negative": "negative", "positive": "positive", "absolute": "abs", "fabs": "abs",
    "sign": "sign", "exp": "exp", "expm1": "expm1", "log": "log", "log2": "log2",
    "log10": "log10", "log1p": "log1p", "sqrt": "sqrt", "square": "square", "sin": "sin",
    "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "arctan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh",
    "arccosh": "acosh", "arctanh": "atanh", "hypot": "hypot", "maximum": "maximum",
    "minimum": "minimum", "floor": "floor", "ceil": "ceil", "trunc": "trunc", "rint": "round",
    "logaddexp": "logaddexp", "copysign": "copysign", "signbit": "signbit",
    "nextafter": "nextafter", "isnan": "isnan", "isinf": "isinf", "isfinite": "isfinite",
    "equal": "equal", "not_equal": "not_equal", "less": "less", "less_equal": "less_equal",
    "greater": "greater", "greater_equal": "greater_equal", "logical_and": "logical_and",
    "logical_or": "logical_or", "logical_xor": "logical_xor", "logical_not": "logical_not",
    "bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor",
    "invert": "bitwise_invert", "left_shift": "bitwise_left_shift",
    "right_shift": "bitwise_right_shift", "conjugate": "conj", "matmul": "matmul",
    "vecdot": "vecdot",
}

#: SciPy's private ufuncs behind its public functions -> ``xg.special`` name
#: (``scipy.special.zeta(s, q)`` calls ``_zeta``, ``zeta(s)`` ``_riemann_zeta``)
SCIPY_PRIVATE_UFUNCS = {"_zeta": "zeta", "_riemann_zeta": "zeta"}

_LN2 = math.log(2.0)

#: NumPy ufuncs that are a few xpgrad calls
COMPOSED = {
    "reciprocal": lambda x: _fn("divide")(1.0, x),
    "exp2": lambda x: _fn("pow")(2.0, x),
    "deg2rad": lambda x: _fn("multiply")(x, math.pi / 180.0),
    "radians": lambda x: _fn("multiply")(x, math.pi / 180.0),
    "rad2deg": lambda x: _fn("multiply")(x, 180.0 / math.pi),
    "degrees": lambda x: _fn("multiply")(x, 180.0 / math.pi),
    "cbrt": lambda x: _fn("multiply")(_fn("sign")(_real_only(x, "cbrt")),
                                      _fn("pow")(_fn("abs")(x), 1.0 / 3.0)),
    "logaddexp2": lambda x, y: _fn("divide")(
        _fn("logaddexp")(_fn("multiply")(_real_only(x, "logaddexp2"), _LN2),
                         _fn("multiply")(_real_only(y, "logaddexp2"), _LN2)), _LN2),
    "float_power": lambda x, y: _fn("pow")(_as_float64(x), _as_float64(y)),
}

#: ufunc.reduce -> xpgrad reduction; ufunc.accumulate -> cumulative function
REDUCE = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min",
          "logical_and": "all", "logical_or": "any"}
ACCUMULATE = {"add": "cumulative_sum", "multiply": "cumulative_prod"}

_DEFAULTS = {"casting": "same_kind", "order": "K", "subok": True, "where": True}


def _as_float64(x):
    """``x`` in float64, or complex128 when complex (``np.float_power``'s result types)."""
    if not isinstance(x, Tensor):
        x = _fn("asarray")(x)
    wide = _ns().complex128 if x.dtype.is_complex else _ns().float64
    return _fn("astype")(x, wide) if x.dtype != wide else x


def _real_only(x, name):
    """``x``, refused when complex: NumPy's ``cbrt`` and ``logaddexp2`` take real input only."""
    if getattr(getattr(x, "dtype", None), "is_complex", False) or isinstance(x, complex):
        raise TypeError(f"np.{name} is not defined for complex input (as in NumPy)")
    return x


def _ufunc_call(ufunc, inputs, kwargs):
    name = ufunc.__name__
    extra = dict(kwargs)
    dtype = extra.pop("dtype", None)
    axis = extra.pop("axis", None) if name == "vecdot" else None
    for k, v in list(extra.items()):
        if k in _DEFAULTS and (v is _DEFAULTS[k] or (isinstance(v, (str, bool))
                                                    and v == _DEFAULTS[k])):
            del extra[k]
    if extra:
        raise _Unsupported(f"np.{name} with {', '.join(sorted(extra))}=")
    if dtype is not None:
        inputs = [_cast(a, dtype) for a in inputs]
    if name in COMPOSED:
        return COMPOSED[name](*inputs)
    if name not in UFUNCS:
        name = SCIPY_PRIVATE_UFUNCS.get(name, name)
        if name in _ns().special.__all__:       # SciPy's special ufuncs: scipy.special.erf(t)
            return _fn(f"special.{name}")(*inputs)
        raise _Unsupported(f"np.{name} has no xpgrad counterpart")
    fn = _fn(UFUNCS[name])
    return fn(*inputs, axis=axis) if axis is not None else fn(*inputs)


def _ufunc_reduce(ufunc, inputs, kwargs):
    name = ufunc.__name__
    if name not in REDUCE or len(inputs) != 1:
        raise _Unsupported(f"np.{name}.reduce has no xpgrad counterpart")
    kwargs = dict(kwargs)
    a = inputs[0]
    axis = kwargs.pop("axis", 0)
    dtype = kwargs.pop("dtype", None)
    keepdims = _keepdims(kwargs.pop("keepdims", False), f"np.{name}.reduce")
    _refuse(kwargs, f"np.{name}.reduce", where=True)
    if dtype is not None:
        a = _cast(a, dtype)
    return _fn(REDUCE[name])(a, axis=axis, keepdims=keepdims)


def _ufunc_accumulate(ufunc, inputs, kwargs):
    name = ufunc.__name__
    if name not in ACCUMULATE or len(inputs) != 1:
        raise _Unsupported(f"np.{name}.accumulate has no xpgrad counterpart")
    kwargs = dict(kwargs)
    a = inputs[0]
    axis = kwargs.pop("axis", 0)
    dtype = kwargs.pop("dtype", None)
    _refuse(kwargs, f"np.{name}.accumulate")
    if dtype is not None:
        a = _cast(a, dtype)
    return _fn(ACCUMULATE[name])(a, axis=axis)


def _ufunc_outer(ufunc, inputs, kwargs):
    a, b = (_tensor(v) for v in inputs)
    a = _fn("reshape")(a, tuple(a.shape) + (1,) * b.ndim)
    return _ufunc_call(ufunc, (a, b), kwargs)


_METHODS = {"__call__": _ufunc_call, "reduce": _ufunc_reduce,
            "accumulate": _ufunc_accumulate, "outer": _ufunc_outer}


def array_ufunc(ufunc, method, inputs, kwargs):
    """What ``Tensor.__array_ufunc__`` does (the package docstring)."""
    if not _known_types(type(a) for a in inputs):
        return NotImplemented
    out = kwargs.pop("out", None)
    what = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if method == "at":
        raise TypeError(f"{what} writes into its first argument in place; on a Tensor write "
                        "x[idx] = x[idx] + v (repeated indices do not accumulate), or build "
                        "the value with xpgrad functions")
    try:
        if out is not None and not all(isinstance(o, Tensor) for o in out):
            raise _Unsupported("out= that is not a Tensor")
        handler = _METHODS.get(method)
        if handler is None:
            raise _Unsupported(f"ufunc method {method!r}")
        result = on_tensors_backend(handler, inputs, ufunc, inputs, kwargs)
    except _Unsupported as e:
        if out is not None:
            kwargs["out"] = out
        return _fallback(what, str(e), (inputs, kwargs),
                         lambda a, k: getattr(ufunc, method)(*a, **k))
    return _write_out(result, out)
