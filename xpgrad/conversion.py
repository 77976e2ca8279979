"""Tensors from existing data: asarray (Tensors, backend arrays, scalars, nested lists,
buffers), from_dlpack, and to_device, which moves a tensor on the tapes. ``xpgrad.creation``
makes new tensors (zeros, arange, ...) and re-exports these.

Python floats become float32, complex numbers complex64, ints int64.

>>> import xpgrad as xg
>>> xg.asarray([1.0, 2.0]).dtype
xpgrad.float32
>>> xg.asarray([1, 2]).dtype
xpgrad.int64
"""
from __future__ import annotations

import contextlib

import numpy as np

from . import dtypes as _dt
from ._args import flag, refuse_keywords
from .devices import Device, resolve
from .primitive import Primitive, apply, tape_state
from .tensor import Tensor, _wrap


def _backend(backend, device=None):
    return resolve(device, backend)[0]


def _placed(device, backend, who=None):
    """``(backend, context)``: the context makes the backend allocate on the asked device;
    errors start with ``who``."""
    be, native = resolve(device, backend, who)
    return be, (be.on_device(native) if native is not None else contextlib.nullcontext())


def _native(be, dtype, who="dtype"):
    """``dtype``'s native dtype on ``be`` (None stays None); TypeError naming ``who``."""
    return None if dtype is None else be.native_dtype(_dt.as_dtype(dtype, who))


def _checked(be, raw):
    be.xg_dtype(raw.dtype)  # raises TypeError for dtypes xpgrad does not support
    return _wrap(raw, be)


_PY_DEFAULT = {"float64": _dt.float32, "complex128": _dt.complex64}


def asarray(obj, /, *, dtype=None, device=None, copy=None, backend=None,
            **unexpected) -> Tensor:
    """A Tensor from a Tensor, a backend array, a scalar, nested lists or a buffer.

    On a Tensor, ``dtype=``, ``copy=True`` and a ``device=`` on another backend are recorded
    on tapes (a cast, a copy, a move), so gradients flow through them. ``copy=False`` raises
    where a copy cannot be avoided.

    >>> asarray([[1, 2]], dtype="float64").dtype
    xpgrad.float64
    """
    if unexpected:
        refuse_keywords("asarray", unexpected)
    return named_asarray(obj, "asarray: obj", dtype=dtype, device=device, copy=copy,
                         backend=backend)


def _unsupported_input(obj, what):
    """A TypeError naming ``what`` if ``obj`` is an array of a dtype xpgrad has not (None if
    its dtype is supported or it has none)."""
    dtype = getattr(obj, "dtype", None)
    if dtype is None or isinstance(dtype, _dt.DType):
        return None
    name = _dt.dtype_name(dtype) or str(dtype)
    if name in _dt.ALL:
        return None
    name = name.removeprefix("torch.")
    advice = ("convert it to float32 first (NumPy: a.astype(np.float32), or dtype=xg.float32 "
              "here; PyTorch: t.float())")
    return TypeError(f"{what} has dtype {name}, which xpgrad does not support; supported: "
                     f"{sorted(_dt.ALL)}{_dt.half_precision_hint(name, advice)}")


def _not_numbers(obj, what):
    """A TypeError naming ``what`` if ``obj`` holds no numbers (a str, bytes, a dict, another
    object, nested lists of those), None otherwise."""
    try:
        kind = np.asarray(obj).dtype.kind
    except Exception:       # noqa: BLE001 (whatever NumPy makes of it, it is not numbers)
        kind = "O"
    if kind not in "USOV":
        return None
    shown = repr(obj)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    kind_name = type(obj).__name__
    article = "an" if kind_name[0] in "aeiou" else "a"
    return TypeError(f"{what} is {article} {kind_name} ({shown}), not an array, a number or "
                     "nested lists of numbers")


