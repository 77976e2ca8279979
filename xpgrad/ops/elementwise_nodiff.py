"""Elementwise functions without a gradient (never recorded): rounding (floor, ceil, round,
trunc), tests (signbit, isnan, isinf, isfinite), comparisons and logical operations;
``elementwise.py`` re-exports them.

>>> import xpgrad as xg
>>> xg.less(xg.asarray([1.0, 3.0]), 2.0).tolist(), xg.round(xg.asarray(2.5)).item()
([True, False], 2.0)
"""
from __future__ import annotations

from ._define import binary, unary
from .elementwise_dtypes import _inexact, _numeric


# -- without a gradient (never recorded) ------------------------------------------------------
floor = unary("floor", lambda xp, x: xp.floor(x), doc="Elementwise floor (no gradient).")
ceil = unary("ceil", lambda xp, x: xp.ceil(x), doc="Elementwise ceiling (no gradient).")
round = unary("round", lambda xp, x: xp.round(_numeric(x, "round")),
              doc="Round half to even (no gradient).")
trunc = unary("trunc", lambda xp, x: xp.trunc(x), doc="Round toward zero (no gradient).")
signbit = unary("signbit", lambda xp, x: xp.signbit(_inexact(xp, x)),
                doc="Elementwise: whether the sign bit is set (also for -0.0 and -nan).",
                example="[-0.0, 2.0]")
isnan = unary("isnan", lambda xp, x: xp.isnan(x))
isinf = unary("isinf", lambda xp, x: xp.isinf(x))
isfinite = unary("isfinite", lambda xp, x: xp.isfinite(x))
logical_not = unary("logical_not", lambda xp, x: xp.logical_not(x), example="[True, False]")

equal = binary("equal", lambda xp, x, y: xp.equal(x, y), nodiff=True)
not_equal = binary("not_equal", lambda xp, x, y: xp.not_equal(x, y), nodiff=True)
less = binary("less", lambda xp, x, y: xp.less(x, y), nodiff=True)
less_equal = binary("less_equal", lambda xp, x, y: xp.less_equal(x, y), nodiff=True)
greater = binary("greater", lambda xp, x, y: xp.greater(x, y), nodiff=True)
greater_equal = binary("greater_equal", lambda xp, x, y: xp.greater_equal(x, y), nodiff=True)
logical_and = binary("logical_and", lambda xp, x, y: xp.logical_and(x, y), nodiff=True)
logical_or = binary("logical_or", lambda xp, x, y: xp.logical_or(x, y), nodiff=True)
logical_xor = binary("logical_xor", lambda xp, x, y: xp.logical_xor(x, y), nodiff=True)
