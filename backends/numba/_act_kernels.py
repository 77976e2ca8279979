"""Numba loops of the activations, forward and backward side by side, on 1-D arrays.

Loops run over ``range(n)`` of whole arrays (the threaded versions pass slices): an index
that Numba cannot prove non-negative gets a wraparound check, and LLVM then emits gathers.
Their threaded versions ``*_par(..., block)`` run them on blocks of ``block`` entries on all
threads; loops that take the same arguments share one threaded kernel
(``_templates.parallel_family``, made at the end of this file), an integer picking the loop.

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

from ._gelu_math import gelu_lower, gelu_lower_and_slope
from ._math import LOOP_OPTIONS, exp_neg, log1p01, sigmoid
from ._templates import parallel_blocks, parallel_family, pointwise


@njit(**LOOP_OPTIONS)
def sigmoid_fwd(x, out):
    for i in range(out.shape[0]):
        out[i] = sigmoid(x[i])



@njit(**LOOP_OPTIONS)
def sigmoid_bwd(g, s, out):
    one = s.dtype.type(1)
    for i in range(out.shape[0]):
        out[i] = g[i] * s[i] * (one - s[i])



@njit(**LOOP_OPTIONS)
def sigmoid_bwd_in_place(g, s):
    one = s.dtype.type(1)
    for i in range(g.shape[0]):
        g[i] *= s[i] * (one - s[i])



@njit(**LOOP_OPTIONS)
def tanh_bwd(g, y, out):
    one = y.dtype.type(1)
    for i in range(out.shape[0]):
        out[i] = g[i] * (one - y[i] * y[i])



@njit(**LOOP_OPTIONS)
def tanh_bwd_in_place(g, y):
    one = y.dtype.type(1)
    for i in range(g.shape[0]):
        g[i] *= one - y[i] * y[i]



@njit(**LOOP_OPTIONS)
def relu_fwd(x, out):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = zero if x[i] < zero else x[i]       # NaN passes, as in maximum(x, 0)



# ``x`` is the saved output (or the input: the same sign); the gradient passes unless it is
# <= 0, so also at NaN, as in PyTorch and the generic rule
@njit(**LOOP_OPTIONS)
def relu_bwd(g, x, out):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = zero if x[i] <= zero else g[i]



@njit(**LOOP_OPTIONS)
def relu_bwd_in_place(g, x):
    zero = x.dtype.type(0)
    for i in range(g.shape[0]):
        g[i] = zero if x[i] <= zero else g[i]



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



@njit(**LOOP_OPTIONS)
def softplus_bwd(g, x, out):
    # d softplus / dx = sigmoid(x) (the generic rule writes it as -expm1(-softplus(x)))
    for i in range(out.shape[0]):
        out[i] = g[i] * sigmoid(x[i])



@njit(**LOOP_OPTIONS)
def softplus_bwd_in_place(g, x):
    for i in range(g.shape[0]):
        g[i] *= sigmoid(x[i])



# -- silu: the generic rule's formula (ops/activations_torch.py), its limits at +-inf included:
# ``zero if x == -inf else x * cdf`` (0 * -inf is NaN), and the gradient's ``x`` factor 0 at
# +-inf (``finite``), where the derivative of the cdf is 0
@njit(**LOOP_OPTIONS)
def silu_fwd(x, out):
    ninf = x.dtype.type(-np.inf)
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        xi = x[i]
        out[i] = zero if xi == ninf else xi * sigmoid(xi)



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



@njit(**LOOP_OPTIONS)
def silu_bwd_in_place(g, x):
    one, zero, inf = x.dtype.type(1), x.dtype.type(0), x.dtype.type(np.inf)
    for i in range(g.shape[0]):
        g[i] *= _silu_slope(x[i], one, zero, inf)


_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715


# x Phi(x): x Phi(-|x|) at x <= 0 (-0.0 kept), x - x Phi(-x) above; the slope Phi(x) + x phi(x)
# likewise from Phi(-|x|) - |x| phi(x) (_gelu_math: exact in the tails, no cancellation)
@njit(**LOOP_OPTIONS)
def gelu_fwd(x, out):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        xi = x[i]
        lower = gelu_lower(xi)
        out[i] = lower if xi <= zero else xi - lower



# a taped forward: the values and the slopes the backward multiplies the gradient by, in one
# pass about a sixth longer than the values' (a backward loop recomputing them took as long)
@njit(**LOOP_OPTIONS)
def gelu_fwd_slope(x, out, slope):
    zero, one = x.dtype.type(0), x.dtype.type(1)
    for i in range(out.shape[0]):
        xi = x[i]
        lower, d = gelu_lower_and_slope(xi)
        out[i] = lower if xi <= zero else xi - lower
        slope[i] = d if xi <= zero else one - d



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



@njit(**LOOP_OPTIONS)
def gelu_tanh_bwd_in_place(g, x):
    dt = x.dtype.type
    one, zero, two_k, c, big = dt(1), dt(0), dt(2.0 * _TANH_K), dt(_TANH_C), dt(1e4)
    for i in range(g.shape[0]):
        g[i] *= _gelu_tanh_slope(x[i], one, zero, two_k, c, big)



# -- the threaded versions (``*_par``) of the loops above that take the same arguments: one
# Numba kernel per family (``_templates.parallel_family``), compiled once for all of them
globals().update(parallel_family([
    sigmoid_fwd, relu_fwd, softplus_fwd, silu_fwd,
    gelu_fwd, gelu_tanh_fwd], arrays=2, name="act_fwd_par"))
globals().update(parallel_family([
    sigmoid_bwd, tanh_bwd, relu_bwd, softplus_bwd,
    silu_bwd, gelu_fwd_slope, gelu_tanh_bwd], arrays=3, name="act_bwd_par"))
globals().update(parallel_family([
    sigmoid_bwd_in_place, tanh_bwd_in_place, relu_bwd_in_place, softplus_bwd_in_place,
    silu_bwd_in_place, gelu_tanh_bwd_in_place], arrays=2, name="act_bwd_in_place_par"))


# -- the other activations: their scalar functions live in _act_scalars (``POINTWISE``);
# ``pointwise`` makes each one's loops here, so that every loop has a name in this module
from ._act_scalars import POINTWISE  # noqa: E402
for _name, (_value, _grad) in POINTWISE.items():
    globals().update(pointwise(_value, _grad, name=_name, threaded=False))

#: the activations of ``POINTWISE`` by the number of constants their loops take (the tuple
#: ``_activations.KERNELS`` derives from the params): the loops of one count take the same
#: arguments, so one threaded family per count serves forward, backward and in place each
POINTWISE_BY_CONSTANTS = {0: ("mish", "softsign", "log_sigmoid", "hardsigmoid", "hardswish"),
                          2: ("hardtanh", "softplus_beta"), 4: ("elu",)}
assert sorted(sum(POINTWISE_BY_CONSTANTS.values(), ())) == sorted(POINTWISE)
for _count, _names in POINTWISE_BY_CONSTANTS.items():
    for _suffix, _arrays in (("fwd", 2), ("bwd", 3), ("bwd_in_place", 2)):
        globals().update(parallel_family([globals()[f"{n}_{_suffix}"] for n in _names],
                                         arrays=_arrays, name=f"pointwise{_count}_{_suffix}_par"))