def named_asarray(obj, what, *, dtype=None, device=None, copy=None, backend=None) -> Tensor:
    """``asarray``, whose errors about ``obj``'s dtype name it ``what`` (e.g.
    ``"Variable: initial_value"``)."""
    copy = _check_copy(copy, "asarray")
    if isinstance(obj, Tensor):
        return _from_tensor(obj, dtype, device, copy, backend)
    if isinstance(obj, (list, tuple)) and _taped_leaf(obj):
        return _from_tensor(_stacked(obj, what), dtype, device, copy, backend)
    if obj is None:                     # NumPy makes NaN of it when given a float dtype
        raise TypeError(f"{what} is None, not an array, a number or nested lists of numbers")
    be, place = _placed(device, backend, what.partition(":")[0])
    native = _native(be, dtype, "asarray: dtype")
    try:
        with place:
            if native is not None:
                discovered = _refuse_text(obj, what)
                if discovered is None or _kind(native) not in ("f", "c"):
                    discovered = obj        # integers: NumPy's own range and NaN checks
                raw = be.asarray(discovered, dtype=native)
            else:
                raw = be.asarray(obj)
                raw = _big_integers(be, obj, raw, what)
                default = _PY_DEFAULT.get(be.xg_dtype(raw.dtype).name)
                if default is not None and not _typed_leaf(obj):
                    raw = be.xp.astype(raw, be.native_dtype(default))   # Python floats
    except TypeError as error:
        if str(error).startswith(what):     # named already (text given with a dtype, ...)
            raise
        # float16, a PyTorch bfloat16 tensor, ...; a str, a dict, ...
        refusal = _unsupported_input(obj, what) or _not_numbers(obj, what)
        if refusal is None:
            raise
        raise refusal from None
    if copy and raw is obj:
        raw = be.xp.asarray(raw, copy=True)
    elif copy is False and _copied(obj, raw):
        raise ValueError(f"asarray(copy=False): the input ({type(obj).__name__}) cannot be "
                         f"used without a copy (a Python scalar or sequence, another dtype, "
                         f"device or layout)")
    return _checked(be, raw)


def _refuse_text(obj, what):
    """A TypeError for strings given with a dtype, which NumPy would parse (``asarray(['3'],
    dtype=float32)`` is 3.0; without a dtype they are refused as having none). Lists are
    looked into by NumPy's own dtype discovery, and the float64 array it makes of Python
    floats is returned for the conversion to start from (one pass over the list, not two: a
    100x10 list to float32 took 90 us against NumPy's 34); None otherwise."""
    discovered = None
    if isinstance(obj, (str, bytes)):
        kind = "U"
    elif isinstance(obj, (list, tuple)):
        try:                            # device arrays in a list: the backend's to judge
            discovered = np.asarray(obj) if obj else None
        except Exception:
            return None
        kind = None if discovered is None else discovered.dtype.kind
    else:
        kind = getattr(getattr(obj, "dtype", None), "kind", None)
    if kind in ("U", "S"):
        raise TypeError(f"{what} holds text ({obj!r:.40}), not numbers; convert it yourself "
                        f"(float(s)) if that is what you mean")
    # Python floats are float64 already: casting their array rounds each once, as converting
    # the list would; integers or mixed lists are converted afresh (range checks per dtype)
    if discovered is not None and discovered.dtype == np.float64:
        return discovered
    return None


def _kind(native):
    """The NumPy kind letter of a backend's native dtype, or None."""
    try:
        return np.dtype(native).kind
    except TypeError:
        return None


def _big_integers(be, obj, raw, what):
    """``raw`` where NumPy could not give Python integers past int64 a number dtype: beside
    Python floats, floats (``[1.0, 2**70]``, as PyTorch); alone, OverflowError, since they fit
    no integer dtype and float32 would drop their low digits (PyTorch refuses them too)."""
    kind = getattr(raw.dtype, "kind", None)
    if kind not in ("O", "f"):
        return raw
    values = [obj] if isinstance(obj, int) else _leaves(obj) \
        if isinstance(obj, (list, tuple)) else ()
    integers, floats = [], False
    for v in values:
        if type(v) is float and kind == "O":
            floats = True
        elif type(v) is not int and type(v) is not bool:
            return raw        # NumPy's floats: a list of floats stops at its first entry
        else:
            integers.append(v)
    if floats:
        return be.asarray(obj, dtype=be.native_dtype(_dt.float64))
    if not integers:
        return raw
    low, high = min(integers), max(integers)
    which = (f"the Python integer {low} fits" if low == high
             else f"Python integers from {low} to {high} fit")
    raise OverflowError(f"{what}: {which} no integer dtype (int64 holds -2**63 to 2**63 - 1, "
                        f"uint64 0 to 2**64 - 1); give dtype=xg.float64 to keep them as floats")


def _taped_leaf(obj) -> bool:
    """Whether the nested lists ``obj`` hold a Tensor while a GradientTape records: then
    ``asarray`` stacks them on the tape (as ``jnp.asarray`` does) instead of reading their
    values, which would cut them from it."""
    return bool(tape_state.recording) and any(isinstance(t, Tensor) for t in _leaves(obj))


def _stacked(obj, what) -> Tensor:
    """The nested lists ``obj`` as one Tensor, stacked on the tapes, in the dtype ``asarray``
    gives their values (NumPy's inference: ``[t32, 2.0]`` is float64, as without a tape)."""
    be = next(t for t in _leaves(obj) if isinstance(t, Tensor))._backend
    dtype = named_asarray(_raw_values(obj), what, backend=be).dtype
    stack, astype, _ = _ops or _import_ops()
    return _stacked_tensor(obj, what, dtype, be, stack, astype)


