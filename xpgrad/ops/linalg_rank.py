"""``xg.linalg.pinv`` and ``xg.linalg.matrix_rank``: the pseudo-inverse and the rank, both
from the singular values with a relative tolerance ``rtol`` (None, a float, or an array
broadcast against the batch); imported by ``linalg_solve.py`` after its primitives.

>>> import xpgrad as xg
>>> a = xg.asarray([[1.0, 2.0], [2.0, 4.0]])
>>> xg.linalg.matrix_rank(a).item(), xg.linalg.matrix_rank(a, rtol=1.0).item()
(1, 0)
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from ._define import as_tensor
from .linalg_helpers import broadcast_batch, check_floating, check_matrix, mH


# -- pinv -----------------------------------------------------------------------------------------
def _pinv_forward(xp, x, rtol=None):
    return xp.linalg.pinv(x, rtol=rtol)


def _pinv_vjp(xp, g, ans, x, rtol=None):
    """PyTorch's pinv_backward: exact where the rank does not change."""
    m, n = x.shape[-2], x.shape[-1]
    ph, gh = mH(xp, ans), mH(xp, g)
    if m <= n:
        k = xp.matmul(gh, ans)
        kph = xp.matmul(k, ph)
        return (-mH(xp, xp.matmul(ans, k)) + kph - xp.matmul(xp.matmul(x, ans), kph)
                + xp.matmul(xp.matmul(ph, ans), gh - xp.matmul(k, x)))
    k = xp.matmul(ans, gh)
    phk = xp.matmul(ph, k)
    return (-mH(xp, xp.matmul(k, ans))
            + xp.matmul(xp.matmul(gh - xp.matmul(x, k), ans), ph)
            + phk - xp.matmul(xp.matmul(phk, ans), x))


_pinv = Primitive("linalg_pinv", _pinv_forward, _pinv_vjp, None)


def _rtol_args(name, x, rtol):
    """``(positional, params)`` for an ``rtol`` that is None, a float or an array."""
    if rtol is None or isinstance(rtol, (int, float)) and not isinstance(rtol, bool):
        if rtol is not None and not rtol >= 0:          # NaN too
            raise ValueError(f"linalg.{name}: rtol must be >= 0 (a relative tolerance), "
                             f"got {rtol!r}")
        return (), {"rtol": rtol}
    r = as_tensor(rtol)
    if r.dtype.kind not in "fi":
        raise TypeError(f"linalg.{name}: rtol must be a float or a real array, got {r.dtype}")
    broadcast_batch(f"linalg.{name}", x.shape[:-2], r.shape, x.shape, r.shape)
    return (r,), {}


def pinv(x, /, *, rtol=None):
    """The Moore-Penrose pseudo-inverse (singular values at most ``rtol`` times the largest
    count as zero; default ``max(M, N) * eps``). Its gradient is PyTorch's formula, exact
    where the rank is constant.

    >>> import xpgrad as xg
    >>> xg.linalg.pinv(xg.asarray([[2.0, 0.0], [0.0, 0.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    """
    x = as_tensor(x, "pinv")
    check_matrix("pinv", x)
    check_floating("pinv", x)
    pos, params = _rtol_args("pinv", x, rtol)
    return apply(_pinv, x, *pos, **params)


# -- matrix_rank ----------------------------------------------------------------------------------
def _rank_forward(xp, x, rtol=None):
    s = xp.linalg.svdvals(x)
    m, n = x.shape[-2], x.shape[-1]
    if rtol is None:
        rtol = max(m, n) * xp.finfo(s.dtype).eps
    elif not isinstance(rtol, (int, float)):
        rtol = xp.expand_dims(xp.astype(rtol, s.dtype), axis=-1)
    if s.shape[-1] == 0:
        return xp.zeros(s.shape[:-1], dtype=xp.int64, device=s.device)
    tol = xp.max(s, axis=-1, keepdims=True) * rtol
    return xp.astype(xp.sum(xp.astype(s > tol, xp.int64), axis=-1), xp.int64)


_rank = Primitive("linalg_matrix_rank", _rank_forward)


def matrix_rank(x, /, *, rtol=None):
    """The number of singular values above ``rtol`` times the largest (default
    ``max(M, N) * eps``), as the default integer dtype (no gradient).

    >>> import xpgrad as xg
    >>> xg.linalg.matrix_rank(xg.asarray([[1.0, 2.0], [2.0, 4.0]])).item()
    1
    """
    x = as_tensor(x, "matrix_rank")
    check_matrix("matrix_rank", x)
    check_floating("matrix_rank", x)
    pos, params = _rtol_args("matrix_rank", x, rtol)
    return apply(_rank, x, *pos, **params)
