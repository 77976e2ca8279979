"""Gathering by integer index arrays: ``take`` (along one axis), ``take_along_axis`` and
``one_hot``. The gradients of ``take`` and ``take_along_axis`` scatter and add, as indexing's
(``indexing.py``): on a first-order pass a ``Scatter`` that the tape adds into one buffer, under
a higher-order pass the primitives ``take_scatter`` and ``take_along_axis_scatter``.

>>> import xpgrad as xg
>>> x = xg.asarray([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
>>> xg.take_along_axis(x, xg.asarray([[1], [2]]), axis=1).tolist()
[[5.0], [6.0]]
"""
from __future__ import annotations

import numbers

from .. import dtypes as _dt
from .._args import refuse_keywords
from ..accumulate import Scatter
from ..backend import MixedBackendError
from ..creation import arange, named_asarray
from ..dtype_functions import iinfo
from ..primitive import Primitive, apply
from ..tensor import Tensor, _wrap
from ._define import as_tensor, norm_axis
from .casting import astype
from .elementwise import equal
from .shape import broadcast_to, expand_dims, moveaxis


# -- take -----------------------------------------------------------------------------------------

def _take_key(axis, indices):
    return (slice(None),) * axis + (indices,)


def _take_vjp(xp, g, ans, x, indices, axis, backend):
    shape = tuple(x.shape)
    if isinstance(g, Tensor):
        return apply(_take_scatter, g, indices=indices, axis=axis, shape=shape,
                     backend=backend)
    return Scatter(shape, _take_key(axis, indices), g, backend)


def _take_scatter_forward(xp, g, indices, axis, shape, backend):
    return Scatter(shape, _take_key(axis, indices), g, backend).dense(xp)


_take = Primitive("take", lambda xp, x, indices, axis, backend: xp.take(x, indices, axis=axis),
                  _take_vjp)
def _take_scatter_vjp(xp, g, ans, v, indices, axis, shape, backend):
    if isinstance(g, Tensor):      # indices checked already (and under xg.vmap maybe batched)
        return apply(_take, g, indices=indices, axis=axis, backend=backend)
    return xp.take(g, indices, axis=axis)


_take_scatter = Primitive("take_scatter", _take_scatter_forward, _take_scatter_vjp)


def _int_indices(x, indices, what):
    if isinstance(indices, Tensor):
        if indices._backend is not x._backend:
            raise MixedBackendError(
                f"{what}: indices on backend {indices._backend.name!r} used on a tensor on "
                f"{x._backend.name!r}; move one explicitly with .to({x._backend.name!r})")
        idx = indices
    else:
        idx = named_asarray(indices, f"{what}: indices", backend=x._backend)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"{what} needs integer indices, got {idx.dtype}")
    return idx


def take(x, indices, /, axis=None, **unexpected):
    """Entries of ``x`` at integer ``indices`` (1-D) along ``axis`` (optional for 1-D ``x``);
    negative indices count from the end; ``axis`` by keyword or positionally, as NumPy's.
    The gradient scatters and adds (repeated indices accumulate).

    >>> import xpgrad as xg
    >>> xg.take(xg.asarray([[1.0, 2.0], [3.0, 4.0]]), xg.asarray([1, 1]), 1).tolist()
    [[2.0, 2.0], [4.0, 4.0]]
    """
    if unexpected:
        refuse_keywords("take", unexpected)
    x = as_tensor(x, "take")
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take needs axis= for a {x.ndim}-D tensor")
        axis = 0
    axis = norm_axis(axis, x.ndim, "take: axis")
    idx = _int_indices(x, indices, "take")
    if idx.ndim != 1:
        raise ValueError(f"take needs 1-D indices, got shape {idx.shape}")
    raw = _checked_indices(x._backend, idx._data, x.shape, axis, "take")
    return apply(_take, x, indices=raw, axis=axis, backend=x._backend)


def _checked_indices(be, raw, shape, axis, what):
    """Indices with negative ones counted from the end; IndexError for any out of range."""
    n = shape[axis]
    size = 1
    for s in raw.shape:
        size *= s
    if size == 0:
        return raw
    # under xg.function a replay skips the wrap below where the trace did: its guard never
    # widens across 0
    lo, hi = be.check_index_range(raw, within=lambda lo, hi: (0 if lo >= 0 else -n, n - 1))
    if lo < -n or hi >= n:
        bad = lo if lo < -n else hi
        raise IndexError(f"{what} on a tensor of shape {shape}: index {bad} is out of bounds "
                         f"for axis {axis} of size {n}")
    if lo < 0:
        xp = be.xp
        raw = xp.where(raw < 0, raw + n, raw)
    return raw


# -- take_along_axis ------------------------------------------------------------------------------

def _along_key(xp, indices, axis, shape):
    """The integer-array key that picks ``indices`` along ``axis`` of an array of ``shape``
    (an open mesh: ``x[key]`` has the shape of ``indices``)."""
    nd = len(shape)
    key = []
    for d in range(nd):
        if d == axis:
            key.append(indices)
        else:
            r = xp.arange(shape[d], dtype=indices.dtype)
            key.append(xp.reshape(r, tuple(shape[d] if i == d else 1 for i in range(nd))))
    return tuple(key)


def _along_forward(xp, x, indices, axis, backend):
    fn = getattr(xp, "take_along_axis", None)
    if fn is not None:
        return fn(x, indices, axis=axis)
    return x[_along_key(xp, indices, axis, tuple(x.shape))]


