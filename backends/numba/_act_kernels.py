"""Numba loops of the activations, forward and backward side by side, on 1-D arrays.

Loops run over ``range(n)`` of whole arrays (the threaded versions pass slices): an index
that Numba cannot prove non-negative gets a wraparound check, and LLVM then emits gathers.
Below each loop, its threaded version ``*_par(..., block)`` (``_templates.parallel_blocks``)
runs it on blocks of ``block`` entries on all threads.

Each backward has a twin ``*_bwd_in_place(g, ...)`` that writes into ``g`` (the tape's
``vjp_in_place``). Passing ``g`` as the ordinary loop's ``out`` is not the same: LLVM vectorizes
a loop behind a runtime check that its output overlaps none of its inputs, and with ``out is g``
that check fails every time, so the scalar loop runs. For ReLU that loop branches on the sign
of each entry: 2^20 float32 entries took 4.5 ms instead of 0.1 ms.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._math import LOOP_OPTIONS, erfc, exp_neg, expm1_neg, log1p01, sigmoid
from ._templates import parallel_blocks, pointwise


@njit(**LOOP_OPTIONS)
def sigmoid_fwd(x, out):
    for i in range(out.shape[0]):
        out[i] = sigmoid(x[i])


sigmoid_fwd_par = parallel_blocks(sigmoid_fwd, arrays=2)


@njit(**LOOP_OPTIONS)
def sigmoid_bwd(g, s, out):
    one = s.dtype.type(1)
    for i in range(out.shape[0]):
        out[i] = g[i] * s[i] * (one - s[i])


sigmoid_bwd_par = parallel_blocks(sigmoid_bwd, arrays=3)


@njit(**LOOP_OPTIONS)
def sigmoid_bwd_in_place(g, s):
    one = s.dtype.type(1)
    for i in range(g.shape[0]):
        g[i] *= s[i] * (one - s[i])


sigmoid_bwd_in_place_par = parallel_blocks(sigmoid_bwd_in_place, arrays=2)


@njit(**LOOP_OPTIONS)
def tanh_bwd(g, y, out):
    one = y.dtype.type(1)
    for i in range(out.shape[0]):
        out[i] = g[i] * (one - y[i] * y[i])


tanh_bwd_par = parallel_blocks(tanh_bwd, arrays=3)


@njit(**LOOP_OPTIONS)
def tanh_bwd_in_place(g, y):
    one = y.dtype.type(1)
    for i in range(g.shape[0]):
        g[i] *= one - y[i] * y[i]


tanh_bwd_in_place_par = parallel_blocks(tanh_bwd_in_place, arrays=2)


@njit(**LOOP_OPTIONS)
def relu_fwd(x, out):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = zero if x[i] < zero else x[i]       # NaN passes, as in maximum(x, 0)


relu_fwd_par = parallel_blocks(relu_fwd, arrays=2)


# ``x`` is the saved output (or the input: the same sign); the gradient passes unless it is
# <= 0, so also at NaN, as in PyTorch and the generic rule
@njit(**LOOP_OPTIONS)
def relu_bwd(g, x, out):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = zero if x[i] <= zero else g[i]


relu_bwd_par = parallel_blocks(relu_bwd, arrays=3)


@njit(**LOOP_OPTIONS)
def relu_bwd_in_place(g, x):
    zero = x.dtype.type(0)
    for i in range(g.shape[0]):
        g[i] = zero if x[i] <= zero else g[i]


relu_bwd_in_place_par = parallel_blocks(relu_bwd_in_place, arrays=2)


@njit(**LOOP_OPTIONS)
def leaky_relu_fwd(x, out, slope):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = x[i] if x[i] >= zero else x[i] * slope


leaky_relu_fwd_par = parallel_blocks(leaky_relu_fwd, arrays=2)


@njit(**LOOP_OPTIONS)
def leaky_relu_bwd(g, x, out, slope):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = g[i] if x[i] > zero else g[i] * slope


leaky_relu_bwd_par = parallel_blocks(leaky_relu_bwd, arrays=3)


@njit(**LOOP_OPTIONS)
def leaky_relu_bwd_in_place(g, x, slope):
    zero = x.dtype.type(0)
    for i in range(g.shape[0]):
        g[i] = g[i] if x[i] > zero else g[i] * slope


leaky_relu_bwd_in_place_par = parallel_blocks(leaky_relu_bwd_in_place, arrays=2)


@njit(**LOOP_OPTIONS)
def softplus_fwd(x, out):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        xi = x[i]
        out[i] = (xi if xi > zero else zero) + log1p01(exp_neg(-abs(xi)))


softplus_fwd_par = parallel_blocks(softplus_fwd, arrays=2)


@njit(**LOOP_OPTIONS)
def softplus_bwd(g, x, out):
    # d softplus / dx = sigmoid(x) (the generic rule writes it as -expm1(-softplus(x)))
    for i in range(out.shape[0]):
        out[i] = g[i] * sigmoid(x[i])


softplus_bwd_par = parallel_blocks(softplus_bwd, arrays=3)


@njit(**LOOP_OPTIONS)
def softplus_bwd_in_place(g, x):
    for i in range(g.shape[0]):
        g[i] *= sigmoid(x[i])


softplus_bwd_in_place_par = parallel_blocks(softplus_bwd_in_place, arrays=2)


# -- silu, gelu: the generic rules' formulas (ops/activations.py), their limits at +-inf included:
# ``zero if x == -inf else x * cdf`` (0 * -inf is NaN), and the gradient's ``x`` factor 0 at
# +-inf (``finite``), where the derivative of the cdf is 0
@njit(**LOOP_OPTIONS)
def silu_fwd(x, out):
    ninf = x.dtype.type(-np.inf)
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        xi = x[i]
        out[i] = zero if xi == ninf else xi * sigmoid(xi)


silu_fwd_par = parallel_blocks(silu_fwd, arrays=2)


@njit(inline="always", **LOOP_OPTIONS)
def _silu_slope(xi, one, zero, inf):
    # sigmoid(x) (1 + x sigmoid(-x)): the complement without cancellation
    e = exp_neg(-abs(xi))
    r = one / (one + e)
    s, c = (r, e * r) if xi >= zero else (e * r, r)
    finite = xi if abs(xi) < inf else zero
    return s * (one + finite * c)


@njit(**LOOP_OPTIONS)
def silu_bwd(g, x, out):
    one, zero, inf = x.dtype.type(1), x.dtype.type(0), x.dtype.type(np.inf)
    for i in range(out.shape[0]):
        out[i] = g[i] * _silu_slope(x[i], one, zero, inf)


silu_bwd_par = parallel_blocks(silu_bwd, arrays=3)


@njit(**LOOP_OPTIONS)
def silu_bwd_in_place(g, x):
    one, zero, inf = x.dtype.type(1), x.dtype.type(0), x.dtype.type(np.inf)
    for i in range(g.shape[0]):
        g[i] *= _silu_slope(x[i], one, zero, inf)


silu_bwd_in_place_par = parallel_blocks(silu_bwd_in_place, arrays=2)

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715


@njit(**LOOP_OPTIONS)
def gelu_fwd(x, out):
    # x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2
    ninf, zero = x.dtype.type(-np.inf), x.dtype.type(0)
    half, root_half = x.dtype.type(0.5), x.dtype.type(_SQRT_HALF)
    for i in range(out.shape[0]):
        xi = x[i]
        out[i] = zero if xi == ninf else xi * (half * erfc(-root_half * xi))


gelu_fwd_par = parallel_blocks(gelu_fwd, arrays=2)


@njit(inline="always", **LOOP_OPTIONS)
def _gelu_slope(xi, zero, inf, half, root_half, pdf_scale, cap):
    # Phi(x) + x phi(x); |x| capped at 40 in phi's exponent (exp(-800) is 0: no overflow)
    cdf = half * erfc(-root_half * xi)
    finite = xi if abs(xi) < inf else zero
    xc = abs(xi)
    xc = cap if xc > cap else xc
    return cdf + finite * (pdf_scale * exp_neg(-half * xc * xc))


@njit(**LOOP_OPTIONS)
def gelu_bwd(g, x, out):
    dt = x.dtype.type
    zero, inf, half, root_half = dt(0), dt(np.inf), dt(0.5), dt(_SQRT_HALF)
    pdf_scale, cap = dt(_INV_SQRT_2PI), dt(40)
    for i in range(out.shape[0]):
        out[i] = g[i] * _gelu_slope(x[i], zero, inf, half, root_half, pdf_scale, cap)


gelu_bwd_par = parallel_blocks(gelu_bwd, arrays=3)


@njit(**LOOP_OPTIONS)
def gelu_bwd_in_place(g, x):
    dt = x.dtype.type
    zero, inf, half, root_half = dt(0), dt(np.inf), dt(0.5), dt(_SQRT_HALF)
    pdf_scale, cap = dt(_INV_SQRT_2PI), dt(40)
    for i in range(g.shape[0]):
        g[i] *= _gelu_slope(x[i], zero, inf, half, root_half, pdf_scale, cap)


gelu_bwd_in_place_par = parallel_blocks(gelu_bwd_in_place, arrays=2)


@njit(inline="always", **LOOP_OPTIONS)
def _tanh_argument(xi, two_k, c, big):
    """2u, u = sqrt(2/pi) (x + 0.044715 x**3), x clipped to +-1e4 (no x**3 overflow)."""
    xc = big if xi > big else (-big if xi < -big else xi)
    return two_k * (xc + c * xc * xc * xc)


@njit(**LOOP_OPTIONS)
def gelu_tanh_fwd(x, out):
    # x (1 + tanh(u)) / 2 = x sigmoid(2u)
    dt = x.dtype.type
    ninf, zero, two_k, c, big = dt(-np.inf), dt(0), dt(2.0 * _TANH_K), dt(_TANH_C), dt(1e4)
    for i in range(out.shape[0]):
        xi = x[i]
        out[i] = zero if xi == ninf else xi * sigmoid(_tanh_argument(xi, two_k, c, big))


gelu_tanh_fwd_par = parallel_blocks(gelu_tanh_fwd, arrays=2)


@njit(inline="always", **LOOP_OPTIONS)
def _gelu_tanh_slope(xi, one, zero, two_k, c, big):
    # sigmoid(2u) + x 2 sigmoid(2u) sigmoid(-2u) u'; beyond |x| = 1e4, sech(u)**2 is 0
    a = _tanh_argument(xi, two_k, c, big)
    e = exp_neg(-abs(a))
    r = one / (one + e)
    s, comp = (r, e * r) if a >= zero else (e * r, r)
    xs = xi if abs(xi) < big else zero
    three_c = c + c + c
    return s + xs * (s * comp * two_k * (one + three_c * xs * xs))


@njit(**LOOP_OPTIONS)
def gelu_tanh_bwd(g, x, out):
    dt = x.dtype.type
    one, zero, two_k, c, big = dt(1), dt(0), dt(2.0 * _TANH_K), dt(_TANH_C), dt(1e4)
    for i in range(out.shape[0]):
        out[i] = g[i] * _gelu_tanh_slope(x[i], one, zero, two_k, c, big)


gelu_tanh_bwd_par = parallel_blocks(gelu_tanh_bwd, arrays=3)


@njit(**LOOP_OPTIONS)
def gelu_tanh_bwd_in_place(g, x):
    dt = x.dtype.type
    one, zero, two_k, c, big = dt(1), dt(0), dt(2.0 * _TANH_K), dt(_TANH_C), dt(1e4)
    for i in range(g.shape[0]):
        g[i] *= _gelu_tanh_slope(x[i], one, zero, two_k, c, big)


gelu_tanh_bwd_in_place_par = parallel_blocks(gelu_tanh_bwd_in_place, arrays=2)


# -- the other activations: a scalar value and gradient each, whose loops ``pointwise`` makes
# (``_templates.POINTWISE_*``); ``c`` holds the constants _activations derives from the params
# (``_activations.KERNELS``), in x's dtype. The scalar functions are inlined by Numba itself
# (``SCALAR_OPTIONS``): left to LLVM's inliner, the larger float64 ones (mish, softplus with
# beta) stayed calls, and their loops did not vectorize. Each follows the generic rule
# (ops/activations.py), its branches and limits included.
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


# ``y`` is the saved output: clipped, it is <= low (>= high) exactly where x is
@njit(**SCALAR_OPTIONS)
def _hardtanh_grad(g, y, dt, c):
    low, high = c
    return dt(0) if (y <= low) | (y >= high) else g


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
for _name, (_value, _grad) in POINTWISE.items():
    globals().update(pointwise(_value, _grad, name=_name))
