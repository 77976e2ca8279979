"""``xg.special``'s forwards as Numba loops: each entry through the generic formula's own
algorithm (``xpgrad.ops.special_formulas``: its constants, series, reflections and Newton
steps), as scalar code, in float64 (a float32 input's result rounded, as the generic forward
does). The generic formulas take every branch of every ``where`` over the whole array, some
400 passes for ``ndtri``; here each entry takes its own branch once. ``erf``, ``erfc``,
``ndtr``, ``erfinv`` and ``ndtri`` take vectorized loops instead, ``_erf64``'s in float64 (Cody's
rational approximations; the scalar ``_erfinv``/``_ndtri`` only for what their fits leave, far
out), ``_erf32``'s in float32, and these five have compiled vjp loops (``c exp(-+s v**2)``) in
both dtypes; ``log_ndtr`` and ``erfcx`` are ``_erf64``'s loops in float64 (a float32 input's
result rounded), with compiled vjps (``phi / Phi``, ``erfcx'``). ``gammaln`` and ``digamma``
run SciPy's ufuncs where SciPy is importable (faster than their loops here) and the NumPy
backend's vjps (``_gamma_kernel``). Other dtypes decline.

>>> import numpy as np
>>> out, _ = KERNELS["special_gammaln"].forward(np.array([0.5, 1.0, 10.0]))
>>> [round(v, 12) for v in out.tolist()]
[0.572364942925, 0.0, 12.801827480081]
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from xpgrad.backend import Kernel
from xpgrad.ops import formulas
from xpgrad.ops import special_formulas as sf

from . import _erf32, _erf64
from ._erf32 import erf32_loop, erfc32_loop, erfinv32_loop, ndtr32_loop, ndtri32_loop
from ._erf64 import (erf64_loop, erfc64_loop, erfcx64_loop, erfcx_vjp_loop, erfinv64_loop,
                     log_ndtr64_loop, log_ndtr_vjp_loop, ndtr64_loop, ndtri64_loop)
from ._math import LOOP_OPTIONS, exp_neg


_SCALAR = {"error_model": "numpy", "cache": True}      # NumPy's errors: inf/NaN, no raise
_ERFC = np.array(formulas._ERFC_COEFFS)
_L1, _L2 = np.array(sf._LGAMMA_AT_1), np.array(sf._LGAMMA_AT_2)
_STIRLING = np.array(sf._STIRLING_TERMS)
_PSI_TERMS = np.array([b / (2 * j) for j, b in enumerate(sf._BERNOULLI[:9], 1)])
_PSI_TAYLOR = np.array(sf._PSI_ROOT_TAYLOR)
_ROOT, _ROOT_LOW = sf._PSI_ROOT
_SHIFT = sf._SHIFT
_SQRT_HALF, _SQRT_2 = sf._SQRT_HALF, math.sqrt(2.0)
_LOG_PI, _LOG_2, _HALF_LOG_2PI = math.log(math.pi), math.log(2.0), sf._HALF_LOG_2PI
_SMALLEST_NORMAL = 2.2250738585072014e-308          # float64's
_ERFINV_NEAR, _ERFINV_FAR = np.array(_erf32.ERFINV_NEAR), np.array(_erf32.ERFINV_FAR)
#: where the float32 fits of erfinv switch and end: log(1 - a**2) of -5, and of float32's
#: largest number below 1
_ERFINV_SPLIT, _ERFINV_FAR_END = -5.0, -15.9


@njit(**_SCALAR)
def _horner(coeffs, x):
    acc = coeffs[-1]
    for i in range(len(coeffs) - 2, -1, -1):
        acc = acc * x + coeffs[i]
    return acc


@njit(**_SCALAR)
def _erfc_exponent(t):
    """``formulas.erfc_exponent``: Clenshaw's recurrence over erfc's fitted coefficients."""
    ty = 4.0 * t - 2.0
    d = dd = 0.0
    for i in range(len(_ERFC) - 1, 0, -1):
        d, dd = ty * d - dd + _ERFC[i], d
    return 0.5 * (_ERFC[0] + ty * d) - dd


@njit(**_SCALAR)
def _log_ndtr(x):
    if x < 0:
        z = -x * _SQRT_HALF
        t = 2.0 / (2.0 + z)
        return math.log(t) - z * z + _erfc_exponent(t) - _LOG_2
    return math.log1p(-0.5 * math.erfc(x * _SQRT_HALF))


@njit(**_SCALAR)
def _ndtr_hazard(x):
    if x < 0:
        t = 2.0 / (2.0 - x * _SQRT_HALF)
        return math.sqrt(2.0 / math.pi) / (t * math.exp(_erfc_exponent(t)))
    return math.exp(-0.5 * x * x) / (math.sqrt(2.0 * math.pi)
                                     * (1.0 - 0.5 * math.erfc(x * _SQRT_HALF)))


@njit(**_SCALAR)
def _erfinv_start(a, log_1ma2):
    """erfinv(a) within 1.2e-7 relative where ``log_1ma2 = log(1 - a**2)`` is above -15.9 (the
    float32 fits of ``_erf32``), else Winitzki's closed form (within 2e-3); and the number of
    Halley steps that take it to float64's rounding (1 or 3: from Winitzki's 0.009 at y = 1 -
    2**-53, Halley's steps leave 1e-5, then 1.2e-14, 12 ulp)."""
    if log_1ma2 >= _ERFINV_SPLIT:
        return a * _horner(_ERFINV_NEAR, log_1ma2 + 2.5), 1
    if log_1ma2 >= _ERFINV_FAR_END:
        return a * _horner(_ERFINV_FAR, math.sqrt(-log_1ma2) - 3.0), 1
    k = 2.0 / (math.pi * 0.147) + 0.5 * log_1ma2
    return math.sqrt(math.sqrt(k * k - log_1ma2 / 0.147) - k), 3


