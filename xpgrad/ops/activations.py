"""Activations (exposed as ``xg.nn.*``): sigmoid, relu, leaky_relu, softplus, softmax,
log_softmax. Each is stable for large |x|; backends may register fused kernels under the same
primitive names.

>>> import xpgrad as xg
>>> xg.nn.sigmoid(xg.asarray([-1000.0, 0.0, 1000.0])).tolist()
[0.0, 0.5, 1.0]
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from . import formulas
from ._define import as_tensor, norm_axis


_sigmoid = Primitive("sigmoid", formulas.sigmoid,
                     lambda xp, g, ans, x: g * ans * (1.0 - ans), saves="output")
# relu(x) <= 0 exactly where x <= 0: the rule reads the output, which the next layer keeps
# anyway. A NaN input (relu(NaN) is NaN) gets the gradient, as PyTorch's and maximum's rules do.
_relu = Primitive("relu", lambda xp, x: xp.maximum(x, 0.0),
                  lambda xp, g, ans, x: xp.where(ans <= 0, 0.0, g), saves="output")
_leaky_relu = Primitive("leaky_relu",
                        lambda xp, x, negative_slope: xp.where(x >= 0, x, x * negative_slope),
                        lambda xp, g, ans, x, negative_slope:
                            xp.where(x > 0, g, g * negative_slope))
# sigmoid(x) = 1 - exp(-softplus(x)), from the output and without overflow
_softplus = Primitive("softplus", formulas.softplus,
                      lambda xp, g, ans, x: -g * xp.expm1(-ans), saves="output")


def sigmoid(x, /):
    """Logistic function ``1 / (1 + exp(-x))``; its derivative is ``s * (1 - s)``.

    >>> import xpgrad as xg
    >>> xg.nn.sigmoid(xg.asarray([0.0])).tolist()
    [0.5]
    """
    return apply(_sigmoid, x)


def relu(x, /):
    """``max(x, 0)``; the derivative is 1 for x > 0 (and at NaN, as in PyTorch), else 0.

    >>> import xpgrad as xg
    >>> xg.nn.relu(xg.asarray([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return apply(_relu, x)


def leaky_relu(x, /, negative_slope=0.01):
    """``x`` for x >= 0, ``negative_slope * x`` below.

    >>> import xpgrad as xg
    >>> xg.nn.leaky_relu(xg.asarray([-1.0, 2.0], dtype=xg.float64), negative_slope=0.1).tolist()
    [-0.1, 2.0]
    """
    try:
        slope = float(negative_slope)
    except (TypeError, ValueError):
        raise TypeError(f"leaky_relu: negative_slope must be a real number, got "
                        f"{negative_slope!r}") from None
    return apply(_leaky_relu, x, negative_slope=slope)


def softplus(x, /):
    """``log(1 + exp(x))``, stable for large |x|.

    >>> import xpgrad as xg
    >>> xg.nn.softplus(xg.asarray([0.0])).item() == float(xg.log(xg.asarray(2.0)))
    True
    """
    return apply(_softplus, x)


_softmax_prim = Primitive(
    "softmax", formulas.softmax,
    lambda xp, g, ans, x, axis: ans * (g - xp.sum(g * ans, axis=axis, keepdims=True)))
_log_softmax_prim = Primitive(
    "log_softmax", formulas.log_softmax,
    lambda xp, g, ans, x, axis: g - xp.exp(ans) * xp.sum(g, axis=axis, keepdims=True))


def softmax(x, /, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, stable for large |x|.

    >>> import xpgrad as xg
    >>> xg.nn.softmax(xg.asarray([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    x = as_tensor(x)
    return apply(_softmax_prim, x, axis=norm_axis(axis, x.ndim))


def log_softmax(x, /, axis=-1):
    """``x - logsumexp(x)`` along ``axis``.

    >>> import xpgrad as xg
    >>> round(xg.nn.log_softmax(xg.asarray([0.0, 0.0])).tolist()[0], 4)
    -0.6931
    """
    x = as_tensor(x)
    return apply(_log_softmax_prim, x, axis=norm_axis(axis, x.ndim))


__all__ = ["sigmoid", "relu", "leaky_relu", "softplus", "softmax", "log_softmax"]
