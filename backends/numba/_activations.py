"""Kernels (forward + vjp) of the activations for the Numba backend.

Forward and backward are one pass each; the backward needs only the saved output (sigmoid,
tanh, relu, log_sigmoid, hardtanh) or the input (the others), whichever gives the exact
gradient more cheaply; exact gelu's taped forward saves its slopes instead (``_gelu``).
``tanh``'s forward is NumPy's own SIMD tanh, which measured faster than a Numba polynomial;
its backward is fused here. Other dtypes than float32/float64 fall back to
the generic rule. The loops of elu (selu, celu), mish, softsign, log_sigmoid, hardtanh (relu6),
hardsigmoid, hardswish and softplus with beta/threshold are made from one scalar value and
gradient function each (``_act_kernels.POINTWISE``).

>>> import numpy as np
>>> x = np.array([-1.0, 2.0], np.float32)
>>> out, saved = KERNELS["relu"].forward(x)
>>> out.tolist(), KERNELS["relu"].vjp(np.ones(2, np.float32), saved, x)[0].tolist()
([0.0, 2.0], [0.0, 1.0])
"""
from __future__ import annotations

import math

import numpy as np

from xpgrad.backend import Kernel

from . import _act_kernels as loops
from ._config import run_by_size
from ._losses import FLOATS, _flat


def _activation(name, *, save_output, numpy_forward=None, param=None, constants=None):
    """A Kernel for ``y = f(x[, param])`` with ``dx = bwd(g, y or x[, param])``: the loops
    ``<name>_fwd`` (unless ``numpy_forward``) and ``<name>_bwd`` of ``_act_kernels``, and their
    threaded versions ``*_par``. The loops take ``param`` (its value in x's dtype) last, or, for
    the loops ``pointwise`` made, the tuple ``constants(**params)`` in x's dtype; where that is
    None, or a finite constant overflows the dtype, the kernel declines (the generic rule runs).
    """
    fwd = fwd_par = None
    if numpy_forward is None:
        fwd, fwd_par = getattr(loops, f"{name}_fwd"), getattr(loops, f"{name}_fwd_par")
    bwd, bwd_par = getattr(loops, f"{name}_bwd"), getattr(loops, f"{name}_bwd_par")
    bwd_in_place = getattr(loops, f"{name}_bwd_in_place")
    bwd_in_place_par = getattr(loops, f"{name}_bwd_in_place_par")

    def extra(dt, params):
        """The loops' last arguments for ``params`` in dtype ``dt``; None to decline."""
        if param is not None:
            return (dt.type(params[param]),)
        if constants is None:
            return ()
        return _typed(constants(**params), dt)

    def forward(x, **params):
        dt = x.dtype
        if dt not in FLOATS:
            return None
        if numpy_forward is not None:
            out = numpy_forward(x)
        else:
            more = extra(dt, params)
            if more is None:
                return None
            xf = _flat(x)
            n = xf.shape[0]
            out = np.empty(n, dt)
            run_by_size(fwd, fwd_par, n, xf, out, *more)
            out = out.reshape(x.shape)
        return out, (out if save_output else None)

    def backward(g, saved, x, params, in_place):
        dt = x.dtype
        more = () if param is None and constants is None else extra(np.dtype(dt), params)
        shape = x.shape
        if g.dtype != dt or g.shape != shape or more is None:
            return (NotImplemented,)
        other = saved if save_output else x
        if len(shape) == 1 and g.flags.c_contiguous and other.flags.c_contiguous:
            gf = g                  # already flat: no views to make and undo (small arrays)
        else:
            gf, other = _flat(g), _flat(other)
        n = gf.shape[0]
        if in_place:            # its own loop: see _act_kernels' docstring
            run_by_size(bwd_in_place, bwd_in_place_par, n, gf, other, *more)
            return (g if gf is g else gf.reshape(shape),)
        dx = np.empty(n, dt)
        run_by_size(bwd, bwd_par, n, gf, other, dx, *more)
        return (dx if gf is g else dx.reshape(shape),)

    def vjp(g, saved, x, **params):
        return backward(g, saved, x, params, False)

    def vjp_in_place(g, saved, x, **params):
        return backward(g, saved, x, params, True)

    # the backward reads the saved output (or the input): the tape keeps nothing else
    return Kernel(forward, vjp, saves=() if save_output else (0,), vjp_in_place=vjp_in_place)


