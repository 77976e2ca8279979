"""The special functions of ``xg.special``: primitives and their public functions.

Each forward is a formula of ``special_formulas.py`` (or ``formulas.erfc``) run in float64, its
result rounded to float32 for float32 inputs; each vjp is written with ``xp`` calls and the
other special functions (gammaln' = digamma, digamma' = polygamma(1, .), polygamma(n)' =
polygamma(n + 1, .)), so gradients of any order need no further rules. Integers and booleans
come in as float32 (as ``xg.exp`` takes them); complex inputs are refused.

>>> import xpgrad as xg
>>> x = xg.asarray([0.5, 3.0], dtype=xg.float64)
>>> [round(v, 10) for v in xg.grad(lambda x: xg.sum(gammaln(x)))(x).tolist()]
[-1.963510026, 0.9227843351]
"""
from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from ..primitive import Primitive, apply
from ..tensor import Tensor
from . import formulas
from . import special_formulas as sf
from ._define import as_tensor
from .reductions import _floating

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_HALF = 0.7071067811865476


def _quiet(fn):
    """``fn`` with NumPy's floating-point warnings off: the formulas evaluate every branch of
    their ``where``s (log(0) in a branch not taken), and poles give inf as SciPy's do."""
    def quiet(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return quiet


def _in_float64(formula):
    """A forward that runs ``formula(xp, x, ...)`` in float64 and rounds back to float32."""
    def forward(xp, x, **params):
        if x.dtype == xp.float32:
            return xp.astype(formula(xp, xp.astype(x, xp.float64), **params), xp.float32)
        return formula(xp, x, **params)
    return forward


def _primitive(name, forward, *vjps, saves=None):
    return Primitive(f"special_{name}", _quiet(forward), *map(_quiet, vjps), saves=saves)


def _call(prim, xp, *args, **params):
    """``prim`` on ``args`` inside a rule: recorded (``apply``) when they are Tensors (an outer
    tape differentiates the rule), the plain forward on raw arrays."""
    if any(isinstance(a, Tensor) for a in args):
        return apply(prim, *args, **params)
    return prim.forward(xp, *args, **params)


def _real(name, x, what="x"):
    """``x`` as a real floating Tensor (integers and booleans in float32); complex refused."""
    try:
        x = as_tensor(x)
    except (TypeError, ValueError):
        raise TypeError(f"xg.special.{name}: {what} must be a tensor or numbers, got "
                        f"{type(x).__name__}") from None
    if x.dtype.is_complex:
        raise TypeError(f"xg.special.{name}: {what} must be real, got a {x.dtype} tensor "
                        "(complex arguments are not supported)")
    return _floating(x)


def _gauss(xp, x):
    """``2 / sqrt(pi) exp(-x**2)``, erf's derivative."""
    return _TWO_OVER_SQRT_PI * xp.exp(-x * x)


def _ndtr(xp, x):
    return 0.5 * formulas.erfc(xp, -_SQRT_HALF * x)


_erf = _primitive("erf", _in_float64(sf.erf), lambda xp, g, ans, x: g * _gauss(xp, x),
                  saves=(0,))
_erfc = _primitive("erfc", _in_float64(formulas.erfc),
                   lambda xp, g, ans, x: -g * _gauss(xp, x), saves=(0,))
_ndtr_prim = _primitive("ndtr", _in_float64(_ndtr),
                        lambda xp, g, ans, x: g * (_SQRT_HALF / math.sqrt(math.pi))
                        * xp.exp(-0.5 * x * x), saves=(0,))
# phi / Phi, log_ndtr's derivative; its own derivative -x h - h**2 follows from h itself
_ndtr_hazard = _primitive("ndtr_hazard", _in_float64(sf.ndtr_hazard),
                          lambda xp, g, ans, x: -g * ans * (x + ans), saves=(0, "output"))
_log_ndtr = _primitive("log_ndtr", _in_float64(sf.log_ndtr),
                       lambda xp, g, ans, x: g * _call(_ndtr_hazard, xp, x), saves=(0,))
_erfinv = _primitive("erfinv", _in_float64(sf.erfinv),
                     lambda xp, g, ans, x: g * (0.5 * math.sqrt(math.pi)) * xp.exp(ans * ans),
                     saves=("output",))
_polygamma = _primitive("polygamma", _in_float64(lambda xp, x, n: sf.polygamma(xp, n, x)),
                        lambda xp, g, ans, x, n: g * _call(_polygamma, xp, x, n=n + 1),
                        saves=(0,))
_digamma = _primitive("digamma", _in_float64(sf.digamma),
                      lambda xp, g, ans, x: g * _call(_polygamma, xp, x, n=1), saves=(0,))
_gammaln = _primitive("gammaln", _in_float64(sf.gammaln),
                      lambda xp, g, ans, x: g * _call(_digamma, xp, x), saves=(0,))


def erf(x, /):
    """The error function ``2 / sqrt(pi) * integral_0^x exp(-t**2) dt`` (``torch.special.erf``,
    ``scipy.special.erf``); float64 within 3e-15 relative of SciPy, also near 0.

    >>> import xpgrad as xg
    >>> [round(v, 12) for v in xg.special.erf(xg.asarray([0.0, 1.0], dtype=xg.float64)).tolist()]
    [0.0, 0.84270079295]
    """
    return apply(_erf, _real("erf", x))


def erfc(x, /):
    """``1 - erf(x)``, accurate in relative terms far in the right tail (3e-15 up to its
    underflow near 27 in float64).

    >>> import xpgrad as xg
    >>> f"{xg.special.erfc(xg.asarray(10.0, dtype=xg.float64)).item():.10e}"
    '2.0884875838e-45'
    """
    return apply(_erfc, _real("erfc", x))


def ndtr(x, /):
    """The standard normal CDF ``Phi(x) = erfc(-x / sqrt 2) / 2`` (``torch.special.ndtr``).

    >>> import xpgrad as xg
    >>> xg.special.ndtr(xg.asarray([0.0])).tolist()
    [0.5]
    """
    return apply(_ndtr_prim, _real("ndtr", x))


def log_ndtr(x, /):
    """``log(Phi(x))``, finite far in the left tail where ``Phi`` underflows (about ``-x**2 /
    2``) and accurate near 0 on the right (``log1p(-Phi(-x))``), as ``scipy.special.log_ndtr``.
    Its derivative ``phi(x) / Phi(x)`` is computed without underflow too.

    >>> import xpgrad as xg
    >>> round(xg.special.log_ndtr(xg.asarray(-40.0, dtype=xg.float64)).item(), 6)
    -804.608442
    """
    return apply(_log_ndtr, _real("log_ndtr", x))


def erfinv(x, /):
    """The inverse error function on [-1, 1]: +-inf at +-1, NaN outside (as SciPy).

    >>> import xpgrad as xg
    >>> round(xg.special.erfinv(xg.asarray(0.5, dtype=xg.float64)).item(), 12)
    0.476936276204
    """
    return apply(_erfinv, _real("erfinv", x))


def gammaln(x, /):
    """``log|Gamma(x)|`` (``torch.lgamma``, ``scipy.special.gammaln``): inf at 0, -1, -2, ...;
    its derivative is ``digamma``.

    >>> import xpgrad as xg
    >>> y = xg.special.gammaln(xg.asarray([5.0, -0.5], dtype=xg.float64))   # log 24, log 2 sqrt(pi)
    >>> [round(v, 12) for v in y.tolist()]
    [3.178053830348, 1.265512123485]
    """
    return apply(_gammaln, _real("gammaln", x))


def digamma(x, /):
    """``psi(x) = d/dx log Gamma(x)`` (``torch.digamma``): -inf at +0, NaN at -1, -2, ... (as
    SciPy); its derivative is ``polygamma(1, x)``.

    >>> import xpgrad as xg
    >>> round(xg.special.digamma(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    -0.577215664902
    """
    return apply(_digamma, _real("digamma", x))


def whole(name, what, value, low):
    """``value`` as a Python int >= ``low`` (``xg.special.<name>``'s argument ``what``), else
    TypeError (a bool, a float) or ValueError naming it."""
    if isinstance(value, (builtins.bool, np.bool_)):
        raise TypeError(f"xg.special.{name}: {what} must be an int, got a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"xg.special.{name}: {what} must be an int, got "
                        f"{type(value).__name__}") from None
    if value < low:
        raise ValueError(f"xg.special.{name}: {what} must be >= {low}, got {value}")
    return value


def polygamma(n, x, /):
    """``psi^(n)(x)``, the ``n``-th derivative of digamma (``n = 0`` is digamma itself), as
    ``torch.polygamma(n, x)``; +-inf at the poles 0, -1, ... ``n`` is an int >= 0 or, as in
    ``scipy.special.polygamma``, an integer array or Tensor (0-d too) broadcast against ``x``
    (not differentiable; NaN where an order is negative, as SciPy's). The gradient for ``x`` is
    ``polygamma(n + 1, x)``. Any order works: past 170, where n! overflows, the value is still
    finite wherever it fits in float64 (SciPy's is inf or NaN there).

    >>> import xpgrad as xg
    >>> float(xg.special.polygamma(171, xg.asarray(2.0, dtype=xg.float64)))  # doctest: +ELLIPSIS
    2.07309331416...e+257
    >>> round(xg.special.polygamma(1, xg.asarray(1.0, dtype=xg.float64)).item(), 12)  # pi**2/6
    1.644934066848
    >>> x = xg.asarray([2.0, 2.0], dtype=xg.float64)
    >>> [round(v, 12) for v in xg.special.polygamma(xg.asarray([0, 1]), x).tolist()]
    [0.422784335098, 0.644934066848]
    """
    x = _real("polygamma", x)
    if isinstance(n, (list, tuple, np.ndarray, Tensor)):
        return _polygamma_of_orders(n, x)
    n = whole("polygamma", "n", n, 0)
    return digamma(x) if n == 0 else apply(_polygamma, x, n=n)


def _polygamma_of_orders(n, x):
    """``polygamma`` with an array of orders ``n``: one primitive call per distinct order,
    each picked out where ``n`` holds it."""
    from ..creation import asarray
    from .selection import where
    from .shape import broadcast_to

    orders, shape = integer_orders("polygamma", n, x)
    n_here = asarray(orders, backend=x.backend)
    out = None
    for order in np.unique(np.maximum(orders, 0)).tolist() or [0]:      # [0]: for an empty n
        value = polygamma(order, x)
        out = value if out is None else where(n_here == order, value, out)
    if orders.size and orders.min() < 0:
        out = where(n_here < 0, math.nan, out)
    return broadcast_to(out, shape)


def integer_orders(name, n, x):
    """``(orders, shape)``: ``n`` (an integer array, list or Tensor: ``xg.special.<name>``'s
    orders) as a NumPy array, and its shape broadcast against ``x``'s; TypeError or ValueError
    naming it otherwise."""
    from .shape import broadcast_shapes

    try:
        orders = np.asarray(n.numpy() if isinstance(n, Tensor) else n)
    except (TypeError, ValueError):
        raise TypeError(f"xg.special.{name}: n must be an int or an array of ints, got "
                        f"{type(n).__name__}") from None
    if orders.dtype.kind not in "iu":
        raise TypeError(f"xg.special.{name}: n must hold integers, got {orders.dtype} values")
    try:
        shape = broadcast_shapes(orders.shape, x.shape)
    except ValueError:
        raise ValueError(f"xg.special.{name}: n's shape {orders.shape} does not broadcast "
                         f"against x's {x.shape}") from None
    return orders, shape


# -- x log(y), x log1p(y), logit, expit ----------------------------------------------------------
def _x_times(log):
    """``x * xp.<log>(y)`` with 0 where ``x == 0`` and ``y`` is not NaN (``0 log 0 = 0``)."""
    def forward(xp, x, y):
        return xp.where((x == 0) & (y == y), 0.0, x * getattr(xp, log)(y))
    return forward


def _xlogy_dx(xp, g, ans, x, y):
    """``g log(y)``, 0 where ``x == 0`` and ``y <= 0`` (PyTorch's rule: ``x log y`` is not
    defined around such points)."""
    return xp.where((x == 0) & (y <= 0), 0.0, _call(_xlogy, xp, g, y))


def _xlog1py_dx(xp, g, ans, x, y):
    return xp.where((x == 0) & (y <= -1), 0.0, _call(_xlog1py, xp, g, y))


_xlogy = _primitive("xlogy", _x_times("log"), _xlogy_dx,
                    lambda xp, g, ans, x, y: g * x / y, saves=(0, 1))
_xlog1py = _primitive("xlog1py", _x_times("log1p"), _xlog1py_dx,
                      lambda xp, g, ans, x, y: g * x / (1.0 + y), saves=(0, 1))


def _logit(xp, p):
    """``log(p / (1 - p))``; ``2 atanh(2p - 1)`` near 1/2, where the ratio is near 1."""
    middle = xp.abs(p - 0.5) < 0.2
    ratio = xp.where(middle, 0.5, p) / (1.0 - xp.where(middle, 0.5, p))
    return xp.where(middle, 2.0 * xp.atanh(2.0 * p - 1.0), xp.log(ratio))


_logit_prim = _primitive("logit", _in_float64(_logit), lambda xp, g, ans, p: g / (p * (1.0 - p)),
                         saves=(0,))


def _pair(name, x, y, names=("x", "y")):
    """Both arguments as real floating Tensors on one backend: with one Tensor, the other
    argument is made on its backend, and a Python number also takes its dtype (a weak scalar,
    as in NumPy 2, JAX and the array API: ``xlogy(t64, 3.0)`` is float64 throughout)."""
    if isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = _real(name, x, names[0])
        return x, _like(name, y, names[1], x)
    if isinstance(y, Tensor) and not isinstance(x, Tensor):
        y = _real(name, y, names[1])
        return _like(name, x, names[0], y), y
    if type(x) in (int, float) and type(y) not in (int, float):
        y = _real(name, y, names[1])
        return _like(name, x, names[0], y), y
    if type(y) in (int, float) and type(x) not in (int, float):
        x = _real(name, x, names[0])
        return x, _like(name, y, names[1], x)
    return _real(name, x, names[0]), _real(name, y, names[1])


def _like(name, value, what, other):
    """``value`` on ``other``'s backend (a Python number in its dtype too), as ``_real``."""
    from ..creation import asarray

    if type(value) in (int, float):
        return asarray(value, dtype=other.dtype, backend=other.backend)
    try:
        value = asarray(value, backend=other.backend)
    except (TypeError, ValueError):
        pass                # _real names the argument
    return _real(name, value, what)


def xlogy(x, y, /):
    """``x * log(y)``, 0 where ``x == 0`` (also where ``y == 0``; NaN where ``y`` is NaN), with
    broadcasting, as ``scipy.special.xlogy`` and ``torch.special.xlogy``; the gradient for ``x``
    is ``log(y)`` (0 where ``x == 0`` and ``y <= 0``, as PyTorch's), for ``y`` it is ``x / y``.

    >>> import xpgrad as xg
    >>> xg.special.xlogy(xg.asarray([0.0, 2.0]), xg.asarray([0.0, 1.0])).tolist()
    [0.0, 0.0]
    """
    return apply(_xlogy, *_pair("xlogy", x, y))


def xlog1py(x, y, /):
    """``x * log1p(y)``, 0 where ``x == 0`` (also where ``y == -1``), as
    ``scipy.special.xlog1py``; gradients as ``torch.special.xlog1py``'s.

    >>> import xpgrad as xg
    >>> xg.special.xlog1py(xg.asarray([0.0, 2.0]), xg.asarray([-1.0, 0.0])).tolist()
    [0.0, 0.0]
    """
    return apply(_xlog1py, *_pair("xlog1py", x, y))


def logit(p, /, eps=None):
    """``log(p / (1 - p))``, the inverse of ``expit``: -inf at 0, inf at 1, NaN outside [0, 1]
    (as SciPy). ``eps``, as ``torch.special.logit``'s: ``p`` clamped to ``[eps, 1 - eps]``
    first (gradient 0 outside).

    >>> import xpgrad as xg
    >>> xg.special.logit(xg.asarray([0.5, 1.0])).tolist()
    [0.0, inf]
    >>> round(xg.special.logit(xg.asarray([1.0], dtype=xg.float64), eps=1e-6).item(), 4)
    13.8155
    """
    p = _real("logit", p, "p")
    if eps is not None:
        if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.floating)) \
                or not 0.0 <= eps <= 0.5:
            raise ValueError(f"logit: eps must be a number in [0, 0.5] (p is clamped to "
                             f"[eps, 1 - eps]) or None, got {eps!r}")
        from .selection import clip

        p = clip(p, float(eps), 1.0 - float(eps))
    return apply(_logit_prim, p)


def expit(x, /):
    """The logistic sigmoid ``1 / (1 + exp(-x))``: ``xg.nn.sigmoid``.

    >>> import xpgrad as xg
    >>> xg.special.expit(xg.asarray([0.0])).tolist()
    [0.5]
    """
    from .activations import sigmoid

    return sigmoid(_real("expit", x))


__all__ = ["digamma", "erf", "erfc", "erfinv", "expit", "gammaln", "log_ndtr", "logit", "ndtr",
           "polygamma", "xlog1py", "xlogy"]
