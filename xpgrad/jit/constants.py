"""Constant folding: arrays a program makes from shapes alone are made once, when it is built.

A traced gradient starts from ``ones_like(loss)``, often reshaped and broadcast to the shape
of what it flows into; each replay would make the same array again (``ones_like``, ``reshape``
and ``broadcast_to`` cost microseconds each through the array-API namespace, as much as a small
fused kernel). ``fold_constants(program, escaping)`` evaluates such steps once -- ``ones_like``,
``zeros_like`` and ``full_like`` of a traced array (their value depends on its shape and dtype
only), ``zeros``, ``ones`` and ``full`` of a shape (the buffer an indexing gradient scatters
into), then reshapes, broadcasts and casts of those, and ufuncs of them (the seed's
negative) -- and replaces them by a step returning the
array. An array no later step may write into is folded as it is: every step reading one must be
a plain, non-mutating array function (not a kernel, which may write into its inputs, nor an
optimizer step), and none may leave the program. Any other folded array that shares its memory
with no other folded step (the seed handed to a loss kernel's gradient, the zeros a gradient is
scattered into) is replayed as a copy made on each call (``FreshConstant``): a few hundred
nanoseconds where ``ones_like`` took microseconds; its reshapes and broadcasts, and whatever is
made from them, are then replayed as recorded (a write may come before them), on that copy.

>>> import numpy as np
>>> Constant(np.ones(2))()
array([1., 1.])
>>> FreshConstant(np.ones(2))() is FreshConstant(np.ones(2))()
False
"""
from __future__ import annotations

from .structure import map_leaves
from .program_steps import Ref
from .step_facts import reads

#: array functions whose result depends only on the argument's shape and dtype
_SEEDS = frozenset(("ones_like", "zeros_like", "full_like"))
#: array functions whose result depends only on their Python arguments (a shape, a fill value)
_MADE = frozenset(("zeros", "ones", "full"))
#: array functions of constant arrays that are constant themselves
_SHAPING = frozenset(("reshape", "broadcast_to", "expand_dims", "squeeze", "astype",
                      "asarray"))


class Constant:
    """Replay of a folded step: the array it made when the program was built (a NumPy array
    made read-only: every replay shares it, and nothing may write into it)."""

    __slots__ = ("value",)

    def __init__(self, value):
        import numpy as np

        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        self.value = value

    def __call__(self):
        return self.value

    def __repr__(self):
        return f"<constant {getattr(self.value, 'shape', ())}>"


class FreshConstant:
    """Replay of a folded step whose array a later step may write into or keep: a new copy of
    the array it made when the program was built, on every call."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __call__(self):
        return self.value.copy()

    def __repr__(self):
        return f"<fresh copy of {getattr(self.value, 'shape', ())}>"


def _namespace_function(step, names, xp):
    name = getattr(step.fn, "__name__", None)
    return name in names and getattr(xp, name, None) is step.fn


def fold_constants(program, escaping) -> tuple:
    """Fold the steps the module docstring describes in ``program.steps``; ``(shared, copied)``:
    how many became a ``Constant`` and how many a ``FreshConstant``."""
    import numpy as np

    xp, slots = program.be.xp, program.slots
    values, folded = {}, {}
    for k, step in enumerate(program.steps):
        if step.kind != "call" or type(step.outs) is not Ref or "out" in step.kwargs:
            continue
        refs = reads(step)
        seed = bool(step.args) and type(step.args[0]) is Ref and refs == (step.args[0].i,)
        if seed and _namespace_function(step, _SEEDS, xp):
            info = slots[refs[0]]
            if not isinstance(info.dtype, np.dtype) or info.dynamic is not None:
                continue
            stand_in = xp.empty(info.shape, dtype=info.dtype)
            value = step.fn(stand_in, *step.args[1:], **step.kwargs)
        elif not refs and _namespace_function(step, _MADE, xp):
            if slots[step.outs.i].dynamic is not None:
                continue
            value = step.fn(*step.args, **step.kwargs)
        elif refs and all(r in values for r in refs) and (
                _namespace_function(step, _SHAPING, xp)
                or (type(step.fn) is np.ufunc and step.fn.nout == 1)):
            real = lambda o: values[o.i] if type(o) is Ref else o      # noqa: E731
            value = step.fn(*map_leaves(real, step.args), **map_leaves(real, step.kwargs))
        else:
            continue
        values[step.outs.i] = value
        folded[k] = step
    if not folded:
        return 0, 0
    roots = {slots[s].root for s in values}
    roots_out = {slots[s].root for s in escaping} | {slots[s].root for _, s in program.writes}
    unsafe = roots & roots_out
    from .step_facts import _mutates

    for k, step in enumerate(program.steps):
        if k in folded:
            continue
        touched = {slots[s].root for s in reads(step)} & roots
        if touched and (step.kind != "call" or _mutates(step)):
            unsafe |= touched
    shared = copied = 0
    fresh_roots, replayed = set(), set()
    for k, step in folded.items():
        out = step.outs.i
        root = slots[out].root
        if any(slots[r].root in unsafe or r in replayed for r in reads(step)):
            replayed.add(out)      # what it reads may have been written by then: replayed
            continue
        if root not in unsafe:
            replay = Constant(values[out])
            shared += 1
        elif root not in fresh_roots:    # the array a later step writes into, made afresh
            fresh_roots.add(root)
            replay = FreshConstant(values[out])
            copied += 1
        else:                # one more array of that memory (a kernel's joined): as recorded
            replayed.add(out)
            continue
        program.steps[k] = type(step)(replay, (), {}, step.outs, "call")
    return shared, copied
