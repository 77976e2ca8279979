"""Batching rules: elementwise functions, reductions, shape functions and array creation.

A rule is ``rule(level, real, args, kwargs)``: ``real`` the inner namespace's function, the
batched arrays among the arguments hold their examples along axis 0 of their ``_data``. A rule
that meets a case it does not cover returns ``loop(...)``, which is always right.

>>> import numpy as np
>>> from xpgrad.batching.namespace import Level
>>> level = Level(2, np)
>>> x = level.wrap(np.arange(6.0).reshape(2, 3))
>>> level.namespace.max(x, axis=0)._data.tolist(), (x + np.ones((4, 1))).shape
([2.0, 5.0], (4, 3))
"""
from __future__ import annotations

from .batched import BatchedArray
from .namespace import batched, holds, loop, share


def _axis_error(axis, ndim):
    from numpy.exceptions import AxisError

    return AxisError(axis, ndim)


def shift(axis, ndim):
    """One example's ``axis`` (an int or a tuple) as an axis of the batched data."""
    if isinstance(axis, (tuple, list)):
        return tuple(shift(a, ndim) for a in axis)
    a = int(axis)
    if not -ndim <= a < ndim:
        raise _axis_error(a, ndim)
    return a if a < 0 else a + 1


def align(level, a, rank):
    """``a``'s data with size-1 axes after the batch axis up to one example's ``rank``, so it
    broadcasts against the other arguments as one example's array would; ``a`` itself when
    ``level`` does not batch it."""
    if not batched(level, a):
        return a
    nd = a.ndim
    if nd >= rank:
        return a._data
    d = a._data
    return level.inner.reshape(d, (d.shape[0],) + (1,) * (rank - nd) + a.shape)


def full(level, a):
    """``a``'s data when batched, else ``a`` broadcast along a new batch axis (a view)."""
    if batched(level, a):
        return a._data
    inner = level.inner
    shape = (level.size,) + tuple(getattr(a, "shape", ()))
    return inner.broadcast_to(inner.asarray(a)[None, ...], shape)


def _ndim(a):
    return getattr(a, "ndim", 0)


# -- elementwise ---------------------------------------------------------------------------------
def elementwise(level, real, args, kwargs):
    """Functions applied element by element with broadcasting (every ufunc, ``where``,
    ``clip``, ``astype``): ranks aligned, the batch axis leading."""
    rank = max([_ndim(a) for a in args] + [_ndim(v) for v in kwargs.values()])
    out = real(*[align(level, a, rank) for a in args],
               **{k: align(level, v, rank) for k, v in kwargs.items()})
    if isinstance(out, tuple):
        return tuple(level.wrap(o) for o in out)
    return level.wrap(out)


def leading(level, real, args, kwargs):
    """Functions of the last axes of their one array argument that take any leading axes as
    a stack (``linalg.inv``, ``matrix_transpose``, ``tril``, ...)."""
    x = args[0]
    if not batched(level, x) or holds(level, args[1:]) or holds(level, kwargs.values()):
        return loop(level, real, getattr(real, "__name__", "?"), args, kwargs)
    out = real(x._data, *args[1:], **kwargs)
    if isinstance(out, tuple):
        items = [level.wrap(o) for o in out]
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)
    return level.wrap(out)


# -- reductions and functions along axes ------------------------------------------------------
def _axis_args(args, kwargs, default):
    """``(x, axis, rest of args, kwargs without axis)`` of ``f(x, axis, ...)``."""
    kwargs = dict(kwargs)
    if len(args) > 1:
        return args[0], args[1], args[2:], kwargs
    return args[0], kwargs.pop("axis", default), (), kwargs


def _only_x(level, x, rest, kwargs):
    return batched(level, x) and not holds(level, rest) and not holds(level, kwargs.values())


def reduction(level, real, args, kwargs):
    """``sum``, ``mean``, ``max``, ``any``, ``std``, ``vector_norm``, ...: ``axis=None`` is
    every axis of one example."""
    x = args[0]
    if len(args) == 1 and x.__class__ is BatchedArray and x._level is level:
        axis = kwargs.get("axis")
        if axis is None or axis.__class__ is int:       # (the common case, spelled out)
            for v in kwargs.values():
                if v.__class__ is BatchedArray or v.__class__ is tuple or v.__class__ is list:
                    break
            else:
                nd = x._data.ndim - 1
                if axis is None:
                    kwargs = {**kwargs, "axis": tuple(range(1, nd + 1))}
                elif -nd <= axis < nd:
                    kwargs = {**kwargs, "axis": axis + 1 if axis >= 0 else axis}
                else:
                    raise _axis_error(axis, nd)
                out = BatchedArray(real(x._data, **kwargs), level)
                if (axis is None or nd == 1) and getattr(real, "__name__", "") in ("any", "all"):
                    out._truth = real.__name__
                return out
    x, axis, rest, kwargs = _axis_args(args, kwargs, None)
    if not _only_x(level, x, rest, kwargs):
        return loop(level, real, real.__name__, args, kwargs if axis is None else
                    {**kwargs, "axis": axis})
    nd = x.ndim
    axes = tuple(range(1, nd + 1)) if axis is None else shift(axis, nd)
    out = level.wrap(real(x._data, *rest, axis=axes, **kwargs))
    name = getattr(real, "__name__", "")
    if name in ("any", "all") and (axis is None or len(set(
            axes if isinstance(axes, tuple) else (axes,))) == nd):
        out._truth = name           # bool() of it: BatchedArray._truth_of_batch
    return out


