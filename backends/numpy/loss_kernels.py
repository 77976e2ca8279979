"""The fused NumPy losses: softmax cross-entropy (class indices or probabilities; with label
smoothing in ``smoothed_sce.py``), sigmoid cross-entropy with logits, mean squared error on
values and on sigmoids (Huber / smooth L1 in ``huber.py``). Each computes the loss and its gradient together and saves the gradient, so
its vjp is one multiply (or nothing when the incoming gradient is exactly 1); ``value`` kernels
(``_loss_only``) compute the loss alone for a call that needs no gradient.

>>> import numpy as np
>>> loss, grad = _mse_forward(np.array([1.0, 3.0]), np.array([0.0, 1.0]), "mean")
>>> float(loss), grad.tolist()
(2.5, [1.0, 2.0])
"""
from __future__ import annotations

from math import isnan

import numpy as np

from xpgrad.ops import formulas

from .kernel_common import (_ONE, FLOATS, _exponentials, _float, _row_sums, _sigmoid,
                            _sigmoid_into, _times, einsum)
from .label_positions import _label_positions, _row_numbers
from .loss_blocks import blocked_total, exponential_sums, fits_one_block

_max_of = np.maximum.reduce          # a.max()'s ufunc, without its Python wrapper


def _inv(n):
    """1/n as the mean's gradient factor; an empty batch has an empty gradient (any factor)."""
    return 1.0 / n if n else 1.0


def _total(total, reduction, n, dtype):
    if reduction == "mean":
        total = total / n if n else np.nan        # the mean of nothing, as np.mean, silently
    return np.asarray(total, dtype=dtype)


def _reduced(per, reduction, n, dtype=None):
    """The losses ``per`` row, or their mean or sum, as ``dtype`` (None: ``per``'s own; a
    float64 ``per`` of float32 logits is summed before it is rounded)."""
    if reduction == "none":
        return per if dtype is None or per.dtype == dtype else per.astype(dtype)
    return _total(per.sum(), reduction, n, per.dtype if dtype is None else dtype)


def _loss_only(loss):
    """The ``value`` of a fused loss kernel from ``loss(x, t, reduction)`` (None: declined)."""
    def value(x, t, reduction):
        out = loss(x, t, reduction)
        return None if out is None else (out, None)

    return value


def _by_blocks(x, t, reduction) -> bool:
    """Whether an elementwise loss of float ``x`` and ``t`` of one shape runs by blocks
    (``loss_blocks``): a reduced loss, ``t`` of ``x``'s dtype and shape, ``x`` past one block."""
    return reduction != "none" and not fits_one_block(x) and _float(x, t) \
        and x.dtype == t.dtype and x.shape == t.shape


# -- softmax cross-entropy ---------------------------------------------------------------------
#: entries of a row's chunk whose products einsum sums in one float32 chain (rows of 2 chunks
#: or more are summed chunk by chunk, then the chunks' sums pairwise)
_DOT_CHUNK = 256


def _row_dots(a, b):
    """``sum(a * b, axis=1)`` of two (n, c) arrays. einsum's float32 chain over a long row
    rounds with its length (a relative 1e-5 at c = 1e6, 4e-7 at 1000; PyTorch's 5e-8-1e-7):
    longer rows go in chunks of ``_DOT_CHUNK`` (1e-7 at any length; the loss 1% slower at
    1000 classes, as fast at 1e6)."""
    n, c = a.shape
    if c < 2 * _DOT_CHUNK:
        return einsum("ij,ij->i", a, b)
    k = c - c % _DOT_CHUNK
    chunks = einsum("ijk,ijk->ij", a[:, :k].reshape(n, -1, _DOT_CHUNK),
                       b[:, :k].reshape(n, -1, _DOT_CHUNK))
    out = chunks.sum(axis=1)
    if k < c:
        out += einsum("ij,ij->i", a[:, k:], b[:, k:])
    return out


#: float32 rows shorter than this take their exponentials unshifted when all logits lie in
#: [-``_WINDOW``, ``_WINDOW``] (``_unshifted_rows``): NumPy's row maxima of short rows cost
#: several plain passes (one core: (2048, 50) argmax 85 us, min and max of all 8.5; at 128
#: classes the two ways break even), and a small batch saves their several calls (the loss
#: and gradient of (32, 10): 15.5 -> 13.0 us)
_SHORT_ROW = 128

#: ``exp`` of a float32 logit in [-64, 64] neither overflows (nor do the rows' sums) nor comes
#: near underflow (exp(-87)): each exponential and each sum keeps its relative precision
_WINDOW = 64.0


