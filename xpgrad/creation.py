"""Creating tensors: zeros, ones, full, empty, arange, linspace, eye, and ``*_like``; the
tensors made from existing data (asarray, from_dlpack, to_device) are ``xpgrad.conversion``'s,
importable from here too.

Every function takes ``device=`` (an ``xg.Device`` or a backend's name) and ``backend=`` (a
name or Backend); without them the current backend is used (see ``xpgrad.backend``). Python
floats become float32, complex numbers complex64, ints int64.

>>> import xpgrad as xg
>>> xg.asarray([1.0, 2.0]).dtype
xpgrad.float32
>>> xg.zeros((2, 3), backend="numpy").shape
(2, 3)
"""
from __future__ import annotations

import contextlib
import math
import numbers
import operator

import numpy as np

from . import dtypes as _dt
from ._args import flag, refuse_keywords
from .conversion import (_backend, _check_copy, _native, _placed, asarray,  # noqa: F401
                         from_dlpack, named_asarray, to_device)
from .dtype_functions import result_type
from .tensor import Tensor, _check_leaving, _wrap


def _shape(shape, who=None):
    if not isinstance(shape, (tuple, list)):
        try:                    # an int, a NumPy integer or a 0-d integer tensor, as NumPy takes
            shape = (operator.index(shape),)
        except (TypeError, ValueError):
            pass
    try:
        shape = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{_owner(who)}shape must be an int or a sequence of ints, got "
                        f"{shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{_owner(who)}shape must not have negative entries, got {shape}")
    return shape


def _owner(who):
    return f"{who}: " if who else ""


def _make(fn, shape, dtype, device, backend, who):
    be, place = _placed(device, backend, who)
    with place:
        native = _native(be, _dt.float32 if dtype is None else dtype, f"{who}: dtype")
        raw = fn(be.xp)(_shape(shape, who), dtype=native)
    return _wrap(raw, be)


def _refused(owner, shape, extra, unexpected):
    """Refuse ``owner(2, 3)``: PyTorch's sizes as separate arguments (the array API's shape is
    one tuple), or NumPy's positional dtype; or a keyword it does not take (PyTorch's
    ``requires_grad=`` named)."""
    if unexpected:
        refuse_keywords(owner, unexpected)
    if all(isinstance(e, numbers.Integral) and not isinstance(e, bool) for e in extra):
        sizes = ", ".join(str(n) for n in (shape, *extra))
        raise TypeError(f"{owner}() takes the shape as one tuple, {owner}(({sizes})), where "
                        f"PyTorch's {owner}({sizes}) takes the sizes apart")
    raise TypeError(f"{owner}() takes 1 positional argument (shape) but {1 + len(extra)} were "
                    "given; dtype=, device= and backend= are keyword-only")


