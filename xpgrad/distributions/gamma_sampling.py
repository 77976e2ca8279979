"""Standard-gamma draws for the gamma family (Gamma, Chi2, Beta, Dirichlet): Marsaglia and
Tsang's (2000) rejection method on the backend's own generator, reparameterized so that
gradients reach the concentration (``xpgrad.ops.gamma_sample_grad``).

For ``alpha >= 1``: ``d = alpha - 1/3``, ``c = 1 / sqrt(9 d)``; draw ``x`` standard normal and
``u`` uniform, ``v = (1 + c x)**3``; accept ``d v`` where ``v > 0`` and ``log u < x**2 / 2 + d
- d v + d log v`` (at least 95% of tries), and draw again for the rest. For ``alpha < 1``, a
draw of ``alpha + 1`` times ``u**(1 / alpha)``. The draws are made in float64 and rounded to the
distribution's dtype; a draw that underflows is the dtype's smallest normal number, as
PyTorch's (its gradient is then ~0).

>>> import xpgrad as xg
>>> gen = xg.random.default_rng(0)
>>> z = standard_gamma(xg.asarray([0.5, 4.0], dtype=xg.float64), (20000, 2), gen)
>>> [round(v, 1) for v in xg.mean(z, axis=0).tolist()]
[0.5, 4.0]
"""
from __future__ import annotations

from .. import dtypes as _dt
from ..dtype_functions import finfo
from ..ops import astype, broadcast_to, maximum
from ..ops.gamma_sample_grad import reparameterized
from ..tape import stop_gradient
from ..tensor import Tensor, _wrap

_TRACED = (
    "a gamma-family draw (Gamma, Chi2, Beta, Dirichlet) cannot be captured by xg.function: "
    "the rejection sampler reads the concentration's values to decide how many numbers to "
    "draw, which a replay cannot repeat. Draw outside the function and pass the draws in "
    "(their gradients: rsample outside, under the same tape), or call the function without "
    "xg.function")


def _marsaglia_tsang(xp, rng, alpha):
    """Float64 standard-gamma draws of the float64 array ``alpha`` from the native ``rng``."""
    boosted = alpha < 1.0
    shape = alpha + xp.where(boosted, 1.0, 0.0)
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
    if bool(xp.any(boosted)):
        u = rng.random(alpha.shape, dtype=xp.float64)
        out = xp.where(boosted, xp.exp(xp.log(out) + xp.log(u) / alpha), out)
    return out


def standard_gamma(concentration, shape, gen) -> Tensor:
    """Draws of shape ``shape`` of Gamma(``concentration``, 1) (a Tensor that broadcasts to
    ``shape``) from the ``xg.random.Generator`` ``gen``, in ``concentration``'s dtype, with
    gradients to ``concentration``."""
    from ..jit.errors import TraceError, user_line
    from ..jit.traced import Traced

    alpha = broadcast_to(concentration, shape)
    raw = stop_gradient(alpha)._data
    if type(raw) is Traced and raw._tracer.active:
        raise TraceError(_TRACED, user_line())
    be = gen.backend
    if alpha.backend is not be:
        raw = stop_gradient(alpha).to(be)._data
    native = be.xp.astype(raw, be.native_dtype(_dt.float64))
    drawn = _wrap(gen._draw(lambda rng: _marsaglia_tsang(be.xp, rng, native)), be)
    if drawn.backend is not alpha.backend:
        drawn = drawn.to(alpha.backend)
    z = maximum(astype(drawn, alpha.dtype), finfo(alpha.dtype).smallest_normal)
    return reparameterized(alpha, z)


def draw_gamma(dist, concentration, sample_shape, rng, who) -> Tensor:
    """``dist``'s standard-gamma draws of shape ``dist._extended_shape(sample_shape)`` for
    ``concentration`` (broadcast to it), from ``rng`` as ``Distribution.sample`` takes it."""
    from ..nn.init._common import as_rng, check_rng

    gen = as_rng(check_rng(rng, f"{who}.sample"), dist.backend)
    return standard_gamma(concentration, dist._extended_shape(sample_shape), gen)


__all__ = ["draw_gamma", "standard_gamma"]