def _unshifted_rows(logits) -> bool:
    """Whether ``exp(logits)`` may be taken unshifted, by one range of all the logits instead
    of each row's maximum: float32 rows shorter than ``_SHORT_ROW``, every logit finite and in
    the window ``_WINDOW``. (The loss
    then takes each row's ``log(sum) - x_label`` in float64: two large terms where the
    logits are large, whose float32 rounding the shifted sums do not have.)"""
    if logits.dtype != np.float32 or logits.shape[1] >= _SHORT_ROW:
        return False
    # one reduction of |logits| (an array of them, then its maximum) instead of two: 3.4 ->
    # 2.1 us at (32, 10)
    return bool(_max_of(np.abs(logits), None) <= _WINDOW)     # NaN: False


def _unshifted_sums(logits, keep):
    """``(exp(logits) or None, its row sums (n, 1))`` unshifted, or None where the logits are
    shifted by their rows' maxima: without ``keep`` (no gradient), float32 logits past one
    block take ``loss_blocks.exponential_sums`` (no exponentials returned; float64's loss would
    lose the digits of large logits in ``log(sum) - x_label``), others ``_unshifted_rows``."""
    if not keep and logits.dtype == np.float32 and not fits_one_block(logits):
        s = exponential_sums(logits)
        return None if s is None else (None, s)
    if _unshifted_rows(logits):
        e = np.exp(logits)
        return e, _row_sums(e)
    return None


def _sce_losses(logits, labels, keep=True):
    """``(per-row losses, exponentials of the logits (None where not ``keep`` and the sums
    were summed by ``loss_blocks.exponential_sums``), their row sums (n, 1), the labelled
    logits' positions (class indices, ``_label_positions``) or the targets' row sums (n, 1)
    (probabilities))``, or None where the generic rule runs (an empty array among them); the
    losses are float64 where the exponentials were unshifted (``_unshifted_sums``). Class
    indices take the exponentials unshifted where ``_exponentials`` allows (one pass fewer):
    the loss ``log(sum(exp(x - m))) - (x_label - m)`` then takes ``sum(exp(x - m))`` as
    ``sum(exp(x)) * exp(-m)`` (one product a row), so its rounding stays the shifted one's.
    Short rows of logits in [-64, 64] take the exponentials unshifted, decided by the range of
    all (``_unshifted_rows``)."""
    if logits.dtype not in FLOATS or logits.ndim != 2 or not logits.size:
        return None
    n = logits.shape[0]
    if labels.dtype.kind in "iu":
        at = _label_positions(logits, labels)
        unshifted = _unshifted_sums(logits, keep)
        if unshifted is not None:
            e, s = unshifted
            per = np.log(s[:, 0], dtype=np.float64)
            per -= logits.reshape(-1)[at] if at.ndim == 1 else logits[at[0], at[1]]
            return per, e, s, at
        e, maxima, shifted = _exponentials(logits)
        maxima = maxima[:, 0]
        s = _row_sums(e)
        labelled = logits.reshape(-1)[at] if at.ndim == 1 else logits[at[0], at[1]]
        if shifted:
            with np.errstate(invalid="ignore"):      # inf - inf: NaN, as the shifted array's
                picked = labelled - maxima
            shifted_sums = s[:, 0]
        else:       # every maximum in [0, _UNSHIFTED_MAX]: no inf - inf (errstate: ~1 us)
            picked = labelled - maxima
            shifted_sums = s[:, 0] * np.exp(-maxima)
        per = np.log(shifted_sums)
        per -= picked
        return per, e, s, at
    if labels.dtype not in FLOATS:
        return None
    e = logits - logits.max(axis=1, keepdims=True)          # shifted logits
    t_sum = labels.sum(axis=1, keepdims=True)
    t_dot = _row_dots(labels, e)
    if not np.isfinite(t_dot).all():          # 0 * -inf (a masked class) counts as 0
        with np.errstate(invalid="ignore"):
            t_dot = np.where(labels == 0, 0.0, labels * e).sum(axis=1)
    np.exp(e, out=e)
    s = _row_sums(e)
    per = np.log(s.reshape(n))
    per *= t_sum.reshape(n)
    per -= t_dot
    return per, e, s, t_sum


def _sce_forward(logits, labels, reduction):
    parts = _sce_losses(logits, labels)
    if parts is None:
        return None
    per, e, s, at_or_t_sum = parts
    n = logits.shape[0]
    coef = _inv(n) if reduction == "mean" else 1.0
    if labels.dtype.kind in "iu":
        _labels_gradient(e, s, at_or_t_sum, labels, coef)
    else:
        t_sum = at_or_t_sum
        e *= (coef * t_sum) / s                             # softmax * sum(t), scaled
        if coef == 1.0:
            e -= labels
        else:
            e -= coef * labels
    return _reduced(per, reduction, n, logits.dtype), e


