"""What a node standing for a whole block of operations needs from the tapes outside it: a
``recompute_grad`` block (``recompute.py``) and a ``vmap`` call under tapes
(``batching/through_tapes.py``, ``batching/kept.py``) are such nodes. Which tensors the outer
tapes differentiate (``OuterTapes``), the identity of a recorded value, several outputs packed
into the node's one output and back, the walk back over the block's own tape, and the random
generators put back to replay the block's draws.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0])
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
>>> OuterTapes([tape]).differentiate(x), is_float_tensor(x)
(True, True)
"""
from __future__ import annotations

import contextlib
import copy
import math

from .primitive import Primitive, tape_state
from .tensor import Tensor


def is_float_tensor(t) -> bool:
    return isinstance(t, Tensor) and t.dtype.is_inexact


class OuterTapes:
    """The tapes recording outside a block whose operations they do not see one by one
    (``recompute_grad``'s block, a ``vmap`` call under tapes): which tensors they take
    gradients for. ``key in`` asks whether any of them knows ``key`` (what ``inplace.on_tape``
    asks of ``_Reads``); ``auto``: whether one watches trainable Variables on access.

    >>> import xpgrad as xg
    >>> x, y = xg.asarray(1.0), xg.asarray(2.0)
    >>> with xg.GradientTape() as tape:
    ...     tape.watch(x)
    >>> outside = OuterTapes([tape])
    >>> outside.differentiate(x), outside.differentiate(y)
    (True, False)
    """

    __slots__ = ("tapes", "auto")

    def __init__(self, tapes):
        expanded = []
        for t in tapes:
            expanded.append(t)
            outside = getattr(t, "outside", None)    # a tape standing for tapes outside it
            if outside is not None:
                expanded += outside.tapes
        self.tapes = expanded
        self.auto = any(t._auto for t in expanded)

    def __contains__(self, key):
        for t in self.tapes:
            if key in t._keys:
                return True
        return False

    def differentiate(self, t) -> bool:
        """Whether one of them takes gradients for the Tensor ``t``: a trainable Variable it
        watches on access, or a tensor watched or derived from a watched one."""
        return bool((t._trainable and self.auto) or (t._key and t._key in self))


def value_identity(t):
    """Two Tensor objects with one key are one value to the tapes (a recorded value brought
    back, ``tensor._keyed``); without a key, the object is the value.

    >>> import xpgrad as xg
    >>> x = xg.asarray(1.0)
    >>> value_identity(x) == value_identity(x), value_identity(x) == value_identity(x + 0)
    (True, False)
    """
    return ("key", t._key) if t._key else ("id", id(t))


def changed_operand(operands, snapshots, needs):
    """How to name the first operand a gradient ``needs`` that was assigned or written in place
    since the block ran (its data or key no longer the ``(data, key)`` snapshot taken then), or
    None: running the block again for its gradient would read the new value."""
    for t, (data, key), need in zip(operands, snapshots, needs):
        if need and (t._data is not data or t._key != key):
            return f"Variable {t.name!r}" if hasattr(t, "name") else "a tensor it reads"
    return None

def pack_outputs(outputs):
    """Several outputs as one flat Tensor (the node's one output), unrecorded."""
    from .ops.joining import concat
    from .ops.shape import reshape

    saved, tape_state.recording = tape_state.recording, []
    try:
        return concat([reshape(t, (-1,)) for t in outputs])
    finally:
        tape_state.recording = saved


def unpack_outputs(flat, specs):
    """``pack_outputs``'s inverse, recorded: the pieces of ``flat`` in the shapes and dtypes of
    ``specs`` (the outputs' gradients come back as slices of one buffer)."""
    from .ops.casting import astype
    from .ops.elementwise import real
    from .ops.shape import reshape

    pieces, start = [], 0
    for shape, dtype in specs:
        size = math.prod(shape)
        piece = reshape(flat[start:start + size], shape)
        start += size
        if piece.dtype != dtype:
            if piece.dtype.is_complex and not dtype.is_complex:
                piece = real(piece)
            piece = astype(piece, dtype)
        pieces.append(piece)
    return pieces


def walk_back(tape, outputs, seeds, sources, higher, consume=True):
    """``{key: gradient}`` of ``tape``'s walk back from ``outputs`` weighted by ``seeds``
    (``tape.gradient``'s walk; ``sources``: the tensors whose gradients are wanted). With
    ``consume`` (a tape walked once: a recomputed block's, a vmap's vjp), ``outputs`` is
    emptied and each node freed as the walk passes it, as the rest of the block's values are;
    without, the tape stays as it is (``batching.through_tapes`` walks the tape a vmap call
    kept, maybe again)."""
    from .backward import _walk
    from .gradient_call import walk_seeds
    from .tape import next_key

    tape._check_usable()
    start = walk_seeds(outputs, seeds, higher, next_key)
    if not consume:
        return _walk(tape._nodes, tape._home, start, {s._key for s in sources}, False, higher)
    outputs.clear()
    try:
        return _walk(tape._nodes, tape._home, start, {s._key for s in sources}, True, higher)
    finally:
        tape._release()


@contextlib.contextmanager
def replaying_draws(draws):
    """The generators the block drew from, put in the states its first run found them in;
    afterwards back in the states they had, so the recomputation draws nothing new."""
    from .jit.guards import restored_rng, rng_state

    now = [(gen, rng_state(gen._rng)) for gen, _ in draws.values()]
    for gen, state in draws.values():
        gen._rng = restored_rng(gen._rng, copy.deepcopy(state))   # kept for another replay
    try:
        yield
    finally:
        for gen, state in now:
            gen._rng = restored_rng(gen._rng, state)


def block_primitive(name):
    """The primitive of a node standing for a block: its forward hands over the value the
    block computed (``call.value``, then dropped: the node does not keep it alive), its joint
    rule asks the call for the gradients (``call.gradients(g, needs)``)."""
    return Primitive(name, _handed_over, joint=_call_gradients, saves=())


def _handed_over(xp, *raws, call):
    value, call.value = call.value, None
    return value


def _call_gradients(xp, g, ans, needs, *inputs, call):
    return call.gradients(g, needs)
