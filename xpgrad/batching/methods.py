"""A batched array's methods (``x.sum(0)``, ``x.reshape(2, -1)``, ``x.astype(...)``) and
NumPy's protocols (``np.exp(x)``, ``np.sum(x, axis=0)``, ``a += x`` on a NumPy array).

Methods that take an axis call the same method of the batched data with the axis shifted
past the batch axis; NumPy's ufuncs are elementwise; NumPy's functions go to the namespace's
rule of the same name where the signatures agree, else loop over the batch.

>>> import numpy as np
>>> from xpgrad.batching.namespace import Level
>>> level = Level(2, np)
>>> x = level.wrap(np.arange(6.0).reshape(2, 3))
>>> x.sum(0).shape, np.exp(x).shape, x.reshape(3, 1).shape
((), (3,), (3, 1))
"""
from __future__ import annotations

from .namespace import batched, holds, loop
from .rules import shift

#: methods whose first argument is an axis (None: every axis of one example)
_AXIS_METHODS = frozenset(("sum", "mean", "max", "min", "prod", "any", "all", "std", "var",
                           "ptp", "nansum", "nanmean", "nanmax", "nanmin"))
#: methods along one axis whose default is not "every axis"
_ALONG = {"cumsum": None, "cumprod": None, "sort": -1, "argsort": -1}
#: methods computed element by element
_ELEMENTWISE = frozenset(("astype", "conj", "conjugate", "round", "clip", "__abs__"))


def method(x, name):
    """``x.name`` as a callable (or value) of a batched ``x``."""
    level = x._level
    d = x._data
    if name in _AXIS_METHODS or name in ("argmax", "argmin"):
        def reduce(axis=None, *args, **kwargs):
            if holds(level, args) or holds(level, kwargs.values()):
                return _loop_method(x, name, (axis,) + args, kwargs)
            if axis is None:
                if name in ("argmax", "argmin"):
                    return getattr(level.namespace, name)(x, **kwargs)
                axis = tuple(range(1, x.ndim + 1))
            else:
                axis = shift(axis, x.ndim)
                axis = axis if isinstance(axis, tuple) else (axis,)
            out = level.wrap(getattr(d, name)(axis, *args, **kwargs))
            if name in ("any", "all") and len(set(axis)) == x.ndim:
                out._truth = name
            return out
        return reduce
    if name in _ALONG:
        def along(axis=_ALONG[name], *args, **kwargs):
            if axis is None:
                return _loop_method(x, name, (axis,) + args, kwargs)
            return level.wrap(getattr(d, name)(shift(axis, x.ndim), *args, **kwargs))
        return along
    if name in _ELEMENTWISE:
        def each(*args, **kwargs):
            if holds(level, args) or holds(level, kwargs.values()):
                return _loop_method(x, name, args, kwargs)
            return level.wrap(getattr(d, name)(*args, **kwargs))
        return each
    simple = _SIMPLE.get(name)
    if simple is not None:
        return lambda *args, **kwargs: simple(x, *args, **kwargs)
    attr = getattr(d, name)
    if not callable(attr):
        raise AttributeError(f"a batched array inside xg.vmap has no attribute {name!r} "
                             "that describes one example")
    return lambda *args, **kwargs: _loop_method(x, name, args, kwargs)


def _loop_method(x, name, args, kwargs):
    def call(example, *args, **kwargs):
        return getattr(example, name)(*args, **kwargs)
    return loop(x._level, call, f"method {name}", (x,) + tuple(args), kwargs)


def _reshape(x, *shape, **kwargs):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return x._level.namespace.reshape(x, shape)


