"""Padding as PyTorch's: ``xg.nn.pad`` (``F.pad``) and the layers ``ZeroPad1d`` /
``ZeroPad2d``, ``ConstantPad1d`` / ``ConstantPad2d``, ``ReflectionPad1d`` / ``ReflectionPad2d``,
``ReplicationPad1d`` / ``ReplicationPad2d`` and ``CircularPad1d`` / ``CircularPad2d``.

Each mode is one primitive: a constant, the input written into a new array of the value
(``ops/constant_padding.py``); reflect, replicate and circular, the input joined with its own
edges, whose gradient adds the borders' back onto the entries they came from
(``ops/mode_padding.py``).

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 2.0, 3.0]]])
>>> xg.nn.pad(x, (2, 1), mode="reflect").tolist()
[[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]]
>>> xg.nn.pad(x, (1, -1), value=9.0).tolist()             # a negative amount crops
[[[9.0, 1.0, 2.0]]]
"""
from __future__ import annotations

import numbers

from ..conversion import named_asarray
from ..ops.constant_padding import padded
from ..tensor import Tensor
from ._windows import pad as _pad_axes
from .module import Module

MODES = ("constant", "reflect", "replicate", "circular")
_WINDOWS_MODE = {"constant": "zeros", "reflect": "reflect", "replicate": "replicate",
                 "circular": "circular"}


def pad(input, pad, mode="constant", value=0.0):
    """PyTorch's ``F.pad``: ``input`` padded by ``pad`` = ``(left, right)`` for the last axis,
    then ``(top, bottom)`` for the one before, and so on (an even number of ints, at most two
    per axis). ``mode``:

    - ``"constant"`` (``value`` everywhere new): any number of axes; a negative amount crops
      that many entries (the axis may become empty);
    - ``"reflect"`` (mirrored without the edge; each amount < the axis' length),
      ``"replicate"`` (the edge repeated), ``"circular"`` (wrapped; <= the length): the last
      1, 2 or 3 axes of an input with one or two more axes (PyTorch's combinations); a
      negative amount crops, as PyTorch's (after padding; circular crops first).

    ``value=None`` is 0, as PyTorch's. Bad ``pad``, ``mode`` or ``value``: TypeError/
    ValueError naming the argument.

    >>> import xpgrad as xg
    >>> xg.nn.pad(xg.ones((2, 3)), (1, 1, 0, 2)).shape
    (4, 5)
    >>> xg.nn.pad(xg.asarray([[[1.0, 2.0]]]), (0, 2), mode="circular").tolist()
    [[[1.0, 2.0, 1.0, 2.0]]]
    """
    owner = "pad"
    if not isinstance(input, Tensor):
        input = named_asarray(input, f"{owner}: input")
    pairs = _pairs(pad, owner)
    if mode not in MODES:
        raise ValueError(f"{owner}: mode must be one of {list(MODES)}, got {mode!r}")
    if value is None:                                  # PyTorch's default: 0
        value = 0.0
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise TypeError(f"{owner}: value must be a number, got {type(value).__name__} "
                        f"{value!r}")
    if len(pairs) > input.ndim:
        raise ValueError(f"{owner}: pad has {2 * len(pairs)} entries, more than two per axis "
                         f"of the {input.ndim}-D input (shape {input.shape})")
    if mode != "constant":
        if value != 0:
            raise ValueError(f"{owner}: mode={mode!r} takes no value (got value={value!r}); "
                             "value is for mode='constant'")
        if not 1 <= len(pairs) <= 3 or input.ndim not in (len(pairs) + 1, len(pairs) + 2):
            raise ValueError(f"{owner}: mode={mode!r} pads the last 1, 2 or 3 axes of an "
                             f"input with 1 or 2 more axes (as PyTorch), got pad of "
                             f"{2 * len(pairs)} entries for a {input.ndim}-D input")
    pairs = pairs[::-1]                                # from the first padded axis on
    lengths = input.shape[input.ndim - len(pairs):]
    for (left, right), length, axis in zip(pairs, lengths,
                                           range(input.ndim - len(pairs), input.ndim)):
        if length + left + right < 0 or (mode != "constant" and length + left + right < 1):
            raise ValueError(f"{owner}: pad {tuple(pad)} leaves axis {axis} (length {length}) "
                             f"with {length + left + right} entries")
        if mode != "constant" and length == 0:
            raise ValueError(f"{owner}: mode={mode!r} cannot pad the empty axis {axis} of "
                             f"shape {input.shape} (it has no edge to repeat)")
        if mode == "reflect" and max(left, right) >= length:
            raise ValueError(f"{owner}: mode='reflect' needs each pad < the axis' length, got "
                             f"{max(left, right)} for axis {axis} of length {length}")
    if mode == "circular":
        input = _crop(input, pairs)
        for (left, right), length, axis in zip(pairs, input.shape[input.ndim - len(pairs):],
                                               range(input.ndim - len(pairs), input.ndim)):
            if max(left, right) > length:
                raise ValueError(f"{owner}: mode='circular' needs each pad <= the axis' "
                                 f"length (it wraps once), got {max(left, right)} for axis "
                                 f"{axis} of length {length}")
        return _pad_axes(input, [(max(a, 0), max(b, 0)) for a, b in pairs], "circular", 0.0)
    if mode == "constant":                             # crop first: nothing to pad there
        input = _crop(input, pairs)
        grown = [(max(a, 0), max(b, 0)) for a, b in pairs]
        return padded(input, grown, value) if any(a or b for a, b in grown) else input
    input = _pad_axes(input, [(max(a, 0), max(b, 0)) for a, b in pairs], _WINDOWS_MODE[mode],
                      value)
    return input if mode == "constant" else _crop(input, pairs)


