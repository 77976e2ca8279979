"""What a parameter or a value must satisfy (``torch.distributions.constraints``' checks), tested
on the host's NumPy values when a distribution validates its arguments.

A constraint's ``check(a)`` takes a NumPy array and returns a boolean array: one flag per
element (``event_dim=0``) or per vector / matrix (``event_dim`` 1 or 2: the last axes reduced).
``require`` raises the ValueError that names the argument.

>>> import numpy as np
>>> positive.check(np.array([1.0, 0.0])).tolist()
[True, False]
>>> require("Normal", "scale", positive, np.array([1.0, -2.0]))
Traceback (most recent call last):
...
ValueError: Normal: scale must be > 0, got invalid values [-2.0]
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Constraint:
    """A named test of values; ``event_dim`` axes at the right form one event."""

    def __init__(self, text, test, event_dim=0):
        self.text, self._test, self.event_dim = text, test, event_dim

    def check(self, a):
        with np.errstate(all="ignore"):
            return np.asarray(self._test(np.asarray(a)))

    def __repr__(self):
        return self.text


def _simplex(a):
    return np.all(a >= 0, axis=-1) & (np.abs(a.sum(-1) - 1) < 1e-6)


def _lower_cholesky(a):
    lower = np.all(np.tril(a) == a, axis=(-2, -1))
    return lower & np.all(np.diagonal(a, axis1=-2, axis2=-1) > 0, axis=-1)


def _positive_definite(a):
    symmetric = np.all(np.isclose(a, np.swapaxes(a, -1, -2), atol=1e-6), axis=(-2, -1))
    if not np.all(np.isfinite(a)):
        return symmetric & np.all(np.isfinite(a), axis=(-2, -1))
    eig = np.linalg.eigvalsh(np.asarray(a, dtype=np.float64))
    return symmetric & np.all(eig > 0, axis=-1)


real = Constraint("real (not NaN)", lambda a: a == a)
real_vector = Constraint("a vector of reals (not NaN)", lambda a: np.all(a == a, axis=-1), 1)
positive = Constraint("> 0", lambda a: a > 0)
nonnegative = Constraint(">= 0", lambda a: a >= 0)
unit_interval = Constraint("in [0, 1]", lambda a: (a >= 0) & (a <= 1))
unit_interval.lower_bound, unit_interval.upper_bound = 0.0, 1.0
boolean = Constraint("0 or 1", lambda a: (a == 0) | (a == 1))
simplex = Constraint("probabilities along the last axis (>= 0, summing to 1 within 1e-6)",
                     _simplex, 1)
unnormalized_simplex = Constraint(
    "probabilities along the last axis (>= 0, with a positive finite sum)",
    lambda a: np.all(a >= 0, axis=-1) & (a.sum(-1) > 0) & np.isfinite(a.sum(-1)), 1)
lower_cholesky = Constraint("lower triangular with a positive diagonal", _lower_cholesky, 2)
positive_definite = Constraint("symmetric positive definite", _positive_definite, 2)
nonnegative_integer = Constraint("an integer >= 0", lambda a: (a == np.floor(a)) & (a >= 0))
one_hot = Constraint("one-hot along the last axis (0s and a single 1)",
                     lambda a: np.all((a == 0) | (a == 1), axis=-1) & (a.sum(-1) == 1), 1)


def interval(low, high):
    """Values in ``[low, high]`` (arrays broadcast against the value); ``lower_bound`` and
    ``upper_bound`` hold them, as PyTorch's."""
    constraint = Constraint("in [low, high]", lambda a: (a >= low) & (a <= high))
    constraint.lower_bound, constraint.upper_bound = low, high
    return constraint


def independent(constraint, reinterpreted_event_ndims):
    """``constraint`` checked over ``reinterpreted_event_ndims`` more axes at the right: an
    event holds when all its values do (PyTorch's ``constraints.independent``).

    >>> independent(positive, 1).check(np.array([[1.0, 2.0], [1.0, -1.0]])).tolist()
    [True, False]
    """
    n = reinterpreted_event_ndims
    if n == 0:
        return constraint

    def test(a):
        ok = constraint.check(a)
        return np.all(ok, axis=tuple(range(ok.ndim - n, ok.ndim)))

    return Constraint(f"{constraint} (over the last {constraint.event_dim + n} axes)", test,
                      constraint.event_dim + n)


def integer_interval(low, high):
    """Integers ``low, ..., high``."""
    return Constraint(f"an integer in [{low}, {high}]",
                      lambda a: (a == np.floor(a)) & (a >= low) & (a <= high))


def host(value):
    """``value``'s NumPy array to check, or None where its values are not to be read (an array
    on a GPU, or a stand-in traced by ``xg.function``), as ``xg.random``'s checks."""
    if isinstance(value, Tensor):
        raw = value._data
        return raw if isinstance(raw, np.ndarray) else None
    return None if value is None else np.asarray(value)


def require(who, name, constraint, value):
    """ValueError naming ``name`` (of ``who``) where ``value`` breaks ``constraint``."""
    a = host(value)
    if a is None or a.size == 0:
        return
    ok = constraint.check(a)
    if not bool(np.all(ok)):
        bad = a[~ok] if ok.shape == a.shape[:a.ndim - constraint.event_dim] else a
        shown = bad.tolist() if bad.size <= 8 else f"{bad.size} values, first {bad.flat[:4]}"
        raise ValueError(f"{who}: {name} must be {constraint}, got invalid values {shown}")
