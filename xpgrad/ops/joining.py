"""Joining and splitting tensors: concat, stack, unstack. The gradient of each input is its
slice of the output's gradient.

>>> import xpgrad as xg
>>> [t.tolist() for t in xg.unstack(xg.stack([xg.ones(2), xg.zeros(2)]))]
[[1.0, 1.0], [0.0, 0.0]]
"""
from __future__ import annotations

import builtins

from .._args import refuse_keywords
from ..accumulate import Scatter
from ..appliers import tape_state
from ..primitive import Primitive, apply
from ..tensor import Tensor, _wrap
from ._define import as_tensor, norm_axis
from .indexing import _getitem
from .shape import reshape


def _slice_along(ndim, axis, start, stop):
    return tuple(slice(start, stop) if i == axis else slice(None) for i in range(ndim))


def _concat_vjp(xp, g, ans, needs, *arrays, axis):
    """Every input's slice of ``g``, in one pass over the inputs (a rule per input would
    take each one all of them: quadratic in their number)."""
    grads, start = [], 0
    for a, need in zip(arrays, needs):
        stop = start + a.shape[axis]
        grads.append(g[_slice_along(g.ndim, axis, start, stop)] if need else None)
        start = stop
    return grads


# the rules read the inputs' shapes only: nothing is saved
_concat = Primitive("concat", lambda xp, *arrays, axis: xp.concat(arrays, axis=axis),
                    joint=_concat_vjp, saves=())


def _tensors(arrays, what):
    if isinstance(arrays, Tensor) or not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{what} takes a list or tuple of tensors, got "
                        f"{type(arrays).__name__}")
    arrays = [as_tensor(a) for a in arrays]
    if not arrays:
        raise ValueError(f"{what} needs at least one tensor")
    return arrays


def concat(arrays, /, axis=0, **unexpected):
    """Join tensors along an existing axis (``axis=None``: flattened first; by keyword or
    positionally, as ``np.concatenate(arrays, 1)``); mixed dtypes promote.

    >>> import xpgrad as xg
    >>> xg.concat([xg.ones((2, 3)), xg.zeros((1, 3))]).shape
    (3, 3)
    """
    if unexpected:
        refuse_keywords("concat", unexpected)
    arrays = _tensors(arrays, "concat")
    if axis is None:
        arrays = [reshape(a, (-1,)) for a in arrays]
        axis = 0
    nd = arrays[0].ndim
    if nd == 0:
        raise ValueError("concat cannot join 0-d tensors along an axis (use axis=None or stack)")
    axis = norm_axis(axis, nd, "concat: axis")
    for a in arrays:
        if a.ndim != nd or builtins.any(a.shape[i] != arrays[0].shape[i]
                                        for i in range(nd) if i != axis):
            raise ValueError("concat: shapes " + ", ".join(str(t.shape) for t in arrays) +
                             f" differ outside axis {axis}")
    return apply(_concat, *arrays, axis=axis)


def _stack_vjp(xp, g, ans, needs, *arrays, axis):
    lead = (slice(None),) * axis
    tail = () if g.ndim == axis + 1 else (...,)     # a full index stays one element read
    return [g[lead + (i, *tail)] if need else None for i, need in enumerate(needs)]


_stack = Primitive("stack", lambda xp, *arrays, axis: xp.stack(arrays, axis=axis),
                   joint=_stack_vjp, saves=())


def stack(arrays, /, axis=0, **unexpected):
    """Join same-shaped tensors along a new axis (by keyword or positionally); mixed dtypes
    promote.

    >>> import xpgrad as xg
    >>> xg.stack([xg.ones(3), xg.zeros(3)], 1).shape
    (3, 2)
    """
    if unexpected:
        refuse_keywords("stack", unexpected)
    arrays = _tensors(arrays, "stack")
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    return apply(_stack, *arrays, axis=norm_axis(axis, arrays[0].ndim + 1, "stack: axis"))


def unstack(x, /, axis=0, **unexpected):
    """Split ``x`` along ``axis`` (by keyword or positionally, as ``torch.unbind(x, 1)``) into
    a tuple of tensors (the inverse of stack). On the backend's own arrays the slices are views
    of ``x`` and a tape records one node for them all, whose rule stacks their gradients (zeros
    for a slice without one); a traced or vmapped ``x`` gives a ``getitem`` per slice.

    >>> import xpgrad as xg
    >>> x = xg.ones((4, 2))
    >>> with xg.GradientTape() as tape:
    ...     tape.watch(x)
    ...     rows = xg.unstack(x)
    ...     y = xg.sum(rows[1] * 3.0)
    >>> len(rows), tape.gradient(y, x).tolist()
    (4, [[0.0, 0.0], [3.0, 3.0], [0.0, 0.0], [0.0, 0.0]])
    """
    if unexpected:
        refuse_keywords("unstack", unexpected)
    x = as_tensor(x, "unstack")
    if x.ndim == 0:
        raise ValueError("unstack needs a tensor with at least one dimension")
    axis = norm_axis(axis, x.ndim, "unstack: axis")
    lead, be = (slice(None),) * axis, x._backend
    raw = x._data
    if type(raw) is be.array_class:
        # the backend's own array (not traced, not vmapped): the slices are views, and one
        # tape node for them all (its rule stacks their gradients): a node per slice cost
        # about 5 us each way (256 rows of 256: forward+backward 1460 us, PyTorch 290)
        outs = tuple(_wrap(raw[lead + (i,)], be) for i in range(x.shape[axis]))
        recording = tape_state.recording
        if recording and outs:
            nested = len(recording) > 1
            for tape in recording:
                tape._record_outputs(_unstack, x, raw, outs, {"axis": axis}, nested)
        return outs
    # the keys are complete already (the trailing ellipsis: the array API wants every axis
    # indexed), so each slice is the getitem primitive without getitem's checks of a key
    return tuple(apply(_getitem, x, key=lead + (i, Ellipsis), backend=be)
                 for i in range(x.shape[axis]))


def _unstack_vjp(xp, gs, ans, needs, x, axis):
    """The slices' gradients (None where one has none: zeros) stacked along ``axis``: copied
    into one new array slice by slice where they are the backend's arrays of one dtype (100
    slices of 32 by 32 in a walk: 160 us, ``stack`` 240; no zeros made for a slice without a
    gradient); stacked where they are Tensors (a higher-order walk: the outer tape records
    the stack)."""
    if not needs[0]:
        return (None,)
    made = [g.dense(xp) if g.__class__ is Scatter else g for g in gs]
    first = next(g for g in made if g is not None)
    if not isinstance(first, Tensor):
        out = xp.empty(x.shape, dtype=first.dtype)
        kind, dtype, lead = out.__class__, out.dtype, (slice(None),) * axis
        for i, g in enumerate(made):
            if g is None:
                out[lead + (i,)] = 0
            elif g.__class__ is kind and (g.dtype is dtype or g.dtype == dtype):
                out[lead + (i,)] = g
            else:                   # (not seen: the tape casts each to the slice's dtype)
                break
        else:
            return (out,)
    zero = xp.zeros_like(first)
    return (xp.stack([zero if g is None else g for g in made], axis=axis),)


def _unstack_forward(xp, x, axis):
    n = x.shape[axis]
    lead = (slice(None),) * axis
    return tuple(x[lead + (i,)] for i in range(n))


# recorded by unstack itself as one node of several outputs (GradientTape._record_outputs)
_unstack = Primitive("unstack", _unstack_forward, joint=_unstack_vjp, saves=())


__all__ = ["concat", "stack", "unstack"]
