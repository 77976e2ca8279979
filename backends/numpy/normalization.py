"""``layer_norm``, ``batch_norm`` (training) and ``group_norm`` as NumPy kernels, tested against
the generic rules of ``xpgrad.ops.nn``, ``xpgrad.ops.batch_norm`` and ``xpgrad.ops.group_norm``.

layer_norm takes blocks of rows that stay in the core's cache through the forward's
half-dozen passes (or the backward's dozen) before the next block, and saves the rows' means
and ``1 / sqrt(var + eps)`` so the backward does not normalize ``x`` again (the generic rule
recomputes both, some 17 passes from memory). The rows' sums are matrix-vector products
(OpenBLAS's, in the input's precision); in float32 a second mean, of the centred values,
corrects the first's rounding (``layer_norm_forward``). batch_norm folds each channel's statistics and
affine pair into one scale and shift (``batch_norm_forward``, ``batch_norm_vjp``).

layer_norm, per row of the last ``k`` axes flattened (``n`` entries), with ``xhat = (x - mean) *
rstd`` and ``gy = g * w``: ``y = xhat * w + b``; ``dx = rstd * (gy - mean(gy) - xhat * mean(gy *
xhat))``,
``dw = sum over rows of g * xhat``, ``db = sum over rows of g`` (summed in float64 across
blocks). Other dtypes than float32/float64 (one for all arrays) or an empty input fall back to
the generic rule, which the tests compare this with.

>>> import numpy as np
>>> y, saved = KERNELS["layer_norm"].forward(np.array([[1.0, 3.0]]), k=1, eps=0.0,
...                                          affine=(False, False))
>>> y.tolist()
[[-1.0, 1.0]]
"""
from __future__ import annotations

import math

import numpy as np

from xpgrad.backend import Kernel

from .blocks import BLOCK_BYTES

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


def _rows(x, n):
    """``x`` as a C-contiguous (rows, n) array, and the rows per cache-sized block."""
    rows = np.ascontiguousarray(x).reshape(-1, n)
    return rows, max(BLOCK_BYTES // (n * rows.itemsize), 1)


def _weight(arrays, affine, n):
    return arrays[0].reshape(n) if affine[0] else None


def _expanded(column, out):
    """``column`` (rows, 1) copied across ``out`` (rows, n): NumPy's broadcast copy is 3-4x
    faster than a broadcast operand, which calls the ufunc's inner loop once per row."""
    np.copyto(out, column)
    return out


def _tiled(row, rows):
    """``row`` (n,) repeated down ``rows`` rows, C-contiguous, or None for None."""
    return None if row is None else np.tile(row, (rows, 1))


def _means(part, average, out, pairwise=False):
    """``out`` (rows,) <- the rows' means of ``part``: a matrix-vector product (4x NumPy's
    sum on rows in cache), or NumPy's pairwise sum for rows longer than a block (faster from
    memory, and its rounding grows as log(n), not with OpenBLAS's long float32 chains) or
    where ``pairwise`` asks for it."""
    if pairwise or part.shape[0] == 1 and part.nbytes > BLOCK_BYTES:
        np.add.reduce(part, axis=1, out=out)
        out *= average[0]
    else:
        np.matmul(part, average, out=out)


def _corrected(y, lo, rs, scratch):
    """Below float64, ``y`` (``x`` less its first row means) less ``lo`` (the means of ``y``,
    the first means' rounding) where that is not negligible against the rows' spread, else
    ``lo`` zeroed: the backward reads the same choice from the saved ``lo``."""
    if np.abs(lo * rs).max() > _NEGLIGIBLE:
        y -= _expanded(lo, scratch)
    else:
        lo[...] = 0


#: float32 rows at least this long take the mean of their squares pairwise: OpenBLAS's float32
#: gemv sums a row of 65536 positive squares with a relative error of about 1e-6 on a Zen 5
#: (the normalized output off by 4.4e-6, against 5.8e-7 pairwise; the forward about 10% slower)
_LONG_ROW = 1 << 15

#: ``lo * rstd`` below which a float32 row's mean needs no correction (a few float32 ulps of 1)
_NEGLIGIBLE = 2.0 ** -21


def layer_norm_forward(x, *affine_arrays, k, eps, affine):
    """``_layer_norm_rows``, rescaled where a row's sum of squares overflowed
    (``_rescaled_on_overflow``)."""
    n = math.prod(x.shape[x.ndim - k:])
    return _rescaled_on_overflow(
        lambda a, e: _layer_norm_rows(a, *affine_arrays, k=k, eps=e, affine=affine), x, n, eps)


def _layer_norm_rows(x, *affine_arrays, k, eps, affine):
    """Per block of rows: ``m`` the rows' means, ``xc = x - m``; below float64 ``lo =
    mean(xc)`` corrects ``m``'s rounding (OpenBLAS's float32 product sums 1e4 + N(0, 1) with
    an error of 0.4 over a row of 1e6), ``var = mean(xc**2) - lo**2`` and ``y = (xc - lo) *
    rstd`` (as ``xpgrad.ops.batch_norm._moments``: as accurate as PyTorch, which sums in
    double). ``(m, lo, rstd)`` are saved (``lo`` None in float64)."""
    dt = x.dtype
    if dt not in _FLOATS or x.size == 0 or any(a.dtype != dt for a in affine_arrays):
        return None
    n = math.prod(x.shape[x.ndim - k:])
    rows, step = _rows(x, n)
    block = min(step, rows.shape[0])
    weight = _tiled(_weight(affine_arrays, affine, n), block)
    bias = _tiled(affine_arrays[-1].reshape(n) if affine[1] else None, block)
    average = np.full(n, 1.0 / n, dt)
    out = np.empty(rows.shape, dt)
    mean = np.empty((rows.shape[0], 1), dt)
    rstd = np.empty((rows.shape[0], 1), dt)
    low = np.empty((rows.shape[0], 1), dt) if dt.itemsize < 8 else None
    scratch = np.empty((block, n), dt)
    long_rows = dt.itemsize < 8 and n >= _LONG_ROW
    # OpenBLAS's float32 gemv may leave the invalid flag set on finite data (NumPy then warns
    # of a NaN that is not there): the products' flags are not read; an overflow declines below
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, rows.shape[0], step):
            part, y = rows[start:start + step], out[start:start + step]
            mu, rs, sq = mean[start:start + step], rstd[start:start + step], scratch[:len(part)]
            _means(part, average, mu[:, 0])
            np.subtract(part, _expanded(mu, sq), out=y)
            if low is not None:
                lo = low[start:start + step]
                _means(y, average, lo[:, 0])
            np.multiply(y, y, out=sq)
            _means(sq, average, rs[:, 0], pairwise=long_rows)
            if low is not None:
                rs -= lo * lo
                np.maximum(rs, 0, out=rs)
            rs += _block_of(eps, start, step)
            np.sqrt(rs, out=rs)
            np.divide(1.0, rs, out=rs)
            if low is not None:
                _corrected(y, lo, rs, sq)
            y *= _expanded(rs, sq)
            if weight is not None:
                y *= weight[:len(part)]
            if bias is not None:
                y += bias[:len(part)]
    return out.reshape(x.shape), (mean, low, rstd)


