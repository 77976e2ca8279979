"""The scalar value and gradient functions of the activations whose loops
``_templates.pointwise`` makes (``POINTWISE``); ``_act_kernels`` turns each pair into its
``<name>_fwd``/``_bwd``/``_bwd_in_place`` loops and their threaded ``*_par`` versions.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._math import LOOP_OPTIONS, exp_neg, expm1_neg, log1p01, sigmoid

# -- the other activations: a scalar value and gradient each, whose loops ``pointwise`` makes
# (``_templates.POINTWISE_*``); ``c`` holds the constants _activations derives from the params
# (``_activations.KERNELS``), in x's dtype. The scalar functions are inlined by Numba itself
# (``SCALAR_OPTIONS``): left to LLVM's inliner, the larger float64 ones (mish, softplus with
# beta) stayed calls, and their loops did not vectorize. Each follows the generic rule
# (ops/activations.py, activations_torch.py), its branches and limits included.
SCALAR_OPTIONS = {**LOOP_OPTIONS, "inline": "always"}


@njit(**SCALAR_OPTIONS)
def _elu_value(x, dt, c):
    # c: scale * alpha, scale, scale * alpha * input_scale, input_scale (> 0: expm1_neg's domain)
    coef, scale, _, input_scale = c
    z = (x if x < dt(0) else dt(0)) * input_scale
    return coef * expm1_neg(z) if x <= dt(0) else scale * x     # NaN: scale * x, as the rule


@njit(**SCALAR_OPTIONS)
def _elu_grad(g, x, dt, c):
    _, scale, slope_coef, input_scale = c
    z = (x if x < dt(0) else dt(0)) * input_scale
    return g * (slope_coef * exp_neg(z)) if x <= dt(0) else g * scale


@njit(**SCALAR_OPTIONS)
def _mish_parts(x, dt):
    """``tanh(softplus(x))``, ``1 - tanh(softplus(x))**2`` and ``sigmoid(x)``, from ``e =
    exp(-|x|)`` alone: with ``n = e**x (e**x + 2)``, ``tanh(softplus(x)) = n / (n + 2)``; for
    x >= 0 numerator and denominator are divided by ``e**(2x)``, so nothing overflows and
    ``1 - t = rest / (n + rest)`` is free of cancellation."""
    e = exp_neg(-abs(x))
    two = dt(2)
    positive = x >= dt(0)
    num = dt(1) + two * e if positive else e * (e + two)
    rest = two * e * e if positive else two
    inv = dt(1) / (num + rest)
    t = num * inv
    r = dt(1) / (dt(1) + e)
    return t, rest * (num + num + rest) * inv * inv, r if positive else e * r


@njit(**SCALAR_OPTIONS)
def _mish_value(x, dt, c):
    t, _, _ = _mish_parts(x, dt)
    return dt(0) if x == dt(-np.inf) else x * t


@njit(**SCALAR_OPTIONS)
def _mish_grad(g, x, dt, c):
    t, sech2, s = _mish_parts(x, dt)
    # beyond |x| = 1e4, sech2 * s is 0: x is dropped there (also at +-inf), so that no
    # reassociated product of x and the factors can overflow
    xs = x if abs(x) < dt(1e4) else dt(0)
    return g * (t + xs * (sech2 * s))


@njit(**SCALAR_OPTIONS)
def _softsign_value(x, dt, c):
    y = x / (dt(1) + abs(x))
    return dt(1) if x == dt(np.inf) else (dt(-1) if x == dt(-np.inf) else y)


@njit(**SCALAR_OPTIONS)
def _softsign_grad(g, x, dt, c):
    d = dt(1) + abs(x)
    return g / d / d                        # not / d**2, which overflows first


@njit(**SCALAR_OPTIONS)
def _log_sigmoid_value(x, dt, c):
    return (x if x < dt(0) else dt(0)) - log1p01(exp_neg(-abs(x)))


# ``y`` is the saved output: sigmoid(-x) = 1 - exp(log_sigmoid(x)) = -expm1(y), y <= 0, within
# an ulp of y's own error (d log(-expm1(y)) / d log(-y) <= 1)
@njit(**SCALAR_OPTIONS)
def _log_sigmoid_grad(g, y, dt, c):
    return g * -expm1_neg(y)


@njit(**SCALAR_OPTIONS)
def _hardtanh_value(x, dt, c):
    low, high = c
    return low if x < low else (high if x > high else x)        # NaN passes, as in clip


# ``y`` is the saved output: clipped, it is > low (< high) exactly where x is; NaN gets 0
@njit(**SCALAR_OPTIONS)
def _hardtanh_grad(g, y, dt, c):
    low, high = c
    return g if (y > low) & (y < high) else dt(0)


@njit(**SCALAR_OPTIONS)
def _hardsigmoid_value(x, dt, c):
    z = x + dt(3)
    z = dt(0) if z < dt(0) else (dt(6) if z > dt(6) else z)
    return z / dt(6)


@njit(**SCALAR_OPTIONS)
def _hardsigmoid_grad(g, x, dt, c):
    return g / dt(6) if (x > dt(-3)) & (x < dt(3)) else dt(0)


@njit(**SCALAR_OPTIONS)
def _clip3(x, dt):
    return dt(-3) if x < dt(-3) else (dt(3) if x > dt(3) else x)


@njit(**SCALAR_OPTIONS)
def _hardswish_value(x, dt, c):
    xc = _clip3(x, dt)                      # no overflow in the unused branch
    inner = xc * (xc + dt(3)) / dt(6)
    return dt(0) if x <= dt(-3) else (x if x >= dt(3) else inner)


@njit(**SCALAR_OPTIONS)
def _hardswish_grad(g, x, dt, c):
    slope = _clip3(x, dt) / dt(3) + dt(0.5)
    return dt(0) if x <= dt(-3) else (g * slope if x < dt(3) else g)


@njit(**SCALAR_OPTIONS)
def _softplus_beta_value(x, dt, c):
    # c: beta, threshold (+inf for none)
    beta, threshold = c
    z = beta * x
    y = ((z if z > dt(0) else dt(0)) + log1p01(exp_neg(-abs(z)))) / beta
    return x if z > threshold else y


@njit(**SCALAR_OPTIONS)
def _softplus_beta_grad(g, x, dt, c):
    beta, threshold = c
    z = beta * x
    return g if z > threshold else g * sigmoid(z)


#: activation -> its scalar value and gradient; each gets the loops ``<name>_fwd``,
#: ``<name>_bwd``, ``<name>_bwd_in_place`` and their ``*_par``, made here
POINTWISE = {
    "elu": (_elu_value, _elu_grad),
    "mish": (_mish_value, _mish_grad),
    "softsign": (_softsign_value, _softsign_grad),
    "log_sigmoid": (_log_sigmoid_value, _log_sigmoid_grad),
    "hardtanh": (_hardtanh_value, _hardtanh_grad),
    "hardsigmoid": (_hardsigmoid_value, _hardsigmoid_grad),
    "hardswish": (_hardswish_value, _hardswish_grad),
    "softplus_beta": (_softplus_beta_value, _softplus_beta_grad),
}