@njit(**_SCALAR)
def _erfinv(y):
    """``erfinv(y)``: a start within 1.2e-7 (``_erfinv_start``), then Halley's steps on
    ``erf(x) = |y|`` (on ``erfc(x) = 1 - |y|`` from 0.5 on), by ``_erf64``'s erf and erfc
    (Numba's ``math.erfc`` left 12 ulp at 1 - 2**-53)."""
    a = abs(y)
    if not a < 1.0:
        return math.copysign(math.inf, y) if a == 1.0 else math.nan
    if y == 0:
        return y
    x, steps = _erfinv_start(a, math.log1p(-a) + math.log1p(a))
    for _ in range(steps):
        residual = _erf64.erf64(x) - a if a < 0.5 else (1.0 - a) - _erf64.erfc64(x)
        step = residual / ((2.0 / math.sqrt(math.pi)) * math.exp(-x * x))
        x = x - step / (1.0 + x * step)
    return -x if y < 0 else x


@njit(**_SCALAR)
def _ndtri(p):
    """``special_more._ndtri``: erfinv in the middle, Newton on log Phi in the tails."""
    if not 0.0 <= p <= 1.0:
        return math.nan
    upper = p > 0.5
    q = 1.0 - p if upper else p
    if q == 0.0:
        x = -math.inf
    elif q == 0.5:
        x = 0.0
    elif q >= 0.25:
        x = _SQRT_2 * _erfinv(2.0 * q - 1.0)
    else:
        log_q = math.log(q)
        if q < 1e-3:
            t = -2.0 * log_q
            x = -math.sqrt(t - math.log(2.0 * math.pi * t))
        else:
            x = _SQRT_2 * _erfinv(2.0 * q - 1.0)
        for _ in range(4):                      # Newton: stop once the step is at rounding
            step = (_log_ndtr(x) - log_q) / _ndtr_hazard(x)
            x = x - step
            if abs(step) <= 1e-15 * abs(x):
                break
    return -x if upper else x


@njit(**_SCALAR)
def _gammaln_positive(x):
    if abs(x - 1.0) < 0.3:
        return _horner(_L1, x - 1.0)
    if 1.5 <= x < 2.6:
        return _horner(_L2, x - 2.0)
    if 1.3 <= x < 1.5:
        return _horner(_L2, x - 1.0) - math.log1p(x - 1.0)
    y, product = x, 1.0
    while y < _SHIFT:
        product *= y
        y += 1.0
    w = 1.0 / y
    return ((y - 0.5) * math.log(y) - y + _HALF_LOG_2PI + w * _horner(_STIRLING, w * w)
            - math.log(product))


@njit(**_SCALAR)
def _sin_pi(x):
    n = np.rint(x)
    sine = math.sin(math.pi * (x - n))
    return sine if n % 2.0 == 0 else -sine


@njit(**_SCALAR)
def _gammaln(x):
    if x != x or math.isinf(x):
        return x if x > 0 or x != x else -math.inf
    if x < 0:
        if x > -_SMALLEST_NORMAL:           # pi x would round to the few bits a subnormal holds
            return -math.log(-x)
        sine = abs(_sin_pi(x))
        if sine == 0:
            return math.inf
        return _LOG_PI - math.log(sine) - _gammaln_positive(1.0 - x)
    return _gammaln_positive(x)


