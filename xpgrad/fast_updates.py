"""The common in-place update of a training loop, computed into the buffer as NumPy's own
``a -= u`` is: ``w.assign_sub(u)``, ``w -= u``, ``t *= 0.9``, ``w.data.add_(u, alpha=-lr)``
(``update_sole_buffer``; a view's own, ``view_writes.update_in_place``, calls it for ``t.data``).

It applies only where the general path (``variable.py``, ``inplace_operators.operate_in_place``,
``inplace.py``) would leave the same values in the same tensor and tell no one: no tape records
and no ``xg.function`` traces; the tensor holds a writable NumPy array that nothing but it and
its views sees (``inplace._exclusive``: a tape that saved the array for a gradient, a NumPy
array a user took, a slice kept, all make it copy as before); no live tape knows a plain
tensor's key; and ``other`` is a tensor of the same backend and dtype (of the same shape for
``assign``), or a Python number beside a floating-point tensor. Anything else returns False
having written nothing, and the caller takes its general path, with its errors.

>>> import numpy as np, xpgrad as xg
>>> w = xg.Variable([1.0, 2.0], name="w")
>>> where = w._data.__array_interface__["data"][0]
>>> _ = w.assign_sub(xg.asarray([0.5, 0.5]))    # float32, as w
>>> w._data.__array_interface__["data"][0] == where, w.tolist()
(True, [0.5, 1.5])
>>> taken = np.asarray(w)           # shares the buffer: the next update goes into a copy
>>> w -= 0.5
>>> taken.tolist(), w.tolist()
([0.5, 1.5], [0.0, 1.0])
"""
from __future__ import annotations

import numpy as _np

from .inplace import _exclusive
from .jit.trace_state import THREAD as _traces
from .primitive import tape_state
from .tape import known_to_tapes
from .tensor import Tensor, Variable
from .views import View

_ndarray = _np.ndarray

#: the spellings of an update (operator, PyTorch method, Variable method) and their ufuncs
UFUNCS = {"+": _np.add, "add_": _np.add, "assign_add": _np.add,
          "-": _np.subtract, "sub_": _np.subtract, "assign_sub": _np.subtract,
          "*": _np.multiply, "mul_": _np.multiply,
          "/": _np.true_divide, "div_": _np.true_divide}
_DIVIDES = ("/", "div_")
_FLOATS = ("f", "c")
_NUMBERS = ("i", "u", "f", "c")
#: the Python integers a float64 holds exactly (the primitive converts them as the ufunc does)
_EXACT = 2 ** 53


def operand(dtype, backend, op, other, alpha=1, shape=None):
    """``other`` (times ``alpha``) as the NumPy array or Python number the ufunc of ``op``
    takes into a NumPy buffer of ``dtype`` on ``backend``, or None where the general path must
    judge it. ``shape``: the one ``other`` must have (``assign``'s rule), if any."""
    kind = dtype.kind
    if other.__class__ is Tensor or other.__class__ is View:
        raw = other._data
        if other._backend is not backend or raw.__class__ is not _ndarray or \
                raw.dtype is not dtype or kind not in _NUMBERS or \
                (op in _DIVIDES and kind not in _FLOATS) or \
                (shape is not None and raw.shape != shape):
            return None
        if alpha.__class__ is int and alpha == 1:
            return raw
        if alpha.__class__ is float and kind in _FLOATS:
            return _np.multiply(raw, alpha)     # what ``alpha * other`` computes
        return None
    if shape is not None or alpha.__class__ is not int or alpha != 1 or kind not in _FLOATS:
        return None
    if other.__class__ is float or (other.__class__ is int and -_EXACT < other < _EXACT):
        return other
    return None


def update_sole_buffer(x, op, other, alpha=1, same_shape=False, held=0) -> bool:
    """``x op= alpha * other`` computed into ``x``'s buffer (module docstring), ``x`` a Tensor
    or Variable (not a view); False, having written nothing, where the general path must.
    ``same_shape``: ``other`` must have ``x``'s shape (``assign_sub``'s rule), not broadcast;
    ``held``: references to ``x``'s array the caller knows of (``inplace._exclusive``)."""
    if tape_state.recording or _traces.tracer is not None or x._data.__class__ is not _ndarray:
        return False
    ufunc = UFUNCS.get(op)
    if ufunc is None:
        return False
    value = operand(x._data.dtype, x._backend, op, other, alpha,
                    x._data.shape if same_shape else None)
    if value is None:
        return False
    if x._key and not isinstance(x, Variable):
        if known_to_tapes(x._key):
            return False
        x._key = 0                  # a key no live tape knows: x is only its value
    if not _exclusive(x, held):
        return False
    try:
        ufunc(x._data, value, out=x._data)
    except ValueError:              # a shape that does not broadcast: refused before any write
        return False
    return True


def copy_into_sole_buffer(v, value) -> bool:
    """``v.assign(value)`` as a copy into the Variable ``v``'s own buffer where ``value`` is a
    tensor of its backend, dtype and shape, both row-major NumPy arrays, and nothing else sees
    the buffer (``update_sole_buffer``'s conditions); False, having written nothing, else."""
    if tape_state.recording or _traces.tracer is not None or v._data.__class__ is not _ndarray:
        return False
    raw = operand(v._data.dtype, v._backend, "=", value, shape=v._data.shape)
    if raw is None or not (raw.flags.c_contiguous and v._data.flags.c_contiguous):
        return False
    if not _exclusive(v):
        return False
    v._data[...] = raw
    return True


from . import inplace_operators as _inplace_operators  # noqa: E402
from . import variable as _variable_module  # noqa: E402

_variable_module.copy_into_sole_buffer = copy_into_sole_buffer
_variable_module.update_sole_buffer = _inplace_operators._update_sole_buffer = \
    update_sole_buffer

__all__ = ["UFUNCS", "copy_into_sole_buffer", "update_sole_buffer"]
