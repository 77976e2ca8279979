"""``layer_norm``, ``batch_norm`` (training) and ``group_norm`` as NumPy kernels, tested against
the generic rules of ``xpgrad.ops.nn``, ``xpgrad.ops.batch_norm`` and ``xpgrad.ops.group_norm``;
layer_norm's kernels and the row helpers the others share are ``layer_norm.py``'s.

batch_norm folds each channel's statistics and affine pair into one scale and shift
(``batch_norm_forward``, ``batch_norm_vjp``); group_norm takes cache-sized blocks of groups,
their sums BLAS row products (``group_norm_forward``, ``group_norm_vjp``).

>>> import numpy as np
>>> y, saved = KERNELS["layer_norm"].forward(np.array([[1.0, 3.0]]), k=1, eps=0.0,
...                                          affine=(False, False))
>>> y.tolist()
[[-1.0, 1.0]]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .blocks import BLOCK_BYTES
from .layer_norm import (_FLOATS, _block_of, _expanded, _rescaled_on_overflow, _rstd_of_squares,
                         layer_norm_forward, layer_norm_vjp)


# -- batch_norm's training primitive: inputs (x, mean, var, [weight], [bias]), x (N, C, ...) ----
def _channels(x, a):
    """The per-channel ``a`` (any shape of C entries) shaped (1, C, 1) against ``x`` (N, C, S)."""
    return a.reshape(1, x.shape[1], 1)


def batch_norm_forward(x, mean, var, *affine_arrays, eps, affine):
    """``y = (x - mean) * scale + b`` per channel (``scale = rstd * w``): two passes, three
    with a bias; the channels' ``rstd`` saved. (``x * scale + (b - mean * scale)`` saves the
    third pass but cancels: a float32 channel whose mean is thousands of standard deviations
    came out 3x less accurate than PyTorch's.)"""
    dt = x.dtype
    if dt not in _FLOATS or x.size == 0 or any(a.dtype != dt for a in (mean, var, *affine_arrays)):
        return None
    x3 = np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)
    rstd = 1.0 / np.sqrt(_channels(x3, var) + dt.type(eps))
    scale = rstd * _channels(x3, affine_arrays[0]) if affine[0] else rstd
    out = np.subtract(x3, _channels(x3, mean))
    out *= scale
    if affine[1]:
        out += _channels(x3, affine_arrays[-1])
    return out.reshape(x.shape), rstd


def batch_norm_vjp(g, saved, needs, x, mean, var, *affine_arrays, eps, affine):
    """Per channel, with ``xc = x - mean``, ``sg = sum(g)`` and ``sgx = sum(g * xc)`` over every
    axis but 1 (``m`` entries): ``dx = a * g + d * xc + c`` where ``a = w * rstd``, ``d = -a *
    rstd**2 * sgx / m`` and ``c = -a * sg / m``; ``dw = rstd * sgx``, ``db = sg``. ``d`` is
    formed as ``(sgx / m * rstd) * rstd * -a``, no factor out of range: ``rstd**3`` first
    underflowed a float32 channel whose std passes 1e13 (its gradient 3-16% off)."""
    rstd = saved
    dt = x.dtype
    x3 = np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)
    g3 = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=dt).reshape(x3.shape)
    m = x3.shape[0] * x3.shape[2]
    xc = np.subtract(x3, _channels(x3, mean))
    sg = np.einsum("ncs->c", g3).reshape(rstd.shape)
    sgx = np.einsum("ncs,ncs->c", g3, xc).reshape(rstd.shape)
    dx = None
    if needs[0]:
        a = rstd * _channels(x3, affine_arrays[0]) if affine[0] else rstd
        xc *= (sgx / m * rstd) * rstd * -a      # not rstd**3 first: it underflows
        dx = np.multiply(g3, a)
        dx += xc
        dx -= a * sg / m
        dx = dx.reshape(x.shape)
    out = [dx, None, None]
    c = x.shape[1]
    if affine[0]:
        out.append((rstd * sgx).reshape(c) if needs[len(out)] else None)
    if affine[1]:
        out.append(sg.reshape(c) if needs[len(out)] else None)
    return tuple(out)


# -- the batch's statistics (``xpgrad.ops.batch_norm._moments``): einsum sums in two passes ----
def batch_moments_forward(x):
    """``stack([mean, var])`` per channel of (N, C, ...) ``x``, shaped (2, 1, C, 1...): the sums
    over N and the trailing axes by einsum (3-4x a multi-axis ``np.mean``, and the squares
    not made), the first mean's rounding corrected by the centred values' (as the generic
    rule). Where a channel's sum of squares overflowed, from ``x / s``, ``s`` a power of two
    near its largest magnitude (``mean * s``, ``var * s * s``, as the generic rule): the kernel
    does not decline on such data, so an ``xg.function`` replay of it runs."""
    if x.dtype not in _FLOATS or x.size == 0:
        return None
    stats = _channel_moments(x)
    if not np.isfinite(stats[1]).all():
        from xpgrad.ops.moments import power_of_two_scale

        axes = (0,) + tuple(range(2, x.ndim))
        with np.errstate(invalid="ignore"):
            scale = power_of_two_scale(np, x, axes).astype(x.dtype)
        stats = _channel_moments(x / scale) * scale
        stats[1] *= scale             # var * s * s: s * s alone may pass the largest float
    return stats, None


