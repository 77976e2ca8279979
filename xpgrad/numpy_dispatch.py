"""NumPy called on Tensors runs xpgrad: ``np.exp(t)`` is ``xg.exp(t)``, and stays on the tape.

``Tensor.__array_ufunc__`` and ``Tensor.__array_function__`` (NumPy's dispatch protocols, as
MyGrad uses them) send NumPy's ufuncs and functions to the xpgrad function of the same meaning:
``np.add`` to ``xg.add``, ``np.power`` to ``xg.pow``, ``np.absolute`` to ``xg.abs``,
``np.concatenate`` to ``xg.concat``, ``np.transpose`` to ``xg.permute_dims``, ``np.sum(t,
axis=0)`` to ``xg.sum``, ``np.add.reduce`` to ``xg.sum``, ``np.linalg.*`` and ``np.fft.*`` to
``xg.linalg`` and ``xg.fft``, with NumPy's argument conventions translated (``axis=None``
flattening where NumPy flattens, ``ddof``, ``dtype=``). The xpgrad function is looked up when
called, so a mapping works as soon as xpgrad has the function. ``out=`` is honoured when every
output is a Tensor (written with ``out[...] = result``, see ``xpgrad/inplace.py``); an
``ndarray`` ``out`` takes the NumPy path below.

Anything without a mapping (a NumPy function xpgrad has no counterpart for, an argument it does
not translate, ``ufunc.at``) raises TypeError while a recording tape differentiates one of the
tensors involved — never a NumPy array whose gradient would silently come back None. Outside any
tape (or when no tensor involved is differentiated) it falls back to NumPy on the tensors' values
(read-only arrays, so NumPy cannot write into a tensor) and returns what NumPy returns. Functions
whose results carry no gradient (``np.shape``, ``np.allclose``, ``np.isclose``, ...) take that
path even under a tape.

>>> import numpy as np, xpgrad as xg
>>> x = xg.asarray([0.0, 1.0], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = np.sum(np.exp(x) * 2.0)
>>> type(y).__name__, tape.gradient(y, x).tolist()
('Tensor', [2.0, 5.43656365691809])
"""
from __future__ import annotations

import math

from . import tensor_methods
from .inplace import on_tape
from .tensor import Tensor


class _Unsupported(Exception):
    """An argument or function this module does not translate (the message says which)."""


def _ns():
    return tensor_methods._ns


def _fn(path: str):
    """``xg.<path>`` (``"linalg.det"``), looked up now; _Unsupported when xpgrad lacks it."""
    obj = _ns()
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise _Unsupported(f"xpgrad has no {path}")
    return obj


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

_LN2 = math.log(2.0)

#: NumPy ufuncs that are a few xpgrad calls
COMPOSED = {
    "reciprocal": lambda x: _fn("divide")(1.0, x),
    "exp2": lambda x: _fn("pow")(2.0, x),
    "deg2rad": lambda x: _fn("multiply")(x, math.pi / 180.0),
    "radians": lambda x: _fn("multiply")(x, math.pi / 180.0),
    "rad2deg": lambda x: _fn("multiply")(x, 180.0 / math.pi),
    "degrees": lambda x: _fn("multiply")(x, 180.0 / math.pi),
    "cbrt": lambda x: _fn("multiply")(_fn("sign")(x), _fn("pow")(_fn("abs")(x), 1.0 / 3.0)),
    "logaddexp2": lambda x, y: _fn("divide")(
        _fn("logaddexp")(_fn("multiply")(x, _LN2), _fn("multiply")(y, _LN2)), _LN2),
    "float_power": lambda x, y: _fn("pow")(_as_float64(x), _as_float64(y)),
}

#: ufunc.reduce -> xpgrad reduction; ufunc.accumulate -> cumulative function
REDUCE = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min",
          "logical_and": "all", "logical_or": "any"}
ACCUMULATE = {"add": "cumulative_sum", "multiply": "cumulative_prod"}

_DEFAULTS = {"casting": "same_kind", "order": "K", "subok": True, "where": True}


def _as_float64(x):
    if isinstance(x, Tensor):
        return _fn("astype")(x, _ns().float64) if x.dtype != _ns().float64 else x
    return _fn("asarray")(x, dtype=_ns().float64)


