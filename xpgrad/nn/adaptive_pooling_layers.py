"""The adaptive pooling layers ``xg.nn.AdaptiveAvgPool1d``, ``AdaptiveAvgPool2d``,
``AdaptiveMaxPool1d`` and ``AdaptiveMaxPool2d`` (PyTorch's; no weights): ``output_size``
checked once and kept as given (a pair's None: keep that axis's size), ``nn/adaptive_pooling.py``'s
functions as the forward pass; ``data_format="channels_last"`` (keyword) pools (N, *spatial, C).

>>> import xpgrad as xg
>>> xg.nn.AdaptiveAvgPool2d(1)(xg.ones((2, 3, 7, 5))).shape
(2, 3, 1, 1)
"""
from __future__ import annotations

from .._args import flag
from .adaptive_pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,
                               adaptive_max_pool2d, output_size_of)
from ._data_format import canonical
from .module import Module
from .pooling_layers import shown_format


class _AdaptivePoolNd(Module):
    dims = 1

    def __init__(self, output_size, name, data_format="channels_first"):
        super().__init__(name)
        output_size_of(output_size, type(self).__name__, self.dims)
        self.output_size = tuple(output_size) if isinstance(output_size, list) else output_size
        self.data_format = canonical(data_format, type(self).__name__, self.dims)

    def _extra_repr(self):
        return f", output_size={self.output_size}{shown_format(self.data_format)}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """``AdaptiveAvgPool1d(output_size)``, PyTorch's: (N, C, L) or (C, L) to ``output_size``
    averages along L; see ``xg.nn.adaptive_avg_pool1d``.

    >>> import xpgrad as xg
    >>> xg.nn.AdaptiveAvgPool1d(1)(xg.asarray([[1.0, 2.0, 6.0]])).tolist()
    [[3.0]]
    """

    dims = 1

    def __init__(self, output_size, *, data_format="channels_first", name=None):
        super().__init__(output_size, name, data_format)

    def forward(self, x):
        return adaptive_avg_pool1d(x, self.output_size, self.data_format)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """``AdaptiveAvgPool2d(output_size)``, PyTorch's: (N, C, H, W) or (C, H, W) to an
    ``output_size`` grid of averages (an int, or a pair whose None keeps that axis); see
    ``xg.nn.adaptive_avg_pool2d``. ``AdaptiveAvgPool2d(1)`` is ResNet's global pooling.

    >>> import xpgrad as xg
    >>> xg.nn.AdaptiveAvgPool2d((None, 1))(xg.ones((3, 4, 5))).shape
    (3, 4, 1)
    """

    dims = 2

    def __init__(self, output_size, *, data_format="channels_first", name=None):
        super().__init__(output_size, name, data_format)

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size, self.data_format)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size, return_indices=False, *, data_format="channels_first",
                 name=None):
        super().__init__(output_size, name, data_format)
        self.return_indices = flag(return_indices, "return_indices", type(self).__name__)

    def forward(self, x):
        return self._fn(x, self.output_size, self.return_indices, self.data_format)


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