def along(default):
    """Functions along one axis (or several) whose default is ``default`` (None: every axis
    of one example, where the function allows it)."""
    def rule(level, real, args, kwargs):
        x, axis, rest, kw = _axis_args(args, kwargs, default)
        if axis is None or not _only_x(level, x, rest, kw):
            return loop(level, real, real.__name__, args, kwargs)
        return level.wrap(real(x._data, *rest, axis=shift(axis, x.ndim), **kw))
    return rule


def arg_reduction(level, real, args, kwargs):
    """``argmax``/``argmin``: ``axis=None`` counts in the flattened example."""
    x, axis, rest, kw = _axis_args(args, kwargs, None)
    if not _only_x(level, x, rest, kw) or (axis is None and kw.get("keepdims")):
        return loop(level, real, real.__name__, args, kwargs)
    if axis is None:
        d = level.inner.reshape(x._data, (x._data.shape[0], -1))
        return level.wrap(real(d, *rest, axis=1, **kw))
    return level.wrap(real(x._data, *rest, axis=shift(axis, x.ndim), **kw))


def cumulative(level, real, args, kwargs):
    """``cumulative_sum``/``cumulative_prod``: ``axis=None`` only for one-dimensional x."""
    x, axis, rest, kw = _axis_args(args, kwargs, None)
    if axis is None and getattr(x, "ndim", 0) == 1:
        axis = 0
    if axis is None or not _only_x(level, x, rest, kw):
        return loop(level, real, real.__name__, args, kwargs)
    return level.wrap(real(x._data, *rest, axis=shift(axis, x.ndim), **kw))


def flip(level, real, args, kwargs):
    x, axis, rest, kw = _axis_args(args, kwargs, None)
    if not _only_x(level, x, rest, kw):
        return loop(level, real, "flip", args, kwargs)
    axes = tuple(range(1, x.ndim + 1)) if axis is None else shift(axis, x.ndim)
    return level.wrap(real(x._data, axis=axes, **kw))


def roll(level, real, args, kwargs):
    x, shift_by = args[0], args[1] if len(args) > 1 else kwargs.get("shift")
    axis = args[2] if len(args) > 2 else kwargs.get("axis")
    if axis is None or not batched(level, x) or holds(level, (shift_by,)):
        return loop(level, real, "roll", args, kwargs)
    return level.wrap(real(x._data, shift_by, axis=shift(axis, x.ndim)))


# -- shapes ---------------------------------------------------------------------------------
def reshape(level, real, args, kwargs):
    x = args[0]
    shape = args[1] if len(args) > 1 else kwargs.pop("shape", None)
    if shape is None:
        shape = kwargs.pop("newshape")
    kwargs = {k: v for k, v in kwargs.items() if k != "shape"}
    if not batched(level, x):
        return loop(level, real, "reshape", args, kwargs)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return level.wrap(real(x._data, (x._data.shape[0],) + shape, **kwargs))


def expand_dims(level, real, args, kwargs):
    x, axis, rest, kw = _axis_args(args, kwargs, 0)
    if not batched(level, x):
        return loop(level, real, "expand_dims", args, kwargs)
    nd = x.ndim + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    axis = shift(axis, nd)
    if axis.__class__ is int and axis > 0:      # an index: cheaper than NumPy's expand_dims
        return level.wrap(x._data[(slice(None),) * axis + (None,)])
    return level.wrap(real(x._data, axis=axis))


def squeeze(level, real, args, kwargs):
    x, axis, rest, kw = _axis_args(args, kwargs, None)
    if not batched(level, x):
        return loop(level, real, "squeeze", args, kwargs)
    if axis is None:
        axis = tuple(i for i, n in enumerate(x.shape) if n == 1)
    return level.wrap(real(x._data, axis=shift(axis, x.ndim)))


def permute_dims(level, real, args, kwargs):
    x = args[0]
    axes = args[1] if len(args) > 1 else kwargs.get("axes")
    if not batched(level, x):
        return loop(level, real, "permute_dims", args, kwargs)
    nd = x.ndim
    axes = tuple(range(nd))[::-1] if axes is None else tuple(axes)
    return level.wrap(real(x._data, (0,) + tuple(a % nd + 1 if -nd <= a < nd
                                                  else _raise_axis(a, nd) for a in axes)))


def _raise_axis(a, nd):
    raise _axis_error(a, nd)


def moveaxis(level, real, args, kwargs):
    x = args[0]
    source = args[1] if len(args) > 1 else kwargs["source"]
    destination = args[2] if len(args) > 2 else kwargs["destination"]
    if not batched(level, x):
        return loop(level, real, "moveaxis", args, kwargs)
    return level.wrap(real(x._data, shift(source, x.ndim), shift(destination, x.ndim)))