def _ufunc_call(ufunc, inputs, kwargs):
    name = ufunc.__name__
    extra = dict(kwargs)
    dtype = extra.pop("dtype", None)
    axis = extra.pop("axis", None) if name == "vecdot" else None
    for k, v in list(extra.items()):
        if k in _DEFAULTS and (v is _DEFAULTS[k] or v == _DEFAULTS[k]):
            del extra[k]
    if extra:
        raise _Unsupported(f"np.{name} with {', '.join(sorted(extra))}=")
    if dtype is not None:
        inputs = [_cast(a, dtype) for a in inputs]
    if name in COMPOSED:
        return COMPOSED[name](*inputs)
    if name not in UFUNCS:
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
    keepdims = kwargs.pop("keepdims", False)
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
    """What ``Tensor.__array_ufunc__`` does (module docstring)."""
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
        result = handler(ufunc, inputs, kwargs)
    except _Unsupported as e:
        if out is not None:
            kwargs["out"] = out
        return _fallback(what, str(e), (inputs, kwargs),
                         lambda a, k: getattr(ufunc, method)(*a, **k))
    return _write_out(result, out)


# -- functions ------------------------------------------------------------------------------------
#: (NumPy module, function name) -> adapter(*args, **kwargs) with NumPy's signature
FUNCTIONS: dict = {}

#: functions whose results carry no gradient: NumPy may run them on the values even while a
#: tape records (booleans, shapes, dtypes, printing)
NO_GRADIENT = {
    "shape", "ndim", "size", "isclose", "allclose", "array_equal", "array_equiv",
    "result_type", "iscomplexobj", "isrealobj", "iscomplex", "isreal", "isneginf",
    "isposinf", "shares_memory", "may_share_memory", "array_repr", "array_str",
    "array2string", "flatnonzero", "argwhere", "min_scalar_type", "can_cast", "isfortran",
}


def numpy_function(*names, module="numpy"):
    """Register an adapter for NumPy functions ``names`` of ``module``."""
    def register(fn):
        for name in names:
            FUNCTIONS[(module, name)] = fn
        return fn
    return register


def array_function(func, types, args, kwargs):
    """What ``Tensor.__array_function__`` does (module docstring)."""
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
        result = adapter(*args, **kwargs)
    except _Unsupported as e:
        if out is not None:
            kwargs["out"] = out if len(out) > 1 else out[0]
        if name in NO_GRADIENT and module == "numpy":
            return func(*_values(args), **_values(kwargs))
        return _fallback(what, str(e), (args, kwargs), lambda a, k: func(*a, **k))
    return _write_out(result, out)


# -- shared helpers -------------------------------------------------------------------------------

def _known_types(types) -> bool:
    for t in types:
        if issubclass(t, Tensor):
            continue
        if t.__name__ == "ndarray" and t.__module__ == "numpy":
            continue
        if getattr(t, "__array_ufunc__", None) is None and \
                getattr(t, "__array_function__", None) is None:
            continue
        if t.__module__ == "numpy" or t.__module__.startswith("numpy."):
            continue          # NumPy scalars and the like
        return False
    return True


def _tensors(tree):
    if isinstance(tree, Tensor):
        yield tree
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from _tensors(v)
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from _tensors(v)


def _values(tree):
    """``tree`` with every Tensor replaced by a read-only NumPy array of its value."""
    if isinstance(tree, Tensor):
        a = tree.numpy().view()
        a.flags.writeable = False
        return a
    if isinstance(tree, (list, tuple)):
        out = [_values(v) for v in tree]
        return tuple(out) if isinstance(tree, tuple) else out
    if isinstance(tree, dict):
        return {k: _values(v) for k, v in tree.items()}
    return tree


def _fallback(what, reason, call_args, call):
    args, kwargs = call_args
    if any(on_tape(t) for t in _tensors((args, kwargs))):
        raise TypeError(
            f"{what} on a tensor that a recording GradientTape differentiates: {reason}, and "
            f"running NumPy instead would cut the tensor from the tape (its gradient would "
            f"come back None). Use xpgrad functions, or leave the tape explicitly with "
            f"xg.stop_gradient(t).numpy()")
    return call(_values(args), _values(kwargs))