def _typed(values, dt):
    """``(tuple(values in dtype dt),)``; None if ``values`` is None or a finite one overflows.
    Remembered per (values, dtype): converting under ``np.errstate`` costs more than a small
    array's loop."""
    if values is None:
        return None
    if not values:
        return _NO_VALUES
    key = (dt, values)
    if 0.0 in values:           # 0.0 == -0.0: the signs are part of the key
        key = (dt, values, tuple(math.copysign(1.0, v) for v in values))
    typed = _TYPED.get(key, _UNSEEN)
    if typed is _UNSEEN:
        with np.errstate(over="ignore"):
            typed = tuple(dt.type(v) for v in values)
        typed = None if any(np.isinf(t) and np.isfinite(v) for t, v in zip(typed, values)) \
            else (typed,)
        if len(_TYPED) < 256:   # NaN keys never match: the table stays bounded
            _TYPED[key] = typed
    return typed


_NO_VALUES = ((),)
_UNSEEN = object()
_TYPED: dict = {}


def _elu_constants(alpha, scale, input_scale):
    """The elu loops' constants, computed as the generic rule does (in Python floats); celu
    with alpha < 0 (input_scale < 0) is left to the generic rule."""
    if not input_scale > 0:
        return None
    return (scale * alpha, scale, scale * alpha * input_scale, input_scale)


def _softplus_beta_constants(beta, threshold):
    return (beta, math.inf if threshold is None else threshold)


def _no_constants():
    return ()


def _gelu():
    """gelu's Kernel. ``approximate="none"``: where no tape records (``value``) the loop
    ``gelu_fwd``; where one does, ``gelu_fwd_slope``, whose saved slopes make the backward one
    product (no second pass over the error function; x itself is not kept). ``"tanh"``: the
    loops ``gelu_tanh_*``, x saved. The closures hold the tanh form's functions themselves (not
    its Kernel), where ``_background.kernel_loops`` finds their loops."""
    tanh_form = _activation("gelu_tanh", save_output=False)
    tanh_forward, tanh_vjp, tanh_in_place = (tanh_form.forward, tanh_form.vjp,
                                             tanh_form.vjp_in_place)

    def value(x, approximate="none"):
        return tanh_forward(x) if approximate == "tanh" else _gelu_exact(x, False)

    def forward(x, approximate="none"):
        if approximate != "tanh":
            return _gelu_exact(x, True)
        res = tanh_forward(x)
        return None if res is None else (res[0], x)

    def vjp(g, saved, x, approximate="none"):
        if approximate == "tanh":
            return tanh_vjp(g, None, saved)
        return (g * saved,)

    def vjp_in_place(g, saved, x, approximate="none"):
        if approximate == "tanh":
            return tanh_in_place(g, None, saved)
        if g.dtype != saved.dtype or g.shape != saved.shape:
            return (g * saved,)
        return (np.multiply(g, saved, out=g),)

    return Kernel(forward, vjp, saves=(), vjp_in_place=vjp_in_place, value=value)


def _gelu_exact(x, taped):
    """``(gelu(x), slopes if taped else None)``; None for other dtypes than float32/float64."""
    dt = x.dtype
    if dt not in FLOATS:
        return None
    xf = _flat(x)
    n = xf.shape[0]
    out = np.empty(n, dt)
    if not taped:
        run_by_size(loops.gelu_fwd, loops.gelu_fwd_par, n, xf, out)
        return out.reshape(x.shape), None
    slope = np.empty(n, dt)
    run_by_size(loops.gelu_fwd_slope, loops.gelu_fwd_slope_par, n, xf, out, slope)
    return out.reshape(x.shape), slope.reshape(x.shape)


KERNELS = {
    "sigmoid": _activation("sigmoid", save_output=True),
    "tanh": _activation("tanh", save_output=True, numpy_forward=np.tanh),
    # y <= 0 exactly where x <= 0 (NaN and -0.0 included): the mask is read from the output
    "relu": _activation("relu", save_output=True),
    "leaky_relu": _activation("leaky_relu", save_output=False, param="negative_slope"),
    "softplus": _activation("softplus", save_output=False),
    "silu": _activation("silu", save_output=False),
    "gelu": _gelu(),
    "elu": _activation("elu", save_output=False, constants=_elu_constants),
    "mish": _activation("mish", save_output=False, constants=_no_constants),
    "softsign": _activation("softsign", save_output=False, constants=_no_constants),
    "log_sigmoid": _activation("log_sigmoid", save_output=True, constants=_no_constants),
    # clipped, the output is <= min_val (>= max_val) exactly where x is
    "hardtanh": _activation("hardtanh", save_output=True,
                            constants=lambda min_val, max_val: (min_val, max_val)),
    "hardsigmoid": _activation("hardsigmoid", save_output=False, constants=_no_constants),
    "hardswish": _activation("hardswish", save_output=False, constants=_no_constants),
    "softplus_beta": _activation("softplus_beta", save_output=False,
                                 constants=_softplus_beta_constants),
}
