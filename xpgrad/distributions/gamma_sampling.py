"""Standard-gamma draws for the gamma family (Gamma, Chi2, Beta, Dirichlet): Marsaglia and
Tsang's (2000) rejection method on the backend's own generator, reparameterized so that
gradients reach the concentration (``xpgrad.ops.gamma_sample_grad``).

For ``alpha >= 1``: ``d = alpha - 1/3``, ``c = 1 / sqrt(9 d)``; draw ``x`` standard normal and
``u`` uniform, ``v = (1 + c x)**3``; accept ``d v`` where ``v > 0`` and ``log u < x**2 / 2 + d
- d v + d log v`` (at least 95% of tries), and draw again for the rest. For ``alpha < 1``, a
draw of ``alpha + 1`` times ``u**(1 / alpha)``. The draws are made in float64 and rounded to the
distribution's dtype; a draw that underflows is the dtype's smallest normal number, as
PyTorch's (its gradient is then ~0). Beta and Dirichlet normalize the draws' logs instead
(``standard_log_gamma``: a softmax, so two draws far below the smallest float still have
their ratio), and clamp the result into ``[tiny, 1 - eps / 2]`` as PyTorch's
(``inside_unit_interval``): no coordinate is exactly 0 or 1.

>>> import xpgrad as xg
>>> gen = xg.random.default_rng(0)
>>> z = standard_gamma(xg.asarray([0.5, 4.0], dtype=xg.float64), (20000, 2), gen)
>>> [round(v, 1) for v in xg.mean(z, axis=0).tolist()]
[0.5, 4.0]
"""
from __future__ import annotations

from .. import dtypes as _dt
from ..backend import get_backend
from ..dtype_functions import finfo
from ..ops import astype, broadcast_to, clip, maximum
from ..ops.gamma_sample_grad import log_reparameterized, reparameterized
from ..tape import stop_gradient
from ..tensor import Tensor, _wrap
from .count_sampling import is_host, on_host

def _marsaglia_tsang(xp, rng, alpha):
    """Float64 standard-gamma draws of the float64 array ``alpha`` from the native ``rng``."""
    out, boosted, log_boost = _marsaglia_tsang_parts(xp, rng, alpha)
    if log_boost is None:
        return out
    return xp.where(boosted, xp.exp(xp.log(out) + log_boost), out)


def _marsaglia_tsang_log(xp, rng, alpha):
    """The logs of ``_marsaglia_tsang``'s draws (the same numbers of ``rng``), never rounded
    to 0: a draw of a small ``alpha`` can be far below the smallest float."""
    out, _, log_boost = _marsaglia_tsang_parts(xp, rng, alpha)
    return xp.log(out) if log_boost is None else xp.log(out) + log_boost


def _marsaglia_tsang_parts(xp, rng, alpha):
    """``(draws of max(alpha, alpha + 1), where alpha < 1, log u / alpha there or None)``."""
    boosted = alpha < 1.0
    shape = alpha + xp.astype(boosted, alpha.dtype)
    d = xp.reshape(shape - 1.0 / 3.0, (-1,))
    c = 1.0 / xp.sqrt(9.0 * d)
    out = xp.zeros(d.shape, dtype=xp.float64)
    pending = xp.arange(d.shape[0])
    while pending.shape[0]:
        dp, cp = d[pending], c[pending]
        x = rng.standard_normal(pending.shape, dtype=xp.float64)
        u = rng.random(pending.shape, dtype=xp.float64)
        v = (1.0 + cp * x) ** 3
        safe_v = xp.where(v > 0, v, 1.0)
        accept = (v > 0) & (xp.log(u) < 0.5 * x * x + dp - dp * safe_v + dp * xp.log(safe_v))
        out[pending[accept]] = (dp * v)[accept]
        pending = pending[~accept]
    out = xp.reshape(out, alpha.shape)
    if not bool(xp.any(boosted)):
        return out, boosted, None
    u = rng.random(alpha.shape, dtype=xp.float64)
    return out, boosted, xp.where(boosted, xp.log(u) / alpha, 0.0)


def standard_gamma(concentration, shape, gen) -> Tensor:
    """Draws of shape ``shape`` of Gamma(``concentration``, 1) (a Tensor that broadcasts to
    ``shape``) from the ``xg.random.Generator`` ``gen``, in ``concentration``'s dtype, with
    gradients to ``concentration``."""
    alpha, drawn = _drawn(concentration, shape, gen, _marsaglia_tsang)
    z = maximum(drawn, finfo(alpha.dtype).smallest_normal)
    return reparameterized(alpha, z)


def standard_log_gamma(concentration, shape, gen) -> Tensor:
    """The logs of ``standard_gamma``'s draws (the same numbers of ``gen``), finite where the
    draws underflow, with gradients to ``concentration`` (``d log z / d concentration``): what
    Beta and Dirichlet normalize, so that a ratio of two tiny draws is not 0 / 0.

    >>> import xpgrad as xg
    >>> c = xg.asarray([1e-3, 5.0], dtype=xg.float64)
    >>> log_z = standard_log_gamma(c, (2,), xg.random.default_rng(1))
    >>> z = standard_gamma(c, (2,), xg.random.default_rng(1))      # the same numbers
    >>> bool(log_z[0] < -745), float(z[0]), abs(float(xg.exp(log_z[1]) / z[1]) - 1) < 1e-15
    (True, 2.2250738585072014e-308, True)
    """
    alpha, drawn = _drawn(concentration, shape, gen, _marsaglia_tsang_log)
    return log_reparameterized(alpha, drawn)


def _drawn(concentration, shape, gen, sampler):
    """``(concentration broadcast to shape, sampler's float64 numbers in its dtype)``. The
    rejection sampler runs whole, with the concentration as its input: under ``xg.function``
    one recorded draw, which each replay runs again with that call's concentration."""
    alpha = broadcast_to(concentration, shape)
    raw = stop_gradient(alpha)._data
    be = gen.backend
    if alpha.backend is not be:
        raw = stop_gradient(alpha).to(be)._data
    native = be.xp.astype(raw, be.native_dtype(_dt.float64))
    host = be if is_host(be) else get_backend("numpy")    # the draws are NumPy's (``on_host``)
    drawn = _wrap(gen._draw_with(on_host(be, lambda rng, a: sampler(host.xp, rng, a)), native),
                  be)
    if drawn.backend is not alpha.backend:
        drawn = drawn.to(alpha.backend)
    return alpha, astype(drawn, alpha.dtype)


def draw_gamma(dist, concentration, sample_shape, rng, who, log=False) -> Tensor:
    """``dist``'s standard-gamma draws of shape ``dist._extended_shape(sample_shape)`` for
    ``concentration`` (broadcast to it), from ``rng`` as ``Distribution.sample`` takes it;
    ``log=True``: their logs (``standard_log_gamma``)."""
    from ..nn.init._common import as_rng, check_rng

    gen = as_rng(check_rng(rng, f"{who}.sample"), dist.backend)
    draw = standard_log_gamma if log else standard_gamma
    return draw(concentration, dist._extended_shape(sample_shape), gen)


def inside_unit_interval(value):
    """``value`` clamped to ``[tiny, 1 - eps / 2]`` of its dtype (the smallest normal number
    and the largest number below 1), the gradient left as it was: where PyTorch's Beta and
    Dirichlet draws lie, so their ``log_prob`` stays finite."""
    info = finfo(value.dtype)
    inside = clip(value, info.smallest_normal, 1.0 - info.eps / 2)
    return value + stop_gradient(inside - value)


__all__ = ["draw_gamma", "inside_unit_interval", "standard_gamma", "standard_log_gamma"]