def swapaxes(level, real, args, kwargs):
    x, a, b = args[0], args[1], args[2]
    if not batched(level, x):
        return loop(level, real, "swapaxes", args, kwargs)
    return level.wrap(real(x._data, shift(a, x.ndim), shift(b, x.ndim)))


def broadcast_to(level, real, args, kwargs):
    x = args[0]
    shape = args[1] if len(args) > 1 else kwargs["shape"]
    if not batched(level, x):
        return loop(level, real, "broadcast_to", args, kwargs)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if len(shape) < x.ndim:
        raise ValueError(f"cannot broadcast an array of shape {x.shape} to {shape}")
    d = align(level, x, len(shape))
    return level.wrap(real(d, (d.shape[0],) + shape))


def broadcast_arrays(level, real, args, kwargs):
    import numpy as np

    shape = np.broadcast_shapes(*[tuple(getattr(a, "shape", ())) for a in args])
    ns = level.namespace
    # all batched, as JAX's: an unbatched result would meet the batched ones in operators,
    # which only some namespaces' arrays pass on to a BatchedArray (array-api-strict's raise)
    return [ns.broadcast_to(a if batched(level, a) else level.wrap(full(level, a)), shape)
            for a in args]


def joining(new_axis):
    """``concat`` (``new_axis`` False) and ``stack``: unbatched arrays broadcast along the
    batch."""
    def rule(level, real, args, kwargs):
        arrays, axis = args[0], args[1] if len(args) > 1 else kwargs.get("axis", 0)
        arrays = list(arrays)
        if axis is None or not arrays:
            return loop(level, real, real.__name__, args, kwargs)
        nd = arrays[0].ndim + (1 if new_axis else 0)
        return level.wrap(real([full(level, a) for a in arrays], axis=shift(axis, nd)))
    return rule


def unstack(level, real, args, kwargs):
    x, axis, rest, kw = _axis_args(args, kwargs, 0)
    if not batched(level, x):
        return loop(level, real, "unstack", args, kwargs)
    return tuple(level.wrap(o) for o in real(x._data, axis=shift(axis, x.ndim)))


def take_along_axis(level, real, args, kwargs):
    x, indices = args[0], args[1]
    axis = args[2] if len(args) > 2 else kwargs.get("axis", -1)
    if axis is None:
        return loop(level, real, "take_along_axis", args, kwargs)
    nd = max(_ndim(x), _ndim(indices))
    xd = full(level, x)
    idx = full(level, indices)
    return level.wrap(real(xd, idx, axis=shift(axis, nd)))


def take(level, real, args, kwargs):
    x, indices = args[0], args[1]
    axis = args[2] if len(args) > 2 else kwargs.get("axis")
    if axis is None and _ndim(x) == 1:
        axis = 0
    if axis is None or holds(level, kwargs.values()):
        return loop(level, real, "take", args, kwargs)
    if batched(level, indices):
        from .indexing import getitem

        a = axis % x.ndim
        if not batched(level, x):
            x = level.wrap(full(level, x))
        return getitem(x, (slice(None),) * a + (indices,))
    return level.wrap(real(x._data, indices, axis=shift(axis, x.ndim)))


def vecdot(level, real, args, kwargs):
    rank = max(_ndim(a) for a in args[:2])
    axis = kwargs.pop("axis", -1) if len(args) < 3 else args[2]
    return level.wrap(real(align(level, args[0], rank), align(level, args[1], rank),
                           axis=shift(axis, rank)))


def astype(level, real, args, kwargs):
    return level.wrap(real(args[0]._data, *args[1:], **kwargs))


def copy(level, real, args, kwargs):
    if not batched(level, args[0]):
        return loop(level, real, "copy", args, kwargs)
    return level.wrap(real(args[0]._data, *args[1:], **kwargs))


# -- creation -------------------------------------------------------------------------------------
def created(level, real, args, kwargs):
    """``zeros``, ``empty``, ``full``, ``ones`` inside vmap: a buffer an operation may write
    batched values into, so batched (shared until written)."""
    if kwargs.get("copy") is False or (real.__name__ == "asarray" and not kwargs.get("copy")):
        return real(*args, **kwargs)
    return share(level, real(*args, **kwargs))


def like(level, real, args, kwargs):
    """``zeros_like`` and friends: one example's result shared by every example."""
    x = args[0]
    if not batched(level, x):
        if holds(level, args[1:]) or holds(level, kwargs.values()):
            return loop(level, real, real.__name__, args, kwargs)
        return created(level, real, args, kwargs)
    if holds(level, args[1:]) or holds(level, kwargs.values()):
        return loop(level, real, real.__name__, args, kwargs)
    if level.size == 0:
        return level.wrap(real(x._data, *args[1:], **kwargs))
    return share(level, real(x.example() if x._shared else x._data[0, ...], *args[1:], **kwargs))


def asarray(level, real, args, kwargs):
    x = args[0]
    if batched(level, x):
        return level.wrap(real(x._data, *args[1:], **kwargs))
    return loop(level, real, "asarray", args, kwargs)
