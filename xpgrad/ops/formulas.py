"""Formulas that several primitives' forwards and rules share, each written once against ``xp``.

>>> import array_api_compat.numpy as xp
>>> sigmoid(xp, xp.asarray([-800.0, 0.0, 800.0])).tolist()
[0.0, 0.5, 1.0]
>>> [round(v, 4) for v in log_softmax(xp, xp.asarray([0.0, 0.0]), axis=0).tolist()]
[-0.6931, -0.6931]
"""
from __future__ import annotations

from ..tensor import Tensor


# The formulas below split at 0 (``where(x >= 0, ...)``) to stay stable for large |x|, and a
# vjp rule that calls one is differentiated again by an outer tape (a Hessian): then the split
# must not put a kink into a smooth function. abs's derivative at 0 is 0 (and maximum's is
# split), so ``exp(-abs(x))`` made sigmoid'(0) = 0 in every second derivative that went
# through it (log_sigmoid, silu, gelu, sigmoid cross-entropy, ...). On Tensors (only a recorded
# rule passes them) |x| and max(x, 0) are therefore the branches ``where`` picks, whose
# derivatives at 0 are the x >= 0 side's; raw arrays (forwards, first-order rules, kernels)
# keep abs and maximum, one pass each (where costs several on the NumPy backend).
def magnitude(xp, x):
    """``|x|``, differentiated at 0 as ``x`` (the ``x >= 0`` side of the formulas' splits).

    >>> import array_api_compat.numpy as xp
    >>> magnitude(xp, xp.asarray([-2.0, 0.0, 3.0])).tolist()
    [2.0, 0.0, 3.0]
    """
    if isinstance(x, Tensor):
        return xp.where(x >= 0, x, -x)
    return xp.abs(x)


def positive_part(xp, x):
    """``max(x, 0)``, differentiated at 0 as ``x`` (the ``x >= 0`` side, as ``magnitude``).

    >>> import array_api_compat.numpy as xp
    >>> positive_part(xp, xp.asarray([-2.0, 0.0, 3.0])).tolist()
    [0.0, 0.0, 3.0]
    """
    if isinstance(x, Tensor):
        return xp.where(x >= 0, x, 0.0)
    return xp.maximum(x, 0.0)


