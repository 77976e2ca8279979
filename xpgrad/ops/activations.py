"""Activations (exposed as ``xg.nn.*`` and ``xg.*``): sigmoid, relu, leaky_relu, softplus,
softmax, log_softmax, and PyTorch's others: elu, selu, celu, gelu, silu, mish, softsign,
log_sigmoid, hardtanh, relu6, hardsigmoid, hardswish, glu. Each is stable for large |x| and
takes its limit at +-inf (where PyTorch gives NaN for some: gelu, silu, mish, softsign at
infinities); backends may register fused kernels under the same primitive names. Integer
and boolean inputs come out in float32 (as ``xg.tanh``'s), except from relu, relu6 and
hardtanh, which keep the integer dtype (as PyTorch's). Complex inputs: sigmoid, silu and
softsign are PyTorch's formulas (``1 / (1 + exp(-z))``, ``z * sigmoid(z)``,
``z / (1 + |z|)``, differentiated as compositions); the others refuse them with a TypeError,
as PyTorch's do (they compare with 0 or are defined for real numbers only).

>>> import xpgrad as xg
>>> xg.nn.sigmoid(xg.asarray([-1000.0, 0.0, 1000.0])).tolist()
[0.0, 0.5, 1.0]
"""
from __future__ import annotations

import numbers

from .._args import refuse_keywords
from ..optim._checks import hyperparameter
from ..primitive import Primitive, apply
from ..tensor import Tensor
from . import formulas
from ._define import as_tensor, is_complex, norm_axis
from .reductions import _floating
from .special import _quiet


def _inexact(x, name):
    """``x`` as a Tensor, integers and booleans cast to the default float (float32), as
    ``xg.tanh`` and ``xg.mean`` take them; not NumPy's float64 of int-with-float arithmetic.
    What is no array is refused naming the activation ``name``."""
    # the usual case, on every call: a NumPy/CuPy float (other namespaces' dtypes lack .kind)
    if type(x) is Tensor and getattr(x._data.dtype, "kind", "") in ("f", "c"):
        return x
    return _floating(as_tensor(x, name))


def _real(x, name):
    """``_inexact(x)``, a complex ``x`` refused with a TypeError naming the activation."""
    if type(x) is Tensor and getattr(x._data.dtype, "kind", "") == "f":
        return x
    return _refuse_complex(_inexact(x, name), name)


def _refuse_complex(x, name):
    """``x`` as a Tensor, a complex one refused with a TypeError naming the activation."""
    x = as_tensor(x, name)
    if is_complex(x._backend.xp, x._data):
        raise TypeError(f"{name}: x must be real, got a {x.dtype} tensor ({name} is defined for "
                        "real numbers only; PyTorch's refuses complex input too)")
    return x


def _complex_sigmoid(z):
    """``1 / (1 + exp(-z))`` of a complex ``z``, as a composition (the rules of exp and
    reciprocal give the holomorphic gradient ``g * conj(s * (1 - s))``)."""
    from .elementwise import exp, reciprocal

    return reciprocal(1.0 + exp(-z))


_sigmoid = Primitive("sigmoid", formulas.sigmoid,
                     lambda xp, g, ans, x: g * ans * (1.0 - ans), saves="output")
# relu(x) <= 0 exactly where x <= 0: the rule reads the output, which the next layer keeps
# anyway. A NaN input (relu(NaN) is NaN) gets the gradient, as PyTorch's and maximum's rules do.
_relu = Primitive("relu", lambda xp, x: xp.maximum(x, 0),      # integers stay integers
                  lambda xp, g, ans, x: xp.where(ans <= 0, 0.0, g), saves="output")
_leaky_relu = Primitive("leaky_relu",
                        lambda xp, x, negative_slope: xp.where(x >= 0, x, x * negative_slope),
                        lambda xp, g, ans, x, negative_slope:
                            xp.where(x > 0, g, g * negative_slope))
_LOG_2 = 0.6931471805599453


def _softplus_vjp(xp, g, ans, x):
    # sigmoid(x) = -expm1(-softplus(x)), from the output and without overflow. An outer tape
    # differentiates expm1 by its output + 1, which cancels where sigmoid(x) is near 1 (x > 0:
    # the second derivative was 1e-4 off at x = 30 and 0 beyond 37); there 1 - exp(-ans)
    # is as accurate, and its derivative exp(-ans) = sigmoid(-x) has no cancellation.
    if isinstance(ans, Tensor):
        return g * xp.where(ans > _LOG_2, 1.0 - xp.exp(-ans), -xp.expm1(-ans))
    return -g * xp.expm1(-ans)


_softplus = Primitive("softplus", formulas.softplus, _softplus_vjp, saves="output")


def sigmoid(x, /):
    """Logistic function ``1 / (1 + exp(-x))``; its derivative is ``s * (1 - s)``.

    >>> import xpgrad as xg
    >>> xg.nn.sigmoid(xg.asarray([0.0])).tolist()
    [0.5]
    """
    x = _inexact(x, "sigmoid")
    if is_complex(x._backend.xp, x._data):
        return _complex_sigmoid(x)
    return apply(_sigmoid, x)


