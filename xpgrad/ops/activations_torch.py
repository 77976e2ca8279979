"""PyTorch's other activations (exposed through ``xpgrad.ops.activations``, as ``xg.nn.*`` and
``xg.*``): elu, selu, celu, gelu, silu, mish, softsign, log_sigmoid, hardtanh, relu6,
hardsigmoid, hardswish, glu. The conventions are those of ``activations.py``: stable for large
|x|, limits at +-inf, integers in float32 except relu6 and hardtanh.

>>> import xpgrad as xg
>>> xg.nn.relu6(xg.asarray([-1.0, 3.0, 9.0])).tolist()
[0.0, 3.0, 6.0]
"""
from __future__ import annotations

import math

from ..optim._checks import hyperparameter
from .._args import refuse_keywords
from ..primitive import Primitive, apply
from . import formulas
from ._define import is_complex, norm_axis
from .activations import _complex_sigmoid, _inexact, _real, _refuse_complex, sigmoid


# elu, selu and celu are one primitive, as in PyTorch: scale * x above 0,
# scale * alpha * expm1(input_scale * x) at and below (the minimum keeps exp from overflowing)
def _elu_forward(xp, x, alpha, scale, input_scale):
    negative = (scale * alpha) * xp.expm1(xp.minimum(x, 0.0) * input_scale)
    return xp.where(x <= 0, negative, scale * x)


def _elu_vjp(xp, g, ans, x, alpha, scale, input_scale):
    # x < 0, not minimum(x, 0): at x = 0 the slope is then constant, and its own derivative
    # (the second derivative of elu) is 0 there, as PyTorch's, not minimum's half of each side
    slope = (scale * alpha * input_scale) * xp.exp(xp.where(x < 0, x, 0.0) * input_scale)
    return xp.where(x <= 0, g * slope, g * scale)      # NaN: the x > 0 branch, as PyTorch


