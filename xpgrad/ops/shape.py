"""Shapes and manipulation: reshape, permute_dims, expand_dims, squeeze, broadcast_to,
broadcast_arrays, concat, stack, unstack, flip, roll, tile, repeat, moveaxis, astype, and the
array-building meshgrid, tril, triu (indexing is in ``indexing.py``). Every one is
differentiable: the rearranging ones through their inverse rearrangement, ``tile`` and
``repeat`` by summing the copies back.

>>> import xpgrad as xg
>>> x = xg.arange(6.0).reshape((2, 3))
>>> x[:, ::2].tolist(), xg.concat([x, x], axis=1).shape
([[0.0, 2.0], [3.0, 5.0]], (2, 6))
"""
from __future__ import annotations

import builtins
import operator

from .. import dtypes as _dt
from ..primitive import Primitive, apply
from ..tensor import Tensor, _wrap
from ._define import Each, as_tensor, is_floating, norm_axes, norm_axis


class AxisError(IndexError, ValueError):
    """An axis out of range where the standard asks for an IndexError (``expand_dims``); a
    ValueError as well, like xpgrad's other axis errors (and NumPy's ``AxisError``)."""


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


_reshape = Primitive("reshape", lambda xp, x, shape, copy=None:
                     xp.reshape(x, shape) if copy is None else xp.reshape(x, shape, copy=copy),
                     lambda xp, g, ans, x, shape, copy=None: xp.reshape(g, x.shape))


def reshape(x, /, shape, *, copy=None):
    """Same data, new shape (one entry may be -1). ``copy=True`` always copies; ``copy=False``
    raises ValueError where the backend would have to copy.

    >>> import xpgrad as xg
    >>> xg.reshape(xg.ones(6), (2, -1)).shape
    (2, 3)
    """
    x = as_tensor(x)
    shape = _ints(shape, "shape")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if shape.count(-1) == 0:
        ok = known == x.size
    else:
        ok = shape.count(-1) == 1 and known > 0 and x.size % known == 0
    if not ok or builtins.any(s < -1 for s in shape):
        raise ValueError(f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                         f"into shape {shape}")
    if copy is None:
        return apply(_reshape, x, shape=shape)
    return apply(_reshape, x, shape=shape, copy=builtins.bool(copy))


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
    axes = tuple(norm_axis(a, x.ndim) for a in _ints(axes, "axes"))
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"axes {axes} is not a permutation of the {x.ndim} axes")
    return apply(_permute, x, axes=axes)


def expand_dims(x, /, axis=0):
    """Insert length-1 axes at ``axis`` (an int, or a tuple of positions in the result).

    An axis outside ``[-x.ndim - 1, x.ndim]`` raises an IndexError (as the standard asks) that
    is a ValueError too.

    >>> import xpgrad as xg
    >>> xg.expand_dims(xg.ones((2, 3)), axis=-1).shape
    (2, 3, 1)
    >>> xg.expand_dims(xg.ones(2), axis=(0, 2)).shape
    (1, 2, 1)
    """
    x = as_tensor(x)
    axes = _ints(axis, "axis")
    ndim = x.ndim + len(axes)
    placed = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise AxisError(f"axis {a} is out of range for a tensor with {x.ndim} dimension"
                            f"{'s' if x.ndim != 1 else ''} (expand_dims inserting {len(axes)} "
                            f"takes axes from {-ndim} to {ndim - 1})")
        placed.append(a % ndim)
    if len(set(placed)) != len(placed):
        raise ValueError(f"expand_dims: repeated axis in {axis!r}")
    rest = iter(x.shape)
    return reshape(x, tuple(1 if i in placed else next(rest) for i in range(ndim)))


