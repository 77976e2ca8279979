"""Searching: argmax, argmin, nonzero, searchsorted, count_nonzero (integer results: no
gradients; ``where`` is in ``selection.py``).

>>> import xpgrad as xg
>>> x = xg.asarray([[0.0, 3.0], [2.0, 0.0]])
>>> xg.argmax(x, axis=1).tolist(), [i.tolist() for i in xg.nonzero(x)]
([1, 0], [[0, 1], [1, 0]])
"""
from __future__ import annotations

from .. import dtypes as _dt
from .._args import flag, refuse_extra_positional, refuse_keywords
from ..primitive import Primitive, apply
from ..tensor import Tensor, _wrap
from ..creation import asarray
from ._define import as_tensor, norm_axes, norm_axis


def _index_dtype(t: Tensor) -> Tensor:
    """``t`` as the default index dtype (int64), as the standard asks of index results."""
    if t.dtype == _dt.int64:
        return t
    be = t._backend
    return _wrap(be.xp.astype(t._data, be.native_dtype(_dt.int64)), be)


def _arg_extremum(name):
    prim = Primitive(name, lambda xp, x, axis, keepdims:
                     getattr(xp, name)(x, axis=axis, keepdims=keepdims))

    def fn(x, /, axis=None, *extra, keepdims=False, **unexpected):
        if extra:
            refuse_extra_positional(name, ("x", "axis"), extra, ("keepdims",))
        if unexpected:
            refuse_keywords(name, unexpected)
        x = as_tensor(x, name)
        if axis is not None:
            axis = norm_axis(axis, x.ndim, f"{name}: axis")
        if axis is None and x.size == 0:
            raise ValueError(f"{name} of an empty tensor (shape {x.shape}) has no answer")
        if axis is not None and x.shape[axis] == 0:
            raise ValueError(f"{name} along axis {axis} of an empty tensor (shape {x.shape}) "
                             f"has no answer: that axis has length 0")
        return _index_dtype(apply(prim, x, axis=axis, keepdims=flag(keepdims, "keepdims",
                                                                    name)))

    fn.__name__ = fn.__qualname__ = name
    which = "maximum" if name == "argmax" else "minimum"
    fn.__doc__ = (f"Index (int64) of the first {which} along ``axis`` (of the flattened "
                  f"tensor when None); no gradient. ``axis`` by keyword or positionally, "
                  f"``keepdims`` by keyword only.\n\n    >>> import xpgrad as xg\n    >>> "
                  f"xg.{name}(xg.asarray([[1.0, 0.0, 1.0]]), 1, keepdims=True).shape\n"
                  f"    (1, 1)\n    ")
    fn.primitive = prim
    return fn


argmax = _arg_extremum("argmax")
argmin = _arg_extremum("argmin")


def nonzero(x, /):
    """A tuple with one int64 index tensor per axis of ``x``, locating its nonzero entries in
    row-major order (complex: either part nonzero). Needs ``x.ndim >= 1``.

    >>> import xpgrad as xg
    >>> xg.nonzero(xg.asarray([0.0, 1.5, 2.0]))[0].tolist()
    [1, 2]
    """
    x = as_tensor(x, "nonzero")
    if x.ndim == 0:
        raise ValueError("nonzero needs a tensor with at least one dimension (got 0-d); "
                         "use nonzero(reshape(x, (1,)))")
    be = x._backend
    return tuple(_index_dtype(_wrap(i, be)) for i in be.xp.nonzero(x._data))


_count_nonzero = Primitive("count_nonzero", lambda xp, x, axis, keepdims:
                           xp.count_nonzero(x, axis=axis, keepdims=keepdims))


def count_nonzero(x, /, axis=None, *, keepdims=False, **unexpected):
    """How many entries along ``axis`` (an int, a tuple, None: all; also positionally, as
    NumPy's) are nonzero (int64).

    >>> import xpgrad as xg
    >>> xg.count_nonzero(xg.asarray([[0.0, 1.0], [2.0, 3.0]]), 1).tolist()
    [1, 2]
    """
    if unexpected:
        refuse_keywords("count_nonzero", unexpected)
    x = as_tensor(x, "count_nonzero")
    axes = norm_axes(axis, x.ndim, "count_nonzero")
    out = apply(_count_nonzero, x, axis=axes, keepdims=flag(keepdims, "keepdims",
                                                            "count_nonzero"))
    return _index_dtype(out)


_searchsorted = Primitive("searchsorted", lambda xp, x1, x2, side, sorter:
                          xp.searchsorted(x1, x2, side=side, sorter=sorter))


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    """Indices (int64, shaped like ``x2``) at which inserting ``x2``'s values keeps the 1-D
    ``x1`` sorted: ``side="left"`` gives ``x1[i-1] < v <= x1[i]``, ``"right"``
    ``x1[i-1] <= v < x1[i]``. ``sorter``: integer indices that sort an unsorted ``x1``.

    >>> import xpgrad as xg
    >>> x1 = xg.asarray([1.0, 2.0, 2.0, 3.0])
    >>> xg.searchsorted(x1, xg.asarray([2.0, 5.0]), side="right").tolist()
    [3, 4]
    """
    x1 = as_tensor(x1, "searchsorted", "x1")
    if x1.ndim != 1:
        raise ValueError(f"searchsorted: x1 must be 1-D, got shape {x1.shape}")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        sorter = as_tensor(sorter, "searchsorted", "sorter")
        if sorter.dtype.kind not in "iu":
            raise TypeError(f"searchsorted: sorter must be an integer tensor, got "
                            f"{sorter.dtype}")
        if sorter.shape != x1.shape:
            raise ValueError(f"searchsorted: sorter of shape {sorter.shape} does not match x1 "
                             f"of shape {x1.shape}")
        sorter = sorter.to(x1._backend)._data
    if not isinstance(x2, Tensor):
        x2 = _values_to_insert(x1, x2)
    return _index_dtype(apply(_searchsorted, x1, x2, side=side, sorter=sorter))


def _values_to_insert(x1, x2):
    """``x2`` (not a Tensor) as a tensor on ``x1``'s backend. A Python number takes ``x1``'s
    dtype where it fits (the standard's scalar promotion, 2025.12), so ``0.1`` is compared
    with float64 entries as float64, not rounded to float32 first."""
    if isinstance(x2, (str, bytes, complex)):
        raise TypeError(f"searchsorted: x2 must be a tensor or a real Python number, got "
                        f"{type(x2).__name__} {x2!r}")
    dtype = None
    if type(x2) in (int, float) and x1.dtype.kind == "f":
        dtype = x1.dtype
    elif type(x2) is int and x1.dtype.kind in "iu":
        from ..dtype_functions import iinfo

        info = iinfo(x1.dtype)
        dtype = x1.dtype if info.min <= x2 <= info.max else None
    return as_tensor(x2 if dtype is None else asarray(x2, dtype=dtype)).to(x1._backend)


__all__ = ["argmax", "argmin", "nonzero", "count_nonzero", "searchsorted"]
