"""Sub-pixel rearrangement as PyTorch's: ``xg.nn.pixel_shuffle`` / ``pixel_unshuffle``
(``F.pixel_shuffle`` / ``F.pixel_unshuffle``) and the layers ``PixelShuffle`` /
``PixelUnshuffle``: a reshape, a transpose and a reshape, so the gradient is theirs.

>>> import xpgrad as xg
>>> x = xg.arange(8.0).reshape((1, 8, 1, 1))
>>> y = xg.nn.pixel_shuffle(x, 2)
>>> y.shape, y.tolist()[0][0]
((1, 2, 2, 2), [[0.0, 1.0], [2.0, 3.0]])
>>> xg.nn.pixel_unshuffle(y, 2).reshape((8,)).tolist()
[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
"""
from __future__ import annotations

import numbers

from ..conversion import named_asarray
from ..ops.shape import permute_dims, reshape
from ..tensor import Tensor
from .module import Module


def _factor(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _input(x, owner):
    if not isinstance(x, Tensor):
        x = named_asarray(x, f"{owner}: input")
    if x.ndim < 3:
        raise ValueError(f"{owner}: input must be (*, C, H, W) with at least 3 axes, got shape "
                         f"{x.shape}")
    return x


def pixel_shuffle(input, upscale_factor):
    """PyTorch's ``F.pixel_shuffle``: (*, C r^2, H, W) to (*, C, H r, W r), ``r =
    upscale_factor``; the output's ``[c, h r + i, w r + j]`` is the input's ``[c r^2 + i r +
    j, h, w]``. C r^2 not divisible by r^2: ValueError.

    >>> import xpgrad as xg
    >>> xg.nn.pixel_shuffle(xg.ones((2, 18, 4, 5)), 3).shape
    (2, 2, 12, 15)
    """
    owner = "pixel_shuffle"
    x = _input(input, owner)
    r = _factor(upscale_factor, "upscale_factor", owner)
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"{owner}: the input's {c} channels (axis -3) are not divisible by "
                         f"upscale_factor**2 = {r * r}")
    k = len(lead)
    y = reshape(x, (*lead, c // (r * r), r, r, h, w))
    y = permute_dims(y, tuple(range(k + 1)) + (k + 3, k + 1, k + 4, k + 2))
    return reshape(y, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """PyTorch's ``F.pixel_unshuffle``, ``pixel_shuffle``'s inverse: (*, C, H r, W r) to
    (*, C r^2, H, W), ``r = downscale_factor``; H and W must be divisible by r (ValueError).

    >>> import xpgrad as xg
    >>> xg.nn.pixel_unshuffle(xg.ones((2, 3, 8, 6)), 2).shape
    (2, 12, 4, 3)
    """
    owner = "pixel_unshuffle"
    x = _input(input, owner)
    r = _factor(downscale_factor, "downscale_factor", owner)
    *lead, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(f"{owner}: the input's height {h} and width {w} must be divisible "
                         f"by downscale_factor {r}")
    k = len(lead)
    y = reshape(x, (*lead, c, h // r, r, w // r, r))
    y = permute_dims(y, tuple(range(k + 1)) + (k + 2, k + 4, k + 1, k + 3))
    return reshape(y, (*lead, c * r * r, h // r, w // r))


class PixelShuffle(Module):
    """``PixelShuffle(upscale_factor)``, PyTorch's: ``xg.nn.pixel_shuffle(x, upscale_factor)``
    (the sub-pixel convolution's upsampling: a Conv2d to C r^2 channels, then this).

    >>> import xpgrad as xg
    >>> xg.nn.PixelShuffle(2)(xg.ones((1, 12, 3, 3))).shape
    (1, 3, 6, 6)
    """

    def __init__(self, upscale_factor, name=None):
        super().__init__(name)
        self.upscale_factor = _factor(upscale_factor, "upscale_factor", "PixelShuffle")

    def forward(self, x):
        return pixel_shuffle(x, self.upscale_factor)

    def _extra_repr(self):
        return f", upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``PixelUnshuffle(downscale_factor)``, PyTorch's: ``xg.nn.pixel_unshuffle(x,
    downscale_factor)``.

    >>> import xpgrad as xg
    >>> xg.nn.PixelUnshuffle(3)(xg.ones((1, 2, 6, 9))).shape
    (1, 18, 2, 3)
    """

    def __init__(self, downscale_factor, name=None):
        super().__init__(name)
        self.downscale_factor = _factor(downscale_factor, "downscale_factor", "PixelUnshuffle")

    def forward(self, x):
        return pixel_unshuffle(x, self.downscale_factor)

    def _extra_repr(self):
        return f", downscale_factor={self.downscale_factor}"


__all__ = ["pixel_shuffle", "pixel_unshuffle", "PixelShuffle", "PixelUnshuffle"]