_elu = Primitive("elu", _elu_forward, _elu_vjp, saves=(0,))

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def elu(x, /, alpha=1.0):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` below.

    >>> import xpgrad as xg
    >>> [round(v, 4) for v in xg.nn.elu(xg.asarray([-1.0, 2.0]), alpha=0.5).tolist()]
    [-0.3161, 2.0]
    """
    alpha = hyperparameter("elu: alpha", alpha)
    return apply(_elu, _real(x, "elu"), alpha=alpha, scale=1.0, input_scale=1.0)


def selu(x, /):
    """Scaled ELU with the self-normalizing constants (scale 1.0507..., alpha 1.6733...).

    >>> import xpgrad as xg
    >>> [round(v, 4) for v in xg.nn.selu(xg.asarray([-1.0, 1.0])).tolist()]
    [-1.1113, 1.0507]
    """
    return apply(_elu, _real(x, "selu"), alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0)


def celu(x, /, alpha=1.0):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``; ``alpha`` must not be 0.

    >>> import xpgrad as xg
    >>> [round(v, 4) for v in xg.nn.celu(xg.asarray([-1.0, 2.0]), alpha=2.0).tolist()]
    [-0.7869, 2.0]
    """
    alpha = hyperparameter("celu: alpha", alpha)
    if alpha == 0.0:
        raise ValueError("celu: alpha must not be 0 (x / alpha), got 0.0")
    return apply(_elu, _real(x, "celu"), alpha=alpha, scale=1.0, input_scale=1.0 / alpha)


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715
_GELU_APPROXIMATIONS = ("none", "tanh")
#: jax.nn.gelu's approximate= flag -> PyTorch's names
_GELU_JAX_FLAGS = {True: "tanh", False: "none"}


def _finite_or_zero(xp, x):
    return xp.where(xp.isinf(x), 0.0, x)


def _tanh_argument(xp, x):
    """2u for the tanh form's u = sqrt(2/pi) (x + 0.044715 x**3), x clipped to +-1e4 (tanh is
    saturated long before: no x**3 overflow)."""
    xc = xp.clip(x, -1e4, 1e4)
    return (2.0 * _TANH_K) * (xc + _TANH_C * xc * xc * xc)


def _gelu_cdf(xp, x, approximate):
    """The factor multiplying x: Phi(x), or its tanh approximation written as
    0.5 (1 + tanh(u)) = sigmoid(2u), without cancellation in the negative tail."""
    if approximate == "tanh":
        return formulas.sigmoid(xp, _tanh_argument(xp, x))
    return 0.5 * formulas.erfc(xp, -_SQRT_HALF * x)


def _gelu_forward(xp, x, approximate):
    y = _finite_or_zero(xp, x) * _gelu_cdf(xp, x, approximate)
    return xp.where(xp.isinf(x), xp.maximum(x, 0.0), y)       # limits: 0 and inf


def _gelu_vjp(xp, g, ans, x, approximate):
    cdf = _gelu_cdf(xp, x, approximate)
    if approximate == "tanh":
        xs = xp.where(xp.abs(x) < 1e4, x, 0.0)        # beyond, sech(u)**2 is 0
        # d/dx sigmoid(2u) = 2 sigmoid(2u) sigmoid(-2u) u'
        complement = formulas.sigmoid(xp, -_tanh_argument(xp, x))
        pdf = 2.0 * cdf * complement * _TANH_K * (1.0 + 3.0 * _TANH_C * xs * xs)
    else:
        xs = _finite_or_zero(xp, x)
        xc = xp.minimum(formulas.magnitude(xp, x), 40.0)    # exp(-800) is 0: no x * x overflow
        pdf = _INV_SQRT_2PI * xp.exp(-0.5 * xc * xc)
    return g * (cdf + xs * pdf)


_gelu = Primitive("gelu", _gelu_forward, _gelu_vjp, saves=(0,))


def gelu(x, /, approximate="none"):
    """``x * Phi(x)`` (Phi the standard normal CDF); ``approximate="tanh"`` uses
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))``, as PyTorch. JAX's
    ``approximate=True`` / ``False`` mean ``"tanh"`` / ``"none"``; the default is PyTorch's
    exact form, where ``jax.nn.gelu``'s is the tanh one.

    >>> import xpgrad as xg
    >>> [round(v, 4) for v in xg.nn.gelu(xg.asarray([-1.0, 1.0])).tolist()]
    [-0.1587, 0.8413]
    >>> [round(v, 4) for v in xg.nn.gelu(xg.asarray([1.0]), approximate="tanh").tolist()]
    [0.8412]
    >>> [round(v, 4) for v in xg.nn.gelu(xg.asarray([1.0]), approximate=True).tolist()]
    [0.8412]
    """
    if isinstance(approximate, bool):
        approximate = _GELU_JAX_FLAGS[approximate]
    if approximate not in _GELU_APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be one of {_GELU_APPROXIMATIONS} (or JAX's "
                         f"True / False), got {approximate!r}")
    return apply(_gelu, _real(x, "gelu"), approximate=approximate)


def _silu_vjp(xp, g, ans, x):
    # sigmoid(x) * (1 + x * sigmoid(-x)): the complement without cancellation
    return g * formulas.sigmoid(xp, x) * (1.0 + _finite_or_zero(xp, x) * formulas.sigmoid(xp, -x))


_silu = Primitive("silu", formulas.sigmoid_times, _silu_vjp, saves=(0,))


def silu(x, /):
    """``x * sigmoid(x)`` (swish); 0 at -inf.

    >>> import xpgrad as xg
    >>> [round(v, 4) for v in xg.nn.silu(xg.asarray([-1.0, 1.0])).tolist()]
    [-0.2689, 0.7311]
    """
    x = _inexact(x, "silu")
    if is_complex(x._backend.xp, x._data):
        return x * _complex_sigmoid(x)
    return apply(_silu, x)


def _mish_forward(xp, x):
    y = _finite_or_zero(xp, x) * xp.tanh(formulas.softplus(xp, x))
    return xp.where(xp.isinf(x), xp.maximum(x, 0.0), y)


def _mish_vjp(xp, g, ans, x):
    t = xp.tanh(formulas.softplus(xp, x))
    return g * (t + _finite_or_zero(xp, x) * (1.0 - t * t) * formulas.sigmoid(xp, x))


_mish = Primitive("mish", _mish_forward, _mish_vjp, saves=(0,))


def mish(x, /):
    """``x * tanh(softplus(x))``; 0 at -inf.

    >>> import xpgrad as xg
    >>> [round(v, 4) for v in xg.nn.mish(xg.asarray([-1.0, 1.0])).tolist()]
    [-0.3034, 0.8651]
    """
    return apply(_mish, _real(x, "mish"))


def _softsign_forward(xp, x):
    xs = _finite_or_zero(xp, x)
    return xp.where(xp.isinf(x), xp.sign(x), xs / (1.0 + xp.abs(xs)))


def _softsign_vjp(xp, g, ans, x):
    d = 1.0 + xp.abs(x)
    return g / d / d                     # not / d**2, which overflows first


_softsign = Primitive("softsign", _softsign_forward, _softsign_vjp, saves=(0,))


def softsign(x, /):
    """``x / (1 + |x|)``; +-1 at +-inf.

    >>> import xpgrad as xg
    >>> xg.nn.softsign(xg.asarray([-1.0, 3.0])).tolist()
    [-0.5, 0.75]
    """
    x = _inexact(x, "softsign")
    if is_complex(x._backend.xp, x._data):
        from .elementwise import abs as magnitude

        return x / (1.0 + magnitude(x))
    return apply(_softsign, x)


_log_sigmoid = Primitive(
    "log_sigmoid", lambda xp, x: -formulas.softplus(xp, -x),
    lambda xp, g, ans, x: g * formulas.sigmoid(xp, -x), saves=(0,))


def log_sigmoid(x, /):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large |x|.

    >>> import xpgrad as xg
    >>> [round(v, 4) for v in xg.nn.log_sigmoid(xg.asarray([-100.0, 0.0])).tolist()]
    [-100.0, -0.6931]
    """
    return apply(_log_sigmoid, _real(x, "log_sigmoid"))


# the hard family: gradients are PyTorch's, comparisons included (NaN takes the else branch);
# hardtanh's passes g strictly inside only, so NaN gets 0 (PyTorch's vectorized loop)
_hardtanh = Primitive(
    "hardtanh", lambda xp, x, min_val, max_val: xp.clip(x, min_val, max_val),
    lambda xp, g, ans, x, min_val, max_val:
        xp.where((x > min_val) & (x < max_val), g, 0.0), saves=(0,))


def hardtanh(x, /, min_val=-1.0, max_val=1.0):
    """``x`` clipped to ``[min_val, max_val]``; the gradient is 1 strictly inside, else 0
    (0 at NaN too).

    >>> import xpgrad as xg
    >>> xg.nn.hardtanh(xg.asarray([-2.0, 0.5, 2.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    min_val = hyperparameter("hardtanh: min_val", min_val)
    max_val = hyperparameter("hardtanh: max_val", max_val)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return apply(_hardtanh, _refuse_complex(x, "hardtanh"), min_val=min_val, max_val=max_val)


def relu6(x, /):
    """``min(max(x, 0), 6)`` (``hardtanh(x, 0, 6)``).

    >>> import xpgrad as xg
    >>> xg.nn.relu6(xg.asarray([-1.0, 3.0, 8.0])).tolist()
    [0.0, 3.0, 6.0]
    """
    return apply(_hardtanh, _refuse_complex(x, "relu6"), min_val=0.0, max_val=6.0)


_hardsigmoid = Primitive(
    "hardsigmoid", lambda xp, x: xp.clip(x + 3.0, 0.0, 6.0) / 6.0,
    lambda xp, g, ans, x: xp.where((x > -3.0) & (x < 3.0), g / 6.0, 0.0), saves=(0,))


def hardsigmoid(x, /):
    """``relu6(x + 3) / 6``.

    >>> import xpgrad as xg
    >>> xg.nn.hardsigmoid(xg.asarray([-4.0, 0.0, 4.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    return apply(_hardsigmoid, _real(x, "hardsigmoid"))


def _hardswish_forward(xp, x):
    xc = xp.clip(x, -3.0, 3.0)             # no overflow in the unused branch
    return xp.where(x <= -3.0, 0.0, xp.where(x >= 3.0, x, xc * (xc + 3.0) / 6.0))


def _hardswish_vjp(xp, g, ans, x):
    slope = xp.clip(x, -3.0, 3.0) / 3.0 + 0.5       # clipped: no 0 * inf in unused branches
    return xp.where(x <= -3.0, 0.0, xp.where(x < 3.0, g * slope, g))


_hardswish = Primitive("hardswish", _hardswish_forward, _hardswish_vjp, saves=(0,))


def hardswish(x, /):
    """``x * relu6(x + 3) / 6``; 0 at -inf.

    >>> import xpgrad as xg
    >>> xg.nn.hardswish(xg.asarray([-4.0, 0.0, 4.0])).tolist()
    [0.0, 0.0, 4.0]
    """
    return apply(_hardswish, _real(x, "hardswish"))


def _glu_halves(x, axis):
    """The two halves of ``x`` along ``axis`` (of even length)."""
    axis %= x.ndim
    n = x.shape[axis] // 2
    lead = (slice(None),) * axis
    return x[lead + (slice(0, n),)], x[lead + (slice(n, None),)]


def _glu_forward(xp, x, axis):
    a, b = _glu_halves(x, axis)
    return a * formulas.sigmoid(xp, b)


def _glu_vjp(xp, g, ans, x, axis):
    # d/db a sigmoid(b) = a sigmoid(b) sigmoid(-b): the complement without cancellation
    a, b = _glu_halves(x, axis)
    gs = g * formulas.sigmoid(xp, b)
    return xp.concat((gs, gs * a * formulas.sigmoid(xp, -b)), axis=axis)


_glu = Primitive("glu", _glu_forward, _glu_vjp, saves=(0,))


def glu(x, /, axis=-1, **unexpected):
    """Gated linear unit: the first half of ``x`` along ``axis`` times the sigmoid of the
    second; that axis' length must be even. One primitive where the backend has a kernel for
    it (NumPy's), so its gradient is one array of ``x``'s shape (no zero-filled gradient per
    half); elsewhere the composition, whose sigmoid is the backend's kernel (the primitive's
    generic rule, two sigmoids by selects, would be slower there).

    >>> import xpgrad as xg
    >>> xg.nn.glu(xg.asarray([[2.0, 4.0, 0.0, 1000.0]])).tolist()
    [[1.0, 4.0]]
    """
    if unexpected:
        refuse_keywords("glu", unexpected)
    x = _real(x, "glu")
    if x.ndim == 0:
        raise ValueError("glu: x must have at least one dimension, got a 0-d tensor")
    axis = norm_axis(axis, x.ndim)
    n = x.shape[axis]
    if n % 2:
        raise ValueError(f"glu: the halved axis must have an even length, but axis {axis} of "
                         f"x (shape {x.shape}) has length {n}")
    if "glu" in x.backend.kernels:
        return apply(_glu, x, axis=axis)
    a, b = _glu_halves(x, axis)
    return a * sigmoid(b)


__all__ = ["elu", "selu", "celu", "gelu", "silu", "mish", "softsign", "log_sigmoid", "hardtanh",
           "relu6", "hardsigmoid", "hardswish", "glu"]
