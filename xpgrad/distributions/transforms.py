"""Transforms of random variables, PyTorch's ``torch.distributions.transforms``: a ``Transform``
maps ``x`` to ``y = t(x)``, ``t.inv`` maps back, and ``t.log_abs_det_jacobian(x, y)`` is
``log |dy/dx|`` (summed over the event's ``event_dim`` rightmost axes), what
``TransformedDistribution`` needs for the change of variables. All are differentiable in ``x``
and in their parameters (``AffineTransform``'s ``loc``/``scale``, ``PowerTransform``'s
``exponent``). Each takes PyTorch's ``cache_size`` (0 or 1; ``transform_base``), and a
monotone one its ``sign`` (``TransformedDistribution.cdf``/``icdf`` need it).

>>> import xpgrad as xg
>>> T = xg.distributions.transforms
>>> t = T.ComposeTransform([T.AffineTransform(1.0, 2.0), T.ExpTransform()])
>>> x = xg.asarray([0.0, 0.5], dtype=xg.float64)
>>> y = t(x)                                         # exp(1 + 2 x)
>>> [round(v, 4) for v in y.tolist()], [round(v, 4) for v in t.inv(y).tolist()]
([2.7183, 7.3891], [0.0, 0.5])
>>> [round(v, 4) for v in t.log_abs_det_jacobian(x, y).tolist()]   # log 2 + 1 + 2 x
[1.6931, 2.6931]
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from ..dtype_functions import finfo
from ..ops import abs as _abs
from ..ops import (broadcast_to, clip, exp, expm1, log, log1p, logsumexp, sigmoid, softplus,
                   tanh)
from ..ops import sign as _sign
from ..tensor import Tensor
from . import boundary, constraints
from .distribution import sum_rightmost
from .transform_base import ParameterFree, Transform


class ComposeTransform(Transform):
    """PyTorch's ``ComposeTransform(parts)``: ``parts[0]`` first, then ``parts[1]``, ... (an
    empty list is the identity); ``log_abs_det_jacobian`` sums the parts', each summed over the
    event axes it does not see itself.

    >>> import xpgrad as xg
    >>> T = xg.distributions.transforms
    >>> t = T.ComposeTransform([T.ExpTransform(), T.PowerTransform(2.0)])
    >>> round(float(t(xg.asarray(1.0, dtype=xg.float64))), 4)       # exp(1)**2
    7.3891
    """

    def __init__(self, parts, cache_size=0):
        super().__init__(cache_size=cache_size)
        if isinstance(parts, Transform) or not isinstance(parts, (list, tuple)):
            raise TypeError(f"ComposeTransform: parts must be a list of Transforms, got "
                            f"{type(parts).__name__}")
        for i, part in enumerate(parts):
            if not isinstance(part, Transform):
                raise TypeError(f"ComposeTransform: parts[{i}] must be a Transform, got "
                                f"{type(part).__name__}")
        self.parts = [p.with_cache(cache_size) for p in parts] if cache_size else list(parts)

    def with_cache(self, cache_size=1):
        return self if cache_size == self._cache_size else \
            ComposeTransform(self.parts, cache_size=cache_size)

    @property
    def sign(self):
        sign = 1
        for part in self.parts:
            sign = sign * part.sign
        return sign

    def __eq__(self, other):
        return isinstance(other, ComposeTransform) and self.parts == other.parts

    __hash__ = Transform.__hash__

    @property
    def bijective(self):
        return all(p.bijective for p in self.parts)

    @property
    def domain(self):
        if not self.parts:
            return constraints.real
        event_dim = self.parts[-1].codomain.event_dim
        for part in reversed(self.parts):
            event_dim += part.domain.event_dim - part.codomain.event_dim
            event_dim = max(event_dim, part.domain.event_dim)
        first = self.parts[0].domain
        return constraints.independent(first, event_dim - first.event_dim)

    @property
    def codomain(self):
        if not self.parts:
            return constraints.real
        event_dim = self.parts[0].domain.event_dim
        for part in self.parts:
            event_dim += part.codomain.event_dim - part.domain.event_dim
            event_dim = max(event_dim, part.codomain.event_dim)
        last = self.parts[-1].codomain
        return constraints.independent(last, event_dim - last.event_dim)

    @property
    def inv(self):
        return ComposeTransform([p.inv for p in reversed(self.parts)])

    def _call(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def _inverse(self, y):
        for part in reversed(self.parts):
            y = part.inv(y)
        return y

    def log_abs_det_jacobian(self, x, y):
        if not self.parts:
            return x * 0
        xs = [x]
        for part in self.parts[:-1]:
            xs.append(part(xs[-1]))
        xs.append(y)
        total, event_dim = None, self.domain.event_dim
        for part, before, after in zip(self.parts, xs[:-1], xs[1:]):
            term = sum_rightmost(part.log_abs_det_jacobian(before, after),
                                 event_dim - part.domain.event_dim)
            total = term if total is None else total + term
            event_dim += part.codomain.event_dim - part.domain.event_dim
        return total

    def __repr__(self):
        return f"ComposeTransform({self.parts!r})"


class ExpTransform(ParameterFree):
    """``y = exp(x)``; ``log|dy/dx| = x``.

    >>> import xpgrad as xg
    >>> xg.distributions.transforms.ExpTransform().inv(xg.asarray([1.0])).tolist()
    [0.0]
    """

    domain, codomain, bijective = constraints.real, constraints.positive, True
    sign = 1

    def _call(self, x):
        return exp(x)

    def _inverse(self, y):
        return boundary.log(y)               # log 0 = -inf, without a warning

    def log_abs_det_jacobian(self, x, y):
        return x


def _parameter(who, name, value):
    """A number stays a number; an array or a Tensor becomes a Tensor; anything else is a
    TypeError naming the parameter."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, str):
        raise TypeError(f"{who}: {name} must be a number or a Tensor, got {value!r}")
    if isinstance(value, numbers.Real):
        return float(value)
    from ..creation import asarray

    try:
        return asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{who}: {name} must be a number or a Tensor: {e}") from None


