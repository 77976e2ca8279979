"""``conv_transpose``: the N-d transposed convolution primitive (strides, dilation, zero
padding, output padding, groups) under ``xg.nn.conv_transpose1d`` / ``conv_transpose2d``, so
that a backend may register one kernel for the whole operation (the Numba backend's:
``backends/numba/_conv_transpose.py``).

A transposed convolution is the gradient of a convolution (``ops/convolution.py``'s ``conv``)
with respect to its input, the weight (C_in, C_out / groups, *kernel) read as that
convolution's (C_out', C_in' / groups, *kernel). So its forward is the convolution's
input-gradient computation: one batched ``matmul`` of the weight's transpose with the input
gives every kernel position's contribution (the columns), added into the padded output by
``col2im`` and cropped -- no zero is multiplied, whatever the stride. Its vjp is that of a
linear map: the input's gradient is the convolution's forward of the output gradient (its
windows stacked into columns, im2col, and one ``matmul`` with the weight), the weight's the
convolution's weight gradient with the roles of input and output swapped (the input times
the output gradient's columns). ``n_out`` (the output's spatial shape) carries
``output_padding``: the convolution of an output of that shape may have more windows than the
input has positions (``output_padding >= stride``, allowed below ``dilation``); the last ones
are never used. Written against ``xp``, the rules run on every backend and, with ``xp =
xpgrad`` under an outer tape, give higher-order gradients; the forward itself is
differentiable with ``xp = xpgrad`` (``nn/conv_transpose.py`` runs it so for complex
numbers).

>>> import xpgrad as xg
>>> conv_transpose(xg.asarray([[[1.0, 2.0]]]), xg.asarray([[[1.0, 10.0, 100.0]]]),
...                stride=(2,), dilation=(1,), padding=(0,), n_out=(5,), groups=1).tolist()
[[[1.0, 10.0, 102.0, 20.0, 200.0]]]
"""
from __future__ import annotations

import itertools
import math

from ..primitive import Primitive, apply
from .convolution import _pad


def _sizes(x, w, groups):
    """``(n, c_in, c_group, lengths, kernel, kk, size)``: the channels, the input's spatial
    shape and positions, the kernel and its positions."""
    lengths, kernel = tuple(x.shape[2:]), tuple(w.shape[2:])
    return (x.shape[0], x.shape[1], w.shape[1], lengths, kernel, math.prod(kernel),
            math.prod(lengths))