def relu(x, /):
    """``max(x, 0)``; the derivative is 1 for x > 0 (and at NaN, as in PyTorch), else 0.

    >>> import xpgrad as xg
    >>> xg.nn.relu(xg.asarray([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    # inlined (a call per layer per step): NumPy/CuPy real kinds pass, the rest is checked
    if x.__class__ is not Tensor or getattr(x._data.dtype, "kind", "?") not in "fiub":
        x = _refuse_complex(x, "relu")
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
    return apply(_leaky_relu, _real(x, "leaky_relu"), negative_slope=slope)


def _softplus_beta_forward(xp, x, beta, threshold):
    z = beta * x
    y = formulas.softplus(xp, z) / beta
    return y if threshold is None else xp.where(z > threshold, x, y)


def _softplus_beta_vjp(xp, g, ans, x, beta, threshold):
    z = beta * x
    d = g * formulas.sigmoid(xp, z)
    return d if threshold is None else xp.where(z > threshold, g, d)


_softplus_beta = Primitive("softplus_beta", _softplus_beta_forward, _softplus_beta_vjp,
                           saves=(0,))


def softplus(x, /, beta=1.0, threshold=None):
    """``log(1 + exp(beta * x)) / beta``, stable for large |x|; with ``threshold`` (PyTorch's
    default is 20), ``x`` itself where ``beta * x > threshold``. The default ``threshold=None``
    keeps the exact formula everywhere (its gradient is ``sigmoid(beta * x)``, as JAX's).

    >>> import xpgrad as xg
    >>> xg.nn.softplus(xg.asarray([0.0])).item() == float(xg.log(xg.asarray(2.0)))
    True
    >>> xg.nn.softplus(xg.asarray([30.0, 0.0], dtype=xg.float64), beta=2.0, threshold=20.0).tolist()
    [30.0, 0.34657359027997264]
    """
    beta = hyperparameter("softplus: beta", beta)
    if beta == 0.0:
        raise ValueError("softplus: beta must be a nonzero number (it divides), got 0.0")
    if threshold is not None:
        threshold = hyperparameter("softplus: threshold", threshold)
    if beta == 1.0 and threshold is None:
        return apply(_softplus, _real(x, "softplus"))
    return apply(_softplus_beta, _real(x, "softplus"), beta=beta, threshold=threshold)


# quiet: a row holding +inf gives NaN (inf - inf) without NumPy's RuntimeWarning, as the NumPy
# kernels along the last axis do (this generic rule runs for other axes, xg.function, xg.vmap)
_softmax_prim = Primitive(
    "softmax", _quiet(formulas.softmax),
    lambda xp, g, ans, x, axis: ans * (g - xp.sum(g * ans, axis=axis, keepdims=True)))
_log_softmax_prim = Primitive(
    "log_softmax", _quiet(formulas.log_softmax),
    lambda xp, g, ans, x, axis: g - xp.exp(ans) * xp.sum(g, axis=axis, keepdims=True))


def _softmax_axis(axis, x, name):
    """``axis`` as a non-negative int; for a 0-d ``x`` a ValueError naming the function and
    the axis (PyTorch takes axis -1 of a 0-d tensor as its one element, JAX refuses it)."""
    if x.ndim == 0 and isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        one = "1.0" if name == "softmax" else "0.0"
        raise ValueError(f"{name}: axis {axis!r} is out of range for a 0-d tensor: there is no "
                         f"axis to normalize along (JAX refuses it too; PyTorch returns {one}). "
                         f"Reshape it to (1,) for a {name} of one element")
    return norm_axis(axis, x.ndim, f"{name}: axis")


def softmax(x, /, axis=-1, where=None, **unexpected):
    """``exp(x) / sum(exp(x))`` along ``axis``, stable for large |x|. ``where`` (JAX's): a
    boolean mask, broadcast to ``x``; masked entries take no part and come out 0.

    >>> import xpgrad as xg
    >>> xg.nn.softmax(xg.asarray([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    if unexpected:
        refuse_keywords("softmax", unexpected)
    x = _real(x, "softmax")
    axis = _softmax_axis(axis, x, "softmax")
    if where is not None:
        from .masked import masked_softmax

        return masked_softmax(lambda v, a: apply(_softmax_prim, v, axis=a), x, axis, where,
                              log=False)
    return apply(_softmax_prim, x, axis=axis)


def log_softmax(x, /, axis=-1, where=None, **unexpected):
    """``x - logsumexp(x)`` along ``axis``. ``where`` (JAX's): a boolean mask, broadcast to
    ``x``; masked entries take no part and come out -inf.

    >>> import xpgrad as xg
    >>> round(xg.nn.log_softmax(xg.asarray([0.0, 0.0])).tolist()[0], 4)
    -0.6931
    """
    if unexpected:
        refuse_keywords("log_softmax", unexpected)
    x = _real(x, "log_softmax")
    axis = _softmax_axis(axis, x, "log_softmax")
    if where is not None:
        from .masked import masked_softmax

        return masked_softmax(lambda v, a: apply(_log_softmax_prim, v, axis=a), x, axis, where,
                              log=True)
    return apply(_log_softmax_prim, x, axis=axis)


# PyTorch's other activations (elu ... glu) live in activations_torch.py; ``activations.elu``
# and the others stay reachable here, and in ``__all__``, as before
from .activations_torch import *  # noqa: E402,F401,F403
from .activations_torch import __all__ as _torch_names  # noqa: E402

__all__ = ["sigmoid", "relu", "leaky_relu", "softplus", "softmax", "log_softmax", *_torch_names]
