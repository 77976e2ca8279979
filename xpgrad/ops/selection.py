"""Selecting values entry by entry: where (by a condition) and clip (by bounds). Each output
entry comes from one input, and its gradient goes back to that input (to ``x`` inside the
bounds, ties included, and to the active bound outside them).

>>> import xpgrad as xg
>>> x = xg.asarray([-2.0, 0.5, 3.0], dtype=xg.float64)
>>> xg.grad(lambda x: xg.sum(xg.clip(x, -1.0, 1.0)))(x).tolist()
[0.0, 1.0, 0.0]
"""
from __future__ import annotations

from .._args import refuse_keywords
from ..primitive import Primitive, apply
from ..tensor import Tensor
from ._define import as_tensor
from .elementwise import _INEXACT_SCALARS, _beside_inexact_scalar

# -- selection ----------------------------------------------------------------------------------
def _where_forward(xp, c, x, y):
    if x.__class__ in _INEXACT_SCALARS or y.__class__ in _INEXACT_SCALARS:   # int beside 0.5
        x, y = _beside_inexact_scalar(xp, x, y)
    return xp.where(c, x, y)


_where = Primitive("where", _where_forward,
                   None,
                   lambda xp, g, ans, c, x, y: xp.where(c, g, 0.0),
                   lambda xp, g, ans, c, x, y: xp.where(c, 0.0, g))


_MISSING = object()


def where(condition, x1=_MISSING, x2=_MISSING, /):
    """``x1`` where ``condition`` is true, else ``x2`` (broadcasting all three). With
    ``condition`` alone, ``nonzero(condition)``: a tuple of int64 index tensors, one per axis,
    as ``np.where(condition)`` and ``torch.where(condition)``; ``x1`` without ``x2`` is a
    TypeError.

    >>> import xpgrad as xg
    >>> xg.where(xg.asarray([True, False]), 1.0, xg.asarray([5.0, 6.0])).tolist()
    [1.0, 6.0]
    >>> [i.tolist() for i in xg.where(xg.asarray([[0, 3], [4, 0]]))]
    [[0, 1], [1, 0]]
    """
    if x1 is _MISSING and x2 is _MISSING:
        from .searching import nonzero

        return nonzero(condition)
    if x2 is _MISSING:
        raise TypeError("where: x2 is missing: pass condition, x1 and x2 (x1 where condition "
                        "holds, else x2), or condition alone for its nonzero indices")
    if _scalar_kind(x1) is not None and _scalar_kind(x2) is not None:
        # two Python scalars: the higher kind becomes a tensor of its default dtype (float32,
        # complex64, int64), as xg.add(1.0, 2.0) and PyTorch do; the other follows it
        if _scalar_kind(x1) >= _scalar_kind(x2):
            x1 = _default_tensor(x1, condition)
        else:
            x2 = _default_tensor(x2, condition)
    else:
        _check_fits(x1, x2)
        _check_fits(x2, x1)
    return apply(_where, condition, x1, x2)


def _check_fits(x, other):
    """OverflowError where ``other`` is a Python int outside the integer Tensor ``x``'s dtype
    (NumPy's ``where`` would wrap 300 into an int8 44); a float beside an integer tensor is
    the forward's (``_beside_inexact_scalar``: float32, as ``x * 0.5``)."""
    if type(other) is int and isinstance(x, Tensor) and x.dtype.kind in "iu":
        from ..dtype_functions import iinfo

        info = iinfo(x.dtype)
        if not info.min <= other <= info.max:
            raise OverflowError(f"where: Python integer {other} out of bounds for {x.dtype}")


def _scalar_kind(value):
    """0 bool, 1 int, 2 float, 3 complex for a Python scalar; None for anything else."""
    for kind, cls in enumerate((bool, int, float, complex)):
        if type(value) is cls:
            return kind
    return None


def _default_tensor(value, condition):
    from ..creation import asarray

    return asarray(value, backend=condition.backend if isinstance(condition, Tensor) else None)


