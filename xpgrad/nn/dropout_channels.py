"""Dropout1d and Dropout2d (PyTorch's ``nn.Dropout1d`` / ``nn.Dropout2d``): in training, each
channel -- a whole (L,) row of an (N, C, L) input, a whole (H, W) plane of an (N, C, H, W)
one -- is zeroed with probability ``rate`` and the others scaled by ``1 / (1 - rate)``; eval
mode is the identity. Neighbouring pixels of a feature map are strongly correlated, so
zeroing single entries (``Dropout``) barely regularizes a convolution; whole maps do.

>>> import xpgrad as xg
>>> d = xg.nn.Dropout2d(0.5, rng=0)
>>> y = d(xg.ones((2, 8, 3, 3)))
>>> sorted(set(y.reshape((-1,)).tolist())), d.eval()(xg.ones((1, 2, 1, 1))).tolist()
([0.0, 2.0], [[[[1.0]], [[1.0]]]])
"""
from __future__ import annotations

from .._args import flag
from ..conversion import named_asarray
from .dropout import Dropout


class _ChannelDropout(Dropout):
    """Dropout of whole channels; ``spatial``: the number of axes after the channel one."""

    spatial, _layouts = 1, ("(N, C, L)", "(C, L)")

    def forward(self, x):
        who = type(self).__name__
        x = named_asarray(x, f"{self.name}: x")
        if x.ndim not in (self.spatial + 1, self.spatial + 2):
            raise ValueError(f"{who}: input must be {self._layouts[0]} or unbatched "
                             f"{self._layouts[1]}, got shape {x.shape}")
        if not flag(self.training, "training", who) or self.rate == 0.0:
            return x
        shape = x.shape[:x.ndim - self.spatial] + (1,) * self.spatial   # one draw per channel
        return self._masked(x, shape)


class Dropout1d(_ChannelDropout):
    """``Dropout1d(rate, *, rng=None)``: PyTorch's ``nn.Dropout1d(p)`` on (N, C, L) or (C, L):
    in training each channel's (L,) row is zeroed with probability ``rate`` (in [0, 1)), the
    others scaled by ``1 / (1 - rate)``; the identity in eval mode. ``rng`` as ``Dropout``'s
    (a Generator, an int seed or None: fresh entropy).

    >>> import xpgrad as xg
    >>> xg.nn.Dropout1d(0.5, rng=1)(xg.ones((3, 4))).tolist()
    [[0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0]]
    """

    spatial, _layouts = 1, ("(N, C, L)", "(C, L)")


class Dropout2d(_ChannelDropout):
    """``Dropout2d(rate, *, rng=None)``: PyTorch's ``nn.Dropout2d(p)`` on (N, C, H, W) or
    (C, H, W): in training each channel's (H, W) plane is zeroed with probability ``rate``
    (in [0, 1)), the others scaled by ``1 / (1 - rate)``; the identity in eval mode. A 3-D
    input is read as unbatched (C, H, W): PyTorch reads it as (N, C, L) for now, with a
    warning that this will change, so for (N, C, L) use ``Dropout1d``.

    >>> import xpgrad as xg
    >>> y = xg.nn.Dropout2d(0.25, rng=2)(xg.ones((1, 4, 2, 2)))
    >>> [round(v, 4) for v in y[0, :, 0, 0].tolist()]
    [1.3333, 1.3333, 0.0, 1.3333]
    """

    spatial, _layouts = 2, ("(N, C, H, W)", "(C, H, W)")


__all__ = ["Dropout1d", "Dropout2d"]
