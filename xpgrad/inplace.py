"""In-place writes, ``x[key] = value`` and ``x += y``, as functional updates that tapes can
differentiate (a write into a view goes through to its base: ``views.py``).

A tape knows tensors by their key (``Tensor._key``), so ``x[key] = value`` makes ``x`` hold a
*new* value: a copy of the old one with ``value`` written at ``key`` (the buffer is written in
place only when nothing but ``x`` and its views can see it). On the tapes:

- ``x`` gets a new key first, so what any tape recorded about ``x`` keeps meaning the old value
  (the tapes hold the old value's residuals, never ``x``): no gradient through a stale version;
- while a tape records ``x`` (derived from a watched tensor) or ``value``, the write is a node
  of its own, ``setitem(old, value)``, whose output is ``x``: the gradient of the old value is
  ``g`` with the written region zeroed, that of ``value`` is ``g[key]`` (summed over
  broadcasting; for repeated integer indices, only the write that landed gets it);
- a tensor a tape watches as a gradient source, or a Variable while a tape records it, cannot be
  written: that would change what the gradient is taken with respect to. Write into a copy
  (``xg.asarray(x, copy=True)``), compute the value with ``xg.where``, or use ``assign()``.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0, 3.0])
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = x * 2.0
...     y[1] = x[0] ** 2      # y is derived: a recorded update
...     loss = xg.sum(y)
>>> tape.gradient(loss, x).tolist()
[4.0, 0.0, 2.0]
"""
from __future__ import annotations

import sys
import warnings
from sys import getrefcount

from numpy import ndarray as _ndarray

from .creation import asarray
from .primitive import apply, run, tape_state
from .tensor import Tensor, Variable, _keyed
from .views import View, exclusive, family, index_key, is_basic


def on_tape(t: Tensor) -> bool:
    """Whether a recording tape differentiates ``t``: watched, derived from a watched tensor,
    or a trainable Variable that the tape watches on access."""
    key = t._key
    for tape in tape_state.recording:
        if (key and key in tape._keys) or (t._trainable and tape._auto):
            return True
        outside = getattr(tape, "outside", None)    # a vmap's tape, for the tapes outside it
        if outside is not None and outside.differentiate(t):
            return True
    return False


def leaving_loses_gradient(t: Tensor) -> bool:
    """Whether reading ``t`` into NumPy (``np.asarray``, a NumPy function without an xpgrad
    counterpart) would silently lose its gradient: a recording tape differentiates it, and no
    custom_gradient forward is running (there ``grad_fn`` gives the gradient, as TensorFlow's
    and PyTorch's custom functions run NumPy code)."""
    return not tape_state.custom_forwards and on_tape(t)


#: what a SciPy function that converted a tensor has in xpgrad (HIPS autograd's
#: ``autograd.scipy`` wrapped SciPy's; here they are other functions)
_SCIPY_HINT = (". SciPy's special functions are xg.special's (xg.special.logsumexp, gammaln, "
               "...) and its stats densities xg.distributions' (scipy.stats.norm.logpdf(x, m, "
               "s) is xg.distributions.Normal(m, s).log_prob(x), multivariate_normal's "
               "MultivariateNormal(mean, covariance_matrix=cov)); with SCIPY_ARRAY_API=1 set "
               "before SciPy is imported, scipy.special dispatches to them itself")


def foreign_caller():
    """``(" (in np.full)", hint)``: the NumPy or SciPy function whose Python code asked for
    the NumPy array, the one the user called; empty when none did (``np.asarray(t)``)."""
    import sys

    frame, found = sys._getframe(3), None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.split(".")[0] in ("numpy", "scipy"):
            found = (module, frame.f_code.co_name)
        elif found or not module.startswith("xpgrad"):
            break
        frame = frame.f_back
    if found is None:
        return "", ""
    module, function = found
    if module.split(".")[0] == "numpy":
        return f" (in np.{function})", ""
    public = ".".join(part for part in module.split(".") if not part.startswith("_"))
    return f" (in {public}.{function})", _SCIPY_HINT