@njit(**_SCALAR)
def _digamma_positive(x):
    if abs(x - _ROOT) < 0.25:
        e = (x - _ROOT) - _ROOT_LOW
        return e * _horner(_PSI_TAYLOR, e)
    y, reciprocals = x, 0.0
    while y < _SHIFT:
        reciprocals += 1.0 / y
        y += 1.0
    w = 1.0 / (y * y)
    return math.log(y) - 0.5 / y - w * _horner(_PSI_TERMS, w) - reciprocals


@njit(**_SCALAR)
def _digamma(x):
    if x != x or x == math.inf:
        return x
    if x == 0:
        return math.inf if math.copysign(1.0, x) < 0 else -math.inf
    if x < 0:
        r = x - np.rint(x)
        if r == 0 or math.isinf(x):
            return math.nan
        return _digamma_positive(1.0 - x) - math.pi / math.tan(math.pi * r)
    return _digamma_positive(x)


# one loop per function, each calling its function as a global (not a closure cell, whose
# pickled dispatcher id would key Numba's disk cache anew in every process); no fast-math
# flags: reassociation would fold the two-float constants ((x - root) - low: x - root)
@njit(**_SCALAR)
def erfinv_rest_loop(y, out):
    """The entries ``_erf64.erfinv64_loop`` leaves (``|y|`` above float32's largest number
    below 1, NaN, outside [-1, 1]), by the scalar ``_erfinv``."""
    for i in range(y.shape[0]):
        if not abs(y[i]) <= _erf64.ERFINV_A_MAX:
            out[i] = _erfinv(y[i])


@njit(**_SCALAR)
def ndtri_rest_loop(p, out):
    """The entries ``_erf64.ndtri64_loop`` leaves (``min(p, 1 - p)`` below 2**-25, NaN,
    outside [0, 1]), by the scalar ``_ndtri``."""
    for i in range(p.shape[0]):
        if not min(p[i], 1.0 - p[i]) >= _erf64.NDTRI_Q_MIN:
            out[i] = _ndtri(p[i])


def _erfinv64(y, out):
    if erfinv64_loop(y, out):
        erfinv_rest_loop(y, out)


def _ndtri64(p, out):
    if ndtri64_loop(p, out):
        ndtri_rest_loop(p, out)


@njit(**_SCALAR)
def gammaln_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = _gammaln(np.float64(x[i]))


@njit(**_SCALAR)
def digamma_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = _digamma(np.float64(x[i]))


@njit(**_SCALAR)
def ndtri_rest32_loop(p, out):
    """The entries ``_erf32.ndtri32_loop`` leaves: ``q = min(p, 1 - p)`` below 3e-8, NaN or
    outside [0, 1], by the float64 ``_ndtri``."""
    for i in range(p.shape[0]):
        if not min(p[i], 1.0 - p[i]) >= _erf32.NDTRI_Q_MIN:
            out[i] = _ndtri(np.float64(p[i]))


def _ndtri32(p, out):
    if ndtri32_loop(p, out):
        ndtri_rest32_loop(p, out)


# -- gradients: one loop each, vectorized (``_math.exp_neg``) -----------------------------------
@njit(**LOOP_OPTIONS)
def gaussian_vjp_loop(g, x, out, s, c):
    """``out`` <- ``g c exp(-s x**2)``, the vjp of erf, erfc and ndtr, in ``x``'s dtype."""
    for i in range(x.shape[0]):
        out[i] = g[i] * c * exp_neg(-s * x[i] * x[i])


@njit(**LOOP_OPTIONS)
def inverse_gaussian_vjp_loop(g, y, out, s, c):
    """``out`` <- ``g c exp(s y**2)`` from the output ``y`` of erfinv or ndtri, in float64 (a
    float32 result rounded): ``exp(s y**2)`` as ``1 / exp_neg(-s y**2)``, inf past overflow."""
    for i in range(y.shape[0]):
        yi = np.float64(y[i])
        out[i] = np.float64(g[i]) * c / exp_neg(-s * yi * yi)


#: the vjps' ``(s, c)`` by primitive: ``c exp(-s x**2)`` from the input, ``c exp(s y**2)`` from
#: the output
_SLOPES = {"special_erf": (1.0, 2.0 / math.sqrt(math.pi)),
           "special_erfc": (1.0, -2.0 / math.sqrt(math.pi)),
           "special_ndtr": (0.5, 1.0 / math.sqrt(2.0 * math.pi)),
           "special_erfinv": (1.0, 0.5 * math.sqrt(math.pi)),
           "special_ndtri": (0.5, math.sqrt(2.0 * math.pi))}

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))
_FLOAT32 = np.dtype(np.float32)


