"""The array API's data-type functions: ``finfo``, ``iinfo``, ``result_type``, ``can_cast``.

Promotion is the backend's: ``result_type`` asks the backend of its tensor arguments (else the
backend an ``xg.function`` is tracing, else the current backend) what its arithmetic would
give, so the answer is always what xpgrad computes there (NumPy's and CuPy's rules; the
standard's table where it has an entry).

>>> import xpgrad as xg
>>> xg.result_type(xg.int8, xg.uint8), xg.can_cast(xg.int64, xg.int8)
(xpgrad.int16, False)
>>> xg.finfo(xg.float32).eps == 2.0 ** -23, xg.iinfo(xg.uint8).max
(True, 255)
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from . import dtypes as _dt
from .backend import current_backend
from .tensor import Tensor


@dataclass(frozen=True)
class finfo_object:
    """Machine limits of a floating dtype (for a complex dtype, of its real components)."""

    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: _dt.DType


@dataclass(frozen=True)
class iinfo_object:
    """Limits of an integer dtype."""

    bits: int
    max: int
    min: int
    dtype: _dt.DType


def _backend_of(args):
    """The backend of the first Tensor in ``args``; with none, the backend an ``xg.function``
    traces now in this thread (its program runs there, and another backend's namespace is
    closed to it), else the current backend."""
    for a in args:
        if isinstance(a, Tensor):
            return a._backend
    capture = sys.modules.get("xpgrad.jit.capture")     # not imported: nothing is traced
    tracer = capture.current_tracer() if capture is not None else None
    if tracer is not None and not tracer.paused:
        return tracer.be
    return current_backend()


def _dtype_of(obj) -> _dt.DType:
    return obj.dtype if isinstance(obj, Tensor) else _dt.as_dtype(obj)


def finfo(type, /) -> finfo_object:
    """Limits of a floating dtype (or of a tensor's dtype).

    >>> import xpgrad as xg
    >>> xg.finfo(xg.float64).bits, xg.finfo(xg.complex64).dtype
    (64, xpgrad.float32)
    """
    d = _dtype_of(type)
    if not d.is_inexact:
        raise TypeError(f"finfo takes a floating dtype, got {d}; use iinfo for integers")
    be = _backend_of((type,))
    info = be.xp.finfo(be.native_dtype(d))
    real = _dt.float32 if d in (_dt.float32, _dt.complex64) else _dt.float64
    return finfo_object(int(info.bits), float(info.eps), float(info.max), float(info.min),
                        float(info.smallest_normal), real)


def iinfo(type, /) -> iinfo_object:
    """Limits of an integer dtype (or of a tensor's dtype).

    >>> import xpgrad as xg
    >>> xg.iinfo(xg.int8).min, xg.iinfo(xg.int8).max
    (-128, 127)
    """
    d = _dtype_of(type)
    if d.kind not in "iu":
        raise TypeError(f"iinfo takes an integer dtype, got {d}; use finfo for floating dtypes")
    bits = 8 * d.itemsize
    lo, hi = (0, 2**bits - 1) if d.kind == "u" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return iinfo_object(bits, hi, lo, d)


def result_type(*arrays_and_dtypes):
    """The dtype that an operation on all the arguments (tensors, dtypes, Python scalars)
    gives on their backend.

    >>> import xpgrad as xg
    >>> xg.result_type(xg.float32, xg.complex128), xg.result_type(xg.ones(2), 1.5)
    (xpgrad.complex128, xpgrad.float32)
    """
    if not arrays_and_dtypes:
        raise ValueError("result_type needs at least one tensor or dtype")
    be = _backend_of(arrays_and_dtypes)
    natives = []
    for a in arrays_and_dtypes:
        if isinstance(a, Tensor):
            natives.append(a._data.dtype)
        elif isinstance(a, (bool, int, float, complex)):
            natives.append(a)
        else:
            natives.append(be.native_dtype(_dt.as_dtype(a)))
    if all(isinstance(a, (bool, int, float, complex)) for a in natives):
        raise ValueError("result_type needs at least one tensor or dtype besides Python scalars")
    natives = _inexact_scalars_as_default(be, natives)
    try:
        return be.xg_dtype(be.xp.result_type(*natives))
    except TypeError as e:
        raise TypeError(f"no common dtype for {', '.join(map(str, arrays_and_dtypes))}: {e}") \
            from None


def _inexact_scalars_as_default(be, natives):
    """``natives`` with its Python floats (complexes) as float32 (complex64) and its integer
    and bool dtypes left out, where every dtype there is an integer or bool one: what
    ``int_tensor * 0.5`` gives (as PyTorch); else ``natives``."""
    xp = be.xp
    typed = [a for a in natives if not isinstance(a, (bool, int, float, complex))]
    kinds = {type(a) for a in natives} & {float, complex}
    if not kinds or any(xp.isdtype(t, ("real floating", "complex floating")) for t in typed):
        return natives
    return [xp.complex64 if complex in kinds else xp.float32]


def can_cast(from_, to, /) -> bool:
    """Whether ``from_`` (a dtype or tensor) casts to ``to`` under the promotion rules.

    >>> import xpgrad as xg
    >>> xg.can_cast(xg.int8, xg.int64), xg.can_cast(xg.float64, xg.float32)
    (True, False)
    """
    be = _backend_of((from_,))
    return bool(be.xp.can_cast(be.native_dtype(_dtype_of(from_)),
                               be.native_dtype(_dt.as_dtype(to))))


__all__ = ["finfo", "iinfo", "result_type", "can_cast"]
