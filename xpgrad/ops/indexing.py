"""Indexing: ``x[key]`` (slices, ellipsis, None, integer arrays, masks) and ``take``.

The gradient of indexing scatters and adds, so repeated indices accumulate; on a first-order
pass it is a ``Scatter`` that the tape adds into one buffer (``xpgrad/accumulate.py``).

>>> import xpgrad as xg
>>> x = xg.arange(6.0).reshape((2, 3))
>>> x[:, ::2].tolist(), xg.take(x, xg.asarray([2, 0]), axis=1).tolist()
([[0.0, 2.0], [3.0, 5.0]], [[2.0, 0.0], [5.0, 3.0]])
"""
from __future__ import annotations

import operator

from ..accumulate import Scatter
from ..primitive import Primitive, apply
from ..tensor import Tensor
from ._define import as_tensor, norm_axis


# -- indexing -----------------------------------------------------------------------------------

def _scatter_forward(xp, g, shape, key, backend):
    return Scatter(shape, key, g, backend).dense(xp)


_scatter = Primitive("index_scatter", _scatter_forward,
                     lambda xp, g, ans, v, shape, key, backend: g[key])


def _getitem_vjp(xp, g, ans, x, key, backend):
    if isinstance(g, Tensor):
        return apply(_scatter, g, shape=x.shape, key=key, backend=backend)
    return Scatter(x.shape, key, g, backend)     # the tape adds it into one buffer


_getitem = Primitive("getitem", lambda xp, x, key, backend: x[key], _getitem_vjp)


def _raw_key(x: Tensor, key):
    items = key if isinstance(key, tuple) else (key,)
    out = []
    for k in items:
        if isinstance(k, Tensor):
            if k._backend is not x._backend:
                raise ValueError(f"index on backend {k._backend.name!r} used on a tensor on "
                                 f"{x._backend.name!r}")
            if k.dtype.kind not in "ib":
                raise IndexError(f"tensors used as indices must be integer or boolean, got "
                                 f"{k.dtype}")
            k = k._data
        elif isinstance(k, (list, tuple)):
            k = x._backend.asarray(k)
        elif hasattr(k, "shape"):
            pass  # a raw backend array (from a vjp rule)
        elif not (k is None or k is Ellipsis or isinstance(k, slice)):
            k = operator.index(k)
        out.append(k)
    return tuple(out)


def getitem(x, key):
    """``x[key]`` with NumPy semantics for slices, ellipsis, None, integer arrays and masks.

    >>> import xpgrad as xg
    >>> x = xg.asarray([1.0, 2.0, 3.0])
    >>> x[xg.asarray([0, 0, 2])].tolist(), x[x > 1.5].tolist()
    ([1.0, 1.0, 3.0], [2.0, 3.0])
    """
    x = as_tensor(x)
    raw = _raw_key(x, key)
    try:
        return apply(_getitem, x, key=raw, backend=x._backend)
    except IndexError as e:
        raise IndexError(f"index {key!r} is invalid for a tensor of shape {x.shape}: {e}") \
            from None


def take(x, indices, /, *, axis=None):
    """Entries of ``x`` at integer ``indices`` along ``axis`` (optional for 1-D ``x``).

    >>> import xpgrad as xg
    >>> xg.take(xg.asarray([[1.0, 2.0], [3.0, 4.0]]), xg.asarray([1, 1]), axis=1).tolist()
    [[2.0, 2.0], [4.0, 4.0]]
    """
    x = as_tensor(x)
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take needs axis= for a {x.ndim}-D tensor")
        axis = 0
    axis = norm_axis(axis, x.ndim)
    idx = as_tensor(indices) if not isinstance(indices, Tensor) else indices
    if idx.dtype.kind != "i":
        raise IndexError(f"take needs integer indices, got {idx.dtype}")
    return getitem(x, (slice(None),) * axis + (idx,))


__all__ = ["getitem", "take"]
