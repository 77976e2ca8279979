"""``layer_norm`` as a NumPy kernel (``normalization.py`` registers it beside batch_norm and
group_norm, which share its row helpers), tested against the generic rule of
``xpgrad.ops.nn``.

layer_norm takes blocks of rows that stay in the core's cache through the forward's
half-dozen passes (or the backward's dozen) before the next block, and saves the rows' means
and ``1 / sqrt(var + eps)`` so the backward does not normalize ``x`` again (the generic rule
recomputes both, some 17 passes from memory). The rows' sums are matrix-vector products
(OpenBLAS's, in the input's precision); in float32 a second mean, of the centred values,
corrects the first's rounding (``layer_norm_forward``). x-hat itself is not kept, as in
PyTorch, which saves the same two columns: keeping it (one more array of ``x``'s size per call
until the backward) was measured on (64, 16, 256) float32, one thread: forward 249 -> 262 us,
backward 353 -> 306, together 642 -> 581; a ``TransformerEncoderLayer(256, 4, 1024)`` step on
it, 25.0 ms either way, peak memory 23.3 -> 24.3 MiB.

Per row of the last ``k`` axes flattened (``n`` entries), with ``xhat = (x - mean) * rstd``
and ``gy = g * w``: ``y = xhat * w + b``; ``dx = rstd * (gy - mean(gy) - xhat * mean(gy *
xhat))``, ``dw = sum over rows of g * xhat``, ``db = sum over rows of g`` (summed in float64
across blocks). Other dtypes than float32/float64 (one for all arrays) or an empty input fall
back to the generic rule, which the tests compare this with.

>>> import numpy as np
>>> y, saved = layer_norm_forward(np.array([[1.0, 3.0]]), k=1, eps=0.0, affine=(False, False))
>>> y.tolist()
[[-1.0, 1.0]]
"""
from __future__ import annotations

import math

import numpy as np

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


def _tiled(row, rows, total):
    """``row`` (n,) repeated down ``rows`` rows (a block's), C-contiguous, or None for None;
    where the ``total`` rows are one block, ``row`` as (1, n), broadcast by the ufuncs (a copy
    made for one block costs more than it saves)."""
    if row is None:
        return None
    return row.reshape(1, -1) if total <= rows else np.tile(row, (rows, 1))


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