def _channel_moments(x):
    """``stack([mean, var])`` per channel of (N, C, ...) ``x`` (``batch_moments_forward``)."""
    x3 = np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)
    count = x3.shape[0] * x3.shape[2]
    with np.errstate(invalid="ignore", over="ignore"):      # an overflow: rescaled by the caller
        mean = np.einsum("ncs->c", x3) / count
        xc = np.subtract(x3, _channels(x3, mean))
        d = np.einsum("ncs->c", xc) / count
        var = np.einsum("ncs,ncs->c", xc, xc) / count
        var -= d * d
        np.maximum(var, 0, out=var)
        mean += d
    out = np.stack([mean, var]).astype(x.dtype, copy=False)
    return out.reshape((2, 1, x.shape[1]) + (1,) * (x.ndim - 2))


# -- group_norm: x (N, C, *) seen as rows of groups (N * G, cg, S), m = cg * S per row ---------
#: from this many entries a row on, a per-row or per-channel operand is broadcast in the ufunc
#: (one inner-loop call per row); below it copied out first (``_expanded``), which is faster
_BROADCAST_MIN = 128


def _spread(a, scratch):
    """``a`` (rows, cg, 1) or (rows, 1, 1) against ``scratch``'s (rows, cg, S): itself when S
    is long, else copied across ``scratch``."""
    return a if scratch.shape[-1] >= _BROADCAST_MIN else _expanded(a, scratch)


def _row_dots(a, b, out, scratch, ones):
    """``out`` (rows,) <- each row of ``a`` (rows, n) dotted with the same row of ``b``: one
    batched BLAS dot a row for long rows (half the time of a product and a gemv), else the
    product into ``scratch`` and a gemv with ``ones``."""
    if a.shape[1] >= _BROADCAST_MIN:
        np.matmul(a[:, None, :], b[:, :, None], out=out[:, None, None])
    else:
        np.matmul(np.multiply(a, b, out=scratch), ones, out=out)


#: group_norm's blocks, in ``BLOCK_BYTES``: its passes keep one block of each of two or three
#: arrays in the cache, not GELU's six, and a larger block makes fewer of the small per-row
#: calls (4x: the forward on (32, 64, 32, 32) float32 1.53 -> 1.18 ms with the weights below)
_GROUP_BLOCKS = 4