def phase_lengths(n_out, stride, padding):
    """Each phase's length per axis: the output's ``n_out`` entries padded by ``padding`` at
    both ends (where every tap lands), in ``stride`` phases of entries ``j * stride + r``.

    >>> phase_lengths((32, 7), (2, 3), (1, 0))
    (17, 3)
    """
    return tuple((n + 2 * p + s - 1) // s for n, s, p in zip(n_out, stride, padding))


def _landing(kernel, stride, dilation):
    """Per axis, per phase ``r``: the taps ``k`` landing on it (``k * dilation % stride ==
    r``) with their shifts ``k * dilation // stride`` in the phase."""
    return [[[(k, k * d // s) for k in range(size) if k * d % s == r] for r in range(s)]
            for size, s, d in zip(kernel, stride, dilation)]


def _interleaved(xp, phases, stride, padding, n_out):
    """(N, C, prod(stride), *J) phases as the output (N, C, *n_out): entry ``j * s + r - p``
    of each axis from phase ``r``'s entry ``j``."""
    dims, (n, c), grid = len(stride), phases.shape[:2], phases.shape[3:]
    y = xp.reshape(phases, (n, c) + tuple(stride) + tuple(grid))
    order = (0, 1) + tuple(a for axis in range(dims) for a in (2 + dims + axis, 2 + axis))
    y = xp.reshape(xp.permute_dims(y, order),
                   (n, c) + tuple(m * s for m, s in zip(grid, stride)))
    return y[(Ellipsis,) + tuple(slice(p, p + o) for p, o in zip(padding, n_out))]


def _deinterleaved(xp, g, stride, padding, grid):
    """``_interleaved``'s inverse: ``g`` (N, C, *n_out) zero-padded and split in its phases,
    (N, C, *stride, *grid), each phase contiguous."""
    dims, (n, c) = len(stride), g.shape[:2]
    g = _pad(xp, g, tuple((p, m * s - o - p) for p, m, s, o in
                          zip(padding, grid, stride, g.shape[2:])))
    g = xp.reshape(g, (n, c) + tuple(a for m, s in zip(grid, stride) for a in (m, s)))
    order = (0, 1) + tuple(3 + 2 * a for a in range(dims)) + tuple(2 + 2 * a
                                                                   for a in range(dims))
    # merged and split again: one contiguous copy
    g = xp.reshape(xp.permute_dims(g, order), (n, c, math.prod(stride), math.prod(grid)))
    return xp.reshape(g, (n, c) + tuple(stride) + tuple(grid))


def _forward(xp, x, w, *bias, stride, dilation, padding, n_out, groups):
    """Per output phase (sub-pixel), the taps landing on it as one product of the weight's
    taps with the input's shifted windows (im2col of the input, not col2im of columns of the
    output's size), the phases then interleaved."""
    n, c_in, c_group, lengths, kernel, kk, size = _sizes(x, w, groups)
    per, c_out = c_in // groups, c_group * groups
    grid = phase_lengths(n_out, stride, padding)
    landing = _landing(kernel, stride, dilation)
    reach = [max(shift for taps in axis for _, shift in taps) for axis in landing]
    xpad = _pad(xp, x, tuple((m, max(0, j - length)) for m, j, length in
                             zip(reach, grid, lengths)))
    phases, empty = [], None
    for phase in itertools.product(*(range(s) for s in stride)):
        taps = list(itertools.product(*(axis[r] for axis, r in zip(landing, phase))))
        if not taps:
            if empty is None:
                empty = xp.zeros((n, c_out) + grid, dtype=x.dtype, device=x.device)
            phases.append(empty)
            continue
        pieces = [xpad[(Ellipsis,) + tuple(slice(m - shift, m - shift + j) for m, (_, shift), j
                                           in zip(reach, tap, grid))] for tap in taps]
        cols = xp.reshape(xp.stack(pieces, axis=2), (n, groups, per * len(taps),
                                                       math.prod(grid)))
        sub = xp.stack([w[(Ellipsis,) + tuple(k for k, _ in tap)] for tap in taps], axis=2)
        sub = xp.reshape(xp.permute_dims(xp.reshape(sub, (groups, per, c_group, len(taps))),
                                         (0, 2, 1, 3)), (groups, c_group, per * len(taps)))
        if per * len(taps) == 1:                      # a broadcast product
            y = sub * cols
        else:
            y = xp.matmul(sub, cols)                  # (N, g, C_g, J)
        phases.append(xp.reshape(y, (n, c_out) + grid))
    y = _interleaved(xp, xp.stack(phases, axis=2), stride, padding, n_out)
    return y + xp.reshape(bias[0], (-1,) + (1,) * len(n_out)) if bias else y


def _columns(xp, g, kernel, stride, dilation, padding, lengths):
    """The output gradient's entry that each tap of each input position landed on, (N, C_out,
    KK, *lengths) (im2col), read from its phases as contiguous runs."""
    grid = phase_lengths(g.shape[2:], stride, padding)
    phases = _deinterleaved(xp, g, stride, padding, grid)
    pieces = []
    for position in itertools.product(*(range(k) for k in kernel)):
        key = tuple(k * d % s for k, s, d in zip(position, stride, dilation)) + tuple(
            slice(k * d // s, k * d // s + length) for k, s, d, length in
            zip(position, stride, dilation, lengths))
        pieces.append(phases[(slice(None), slice(None)) + key])
    return xp.stack(pieces, axis=2)


def _vjp(xp, g, ans, needs, x, w, *bias, stride, dilation, padding, n_out, groups):
    n, c_in, c_group, lengths, kernel, kk, size = _sizes(x, w, groups)
    per = c_in // groups
    cols = _columns(xp, g, kernel, stride, dilation, padding, lengths)
    cols = xp.reshape(cols, (n, groups, c_group * kk, size))
    dx = dw = None
    if needs[0]:                                  # the convolution of g with the weight
        dx = xp.matmul(xp.reshape(w, (groups, per, c_group * kk)), cols)
        dx = xp.reshape(dx, x.shape)
    if needs[1]:                                  # the input times g's columns
        xs = xp.reshape(x, (n, groups, per, size))     # (cols @ x.T).T: 1.3x faster on NumPy
        dw = xp.sum(xp.matmul(cols, xp.matrix_transpose(xs)), axis=0)
        dw = xp.reshape(xp.matrix_transpose(dw), w.shape)
    if bias:
        axes = (0,) + tuple(range(2, 2 + len(n_out)))
        return dx, dw, (xp.sum(g, axis=axes) if needs[2] else None)
    return dx, dw


_conv_transpose = Primitive("conv_transpose", _forward, joint=_vjp, saves=(0, 1))


def conv_transpose(x, w, b=None, *, stride, dilation, padding, n_out, groups):
    """The transposed convolution of ``x`` (N, C_in, *spatial) with ``w`` (C_in, C_out /
    groups, *kernel), plus the bias ``b`` (C_out,) where given (one node, its gradient a sum
    of the output gradient): ``stride``, ``dilation``, ``padding`` (the zeros cropped from each end,
    PyTorch's ``padding``) tuples of one int per spatial axis, ``n_out`` the output's spatial
    shape (``output_padding`` included), ``groups``, all already checked (``nn/
    conv_transpose.py`` does); (N, C_out, *n_out).

    >>> import xpgrad as xg
    >>> conv_transpose(xg.ones((1, 2, 2)), xg.ones((2, 1, 3)), stride=(2,), dilation=(1,),
    ...                padding=(1,), n_out=(4,), groups=2).tolist()
    [[[1.0, 2.0, 1.0, 1.0], [1.0, 2.0, 1.0, 1.0]]]
    """
    return apply(_conv_transpose, *((x, w) if b is None else (x, w, b)), stride=tuple(stride),
                 dilation=tuple(dilation), padding=tuple(padding), n_out=tuple(n_out),
                 groups=int(groups))


__all__ = ["conv_transpose"]
