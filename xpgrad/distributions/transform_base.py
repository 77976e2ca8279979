"""``Transform``, the base of ``xg.distributions.transforms``, and ``t.inv``, a transform read
backwards: the forward map, its inverse, the Jacobian's log-determinant, the sign of a monotone
map, equality, and PyTorch's ``cache_size``.

With ``cache_size=1`` a transform remembers its last pair ``(x, y)``: called again on that same
``x`` object it returns ``y``, and its inverse called on that same ``y`` object returns ``x``
without computing ``inv(y)``. That is what makes ``log_prob`` of a ``tanh``-squashed draw
finite where ``tanh`` rounded it to 1 (PyTorch's squashed-Gaussian recipe).

>>> import xpgrad as xg
>>> t = xg.distributions.transforms.TanhTransform(cache_size=1)
>>> x = xg.asarray([0.5, 40.0], dtype=xg.float64)
>>> y = t(x)
>>> y.tolist(), t.inv(y).tolist()                   # tanh(40) is 1.0; the cached x comes back
([0.46211715726000974, 1.0], [0.5, 40.0])
"""
from __future__ import annotations

import copy
import numbers

from . import constraints


def _cache_size_arg(who, cache_size) -> int:
    if isinstance(cache_size, bool) or not isinstance(cache_size, numbers.Integral):
        raise TypeError(f"{who}: cache_size must be 0 or 1, got {cache_size!r}")
    if cache_size not in (0, 1):
        raise ValueError(f"{who}: cache_size must be 0 or 1, got {cache_size}")
    return int(cache_size)


class Transform:
    """A map ``x -> y`` with its inverse and the log of its Jacobian's absolute determinant.

    Subclasses set ``domain`` and ``codomain`` (constraints; their ``event_dim`` is how many
    rightmost axes form one event) and ``bijective``, write ``_call``, ``_inverse`` and
    ``log_abs_det_jacobian``, and call ``super().__init__(cache_size=cache_size)`` where they
    have their own ``__init__``. ``cache_size`` (0 or 1, PyTorch's): see the module.

    >>> import xpgrad as xg
    >>> t = xg.distributions.transforms.ExpTransform()
    >>> t.inv(t(xg.asarray([0.0]))).tolist(), t.bijective, t.event_dim, t.sign
    ([0.0], True, 0, 1)
    """

    domain = constraints.real
    codomain = constraints.real
    bijective = False
    _cache_size = 0
    _cached_x_y = (None, None)

    def __init__(self, cache_size=0):
        self._cache_size = _cache_size_arg(type(self).__name__, cache_size)
        self._cached_x_y = (None, None)

    def __call__(self, x):
        if not self._cache_size:
            return self._call(x)
        x_old, y_old = self._cached_x_y
        if x is x_old:
            return y_old
        y = self._call(x)
        self._cached_x_y = (x, y)
        return y

    def _inv_call(self, y):
        """``inv(y)``: the cached ``x`` where ``y`` is the object last given or made."""
        if not self._cache_size:
            return self._inverse(y)
        x_old, y_old = self._cached_x_y
        if y is y_old:
            return x_old
        x = self._inverse(y)
        self._cached_x_y = (x, y)
        return x

    @property
    def inv(self) -> "Transform":
        """The inverse transform: ``t.inv(t(x)) == x`` where ``t`` is bijective; it shares
        ``t``'s cache."""
        return _InverseTransform(self)

    def with_cache(self, cache_size=1) -> "Transform":
        """This transform with ``cache_size`` (itself where it already has it; else a copy
        with an empty cache).

        >>> from xpgrad.distributions.transforms import ExpTransform
        >>> ExpTransform().with_cache(1)._cache_size
        1
        """
        cache_size = _cache_size_arg(f"{type(self).__name__}.with_cache", cache_size)
        if cache_size == self._cache_size:
            return self
        new = copy.copy(self)
        new._cache_size, new._cached_x_y = cache_size, (None, None)
        return new

    @property
    def event_dim(self) -> int:
        if self.domain.event_dim != self.codomain.event_dim:
            raise ValueError(f"{type(self).__name__}: the domain and codomain have different "
                             f"event_dim; read .domain.event_dim or .codomain.event_dim")
        return self.domain.event_dim

    @property
    def sign(self):
        """+1 where the map increases, -1 where it decreases (a number, or a Tensor for a
        transform with tensor parameters); NotImplementedError where it is not monotone."""
        raise NotImplementedError(f"{type(self).__name__} has no sign (not monotone)")

    def __eq__(self, other):
        """The same map: a transform without parameters equals any of its class; others
        compare their parameters (``cache_size`` aside, as PyTorch's)."""
        return self is other

    def __ne__(self, other):
        return not self == other

    __hash__ = object.__hash__

    def _call(self, x):
        raise NotImplementedError(f"{type(self).__name__} has no forward map")

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} has no inverse")

    def log_abs_det_jacobian(self, x, y):
        """``log |det dy/dx|`` at ``x`` (with ``y = t(x)``), one value per event."""
        raise NotImplementedError(f"{type(self).__name__} has no log_abs_det_jacobian")

    def __repr__(self):
        return f"{type(self).__name__}()"


class ParameterFree(Transform):
    """A transform without parameters: equal to every transform of its class."""

    def __eq__(self, other):
        return type(other) is type(self)

    __hash__ = Transform.__hash__


class _InverseTransform(Transform):
    """``t.inv``: ``t`` read backwards, through ``t``'s cache."""

    def __init__(self, transform):
        self._inv = transform

    domain = property(lambda self: self._inv.codomain)
    codomain = property(lambda self: self._inv.domain)
    bijective = property(lambda self: self._inv.bijective)
    sign = property(lambda self: self._inv.sign)
    _cache_size = property(lambda self: self._inv._cache_size)

    @property
    def inv(self):
        return self._inv

    def with_cache(self, cache_size=1):
        return self._inv.with_cache(cache_size).inv

    def __call__(self, x):
        return self._inv._inv_call(x)

    def _inv_call(self, y):
        return self._inv(y)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)

    def __eq__(self, other):
        return isinstance(other, _InverseTransform) and self._inv == other._inv

    __hash__ = Transform.__hash__

    def __repr__(self):
        return f"{self._inv!r}.inv"


__all__ = ["ParameterFree", "Transform"]
