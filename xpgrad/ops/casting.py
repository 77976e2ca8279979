"""Copies and casts: copy_tensor (a value in its own memory) and astype, whose gradient flows
between floating dtypes, real and complex.

>>> import xpgrad as xg
>>> xg.astype(xg.asarray([1, 2]), xg.float32).tolist()
[1.0, 2.0]
"""
from __future__ import annotations

from .. import dtypes as _dt
from .._args import flag
from ..primitive import Primitive, apply
from ._define import as_tensor


# -- copies and casts ---------------------------------------------------------------------------

_copy = Primitive("copy", lambda xp, x: xp.asarray(x, copy=True), lambda xp, g, ans, x: g)


def copy_tensor(x, /):
    """A new tensor with ``x``'s value in its own memory (``asarray(x, copy=True)``); the
    gradient passes through.

    >>> import numpy as np, xpgrad as xg
    >>> x = xg.ones(2)
    >>> y = copy_tensor(x)
    >>> y.tolist(), np.shares_memory(np.asarray(y), np.asarray(x))
    ([1.0, 1.0], False)
    """
    return apply(_copy, as_tensor(x, "copy_tensor"))


def _kind(xp, dtype) -> str:
    """'f' (real floating), 'c' (complex floating) or '' for a raw or xpgrad dtype."""
    kind = getattr(dtype, "kind", None)
    if isinstance(kind, str):
        return kind if kind in "fc" else ""
    if xp.isdtype(dtype, "real floating"):
        return "f"
    return "c" if xp.isdtype(dtype, "complex floating") else ""


def _astype_vjp(xp, g, ans, x, dtype, real=False):
    source, target = _kind(xp, x.dtype), _kind(xp, ans.dtype)
    if not (source and target):
        return None
    if source == "f" and target == "c":
        g = xp.real(g)
    return xp.astype(g, x.dtype)


_astype = Primitive("astype", lambda xp, x, dtype, real=False:
                    xp.astype(xp.real(x) if real else x, dtype), _astype_vjp)


def astype(x, dtype, /, *, copy=True, device=None):
    """Cast to ``dtype`` (``copy=False``: ``x`` itself when it has that dtype already; a
    ``device=`` places the result there). Gradients flow between floating dtypes, real and
    complex: from a real input to a complex result the gradient's real part comes back; a
    complex input cast to a real dtype keeps its real part (as NumPy and PyTorch do, though the
    standard advises against it: prefer ``real``) and gets the real gradient.

    >>> import xpgrad as xg
    >>> xg.astype(xg.ones(2), xg.float64).dtype
    xpgrad.float64
    """
    x = as_tensor(x, "astype")
    dt = _dt.as_dtype(dtype)
    copy = flag(copy, "copy", "astype")
    if dt == x.dtype:
        out = x
    elif x.dtype.is_complex and dt.kind == "b":       # nonzero, imaginary part too
        from .elementwise import not_equal

        out = not_equal(x, 0)
    elif x.dtype.is_complex and not dt.is_complex:
        out = apply(_astype, x, dtype=x._backend.native_dtype(dt), real=True)
    else:
        out = apply(_astype, x, dtype=x._backend.native_dtype(dt))
    if device is not None:
        from ..creation import to_device

        out = to_device(out, device)
    if copy and out is x:
        out = copy_tensor(x)
    return out


__all__ = ["astype"]