def zeros(shape, *extra, dtype=None, device=None, backend=None, **unexpected) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise). The shape is one tuple:

    >>> import xpgrad as xg
    >>> xg.zeros((2, 3)).shape
    (2, 3)
    """
    if extra or unexpected:
        _refused("zeros", shape, extra, unexpected)
    return _make(lambda xp: xp.zeros, shape, dtype, device, backend, "zeros")


def ones(shape, *extra, dtype=None, device=None, backend=None, **unexpected) -> Tensor:
    """A tensor of ones. ``ones(4)``, ``ones((2, 3))``"""
    if extra or unexpected:
        _refused("ones", shape, extra, unexpected)
    return _make(lambda xp: xp.ones, shape, dtype, device, backend, "ones")


def empty(shape, *extra, dtype=None, device=None, backend=None, **unexpected) -> Tensor:
    """An uninitialized tensor."""
    if extra or unexpected:
        _refused("empty", shape, extra, unexpected)
    return _make(lambda xp: xp.empty, shape, dtype, device, backend, "empty")


def _scalar_dtype(value):
    if isinstance(value, bool):
        return _dt.bool_
    if isinstance(value, int):
        return _dt.int64
    if isinstance(value, complex):
        return _dt.complex64
    return _dt.float32


def _fill(value, who):
    """``fill_value`` as a Python or NumPy number (a one-element Tensor's value)."""
    if isinstance(value, Tensor):
        value = value.item()
    elif isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not isinstance(value, (numbers.Number, np.bool_)):
        raise TypeError(f"{who}: fill_value must be a number, got {type(value).__name__} "
                        f"{value!r:.40}")
    return value


def _filled_with_tensor(shape, value, dtype, device, who) -> Tensor:
    """``value`` (a one-element Tensor) broadcast to ``shape``, through the tapes: its gradient
    is the sum of the filled tensor's, where a Python number taken from it would cut it off."""
    from .ops import broadcast_to, reshape

    if value.size != 1:
        raise ValueError(f"{who}: fill_value must be a number or a one-element tensor, got a "
                         f"tensor of shape {value.shape}")
    if device is not None:
        value = to_device(value, device)
    if dtype is not None and _dt.as_dtype(dtype, f"{who}: dtype") != value.dtype:
        value = value.astype(dtype)
    return broadcast_to(reshape(value, ()), shape)


def _count(value, name, who) -> int:
    """An int-like ``value`` >= 0 (a size, a number of rows or points)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        value = operator.index(value)     # ints, NumPy integers, 0-d integer tensors
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must be an integer, got {type(value).__name__} "
                        f"{value!r:.40}") from None
    if value < 0:
        raise ValueError(f"{who}: {name} must be >= 0, got {value}")
    return value


def full(shape, fill_value, *, dtype=None, device=None, backend=None, **unexpected) -> Tensor:
    """A tensor filled with ``fill_value`` (float32 for a float, int64 for an int, bool for a
    bool, complex64 for a complex). A one-element Tensor ``fill_value`` gives its own dtype
    (unless ``dtype`` says another) and is differentiated, as ``jnp.full``'s.

    >>> import xpgrad as xg
    >>> xg.grad(lambda v: xg.sum(xg.full((2, 3), v)))(xg.asarray(1.0)).item()
    6.0
    """
    if unexpected:
        refuse_keywords("full", unexpected)
    if isinstance(fill_value, Tensor):
        if backend is not None:
            fill_value = fill_value.to(backend)
        return _filled_with_tensor(_shape(shape, "full"), fill_value, dtype, device, "full")
    fill_value = _fill(fill_value, "full")
    dtype = _scalar_dtype(fill_value) if dtype is None else dtype
    return _make(lambda xp: (lambda shape, dtype: xp.full(shape, fill_value, dtype=dtype)),
                 shape, dtype, device, backend, "full")


def _bounds_from_tensors(fn, bounds: dict, dtype, device, backend):
    """``bounds`` with 0-d Tensors read as Python numbers (NumPy, PyTorch and array-api-strict
    take them too), and the ``dtype`` and ``device`` those tensors imply when not given: their
    dtype if inexact (``linspace(min(x), max(x), n)`` of float64 ``x`` is float64), their
    device. Refused while a recording tape differentiates one: the result would not depend
    on it."""
    tensors = [v for v in bounds.values() if isinstance(v, Tensor)]
    if not tensors:
        return bounds, dtype, device
    for name, value in bounds.items():
        if isinstance(value, Tensor):
            if value.ndim != 0:
                raise TypeError(f"{fn}: {name} must be a number or a 0-d tensor, got a tensor "
                                f"of shape {value.shape}")
            _check_leaving(value, f"{fn}({name}=tensor)")
    if dtype is None:
        implied = result_type(*(v for v in bounds.values() if v is not None))
        dtype = implied if implied.is_inexact else None
    if device is None and backend is None:
        device = tensors[0].device
    return ({name: value.item() if isinstance(value, Tensor) else value
             for name, value in bounds.items()}, dtype, device)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None, backend=None) -> Tensor:
    """``arange(5)``, ``arange(0.0, 1.0, 0.25)``: int64 for int arguments, else float32 (0-d
    tensors count as their numbers, of their dtype when floating).

    >>> arange(asarray(3.0, dtype="float64")).tolist(), arange(asarray(2)).dtype
    ([0.0, 1.0, 2.0], xpgrad.int64)
    """
    bounds, dtype, device = _bounds_from_tensors(
        "arange", {"start": start, "stop": stop, "step": step}, dtype, device, backend)
    start, stop, step = bounds.values()
    be, place = _placed(device, backend, "arange")
    for name, value in (("start", start), ("stop", stop), ("step", step)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"arange: {name} must be a finite real number, got {value!r:.40}")
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):
            raise ValueError(f"arange: {name} must be a finite real number, got {value!r:.40}")
    if step == 0:
        raise ValueError("arange: step must not be 0")
    if dtype is None:
        ints = all(isinstance(v, int) for v in (start, stop, step) if v is not None)
        dtype = _dt.int64 if ints else _dt.float32
    dtype = _dt.as_dtype(dtype, "arange: dtype")
    with place:
        if dtype == _dt.float32:      # each value rounded once, not float32 steps added up
            wide = be.xp.arange(start, stop, step, dtype=_native(be, _dt.float64))
            return _wrap(be.xp.astype(wide, _native(be, dtype)), be)
        return _wrap(be.xp.arange(start, stop, step, dtype=_native(be, dtype)), be)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True,
             backend=None) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (float32, or complex64 for
    complex bounds; 0-d tensors count as their numbers, of their dtype when inexact).

    >>> linspace(asarray(0.0, dtype="float64"), 1.0, 3).dtype
    xpgrad.float64
    """
    endpoint = flag(endpoint, "endpoint", "linspace")
    num = _count(num, "num", "linspace")
    bounds, dtype, device = _bounds_from_tensors(
        "linspace", {"start": start, "stop": stop}, dtype, device, backend)
    start, stop = bounds.values()
    for name, value in (("start", start), ("stop", stop)):
        if not isinstance(value, numbers.Number) or isinstance(value, bool):
            raise TypeError(f"linspace: {name} must be a number, got {type(value).__name__} "
                            f"{value!r:.40}")
    be, place = _placed(device, backend, "linspace")
    if dtype is None:
        dtype = _dt.complex64 if isinstance(start, complex) or isinstance(stop, complex) \
            else _dt.float32
    with place:
        return _wrap(be.xp.linspace(start, stop, num, dtype=_native(be, dtype, "linspace: dtype"),
                                    endpoint=endpoint), be)


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None, backend=None) -> Tensor:
    """The identity matrix (ones on diagonal ``k``)."""
    n_rows = _count(n_rows, "n_rows", "eye")
    n_cols = None if n_cols is None else _count(n_cols, "n_cols", "eye")
    try:
        if isinstance(k, bool):
            raise TypeError
        k = operator.index(k)
    except TypeError:
        raise TypeError("eye: k must be an integer (the diagonal's offset)") from None
    be, place = _placed(device, backend, "eye")
    with place:
        return _wrap(be.xp.eye(n_rows, n_cols, k=k,
                               dtype=_native(be, dtype or _dt.float32, "eye: dtype")), be)


