"""``TransformedDistribution(base_distribution, transforms)``: the law of ``y = t_n(...t_1(x))``
for ``x`` drawn from the base, PyTorch's. ``log_prob`` is the change of variables,
``log p(y) = log p_base(x) - sum_i log|det dt_i/dx|`` with ``x`` from the inverses, so the
transforms must be bijective for it; ``sample``/``rsample`` push the base's draws forward.

>>> import xpgrad as xg
>>> D = xg.distributions
>>> d = D.TransformedDistribution(D.Normal(0.0, 1.0), [D.transforms.TanhTransform()])
>>> d.sample((4,), rng=0).shape, round(float(d.log_prob(0.0)), 6)   # log N(0; 0, 1)
((4,), -0.918939)
"""
from __future__ import annotations

from . import constraints
from .distribution import Distribution, sum_rightmost
from .independent import Independent
from .transforms import ComposeTransform, Transform


def _transform_list(transforms):
    if isinstance(transforms, Transform):
        return [transforms]
    if not isinstance(transforms, (list, tuple)):
        raise TypeError(f"TransformedDistribution: transforms must be a Transform or a list of "
                        f"Transforms, got {type(transforms).__name__}")
    for i, t in enumerate(transforms):
        if not isinstance(t, Transform):
            raise TypeError(f"TransformedDistribution: transforms[{i}] must be a Transform, "
                            f"got {type(t).__name__}")
    return list(transforms)


class TransformedDistribution(Distribution):
    """PyTorch's ``TransformedDistribution(base_distribution, transforms)``: ``transforms``
    one Transform or a list, applied in order. Where the transforms' domain has more event
    axes than the base (an ``AffineTransform(..., event_dim=1)`` on a scalar family), the
    base's rightmost batch axes become event axes (``Independent``)."""

    arg_constraints: dict = {}

    def __init__(self, base_distribution, transforms, validate_args=None):
        if not isinstance(base_distribution, Distribution):
            raise TypeError(f"TransformedDistribution: base_distribution must be a "
                            f"Distribution, got {type(base_distribution).__name__}")
        self.transforms = _transform_list(transforms)
        chain = ComposeTransform(self.transforms)
        shape = base_distribution.batch_shape + base_distribution.event_shape
        domain_event_dim = chain.domain.event_dim
        if len(shape) < domain_event_dim:
            raise ValueError(f"TransformedDistribution: base_distribution needs at least "
                             f"{domain_event_dim} axes (batch_shape + event_shape) for the "
                             f"transforms' domain, got shape {shape}")
        extra = domain_event_dim - len(base_distribution.event_shape)
        if extra > 0:
            base_distribution = Independent(base_distribution, extra)
        self.base_dist = base_distribution
        self.backend, self.dtype = base_distribution.backend, base_distribution.dtype
        event_dim = chain.codomain.event_dim + max(len(base_distribution.event_shape)
                                                   - domain_event_dim, 0)
        cut = len(shape) - event_dim
        super().__init__(shape[:cut], shape[cut:], validate_args=validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def support(self):
        if not self.transforms:
            return self.base_dist.support
        codomain = self.transforms[-1].codomain
        return constraints.independent(codomain,
                                       len(self._event_shape) - codomain.event_dim)

    def sample(self, sample_shape=(), *, rng=None):
        """A base draw pushed through the transforms, cut from the tapes."""
        x = self.base_dist.sample(sample_shape, rng=rng)
        for t in self.transforms:
            x = t(x)
        return x

    def rsample(self, sample_shape=(), *, rng=None):
        """A reparameterized base draw pushed through the transforms: gradients flow to the
        base's parameters and the transforms'."""
        x = self.base_dist.rsample(sample_shape, rng=rng)
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value):
        """``log p_base(x) - sum log|det dt/dx|`` at ``x`` the inverses of ``value``."""
        y = self._value(value)
        event_dim, total = len(self._event_shape), None
        for t in reversed(self.transforms):
            x = t.inv(y)
            event_dim += t.domain.event_dim - t.codomain.event_dim
            term = sum_rightmost(t.log_abs_det_jacobian(x, y), event_dim - t.domain.event_dim)
            total = -term if total is None else total - term
            y = x
        base = sum_rightmost(self.base_dist.log_prob(y),
                             event_dim - len(self.base_dist.event_shape))
        return base if total is None else base + total

    def _monotonize_cdf(self, value):
        """``value`` where the transforms increase; ``1 - value`` where they decrease (the
        product of their signs, PyTorch's)."""
        sign = 1
        for t in self.transforms:
            sign = sign * t.sign
        if isinstance(sign, int) and sign == 1:
            return value
        return sign * (value - 0.5) + 0.5

    def cdf(self, value):
        """The base's cdf at the inverses of ``value``, for monotone transforms (each has a
        ``sign``; else NotImplementedError), PyTorch's.

        >>> import xpgrad as xg
        >>> D = xg.distributions
        >>> d = D.TransformedDistribution(D.Normal(0.0, 1.0), [D.transforms.ExpTransform()])
        >>> float(d.cdf(1.0)), float(d.icdf(0.5))
        (0.5, 1.0)
        """
        y = self._value(value, "cdf")
        for t in reversed(self.transforms):
            y = t.inv(y)
        return self._monotonize_cdf(self.base_dist.cdf(y))

    def icdf(self, value):
        """The base's icdf, pushed through the transforms (monotone ones, as ``cdf``)."""
        x = self.base_dist.icdf(self._monotonize_cdf(self._value(value, "icdf",
                                                                constraints.unit_interval)))
        for t in self.transforms:
            x = t(x)
        return x

    def expand(self, batch_shape):
        new = self._expanded_copy(batch_shape)
        base_batch = (new.batch_shape + self._event_shape)[
            :len(new.batch_shape) + len(self._event_shape) - len(self.base_dist.event_shape)]
        new.base_dist = self.base_dist.expand(base_batch)
        return new

    def __repr__(self):
        return f"{type(self).__name__}({self.base_dist!r}, {self.transforms!r})"
