"""Draws of counts (Poisson, Binomial) from the native generator behind an
``xg.random.Generator``: the parameters broadcast to the draw's shape, read in float64, and
the counts returned as floats of the distribution's dtype (PyTorch's), cut from the tapes.

>>> import xpgrad as xg
>>> d = xg.distributions.Poisson(xg.asarray([2.0, 50.0], dtype=xg.float64))
>>> z = draw_counts(d, (20000,), 0, lambda rng, rate: rng.poisson(rate), d.rate)
>>> z.dtype, [round(v) for v in xg.mean(z, axis=0).tolist()]
(xpgrad.float64, [2, 50])
"""
from __future__ import annotations

from .. import dtypes as _dt
from ..backend import get_backend
from ..ops import astype, broadcast_to
from ..tape import stop_gradient
from ..tensor import Tensor, _wrap

def draw_counts(dist, sample_shape, rng, sampler, *params) -> Tensor:
    """``sampler(native generator, *float64 arrays)`` for ``params`` broadcast to
    ``dist._extended_shape(sample_shape)``, from ``rng`` as ``Distribution.sample`` takes
    it. Under ``xg.function`` the draw is one recorded step with the parameters as its
    inputs: each replay draws afresh with that call's parameters."""
    from ..nn.init._common import as_rng, check_rng

    who = type(dist).__name__
    gen = as_rng(check_rng(rng, f"{who}.sample"), dist.backend)
    shape = dist._extended_shape(sample_shape)
    be = gen.backend
    native = []
    for p in params:
        t = stop_gradient(broadcast_to(p, shape))
        raw = (t if t.backend is be else t.to(be))._data
        native.append(be.xp.astype(raw, be.native_dtype(_dt.float64)))
    drawn = _wrap(gen._draw_with(on_host(be, sampler), *native), be)
    if drawn.backend is not dist.backend:
        drawn = drawn.to(dist.backend)
    return astype(drawn, dist.dtype)


def is_host(backend) -> bool:
    """Whether ``backend``'s arrays are NumPy's (the numpy backend and those built on it)."""
    return isinstance(backend, type(get_backend("numpy")))


def on_host(backend, sampler):
    """``sampler(generator, *arrays)`` given ``arrays`` of ``backend`` as NumPy arrays: the
    generators behind ``xg.random`` draw on the host (the cupy backend's is NumPy's), and
    NumPy's samplers and their arithmetic take no device arrays. On the host backends (their
    arrays are NumPy's) ``sampler`` itself.

    >>> import xpgrad as xg
    >>> on_host(xg.get_backend("numpy"), len) is len
    True
    """
    if is_host(backend):
        return sampler

    def sample_on_host(generator, *arrays):
        return sampler(generator, *(backend.to_numpy(a) for a in arrays))

    return sample_on_host


__all__ = ["draw_counts", "is_host", "on_host"]