def _labels_gradient(e, s, at, labels, coef):
    """``e`` (the exponentials) becomes the logits' gradient for class indices, in place:
    ``coef * (e / s - onehot(labels))``, ``s`` the rows' sums (overwritten)."""
    np.divide(coef, s, out=s)
    e *= s                                                   # softmax, scaled for "mean"
    if at.ndim == 1 and e.flags.c_contiguous:
        e.reshape(-1)[at] -= coef
    else:
        e[_row_numbers(e.shape[0]), labels] -= coef


def sce_gradient_only(logits, labels, reduction):
    """The logits' gradient of ``_sce_forward`` (the same array, bit for bit) without its
    loss, or None where it must run whole: class indices and rows that take their
    exponentials unshifted (``_unshifted_rows``), where the loss's four passes are all that
    is left out. A compiled step that drops the loss replays this (jit/numpy_loss_gradient.py).

    >>> z, t = np.array([[0.0, 0.0]], np.float32), np.array([1])
    >>> sce_gradient_only(z, t, "mean").tolist()
    [[0.5, -0.5]]
    """
    if labels.dtype.kind not in "iu" or logits.dtype not in FLOATS or logits.ndim != 2 \
            or not logits.size or not _unshifted_rows(logits):
        return None
    at = _label_positions(logits, labels)
    e = np.exp(logits)
    _labels_gradient(e, _row_sums(e), at, labels,
                     _inv(logits.shape[0]) if reduction == "mean" else 1.0)
    return e


def _sce_loss(logits, labels, reduction):
    parts = _sce_losses(logits, labels, keep=False)
    return None if parts is None else _reduced(parts[0], reduction, logits.shape[0],
                                               logits.dtype)


def _sce_vjp(g, saved, logits, labels, reduction):
    dlogits = g[:, None] * saved if reduction == "none" else _times(g, saved)
    return dlogits, (None if labels.dtype.kind in "iu" else NotImplemented)


# -- sigmoid cross-entropy with logits ---------------------------------------------------------
def _bce_loss(x, t, reduction):
    """The loss (per entry or reduced), or None where the generic rule runs
    (``_bce_loss_unguarded`` without NumPy's warning at an infinite logit)."""
    with np.errstate(invalid="ignore"):
        return _bce_loss_unguarded(x, t, reduction)


def _bce_loss_unguarded(x, t, reduction):
    """``_bce_loss`` whose caller silences NumPy's invalid warning (inf * 0 at an infinite
    logit with nothing to lose: redone by the generic rule): ``|x|`` times the losing side's
    weight (``formulas.sigmoid_ce``) as ``x * ((x > 0) - t)``, the same product without a
    select (``np.where`` on a random mask took 16 of this kernel's 22 ms on 4096x1000
    float32), plus ``log1p(exp(-|x|))``."""
    if not _float(x, t) or x.shape != t.shape or not x.ndim:
        return None     # 0-d: NumPy's arithmetic gives scalars, which the in-place steps need
    if _by_blocks(x, t, reduction):
        total = blocked_total(_bce_total, (x, t), 2)
        if not isnan(total):                       # NaN: redone below
            return _total(total, reduction, x.size, x.dtype)
    # astype, then subtract: 0.35 us less at 128x10 than subtracting t from the booleans
    per = (x > 0).astype(np.result_type(x, t))
    per -= t
    per *= x
    a = np.abs(x)
    np.negative(a, out=a)
    np.exp(a, out=a)                                         # exp(-|x|)
    per += np.log1p(a, out=a)
    total = per.sum()
    if isnan(total):           # NaN somewhere, or an infinite logit with nothing to lose
        per = formulas.sigmoid_ce(np, x, t)
        total = per.sum()
    return per if reduction == "none" else _total(total, reduction, x.size, per.dtype)