def _flat_forward(loop, loop32=None):
    """A forward through ``loop`` (float64 inside), or ``loop32`` for float32 arrays."""
    def forward(x):
        if getattr(x, "dtype", None) not in _FLOATS:
            return None
        flat = np.ascontiguousarray(x).reshape(-1)
        out = np.empty(flat.shape, x.dtype)
        (loop32 if loop32 is not None and x.dtype == _FLOAT32 else loop)(flat, out)
        return out.reshape(x.shape)
    return forward


def _gamma_kernel(name, loop):
    """gammaln or digamma: SciPy's ufunc where SciPy is importable (the NumPy backend's kernel:
    ``loop``'s branchy scalar code does not vectorize and measured slower, 1450 us against 850
    for gammaln and 1130 against 650 for digamma on 65536 float32 entries in (0.1, 2)), else
    ``loop``; the vjp is the NumPy backend's fused one (``g digamma(x)``, ``g polygamma(1, x)``),
    not the generic rule's tape ops (digamma's forward and backward: 5630 us against 1770)."""
    from ..numpy import special as numpy_special
    from ..numpy.special_scipy import scipy_special

    numpy_kernel = numpy_special.KERNELS[name]
    own = _flat_forward(loop)

    def forward(x):
        if scipy_special() is not None:
            return numpy_kernel.forward(x)
        out = own(x)
        return None if out is None else (out, None)

    return Kernel(forward, numpy_kernel.vjp, saves=(0,))


def _gaussian_kernel(name, loop, loop32):
    """erf, erfc or ndtr: float32 by ``_erf32``'s loop, float64 by ``loop``; the vjp
    ``g c exp(-s x**2)`` in one loop (``gaussian_vjp_loop``)."""
    forward = _flat_forward(loop, loop32)
    s, c = _SLOPES[name]

    def vjp(g, saved, x):
        if g.dtype != x.dtype or g.shape != x.shape:
            return (NotImplemented,)
        out = np.empty(x.size, x.dtype)
        gaussian_vjp_loop(np.ascontiguousarray(g).reshape(-1),
                          np.ascontiguousarray(x).reshape(-1), out, x.dtype.type(s),
                          x.dtype.type(c))
        return (out.reshape(x.shape),)

    return Kernel(lambda x: (lambda out: None if out is None else (out, None))(forward(x)),
                  vjp, saves=(0,))


def _slope_kernel(loop, vjp_loop):
    """log_ndtr or erfcx by ``_erf64``'s loops, in float64 for both dtypes: the forward
    ``loop`` and the vjp ``vjp_loop`` (``g f'(x)``, from the saved input)."""
    forward = _flat_forward(loop)

    def vjp(g, saved, x):
        if g.dtype != x.dtype or g.shape != x.shape:
            return (NotImplemented,)
        out = np.empty(x.size, x.dtype)
        vjp_loop(np.ascontiguousarray(g).reshape(-1), np.ascontiguousarray(x).reshape(-1), out)
        return (out.reshape(x.shape),)

    return Kernel(lambda x: (lambda out: None if out is None else (out, None))(forward(x)),
                  vjp, saves=(0,))


def _inverse_kernel(name, loop, loop32):
    """erfinv or ndtri: the vjp ``g c exp(s y**2)`` from the output ``y`` (saved)."""
    forward = _flat_forward(loop, loop32)
    s, c = _SLOPES[name]

    def kept(x):
        out = forward(x)
        return None if out is None else (out, out)

    def vjp(g, saved, x):
        if g.dtype != saved.dtype or g.shape != saved.shape:
            return (NotImplemented,)
        out = np.empty(saved.size, saved.dtype)
        inverse_gaussian_vjp_loop(np.ascontiguousarray(g).reshape(-1),
                                  np.ascontiguousarray(saved).reshape(-1), out, s, c)
        return (out.reshape(saved.shape),)

    return Kernel(kept, vjp, saves=("output",))


KERNELS = {"special_erf": _gaussian_kernel("special_erf", erf64_loop, erf32_loop),
           "special_erfc": _gaussian_kernel("special_erfc", erfc64_loop, erfc32_loop),
           "special_ndtr": _gaussian_kernel("special_ndtr", ndtr64_loop, ndtr32_loop),
           "special_log_ndtr": _slope_kernel(log_ndtr64_loop, log_ndtr_vjp_loop),
           "special_erfcx": _slope_kernel(erfcx64_loop, erfcx_vjp_loop),
           "special_erfinv": _inverse_kernel("special_erfinv", _erfinv64, erfinv32_loop),
           "special_ndtri": _inverse_kernel("special_ndtri", _ndtri64, _ndtri32),
           "special_gammaln": _gamma_kernel("special_gammaln", gammaln_loop),
           "special_digamma": _gamma_kernel("special_digamma", digamma_loop)}