def _same(a, b) -> bool:
    """Whether two parameters (numbers or Tensors) hold the same values (PyTorch's ``==``
    of transforms, which reads them)."""
    if a is b:
        return True
    if isinstance(a, float) and isinstance(b, float):
        return a == b
    a, b = (v.numpy() if isinstance(v, Tensor) else v for v in (a, b))
    return bool(np.all(np.asarray(a) == np.asarray(b)))


def _event_dim_arg(who, event_dim):
    if isinstance(event_dim, bool) or not isinstance(event_dim, numbers.Integral):
        raise TypeError(f"{who}: event_dim must be an int, got {event_dim!r}")
    if event_dim < 0:
        raise ValueError(f"{who}: event_dim must be >= 0, got {event_dim}")
    return operator.index(event_dim)


class AffineTransform(Transform):
    """PyTorch's ``AffineTransform(loc, scale, event_dim=0)``: ``y = loc + scale * x``;
    ``log|dy/dx| = log|scale|``, summed over ``event_dim`` rightmost axes.

    >>> import xpgrad as xg
    >>> t = xg.distributions.transforms.AffineTransform(1.0, 3.0, event_dim=1)
    >>> x = xg.zeros((2, 4))
    >>> t(x)[0].tolist(), t.log_abs_det_jacobian(x, t(x)).shape
    ([1.0, 1.0, 1.0, 1.0], (2,))
    """

    bijective = True

    def __init__(self, loc, scale, event_dim=0, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.loc = _parameter("AffineTransform", "loc", loc)
        self.scale = _parameter("AffineTransform", "scale", scale)
        self._event_dim = _event_dim_arg("AffineTransform", event_dim)
        self.domain = self.codomain = constraints.independent(constraints.real,
                                                              self._event_dim)

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        if isinstance(self.scale, float):
            per_value = x * 0 + math.log(abs(self.scale))
        else:
            per_value = log(_abs(self.scale))
            shape = tuple(np.broadcast_shapes(tuple(per_value.shape), tuple(x.shape)))
            if tuple(per_value.shape) != shape:
                per_value = broadcast_to(per_value, shape)
        return sum_rightmost(per_value, self._event_dim)

    @property
    def sign(self):
        if isinstance(self.scale, float):
            return (self.scale > 0) - (self.scale < 0)
        return _sign(self.scale)

    def __eq__(self, other):
        return isinstance(other, AffineTransform) and self._event_dim == other._event_dim \
            and _same(self.loc, other.loc) and _same(self.scale, other.scale)

    __hash__ = Transform.__hash__

    def __repr__(self):
        return f"AffineTransform(event_dim={self._event_dim})"


class SigmoidTransform(ParameterFree):
    """``y = sigmoid(x)``, kept inside ``(0, 1)`` (``[tiny, 1 - eps]`` of the dtype, as
    PyTorch's, so the inverse stays finite); ``log|dy/dx| = -softplus(-x) - softplus(x)``.

    >>> import xpgrad as xg
    >>> xg.distributions.transforms.SigmoidTransform()(xg.asarray([0.0])).tolist()
    [0.5]
    """

    domain, codomain, bijective = constraints.real, constraints.unit_interval, True
    sign = 1

    def _call(self, x):
        info = finfo(x.dtype)
        return clip(sigmoid(x), float(info.smallest_normal), 1.0 - float(info.eps))

    def _inverse(self, y):
        info = finfo(y.dtype)
        y = clip(y, float(info.smallest_normal), 1.0 - float(info.eps))
        return log(y) - log1p(-y)

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x) - softplus(x)