# (functions of the module: a nested function that calls itself holds itself in a closure
# cell, a reference cycle every call)
def _raw_values(item):
    if isinstance(item, Tensor):
        return item._data
    return [_raw_values(i) for i in item] if isinstance(item, (list, tuple)) else item


def _stacked_tensor(item, what, dtype, be, stack, astype):
    if isinstance(item, (list, tuple)):
        return stack([_stacked_tensor(i, what, dtype, be, stack, astype) for i in item])
    if isinstance(item, Tensor):
        return item if item.dtype == dtype else astype(item, dtype)
    return named_asarray(item, what, dtype=dtype, backend=be)


def _leaves(obj):
    for item in obj:
        if isinstance(item, (list, tuple)):
            yield from _leaves(item)
        else:
            yield item


def _typed_leaf(obj) -> bool:
    """Whether ``obj``, or the first leaf of the nested lists it is, carries a dtype (a NumPy
    scalar or array, a Tensor): then the dtype NumPy infers stands (``[t64, t64]`` is float64,
    as in NumPy and PyTorch); Python floats alone are float32, the default."""
    while isinstance(obj, (list, tuple)) and obj:
        obj = obj[0]
    return hasattr(obj, "dtype")


def _check_copy(copy, fn="asarray"):
    """``copy`` as None or a Python bool (a NumPy bool passes); TypeError naming it otherwise."""
    if copy is None:
        return None
    try:
        return flag(copy, "copy", fn)
    except TypeError:
        raise TypeError(f"{fn}: copy must be True, False or None, got {copy!r}") from None


def _copied(obj, raw) -> bool:
    """Whether ``raw``, made from ``obj``, is a copy of it: anything but ``obj`` itself or a
    NumPy view of its memory (Python scalars and sequences are always copied)."""
    import numpy

    if raw is obj:
        return False
    try:
        memory = numpy.asarray(memoryview(obj))
    except TypeError:
        return True
    return not (isinstance(raw, numpy.ndarray) and numpy.shares_memory(raw, memory))


def _from_tensor(t, dtype, device, copy, backend):
    if (device is None and not copy and (backend is None or backend is t._backend)
            and (dtype is None or dtype is t.dtype or _dt.as_dtype(dtype) == t.dtype)):
        return t                # already there: the common case of a library call
    _, astype, copy_tensor = _ops or _import_ops()
    if device is not None or backend is not None:
        be, native = resolve(device, backend, "asarray")
        if be is not t._backend:
            if copy is False:
                raise ValueError("asarray(copy=False) cannot move a tensor to another backend")
            t, copy = t.to(be), None
        if native is not None and native != t._backend.device(t._data):
            t, copy = to_device(t, Device(be.name, native)), None
    if dtype is not None and t.dtype != _dt.as_dtype(dtype):
        if copy is False:
            raise ValueError(f"asarray(copy=False) cannot cast {t.dtype} to {dtype}")
        return astype(t, dtype)
    return copy_tensor(t) if copy else t


def _move_forward(xp, x, backend, native):
    return backend.move(x, native)


def _move_vjp(xp, g, ans, x, backend, native):
    if isinstance(g, Tensor):
        return to_device(g, x.device)
    return backend.move(g, backend.device(x))


_move = Primitive("device_move", _move_forward, _move_vjp)


def to_device(x, device, /, *, stream=None) -> Tensor:
    """``x`` on ``device``: another backend (like ``Tensor.to``) or another device of the same
    backend; recorded on tapes either way, so the gradient comes back to ``x``'s device.

    >>> import xpgrad as xg
    >>> xg.to_device(xg.ones(2), "numpy").device
    Device('numpy', 'cpu')
    """
    be, native = resolve(device, who="to_device")
    out = x.to(be)
    if native is not None and native != be.device(out._data):
        out = apply(_move, out, backend=be, native=native)
    return out


def from_dlpack(x, /, *, device=None, copy=None, backend=None) -> Tensor:
    """A Tensor sharing (or, with ``copy=True``, copying) the memory of any DLPack producer.

    >>> import numpy as np, xpgrad as xg
    >>> xg.from_dlpack(np.arange(3.0)).tolist()
    [0.0, 1.0, 2.0]
    """
    copy = _check_copy(copy, "from_dlpack")
    if isinstance(x, Tensor):
        return asarray(x, device=device, copy=copy, backend=backend)
    be, place = _placed(device, backend, "from_dlpack")
    with place:
        raw = be.from_dlpack(x, copy=copy)
    return _checked(be, raw)


#: ``(ops.stack, ops.astype, ops.copy_tensor)`` once imported (the ops import this module): an
#: import statement per call cost about a microsecond
_ops = None


def _import_ops():
    global _ops
    from .ops.casting import astype, copy_tensor
    from .ops.joining import stack

    _ops = stack, astype, copy_tensor
    return _ops
