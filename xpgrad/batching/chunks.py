"""``vmap(..., chunk_size=n)`` (torch.func's): the batch run ``n`` examples at a time, each
chunk one vmap call of its own, and the chunks' outputs joined along their batch axes, so that
only one chunk's intermediate values are alive at once. The chunks are sliced and joined with
recorded operations, so tapes outside differentiate through them (every chunk one node of
theirs). With ``randomness="same"`` every chunk replays the first one's draws: one draw for
the whole batch, as without chunks.

>>> import xpgrad as xg
>>> xs = xg.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
>>> xg.vmap(lambda row: xg.sum(row ** 2), chunk_size=2)(xs).tolist()
[5.0, 25.0, 61.0]
"""
from __future__ import annotations

from ..pytree import rebuild
from ..random import noting_draws, replaying_fresh
from ..outer_tapes import replaying_draws
from ..tensor import Tensor
from .arguments import mapped_leaves
from .axes import spec_leaves


def chunked(call, args, kwargs, chunk_size, in_axes, out_axes, randomness, axis_size):
    """``call(args, kwargs, size)`` (one vmap call over a batch of ``size``) over the batch of
    ``args`` and ``kwargs`` in chunks of ``chunk_size`` examples, the outputs joined."""
    leaves, positional, size, _ = mapped_leaves(args, kwargs, in_axes, axis_size)
    if size <= chunk_size:
        return call(args, kwargs, size)
    outs, draws = [], None
    for start in range(0, size, chunk_size):
        stop = min(start + chunk_size, size)
        part = [leaf if axis is None else _rows(leaf, axis, start, stop)
                for axis, leaf in leaves]
        chunk_args = rebuild(args, part[:positional]) if args else ()
        chunk_kwargs = rebuild(kwargs, part[positional:]) if kwargs else {}
        if randomness != "same":
            outs.append(call(chunk_args, chunk_kwargs, stop - start))
        elif draws is None:
            with noting_draws() as draws:
                outs.append(call(chunk_args, chunk_kwargs, stop - start))
        else:
            with replaying_draws(draws), replaying_fresh(draws.fresh):
                outs.append(call(chunk_args, chunk_kwargs, stop - start))
    return _joined(outs, out_axes)


def _rows(leaf, axis, start, stop):
    """``leaf``'s entries ``start:stop`` along ``axis`` (a recorded slice)."""
    return leaf[(slice(None),) * axis + (slice(start, stop),)]


def _joined(outs, out_axes):
    """The chunks' outputs as one: each output joined along its batch axis; an output without
    one (``out_axes`` None: the same for every example) is the first chunk's."""
    from ..ops.joining import concat

    per_chunk = [spec_leaves(out_axes, out, "out_axes", "outputs") for out in outs]
    joined = []
    for k, (axis, _, first) in enumerate(per_chunk[0]):
        if axis is None or not isinstance(first, Tensor):
            joined.append(first)
        else:
            joined.append(concat([chunk[k][2] for chunk in per_chunk], axis=axis % first.ndim))
    return rebuild(outs[0], joined)