def _bce_total(x, t, per, a):
    """The sum of ``_bce_loss``'s losses of one block, in scratch ``per`` and ``a`` (the
    caller silences the invalid warning, as ``_bce_loss_unguarded``'s)."""
    np.subtract(x > 0, t, out=per)
    per *= x
    np.abs(x, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    per += np.log1p(a, out=a)
    return per.sum()


def _bce_forward(x, t, reduction):
    # one errstate for the loss's inf * 0 and the sigmoid's overflow (each ~0.8 us)
    with np.errstate(invalid="ignore", over="ignore"):
        out = _bce_loss_unguarded(x, t, reduction)
        if out is None:
            return None
        grad = _sigmoid_into(x, np.empty_like(x))
    grad -= t
    if reduction == "mean":
        grad *= _inv(x.size)
    return out, grad


# -- squared errors ----------------------------------------------------------------------------
#: float32 arrays from this size on take ``_sum_of_squares``' chunked dots (below it the squares'
#: pairwise sum, a temporary in cache, is faster: 1280 entries 1.4 against 3.0 us, 65536 12.5
#: against 8.4)
_SQUARES_CHUNKED = 16384


def _sum_of_squares(flat):
    """``sum(flat**2)`` as accurately as the generic rule: one BLAS dot in float64; in float32
    the dots of chunks of ``_DOT_CHUNK`` entries added pairwise (``_row_dots``: 1e-7 relative at
    any length, as the generic rule's pairwise sum of the squares, in one pass and no temporary
    where that took two; a float32 dot of 1e6 entries is off by about 3e-6 relative), small
    arrays that pairwise sum.

    >>> round(float(_sum_of_squares(np.full(100_000, 0.1, np.float32))), 2)
    1000.0
    """
    if flat.dtype == np.float32:
        if flat.size < _SQUARES_CHUNKED:
            return np.square(flat).sum()
        row = flat.reshape(1, -1)
        return _row_dots(row, row)[0]
    return np.dot(flat, flat)


def _squared_loss(d, reduction):
    """The loss of residuals ``d``."""
    if reduction == "none":
        return d * d
    return _total(_sum_of_squares(d.reshape(-1)), reduction, d.size, d.dtype)


def _squared(d, reduction):
    """The loss of residuals ``d``; scales ``d`` in place into d(loss)/d(residual)."""
    out = _squared_loss(d, reduction)
    d *= 2.0 * _inv(d.size) if reduction == "mean" else 2.0
    return out


def _mse_residuals(p, t):
    if not _float(p, t) or p.shape != t.shape or not p.ndim:
        return None                                          # 0-d: the generic rule
    return p - t


def _mse_forward(p, t, reduction):
    d = _mse_residuals(p, t)
    return None if d is None else (_squared(d, reduction), d)


def _smse_residuals(x, t):
    """``(sigmoid(x) - t, sigmoid(x))``, or None where the generic rule runs."""
    if not _float(x, t) or x.shape != t.shape or not x.ndim:
        return None                                          # 0-d: the generic rule
    s = _sigmoid(x)
    return s - t, s


def _smse_forward(x, t, reduction):
    if _by_blocks(x, t, reduction):             # by blocks (_smse_total), in cache
        d = np.empty(x.shape, x.dtype)
        total = blocked_total(_smse_total, (x, t, d), 1,
                              factor=2.0 * _inv(d.size) if reduction == "mean" else 2.0)
        return _total(total, reduction, x.size, x.dtype), d
    residuals = _smse_residuals(x, t)
    if residuals is None:
        return None
    d, s = residuals
    out = _squared_loss(d, reduction)
    d *= s                                                   # 2 (s - t) s (1 - s)
    np.subtract(_ONE[s.dtype], s, out=s)
    d *= s
    d *= 2.0 * _inv(d.size) if reduction == "mean" else 2.0
    return out, d


def _mse_loss(p, t, reduction):
    d = _mse_residuals(p, t)
    return None if d is None else _squared_loss(d, reduction)


def _smse_loss(x, t, reduction):
    if not _float(x, t) or x.shape != t.shape or not x.ndim:
        return None                                          # 0-d: the generic rule
    if _by_blocks(x, t, reduction):
        return _total(blocked_total(_smse_total, (x, t), 1), reduction, x.size, x.dtype)
    d = _sigmoid(x)
    d -= t                                                   # no gradient: s not kept
    return _squared_loss(d, reduction)


def _smse_total(x, t, d, s=None, factor=None):
    """The sum of ``_smse_loss``'s losses of one block, their residuals written into ``d``;
    given scratch ``s`` and ``factor``, ``d`` then becomes ``_smse_forward``'s gradient."""
    with np.errstate(over="ignore"):
        _sigmoid_into(x, d if s is None else s)
    if s is None:
        d -= t
        return _sum_of_squares(d.reshape(-1))
    np.subtract(s, t, out=d)
    total = _sum_of_squares(d.reshape(-1))
    d *= s                                                   # as _smse_forward
    np.subtract(1.0, s, out=s)
    d *= s
    d *= factor
    return total
