"""The host backends' array namespace: ``array_api_compat.numpy``, with a branch-free ``where``,
faster single-precision transforms in ``fft`` (``fft_namespace.py``), ``tril`` and ``triu`` by a
cached mask (``triangle_masks.py``), ``take_along_axis`` by raveled positions
(``take_along.py``) (and, outside the
standard, ``sum_axes``: the tape's unbroadcasting sum, ``../axis_sums.py``, so a traced step
replays the sum an eager one runs).

NumPy's ``where`` picks each element with a branch, so on a data-dependent condition (``x >= 0``
on random values) it mispredicts about every other element: 125 us for 128x256 float32 against
15 us for a condition that is all True, and 4.5 ms for 4096x256 (NumPy 2.4, an Intel Xeon). The
generic rules use ``where`` for stable formulas and limits (sigmoid, elu, gelu, the gradients of
``maximum`` and ``clip``, ...), so on the NumPy backend it was most of their time. This
namespace selects float32/float64 elements by their bits instead, ``b ^ ((a ^ b) & mask)`` with
``mask`` all ones where the condition holds: 20 us for the same 128x256, and the same bits as
NumPy's ``where`` (NaN payloads and signed zeros included). A condition that holds nowhere (a
guard against infinities, nearly always) or everywhere copies one side (7 us); one that holds
almost nowhere or almost everywhere (``MIN_MINORITY``) is NumPy's ``where``, whose branches then
predict well, as are other dtypes, small arrays and anything but a boolean array condition.
Where one side is the number 0 (a gradient masked, ``where(nan, 0.0, x)``), the other side's
bits are and-ed with the mask alone, two passes instead of four (256x256 float32 with 30% True:
27 -> 16 us): +0.0 is all zero bits.

>>> import numpy as np
>>> where(np.array([True, False] * 600), np.float32(1.5), -np.ones(1200, np.float32))[:4].tolist()
[1.5, -1.0, 1.5, -1.0]
>>> where(np.array([True, False] * 600), 0.0, -np.ones(1200, np.float32))[:4].tolist()
[0.0, -1.0, 0.0, -1.0]
"""
from __future__ import annotations

import math

import array_api_compat.numpy as _compat
import numpy as np

from ..axis_sums import sum_axes  # noqa: F401 (the tape's, by name: gradient_fit)
from . import fft_namespace as fft  # noqa: F401 (single-precision transforms: its docstring)
from .take_along import take_along_axis  # noqa: F401 (by raveled positions: its docstring)
from .triangle_masks import tril, triu  # noqa: F401 (by a cached mask: their docstring)

_MODULE_ATTRIBUTES = {"__name__", "__file__", "__spec__", "__loader__", "__package__",
                      "__path__", "__doc__", "__builtins__", "__cached__", "where", "fft",
                      "tril", "triu", "take_along_axis"}
# (this shadows builtins of the same names here: min, max, abs, sum, all, any, round, pow)
globals().update({name: getattr(_compat, name) for name in dir(_compat)
                  if name not in _MODULE_ATTRIBUTES})

#: below this many elements NumPy's where is as fast (its branches cost little next to the
#: four passes of the bit select)
MIN_SIZE = 1024

#: the bits are selected when at least this fraction of the condition is True and of it False;
#: below, NumPy's branches mostly predict right (128x256 float32 with 2% True: 22 us either
#: way; 4096x256 with 5%: 0.95 ms by NumPy, 1.3 by the four passes)
MIN_MINORITY = 0.05

# float dtype -> the signed integer of its width (the mask's and the bits' dtype)
_BITS = {np.dtype(np.float32): np.dtype(np.int32), np.dtype(np.float64): np.dtype(np.int64)}
_np_where, _count_nonzero = np.where, np.count_nonzero
_ndarray, _bool = np.ndarray, np.dtype(np.bool_)
_PYTHON_NUMBERS = (float, int)


def where(condition, x1, x2, /):
    """``x1`` where ``condition`` holds, else ``x2`` (NumPy's ``where``; see the module
    docstring for how float arrays are selected)."""
    if condition.__class__ is not _ndarray or condition.dtype is not _bool:
        return _np_where(condition, x1, x2)
    size = condition.size
    if size < MIN_SIZE:
        return _np_where(condition, x1, x2)
    true = _count_nonzero(condition)
    if 0 < true < size and (true < MIN_MINORITY * size or size - true < MIN_MINORITY * size):
        return _np_where(condition, x1, x2)       # one side is rare: the branches predict well
    dtype = _float_dtype(x1, x2)
    if dtype is None:
        return _np_where(condition, x1, x2)
    shape = condition.shape
    for x in (x1, x2):
        if x.__class__ is _ndarray and x.shape != shape:
            try:
                shape = np.broadcast_shapes(condition.shape, np.shape(x1), np.shape(x2))
            except ValueError:
                return _np_where(condition, x1, x2)       # NumPy's own error
            break
    if true == 0:                                 # limits and guards: nearly always
        return _filled(shape, dtype, x2)
    if true == size:
        return _filled(shape, dtype, x1)
    bits = _BITS[dtype]
    for zero, other, keep in ((x1, x2, _where_false), (x2, x1, _where_true)):
        if zero.__class__ in _PYTHON_NUMBERS and zero == 0 and math.copysign(1.0, zero) > 0:
            out = np.empty(shape, bits)           # all ones where ``other`` is kept, else 0
            keep(condition.view(np.int8), out)
            np.bitwise_and(out, np.asarray(other).view(bits), out=out)
            return out.view(dtype)
    a = np.asarray(x1, dtype).view(bits)          # a Python number: 0-d, of x2's dtype
    b = np.asarray(x2, dtype).view(bits)
    mask = np.negative(condition.view(np.int8), dtype=bits)      # -1 (all ones) or 0
    out = np.empty(shape, bits)
    np.bitwise_xor(a, b, out=out)
    np.bitwise_and(out, mask, out=out)
    np.bitwise_xor(out, b, out=out)
    return out.view(dtype)


def _where_false(flags, out):
    """``out`` (integers) all ones where the 0/1 ``flags`` are 0, else 0."""
    np.subtract(flags, 1, out=out, dtype=out.dtype)


def _where_true(flags, out):
    """``out`` (integers) all ones where the 0/1 ``flags`` are 1, else 0."""
    np.negative(flags, out=out, dtype=out.dtype)


def _filled(shape, dtype, x):
    """A new array of ``shape`` and ``dtype`` holding ``x`` (broadcast)."""
    out = np.empty(shape, dtype)
    out[...] = x
    return out


def _float_dtype(x1, x2):
    """The float32/float64 dtype of the result when both operands are arrays of it, or one is
    and the other a Python int or float (NumPy 2's weak scalars keep the array's dtype); else
    None."""
    d1 = x1.dtype if x1.__class__ is _ndarray else None
    d2 = x2.dtype if x2.__class__ is _ndarray else None
    if d1 is None and d2 is None:
        return None
    if d1 is None:
        d1 = d2 if x1.__class__ in _PYTHON_NUMBERS else None
    elif d2 is None:
        d2 = d1 if x2.__class__ in _PYTHON_NUMBERS else None
    return d1 if d1 is not None and d1 == d2 and d1 in _BITS else None
