"""The ``conv`` primitive on NumPy for small stride-1 convolutions, channels first, one group:
every image's padded planes laid end to end, channels first, as one flat (C_in, N * Hg * Wg)
buffer, each row's padding shared with the next row's and each image's with the next
image's (the grid: rows of ``Wg = W + max(left, right)`` entries, ``Hg = H + max(top,
bottom)`` rows per image, or more where the output is larger). A kernel tap's window is then
one contiguous slice of that buffer, shifted by the tap's offset (``i * dh * Wg + j * dw``):
the columns (KH * KW * C_in, N * Hg * Wg) are KH * KW slice copies of whole rows, and the
output is computed on the whole grid (the positions past ``Ho x Wo`` dropped) by one GEMM. The
input's gradient is the same construction on the output gradient (laid out on the grid,
shifted the other way) and one GEMM, with no additions of windows; the weight's one GEMM with
the saved columns. A 1x1 kernel without padding needs no frame: each image's product with the
kernel, at any size (float32, forward and both gradients: 8 16 -> 16 images of 16x16, 43 us
against 110 on the frame; 16 64 -> 64 of 32x32, 5.5 ms against 12.5 by ``convolution_gemm``;
64 256 -> 64 of 7x7, 4.1 against 5.5).

Where the images are small this beats the channels-last im2col of ``convolution_gemm.py``,
whose window copies and per-tap products run over rows of C entries (float32, one thread,
``xg.nn.conv2d`` with a bias, forward and every gradient against PyTorch's time: 8 16 -> 16
3x3 images of 16x16 2.2-2.4x -> 1.53-1.56x, dilated by 2 2.5x -> 1.7x; 1 64 -> 64 of 8x8
2.2-2.4x -> 1.5-1.7x); its extra work on the padding (``Hg * Wg / (Ho * Wo)``: 1.13 for the
first) and columns held until the backward pass limit it to ``WIDE_BUDGET`` bytes of columns.

>>> import numpy as np
>>> x, w = np.ones((1, 8, 3, 3)), np.ones((1, 8, 2, 2))
>>> frame = frame_for(x, w, (1, 1), (1, 1), ((1, 1), (1, 1)), 1, False)
>>> y, saved = conv_forward(x, w, frame)
>>> y[0, 0, 0].tolist()
[8.0, 16.0, 16.0, 8.0]
>>> dx, dw = conv_vjp(np.ones_like(y), saved, (True, True), x, w)
>>> dx[0, 0].tolist(), dw[0, 0].tolist()
([[4.0, 4.0, 4.0], [4.0, 4.0, 4.0], [4.0, 4.0, 4.0]], [[9.0, 9.0], [9.0, 9.0]])
"""
from __future__ import annotations

import numpy as np

from .. import blas
from . import convolution_gemm as gemm

#: the most bytes of columns (the input's and the output gradient's together) this path makes;
#: larger convolutions take ``convolution_gemm.py``'s chunked im2col, faster there (float32,
#: 3x3, forward and both gradients against that path's time: 40 32 -> 32 images of 8x8, 7.1
#: MB, 0.88; 8 64 -> 32 of 16x16, 7.6 MB, 0.77; 64 32 -> 32 of 8x8, 11.4 MB, 0.9 to 1.3; 16
#: 16 -> 32 of 32x32, 19 MB, 1.5)
WIDE_BUDGET = 1 << 23


class Frame:
    """A channels-first convolution's flat frame (1-d: height 1): the grid (``Hg``, ``Wg``),
    the output sizes, the padding before each axis, the frame's length ``N * Hg * Wg`` and
    each tap's offset in it, and the output's shape (``y_shape``: 1-d, (N, C_out, Wo)).

    >>> frame = Frame((2, 3, 4, 5), (6, 3, 3, 3), (1, 1), ((1, 1), (0, 0)))
    >>> frame.grid, frame.out, frame.shifts[-1], frame.size
    ((5, 5), (4, 3), 12, 50)
    """

    def __init__(self, x_shape, w_shape, dilation, pads):
        spatial, kernel = tuple(x_shape[2:]), tuple(w_shape[2:])
        if len(spatial) == 1:
            spatial, kernel = (1,) + spatial, (1,) + kernel
            dilation, pads = (1,) + tuple(dilation), ((0, 0),) + tuple(pads)
        self.n, self.spatial, self.kernel = x_shape[0], spatial, kernel
        self.before = tuple(left for left, _ in pads)
        self.out = tuple(s + left + right - d * (k - 1)
                         for s, (left, right), k, d in zip(spatial, pads, kernel, dilation))
        # the padding after a row (an image) also pads the next one before: zeros are read
        # past either edge of the input, and never an entry of another row (image)
        self.grid = tuple(max(s + max(pad), out) for s, pad, out in zip(spatial, pads, self.out))
        wg = self.grid[1]
        self.shifts = [i * dilation[0] * wg + j * dilation[1] for i in range(kernel[0])
                       for j in range(kernel[1])]
        self.size = self.n * self.grid[0] * self.grid[1]
        self.pointwise = self.shifts == [0] and self.grid == spatial
        self.y_shape = (self.n, w_shape[0]) + (self.out if len(x_shape) == 4 else self.out[1:])

    def planes(self, flat):
        """A (C, ``size`` or more) flat buffer's frame as (C, N, Hg, Wg)."""
        return flat[:, :self.size].reshape((flat.shape[0], self.n) + self.grid)

    def interior(self, flat):
        """The unpadded images' place (C, N, H, W) in a flat buffer."""
        (top, left), (h, w) = self.before, self.spatial
        return self.planes(flat)[:, :, top:top + h, left:left + w]

    def outputs(self, flat):
        """The outputs' place (C, N, Ho, Wo) in a flat buffer on the grid."""
        return self.planes(flat)[:, :, :self.out[0], :self.out[1]]

    def columns(self, flat):
        """The columns (KH * KW * C, ``size``) of a (C, ``size + shifts[-1]``) flat buffer:
        row ``(k, c)`` is channel ``c`` shifted by tap ``k``'s offset (the buffer itself for
        one unshifted tap)."""
        if self.shifts == [0]:
            return flat[:, :self.size]
        cols = np.empty((len(self.shifts),) + (flat.shape[0], self.size), flat.dtype)
        for k, shift in enumerate(self.shifts):
            cols[k] = flat[:, shift:shift + self.size]
        return cols.reshape(-1, self.size)

    def flat(self, channels, dtype):
        """A zeroed flat buffer of ``channels`` rows: the frame and ``shifts[-1]`` entries
        past it."""
        return np.zeros((channels, self.size + self.shifts[-1]), dtype)