def sigmoid(xp, x):
    """``1 / (1 + exp(-x))`` without overflow, accurate for large negative ``x`` too; smooth at
    0 to a tape that differentiates it (``magnitude``)."""
    e = xp.exp(-magnitude(xp, x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(xp, x):
    """``log(1 + exp(x))`` without overflow (smooth at 0 to a tape, as ``sigmoid``)."""
    return positive_part(xp, x) + xp.log1p(xp.exp(-magnitude(xp, x)))


def sigmoid_ce(xp, x, t):
    """The binary cross-entropy of sigmoid(``x``) against targets ``t``, ``max(x, 0) - x t +
    log1p(exp(-|x|))``, computed as ``|x|`` times the weight of the side that loses (``1 - t``
    for x > 0, ``t`` otherwise) plus ``log1p(exp(-|x|))``: no cancellation when ``t`` is near
    1 (a confident logit against a smoothed label), and at ``x`` = +-inf its limit, 0 where
    that weight is exactly 0 (0 * inf counts as 0, as a masked class does in softmax
    cross-entropy).

    >>> import array_api_compat.numpy as xp
    >>> x, t = xp.asarray([float("inf"), float("inf"), 30.0]), xp.asarray([1.0, 0.5, 0.999])
    >>> [float(f"{v:.6g}") for v in sigmoid_ce(xp, x, t)]
    [0.0, inf, 0.03]
    """
    a = magnitude(xp, x)                 # its x >= 0 side at 0, as the split here
    losing = xp.where(x >= 0, 1.0 - t, t)
    none = losing == 0
    linear = xp.where(none, 0.0, a * xp.where(none, 1.0, losing))     # no 0 * inf
    return linear + xp.log1p(xp.exp(-a))


def softmax(xp, x, axis):
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum (no overflow)."""
    if x.size == 0:             # an empty axis has no maximum: the answer is empty too
        return xp.zeros_like(x)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def log_softmax(xp, x, axis):
    """``x - log(sum(exp(x)))`` along ``axis``, shifted by the maximum (no overflow)."""
    if x.size == 0:
        return xp.zeros_like(x)
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


# Chebyshev coefficients of log(erfc(z) / t) + z**2 in 4t - 2, t = 2 / (2 + z), z >= 0 (the
# Numerical Recipes form, refitted against scipy.special.erfcx): 24 terms give float64's digits
# (relative error 1e-13 up to z = 26, where erfc underflows).
_ERFC_COEFFS = (
    -1.3026537197817094e+00, 6.4196979235649021e-01, 1.9476473204185756e-02,
    -9.5615147868085282e-03, -9.4659534448202868e-04, 3.6683949785273906e-04,
    4.2523324807083877e-05, -2.0278578112598169e-05, -1.6242900041714467e-06,
    1.3036558351682439e-06, 1.5626442410425238e-08, -8.5238096434664873e-08,
    6.5290550226306982e-09, 5.0593429854563584e-09, -9.9136367006377830e-10,
    -2.2736569335075878e-10, 9.6468801857605068e-11, 2.3933469422714144e-12,
    -6.8854284347371089e-12, 8.9394013517503370e-13, 3.1335314757997646e-13,
    -1.1311492654802512e-13, 8.3320884898301600e-16, 6.4166046031202148e-15)
# float32: Numerical Recipes' erfcc, the same form as a polynomial in t (relative error 1.2e-7,
# half the operations of the series above)
_ERFC_FLOAT32 = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
                 -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def erfc_exponent(xp, t, float32=False):
    """``log(erfc(z) / t) + z**2`` at ``t = 2 / (2 + z)``, z >= 0 (``erfc``'s fitted part)."""
    if float32:
        return horner(_ERFC_FLOAT32, t)
    ty = 4.0 * t - 2.0
    d = dd = 0.0
    for c in _ERFC_COEFFS[:0:-1]:             # Clenshaw's recurrence
        d, dd = ty * d - dd + c, d
    return 0.5 * (_ERFC_COEFFS[0] + ty * d) - dd


def horner(coeffs, x):
    """``sum(c_k x**k)``, lowest coefficient first, by Horner's rule."""
    acc = coeffs[-1]
    for c in coeffs[-2::-1]:
        acc = acc * x + c
    return acc


def erfc(xp, v):
    """The complementary error function ``1 - erf(v)``, accurate in relative terms in the tail
    (no array-API namespace has ``erf``; this uses only exp and arithmetic): 3e-15 relative in
    float64 up to erfc's underflow (mpmath's values; SciPy's are 6e-14 off at 25).

    >>> import array_api_compat.numpy as xp
    >>> [round(e, 12) for e in erfc(xp, xp.asarray([-1.0, 0.0, 1.0])).tolist()]
    [1.84270079295, 1.0, 0.15729920705]
    """
    z = xp.minimum(magnitude(xp, v), 30.0)   # erfc(30) underflows in float64: no z * z overflow
    t = 2.0 / (2.0 + z)
    if v.dtype == xp.float32:        # (gelu's) one exp, 2e-6 relative far out
        tail = t * xp.exp(-z * z + erfc_exponent(xp, t, float32=True))
    else:
        # exp(-z**2) as exp(-h**2) exp(-(z - h)(z + h)) with h = z rounded down to 1/16: h**2
        # is exact, so the rounding of z**2 does not reach the result (one exp of
        # -z * z + exponent is 1e-13 off at z = 25; this costs 4% more time)
        h = xp.floor(z * 16.0) / 16.0
        tail = t * xp.exp(-h * h) * xp.exp(erfc_exponent(xp, t) - (z - h) * (z + h))
    return xp.where(v >= 0, tail, 2.0 - tail)


def sigmoid_times(xp, x):
    """``x * sigmoid(x)`` (silu), its limits at +-inf included (inf * 0 is not NaN here)."""
    finite = xp.where(xp.isinf(x), 0.0, x)
    return xp.where(xp.isinf(x), xp.maximum(x, 0.0), finite * sigmoid(xp, x))
