"""``xg.vmap``: JAX's ``jax.vmap`` and PyTorch's ``torch.func.vmap``.

>>> import xpgrad as xg
>>> x = xg.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
>>> xg.vmap(lambda row: xg.sum(row ** 2))(x).tolist()
[5.0, 25.0, 61.0]
"""
from __future__ import annotations

import collections
import functools
import numbers

from ..primitive import Primitive, apply, tape_state
from ..pytree import rebuild
from ..tensor import Tensor, _wrap
from .arguments import mapped_leaves
from .chunks import chunked
from .axes import check_axis_spec, spec_leaves
from .batched import BatchedArray
from .session import RANDOMNESS, batching
from .through_tapes import recorded_call


def vmap(fn, in_axes=0, out_axes=0, randomness="error", *, chunk_size=None, axis_size=None,
         axis_name=None, spmd_axis_name=None):
    """``fn`` mapped over a batch axis of its arguments: ``vmap(fn)(xs)`` computes what
    stacking ``fn(x)`` for every ``x`` in ``xs`` does, in one pass of batched operations.

    ``in_axes``: the axis of each positional argument to map over -- an int (negative counts
    from the end), None (not mapped: every example sees the whole argument), or a tuple with
    one entry per positional argument, each an int, None or a pytree prefix of that argument
    (dicts, lists, tuples), as JAX's. Keyword arguments' tensors are mapped over axis 0, as in
    JAX. ``out_axes``: where the batch axis goes in each output (a pytree prefix of the
    outputs); an output that does not depend on a mapped input is broadcast along it, as in
    JAX, and None returns such an output as it is. ``randomness``: random draws inside raise
    (``"error"``, the default, as torch.func's), are drawn for every example
    (``"different"``) or once for all (``"same"``). ``axis_size`` (JAX's): the batch size, for
    a call that maps no argument (every output is then broadcast to it); with mapped
    arguments, their size must be it. ``chunk_size`` (torch.func's): run the batch that many
    examples at a time and join the outputs (the same values, with one chunk's intermediate
    values alive at a time; ``"different"`` draws differ from an unchunked call's,
    ``chunks.py``). Under a recording tape every chunk keeps the intermediate values its
    gradient needs until that gradient is taken, as PyTorch's chunks do, so chunks then bound
    only the forward pass's temporaries; ``vmap(xg.recompute_grad(fn), chunk_size=n)`` keeps
    none and recomputes each chunk in the backward pass, one chunk at a time. ``axis_name`` and ``spmd_axis_name`` name the batch axis for collectives
    (``psum``) and sharding, which xpgrad has not: NotImplementedError.

    ``xg.grad``, ``GradientTape``, ``xg.jacobian``, ``xg.vjp`` and ``xg.hessian`` inside
    ``fn`` batch too, so per-example gradients are
    ``xg.vmap(xg.grad(loss), in_axes=(None, 0, 0))(params, x, y)``; vmaps nest. Tapes
    outside differentiate through the call to any order (``xg.grad`` of a loss holding
    per-example gradients, ``xg.hessian`` of a function that vmaps): it is one node of theirs,
    whose first-order gradient walks a tape the call kept, and whose higher orders run ``fn``
    again under a vmap of its vjp (``through_tapes.py``). Functions
    without a batching rule loop over the batch (right, only slower): the returned function's
    ``fallbacks`` counts them by name.

    >>> import xpgrad as xg
    >>> w = xg.asarray([[1.0, 0.0], [0.0, 2.0]])
    >>> xs = xg.asarray([[1.0, 1.0], [2.0, 3.0]])
    >>> f = xg.vmap(xg.grad(lambda w, x: xg.sum((x @ w) ** 2)), in_axes=(None, 0))
    >>> f(w, xs).tolist()
    [[[2.0, 4.0], [2.0, 4.0]], [[8.0, 24.0], [12.0, 36.0]]]
    >>> xg.vmap(xg.vmap(lambda a, b: a * b), in_axes=(0, None))(xs, xs[0]).shape
    (2, 2)
    >>> dict(f.fallbacks)
    {}
    >>> penalty = lambda w: xg.sum(f(w, xs) ** 2)             # a gradient of gradients
    >>> xg.grad(penalty)(w).tolist()
    [[432.0, 1280.0], [640.0, 1904.0]]
    >>> xg.vmap(lambda w: xg.sum(w), in_axes=None, axis_size=3)(w).tolist()
    [3.0, 3.0, 3.0]
    >>> xg.vmap(lambda row: row @ w, chunk_size=1)(xs).tolist()         # one example a time
    [[1.0, 2.0], [2.0, 6.0]]
    >>> lean = xg.vmap(xg.recompute_grad(lambda row: xg.sum(xg.sin(row @ w))), chunk_size=1)
    >>> whole = xg.vmap(lambda row: xg.sum(xg.sin(row @ w)))
    >>> g_lean, g_whole = (xg.grad(lambda x, f=f: xg.sum(f(x)))(xs) for f in (lean, whole))
    >>> bool(xg.all(xg.abs(g_lean - g_whole) < 1e-6))          # under a tape, lean keeps none
    True
    """
    if not callable(fn):
        raise TypeError(f"vmap: fn must be callable, got {type(fn).__name__}")
    check_axis_spec(in_axes, "in_axes")
    check_axis_spec(out_axes, "out_axes")
    if isinstance(in_axes, dict):
        raise TypeError("in_axes must be an int, None, or a tuple with one entry per "
                        "positional argument (a dict goes inside that tuple)")
    if randomness not in RANDOMNESS:
        raise ValueError(f"randomness must be one of {RANDOMNESS}, got {randomness!r}")
    for name, value in (("axis_name", axis_name), ("spmd_axis_name", spmd_axis_name)):
        if value is not None:
            raise NotImplementedError(
                f"vmap: {name}={value!r} is not supported: it names the mapped axis for "
                "collectives (jax.lax.psum, pmean, all_gather) or sharding, and xpgrad has no "
                "collective operations inside vmap. Compute the reduction over the vmap's "
                "output instead (xg.sum(xg.vmap(f)(xs), axis=0))")
    return _vmapped(fn, in_axes, out_axes, randomness, collections.Counter(),
                    _count(axis_size, "axis_size", 0), _count(chunk_size, "chunk_size", 1))


