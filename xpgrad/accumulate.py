"""Sparse gradient contributions for the tape's first-order walk.

The gradient of ``x[key]`` is zero except at ``key``. Materializing it as a full array per
slice makes a loop over ``unstack(x)`` or ``x[:, t]`` quadratic in the number of slices, so on
a first-order walk ``getitem``'s rule returns a ``Scatter`` instead (TensorFlow's
``IndexedSlices`` plays this part), and the tape adds it into one accumulator that it owns:
zeros allocated once per input, each slice's values added in place.

>>> import numpy as np
>>> acc = np.zeros(4)
>>> Scatter((4,), (slice(1, 3),), np.ones(2), None).add_into(acc)
>>> acc.tolist()
[0.0, 1.0, 1.0, 0.0]
"""
from __future__ import annotations


def is_basic(key) -> bool:
    """Whether ``key`` (a tuple) is basic indexing: ints, slices, None and Ellipsis only.
    Basic keys select each element at most once, so ``acc[key] += v`` is exact."""
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice)) for k in key)


class Scatter:
    """``zeros(shape)`` with ``values`` added at ``key`` (repeated indices accumulate), kept
    unmaterialized until the tape adds it into an accumulator."""

    __slots__ = ("shape", "key", "values", "backend")

    def __init__(self, shape, key, values, backend):
        self.shape = shape
        self.key = key
        self.values = values
        self.backend = backend

    def add_into(self, acc) -> None:
        """``acc[key] += values`` in place."""
        if is_basic(self.key):
            acc[self.key] += self.values
        else:
            self.backend.index_add(acc, self.key, self.values)

    def dense(self, xp, dtype=None):
        """The full gradient as a new array (of ``values``' dtype unless ``dtype`` is given)."""
        out = xp.zeros(self.shape, dtype=self.values.dtype if dtype is None else dtype)
        self.add_into(out)
        return out