def _check_not_source(x):
    """Raise if a live tape watches ``x`` as a gradient source."""
    from .tape import LIVE_TAPES

    for tape in list(LIVE_TAPES):
        if x._key in tape._watched:
            raise ValueError(
                "cannot write into a tensor that a GradientTape watches as a gradient source: "
                "the tape's gradient is taken with respect to its value. Write into a copy "
                "(y = xg.asarray(x, copy=True); y[key] = value) or build the new value "
                "functionally (xg.where)")


# -- who else sees a buffer -----------------------------------------------------------------------
# An array is written in place only when the tensor's slot is its one holder and, for a view, the
# view is the one holder of its base; reference counts are compared with those of a probe held the
# same way (as the tape judges which gradients it must copy).
def _counts(holder):
    raw = holder._data
    base = getattr(raw, "base", None)
    return sys.getrefcount(raw), (None if base is None else sys.getrefcount(base))


class _Probe:
    __slots__ = ("_data", "base")


def _probe_counts():
    probe = _Probe()
    probe._data = _Probe()
    probe._data.base = _Probe()
    return _counts(probe)


_SOLE, _SOLE_BASE = _probe_counts()


def _writable(raw) -> bool:
    if raw.__class__ is _ndarray:
        return raw.flags.writeable
    if getattr(raw, "_shared_unknown", False):
        return False       # an xg.function trace's stand-in: who shares it is not known
    flags = getattr(raw, "flags", None)
    return flags is not None and hasattr(raw, "base") and getattr(flags, "writeable", True)


def _exclusive(x, held=0) -> bool:
    """Whether writing into ``x``'s buffer in place changes nothing anyone else can see but
    the views of ``x`` (``views.exclusive``), which see the write as they should. ``held``:
    references to ``x``'s array the caller knows of (a ``t.data`` view's two)."""
    if not _writable(x._data):
        return False       # an array type whose sharing cannot be told: always copy
    own, base = _counts(x)
    if own <= _SOLE + held and (base is None or base <= _SOLE_BASE):
        return True
    views = family(x)
    if views is None:
        return False
    raw = x._data
    return exclusive(views, id(raw), id(getattr(raw, "base", None)), own - _SOLE,
                     None if base is None else base - _SOLE_BASE)


# -- the write ------------------------------------------------------------------------------------
def _value(x, value, what="x[key] = value", stacklevel=4):
    """``value`` as a Tensor of ``x``'s dtype and backend, or a Python scalar as it is. A
    complex Python number into a real ``x`` is refused (as NumPy does); other values are cast
    to ``x``'s dtype, NumPy's rule, with a UserWarning where the cast leaves NumPy's
    ``same_kind`` ones (``_warn_if_lossy``: a float into an integer ``x``, ...), as JAX's
    ``at[]`` warns. ``stacklevel`` points the warning at the user's line."""
    if value.__class__ is Tensor or value.__class__ is View:
        raw = value._data
        if value._backend is x._backend and raw.dtype is x._data.dtype:
            return value            # (a Tensor of x's backend and dtype: the common write)
    if (value.__class__ is float or value.__class__ is int) and \
            getattr(x._data.dtype, "kind", None) in _FLOAT_KINDS:
        return value                # (a number a float tensor holds as it is)
    if isinstance(value, (bool, int, float, complex)):
        if isinstance(value, complex) and x.dtype.kind != "c":
            raise TypeError(f"cannot write the complex value {value} into a {x.dtype} tensor; "
                            "write its .real or make the tensor complex")
        if not _exact_in(value, x.dtype.kind):
            _warn_if_lossy(x, _scalar_kind(value), what, stacklevel + 1)
        return value
    if isinstance(value, (str, bytes)):
        raise TypeError(f"cannot write the string {value!r:.40} into a {x.dtype} tensor")
    if isinstance(value, Tensor):
        if value._backend is not x._backend:
            from .primitive import _mixed

            raise _mixed(x._backend, value._backend)
        if value.dtype == x.dtype:
            return value
        _warn_if_lossy(x, value.dtype.kind, what, stacklevel + 1)
        from .ops.casting import astype

        return astype(value, x.dtype)
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind is None:                        # a list: the kind its entries make
        kind = asarray(value, backend=x._backend).dtype.kind
    _warn_if_lossy(x, kind, what, stacklevel + 1)
    return asarray(value, dtype=x.dtype, backend=x._backend)