class SoftplusTransform(ParameterFree):
    """``y = softplus(x) = log(1 + exp(x))``; ``log|dy/dx| = -softplus(-x)`` (PyTorch's).

    >>> import xpgrad as xg
    >>> t = xg.distributions.transforms.SoftplusTransform()
    >>> round(t.inv(t(xg.asarray(-3.0, dtype=xg.float64))).item(), 12)
    -3.0
    """

    domain, codomain, bijective = constraints.real, constraints.positive, True
    sign = 1

    def _call(self, x):
        return softplus(x)

    def _inverse(self, y):
        return y + boundary.log(-expm1(-y))  # log(expm1(y)), without overflow for large y

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x)


class TanhTransform(ParameterFree):
    """``y = tanh(x)``; ``log|dy/dx| = 2 (log 2 - x - softplus(-2 x))``, stable for large
    ``|x|`` (the squashed Gaussian policy of SAC).

    >>> import xpgrad as xg
    >>> t = xg.distributions.transforms.TanhTransform()
    >>> round(float(t.log_abs_det_jacobian(xg.asarray(0.0), t(xg.asarray(0.0)))), 6)
    0.0
    """

    domain, codomain, bijective = constraints.real, constraints.interval(-1.0, 1.0), True
    sign = 1

    def _call(self, x):
        return tanh(x)

    def _inverse(self, y):
        return boundary.atanh(y)             # +-inf at +-1, as PyTorch's, without a warning

    def log_abs_det_jacobian(self, x, y):
        return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


class SoftmaxTransform(ParameterFree):
    """``y = softmax(x)`` over the last axis: onto the simplex, not bijective (adding a
    constant to ``x`` gives the same ``y``), so it has no ``log_abs_det_jacobian``; the
    inverse is ``log(y)``, one of the preimages.

    >>> import xpgrad as xg
    >>> t = xg.distributions.transforms.SoftmaxTransform()
    >>> t(xg.asarray([0.0, 0.0])).tolist(), t.bijective
    ([0.5, 0.5], False)
    """

    domain, codomain = constraints.real_vector, constraints.simplex

    def _call(self, x):
        return exp(x - logsumexp(x, axis=-1, keepdims=True))

    def _inverse(self, y):
        return boundary.log(y)


class PowerTransform(Transform):
    """PyTorch's ``PowerTransform(exponent)``: ``y = x ** exponent`` on ``x > 0``;
    ``log|dy/dx| = log|exponent * y / x|``.

    >>> import xpgrad as xg
    >>> t = xg.distributions.transforms.PowerTransform(2.0)
    >>> t(xg.asarray([3.0])).tolist(), t.inv(xg.asarray([4.0])).tolist()
    ([9.0], [2.0])
    """

    domain, codomain, bijective = constraints.positive, constraints.positive, True

    def __init__(self, exponent, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.exponent = _parameter("PowerTransform", "exponent", exponent)

    def _call(self, x):
        return x ** self.exponent

    def _inverse(self, y):
        return boundary.pow(y, 1 / self.exponent)      # 0 ** -p = inf, without a warning

    def log_abs_det_jacobian(self, x, y):
        return log(_abs(self.exponent * y / x))

    @property
    def sign(self):
        if isinstance(self.exponent, float):
            return (self.exponent > 0) - (self.exponent < 0)
        return _sign(self.exponent)

    def __eq__(self, other):
        return isinstance(other, PowerTransform) and _same(self.exponent, other.exponent)

    __hash__ = Transform.__hash__

    def __repr__(self):
        return "PowerTransform()"


class AbsTransform(ParameterFree):
    """PyTorch's ``AbsTransform``: ``y = |x|``, not bijective (``inv`` gives ``y`` back, the
    non-negative preimage); the folding of ``HalfNormal`` and ``HalfCauchy``.

    >>> import xpgrad as xg
    >>> t = xg.distributions.transforms.AbsTransform()
    >>> t(xg.asarray([-2.0, 3.0])).tolist(), t.inv(xg.asarray([2.0])).tolist()
    ([2.0, 3.0], [2.0])
    """

    domain, codomain = constraints.real, constraints.nonnegative

    def _call(self, x):
        return _abs(x)

    def _inverse(self, y):
        return y


__all__ = ["AbsTransform", "AffineTransform", "ComposeTransform", "ExpTransform", "PowerTransform",
           "SigmoidTransform", "SoftmaxTransform", "TanhTransform", "Transform"]
