"""Creating tensors: asarray, zeros, ones, full, empty, arange, linspace, eye, and ``*_like``.

Every function takes ``backend=`` (a name or Backend); without it the current backend is used
(see ``xpgrad.backend``). Python floats become float32, Python ints int64.

>>> import xpgrad as xg
>>> xg.asarray([1.0, 2.0]).dtype
xpgrad.float32
>>> xg.zeros((2, 3), backend="numpy").shape
(2, 3)
"""
from __future__ import annotations

from . import dtypes as _dt
from .backend import current_backend, get_backend
from .tensor import Tensor, _wrap


def _backend(backend):
    return current_backend() if backend is None else get_backend(backend)


def _native(be, dtype):
    return None if dtype is None else be.native_dtype(_dt.as_dtype(dtype))


def _checked(be, raw):
    be.xg_dtype(raw.dtype)  # raises TypeError for dtypes xpgrad does not support
    return _wrap(raw, be)


def asarray(obj, /, *, dtype=None, backend=None, copy=None) -> Tensor:
    """A Tensor from a Tensor, a backend array, a scalar or nested lists.

    A Tensor on another backend is moved only when ``backend=`` asks for it explicitly.

    >>> asarray([[1, 2]], dtype="float64").dtype
    xpgrad.float64
    """
    if isinstance(obj, Tensor):
        t = obj if backend is None else obj.to(backend)
        if dtype is not None and t.dtype != _dt.as_dtype(dtype):
            return _wrap(t._backend.xp.astype(t._data, _native(t._backend, dtype)), t._backend)
        if copy:
            return _wrap(t._backend.xp.asarray(t._data, copy=True), t._backend)
        return t
    be = _backend(backend)
    if dtype is not None:
        raw = be.asarray(obj, dtype=_native(be, dtype))
    else:
        raw = be.asarray(obj)
        if not hasattr(obj, "dtype") and raw.dtype == be.native_dtype(_dt.float64):
            raw = be.xp.astype(raw, be.native_dtype(_dt.float32))
    if copy and raw is obj:
        raw = be.xp.asarray(raw, copy=True)
    return _checked(be, raw)


def _shape(shape):
    if isinstance(shape, int):
        return (shape,)
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"shape must be an int or a sequence of ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"shape must not have negative entries, got {shape}")
    return shape


def zeros(shape, *, dtype=_dt.float32, backend=None) -> Tensor:
    """A tensor of zeros. ``zeros((2, 3))``"""
    be = _backend(backend)
    return _wrap(be.xp.zeros(_shape(shape), dtype=_native(be, dtype)), be)


def ones(shape, *, dtype=_dt.float32, backend=None) -> Tensor:
    """A tensor of ones. ``ones(4)``"""
    be = _backend(backend)
    return _wrap(be.xp.ones(_shape(shape), dtype=_native(be, dtype)), be)


def full(shape, fill_value, *, dtype=None, backend=None) -> Tensor:
    """A tensor filled with ``fill_value`` (float32 for a float, int64 for an int)."""
    be = _backend(backend)
    if dtype is None:
        dtype = _dt.bool_ if isinstance(fill_value, bool) else (
            _dt.int64 if isinstance(fill_value, int) else _dt.float32)
    return _wrap(be.xp.full(_shape(shape), fill_value, dtype=_native(be, dtype)), be)


def empty(shape, *, dtype=_dt.float32, backend=None) -> Tensor:
    """An uninitialized tensor."""
    be = _backend(backend)
    return _wrap(be.xp.empty(_shape(shape), dtype=_native(be, dtype)), be)


def arange(start, /, stop=None, step=1, *, dtype=None, backend=None) -> Tensor:
    """``arange(5)``, ``arange(0.0, 1.0, 0.25)``: int64 for int arguments, else float32."""
    be = _backend(backend)
    if dtype is None:
        ints = all(isinstance(v, int) for v in (start, stop, step) if v is not None)
        dtype = _dt.int64 if ints else _dt.float32
    return _wrap(be.xp.arange(start, stop, step, dtype=_native(be, dtype)), be)


def linspace(start, stop, /, num, *, dtype=_dt.float32, endpoint=True, backend=None) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop``."""
    be = _backend(backend)
    return _wrap(be.xp.linspace(start, stop, num, dtype=_native(be, dtype),
                                endpoint=endpoint), be)


def eye(n_rows, n_cols=None, /, *, k=0, dtype=_dt.float32, backend=None) -> Tensor:
    """The identity matrix (ones on diagonal ``k``)."""
    be = _backend(backend)
    return _wrap(be.xp.eye(n_rows, n_cols, k=k, dtype=_native(be, dtype)), be)


def _like(fn, x, dtype, **kw):
    x = x if isinstance(x, Tensor) else asarray(x)
    be = x._backend
    native = x._data.dtype if dtype is None else _native(be, dtype)
    return _wrap(fn(be.xp)(x._data.shape, dtype=native, **kw), be)


def zeros_like(x, /, *, dtype=None) -> Tensor:
    """Zeros with the shape, dtype and backend of ``x``."""
    return _like(lambda xp: xp.zeros, x, dtype)


def ones_like(x, /, *, dtype=None) -> Tensor:
    """Ones with the shape, dtype and backend of ``x``."""
    return _like(lambda xp: xp.ones, x, dtype)


def empty_like(x, /, *, dtype=None) -> Tensor:
    """Uninitialized, with the shape, dtype and backend of ``x``."""
    return _like(lambda xp: xp.empty, x, dtype)


def full_like(x, /, fill_value, *, dtype=None) -> Tensor:
    """``fill_value`` everywhere, with the shape, dtype and backend of ``x``."""
    return _like(lambda xp: (lambda shape, dtype: xp.full(shape, fill_value, dtype=dtype)),
                 x, dtype)