def _count(value, name, least):
    """``value`` (None, or an int of at least ``least``), else TypeError/ValueError naming
    ``name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"vmap: {name} must be an int or None, got {type(value).__name__} "
                        f"{value!r}")
    if value < least:
        raise ValueError(f"vmap: {name} must be at least {least}, got {value}")
    return int(value)


def _vmapped(fn, in_axes, out_axes, randomness, fallbacks, axis_size=None, chunk_size=None):
    """``vmap``'s function, its arguments checked; ``fallbacks`` counts its loops."""

    def run(args, kwargs, around=None, size=axis_size):
        """The call over a batch of ``size`` (None: the mapped arguments'); ``around(level,
        mapped, entered, call)``, given, makes it (``through_tapes``): ``mapped`` is
        ``mapped_leaves``' answer, ``entered`` the leaves as ``fn`` gets them."""
        mapped = mapped_leaves(args, kwargs, in_axes, size)
        leaves, n, size, be = mapped
        with batching(be, size, randomness, fallbacks) as level:
            batched = [_enter(leaf, axis, level) if axis is not None else leaf
                       for axis, leaf in leaves]
            new_args = rebuild(args, batched[:n]) if args else ()
            new_kwargs = rebuild(kwargs, batched[n:]) if kwargs else {}
            if around is None:
                out = fn(*new_args, **new_kwargs)
            else:
                out = around(level, mapped, batched, lambda: fn(*new_args, **new_kwargs))
        outs = spec_leaves(out_axes, out, "out_axes", "outputs")
        return rebuild(out, [_leave(leaf, axis, path, level) for axis, path, leaf in outs])

    spec = _Spec(fn, in_axes, out_axes, randomness, fallbacks,
                 lambda f, ins, outs: _vmapped(f, ins, outs, randomness, fallbacks))

    def call(args, kwargs, size):
        """One vmap call over a batch of ``size`` (None: the mapped arguments')."""
        if tape_state.recording:            # one node on the tapes (``through_tapes.py``)
            return recorded_call(run if size is None else functools.partial(run, size=size),
                                 spec, args, kwargs)
        return run(args, kwargs, size=size)

    @functools.wraps(fn)
    def mapped(*args, **kwargs):
        if chunk_size is not None:
            return chunked(call, args, kwargs, chunk_size, in_axes, out_axes, randomness,
                           axis_size)
        return call(args, kwargs, axis_size)

    mapped.fallbacks = fallbacks
    mapped.calls_as_given = True     # xg.function passes no default it was not given (binding.py)
    return mapped


#: what a vmap's gradient needs of it; ``remap(f, in_axes, out_axes)``: a vmap like it of ``f``
_Spec = collections.namedtuple("_Spec", "fn in_axes out_axes randomness fallbacks remap")


# -- into and out of a level: primitives, so that xg.function traces them; never on a tape
# outside (a vmap under recording tapes is one node of theirs, ``through_tapes.py``) ---------
def _enter_forward(xp, x, axis, level):
    data = level.inner.moveaxis(x, axis, 0) if axis else x
    return BatchedArray(data, level)


_ENTER = Primitive("vmap_enter", _enter_forward)


def _leave_forward(xp, y, axis, level):
    return level.inner.moveaxis(y._data, 0, axis) if axis else y._data


_LEAVE = Primitive("vmap_leave", _leave_forward)


def _enter(leaf, axis, level):
    return apply(_ENTER, leaf, axis=axis, level=level)


def _leave(leaf, axis, path, level):
    """An output: its batch axis moved to ``axis``, or broadcast there when it is not batched."""
    if leaf is None:
        return None
    if not isinstance(leaf, Tensor):
        if axis is None:
            return leaf
        from ..creation import asarray

        leaf = asarray(leaf)
    data = leaf._data
    is_batched = data.__class__ is BatchedArray and data._level is level
    if is_batched and data._shared and level.size:     # one example's values shared by all
        leaf = _wrap(data.example(), leaf._backend)
        is_batched = False
    nd = leaf.ndim + 1
    if axis is None:
        if is_batched:
            raise ValueError(f"vmap: out_axes{path} is None but the output{path} differs "
                             "between examples (it depends on a mapped argument); give it "
                             "an axis")
        return leaf
    if not -nd <= axis < nd:
        raise ValueError(f"vmap: out_axes{path}={axis} is out of range for the output{path}, "
                         f"which has {nd} dimensions with the batch axis")
    axis %= nd
    if is_batched:
        return apply(_LEAVE, leaf, axis=axis, level=level)
    from ..ops import broadcast_to, expand_dims

    shape = leaf.shape[:axis] + (level.size,) + leaf.shape[axis:]
    return broadcast_to(expand_dims(leaf, axis=axis), shape)