def _along_vjp(xp, g, ans, x, indices, axis, backend):
    shape = tuple(x.shape)
    if isinstance(g, Tensor):
        return apply(_along_scatter, g, indices=indices, axis=axis, shape=shape,
                     backend=backend)
    return Scatter(shape, _along_key(xp, indices, axis, shape), g, backend)


def _along_scatter_forward(xp, g, indices, axis, shape, backend):
    return Scatter(shape, _along_key(xp, indices, axis, shape), g, backend).dense(xp)


_along = Primitive("take_along_axis", _along_forward, _along_vjp)
def _along_scatter_vjp(xp, g, ans, v, indices, axis, shape, backend):
    if isinstance(g, Tensor):
        return take_along_axis(g, indices, axis=axis)
    return _along_forward(xp, g, indices, axis, backend)


_along_scatter = Primitive("take_along_axis_scatter", _along_scatter_forward, _along_scatter_vjp)


def take_along_axis(x, indices, /, axis=-1, **unexpected):
    """``x`` at ``indices`` along ``axis`` (2024.12): ``out[..., j, ...] = x[..., indices[...,
    j, ...], ...]``. ``indices`` has ``x``'s rank and broadcasts with it except along
    ``axis`` (by keyword or positionally, as NumPy's); negative indices count from the end.
    Differentiable (the gradient scatters and adds), like ``torch.take_along_dim``.

    >>> import xpgrad as xg
    >>> x = xg.asarray([[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
    >>> xg.take_along_axis(x, xg.argmax(x, 1, keepdims=True), 1).tolist()
    [[30.0], [60.0]]
    """
    if unexpected:
        refuse_keywords("take_along_axis", unexpected)
    x = as_tensor(x, "take_along_axis")
    idx = _int_indices(x, indices, "take_along_axis")
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_axis needs indices with x's rank {x.ndim}, got shape "
                         f"{idx.shape}")
    if x.ndim == 0:
        raise ValueError("take_along_axis needs a tensor with at least one dimension")
    axis = norm_axis(axis, x.ndim, "take_along_axis: axis")
    batch = []
    for d, (a, b) in enumerate(zip(x.shape, idx.shape)):
        if d == axis:
            batch.append(None)
        elif a == b or b == 1 or a == 1:
            batch.append(max(a, b) if min(a, b) != 0 else 0)
        else:
            raise ValueError(f"take_along_axis: x of shape {x.shape} and indices of shape "
                             f"{idx.shape} do not broadcast outside axis {axis}")
    xshape = tuple(x.shape[axis] if s is None else s for s in batch)
    ishape = tuple(idx.shape[axis] if s is None else s for s in batch)
    if xshape != x.shape:
        x = broadcast_to(x, xshape)
    raw = idx._data
    if ishape != idx.shape:
        raw = x._backend.xp.broadcast_to(raw, ishape)
    raw = _checked_indices(x._backend, raw, x.shape, axis, "take_along_axis")
    return apply(_along, x, indices=raw, axis=axis, backend=x._backend)


def one_hot(indices, /, num_classes, *, dtype=None, axis=-1, **unexpected):
    """Integer class ``indices`` as one-hot vectors along a new ``axis`` (float32 unless
    ``dtype`` says otherwise); an index outside ``[0, num_classes)`` is an IndexError.
    ``num_classes`` also by keyword, as PyTorch's ``F.one_hot(y, num_classes=k)`` and JAX's
    ``jax.nn.one_hot`` are called (PyTorch's default ``-1``, the largest label plus one, is
    refused: pass the count).

    >>> import xpgrad as xg
    >>> xg.one_hot(xg.asarray([0, 2]), 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if unexpected:
        refuse_keywords("one_hot", unexpected)
    indices = as_tensor(indices, "one_hot", "indices")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got dtype {indices.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
            or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive int, got {num_classes!r}")
    num_classes = int(num_classes)              # y.max() + 1 of NumPy labels is a NumPy int
    if indices.size:
        lo, hi = indices._backend.check_index_range(indices._data)
        if lo < 0 or hi >= num_classes:
            raise IndexError(f"one_hot: index {lo if lo < 0 else hi} is out of range for "
                             f"num_classes={num_classes}")
    if num_classes - 1 > iinfo(indices.dtype).max:
        # the class numbers must not wrap in a narrow dtype (uint8 indices, 300 classes)
        indices = astype(indices, _dt.int64)
    dtype = _dt.float32 if dtype is None else _dt.as_dtype(dtype)
    be = indices._backend
    if type(indices._data) is be.array_class:
        # the backend's own writable arrays (not traced, not vmapped): zeros, then a 1 at
        # each label's class, as PyTorch's scatter (256 labels, 1000 classes: the comparison
        # with every class and its cast, 2 passes over the output, took 133 us)
        xp = be.xp
        labels = xp.reshape(indices._data, (-1,))
        raw = xp.zeros((labels.shape[0], num_classes), dtype=be.native_dtype(dtype))
        raw[xp.arange(labels.shape[0]), labels] = 1
        out = _wrap(xp.reshape(raw, tuple(indices.shape) + (num_classes,)), be)
    else:
        hot = equal(expand_dims(indices, axis=-1),
                    arange(num_classes, dtype=indices.dtype, backend=be))
        out = astype(hot, dtype)
    axis = norm_axis(axis, out.ndim, "one_hot: axis")
    return out if axis == out.ndim - 1 else moveaxis(out, -1, axis)


__all__ = ["take", "take_along_axis", "one_hot"]