def _transpose(x, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return x._level.namespace.permute_dims(x, axes or None)


def _squeeze(x, axis=None):
    return x._level.namespace.squeeze(x, axis=axis)


def _flat(x, *args):
    return x._level.namespace.reshape(x, (-1,))


def _copy(x, *args, **kwargs):
    return x._level.wrap(x._data.copy(*args, **kwargs))


def _swapaxes(x, a, b):
    return x._level.wrap(x._data.swapaxes(shift(a, x.ndim), shift(b, x.ndim)))


def _fill(x, value):
    x.writeable().fill(value)


def _dot(x, other):
    return x._level.namespace.matmul(x, other)


_SIMPLE = {"reshape": _reshape, "transpose": _transpose, "squeeze": _squeeze,
           "ravel": _flat, "flatten": _flat, "copy": _copy, "swapaxes": _swapaxes,
           "fill": _fill, "dot": _dot}


# -- NumPy's protocols ----------------------------------------------------------------------------
def numpy_ufunc(level, ufunc, method, inputs, kwargs):
    """``ufunc.method(*inputs, **kwargs)`` with batched inputs."""
    from .rules import elementwise

    out = kwargs.pop("out", None)
    if method == "at":
        target = inputs[0]
        if not batched(level, target):
            raise ValueError(f"np.{ufunc.__name__}.at writes batched values into an array "
                             "that xg.vmap does not batch")
        data = target.writeable()
        rest = inputs[1:]
        for b in range(level.size):
            ufunc.at(data[b], *[a._data[b] if batched(level, a) else a for a in rest])
        return None
    if method == "__call__" and getattr(ufunc, "signature", None) is not None:
        result = getattr(level.namespace, ufunc.__name__)(*inputs, **kwargs) \
            if ufunc.__name__ in ("matmul", "vecdot") else \
            loop(level, ufunc, ufunc.__name__, inputs, kwargs)
    elif method == "__call__":
        result = elementwise(level, ufunc, inputs, kwargs)
    elif method in ("reduce", "accumulate") and batched(level, inputs[0]) and \
            len(inputs) == 1 and not holds(level, kwargs.values()):
        kwargs = dict(kwargs)
        axis = kwargs.pop("axis", 0)
        x = inputs[0]
        axes = tuple(range(1, x.ndim + 1)) if axis is None else shift(axis, x.ndim)
        result = level.wrap(getattr(ufunc, method)(x._data, axis=axes, **kwargs))
    else:
        result = loop(level, getattr(ufunc, method), f"{ufunc.__name__}.{method}", inputs,
                      kwargs)
    if out is not None:
        target = out[0] if isinstance(out, tuple) else out
        if batched(level, target) and getattr(result, "_level", None) is level and \
                target._data.shape == result._data.shape:
            target.writeable()[...] = result._data
            return target
    return result


#: NumPy functions whose signature the namespace's rule of that name reads
_NUMPY_SAME = frozenset((
    "sum", "mean", "max", "min", "prod", "std", "var", "any", "all", "amax", "amin",
    "argmax", "argmin", "cumsum", "cumprod", "sort", "argsort", "flip", "roll", "reshape",
    "expand_dims", "squeeze", "moveaxis", "swapaxes", "broadcast_to", "broadcast_arrays",
    "stack", "take", "take_along_axis", "where", "clip", "matmul", "tensordot", "outer",
    "copy", "zeros_like", "ones_like", "empty_like", "full_like", "tril", "triu",
    "count_nonzero", "real", "imag", "round", "around", "concatenate", "transpose",
    "shape", "ndim", "size", "result_type", "iscomplexobj", "isrealobj"))
_NUMPY_NAMES = {"amax": "max", "amin": "min", "cumsum": "cumulative_sum",
                "cumprod": "cumulative_prod", "concatenate": "concat", "around": "round",
                "transpose": "permute_dims"}


def numpy_function(level, func, args, kwargs):
    """NumPy's ``func(*args, **kwargs)`` with batched arrays among the arguments."""
    name = func.__name__
    if name in ("shape", "ndim", "size"):
        return getattr(args[0], name)
    if name in _NUMPY_SAME and not (name in ("cumsum", "cumprod") and "axis" not in kwargs
                                    and len(args) < 2):
        return getattr(level.namespace, _NUMPY_NAMES.get(name, name))(*args, **kwargs)
    return loop(level, func, f"numpy.{name}", args, kwargs)
