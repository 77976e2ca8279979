"""What a ``vmap`` call maps: its argument leaves with their batch axes, the batch size and the
backend. A call whose arguments are all as they should be takes one pass without the leaves'
paths (``axes.axis_leaves``); anything else is looked at again with them, for an error that
names the argument.

>>> import xpgrad as xg
>>> leaves, positional, size, be = mapped_leaves((xg.ones((2, 3)), 1.0), {}, (1, None))
>>> [(axis, type(leaf).__name__) for axis, leaf in leaves], positional, size, be.name
([(1, 'Tensor'), (None, 'float')], 2, 3, 'numpy')
>>> mapped_leaves((1.0,), {}, None, axis_size=4)[2]
4
"""
from __future__ import annotations

import numbers

from ..backend import MixedBackendError
from ..tensor import Tensor
from .axes import axis_leaves, spec_leaves


def mapped_leaves(args, kwargs, in_axes, axis_size=None):
    """``([(axis, leaf)], how many of them are positional, batch size, backend)``: ``axis`` in
    range (None: not mapped); keyword arguments' arrays map over axis 0. ``axis_size``: the
    batch size, needed when nothing is mapped (the backend is then the current one). ValueError
    for a leaf that cannot be mapped, an axis out of range, sizes that differ (from each other
    or from ``axis_size``), or nothing mapped without ``axis_size``."""
    spec = tuple(in_axes) if isinstance(in_axes, (tuple, list)) else in_axes
    leaves = None
    if spec.__class__ is not tuple or len(spec) == len(args):
        leaves = axis_leaves(spec, tuple(args))
    if leaves is None:
        return _explained(args, kwargs, in_axes, axis_size)
    positional = len(leaves)
    if kwargs:
        leaves += [(0 if isinstance(leaf, Tensor) or hasattr(leaf, "__array__") else None, leaf)
                   for _, leaf in axis_leaves(None, kwargs)]
    size, be = axis_size, None
    for i, (axis, leaf) in enumerate(leaves):
        if axis is None:
            continue
        if not isinstance(leaf, Tensor):        # (converted there, or refused)
            return _explained(args, kwargs, in_axes, axis_size)
        nd = leaf.ndim
        if not -nd <= axis < nd:
            return _explained(args, kwargs, in_axes, axis_size)
        if axis < 0:
            axis %= nd
            leaves[i] = (axis, leaf)
        if be is None:
            be = leaf._backend
        elif leaf._backend is not be:
            return _explained(args, kwargs, in_axes, axis_size)
        if size is None:
            size = leaf.shape[axis]
        elif leaf.shape[axis] != size:
            return _explained(args, kwargs, in_axes, axis_size)
    if be is None:
        if axis_size is None:
            return _explained(args, kwargs, in_axes, axis_size)
        be = _backend_of(leaves)
    return leaves, positional, size, be


def positional_leaves(args, in_axes):
    """``[(axis, path, leaf)]`` of the positional arguments; ValueError naming the argument
    whose structure ``in_axes`` does not match."""
    if isinstance(in_axes, (tuple, list)):
        if len(in_axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(in_axes)} entries but the function got "
                             f"{len(args)} positional arguments: give one entry per argument "
                             "(None for one not mapped)")
        return spec_leaves(tuple(in_axes), tuple(args), "in_axes", "arguments")
    return spec_leaves(in_axes, tuple(args), "in_axes", "arguments")


def _backend_of(leaves):
    """The backend of the first Tensor among ``leaves``, else the current one."""
    from ..backend import current_backend

    for _, leaf in leaves:
        if isinstance(leaf, Tensor):
            return leaf._backend
    return current_backend()


def _explained(args, kwargs, in_axes, axis_size):
    """``mapped_leaves`` once more, the leaves' paths at hand: converts array-likes that are
    mapped, and raises what is wrong naming the argument."""
    from ..creation import asarray

    leaves = [(axis, f"argument {path}", leaf) for axis, path, leaf in
              positional_leaves(args, in_axes)]
    positional = len(leaves)
    if kwargs:
        leaves += [(0 if isinstance(leaf, Tensor) or hasattr(leaf, "__array__") else None,
                    f"keyword argument {path}", leaf) for _, path, leaf in
                   spec_leaves(None, kwargs, "in_axes", "keyword arguments")]
    sizes, out, be = [], [], None
    for axis, where, leaf in leaves:
        if axis is not None:
            if not isinstance(leaf, Tensor):
                if isinstance(leaf, (numbers.Number, str)) or leaf is None:
                    raise ValueError(f"vmap: in_axes maps {where} over axis {axis}, but it is "
                                     f"a {type(leaf).__name__}, not an array; use None in "
                                     "in_axes for arguments that are not mapped")
                leaf = asarray(leaf)
            nd = leaf.ndim
            if not -nd <= axis < nd:
                raise ValueError(f"vmap: in_axes={axis} is out of range for {where}, which "
                                 f"has {nd} dimension{'s' if nd != 1 else ''} "
                                 f"(shape {leaf.shape})")
            axis %= nd
            if be is not None and leaf._backend is not be:
                raise MixedBackendError(f"vmap: mapped arguments on backends {be.name!r} and "
                                        f"{leaf._backend.name!r}; move one with .to(...)")
            be = leaf._backend
            sizes.append((where, axis, leaf.shape[axis]))
        out.append((axis, leaf))
    if not sizes and axis_size is None:
        raise ValueError("vmap needs at least one mapped argument (an in_axes entry that is "
                         "not None, over a tensor), or axis_size= (the batch size) when none "
                         "is mapped")
    if len({s for _, _, s in sizes} | ({axis_size} if axis_size is not None else set())) > 1:
        listed = ", ".join(f"{w} has size {s} along axis {a}" for w, a, s in sizes)
        if axis_size is not None:
            raise ValueError(f"vmap: axis_size={axis_size} but {listed}; the mapped axes must "
                             "have axis_size entries")
        raise ValueError(f"vmap: the mapped axes must have one size: {listed}")
    size = sizes[0][2] if sizes else axis_size
    return out, positional, size, be if be is not None else _backend_of(out)