# clip(x, *bounds, which): ``which`` names the bounds given ("min", "max" or both), in order
def _clip_forward(xp, x, *bounds, which):
    kw = dict(zip(which, bounds))
    return xp.clip(x, kw.get("min"), kw.get("max"))


def _clip_vjp(xp, g, ans, needs, x, *bounds, which):
    # clip is min(max(x, lo), hi): ``hi`` wins where the inner max exceeds it (so wherever
    # lo > hi), ``lo`` where x < lo otherwise, and ``x`` elsewhere (ties go to x; NaN gets none)
    kw = dict(zip(which, bounds))
    lo, hi = kw.get("min"), kw.get("max")
    if hi is None:
        to_x, chosen = x >= lo, {"min": x < lo}
    elif lo is None:
        to_x, chosen = x <= hi, {"max": x > hi}
    else:
        to_hi = ((x < lo) & (lo > hi)) | ((x >= lo) & (x > hi))
        to_x, chosen = (x >= lo) & ~to_hi, {"min": (x < lo) & ~to_hi, "max": to_hi}
    out = [xp.where(to_x, g, 0.0) if needs[0] else None]
    for name, need in zip(which, needs[1:]):
        out.append(xp.where(chosen[name], g, 0.0) if need else None)
    return tuple(out)


_clip = Primitive("clip", _clip_forward, joint=_clip_vjp)


def _int_bound(bound, x):
    """A Python int bound of an integer tensor, brought into the dtype's range."""
    from ..dtype_functions import iinfo

    info = iinfo(x.dtype)
    return min(info.max, bound) if bound > info.max else max(info.min, bound)


def _bound_of_integers(bound, x, name):
    """A bound of the integer tensor ``x``: a float refused (the result keeps x's dtype, so
    ``clip(int8, 1.5)`` could not be >= 1.5), an integer tensor of another dtype brought into
    x's range and dtype (an int64 300 would wrap to int8 44)."""
    is_tensor = isinstance(bound, Tensor)
    if type(bound) is float or (is_tensor and bound.dtype.kind not in "iub"):
        what = bound.dtype if is_tensor else repr(bound)
        raise TypeError(f"clip: {name} is {what} but x is {x.dtype}, and the result keeps x's "
                        f"dtype; cast x first (x.astype(xg.float32))")
    if is_tensor and bound.dtype != x.dtype:
        from ..dtype_functions import iinfo, result_type

        info = iinfo(x.dtype)
        wide = bound.astype(result_type(bound.dtype, x.dtype))
        bound = clip(wide, info.min, info.max).astype(x.dtype)
    return bound


def clip(x, /, min=None, max=None, **unexpected):
    """Limit ``x`` to ``[min, max]`` (Python scalars or tensors, broadcasting with ``x``); the
    result keeps ``x``'s dtype. The gradient goes to ``x`` where it is inside the bounds (ties
    included) and to the active bound elsewhere; where ``min > max`` the result is ``max``
    (``clip`` is ``minimum(maximum(x, min), max)``, as in NumPy and PyTorch), and so is the
    gradient's destination.

    >>> import xpgrad as xg
    >>> xg.clip(xg.asarray([-2.0, 0.5, 3.0]), -1.0, 1.0).tolist()
    [-1.0, 0.5, 1.0]
    >>> xg.clip(xg.asarray([1, 5, 9]), max=xg.asarray([4, 4, 10])).tolist()
    [1, 4, 9]
    """
    if unexpected:
        refuse_keywords("clip", unexpected)
    x = as_tensor(x, "clip")
    if min is None and max is None:
        return x
    which, bounds = [], []
    for name, bound in (("min", min), ("max", max)):
        if bound is None:
            continue
        if isinstance(bound, bool) or not isinstance(bound, (int, float, Tensor)):
            bound = as_tensor(bound, "clip", name)
        elif type(bound) is int and x.dtype.kind in "iu":
            bound = _int_bound(bound, x)
        if x.dtype.kind in "iu":
            bound = _bound_of_integers(bound, x, name)
        which.append(name)
        bounds.append(bound)
    return apply(_clip, x, *bounds, which=tuple(which))


__all__ = ["where", "clip"]