def _crop(x, pairs):
    """``x`` without ``-left`` / ``-right`` entries where those are negative (the last axes)."""
    if all(left >= 0 and right >= 0 for left, right in pairs):
        return x
    first = x.ndim - len(pairs)
    return x[(slice(None),) * first + tuple(
        slice(max(-left, 0), x.shape[axis] - max(-right, 0))
        for axis, (left, right) in enumerate(pairs, first))]


def _pairs(pad, owner):
    """``pad`` (PyTorch's flat tuple, last axis first) as ``((left, right), ...)``."""
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"{owner}: pad must be a tuple of ints, got {type(pad).__name__} "
                        f"{pad!r}")
    for item in pad:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{owner}: pad must hold ints, got {type(item).__name__} "
                            f"{item!r} in {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"{owner}: pad must have an even number of entries ((left, right) "
                         f"per axis), got {len(pad)}: {tuple(pad)}")
    return tuple((int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2))


class _PadNd(Module):
    """A layer padding the last ``dims`` axes by ``padding`` (an int for every side, or
    PyTorch's tuple of ``2 * dims`` ints) in ``mode``."""

    dims, mode = 1, "constant"

    def __init__(self, padding, value=0.0, name=None):
        super().__init__(name)
        who, count = type(self).__name__, 2 * self.dims
        if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
            padding = (int(padding),) * count
        if not isinstance(padding, (tuple, list)) or len(padding) != count:
            raise ValueError(f"{who}: padding must be an int or a tuple of {count} ints, got "
                             f"{padding!r}")
        try:
            _pairs(padding, who)
        except TypeError as e:
            raise TypeError(str(e).replace(": pad must", ": padding must")) from None
        if isinstance(value, bool) or not isinstance(value, numbers.Number):
            raise TypeError(f"{who}: value must be a number, got {type(value).__name__} "
                            f"{value!r}")
        self.padding, self.value = tuple(int(p) for p in padding), value

    def forward(self, x):
        try:
            return pad(x, self.padding, self.mode, self.value)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{type(self).__name__}: {str(e)[len('pad: '):]}") from None

    def _extra_repr(self):
        value = f", value={self.value!r}" if self.mode == "constant" else ""
        return f", padding={self.padding}{value}"


class ConstantPad1d(_PadNd):
    """``ConstantPad1d(padding, value)``, PyTorch's: the last axis padded with ``value`` by
    ``padding`` (an int, or ``(left, right)``; negative crops).

    >>> import xpgrad as xg
    >>> xg.nn.ConstantPad1d((1, 2), 3.5)(xg.zeros((1, 2))).tolist()
    [[3.5, 0.0, 0.0, 3.5, 3.5]]
    """

    def __init__(self, padding, value, name=None):
        super().__init__(padding, value, name)


