"""``MultivariateNormal(loc, covariance_matrix= | precision_matrix= | scale_tril=)``: the
Gaussian over vectors (the last axis of ``loc``), with a reparameterized sampler.

The covariance and precision are factored with ``xg.linalg.cholesky`` (differentiable, its
gradient the symmetric one, as PyTorch's); ``scale_tril`` is used as given.

>>> import xpgrad as xg
>>> L = xg.asarray([[1.0, 0.0], [0.5, 2.0]], dtype=xg.float64)
>>> d = xg.distributions.MultivariateNormal(xg.zeros(2, dtype=xg.float64), scale_tril=L)
>>> d.covariance_matrix.tolist()
[[1.0, 0.5], [0.5, 4.25]]
>>> round(float(d.log_prob(xg.asarray([0.0, 0.0], dtype=xg.float64))), 6)   # -log(2 pi |L|)
-2.531024
"""
from __future__ import annotations

import math

from ..linalg import cholesky, diagonal, inv, solve_triangular
from ..ops import broadcast_to, expand_dims, log, matmul, matrix_transpose, squeeze
from ..ops import sum as _sum
from . import constraints
from ._lazy import lazy
from .distribution import Distribution, as_params, broadcast_shape

_MATRICES = ("covariance_matrix", "precision_matrix", "scale_tril")


class MultivariateNormal(Distribution):
    """PyTorch's ``MultivariateNormal``: ``loc`` of shape ``batch + (k,)`` and exactly one of
    ``covariance_matrix``/``precision_matrix`` (symmetric positive definite) or
    ``scale_tril`` (lower triangular, positive diagonal), of shape ``batch + (k, k)``."""

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        who = "MultivariateNormal"
        given = {k: v for k, v in zip(_MATRICES, (covariance_matrix, precision_matrix,
                                                  scale_tril)) if v is not None}
        if len(given) != 1:
            raise ValueError(f"{who}: give exactly one of covariance_matrix, precision_matrix "
                             f"or scale_tril, got {sorted(given) or 'none'}")
        ((name, matrix),) = given.items()
        self.backend, self.dtype, p = as_params(who, {"loc": 1, name: 2}, loc=loc,
                                                **{name: matrix})
        loc, matrix = p["loc"], p[name]
        k = loc.shape[-1]
        if tuple(matrix.shape[-2:]) != (k, k):
            raise ValueError(f"{who}: {name} must have shape (..., {k}, {k}) to match loc's "
                             f"last axis, got shape {tuple(matrix.shape)}")
        batch = broadcast_shape(who, {"loc": tuple(loc.shape[:-1]),
                                      name: tuple(matrix.shape[:-2])})
        self.loc = broadcast_to(loc, batch + (k,))
        setattr(self, name, broadcast_to(matrix, batch + (k, k)))
        super().__init__(batch, (k,), validate_args=validate_args)    # checks before factoring
        if name == "scale_tril":
            self._tril = matrix
        elif name == "covariance_matrix":
            self._tril = cholesky(matrix)
        else:
            self._tril = cholesky(inv(matrix))

    @lazy
    def scale_tril(self):
        return broadcast_to(self._tril, self._batch_shape + self._event_shape * 2)

    @lazy
    def covariance_matrix(self):
        return broadcast_to(matmul(self._tril, matrix_transpose(self._tril)),
                            self._batch_shape + self._event_shape * 2)

    @lazy
    def precision_matrix(self):
        return inv(self.covariance_matrix)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return broadcast_to(_sum(self._tril ** 2, axis=-1),
                            self._batch_shape + self._event_shape)

    def _half_log_det(self):
        return _sum(log(diagonal(self._tril)), axis=-1)

    def rsample(self, sample_shape=(), *, rng=None):
        """``loc + L eps``, ``eps`` standard normal vectors from ``rng``."""
        eps = self._noise(lambda g, shape, dt: g.standard_normal(shape, dtype=dt),
                          sample_shape, rng)
        return self.loc + squeeze(matmul(self._tril, expand_dims(eps, axis=-1)), axis=-1)

    def log_prob(self, value):
        value = self._value(value)
        k = self._event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + mahalanobis(self._tril, value - self.loc)) \
            - self._half_log_det()

    def entropy(self):
        k = self._event_shape[0]
        h = 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h if tuple(h.shape) == self._batch_shape else broadcast_to(h, self._batch_shape)


def mahalanobis(L, x):
    """``|L^-1 x|^2`` over the last axis (the lower triangle of ``L`` read): one triangular
    solve, the sample axes of ``x`` beyond ``L``'s batch solved as columns of one
    right-hand side."""
    y = squeeze(solve_triangular(L, expand_dims(x, axis=-1), upper=False), axis=-1)
    return _sum(y ** 2, axis=-1)
