"""What every NumPy adapter shares: the xpgrad function looked up by name when called
(``_fn``), the ``_Unsupported`` signal that sends a call to the fallback, and the translation
of NumPy's arguments (defaults refused unless left alone, dtypes, ``axis=None`` flattening).

>>> from xpgrad.numpy_dispatch.arguments import _norm_axes
>>> _norm_axes([0, 1]), _norm_axes(None)
((0, 1), None)
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from .. import tensor_methods
from ..tensor import Tensor


class _Unsupported(Exception):
    """An argument or function numpy_dispatch does not translate (the message says which)."""


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


def _keepdims(value, what):
    """NumPy's reading of ``keepdims``: a bool or an integer (``operator.index``), anything
    else a TypeError (NumPy refuses ``keepdims="no"`` too; truthiness would keep the axes)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    try:
        return bool(operator.index(value))
    except TypeError:
        raise TypeError(f"{what}: keepdims must be a bool, got {value!r}") from None


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
    from ..dtypes import as_dtype

    return as_dtype(dtype)


def _cast(a, dtype):
    dt = _dtype(dtype)
    if isinstance(a, Tensor):
        return a if a.dtype == dt else _fn("astype")(a, dt)
    if isinstance(a, (bool, int, float, complex)):
        return a
    return _fn("asarray")(a, dtype=dt)


def _numpy_float(a):
    """``a`` (a Tensor) as NumPy averages it: float64 when it holds integers or booleans, as is
    otherwise. ``np.mean(t)``, ``np.var``, ``np.average``, ``np.median``, ... on a Tensor give
    NumPy's dtype; xpgrad's own ``xg.mean`` ... give its default float, float32, as PyTorch's
    and JAX's do.

    >>> import xpgrad as xg
    >>> _numpy_float(xg.asarray([1, 2])).dtype, _numpy_float(xg.asarray([1.0])).dtype
    (xpgrad.float64, xpgrad.float32)
    """
    if _fn("isdtype")(a.dtype, ("integral", "bool")):
        return _fn("astype")(a, _dtype("float64"))
    return a


def _flat(a):
    return _fn("reshape")(_tensor(a), (-1,))


def _axis_and_input(a, axis):
    """NumPy's ``axis=None`` on a function that works along one axis: the flattened input."""
    a = _tensor(a)
    return (_flat(a), 0) if axis is None else (a, axis)


def _norm_axes(axis):
    if axis is None:
        return axis
    if isinstance(axis, numbers.Integral):            # a NumPy integer too
        return int(axis)
    return tuple(int(a) for a in axis)


def _last_two(a, axis1, axis2):
    a = _tensor(a)
    i, j = axis1 % a.ndim, axis2 % a.ndim
    rest = [d for d in range(a.ndim) if d not in (i, j)]
    return _fn("permute_dims")(a, tuple(rest) + (i, j))