class ConstantPad2d(ConstantPad1d):
    """``ConstantPad2d(padding, value)``, PyTorch's: the last two axes padded with ``value``
    by ``padding`` (an int, or ``(left, right, top, bottom)``).

    >>> import xpgrad as xg
    >>> xg.nn.ConstantPad2d((1, 0, 2, 0), -1.0)(xg.ones((1, 2, 2))).shape
    (1, 4, 3)
    """

    dims = 2


class ZeroPad1d(_PadNd):
    """``ZeroPad1d(padding)``, PyTorch's: ``ConstantPad1d(padding, 0.0)``.

    >>> import xpgrad as xg
    >>> xg.nn.ZeroPad1d(2)(xg.ones((1, 3))).tolist()
    [[0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]]
    """

    def __init__(self, padding, name=None):
        super().__init__(padding, 0.0, name)


class ZeroPad2d(ZeroPad1d):
    """``ZeroPad2d(padding)``, PyTorch's: the last two axes padded with zeros by ``padding``
    (an int, or ``(left, right, top, bottom)``).

    >>> import xpgrad as xg
    >>> xg.nn.ZeroPad2d((1, 1, 2, 0))(xg.ones((1, 1, 3, 3))).shape
    (1, 1, 5, 5)
    """

    dims = 2


class ReflectionPad1d(ZeroPad1d):
    """``ReflectionPad1d(padding)``, PyTorch's: the last axis of (N, C, L) or (C, L) mirrored
    without the edge (each amount < L).

    >>> import xpgrad as xg
    >>> xg.nn.ReflectionPad1d(2)(xg.asarray([[0.0, 1.0, 2.0]])).tolist()
    [[2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0]]
    """

    mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    """``ReflectionPad2d(padding)``, PyTorch's: the last two axes of (N, C, H, W) or (C, H, W)
    mirrored without the edge; ``padding`` an int or ``(left, right, top, bottom)``.

    >>> import xpgrad as xg
    >>> xg.nn.ReflectionPad2d(1)(xg.ones((1, 3, 4, 4))).shape
    (1, 3, 6, 6)
    """

    dims = 2


class ReplicationPad1d(ZeroPad1d):
    """``ReplicationPad1d(padding)``, PyTorch's: the edge of the last axis of (N, C, L) or
    (C, L) repeated.

    >>> import xpgrad as xg
    >>> xg.nn.ReplicationPad1d((0, 2))(xg.asarray([[0.0, 1.0]])).tolist()
    [[0.0, 1.0, 1.0, 1.0]]
    """

    mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    """``ReplicationPad2d(padding)``, PyTorch's: the edges of the last two axes of (N, C, H,
    W) or (C, H, W) repeated; ``padding`` an int or ``(left, right, top, bottom)``.

    >>> import xpgrad as xg
    >>> xg.nn.ReplicationPad2d((1, 0, 0, 1))(xg.ones((2, 3, 3))).shape
    (2, 4, 4)
    """

    dims = 2


class CircularPad1d(ZeroPad1d):
    """``CircularPad1d(padding)``, PyTorch's: the last axis of (N, C, L) or (C, L) wrapped
    around (each amount <= L).

    >>> import xpgrad as xg
    >>> xg.nn.CircularPad1d(1)(xg.asarray([[0.0, 1.0, 2.0]])).tolist()
    [[2.0, 0.0, 1.0, 2.0, 0.0]]
    """

    mode = "circular"


class CircularPad2d(CircularPad1d):
    """``CircularPad2d(padding)``, PyTorch's: the last two axes of (N, C, H, W) or (C, H, W)
    wrapped around.

    >>> import xpgrad as xg
    >>> xg.nn.CircularPad2d((1, 1, 0, 2))(xg.ones((1, 2, 2))).shape
    (1, 4, 4)
    """

    dims = 2


__all__ = ["pad", "ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d",
           "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d",
           "CircularPad1d", "CircularPad2d"]