def _like(fn, x, dtype, device, who, **kw):
    x = x if isinstance(x, Tensor) else named_asarray(x, f"{who}: x")
    if device is None:
        be, place = x._backend, contextlib.nullcontext()
    else:
        be, place = _placed(device, None, who)
    native = x._data.dtype if dtype is None else _native(be, dtype, f"{who}: dtype")
    with place:
        return _wrap(fn(be.xp)(x._data.shape, dtype=native, **kw), be)


def zeros_like(x, /, *, dtype=None, device=None) -> Tensor:
    """Zeros with the shape, dtype and backend of ``x``."""
    return _like(lambda xp: xp.zeros, x, dtype, device, "zeros_like")


def ones_like(x, /, *, dtype=None, device=None) -> Tensor:
    """Ones with the shape, dtype and backend of ``x``."""
    return _like(lambda xp: xp.ones, x, dtype, device, "ones_like")


def empty_like(x, /, *, dtype=None, device=None) -> Tensor:
    """Uninitialized, with the shape, dtype and backend of ``x``."""
    return _like(lambda xp: xp.empty, x, dtype, device, "empty_like")


def full_like(x, /, fill_value, *, dtype=None, device=None) -> Tensor:
    """``fill_value`` everywhere, with the shape, dtype and backend of ``x``; a one-element
    Tensor ``fill_value`` is differentiated, as in ``full``."""
    if isinstance(fill_value, Tensor):
        x = x if isinstance(x, Tensor) else named_asarray(x, "full_like: x")
        return _filled_with_tensor(x.shape, fill_value.to(x._backend),
                                   x.dtype if dtype is None else dtype, device, "full_like")
    fill_value = _fill(fill_value, "full_like")
    return _like(lambda xp: (lambda shape, dtype: xp.full(shape, fill_value, dtype=dtype)),
                 x, dtype, device, "full_like")
