"""Values whose shape depends on other values: a boolean mask's selection, ``nonzero``,
``unique``... A program replays them with whatever shape each call gives.

While tracing, a slot is *dynamic* when the call making it selects by value (``value_shaped``)
or reads a dynamic slot (its shape may follow: ``x[mask] * 3``, conservatively also a sum over
one axis). A program gives a dynamic slot no buffer planned once (``out=``), folds no constant
from its shape and fuses no loop over it. Where Python reads a dynamic slot's shape (``.shape``,
``.size``, ``len()``) the number may become part of the program -- a ``broadcast_to`` target, a
mean's divisor, a branch -- so the trace records a ``ShapeGuard``: a replay whose shape there
differs from the traced one stops (``GuardFailed``) and the call runs eagerly instead.

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

from .replay_steps import GuardFailed

#: array functions (and methods) whose result's shape depends on the values of their inputs
VALUE_SHAPED = frozenset((
    "nonzero", "argwhere", "flatnonzero", "extract", "compress", "trim_zeros", "unique",
    "unique_values", "unique_counts", "unique_inverse", "unique_all", "setdiff1d",
    "intersect1d", "union1d", "setxor1d", "delete"))


def value_shaped(fn, args, kwargs, is_traced) -> bool:
    """Whether the call ``fn(*args, **kwargs)`` (its arguments as the tracer got them:
    ``is_traced(o)`` tells a traced array) makes an array whose shape depends on values."""
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
    """Whether the program under ``key`` is a shape variant of ``parent``'s, at any depth."""
    while type(key) is tuple and len(key) == 4 and key[0] is _SHAPE_VARIANT:
        key = key[1]
        if key == parent:
            return True
    return False


class ShapeGuard:
    """Replay: the array must have the shape the trace saw where Python read it (``what``, at
    ``line``); another shape fails the replay, and the call runs eagerly."""

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