def layer_norm_vjp(g, saved, needs, x, *affine_arrays, k, eps, affine):
    mean, low, rstd = saved
    dt = x.dtype
    n = math.prod(x.shape[x.ndim - k:])
    rows, step = _rows(x, n)
    g_rows = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=dt).reshape(-1, n)
    block = min(step, rows.shape[0])
    want_dw, want_db = affine[0] and needs[1], affine[1] and needs[1 + affine[0]]
    # the bias is not kept (a stand-in with its shape and dtype): the rule needs only the weight
    weight = _tiled(_weight(affine_arrays, affine, n), block) if needs[0] else None
    dx = np.empty(rows.shape, dt) if needs[0] else None
    dw = np.zeros(n, np.float64) if want_dw else None
    db = np.zeros(n, np.float64) if want_db else None
    average, down = np.full(n, 1.0 / n, dt), np.ones(block, dt)
    xhat, scratch, spread = (np.empty((block, n), dt) for _ in range(3))
    gy_buffer = np.empty((block, n), dt) if weight is not None else None
    column = np.empty((block, 1), dt)
    # OpenBLAS's float32 gemv may leave the invalid flag set on finite data (NumPy then warns
    # of a NaN that is not there): the products' flags are not read
    with np.errstate(invalid="ignore"):
        for start in range(0, rows.shape[0], step):
            part, gp = rows[start:start + step], g_rows[start:start + step]
            mu, rs = mean[start:start + step], rstd[start:start + step]
            size = len(part)
            h, t, e, c = xhat[:size], scratch[:size], spread[:size], column[:size]
            np.subtract(part, _expanded(mu, e), out=h)
            if low is not None and low[start:start + step].any():
                h -= _expanded(low[start:start + step], e)
            h *= _expanded(rs, e)
            if want_dw:
                np.multiply(gp, h, out=t)
                dw += down[:size] @ t
            if want_db:
                db += down[:size] @ gp
            if dx is None:
                continue
            gy = gp if weight is None else np.multiply(gp, weight[:size], out=gy_buffer[:size])
            np.multiply(gy, h, out=t)
            _means(t, average, c[:, 0])
            h *= _expanded(c, e)                              # xhat * mean(gy * xhat)
            d = dx[start:start + step]
            np.subtract(gy, h, out=d)
            _means(gy, average, c[:, 0])
            d -= _expanded(c, e)                              # - mean(gy)
            d *= _expanded(rs, e)
    shape = x.shape[x.ndim - k:]
    out = [None if dx is None else dx.reshape(x.shape)]
    for present, total in zip(affine, (dw, db)):
        if present:
            out.append(None if total is None else total.astype(dt).reshape(shape))
    return tuple(out)