def _groups(x, groups):
    """``x`` as C-contiguous (N * G, cg, S) rows of groups, and the rows per cache-sized
    block."""
    n, c = x.shape[:2]
    rows = np.ascontiguousarray(x).reshape(n * groups, c // groups, -1)
    return rows, max(_GROUP_BLOCKS * BLOCK_BYTES // max(rows[0].size * rows.itemsize, 1), 1)


def _group_weights(vector, count, groups):
    """The (C,) ``vector`` per row of all ``count`` rows, (count, cg, 1), made once rather
    than per block (its index arithmetic was a fifth of the forward's small calls)."""
    if vector is None:
        return None
    return np.tile(vector.reshape(groups, -1), (count // groups, 1))[:, :, None]


def group_norm_forward(x, *affine_arrays, groups, eps, affine):
    """``_group_norm_rows``, rescaled where a group's sum of squares overflowed
    (``_rescaled_on_overflow``)."""
    row_length = x.size // max(x.shape[0] * groups, 1)
    return _rescaled_on_overflow(
        lambda a, e: _group_norm_rows(a, *affine_arrays, groups=groups, eps=e, affine=affine),
        x, row_length, eps)


def _group_norm_rows(x, *affine_arrays, groups, eps, affine):
    """Per block of rows: the mean by gemv, the centred values ``xc`` written into the output,
    their mean ``d`` (the first mean's rounding) by gemv and mean square (``_row_dots``); then ``y = xc * s +
    t`` with ``s = rstd * w`` and ``t = b - d * s`` per channel of each row (``d`` is tiny: no
    cancellation). Saves each row's mean as ``hi + lo`` (the gemv's and ``d``: ``x - hi`` is
    exact where the mean is large) and ``rstd``. A block whose rows' means are all within a
    standard deviation of 0 takes the variance from the sums of squares and writes ``y = x * s +
    t`` from ``x`` itself (``_sums_of_squares_suffice``; ``lo`` 0): a pass and a gemv fewer, the
    forward on (32, 32, 16, 16) float32 694 -> 476 us (torch 292). Not for groups shorter than
    ``_BROADCAST_MIN``, whose means pass their standard deviations too often to try."""
    dt = x.dtype
    if dt not in _FLOATS or x.size == 0 or any(a.dtype != dt for a in affine_arrays):
        return None
    rows, step = _groups(x, groups)
    count, cg, s = rows.shape
    m = cg * s
    block = min(step, count)
    weight = _group_weights(affine_arrays[0].reshape(-1) if affine[0] else None, count, groups)
    bias = _group_weights(affine_arrays[-1].reshape(-1) if affine[1] else None, count, groups)
    average, ones = np.full(m, 1.0 / m, dt), np.ones(m, dt)
    out = np.empty(rows.shape, dt)
    mean = np.empty((count, 1), dt)
    shift = np.empty((count, 1), dt)
    rstd = np.empty((count, 1), dt)
    scratch = np.empty((block, cg, s), dt)
    with np.errstate(invalid="ignore", over="ignore"):    # as in layer_norm_forward
        for start in range(0, count, step):
            part, y = rows[start:start + step], out[start:start + step]
            size = len(part)
            flat, yf = part.reshape(size, m), y.reshape(size, m)
            mu, rs, d = (a[start:start + step] for a in (mean, rstd, shift))
            sq = scratch[:size]
            np.matmul(flat, average, out=mu[:, 0])
            if m >= _BROADCAST_MIN and _sums_of_squares_suffice(flat, mu, rs, sq, ones,
                                                                _block_of(eps, start, step)):
                d[...] = 0
                _scaled_groups(part, y, rs, mu, weight, bias, start, sq)
                continue
            np.subtract(flat, mu if m >= _BROADCAST_MIN else _expanded(mu, sq.reshape(size, m)),
                        out=yf)
            np.matmul(yf, average, out=d[:, 0])
            _row_dots(yf, yf, rs[:, 0], sq.reshape(size, m), ones)
            rs *= 1.0 / m
            rs -= d * d
            np.maximum(rs, 0, out=rs)
            rs += _block_of(eps, start, step)
            np.sqrt(rs, out=rs)
            np.divide(1.0, rs, out=rs)
            _scaled_groups(y, y, rs, d, weight, bias, start, sq)
    return out.reshape(x.shape), (mean, shift, rstd)


def _sums_of_squares_suffice(flat, mu, rs, scratch, ones, eps):
    """The rows' sums of squares (``_row_dots``) into ``rs``, then ``_rstd_of_squares``: True
    where every row's mean is within a standard deviation of 0 (``rs`` then holds their
    ``rstd``), else False and the caller centres the rows."""
    _row_dots(flat, flat, rs[:, 0], scratch.reshape(flat.shape), ones)
    return bool(_rstd_of_squares(mu, rs, flat.shape[1], eps).all())


def _scaled_groups(part, y, rs, shift, weight, bias, start, scratch):
    """``y`` <- ``(part - shift) * rs * w + b`` per channel of each row, as ``part * s + t``
    (``s = rs * w``, ``t = b - shift * s``): ``part`` the rows themselves and ``shift`` their
    mean (within a standard deviation of 0: no cancellation), or their centred values and
    ``shift`` the mean of those."""
    size = len(part)
    scale = rs[:, :, None]
    if weight is not None:
        scale = scale * weight[start:start + size]
    offset = -shift[:, :, None] * scale
    if bias is not None:
        offset = offset + bias[start:start + size]
    np.multiply(part, _spread(scale, scratch), out=y)
    y += _spread(offset, scratch)


def group_norm_vjp(g, saved, needs, x, *affine_arrays, groups, eps, affine):
    """Per block of rows, with ``xc = x - mean`` (taken as ``h - lo``, ``h = x - hi``, the
    ``lo`` folded into the per-row sums): ``sg`` and ``sgx``, the sums of ``g`` and ``g * xc``
    per channel of each row (gemv, ``_row_dots``); ``dx = a * g + xc * e + f`` with ``a = rstd
    * w`` per channel, ``e = -rstd**3 * sum(w * sgx) / m`` and ``f = -rstd * sum(w * sg) / m``
    per row; ``dw = sum over rows of rstd * sgx``, ``db = sum of sg`` (in float64)."""
    mean, shift, rstd = saved
    dt = x.dtype
    rows, step = _groups(x, groups)
    count, cg, s = rows.shape
    m = cg * s
    g_rows = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=dt).reshape(rows.shape)
    block = min(step, count)
    weight = _group_weights(affine_arrays[0].reshape(-1) if affine[0] else None, count, groups)
    ones = np.ones(s, dt)
    sg = np.empty((count, cg), dt)
    sgx = np.empty((count, cg), dt)
    dx = np.empty(rows.shape, dt) if needs[0] else None
    centred, spread = np.empty((block, cg, s), dt), np.empty((block, cg, s), dt)
    fast = _uncentred_rows(mean, shift, rstd)
    with np.errstate(invalid="ignore"):       # OpenBLAS's gemv flags (layer_norm_forward)
        for start in range(0, count, step):
            part, gp = rows[start:start + step], g_rows[start:start + step]
            size = len(part)
            mu, lo, rs = (a[start:start + step] for a in (mean, shift, rstd))
            h, e = centred[:size], spread[:size]
            hf = h.reshape(size, m)
            uncentred = bool(fast[start:start + step].all())
            if uncentred:
                h, lo = part, mu           # x - mean as (x - 0) - mean: sums of g * x
            else:
                np.subtract(part.reshape(size, m), mu if m >= _BROADCAST_MIN else
                            _expanded(mu, e.reshape(size, m)), out=hf)
            np.matmul(gp.reshape(size * cg, s), ones, out=sg[start:start + size].reshape(-1))
            _row_dots(gp.reshape(size * cg, s), h.reshape(size * cg, s),
                      sgx[start:start + size].reshape(-1), e.reshape(size * cg, s), ones)
            sgx[start:start + size] -= lo * sg[start:start + size]      # sum(g * (h - lo))
            if dx is None:
                continue
            w = None if weight is None else weight[start:start + size, :, 0]
            sums = [sg[start:start + size], sgx[start:start + size]]
            if w is not None:
                sums = [a * w for a in sums]
            sa, sc = (a.sum(axis=1, keepdims=True) for a in sums)       # (size, 1)
            # the slope -rstd**3 * sc / m as rstd times ``slope``: rstd**3 alone underflows
            # where the rows were rescaled (a float32 std of 1e19, rstd**3 ~ 1e-57)
            slope = -rs * (rs * sc / m)
            offset = -rs * sa / m - (lo * rs) * slope                   # (h - lo) * slope
            scale = rs[:, :, None] if w is None else rs[:, :, None] * w[:, :, None]
            d = dx[start:start + step]
            np.multiply(gp, _spread(scale, e), out=d)
            if uncentred:                  # rstd**3 in range: one multiply, into the scratch
                slope *= rs
                np.multiply(part.reshape(size, m), slope if m >= _BROADCAST_MIN else
                            _expanded(slope, e.reshape(size, m)), out=hf)
            else:
                hf *= rs if m >= _BROADCAST_MIN else _expanded(rs, e.reshape(size, m))
                hf *= slope if m >= _BROADCAST_MIN else _expanded(slope, e.reshape(size, m))
            d += centred[:size]
            df = d.reshape(size, m)
            df += offset if m >= _BROADCAST_MIN else _expanded(offset, e.reshape(size, m))
    out = [None if dx is None else dx.reshape(x.shape)]
    n = x.shape[0]
    if affine[0]:
        out.append((rstd.astype(np.float64) * sgx).reshape(n, -1).sum(axis=0).astype(dt)
                   if needs[1] else None)
    if affine[1]:
        out.append(sg.reshape(n, -1).sum(axis=0, dtype=np.float64).astype(dt)
                   if needs[len(out)] else None)
    return tuple(out)


#: ``rstd`` within which a group's ``rstd**3`` stays normal in float32 (``_uncentred_rows``)
_RSTD_RANGE = (2.0 ** -30, 2.0 ** 30)


def _uncentred_rows(mean, shift, rstd):
    """Per row of groups, True where ``group_norm_vjp`` may take sums of ``g * x`` in place of
    ``g * (x - mean)``: no ``lo`` correction, the mean within a standard deviation of 0 (the
    sums then cancel by at most a factor of 2) and ``rstd`` in ``_RSTD_RANGE``."""
    fast = np.abs(mean * rstd) <= 1
    fast &= rstd > _RSTD_RANGE[0]
    fast &= rstd < _RSTD_RANGE[1]
    fast &= shift == 0
    return fast[:, 0]


# layer_norm's rule reads x and the weight (position 1 when there is one; a bias there is
# small); batch_norm's x, the batch mean and the weight (position 3); group_norm's as
# layer_norm's
KERNELS = {"layer_norm": Kernel(layer_norm_forward, layer_norm_vjp, saves=(0, 1), needs=True),
           "batch_norm": Kernel(batch_norm_forward, batch_norm_vjp, saves=(0, 1, 3),
                                needs=True),
           "batch_moments": Kernel(batch_moments_forward),
           "group_norm": Kernel(group_norm_forward, group_norm_vjp, saves=(0, 1), needs=True)}

__all__ = ["KERNELS", "batch_norm_forward", "batch_norm_vjp", "group_norm_forward",
           "group_norm_vjp", "layer_norm_forward", "layer_norm_vjp"]
