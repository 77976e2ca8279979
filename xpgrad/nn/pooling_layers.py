"""The pooling layers ``xg.nn.MaxPool1d``, ``MaxPool2d``, ``AvgPool1d`` and ``AvgPool2d``
(PyTorch's; no weights): their arguments checked once, ``nn/pooling.py``'s functions as the
forward pass. Each keeps its geometry as given (an int stays an int, ``stride=None`` becomes
``kernel_size``), as PyTorch's attributes and repr do; ``AvgPool1d`` keeps tuples of one, as
PyTorch's. ``data_format="channels_last"`` (keyword; ``"NWC"`` / ``"NHWC"``) pools (N, *spatial,
C) inputs, as Keras's ``MaxPooling2D`` / ``AveragePooling2D``; ``padding="same"`` / ``"valid"``
is theirs too (TensorFlow's ``"same"``: ``ceil(length / stride)`` outputs).

>>> import xpgrad as xg
>>> xg.nn.MaxPool2d(2)(xg.ones((2, 3, 8, 6))).shape
(2, 3, 4, 3)
>>> xg.nn.MaxPool2d(2, data_format="channels_last")(xg.ones((2, 8, 6, 3))).shape
(2, 4, 3, 3)
>>> xg.nn.MaxPool2d(3, 2, padding="same", data_format="channels_last")(xg.ones((2, 7, 6, 3))).shape
(2, 4, 3, 3)
"""
from __future__ import annotations

from .._args import flag
from ._data_format import canonical
from .module import Module
from .avg_pooling import avg_pool1d, avg_pool2d, check_divisor, including_pad
from .pooling import max_pool1d, max_pool2d
from .pooling_geometry import geometry


def shown_format(data_format) -> str:
    """The repr's ``data_format`` entry: none for the default, channels first.

    >>> shown_format("channels_last")
    ", data_format='channels_last'"
    """
    return "" if data_format == "channels_first" else f", data_format={data_format!r}"


def _kept(value):
    """``value`` as PyTorch's layer keeps it: an int, or a tuple of ints (NumPy ints as ints);
    a padding of ``"same"`` or ``"valid"`` in lower case."""
    if isinstance(value, str):
        return value.lower()
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else int(value)


def _as_given(kernel_size, stride, padding, dilation, who, dims):
    """``(kernel_size, stride, padding, dilation)`` checked by ``geometry`` and kept as given
    (``stride`` None: ``kernel_size``), as PyTorch's pooling layers keep them."""
    geometry(kernel_size, stride, padding, dilation, who, dims)
    if stride is None or stride == () or stride == []:
        stride = kernel_size
    return tuple(_kept(v) for v in (kernel_size, stride, padding, dilation))


class _MaxPoolNd(Module):
    dims, _fn = 1, staticmethod(max_pool1d)

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False, *, data_format="channels_first", name=None):
        super().__init__(name)
        who = type(self).__name__
        self.data_format = canonical(data_format, who, self.dims)
        self.kernel_size, self.stride, self.padding, self.dilation = _as_given(
            kernel_size, stride, padding, dilation, who, self.dims)
        self.return_indices = flag(return_indices, "return_indices", who)
        self.ceil_mode = flag(ceil_mode, "ceil_mode", who)

    def forward(self, x):
        return self._fn(x, self.kernel_size, self.stride, self.padding, self.dilation,
                        self.ceil_mode, self.return_indices, self.data_format)

    def _extra_repr(self):
        return f", kernel_size={self.kernel_size}, stride={self.stride}, " \
               f"padding={self.padding!r}, dilation={self.dilation}, " \
               f"ceil_mode={self.ceil_mode}" \
               f"{shown_format(self.data_format)}"


class MaxPool1d(_MaxPoolNd):
    """``MaxPool1d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
    ceil_mode=False)``, PyTorch's (``stride`` None: ``kernel_size``; ``padding`` also
    ``"same"`` / ``"valid"``, Keras's); see ``xg.nn.max_pool1d``. With ``return_indices`` it returns ``(values, indices)``.

    >>> import xpgrad as xg
    >>> xg.nn.MaxPool1d(3, stride=1, padding=1)(xg.asarray([[1.0, 5.0, 2.0]])).tolist()
    [[5.0, 5.0, 5.0]]
    """

    dims, _fn = 1, staticmethod(max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """``MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
    ceil_mode=False)``, PyTorch's (ints or pairs; ``stride`` None: ``kernel_size``); see
    ``xg.nn.max_pool2d``. With ``return_indices`` it returns ``(values, indices)``, the
    indices flat in each (H, W) plane.

    >>> import xpgrad as xg
    >>> xg.nn.MaxPool2d((1, 2))(xg.asarray([[[1.0, 5.0, 2.0, 0.0]]])).tolist()
    [[[5.0, 2.0]]]
    """

    dims, _fn = 2, staticmethod(max_pool2d)


class _AvgPoolNd(Module):
    dims = 1

    def __init__(self, kernel_size, stride, padding, ceil_mode, count_include_pad, name,
                 data_format):
        super().__init__(name)
        who = type(self).__name__
        self.data_format = canonical(data_format, who, self.dims)
        self.kernel_size, self.stride, self.padding, _ = _as_given(
            kernel_size, stride, padding, 1, who, self.dims)
        if self.dims == 1:                   # PyTorch's AvgPool1d keeps tuples of one
            self.kernel_size, self.stride, self.padding = (
                v if isinstance(v, (tuple, str)) else (v,)
                for v in (self.kernel_size, self.stride, self.padding))
        self.ceil_mode = flag(ceil_mode, "ceil_mode", who)
        self.count_include_pad = including_pad(count_include_pad, self.padding, who)

    def _extra_repr(self):
        return f", kernel_size={self.kernel_size}, stride={self.stride}, " \
               f"padding={self.padding!r}{shown_format(self.data_format)}"


class AvgPool1d(_AvgPoolNd):
    """``AvgPool1d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=None)``, PyTorch's (``stride`` None: ``kernel_size``; ``padding`` also
    ``"same"`` / ``"valid"``, Keras's, and ``count_include_pad`` None True but with ``"same"``
    False, as TensorFlow); see ``xg.nn.avg_pool1d``.

    >>> import xpgrad as xg
    >>> xg.nn.AvgPool1d(2)(xg.asarray([[1.0, 3.0, 5.0, 7.0]])).tolist()
    [[2.0, 6.0]]
    """

    dims = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=None, *, data_format="channels_first", name=None):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad, name,
                         data_format)

    def forward(self, x):
        return avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.data_format)


class AvgPool2d(_AvgPoolNd):
    """``AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=None, divisor_override=None)``, PyTorch's (ints or pairs; ``stride``
    None: ``kernel_size``; ``padding`` and ``count_include_pad`` as ``AvgPool1d``'s); see
    ``xg.nn.avg_pool2d``.

    >>> import xpgrad as xg
    >>> xg.nn.AvgPool2d(2)(xg.ones((1, 4, 4))).tolist()
    [[[1.0, 1.0], [1.0, 1.0]]]
    """

    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=None, divisor_override=None, *, data_format="channels_first",
                 name=None):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad, name,
                         data_format)
        self.divisor_override = check_divisor(divisor_override, type(self).__name__)

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override, self.data_format)


__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"]