_FLOAT_KINDS = ("f", "c")


def _exact_in(value, target) -> bool:
    """Whether the Python number ``value`` is written exactly into a tensor of dtype kind
    ``target`` when it is of another kind (``mask[i] = 1``, ``counts[i] = 3.0``: nothing to
    warn of)."""
    if isinstance(value, complex):
        return False
    if target == "b":
        return value == 0 or value == 1
    if target in "iu" and isinstance(value, float):
        return value.is_integer()
    return True


def _scalar_kind(value) -> str:
    """NumPy's dtype kind of a Python number (np.float64, a float, is one too)."""
    for kind, types in (("b", bool), ("i", int), ("f", float)):
        if isinstance(value, types):
            return kind
    return "c"


def _warn_if_lossy(x, kind, what, stacklevel):
    """A UserWarning where values of ``kind`` written into ``x`` lose what NumPy's
    ``same_kind`` casting keeps: a float into an integer or bool ``x`` (truncated toward zero,
    or made its truthiness), an integer into a bool ``x``, a complex into a real one (its
    imaginary part dropped), as NumPy's and PyTorch's setitem do silently."""
    target = x.dtype.kind
    if kind == "c" and target != "c":
        warnings.warn(f"{what}: writing complex values into a tensor of dtype {x.dtype} "
                      "discards their imaginary part", UserWarning, stacklevel=stacklevel)
    elif kind == "f" and target in "iub" or kind in "iu" and target == "b":
        number = "floating" if kind == "f" else "integer"
        loss = "made their truthiness" if target == "b" else "truncated toward zero"
        warnings.warn(f"{what}: writing {number} values into a tensor of dtype {x.dtype}: "
                      f"they are {loss} (as NumPy does; JAX's at[] warns too). Cast them first "
                      f"(xg.astype(value, {x.dtype})) to say so", UserWarning,
                      stacklevel=stacklevel)


def write(x: Tensor, key, value) -> None:
    """``x[key] = value`` (what ``Tensor.__setitem__`` does; see the module docstring)."""
    if x.__class__ is View:
        return write_through(x, key, value, stacklevel=5)
    if x.__class__ is Tensor and not x._key and (key.__class__ is slice or key.__class__ is int) \
            and not tape_state.recording and _traces.tracer is None:
        # x[a:b] = v's usual case, the checks below in short: no tape knows x, v needs no cast
        if value.__class__ is Tensor and value._backend is x._backend and \
                value._data.dtype is x._data.dtype:
            raw = value._data
        elif (value.__class__ is float or value.__class__ is int) and \
                getattr(x._data.dtype, "kind", None) in _FLOAT_KINDS:
            raw = value
        else:
            raw = None
        if raw is not None:
            data = x._data
            if data.__class__ is _ndarray:      # _exclusive's first answer, inline
                owner = data.base
                alone = getrefcount(data) <= _SOLE and \
                    (owner is None or getrefcount(owner) <= _SOLE_BASE)
                del owner
            else:
                alone = False
            if alone:
                try:    # (NumPy refuses a bad key or shape, or a read-only array, unwritten)
                    data[key] = raw
                    return
                except (IndexError, ValueError):
                    pass                # the general path says why, or copies
            del data, raw               # (the general path counts the arrays' holders)
    raw_key = _raw_key(x, key)
    if value.__class__ is View and rewrites_itself(x, raw_key, value):
        return
    if _traces.tracer is not None:
        check_made_in_trace(x)
    value = _value(x, value)
    recording = tape_state.recording
    old_key = x._key
    if old_key and not recording and not known_to_tapes(old_key) and \
            not isinstance(x, Variable):
        x._key = old_key = 0        # a key no live tape knows: x is only its value
    if not old_key and not recording:
        try:
            if _exclusive(x):
                x._data[raw_key] = value._data if isinstance(value, Tensor) else value
            else:
                x._data = run(_setitem, x._backend, x._data,
                              value._data if isinstance(value, Tensor) else value, key=raw_key)
        except (IndexError, ValueError) as e:
            raise _setitem_error(x, key, value, e) from None
        return
    if isinstance(x, Variable):
        if recording and on_tape(x):
            raise variable_write_refused(x)
    elif old_key:
        _check_not_source(x)
    snap = None
    if old_key and not isinstance(x, Variable):
        # the old value, as the tapes know it; x is a new value from here on
        snap = _keyed(x._data, x._backend, old_key)
        x._key = 0
    if value is x:                  # x[...] = x: the value is the old version
        value = snap if snap is not None else _keyed(x._data, x._backend, 0)
    try:
        _update(x, snap, raw_key, value, recording)
    except BaseException as e:
        x._key = old_key            # undo: x is the old value again
        if isinstance(e, (IndexError, ValueError)):
            raise _setitem_error(x, key, value, e) from None
        raise