#: rows shorter than this are centred block by block, their statistics not taken first
#: (``_uncentred_moments``): a short row's mean passes its standard deviation too often (a
#: block of (20000, 10) normal float32 rows never went without centring; 962 -> 1560 us), and
#: a BLAS dot a row costs more than its product and a gemv
_SHORT_ROW = 128

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
    double). First, for all rows at once, the means and sums of squares (two BLAS sweeps):
    a block whose rows' means are all within a standard deviation of 0 takes its variances
    from those (``_uncentred_moments``, ``lo`` 0) and is only written, ``(x - m) * rstd * w +
    b``; the forward on (256, 1024) float32 718 -> 550 us (torch 246). ``(m, lo, rstd)`` are
    saved (``lo`` None in float64)."""
    dt = x.dtype
    if dt not in _FLOATS or x.size == 0 or any(a.dtype != dt for a in affine_arrays):
        return None
    n = math.prod(x.shape[x.ndim - k:])
    rows, step = _rows(x, n)
    block = min(step, rows.shape[0])
    weight = _tiled(_weight(affine_arrays, affine, n), block, rows.shape[0])
    bias = _tiled(affine_arrays[-1].reshape(n) if affine[1] else None, block, rows.shape[0])
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
        uncentred = (None if long_rows or n < _SHORT_ROW else
                     _uncentred_moments(rows, average, mean, rstd, eps))
        for start in range(0, rows.shape[0], step):
            part, y = rows[start:start + step], out[start:start + step]
            mu, rs, sq = mean[start:start + step], rstd[start:start + step], scratch[:len(part)]
            if uncentred is not None and uncentred[start:start + step].all():
                if low is not None:
                    low[start:start + step] = 0
                np.subtract(part, _expanded(mu, sq), out=y)
                _scaled(y, rs, sq, weight, bias)
                continue
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
            _scaled(y, rs, sq, weight, bias)
    return out.reshape(x.shape), (mean, low, rstd)


def _uncentred_moments(rows, average, mean, rstd, eps):
    """``mean`` <- the rows' means, their sums of squares (one BLAS dot a row) into ``rstd``,
    then ``_rstd_of_squares``."""
    _means(rows, average, mean[:, 0])
    np.matmul(rows[:, None, :], rows[:, :, None], out=rstd[:, :, None])
    return _rstd_of_squares(mean, rstd, rows.shape[1], eps)


def _rstd_of_squares(mean, rstd, n, eps):
    """``rstd`` (the rows' sums of squares on entry) <- ``1 / sqrt(var + eps)`` with ``var =
    sums / n - mean**2`` in float64, and per row whether its mean is within a standard
    deviation of 0: there ``var`` loses at most a factor 2 of the sums' precision; elsewhere
    the caller centres the rows (a large mean cancels) and overwrites ``rstd``."""
    var = rstd / np.float64(n)
    mean64 = mean.astype(np.float64)
    mean64 *= mean64
    var -= mean64
    uncentred = mean64 <= var
    var += eps
    np.sqrt(var, out=var)
    np.divide(1.0, var, out=rstd, casting="same_kind")
    return uncentred[:, 0]


def _scaled(y, rs, scratch, weight, bias):
    """``y`` (the centred rows) <- ``y * rs * weight + bias`` in place (either may be None)."""
    y *= _expanded(rs, scratch)
    if weight is not None:
        y *= weight[:len(y)]
    if bias is not None:
        y += bias[:len(y)]


def layer_norm_vjp(g, saved, needs, x, *affine_arrays, k, eps, affine):
    """Per block of rows, with ``c = x - mean`` (the saved mean, and ``lo`` below float64)
    and ``t = g * c``: ``dw = rstd @ t`` (``xhat = c * rstd`` never made), ``db = ones @ g``,
    and ``dx = rstd * (gy - c * (rstd * (rstd * mean(gy * c))) - mean(gy))`` with ``gy = g *
    w``, the two means matrix-vector products of ``t`` and ``g`` with ``w / n``: 15 array
    operations a block with a weight, against 18 normalizing ``x`` again and forming ``gy *
    xhat``."""
    mean, low, rstd = saved
    dt = x.dtype
    n = math.prod(x.shape[x.ndim - k:])
    rows, step = _rows(x, n)
    g_rows = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=dt).reshape(-1, n)
    block = min(step, rows.shape[0])
    want_dw, want_db = affine[0] and needs[1], affine[1] and needs[1 + affine[0]]
    # the bias is not kept (a stand-in with its shape and dtype): the rule needs only the weight
    weight = _weight(affine_arrays, affine, n) if needs[0] else None
    tiled = _tiled(weight, block, rows.shape[0])
    dx = np.empty(rows.shape, dt) if needs[0] else None
    dw = np.zeros(n, np.float64) if want_dw else None
    db = np.zeros(n, np.float64) if want_db else None
    scaled_average = np.full(n, 1.0 / n, dt) if weight is None else weight / dt.type(n)
    down = np.ones(block, dt)
    centred, products, spread = (np.empty((block, n), dt) for _ in range(3))
    column = np.empty((block, 1), dt)
    # OpenBLAS's float32 gemv may leave the invalid flag set on finite data (NumPy then warns
    # of a NaN that is not there): the products' flags are not read
    with np.errstate(invalid="ignore"):
        for start in range(0, rows.shape[0], step):
            part, gp = rows[start:start + step], g_rows[start:start + step]
            mu, rs = mean[start:start + step], rstd[start:start + step]
            size = len(part)
            c, t, e, col = centred[:size], products[:size], spread[:size], column[:size]
            if want_db:
                db += down[:size] @ gp
            if not want_dw and dx is None:
                continue
            np.subtract(part, _expanded(mu, e), out=c)
            if low is not None and low[start:start + step].any():
                c -= _expanded(low[start:start + step], e)
            np.multiply(gp, c, out=t)
            if want_dw:
                dw += rs[:, 0] @ t
            if dx is None:
                continue
            d = dx[start:start + step]
            # c * rstd * mean(gy * xhat) = c * (rstd * (rstd * mean(gy * c))): rstd**2 alone
            # underflows where the rows were rescaled (a float32 std of 1e19)
            np.matmul(t, scaled_average, out=col[:, 0])
            col *= rs
            col *= rs
            c *= _expanded(col, e)
            if tiled is None:
                np.subtract(gp, c, out=d)
            else:
                np.multiply(gp, tiled[:size], out=d)
                d -= c
            np.matmul(gp, scaled_average, out=col[:, 0])          # mean(gy)
            d -= _expanded(col, e)
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
    result = forward(x, eps)
    if result is None or _variances_fit(result[1][2]):
        return result
    from xpgrad.ops.moments import power_of_two_scale     # only now: overflows are rare

    rows = x.reshape(-1, row_length)
    with np.errstate(invalid="ignore"):
        scale = np.maximum(power_of_two_scale(np, rows, (1,)), 1.0).astype(x.dtype)
    y, (mean, low, rstd) = forward((rows / scale).reshape(x.shape), eps / scale / scale)
    return y, (mean * scale, None if low is None else low * scale, rstd / scale)