def _write_out(result, out):
    if out is None:
        return result
    results = result if isinstance(result, tuple) else (result,)
    if len(results) != len(out):
        raise ValueError(f"out= has {len(out)} arrays for {len(results)} results")
    for o, r in zip(out, results):
        o[...] = r
    return out[0] if len(out) == 1 else tuple(out)


def _refuse(kwargs, what, **defaults):
    """_Unsupported for any argument left in ``kwargs`` unless it has its default value."""
    for k, v in kwargs.items():
        if k in defaults and (v is defaults[k] or _eq(v, defaults[k])):
            continue
        raise _Unsupported(f"{what} with {k}={v!r}")


def _eq(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 (an array compared with a default)
        return False


def _tensor(a):
    return a if isinstance(a, Tensor) else _fn("asarray")(a)


def _dtype(dtype):
    from .dtypes import as_dtype

    return as_dtype(dtype)


def _cast(a, dtype):
    dt = _dtype(dtype)
    if isinstance(a, Tensor):
        return a if a.dtype == dt else _fn("astype")(a, dt)
    if isinstance(a, (bool, int, float, complex)):
        return a
    return _fn("asarray")(a, dtype=dt)


def _flat(a):
    return _fn("reshape")(_tensor(a), (-1,))


def _axis_and_input(a, axis):
    """NumPy's ``axis=None`` on a function that works along one axis: the flattened input."""
    a = _tensor(a)
    return (_flat(a), 0) if axis is None else (a, axis)


def _norm_axes(axis):
    if axis is None or isinstance(axis, int):
        return axis
    return tuple(axis)


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
        return _fn(xg_name)(a, axis=_norm_axes(axis), keepdims=bool(keepdims))
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
        return _fn(xg_name)(a, axis=_norm_axes(axis), correction=corr, keepdims=bool(keepdims))
    return adapter


numpy_function("std")(_moments("std"))
numpy_function("var")(_moments("var"))


def _arg_reduction(xg_name):
    def adapter(a, axis=None, keepdims=False):
        return _fn(xg_name)(_tensor(a), axis=axis, keepdims=bool(keepdims))
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


# -- joining, shaping -----------------------------------------------------------------------------

@numpy_function("concatenate", "concat")
def _concatenate(arrays, axis=0, dtype=None, casting="same_kind"):
    _refuse({"casting": casting}, "np.concatenate", casting="same_kind")
    arrays = [_tensor(a) for a in arrays]
    if axis is None:
        arrays, axis = [_flat(a) for a in arrays], 0
    if dtype is not None:
        arrays = [_cast(a, dtype) for a in arrays]
    return _fn("concat")(arrays, axis=axis)


@numpy_function("stack")
def _stack(arrays, axis=0, dtype=None, casting="same_kind"):
    _refuse({"casting": casting}, "np.stack", casting="same_kind")
    arrays = [_tensor(a) for a in arrays]
    if dtype is not None:
        arrays = [_cast(a, dtype) for a in arrays]
    return _fn("stack")(arrays, axis=axis)


def _at_least(a, n):
    a = _tensor(a)
    if a.ndim >= n:
        return a
    if n == 3 and a.ndim == 2:
        return _fn("reshape")(a, tuple(a.shape) + (1,))
    if n == 3 and a.ndim == 1:
        return _fn("reshape")(a, (1,) + tuple(a.shape) + (1,))
    return _fn("reshape")(a, (1,) * (n - a.ndim) + tuple(a.shape))


def _at_least_n(n):
    def adapter(*arys):
        out = [_at_least(a, n) for a in arys]
        return out[0] if len(out) == 1 else tuple(out)
    return adapter


numpy_function("atleast_1d")(_at_least_n(1))
numpy_function("atleast_2d")(_at_least_n(2))
numpy_function("atleast_3d")(_at_least_n(3))


@numpy_function("hstack")
def _hstack(tup, *, dtype=None, casting="same_kind"):
    arrays = [_at_least(a, 1) for a in tup]
    return _concatenate(arrays, axis=0 if arrays[0].ndim == 1 else 1, dtype=dtype,
                        casting=casting)


@numpy_function("vstack", "row_stack")
def _vstack(tup, *, dtype=None, casting="same_kind"):
    return _concatenate([_at_least(a, 2) for a in tup], axis=0, dtype=dtype, casting=casting)


@numpy_function("transpose", "permute_dims")
def _transpose(a, axes=None):
    a = _tensor(a)
    axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(axes)
    return _fn("permute_dims")(a, axes)


@numpy_function("matrix_transpose")
def _matrix_transpose(x):
    return _fn("matrix_transpose")(_tensor(x))


@numpy_function("swapaxes")
def _swapaxes(a, axis1, axis2):
    a = _tensor(a)
    perm = list(range(a.ndim))
    i, j = axis1 % a.ndim, axis2 % a.ndim
    perm[i], perm[j] = perm[j], perm[i]
    return _fn("permute_dims")(a, tuple(perm))


@numpy_function("moveaxis")
def _moveaxis(a, source, destination):
    return _fn("moveaxis")(_tensor(a), source, destination)


@numpy_function("reshape")
def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    _refuse({"order": order}, "np.reshape", order="C")
    shape = newshape if shape is None else shape
    out = _fn("reshape")(_tensor(a), shape)
    return _fn("asarray")(out, copy=True) if copy else out


@numpy_function("ravel")
def _ravel(a, order="C"):
    _refuse({"order": order}, "np.ravel", order="C")
    return _flat(a)


@numpy_function("squeeze")
def _squeeze(a, axis=None):
    a = _tensor(a)
    if axis is None:
        axis = tuple(i for i, s in enumerate(a.shape) if s == 1)
    return _fn("squeeze")(a, axis)


@numpy_function("expand_dims")
def _expand_dims(a, axis):
    a = _tensor(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = a.ndim + len(axes)
    for ax in sorted(ax % nd for ax in axes):
        a = _fn("expand_dims")(a, axis=ax)
    return a


@numpy_function("broadcast_to")
def _broadcast_to(array, shape, subok=False):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _fn("broadcast_to")(_tensor(array), shape)


@numpy_function("broadcast_arrays")
def _broadcast_arrays(*args, subok=False):
    return tuple(_fn("broadcast_arrays")(*[_tensor(a) for a in args]))


@numpy_function("flip")
def _flip(m, axis=None):
    return _fn("flip")(_tensor(m), axis=_norm_axes(axis))


@numpy_function("fliplr")
def _fliplr(m):
    return _fn("flip")(_tensor(m), axis=1)


@numpy_function("flipud")
def _flipud(m):
    return _fn("flip")(_tensor(m), axis=0)


@numpy_function("roll")
def _roll(a, shift, axis=None):
    return _fn("roll")(_tensor(a), shift, axis=_norm_axes(axis))


@numpy_function("tile")
def _tile(A, reps):
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    return _fn("tile")(_tensor(A), reps)


@numpy_function("repeat")
def _repeat(a, repeats, axis=None):
    a, axis = _axis_and_input(a, axis)
    return _fn("repeat")(a, repeats, axis=axis)


@numpy_function("unstack")
def _unstack(x, *, axis=0):
    return _fn("unstack")(_tensor(x), axis=axis)


@numpy_function("split", "array_split")
def _split(ary, indices_or_sections, axis=0):
    a = _tensor(ary)
    n = a.shape[axis]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        base, extra = divmod(n, k)
        sizes = [base + (i < extra) for i in range(k)]
        bounds, start = [], 0
        for s in sizes:
            bounds.append((start, start + s))
            start += s
    else:
        cuts = [0] + [min(int(i), n) for i in indices_or_sections] + [n]
        bounds = list(zip(cuts[:-1], cuts[1:]))
    lead = (slice(None),) * (axis % a.ndim)
    return [a[lead + (slice(lo, max(lo, hi)),)] for lo, hi in bounds]


@numpy_function("copy")
def _copy(a, order="K", subok=False):
    return _fn("asarray")(_tensor(a), copy=True)


@numpy_function("astype")
def _astype(x, dtype, /, *, copy=True, device=None):
    x = _tensor(x)
    out = _fn("astype")(x, _dtype(dtype))
    return _fn("asarray")(out, copy=True) if copy and out is x else out


@numpy_function("copyto")
def _copyto(dst, src, casting="same_kind", where=True):
    if not isinstance(dst, Tensor):
        raise _Unsupported("np.copyto into a NumPy array")
    _refuse({"where": where}, "np.copyto", where=True)
    dst[...] = src


# -- elementwise-like functions -------------------------------------------------------------------

@numpy_function("where")
def _where(condition, *xy):
    if not xy:
        return _fn("nonzero")(_tensor(condition))
    if len(xy) != 2:
        raise TypeError("np.where takes either one or three arguments")
    return _fn("where")(_tensor(condition), *xy)


@numpy_function("clip")
def _clip(a, a_min=None, a_max=None, *, min=None, max=None, **rest):
    _refuse(rest, "np.clip")
    low = a_min if min is None else min
    high = a_max if max is None else max
    return _fn("clip")(_tensor(a), low, high)


@numpy_function("round", "around")
def _round(a, decimals=0):
    if decimals:
        raise _Unsupported(f"np.round with decimals={decimals}")
    return _fn("round")(_tensor(a))


@numpy_function("real")
def _real(val):
    val = _tensor(val)
    return _fn("real")(val) if val.dtype.is_complex else val


@numpy_function("imag")
def _imag(val):
    val = _tensor(val)
    return _fn("imag")(val) if val.dtype.is_complex else _fn("zeros_like")(val)


@numpy_function("diff")
def _diff(a, n=1, axis=-1, prepend=None, append=None):
    kwargs = {}
    if prepend is not None:
        kwargs["prepend"] = _tensor(prepend)
    if append is not None:
        kwargs["append"] = _tensor(append)
    return _fn("diff")(_tensor(a), axis=axis, n=n, **kwargs)


@numpy_function("tril")
def _tril(m, k=0):
    return _fn("tril")(_tensor(m), k=k)


@numpy_function("triu")
def _triu(m, k=0):
    return _fn("triu")(_tensor(m), k=k)


@numpy_function("meshgrid")
def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    if sparse:
        raise _Unsupported("np.meshgrid with sparse=True")
    return tuple(_fn("meshgrid")(*[_tensor(x) for x in xi], indexing=indexing))


def _make_like(name):
    def adapter(prototype, dtype=None, order="K", subok=True, shape=None, *, device=None):
        p = _tensor(prototype)
        dt = p.dtype if dtype is None else _dtype(dtype)
        if shape is not None:
            return _fn(name.replace("_like", ""))(shape, dtype=dt, backend=p.backend)
        return _fn(name)(p, dtype=dt)
    return adapter


for _name in ("zeros_like", "ones_like", "empty_like"):
    FUNCTIONS[("numpy", _name)] = _make_like(_name)


@numpy_function("full_like")
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    p = _tensor(a)
    dt = p.dtype if dtype is None else _dtype(dtype)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if shape is not None:
        return _fn("full")(shape, fill_value, dtype=dt, backend=p.backend)
    return _fn("full_like")(p, fill_value, dtype=dt)


# -- products -------------------------------------------------------------------------------------

@numpy_function("dot")
def _dot(a, b):
    a, b = _tensor(a), _tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2:
        return _fn("matmul")(a, b)
    return _fn("tensordot")(a, b, axes=((a.ndim - 1,), (b.ndim - 2,)))


@numpy_function("vdot")
def _vdot(a, b):
    a, b = _flat(a), _flat(b)
    if a.dtype.is_complex:
        a = _fn("conj")(a)
    return _fn("sum")(a * b)


@numpy_function("inner")
def _inner(a, b):
    a, b = _tensor(a), _tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return _fn("tensordot")(a, b, axes=((a.ndim - 1,), (b.ndim - 1,)))


@numpy_function("outer")
def _outer(a, b):
    return _fn("outer")(_flat(a), _flat(b))


@numpy_function("tensordot")
def _tensordot(a, b, axes=2):
    if not isinstance(axes, int):
        axes = tuple((x,) if isinstance(x, int) else tuple(x) for x in axes)
    return _fn("tensordot")(_tensor(a), _tensor(b), axes=axes)


@numpy_function("einsum")
def _einsum(*operands, dtype=None, order="K", casting="safe", optimize=False):
    subscripts, *arrays = operands
    if not isinstance(subscripts, str):
        raise _Unsupported("np.einsum in its interleaved form")
    arrays = [_tensor(a) for a in arrays]
    if dtype is not None:
        arrays = [_cast(a, dtype) for a in arrays]
    return _fn("einsum")(subscripts, *arrays)


def _last_two(a, axis1, axis2):
    a = _tensor(a)
    i, j = axis1 % a.ndim, axis2 % a.ndim
    rest = [d for d in range(a.ndim) if d not in (i, j)]
    return _fn("permute_dims")(a, tuple(rest) + (i, j))


@numpy_function("trace")
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    a = _last_two(a, axis1, axis2)
    if dtype is not None:
        a = _cast(a, dtype)
    return _fn("linalg.trace")(a, offset=offset)


@numpy_function("diagonal")
def _diagonal(a, offset=0, axis1=0, axis2=1):
    return _fn("linalg.diagonal")(_last_two(a, axis1, axis2), offset=offset)


@numpy_function("cross")
def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is None and (axisa, axisb, axisc) != (-1, -1, -1):
        raise _Unsupported("np.cross with axisa/axisb/axisc")
    return _fn("linalg.cross")(_tensor(a), _tensor(b), axis=-1 if axis is None else axis)


# -- indexing, sorting, searching -----------------------------------------------------------------

@numpy_function("take")
def _take(a, indices, axis=None, mode="raise"):
    _refuse({"mode": mode}, "np.take", mode="raise")
    a, axis = _axis_and_input(a, axis)
    if isinstance(indices, int):
        return a[(slice(None),) * (axis % a.ndim) + (indices,)]
    idx = _fn("asarray")(indices, backend=a.backend) if not isinstance(indices, Tensor) \
        else indices
    flat = _fn("take")(a, _fn("reshape")(idx, (-1,)), axis=axis)
    ax = axis % a.ndim
    return _fn("reshape")(flat, tuple(a.shape[:ax]) + tuple(idx.shape) + tuple(a.shape[ax + 1:]))


@numpy_function("take_along_axis")
def _take_along_axis(arr, indices, axis=-1):
    if axis is None:
        return _fn("take_along_axis")(_flat(arr), _flat(indices), axis=0)
    return _fn("take_along_axis")(_tensor(arr), _tensor(indices), axis=axis)


def _sorting(xg_name):
    def adapter(a, axis=-1, kind=None, order=None, *, stable=None, descending=False):
        if order is not None:
            raise _Unsupported(f"np.{xg_name} with order=")
        a, axis = _axis_and_input(a, axis)
        return _fn(xg_name)(a, axis=axis, descending=descending,
                            stable=True if stable is None else stable)
    return adapter


numpy_function("sort")(_sorting("sort"))
numpy_function("argsort")(_sorting("argsort"))


@numpy_function("searchsorted")
def _searchsorted(a, v, side="left", sorter=None):
    kwargs = {} if sorter is None else {"sorter": _tensor(sorter)}
    return _fn("searchsorted")(_tensor(a), _tensor(v), side=side, **kwargs)


@numpy_function("nonzero")
def _nonzero(a):
    return _fn("nonzero")(_tensor(a))


@numpy_function("count_nonzero")
def _count_nonzero(a, axis=None, *, keepdims=False):
    return _fn("count_nonzero")(_tensor(a), axis=_norm_axes(axis), keepdims=keepdims)


@numpy_function("unique")
def _unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None,
            *, equal_nan=True, sorted=True):
    if return_index or return_inverse or return_counts or axis is not None:
        raise _Unsupported("np.unique with return_*= or axis=")
    return _fn("sort")(_fn("unique_values")(_tensor(ar)))


@numpy_function("shape")
def _shape(a):
    return tuple(_tensor(a).shape)


@numpy_function("ndim")
def _ndim(a):
    return _tensor(a).ndim


@numpy_function("size")
def _size(a, axis=None):
    a = _tensor(a)
    return a.size if axis is None else a.shape[axis]


# -- numpy.linalg ---------------------------------------------------------------------------------

def _linalg(name, adapt=None):
    def adapter(*args, **kwargs):
        if adapt is not None:
            args, kwargs = adapt(*args, **kwargs)
        return _fn(f"linalg.{name}")(*[_tensor(a) for a in args], **kwargs)
    return adapter


for _name in ("det", "inv", "slogdet", "svdvals", "matrix_transpose", "outer", "matrix_power",
              "tensordot", "vecdot", "matmul", "vector_norm", "matrix_norm", "trace",
              "diagonal", "solve"):
    FUNCTIONS[("numpy.linalg", _name)] = _linalg(_name)


@numpy_function("cholesky", module="numpy.linalg")
def _cholesky(a, /, *, upper=False):
    return _fn("linalg.cholesky")(_tensor(a), upper=upper)


def _uplo(name):
    def adapter(a, UPLO="L"):  # noqa: N803 (NumPy's name)
        a = _tensor(a)
        if UPLO == "U":
            a = _fn("matrix_transpose")(a)
            if a.dtype.is_complex:
                a = _fn("conj")(a)
        return _fn(f"linalg.{name}")(a)
    return adapter


FUNCTIONS[("numpy.linalg", "eigh")] = _uplo("eigh")
FUNCTIONS[("numpy.linalg", "eigvalsh")] = _uplo("eigvalsh")


@numpy_function("svd", module="numpy.linalg")
def _svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    if not compute_uv:
        return _fn("linalg.svdvals")(_tensor(a))
    return _fn("linalg.svd")(_tensor(a), full_matrices=full_matrices)


@numpy_function("qr", module="numpy.linalg")
def _qr(a, mode="reduced"):
    if mode not in ("reduced", "complete"):
        raise _Unsupported(f"np.linalg.qr with mode={mode!r}")
    return _fn("linalg.qr")(_tensor(a), mode=mode)


@numpy_function("pinv", module="numpy.linalg")
def _pinv(a, rcond=None, hermitian=False, *, rtol=None):
    tol = rtol if rcond is None else rcond
    return _fn("linalg.pinv")(_tensor(a), **({} if tol is None else {"rtol": tol}))


@numpy_function("matrix_rank", module="numpy.linalg")
def _matrix_rank(A, tol=None, hermitian=False, *, rtol=None):  # noqa: N803
    if tol is not None:
        raise _Unsupported("np.linalg.matrix_rank with tol=")
    return _fn("linalg.matrix_rank")(_tensor(A), **({} if rtol is None else {"rtol": rtol}))


@numpy_function("multi_dot", module="numpy.linalg")
def _multi_dot(arrays, *, out=None):
    arrays = [_tensor(a) for a in arrays]
    result = arrays[0]
    for a in arrays[1:]:
        result = _fn("matmul")(result, a)
    return result


@numpy_function("norm", module="numpy.linalg")
def _norm(x, ord=None, axis=None, keepdims=False):
    x = _tensor(x)
    if axis is None and (ord is None or x.ndim == 1):
        return _fn("linalg.vector_norm")(x, ord=2 if ord is None else ord, keepdims=keepdims)
    if axis is None and x.ndim == 2:
        return _fn("linalg.matrix_norm")(x, ord=ord, keepdims=keepdims)
    if isinstance(axis, int) or (axis is not None and len(tuple(axis)) == 1):
        return _fn("linalg.vector_norm")(x, axis=axis, ord=2 if ord is None else ord,
                                         keepdims=keepdims)
    if axis is not None and len(tuple(axis)) == 2 and not keepdims:
        return _fn("linalg.matrix_norm")(_last_two(x, *axis), ord="fro" if ord is None else ord)
    raise _Unsupported(f"np.linalg.norm with ord={ord!r}, axis={axis!r}")


# -- numpy.fft ------------------------------------------------------------------------------------

def _fft_one(name):
    def adapter(a, n=None, axis=-1, norm=None):
        return _fn(f"fft.{name}")(_tensor(a), n=n, axis=axis, norm=norm or "backward")
    return adapter


def _fft_many(name, default_axes=None):
    def adapter(a, s=None, axes=default_axes, norm=None):
        return _fn(f"fft.{name}")(_tensor(a), s=s, axes=axes, norm=norm or "backward")
    return adapter


for _name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"):
    FUNCTIONS[("numpy.fft", _name)] = _fft_one(_name)
for _name in ("fftn", "ifftn", "rfftn", "irfftn"):
    FUNCTIONS[("numpy.fft", _name)] = _fft_many(_name)
for _name in ("fft2", "ifft2", "rfft2", "irfft2"):
    FUNCTIONS[("numpy.fft", _name)] = _fft_many(_name[:-1] + "n", default_axes=(-2, -1))


def _shift(name):
    def adapter(x, axes=None):
        return _fn(f"fft.{name}")(_tensor(x), axes=axes)
    return adapter


FUNCTIONS[("numpy.fft", "fftshift")] = _shift("fftshift")
FUNCTIONS[("numpy.fft", "ifftshift")] = _shift("ifftshift")