class Saved:
    """What the forward keeps for the gradients: its frame and columns (the flat padded
    input's; of a 1x1 kernel without padding, the input as (N, C_in, H * W))."""

    def __init__(self, frame, columns):
        self.frame, self.columns = frame, columns


def frame_for(x, w, stride, dilation, pads, groups, channels_last):
    """The convolution's ``Frame`` where this path takes it (``convolution_gemm``'s one-group
    cases, channels first, stride 1, with at least one output and columns within
    ``WIDE_BUDGET`` unless the kernel is 1x1 without padding), else None.

    >>> ones = np.ones((2, 8, 6, 6), np.float32)
    >>> frame_for(ones, np.ones((4, 8, 3, 3), np.float32), (1, 1), (1, 1), ((1, 1),) * 2, 1,
    ...           False).y_shape
    (2, 4, 6, 6)
    >>> frame_for(ones, np.ones((4, 8, 3, 3), np.float32), (2, 2), (1, 1), ((1, 1),) * 2, 1,
    ...           False) is None
    True
    """
    if channels_last or any(s != 1 for s in stride) or not gemm.accepts(x, w, groups):
        return None
    frame = Frame(x.shape, w.shape, dilation, pads)
    channels = x.shape[1] + w.shape[0]
    fits = len(frame.shifts) * channels * frame.size * x.itemsize <= WIDE_BUDGET
    return frame if (fits or frame.pointwise) and min(frame.out) > 0 else None


def conv_forward(x, w, frame):
    """``(y, Saved)`` of the channels-first stride-1 convolution of ``x`` by ``w`` on their
    ``frame_for``."""
    c_in, c_out = x.shape[1], w.shape[0]
    if frame.pointwise:
        images = x.reshape(x.shape[0], c_in, -1)
        return np.matmul(w.reshape(c_out, c_in), images).reshape(frame.y_shape), \
            Saved(frame, images)
    flat = frame.flat(c_in, x.dtype)
    frame.interior(flat)[...] = x.reshape((x.shape[0], c_in) + frame.spatial).transpose(1, 0, 2, 3)
    columns = frame.columns(flat)
    taps = np.ascontiguousarray(w.reshape(c_out, c_in, -1).transpose(0, 2, 1))
    wide = blas.matmul(taps.reshape(c_out, -1), columns)              # (C_out, N * Hg * Wg)
    y = np.ascontiguousarray(frame.outputs(wide).transpose(1, 0, 2, 3))
    return y.reshape(frame.y_shape), Saved(frame, columns)


def conv_vjp(g, saved, needs, x, w):
    """``conv_forward``'s vjp: ``(dx, dw)``, each None unless ``needs`` it."""
    frame = saved.frame
    c_in, c_out = x.shape[1], w.shape[0]
    if frame.pointwise:
        return _pointwise_vjp(g, saved, needs, x, w)
    last = frame.shifts[-1]
    ahead = frame.flat(c_out, w.dtype)      # the gradient on the grid, ``last`` zeros first
    g4 = np.broadcast_to(g, frame.y_shape)
    frame.outputs(ahead[:, last:])[...] = g4.reshape((x.shape[0], c_out) + frame.out) \
        .transpose(1, 0, 2, 3)
    wide = ahead[:, last:last + frame.size]
    dx = dw = None
    if needs[1]:
        dw = blas.matmul(saved.columns, wide.T)                      # (KK * C_in, C_out)
        dw = np.ascontiguousarray(dw.reshape(-1, c_in, c_out).transpose(2, 1, 0)).reshape(w.shape)
    if needs[0]:
        # the tap at offset s carries the output gradient at p - s to the input at p
        columns = np.empty((len(frame.shifts), c_out, frame.size), w.dtype)
        for k, shift in enumerate(frame.shifts):
            columns[k] = ahead[:, last - shift:last - shift + frame.size]
        taps = np.ascontiguousarray(w.reshape(c_out, c_in, -1).transpose(1, 2, 0))
        dflat = blas.matmul(taps.reshape(c_in, -1), columns.reshape(-1, frame.size))
        dx = np.ascontiguousarray(frame.interior(dflat).transpose(1, 0, 2, 3)).reshape(x.shape)
    return dx, dw


def _pointwise_vjp(g, saved, needs, x, w):
    """``conv_vjp`` of a 1x1 kernel without padding: products per image."""
    g3 = np.broadcast_to(g, saved.frame.y_shape).reshape(x.shape[0], w.shape[0], -1)
    taps = w.reshape(w.shape[:2])
    dx = np.matmul(taps.T, g3).reshape(x.shape) if needs[0] else None
    dw = np.matmul(g3, saved.columns.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape) \
        if needs[1] else None
    return dx, dw


__all__ = ["WIDE_BUDGET", "Frame", "Saved", "frame_for", "conv_forward", "conv_vjp"]
