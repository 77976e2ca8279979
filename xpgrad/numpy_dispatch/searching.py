"""NumPy's indexing, sorting and searching functions on Tensors: ``np.take``,
``np.take_along_axis``, ``np.sort``/``np.argsort``, ``np.searchsorted``, ``np.nonzero``,
``np.flatnonzero``, ``np.argwhere``, ``np.count_nonzero``, ``np.unique`` (values only),
``np.compress`` and ``np.extract`` (``take`` at ``nonzero``'s positions: differentiable in the
values), and ``np.shape``/``np.ndim``/``np.size``.

>>> import numpy as np, xpgrad as xg
>>> np.sort(xg.asarray([3.0, 1.0, 2.0])).tolist()
[1.0, 2.0, 3.0]
"""
from __future__ import annotations

import numbers

from ..tensor import Tensor
from .arguments import (_Unsupported, _axis_and_input, _flat, _fn, _keepdims, _norm_axes,
                        _refuse, _tensor)
from .functions import numpy_function


# -- indexing, sorting, searching -----------------------------------------------------------------

@numpy_function("take")
def _take(a, indices, axis=None, mode="raise"):
    _refuse({"mode": mode}, "np.take", mode="raise")
    a, axis = _axis_and_input(a, axis)
    if isinstance(indices, numbers.Integral):
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
    if type(v) not in (int, float):      # a Python number takes a's dtype in xg.searchsorted
        v = _tensor(v)
    return _fn("searchsorted")(_tensor(a), v, side=side, **kwargs)


@numpy_function("nonzero")
def _nonzero(a):
    return _fn("nonzero")(_tensor(a))


@numpy_function("flatnonzero")
def _flatnonzero(a):
    return _fn("nonzero")(_flat(a))[0]


@numpy_function("argwhere")
def _argwhere(a):
    a = _tensor(a)
    if a.ndim == 0:                  # NumPy's: (1, 0) where a is nonzero, else (0, 0)
        return _fn("reshape")(_fn("nonzero")(_flat(a))[0], (-1, 1))[:, :0]
    return _fn("stack")(_fn("nonzero")(a), axis=-1)


@numpy_function("compress")
def _compress(condition, a, axis=None):
    a, axis = _axis_and_input(a, axis)
    return _fn("take")(a, _selected("np.compress", condition), axis=axis)


@numpy_function("extract")
def _extract(condition, arr):
    return _fn("take")(_flat(arr), _selected("np.extract", _flat(condition)), axis=0)


def _selected(what, condition):
    """The positions of the 1-d ``condition``'s nonzero entries (int64); ``take`` refuses
    those past the axis, as NumPy does (a shorter condition leaves the rest out)."""
    condition = _tensor(condition)
    if condition.ndim != 1:
        raise ValueError(f"{what}: condition must be 1-d, got shape {tuple(condition.shape)}")
    return _fn("nonzero")(condition)[0]


@numpy_function("count_nonzero")
def _count_nonzero(a, axis=None, *, keepdims=False):
    return _fn("count_nonzero")(_tensor(a), axis=_norm_axes(axis),
                                 keepdims=_keepdims(keepdims, "np.count_nonzero"))


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