def squeeze(x, /, axis):
    """Remove length-1 ``axis`` (an int or a tuple); a longer axis raises ValueError.

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
    """The broadcast shape, or a ValueError naming the shapes that do not broadcast.

    >>> broadcast_shapes((2, 1), (3,))
    (2, 3)
    """
    ndim = builtins.max((len(s) for s in shapes), default=0)
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
    shape = _ints(shape, "shape")
    if len(shape) < x.ndim or broadcast_shapes(x.shape, shape) != shape:
        raise ValueError(f"cannot broadcast shape {x.shape} to {shape}")
    if shape == x.shape:
        return x
    return apply(_broadcast_to, x, shape=shape)


def broadcast_arrays(*arrays):
    """The tensors broadcast against each other, as a list (gradients sum back).

    >>> import xpgrad as xg
    >>> [t.shape for t in xg.broadcast_arrays(xg.ones((2, 1)), xg.ones(3))]
    [(2, 3), (2, 3)]
    """
    arrays = [as_tensor(a) for a in arrays]
    shape = broadcast_shapes(*(a.shape for a in arrays))
    return [broadcast_to(a, shape) for a in arrays]


def _slice_along(ndim, axis, start, stop):
    return tuple(slice(start, stop) if i == axis else slice(None) for i in range(ndim))


def _concat_vjp(i, xp, g, ans, *arrays, axis):
    start = 0
    for a in arrays[:i]:
        start += a.shape[axis]
    return g[_slice_along(g.ndim, axis, start, start + arrays[i].shape[axis])]


_concat = Primitive("concat", lambda xp, *arrays, axis: xp.concat(arrays, axis=axis),
                    Each(_concat_vjp))


def _tensors(arrays, what):
    if isinstance(arrays, Tensor) or not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{what} takes a list or tuple of tensors, got "
                        f"{type(arrays).__name__}")
    arrays = [as_tensor(a) for a in arrays]
    if not arrays:
        raise ValueError(f"{what} needs at least one tensor")
    return arrays


def concat(arrays, /, *, axis=0):
    """Join tensors along an existing axis (``axis=None``: flattened first); mixed dtypes
    promote.

    >>> import xpgrad as xg
    >>> xg.concat([xg.ones((2, 3)), xg.zeros((1, 3))]).shape
    (3, 3)
    """
    arrays = _tensors(arrays, "concat")
    if axis is None:
        arrays = [reshape(a, (-1,)) for a in arrays]
        axis = 0
    nd = arrays[0].ndim
    if nd == 0:
        raise ValueError("concat cannot join 0-d tensors along an axis (use axis=None or stack)")
    axis = norm_axis(axis, nd)
    for a in arrays:
        if a.ndim != nd or builtins.any(a.shape[i] != arrays[0].shape[i]
                                        for i in range(nd) if i != axis):
            raise ValueError("concat: shapes " + ", ".join(str(t.shape) for t in arrays) +
                             f" differ outside axis {axis}")
    return apply(_concat, *arrays, axis=axis)


_stack = Primitive("stack", lambda xp, *arrays, axis: xp.stack(arrays, axis=axis),
                   Each(lambda i, xp, g, ans, *arrays, axis:
                        g[tuple(i if d == axis else slice(None) for d in range(g.ndim))]))


def stack(arrays, /, *, axis=0):
    """Join same-shaped tensors along a new axis; mixed dtypes promote.

    >>> import xpgrad as xg
    >>> xg.stack([xg.ones(3), xg.zeros(3)], axis=1).shape
    (3, 2)
    """
    arrays = _tensors(arrays, "stack")
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
    if x.ndim == 0:
        raise ValueError("unstack needs a tensor with at least one dimension")
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


def _neg(shift):
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


_roll = Primitive("roll", lambda xp, x, shift, axis: xp.roll(x, shift, axis=axis),
                  lambda xp, g, ans, x, shift, axis: xp.roll(g, _neg(shift), axis=axis))


def roll(x, /, shift, *, axis=None):
    """Shift entries along ``axis`` cyclically (``axis=None``: over the flattened tensor).
    ``shift`` and ``axis`` may be tuples of one length; an int shift applies to every axis.

    >>> import xpgrad as xg
    >>> xg.roll(xg.asarray([1.0, 2.0, 3.0]), 1).tolist()
    [3.0, 1.0, 2.0]
    """
    x = as_tensor(x)
    if axis is None:
        if isinstance(shift, (tuple, list)):
            raise ValueError("roll: a tuple shift needs a tuple axis of the same length")
        return apply(_roll, x, shift=_int(shift, "shift"), axis=None)
    axes = tuple(norm_axis(a, x.ndim) for a in _ints(axis, "axis"))
    if isinstance(shift, (tuple, list)):
        shift = _ints(shift, "shift")
        if len(shift) != len(axes):
            raise ValueError(f"roll: shift {shift} and axis {axis} differ in length")
    else:
        shift = (_int(shift, "shift"),) * len(axes)
    return apply(_roll, x, shift=shift, axis=axes)


def _tile_vjp(xp, g, ans, x, reps):
    shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
    split = []
    for r, n in zip(reps, shape):
        split += [r, n]
    summed = xp.sum(xp.reshape(g, tuple(split)), axis=tuple(range(0, len(split), 2)))
    return xp.reshape(summed, x.shape)


_tile = Primitive("tile", lambda xp, x, reps: xp.tile(x, reps), _tile_vjp)


def tile(x, repetitions, /):
    """``x`` repeated ``repetitions[i]`` times along axis ``i`` (the shorter of the two is
    padded with leading ones); the gradient sums the copies.

    >>> import xpgrad as xg
    >>> xg.tile(xg.asarray([1.0, 2.0]), (2, 2)).tolist()
    [[1.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 2.0]]
    """
    x = as_tensor(x)
    reps = _ints(repetitions, "repetitions")
    if builtins.any(r < 0 for r in reps):
        raise ValueError(f"tile: repetitions must not be negative, got {reps}")
    reps = (1,) * (x.ndim - len(reps)) + reps
    return apply(_tile, x, reps=reps)


def repeat(x, repeats, /, *, axis=None):
    """Repeat each entry of ``x`` (flattened when ``axis`` is None) ``repeats`` times: an
    int, or an integer tensor of shape ``(1,)`` or ``(x.shape[axis],)`` (read back to the
    host: the output's shape depends on it). The gradient sums the repeats.

    >>> import xpgrad as xg
    >>> xg.repeat(xg.asarray([1.0, 2.0]), xg.asarray([2, 1])).tolist()
    [1.0, 1.0, 2.0]
    """
    x = as_tensor(x)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    else:
        axis = norm_axis(axis, x.ndim)
    m = x.shape[axis]
    if not isinstance(repeats, int) or isinstance(repeats, builtins.bool):
        r = as_tensor(repeats)
        if r.dtype.kind not in "iu":
            raise TypeError(f"repeat: repeats must be an int or an integer tensor, got {r.dtype}")
        if r.ndim != 1 or r.shape[0] not in (1, m):
            raise ValueError(f"repeat: repeats of shape {r.shape} does not match axis {axis} "
                             f"of length {m} (expected (1,) or ({m},))")
        counts = r.numpy().tolist()
        if builtins.any(c < 0 for c in counts):
            raise ValueError("repeat: repeats must not be negative")
        if len(counts) == 1:
            repeats = counts[0]
        else:
            be = x._backend
            raw = be.xp.repeat(be.xp.arange(m, dtype=be.native_dtype(_dt.int64)),
                               r.to(be)._data)
            from .indexing import take

            return take(x, _wrap(raw, be), axis=axis)
    if repeats < 0:
        raise ValueError(f"repeat: repeats must not be negative, got {repeats}")
    stretched = broadcast_to(expand_dims(x, axis=axis + 1),
                             x.shape[:axis + 1] + (repeats,) + x.shape[axis + 1:])
    return reshape(stretched, x.shape[:axis] + (m * repeats,) + x.shape[axis + 1:])


def moveaxis(x, source, destination, /):
    """Move axes (an int or a tuple) to new positions, the others keeping their order.

    >>> import xpgrad as xg
    >>> xg.moveaxis(xg.ones((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    >>> xg.moveaxis(xg.ones((2, 3, 4)), (0, 1), (2, 0)).shape
    (3, 4, 2)
    """
    x = as_tensor(x)
    src = tuple(norm_axis(a, x.ndim) for a in _ints(source, "source"))
    dst = tuple(norm_axis(a, x.ndim) for a in _ints(destination, "destination"))
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source} and destination {destination} differ "
                         "in length")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("moveaxis: repeated axis in source or destination")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute_dims(x, tuple(order))


# -- arrays built from arrays: meshgrid, tril, triu --------------------------------------------

def meshgrid(*arrays, indexing="xy"):
    """Coordinate grids from 1-D tensors: ``indexing="xy"`` (Cartesian: the first two axes
    swapped) or ``"ij"`` (matrix). Built from reshape and broadcast_to, so differentiable.

    >>> import xpgrad as xg
    >>> gx, gy = xg.meshgrid(xg.asarray([1.0, 2.0, 3.0]), xg.asarray([4.0, 5.0]))
    >>> gx.shape, gy[:, 0].tolist()
    ((2, 3), [4.0, 5.0])
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    arrays = [as_tensor(a) for a in arrays]
    for i, a in enumerate(arrays):
        if a.ndim != 1:
            raise ValueError(f"meshgrid takes 1-D tensors; argument {i} has shape {a.shape}")
    n = len(arrays)
    place = list(range(n))
    if indexing == "xy" and n > 1:
        place[0], place[1] = 1, 0
    shape = [0] * n
    for a, p in zip(arrays, place):
        shape[p] = a.shape[0]
    shape = tuple(shape)
    out = []
    for a, p in zip(arrays, place):
        lone = tuple(a.shape[0] if d == p else 1 for d in range(n))
        out.append(broadcast_to(reshape(a, lone), shape))
    return out


def _triangle(name, doc):
    prim = Primitive(name, lambda xp, x, k: getattr(xp, name)(x, k=k),
                     lambda xp, g, ans, x, k: getattr(xp, name)(g, k=k))

    def fn(x, /, *, k=0):
        x = as_tensor(x)
        if x.ndim < 2:
            raise ValueError(f"{name} needs a tensor with at least 2 dimensions, got shape "
                             f"{x.shape}")
        return apply(prim, x, k=_int(k, "k"))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.primitive = prim
    return fn


tril = _triangle("tril", """The lower triangle of the last two axes: entries above diagonal ``k``
    set to zero (``k > 0``: above the main diagonal). The gradient is masked the same way.

    >>> import xpgrad as xg
    >>> xg.tril(xg.ones((2, 2))).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """)
triu = _triangle("triu", """The upper triangle of the last two axes: entries below diagonal ``k``
    set to zero. The gradient is masked the same way.

    >>> import xpgrad as xg
    >>> xg.triu(xg.ones((2, 2)), k=1).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """)


# -- copies and casts ---------------------------------------------------------------------------

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


def _kind(xp, dtype) -> str:
    """'f' (real floating), 'c' (complex floating) or '' for a raw or xpgrad dtype."""
    kind = getattr(dtype, "kind", None)
    if isinstance(kind, str):
        return kind if kind in "fc" else ""
    if xp.isdtype(dtype, "real floating"):
        return "f"
    return "c" if xp.isdtype(dtype, "complex floating") else ""


def _astype_vjp(xp, g, ans, x, dtype, real=False):
    source, target = _kind(xp, x.dtype), _kind(xp, ans.dtype)
    if not (source and target):
        return None
    if source == "f" and target == "c":
        g = xp.real(g)
    return xp.astype(g, x.dtype)


_astype = Primitive("astype", lambda xp, x, dtype, real=False:
                    xp.astype(xp.real(x) if real else x, dtype), _astype_vjp)


def astype(x, dtype, /, *, copy=True, device=None):
    """Cast to ``dtype`` (``copy=False``: ``x`` itself when it has that dtype already; a
    ``device=`` places the result there). Gradients flow between floating dtypes, real and
    complex: from a real input to a complex result the gradient's real part comes back; a
    complex input cast to a real dtype keeps its real part (as NumPy and PyTorch do, though the
    standard advises against it: prefer ``real``) and gets the real gradient.

    >>> import xpgrad as xg
    >>> xg.astype(xg.ones(2), xg.float64).dtype
    xpgrad.float64
    """
    x = as_tensor(x)
    dt = _dt.as_dtype(dtype)
    if dt == x.dtype:
        out = x
    elif x.dtype.is_complex and not dt.is_complex:
        out = apply(_astype, x, dtype=x._backend.native_dtype(dt), real=True)
    else:
        out = apply(_astype, x, dtype=x._backend.native_dtype(dt))
    if device is not None:
        from ..creation import to_device

        out = to_device(out, device)
    if copy and out is x:
        out = copy_tensor(x)
    return out


__all__ = ["reshape", "permute_dims", "expand_dims", "squeeze", "broadcast_to",
           "broadcast_arrays", "broadcast_shapes", "concat", "stack", "unstack", "flip",
           "roll", "tile", "repeat", "astype", "moveaxis", "meshgrid", "tril", "triu"]
