"""Shapes and manipulation: reshape, permute_dims, expand_dims, squeeze, broadcast_to, concat,
stack, unstack, flip, moveaxis, astype, copy (indexing is in ``indexing.py``).

>>> import xpgrad as xg
>>> x = xg.arange(6.0).reshape((2, 3))
>>> x[:, ::2].tolist(), xg.concat([x, x], axis=1).shape
([[0.0, 2.0], [3.0, 5.0]], (2, 6))
"""
from __future__ import annotations

from .. import dtypes as _dt
from ..primitive import Primitive, apply
from ..tensor import Tensor
from ._define import Each, as_tensor, is_floating, norm_axes, norm_axis

_reshape = Primitive("reshape", lambda xp, x, shape: xp.reshape(x, shape),
                     lambda xp, g, ans, x, shape: xp.reshape(g, x.shape))


def reshape(x, /, shape):
    """Same data, new shape (one entry may be -1).

    >>> import xpgrad as xg
    >>> xg.reshape(xg.ones(6), (2, -1)).shape
    (2, 3)
    """
    x = as_tensor(x)
    shape = (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if shape.count(-1) == 0:
        ok = known == x.size
    else:
        ok = shape.count(-1) == 1 and known > 0 and x.size % known == 0
    if not ok or any(s < -1 for s in shape):
        raise ValueError(f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                         f"into shape {shape}")
    return apply(_reshape, x, shape=shape)


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


_permute = Primitive("permute_dims", lambda xp, x, axes: xp.permute_dims(x, axes),
                     lambda xp, g, ans, x, axes: xp.permute_dims(g, _inverse(axes)))


def permute_dims(x, /, axes):
    """Reorder the axes (a permutation of ``range(x.ndim)``).

    >>> import xpgrad as xg
    >>> xg.permute_dims(xg.ones((2, 3, 4)), (2, 0, 1)).shape
    (4, 2, 3)
    """
    x = as_tensor(x)
    axes = tuple(norm_axis(a, x.ndim) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"axes {axes} is not a permutation of the {x.ndim} axes")
    return apply(_permute, x, axes=axes)


def expand_dims(x, /, *, axis=0):
    """Insert a length-1 axis at ``axis``.

    >>> import xpgrad as xg
    >>> xg.expand_dims(xg.ones((2, 3)), axis=-1).shape
    (2, 3, 1)
    """
    x = as_tensor(x)
    axis = norm_axis(axis, x.ndim + 1)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, /, axis):
    """Remove length-1 ``axis`` (an int or a tuple).

    >>> import xpgrad as xg
    >>> xg.squeeze(xg.ones((2, 1)), axis=1).shape
    (2,)
    """
    x = as_tensor(x)
    axes = norm_axes(axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"cannot squeeze axis {a} of shape {x.shape}: its length is "
                             f"{x.shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


_broadcast_to = Primitive("broadcast_to", lambda xp, x, shape: xp.broadcast_to(x, shape),
                          lambda xp, g, ans, x, shape: g)   # summed back centrally


def broadcast_shapes(*shapes):
    """The broadcast shape, or a ValueError naming the shapes that do not broadcast."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i} - {1}
        if len(sizes) > 1:
            raise ValueError(f"shapes {', '.join(map(str, shapes))} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_to(x, /, shape):
    """Repeat ``x`` along broadcast axes to ``shape``.

    >>> import xpgrad as xg
    >>> xg.broadcast_to(xg.ones(3), (2, 3)).shape
    (2, 3)
    """
    x = as_tensor(x)
    shape = tuple(int(s) for s in shape)
    if broadcast_shapes(x.shape, shape) != shape:
        raise ValueError(f"cannot broadcast shape {x.shape} to {shape}")
    return apply(_broadcast_to, x, shape=shape)


def _slice_along(ndim, axis, start, stop):
    return tuple(slice(start, stop) if i == axis else slice(None) for i in range(ndim))


def _concat_vjp(i, xp, g, ans, *arrays, axis):
    start = 0
    for a in arrays[:i]:
        start += a.shape[axis]
    return g[_slice_along(g.ndim, axis, start, start + arrays[i].shape[axis])]


_concat = Primitive("concat", lambda xp, *arrays, axis: xp.concat(arrays, axis=axis),
                    Each(_concat_vjp))


def _same_backend(arrays, what):
    arrays = [as_tensor(a) for a in arrays]
    if not arrays:
        raise ValueError(f"{what} needs at least one tensor")
    return arrays


def concat(arrays, /, *, axis=0):
    """Join tensors along an existing axis.

    >>> import xpgrad as xg
    >>> xg.concat([xg.ones((2, 3)), xg.zeros((1, 3))]).shape
    (3, 3)
    """
    arrays = _same_backend(arrays, "concat")
    nd = arrays[0].ndim
    axis = norm_axis(axis, nd)
    for a in arrays:
        if a.ndim != nd or any(a.shape[i] != arrays[0].shape[i]
                               for i in range(nd) if i != axis):
            raise ValueError("concat: shapes " + ", ".join(str(t.shape) for t in arrays) +
                             f" differ outside axis {axis}")
    return apply(_concat, *arrays, axis=axis)


_stack = Primitive("stack", lambda xp, *arrays, axis: xp.stack(arrays, axis=axis),
                   Each(lambda i, xp, g, ans, *arrays, axis:
                        g[tuple(i if d == axis else slice(None) for d in range(g.ndim))]))


def stack(arrays, /, *, axis=0):
    """Join same-shaped tensors along a new axis.

    >>> import xpgrad as xg
    >>> xg.stack([xg.ones(3), xg.zeros(3)], axis=1).shape
    (3, 2)
    """
    arrays = _same_backend(arrays, "stack")
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    return apply(_stack, *arrays, axis=norm_axis(axis, arrays[0].ndim + 1))


def unstack(x, /, *, axis=0):
    """Split ``x`` along ``axis`` into a tuple of tensors (the inverse of stack).

    >>> import xpgrad as xg
    >>> len(xg.unstack(xg.ones((4, 2))))
    4
    """
    x = as_tensor(x)
    axis = norm_axis(axis, x.ndim)
    # the trailing ellipsis: the array API wants every axis indexed (NumPy does not mind)
    return tuple(x[(slice(None),) * axis + (i, Ellipsis)] for i in range(x.shape[axis]))


_flip = Primitive("flip", lambda xp, x, axis: xp.flip(x, axis=axis),
                  lambda xp, g, ans, x, axis: xp.flip(g, axis=axis))


def flip(x, /, *, axis=None):
    """Reverse the order of entries along ``axis`` (all axes when None).

    >>> import xpgrad as xg
    >>> xg.flip(xg.asarray([1.0, 2.0, 3.0])).tolist()
    [3.0, 2.0, 1.0]
    """
    x = as_tensor(x)
    return apply(_flip, x, axis=norm_axes(axis, x.ndim))


_copy = Primitive("copy", lambda xp, x: xp.asarray(x, copy=True), lambda xp, g, ans, x: g)


def copy_tensor(x, /):
    """A new tensor with ``x``'s value in its own memory (``asarray(x, copy=True)``); the
    gradient passes through.

    >>> import xpgrad as xg
    >>> x = xg.ones(2)
    >>> y = copy_tensor(x)
    >>> y.tolist(), y.data is x.data
    ([1.0, 1.0], False)
    """
    return apply(_copy, as_tensor(x))


def _astype_vjp(xp, g, ans, x, dtype):
    if not (is_floating(xp, x.dtype) and is_floating(xp, ans.dtype)):
        return None
    return xp.astype(g, x.dtype)


_astype = Primitive("astype", lambda xp, x, dtype: xp.astype(x, dtype), _astype_vjp)


def astype(x, dtype, /):
    """Cast to ``dtype``; gradients flow between floating dtypes only.

    >>> import xpgrad as xg
    >>> xg.astype(xg.ones(2), xg.float64).dtype
    xpgrad.float64
    """
    x = as_tensor(x)
    dt = _dt.as_dtype(dtype)
    if dt == x.dtype:
        return x
    return apply(_astype, x, dtype=x._backend.native_dtype(dt))


def moveaxis(x, source, destination, /):
    """Move one axis to a new position.

    >>> import xpgrad as xg
    >>> xg.moveaxis(xg.ones((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    x = as_tensor(x)
    s, d = norm_axis(source, x.ndim), norm_axis(destination, x.ndim)
    order = [i for i in range(x.ndim) if i != s]
    order.insert(d, s)
    return permute_dims(x, tuple(order))


__all__ = ["reshape", "permute_dims", "expand_dims", "squeeze", "broadcast_to",
           "broadcast_shapes", "concat", "stack", "unstack", "flip", "astype", "moveaxis"]
