"""Shapes and axes: reshape, permute_dims, expand_dims, squeeze, moveaxis, broadcast_to,
broadcast_arrays (and broadcast_shapes). Joining is in ``joining.py``, flip/roll/tile/repeat in
``rearranging.py``, meshgrid/tril/triu in ``grids_triangles.py``, astype in ``casting.py``,
indexing in ``indexing.py``. Every one is differentiable through its inverse rearrangement
(broadcast gradients sum back).

>>> import xpgrad as xg
>>> x = xg.arange(6.0).reshape((2, 3))
>>> x[:, ::2].tolist(), xg.concat([x, x], axis=1).shape
([[0.0, 2.0], [3.0, 5.0]], (2, 6))
"""
from __future__ import annotations

import builtins

from .._args import TORCH_AXES_KEYWORDS, flag, refuse_keywords
from ..conversion import _check_copy
from ..primitive import Primitive, apply
from ..views import view_of
from ._define import _ints, as_tensor, norm_axes, norm_axis


class AxisError(IndexError, ValueError):
    """An axis out of range where the standard asks for an IndexError (``expand_dims``); a
    ValueError as well, like xpgrad's other axis errors (and NumPy's ``AxisError``)."""


_reshape = Primitive("reshape", lambda xp, x, shape, copy=None:
                     xp.reshape(x, shape) if copy is None else xp.reshape(x, shape, copy=copy),
                     lambda xp, g, ans, x, shape, copy=None: xp.reshape(g, x.shape), saves=())


def reshape(x, /, shape, *, copy=None):
    """Same data, new shape (one entry may be -1). ``copy=True`` always copies; ``copy=False``
    raises ValueError where the backend would have to copy.

    >>> import xpgrad as xg
    >>> xg.reshape(xg.ones(6), (2, -1)).shape
    (2, 3)
    """
    copy = _check_copy(copy, "reshape")
    x = as_tensor(x, "reshape")
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
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                         f"into shape {shape}")
    if copy is None:
        return apply(_reshape, x, shape=shape)
    return apply(_reshape, x, shape=shape, copy=copy)


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


_permute = Primitive("permute_dims", lambda xp, x, axes: xp.permute_dims(x, axes),
                     lambda xp, g, ans, x, axes: xp.permute_dims(g, _inverse(axes)))


def permute_dims(x, /, axes=None, **unexpected):
    """Reorder the axes (a permutation of ``range(x.ndim)``).

    >>> import xpgrad as xg
    >>> xg.permute_dims(xg.ones((2, 3, 4)), (2, 0, 1)).shape
    (4, 2, 3)
    """
    if unexpected:
        refuse_keywords("permute_dims", unexpected, TORCH_AXES_KEYWORDS)
    x = as_tensor(x, "permute_dims")
    if axes is None:        # required; the default only lets torch's dims= reach the hint
        raise TypeError("permute_dims() missing 1 required positional argument: 'axes'")
    axes = tuple(norm_axis(a, x.ndim, "permute_dims: axis") for a in _ints(axes, "axes"))
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"axes {axes} is not a permutation of the {x.ndim} axes")
    return view_of(x, apply(_permute, x, axes=axes), _permute, {"axes": axes})


def expand_dims(x, /, axis=0, **unexpected):
    """Insert length-1 axes at ``axis`` (an int, or a tuple of positions in the result).

    An axis outside ``[-x.ndim - 1, x.ndim]`` raises an IndexError (as the standard asks) that
    is a ValueError too.

    >>> import xpgrad as xg
    >>> xg.expand_dims(xg.ones((2, 3)), axis=-1).shape
    (2, 3, 1)
    >>> xg.expand_dims(xg.ones(2), axis=(0, 2)).shape
    (1, 2, 1)
    """
    if unexpected:
        refuse_keywords("expand_dims", unexpected)
    x = as_tensor(x, "expand_dims")
    axes = _ints(axis, "axis")
    ndim = x.ndim + len(axes)
    placed = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise AxisError(f"expand_dims: axis {a} is out of range for a tensor with {x.ndim} "
                            f"dimension{'s' if x.ndim != 1 else ''} (inserting {len(axes)} "
                            f"takes axes from {-ndim} to {ndim - 1})")
        placed.append(a % ndim)
    if len(set(placed)) != len(placed):
        raise ValueError(f"expand_dims: repeated axis in {axis!r}")
    rest = iter(x.shape)
    return reshape(x, tuple(1 if i in placed else next(rest) for i in range(ndim)))


def squeeze(x, /, axis=None, **unexpected):
    """Remove length-1 ``axis`` (an int or a tuple); a longer axis raises ValueError. Without
    ``axis``, every axis of length 1, as NumPy, JAX and ``x.squeeze()`` (the array API asks
    for an axis).

    >>> import xpgrad as xg
    >>> xg.squeeze(xg.ones((2, 1)), axis=1).shape
    (2,)
    >>> xg.squeeze(xg.ones((1, 2, 1))).shape
    (2,)
    """
    if unexpected:
        refuse_keywords("squeeze", unexpected)
    x = as_tensor(x, "squeeze")
    axes = (tuple(i for i, n in enumerate(x.shape) if n == 1) if axis is None
            else norm_axes(axis, x.ndim, "squeeze"))
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
    x = as_tensor(x, "broadcast_to")
    shape = _ints(shape, "shape")
    if len(shape) < x.ndim or broadcast_shapes(x.shape, shape) != shape:
        raise ValueError(f"cannot broadcast shape {x.shape} to {shape}")
    if shape == x.shape:
        return x
    return apply(_broadcast_to, x, shape=shape)


def broadcast_arrays(*arrays):
    """The tensors broadcast against each other, as a tuple (a list before the standard's
    2025.12; gradients sum back).

    >>> import xpgrad as xg
    >>> tuple(t.shape for t in xg.broadcast_arrays(xg.ones((2, 1)), xg.ones(3)))
    ((2, 3), (2, 3))
    """
    arrays = [as_tensor(a, "broadcast_arrays", f"argument {i}") for i, a in enumerate(arrays)]
    shape = broadcast_shapes(*(a.shape for a in arrays))
    return tuple(broadcast_to(a, shape) for a in arrays)


def moveaxis(x, source, destination, /):
    """Move axes (an int or a tuple) to new positions, the others keeping their order.

    >>> import xpgrad as xg
    >>> xg.moveaxis(xg.ones((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    >>> xg.moveaxis(xg.ones((2, 3, 4)), (0, 1), (2, 0)).shape
    (3, 4, 2)
    """
    x = as_tensor(x, "moveaxis")
    src = tuple(norm_axis(a, x.ndim, "moveaxis: axis") for a in _ints(source, "source"))
    dst = tuple(norm_axis(a, x.ndim, "moveaxis: axis") for a in _ints(destination, "destination"))
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source} and destination {destination} differ "
                         "in length")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("moveaxis: repeated axis in source or destination")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute_dims(x, tuple(order))


__all__ = ["reshape", "permute_dims", "expand_dims", "squeeze", "broadcast_to",
           "broadcast_arrays", "broadcast_shapes", "moveaxis"]
