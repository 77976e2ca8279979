"""The dtype handling the elementwise rules share: conjugation that makes no pass over real
data, integers and booleans computed in float32 where a function is defined on floating point
only, and booleans refused where NumPy would round them to float16. Real and floating dtypes
seen are remembered by id, so the common path costs one dict lookup.

>>> import numpy as np
>>> _conj(np, np.array([1 + 2j])).tolist(), str(_inexact(np, np.array([1])).dtype)
([(1-2j)], 'float32')
"""
from __future__ import annotations


def _numeric(x, who):
    """``x``, refused when boolean (NumPy rounds a bool array to float16, which xpgrad lacks)."""
    if getattr(getattr(x, "dtype", None), "kind", None) == "b":
        raise TypeError(f"{who}: x must have a numeric dtype, got bool")
    return x


# Dtypes seen to be real (``_REAL``) or floating (``_FLOATING``), by id, so the checks below
# cost one dict lookup on the common path (the core imports no NumPy to list them up front).
# The dicts hold the dtypes, so an id is never reused; by id, as other libraries' dtype objects
# (array_api_strict's) warn when compared with NumPy's; bounded, as a program meets few dtypes
_REAL: dict = {}
_FLOATING: dict = {}
_SEEN_BOUND = 64


def _remember(seen, dt):
    if len(seen) < _SEEN_BOUND:
        seen[id(dt)] = dt


def _conj(xp, a):
    """``conj(a)`` for a complex ``a``; a real ``a`` itself (no pass over real data).

    >>> import numpy as np
    >>> _conj(np, np.array([1 + 2j])).tolist(), _conj(np, np.array([1.5])).tolist()
    ([(1-2j)], [1.5])
    """
    if a.__class__ is float:          # a Python constant (getattr's miss below costs 0.1 us)
        return a
    dt = getattr(a, "dtype", None)
    if dt is None:
        return a.conjugate() if type(a) is complex else a
    if id(dt) in _REAL:
        return a
    kind = getattr(dt, "kind", None)
    if kind == "c" or (kind is None and xp.isdtype(dt, "complex floating")):
        return xp.conj(a)
    if kind is not None:
        _remember(_REAL, dt)
    return a


def _inexact(xp, x):
    """``x`` when it is floating point (real or complex); integers and booleans in float32.

    >>> import numpy as np
    >>> str(_inexact(np, np.array([1])).dtype), str(_inexact(np, np.array([1.0])).dtype)
    ('float32', 'float64')
    """
    dt = getattr(x, "dtype", None)
    if dt is None:                        # a Python scalar next to an array
        return x
    if id(dt) in _FLOATING:
        return x
    kind = getattr(dt, "kind", None)
    if kind == "f" or kind == "c":
        _remember(_FLOATING, dt)
        return x
    if kind is None and xp.isdtype(dt, ("real floating", "complex floating")):
        return x
    return xp.astype(x, xp.float32)


def _alike(xp, x, y):
    """``x`` and ``y`` in one dtype where they are floats of two precisions: a rule that squares
    or takes the log of a float32 operand next to a float64 one would give the float64
    operand a gradient rounded to float32's precision (as PyTorch, it computes in the result's
    dtype). Python scalars, equal dtypes and integers are left as they are.

    >>> import numpy as np
    >>> [str(a.dtype) for a in _alike(np, np.float32([1.0]), np.float64([2.0]))]
    ['float64', 'float64']
    """
    dx, dy = getattr(x, "dtype", None), getattr(y, "dtype", None)
    if dx is None or dy is None or dx == dy or getattr(dx, "kind", None) not in ("f", "c") \
            or getattr(dy, "kind", None) not in ("f", "c"):
        return x, y
    common = xp.result_type(dx, dy)
    return xp.astype(x, common), xp.astype(y, common)
