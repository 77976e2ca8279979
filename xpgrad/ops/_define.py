"""Helpers for writing the primitive table: public functions, integer and axis checks,
variadic rules."""
from __future__ import annotations

import builtins
import numbers
import operator

from .. import dtypes as _dt
from ..appliers import binary_applier, unary_applier
from ..primitive import Each, Primitive, apply  # noqa: F401 (Each re-exported)
from ..tensor import Tensor


def public(name: str, prim: Primitive, nargs: int, doc: str):
    """A namespace function ``name(x[, y], /)`` that applies ``prim`` (for one or two
    arguments, an applier of its own: ``appliers.py``)."""
    if nargs == 1:
        fn = unary_applier(prim)
    elif nargs == 2:
        fn = binary_applier(prim)
    else:
        def fn(*args):
            return apply(prim, *args)
    fn.__module__ = __name__        # tensor_methods.bind_operators looks for these
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.primitive = prim
    return fn


def unary(name, forward, vjp=None, doc=None, example="[0.5, 2.0]", saves=None):
    """Define an elementwise one-argument primitive and its namespace function (``saves``: the
    residuals its rule reads, as ``Primitive``'s). Its rule keeps ``g``'s shape and dtype
    (``Primitive``'s ``elementwise``)."""
    prim = Primitive(name, forward, *(() if vjp is None else (vjp,)), saves=saves,
                     elementwise=True)
    doc = (doc or f"Elementwise {name}.") + (
        f"\n\n>>> import xpgrad as xg\n>>> xg.{name}(xg.asarray({example})).shape\n(2,)\n")
    return public(name, prim, 1, doc)


def binary(name, forward, vjp1=None, vjp2=None, doc=None, nodiff=False, saves=None,
           scalar_arrays=False):
    """Define an elementwise two-argument primitive (with broadcasting) and its function
    (``scalar_arrays``: as ``Primitive``'s). Its rules keep ``g``'s shape and dtype where the
    input has them (``Primitive``'s ``elementwise``)."""
    prim = Primitive(name, forward, *(() if nodiff else (vjp1, vjp2)), saves=saves,
                     scalar_arrays=scalar_arrays, elementwise=True)
    doc = (doc or f"Elementwise {name} with broadcasting.") + (
        f"\n\n>>> import xpgrad as xg\n>>> xg.{name}(xg.asarray([[1.0], [2.0]]), "
        f"xg.asarray([3.0, 4.0])).shape\n(2, 2)\n")
    return public(name, prim, 2, doc)


def as_tensor(x, who=None, arg="x") -> Tensor:
    """``x`` as a Tensor; ``who`` (a function's name) names it and its argument ``arg`` in the
    error about a value that is no array (``sum: x is None, ...``), where plain ``asarray``
    names its own ``obj``.

    >>> as_tensor(None, "sum")
    Traceback (most recent call last):
    TypeError: sum: x is None, not an array, a number or nested lists of numbers
    >>> as_tensor("a", "solve", "x2")
    Traceback (most recent call last):
    TypeError: solve: x2 is a str ('a'), not an array, a number or nested lists of numbers
    """
    if isinstance(x, Tensor):
        return x
    if who is None:
        from ..creation import asarray

        return asarray(x)
    from ..conversion import named_asarray

    return named_asarray(x, f"{who}: {arg}")


def _int(value, what):
    if isinstance(value, builtins.bool):
        raise TypeError(f"{what} must be an int, got a bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(value).__name__}") from None


def _ints(value, what):
    """An int or a sequence of ints as a tuple of ints."""
    if isinstance(value, (tuple, list)):
        return tuple(_int(v, what) for v in value)
    return (_int(value, what),)


def norm_axis(axis: int, ndim: int, what="axis") -> int:
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):   # NumPy ints too
        raise TypeError(f"{what} must be an int, got {type(axis).__name__}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what} {axis} is out of range for a tensor with {ndim} "
                         f"dimension{'s' if ndim != 1 else ''}")
    return axis % ndim


def norm_axes(axis, ndim: int, who=None):
    """None, or a sorted tuple of non-negative axes; a clear error when one is out of range,
    naming the function ``who`` where given.

    >>> norm_axes((-1, 0), 3)
    (0, 2)
    """
    if axis is None:
        return None
    what = "axis" if who is None else f"{who}: axis"
    try:
        axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    except TypeError:
        raise TypeError(f"{what} must be None, an int or a tuple of ints, got {axis!r}"
                        ) from None
    out = tuple(sorted(norm_axis(a, ndim, what) for a in axes))
    if len(set(out)) != len(out):
        raise ValueError(f"{'' if who is None else who + ': '}repeated axis in {axis!r}")
    return out


def kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` (None: all) set to 1."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def count(shape, axes) -> int:
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


def expand_to(xp, g, shape, axes, keepdims):
    """Broadcast a reduction's gradient back over the reduced axes."""
    if not keepdims:
        g = xp.reshape(g, kept_shape(shape, axes))
    return xp.broadcast_to(g, tuple(shape))


def is_floating(xp, dtype) -> bool:
    kind = getattr(dtype, "kind", None)
    if isinstance(kind, str):
        return kind == "f"
    return xp.isdtype(dtype, "real floating")


def native_dtype(x: Tensor, dtype):
    """The backend dtype of ``x``'s backend for a ``dtype=`` argument (None stays None)."""
    return None if dtype is None else x._backend.native_dtype(_dt.as_dtype(dtype))


def is_complex(xp, a) -> bool:
    """Whether ``a`` (a backend array, a Tensor or a Python scalar) is complex: its dtype's
    ``kind`` where it has one (NumPy, CuPy and xpgrad's DType), else ``xp.isdtype``. The one
    check of the ops; on a Tensor in a hot path pass its raw array (``x._data``): ``x.dtype``
    costs ~1 us.

    >>> import numpy as np
    >>> is_complex(np, np.ones(2, np.complex64)), is_complex(np, np.ones(2)), is_complex(np, 1j)
    (True, False, True)
    """
    dt = getattr(a, "dtype", None)
    if dt is None:
        return type(a) is complex
    kind = getattr(dt, "kind", None)
    if isinstance(kind, str):
        return kind == "c"
    return xp.isdtype(dt, "complex floating")


def conj_if_complex(xp, a):
    return xp.conj(a) if is_complex(xp, a) else a
