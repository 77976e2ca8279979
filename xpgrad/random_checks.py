"""The checks of ``xpgrad.random``'s draws: the shape a draw takes from ``size`` and its
parameters, and whether parameters are finite or past a bound (read where their values are on
the host; a tensor an ``xg.function`` trace computes is refused with what to do instead).

>>> import numpy as np
>>> _draw_shape("normal", None, np.zeros((2, 1)), 1.0), _below([0.5, -1.0], 0)
((2, 1), True)
"""
from __future__ import annotations

import numbers

import numpy as np

from .creation import _shape
from .tensor import Tensor, _wrap


def _shape_of(a) -> tuple:
    return tuple(a.shape) if isinstance(a, Tensor) else np.shape(a)


def _take(a, rows, backend):
    """The rows ``rows`` of ``a`` (a Tensor, or an array made one on ``backend``)."""
    from .ops.indexing import take

    if not isinstance(a, Tensor):
        a = _wrap(backend.asarray(np.asarray(a)), backend)
    return take(a, rows, axis=0)


def _draw_shape(who, size, *params):
    """The shape of a draw: ``size``, or the broadcast shape of the parameters (arrays,
    tensors, numbers; None: absent); ValueError where they do not broadcast to ``size``, as
    NumPy's Generator refuses."""
    shapes = [_shape_of(p) for p in params if p is not None]
    try:
        broadcast = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{who}: the parameters' shapes {shapes} do not broadcast together") \
            from None
    if size is None:
        return broadcast
    try:
        size = _shape(size)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{who}: size: {e}") from None
    try:
        fits = np.broadcast_shapes(size, broadcast) == size
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{who}: size {size} does not fit the parameters' broadcast shape "
                         f"{broadcast}")
    return size


def _raw_bound(value):
    """An integer bound as NumPy's ``integers`` takes it: a tensor's array on the host."""
    return np.asarray(_host_values(value, _INTEGERS_BOUND_TRACED)) \
        if isinstance(value, Tensor) else value


#: ``choice(p=tensor)`` where the tensor is computed inside an ``xg.function`` trace
_CHOICE_P_TRACED = (
    "choice(..., p=tensor) inside an xg.function samples with probabilities that the traced "
    "function computes: NumPy's Generator.choice needs their values in Python, which a replay "
    "cannot repeat. Sample in xpgrad ops instead (inverse CDF: c = xg.cumulative_sum(p); "
    "i = xg.searchsorted(c, rng.random(size=n, dtype=c.dtype) * c[-1])), pass p as a NumPy "
    "array or a tensor made outside the function (its values then stay fixed for every "
    "replay), or call the function without xg.function")
#: ``integers(low, high)`` with a bound computed inside an ``xg.function`` trace
_INTEGERS_BOUND_TRACED = (
    "integers(low, high) inside an xg.function with a bound that the traced function "
    "computes: NumPy's Generator.integers needs its value in Python, which a replay cannot "
    "repeat. Give the bounds as Python numbers or tensors made outside the function, draw "
    "in xpgrad ops (xg.floor(rng.random(size=n) * (high - low)) + low), or call the "
    "function without xg.function")


def _host_values(t, under_trace):
    """``t.numpy()``; where ``t`` is a value the running ``xg.function`` trace computes (it
    has no value a replay could read), a TraceError saying ``under_trace``: what the user did,
    not the ``.numpy()`` they never called."""
    from .jit.errors import TraceError, user_line
    from .jit.traced import Traced

    raw = t._data
    if type(raw) is Traced and raw._tracer.active:
        raise TraceError(under_trace, user_line())
    return t.numpy()


def _values(value):
    """``value`` as a NumPy array to check, or None where its values are not to be read: None,
    or a tensor not in host memory (a GPU array: reading it waits for the device) or being
    traced by xg.function (no values yet)."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        raw = value._data
        return raw if isinstance(raw, np.ndarray) else None
    return np.asarray(value)


def _finite(value) -> bool:
    """Whether a number or an array-like of numbers holds no infinity and no NaN (a tensor's
    where ``_values`` reads it)."""
    a = _values(value)
    return a is None or a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _difference(low, high):
    """``low - high`` where both are readable (``_values``; broadcast), else None."""
    a, b = _values(low), _values(high)
    if a is None or b is None:
        return None
    try:
        with np.errstate(all="ignore"):
            return np.subtract(a, b, dtype=np.float64)
    except (TypeError, ValueError):
        return None               # a shape or type error: the draw itself names it


def _below(value, limit) -> bool:
    """Whether a number or an array-like of numbers holds one below ``limit``, or a NaN."""
    return _beyond(value, limit, np.min, lambda a, b: not a >= b)


def _above(value, limit) -> bool:
    return _beyond(value, limit, np.max, lambda a, b: a > b)


def _beyond(value, limit, extreme, past) -> bool:
    if isinstance(value, numbers.Real):          # a Python int past int64 too
        return bool(past(value, limit))
    a = _values(value)
    if a is None or a.size == 0 or a.dtype.kind not in "iuf":
        return False
    if a.dtype.kind == "f" and np.isnan(a).any():
        return bool(past(np.nan, limit))
    return bool(past(extreme(a), limit))