def variable_write_refused(v, what="") -> ValueError:
    """The error for a write into Variable ``v`` (``what``: how it was written, where not
    ``v[key] = value``) while a recording tape differentiates it: the write would change what
    the gradient is taken with respect to, and is not recorded."""
    return ValueError(
        f"{what}cannot write into Variable {v.name!r} while a GradientTape records it: "
        "in-place writes to Variables are not recorded. Update it with assign() outside the "
        "tape, or compute a new tensor (xg.where)")


def check_made_in_trace(x) -> None:
    """Under an ``xg.function`` trace, refuse a write into a tensor the function did not make
    (its array is not the trace's): the replays would not repeat it."""
    if _traces.tracer is not None and not _traces.tracer.paused and \
            not isinstance(x, Variable):
        raw = x._data
        if type(raw) is x._backend.array_class or type(raw).__module__ == "numpy":
            from .jit.errors import WROTE_OUTSIDE, TraceError, user_line

            raise TraceError(WROTE_OUTSIDE, user_line())


def rewrites_itself(x, raw_key, value) -> bool:
    """Whether ``x[key] = value`` writes back a view of ``x`` at ``key``: the second half of
    ``x[key] += y`` (Python's ``v = x[key]; v += y; x[key] = v``), whose first half wrote
    through ``v`` already, so it changes nothing."""
    if value.__class__ is not View or value._base is not x or not is_basic(raw_key):
        return False
    prim, params = value._how
    return prim.name == "getitem" and params["key"] == index_key(raw_key)


def take_value(x: Tensor, out: Tensor, op: str) -> None:
    """``x op= y`` for a Tensor: ``x`` now holds ``out`` (``x op y``, of ``x``'s shape and
    dtype), as a write would: a view writes it through to its base; any other tensor takes
    ``out``'s array and tape key (the tapes that recorded ``x`` keep its old value). A tensor
    a live tape watches as a gradient source is refused, as PyTorch refuses a leaf that
    requires grad."""
    if x.__class__ is View:
        write_through(x, Ellipsis, out, stacklevel=5)
        return
    if _traces.tracer is not None:
        check_made_in_trace(x)
    if x._key:
        try:
            _check_not_source(x)
        except ValueError as e:
            raise ValueError(f"x {op}= y: {e}; or write x = x {op} y for a new "
                             "tensor") from None
    x._data = out._data
    x._key = out._key


def _update(x, snap, raw_key, value, recording):
    if recording and ((isinstance(value, Tensor) and on_tape(value))
                      or (snap is not None and on_tape(snap))):
        old = _keyed(x._data, x._backend, 0) if snap is None else snap
        out = apply(_setitem, old, value, key=raw_key)
        x._data = out._data
        x._key = out._key           # x is the node's output on the tapes that recorded it
        return
    value_raw = value._data if isinstance(value, Tensor) else value
    if snap is None and _exclusive(x):
        x._data[raw_key] = value_raw
    else:
        x._data = run(_setitem, x._backend, x._data, value_raw, key=raw_key)


from .ops.indexing import _raw_key, _setitem, _setitem_error  # noqa: E402
from .tape import known_to_tapes  # noqa: E402,F401  (view_writes imports it from here)
from .view_writes import write_through  # noqa: E402  (it imports this module's names)
from . import tensor as _tensor_module  # noqa: E402

_tensor_module._write = write
from .jit.trace_state import THREAD as _traces  # noqa: E402
