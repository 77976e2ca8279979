"""The adaptive pooling layers ``xg.nn.AdaptiveAvgPool1d``, ``AdaptiveAvgPool2d``,
``AdaptiveMaxPool1d`` and ``AdaptiveMaxPool2d`` (PyTorch's; no weights): ``output_size``
checked once and kept as given (a pair's None: keep that axis's size), ``nn/adaptive_pooling.py``'s
functions as the forward pass.

>>> import xpgrad as xg
>>> xg.nn.AdaptiveAvgPool2d(1)(xg.ones((2, 3, 7, 5))).shape
(2, 3, 1, 1)
"""
from __future__ import annotations

from .._args import flag
from .adaptive_pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,
                               adaptive_max_pool2d, output_size_of)
from .module import Module


class _AdaptivePoolNd(Module):
    dims = 1

    def __init__(self, output_size, name):
        super().__init__(name)
        output_size_of(output_size, type(self).__name__, self.dims)
        self.output_size = tuple(output_size) if isinstance(output_size, list) else output_size

    def _extra_repr(self):
        return f", output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """``AdaptiveAvgPool1d(output_size)``, PyTorch's: (N, C, L) or (C, L) to ``output_size``
    averages along L; see ``xg.nn.adaptive_avg_pool1d``.

    >>> import xpgrad as xg
    >>> xg.nn.AdaptiveAvgPool1d(1)(xg.asarray([[1.0, 2.0, 6.0]])).tolist()
    [[3.0]]
    """

    dims = 1

    def __init__(self, output_size, *, name=None):
        super().__init__(output_size, name)

    def forward(self, x):
        return adaptive_avg_pool1d(x, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """``AdaptiveAvgPool2d(output_size)``, PyTorch's: (N, C, H, W) or (C, H, W) to an
    ``output_size`` grid of averages (an int, or a pair whose None keeps that axis); see
    ``xg.nn.adaptive_avg_pool2d``. ``AdaptiveAvgPool2d(1)`` is ResNet's global pooling.

    >>> import xpgrad as xg
    >>> xg.nn.AdaptiveAvgPool2d((None, 1))(xg.ones((3, 4, 5))).shape
    (3, 4, 1)
    """

    dims = 2

    def __init__(self, output_size, *, name=None):
        super().__init__(output_size, name)

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size, return_indices=False, *, name=None):
        super().__init__(output_size, name)
        self.return_indices = flag(return_indices, "return_indices", type(self).__name__)

    def forward(self, x):
        return self._fn(x, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """``AdaptiveMaxPool1d(output_size, return_indices=False)``, PyTorch's; see
    ``xg.nn.adaptive_max_pool1d``. With ``return_indices`` it returns ``(values, indices)``.

    >>> import xpgrad as xg
    >>> xg.nn.AdaptiveMaxPool1d(2)(xg.asarray([[1.0, 5.0, 2.0, 0.0]])).tolist()
    [[5.0, 2.0]]
    """

    dims, _fn = 1, staticmethod(adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """``AdaptiveMaxPool2d(output_size, return_indices=False)``, PyTorch's (an int, or a pair
    whose None keeps that axis); see ``xg.nn.adaptive_max_pool2d``. With ``return_indices`` it
    returns ``(values, indices)``, the indices flat in each (H, W) plane.

    >>> import xpgrad as xg
    >>> xg.nn.AdaptiveMaxPool2d(1)(xg.asarray([[[1.0, 5.0], [2.0, 0.0]]])).tolist()
    [[[5.0]]]
    """

    dims, _fn = 2, staticmethod(adaptive_max_pool2d)


__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d"]
