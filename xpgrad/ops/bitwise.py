"""Bitwise functions on integer and boolean tensors (no gradients; never recorded).

``&``, ``|``, ``^`` and ``~`` on a Tensor are these functions: bitwise on integers, logical on
booleans. The shifts take integers only; a shift count must not be negative.

>>> import xpgrad as xg
>>> (xg.asarray([12, 10]) & 6).tolist(), (~xg.asarray([True, False])).tolist()
([4, 2], [False, True])
"""
from __future__ import annotations

from ..primitive import Primitive, apply


def _check(xp, a, name, arg, allow_bool):
    """Raise a TypeError naming ``arg`` unless ``a`` is an integer (or boolean) array/scalar."""
    dt = getattr(a, "dtype", None)
    if dt is None:
        ok = isinstance(a, int) and (allow_bool or not isinstance(a, bool))
        what = type(a).__name__
    else:
        ok = xp.isdtype(dt, ("integral", "bool") if allow_bool else "integral")
        what = str(dt)
    if not ok:
        kinds = "an integer or boolean" if allow_bool else "an integer"
        raise TypeError(f"{name}: {arg} must have {kinds} data type, got {what}")


def _binary(name, op, allow_bool, doc):
    def forward(xp, x1, x2):
        _check(xp, x1, name, "x1", allow_bool)
        _check(xp, x2, name, "x2", allow_bool)
        return getattr(xp, op)(x1, x2)

    prim = Primitive(name, forward)

    def fn(x1, x2, /):
        return apply(prim, x1, x2)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.primitive = prim
    return fn


bitwise_and = _binary("bitwise_and", "bitwise_and", True, """Elementwise ``x1 & x2``:
    bitwise AND of integers, logical AND of booleans.

    >>> import xpgrad as xg
    >>> xg.bitwise_and(xg.asarray([12, 10]), xg.asarray([6, 3])).tolist()
    [4, 2]
    """)
bitwise_or = _binary("bitwise_or", "bitwise_or", True, """Elementwise ``x1 | x2``:
    bitwise OR of integers, logical OR of booleans.

    >>> import xpgrad as xg
    >>> xg.bitwise_or(xg.asarray([12, 10]), 1).tolist()
    [13, 11]
    """)
bitwise_xor = _binary("bitwise_xor", "bitwise_xor", True, """Elementwise ``x1 ^ x2``:
    bitwise XOR of integers, logical XOR of booleans.

    >>> import xpgrad as xg
    >>> xg.bitwise_xor(xg.asarray([True, True]), xg.asarray([True, False])).tolist()
    [False, True]
    """)
bitwise_left_shift = _binary("bitwise_left_shift", "bitwise_left_shift", False,
                             """Elementwise ``x1 << x2`` on integers (``x2 >= 0``).

    >>> import xpgrad as xg
    >>> xg.bitwise_left_shift(xg.asarray([1, 3]), 2).tolist()
    [4, 12]
    """)
bitwise_right_shift = _binary("bitwise_right_shift", "bitwise_right_shift", False,
                              """Elementwise ``x1 >> x2`` on integers (``x2 >= 0``),
    arithmetic for signed integers.

    >>> import xpgrad as xg
    >>> xg.bitwise_right_shift(xg.asarray([-8, 12]), 2).tolist()
    [-2, 3]
    """)


def _invert_forward(xp, x):
    _check(xp, x, "bitwise_invert", "x", True)
    return xp.bitwise_invert(x)


_invert = Primitive("bitwise_invert", _invert_forward)


def bitwise_invert(x, /):
    """Elementwise ``~x``: bitwise NOT of integers, logical NOT of booleans.

    >>> import xpgrad as xg
    >>> xg.bitwise_invert(xg.asarray([0, 5], dtype=xg.uint8)).tolist()
    [255, 250]
    """
    return apply(_invert, x)


__all__ = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_invert", "bitwise_left_shift",
           "bitwise_right_shift"]
