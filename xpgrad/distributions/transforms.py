"""Transforms of random variables, PyTorch's ``torch.distributions.transforms``: a ``Transform``
maps ``x`` to ``y = t(x)``, ``t.inv`` maps back, and ``t.log_abs_det_jacobian(x, y)`` is
``log |dy/dx|`` (summed over the event's ``event_dim`` rightmost axes), what
``TransformedDistribution`` needs for the change of variables. All are differentiable in ``x``
and in their parameters (``AffineTransform``'s ``loc``/``scale``, ``PowerTransform``'s
``exponent``). Results are computed afresh each call (PyTorch's ``cache_size`` is absent).

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
from ..ops import (atanh, broadcast_to, clip, exp, log, log1p, logsumexp, sigmoid, softplus,
                   tanh)
from ..tensor import Tensor
from . import constraints
from .distribution import sum_rightmost


class Transform:
    """A map ``x -> y`` with its inverse and the log of its Jacobian's absolute determinant.

    Subclasses set ``domain`` and ``codomain`` (constraints; their ``event_dim`` is how many
    rightmost axes form one event) and ``bijective``, and write ``_call``, ``_inverse`` and
    ``log_abs_det_jacobian``.

    >>> import xpgrad as xg
    >>> t = xg.distributions.transforms.ExpTransform()
    >>> t.inv(t(xg.asarray([0.0]))).tolist(), t.bijective, t.event_dim
    ([0.0], True, 0)
    """

    domain = constraints.real
    codomain = constraints.real
    bijective = False

    def __call__(self, x):
        return self._call(x)

    @property
    def inv(self) -> "Transform":
        """The inverse transform: ``t.inv(t(x)) == x`` where ``t`` is bijective."""
        return _InverseTransform(self)

    @property
    def event_dim(self) -> int:
        if self.domain.event_dim != self.codomain.event_dim:
            raise ValueError(f"{type(self).__name__}: the domain and codomain have different "
                             f"event_dim; read .domain.event_dim or .codomain.event_dim")
        return self.domain.event_dim

    def _call(self, x):
        raise NotImplementedError(f"{type(self).__name__} has no forward map")

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} has no inverse")

    def log_abs_det_jacobian(self, x, y):
        """``log |det dy/dx|`` at ``x`` (with ``y = t(x)``), one value per event."""
        raise NotImplementedError(f"{type(self).__name__} has no log_abs_det_jacobian")

    def __repr__(self):
        return f"{type(self).__name__}()"


class _InverseTransform(Transform):
    """``t.inv``: ``t`` read backwards."""

    def __init__(self, transform):
        self._inv = transform

    domain = property(lambda self: self._inv.codomain)
    codomain = property(lambda self: self._inv.domain)
    bijective = property(lambda self: self._inv.bijective)

    @property
    def inv(self):
        return self._inv

    def __call__(self, x):
        return self._inv._inverse(x)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)

    def __repr__(self):
        return f"{self._inv!r}.inv"


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

    def __init__(self, parts):
        if isinstance(parts, Transform) or not isinstance(parts, (list, tuple)):
            raise TypeError(f"ComposeTransform: parts must be a list of Transforms, got "
                            f"{type(parts).__name__}")
        for i, part in enumerate(parts):
            if not isinstance(part, Transform):
                raise TypeError(f"ComposeTransform: parts[{i}] must be a Transform, got "
                                f"{type(part).__name__}")
        self.parts = list(parts)

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

    def __call__(self, x):
        for part in self.parts:
            x = part(x)
        return x

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


class ExpTransform(Transform):
    """``y = exp(x)``; ``log|dy/dx| = x``.

    >>> import xpgrad as xg
    >>> xg.distributions.transforms.ExpTransform().inv(xg.asarray([1.0])).tolist()
    [0.0]
    """

    domain, codomain, bijective = constraints.real, constraints.positive, True

    def _call(self, x):
        return exp(x)

    def _inverse(self, y):
        return log(y)

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

    def __init__(self, loc, scale, event_dim=0):
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

    def __repr__(self):
        return f"AffineTransform(event_dim={self._event_dim})"


class SigmoidTransform(Transform):
    """``y = sigmoid(x)``, kept inside ``(0, 1)`` (``[tiny, 1 - eps]`` of the dtype, as
    PyTorch's, so the inverse stays finite); ``log|dy/dx| = -softplus(-x) - softplus(x)``.

    >>> import xpgrad as xg
    >>> xg.distributions.transforms.SigmoidTransform()(xg.asarray([0.0])).tolist()
    [0.5]
    """

    domain, codomain, bijective = constraints.real, constraints.unit_interval, True

    def _call(self, x):
        info = finfo(x.dtype)
        return clip(sigmoid(x), float(info.smallest_normal), 1.0 - float(info.eps))

    def _inverse(self, y):
        info = finfo(y.dtype)
        y = clip(y, float(info.smallest_normal), 1.0 - float(info.eps))
        return log(y) - log1p(-y)

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x) - softplus(x)


class TanhTransform(Transform):
    """``y = tanh(x)``; ``log|dy/dx| = 2 (log 2 - x - softplus(-2 x))``, stable for large
    ``|x|`` (the squashed Gaussian policy of SAC).

    >>> import xpgrad as xg
    >>> t = xg.distributions.transforms.TanhTransform()
    >>> round(float(t.log_abs_det_jacobian(xg.asarray(0.0), t(xg.asarray(0.0)))), 6)
    0.0
    """

    domain, codomain, bijective = constraints.real, constraints.interval(-1.0, 1.0), True

    def _call(self, x):
        return tanh(x)

    def _inverse(self, y):
        return atanh(y)

    def log_abs_det_jacobian(self, x, y):
        return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


class SoftmaxTransform(Transform):
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
        return log(y)


class PowerTransform(Transform):
    """PyTorch's ``PowerTransform(exponent)``: ``y = x ** exponent`` on ``x > 0``;
    ``log|dy/dx| = log|exponent * y / x|``.

    >>> import xpgrad as xg
    >>> t = xg.distributions.transforms.PowerTransform(2.0)
    >>> t(xg.asarray([3.0])).tolist(), t.inv(xg.asarray([4.0])).tolist()
    ([9.0], [2.0])
    """

    domain, codomain, bijective = constraints.positive, constraints.positive, True

    def __init__(self, exponent):
        self.exponent = _parameter("PowerTransform", "exponent", exponent)

    def _call(self, x):
        return x ** self.exponent

    def _inverse(self, y):
        return y ** (1 / self.exponent)

    def log_abs_det_jacobian(self, x, y):
        return log(_abs(self.exponent * y / x))

    def __repr__(self):
        return "PowerTransform()"


class AbsTransform(Transform):
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