def _variances_fit(rstd):
    """False where a row's sum of squares overflowed (``rstd`` 0 or NaN)."""
    return bool((rstd > 0).all())


def _block_of(eps, start, step):
    """``eps`` for the rows ``start`` to ``start + step``: a number, or a column per row."""
    return eps if np.ndim(eps) == 0 else eps[start:start + step]


def _rescaled_on_overflow(forward, x, row_length, eps):
    """``forward(x, eps)`` -> ``(y, (mean, low, rstd))`` per row of ``row_length`` entries;
    where a row's sum of squares overflowed, ``forward(x / s, eps / s**2)``, ``s`` a power of
    two near each row's largest magnitude (at least 1, so ``eps / s**2`` stays finite), with
    ``mean * s``, ``low * s`` and ``rstd / s`` saved (``y`` is the same), as the generic rule
    (``xpgrad.ops.moments.normalized``). The kernel never declines on such data: it runs
    whole on every ``xg.function`` replay, which a declining kernel could not."""
    from xpgrad.ops.moments import power_of_two_scale

    result = forward(x, eps)
    if result is None or _variances_fit(result[1][2]):
        return result
    rows = x.reshape(-1, row_length)
    with np.errstate(invalid="ignore"):
        scale = np.maximum(power_of_two_scale(np, rows, (1,)), 1.0).astype(x.dtype)
    y, (mean, low, rstd) = forward((rows / scale).reshape(x.shape), eps / scale / scale)
    return y, (mean * scale, None if low is None else low * scale, rstd / scale)


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


def _groups(x, groups):
    """``x`` as C-contiguous (N * G, cg, S) rows of groups, and the rows per cache-sized
    block."""
    n, c = x.shape[:2]
    rows = np.ascontiguousarray(x).reshape(n * groups, c // groups, -1)
    return rows, max(BLOCK_BYTES // max(rows[0].size * rows.itemsize, 1), 1)


def _group_weights(vector, start, size, groups):
    """The (C,) ``vector`` per row of the rows ``start`` to ``start + size``: (size, cg, 1)."""
    per_group = vector.reshape(groups, -1)
    return per_group[(start + np.arange(size)) % groups][:, :, None]


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
    exact where the mean is large) and ``rstd``."""
    dt = x.dtype
    if dt not in _FLOATS or x.size == 0 or any(a.dtype != dt for a in affine_arrays):
        return None
    rows, step = _groups(x, groups)
    count, cg, s = rows.shape
    m = cg * s
    block = min(step, count)
    weight = affine_arrays[0].reshape(-1) if affine[0] else None
    bias = affine_arrays[-1].reshape(-1) if affine[1] else None
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
            scale = rs[:, :, None]
            if weight is not None:
                scale = scale * _group_weights(weight, start, size, groups)
            offset = -d[:, :, None] * scale
            if bias is not None:
                offset = offset + _group_weights(bias, start, size, groups)
            y *= _spread(scale, sq)
            y += _spread(offset, sq)
    return out.reshape(x.shape), (mean, shift, rstd)


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
    weight = affine_arrays[0].reshape(-1) if affine[0] else None
    ones = np.ones(s, dt)
    sg = np.empty((count, cg), dt)
    sgx = np.empty((count, cg), dt)
    dx = np.empty(rows.shape, dt) if needs[0] else None
    centred, spread = np.empty((block, cg, s), dt), np.empty((block, cg, s), dt)
    with np.errstate(invalid="ignore"):       # OpenBLAS's gemv flags (layer_norm_forward)
        for start in range(0, count, step):
            part, gp = rows[start:start + step], g_rows[start:start + step]
            size = len(part)
            mu, lo, rs = (a[start:start + step] for a in (mean, shift, rstd))
            h, e = centred[:size], spread[:size]
            hf = h.reshape(size, m)
            np.subtract(part.reshape(size, m),
                        mu if m >= _BROADCAST_MIN else _expanded(mu, e.reshape(size, m)), out=hf)
            np.matmul(gp.reshape(size * cg, s), ones, out=sg[start:start + size].reshape(-1))
            _row_dots(gp.reshape(size * cg, s), h.reshape(size * cg, s),
                      sgx[start:start + size].reshape(-1), e.reshape(size * cg, s), ones)
            sgx[start:start + size] -= lo * sg[start:start + size]      # sum(g * (h - lo))
            if dx is None:
                continue
            w = None if weight is None else _group_weights(weight, start, size, groups)[..., 0]
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
            hf *= rs if m >= _BROADCAST_MIN else _expanded(rs, e.reshape(size, m))
            hf *= slope if m >= _BROADCAST_MIN else _expanded(slope, e.reshape(size, m))
            d += h
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
