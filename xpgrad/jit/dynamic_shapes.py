"""Values whose shape depends on other values: a boolean mask's selection, ``nonzero``,
``unique``... A program replays them with whatever shape each call gives.

While tracing, a slot is *dynamic* when the call making it selects by value (``value_shaped``)
or reads a dynamic slot (its shape may follow: ``x[mask] * 3``, conservatively also a sum over
one axis). A program gives a dynamic slot no buffer planned once (``out=``), folds no constant
from its shape and fuses no loop over it. Where Python reads a dynamic slot's shape (``.shape``,
``.size``, ``len()``) the number may become part of the program -- a ``broadcast_to`` target, a
mean's divisor, a branch -- so the trace records a ``ShapeGuard``: a replay whose shape there
differs from the traced one stops (``GuardFailed``), and the call takes the program traced for
that shape, a signature of its own (``shape_variant_key``; ``Function._dispatch``).

>>> import numpy as np
>>> guard = ShapeGuard((2,), "x[mask]", "step.py:3")
>>> guard(np.zeros(2)) is None
True
>>> try:
...     guard(np.zeros(3))
... except Exception as e:
...     print(type(e).__name__)
GuardFailed
"""
from __future__ import annotations

import operator

import numpy as np

from .errors import user_line
from .replay_steps import GuardFailed
from .traced import Traced

#: array functions (and methods) whose result's shape depends on the values of their inputs
VALUE_SHAPED = frozenset((
    "nonzero", "argwhere", "flatnonzero", "extract", "compress", "trim_zeros", "unique",
    "unique_values", "unique_counts", "unique_inverse", "unique_all", "setdiff1d",
    "intersect1d", "union1d", "setxor1d", "delete"))


def value_shaped(fn, args, kwargs, is_traced) -> bool:
    """Whether the call ``fn(*args, **kwargs)`` (its arguments as the tracer got them:
    ``is_traced(o)`` tells a traced array) makes an array whose shape depends on values.

    >>> import numpy as np
    >>> traced = lambda o: isinstance(o, np.ndarray)
    >>> x, mask = np.arange(3.0), np.array([True, False, True])
    >>> value_shaped(operator.getitem, (x, mask), {}, traced), value_shaped(
    ...     operator.getitem, (x, np.array([0, 2])), {}, traced)
    (True, False)
    >>> value_shaped(np.where, (mask,), {}, traced), value_shaped(np.where, (mask, x, x), {},
    ...                                                            traced)
    (True, False)
    """
    if fn is operator.getitem:
        key = args[1]
        keys = key if type(key) is tuple else (key,)
        return any(is_traced(k) and k.dtype == bool for k in keys)
    name = getattr(fn, "name", None) if type(fn).__name__ == "Method" else \
        getattr(fn, "__name__", None)
    if name in VALUE_SHAPED:
        return True
    if name == "where":               # where(condition): nonzero's indices
        return len(args) + len(kwargs) == 1
    if name == "repeat":              # repeat(a, counts) / a.repeat(counts): counts by value
        counts = args[1] if len(args) > 1 else kwargs.get("repeats")
        return is_traced(counts) and counts.ndim > 0
    return False


def shape_origin(slots, fn, args, kwargs, found):
    """While tracing ``fn(*args, **kwargs)`` on the traced arrays ``found`` (slot infos in
    ``slots``): where its results' shape depends on values, what made it (the operation and
    the user's line, or what made a dynamic input), else None."""
    for t in found:
        origin = slots[t._slot].dynamic
        if origin is not None:
            return origin
    if type(fn) is np.ufunc:          # its result's shape: its operands' broadcast
        return None
    if value_shaped(fn, args, kwargs, lambda o: type(o) is Traced):
        name = getattr(fn, "name", None) or getattr(fn, "__name__", None) or repr(fn)
        name = "x[boolean mask]" if name == "getitem" else name
        return f"{name} (at {user_line()})"
    return None


def guard_shape_read(tracer, i):
    """Python read the shape of ``tracer``'s dynamic slot ``i``: the program checks on every
    replay that it is the shape read now (a ``ShapeGuard``, one per slot)."""
    from .program_steps import Ref, Step

    if i in tracer._shape_guarded or not tracer.active:
        return
    tracer._shape_guarded.add(i)
    info = tracer.slots[i]
    guard = ShapeGuard(info.shape, info.dynamic, user_line())
    tracer.steps.append(Step(guard, (Ref(i),), {}, None, "guard"))


class _ShapeVariant:
    """The first item of a shape variant's cache key (``shape_variant_key``)."""

    def __repr__(self):
        return "<shape variant>"


_SHAPE_VARIANT = _ShapeVariant()


def shape_variant_key(key, guard, shape):
    """The cache key of the program traced for a call whose replay of the program under
    ``key`` found ``shape`` at ``guard``: a signature of its own, found through that one."""
    return (_SHAPE_VARIANT, key, guard, shape)


def is_variant_of(key, parent) -> bool:
    """Whether the program under ``key`` is a shape variant of ``parent``'s, at any depth.

    >>> guard = ShapeGuard((2,), "x[boolean mask]", None)
    >>> child = shape_variant_key(("numpy", (4,)), guard, (3,))
    >>> is_variant_of(shape_variant_key(child, guard, (1,)), ("numpy", (4,)))
    True
    """
    while type(key) is tuple and len(key) == 4 and key[0] is _SHAPE_VARIANT:
        key = key[1]
        if key == parent:
            return True
    return False


class ShapeGuard:
    """Replay: the array must have the shape the trace saw where Python read it (``what``, at
    ``line``); another shape fails the replay (the call takes that shape's own program)."""

    widens = False

    def __init__(self, shape, what, line):
        self.shape, self.what, self.line = tuple(shape), what, line

    def __call__(self, a):
        if a.shape != self.shape:
            raise GuardFailed(self, a.shape, a.shape)

    def widen(self, lo, hi):
        """A shape read is a value of the program: never widened."""

    def __repr__(self):
        return f"<ShapeGuard {self.shape} of {self.what} at {self.line}>"
