"""``xg.linalg``: inverses and determinants -- inv, solve, det, slogdet, cholesky,
matrix_power (pinv and matrix_rank, from the singular values, are ``linalg_rank.py``'s) -- each
a primitive whose rule is written against ``xp`` (so second order runs through ``xg.linalg``
itself).

A singular matrix behaves as on the backend (NumPy raises ``numpy.linalg.LinAlgError``); the
error's message then names the xpgrad function.

>>> import xpgrad as xg
>>> a = xg.asarray([[2.0, 0.0], [0.0, 4.0]], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(a)
...     d = xg.linalg.det(a)
>>> round(d.item(), 6), tape.gradient(d, a).numpy().round(6).tolist()
(8.0, [[4.0, 0.0], [0.0, 2.0]])
"""
from __future__ import annotations

import math
import operator
from collections import namedtuple

from .._args import flag
from ..jit.whole import run_quietly
from ..primitive import Primitive, apply
from ..tensor import Tensor
from ._define import as_tensor
from .linalg import matmul
from .linalg_helpers import (broadcast_batch, call, check_floating, check_matrix, conj,
                             is_complex, mH, mask_diagonal, readable, real, tri)

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def _square_float(name, x, what="x"):
    x = as_tensor(x, name, what)
    check_matrix(name, x, square=True, what=what)
    check_floating(name, x, what)
    return x


def _inv(xp, name, a):
    return call(name, xp.linalg.inv, a)


def _lift(xp, v):
    """``v`` (...) as (..., 1, 1), to scale a stack of matrices."""
    return xp.expand_dims(xp.expand_dims(v, axis=-1), axis=-1)


# -- inv, solve -----------------------------------------------------------------------------------
def _inv_vjp(xp, g, ans, x):
    ah = mH(xp, ans)
    return -xp.matmul(ah, xp.matmul(g, ah))


_inv_prim = Primitive("linalg_inv", lambda xp, x: _inv(xp, "inv", x), _inv_vjp)


def inv(x, /):
    """The inverse of each square matrix; gradient ``-inv(x)^H @ g @ inv(x)^H``.

    >>> import xpgrad as xg
    >>> xg.linalg.inv(xg.asarray([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    return apply(_inv_prim, _square_float("inv", x))


def _solve_forward(xp, a, b):
    return call("solve", xp.linalg.solve, a, b)


def _solve_vjp(xp, g, ans, needs, a, b):
    ah = mH(xp, a)
    if b.ndim == 1:                      # a vector right-hand side: (..., M)
        gb = call("solve", xp.linalg.solve, ah, xp.expand_dims(g, axis=-1))[..., 0]
        ga = -xp.expand_dims(gb, axis=-1) * xp.expand_dims(conj(xp, ans), axis=-2)
    else:
        gb = call("solve", xp.linalg.solve, ah, g)
        ga = -xp.matmul(gb, mH(xp, ans))
    return ga if needs[0] else None, gb


_solve = Primitive("linalg_solve", _solve_forward, joint=_solve_vjp)


def solve(x1, x2, /):
    """The solution ``X`` of ``x1 @ X = x2``: ``x2`` of shape ``(M,)`` is one vector (the
    result is ``(..., M)``), else ``(..., M, K)`` with batch dimensions broadcast.

    >>> import xpgrad as xg
    >>> xg.linalg.solve(xg.asarray([[2.0, 0.0], [0.0, 4.0]]), xg.asarray([1.0, 1.0])).tolist()
    [0.5, 0.25]
    """
    a = _square_float("solve", x1, "x1")
    b = as_tensor(x2, "solve", "x2")
    check_floating("solve", b, "x2")
    m = a.shape[-1]
    if b.ndim == 0:
        raise ValueError("linalg.solve: x2 must have at least one dimension")
    if b.ndim == 1:
        if b.shape[0] != m:
            raise ValueError(f"linalg.solve: x2 of shape {b.shape} does not match x1 of shape "
                             f"{a.shape} (needs {m} entries)")
    else:
        if b.shape[-2] != m:
            hint = ("; x2 is a stack of matrices unless it is 1-D (the array API's rule): for "
                    "a stack of vectors pass x2[..., None] and take [..., 0] of the result"
                    ) if b.shape == a.shape[:-1] else ""
            raise ValueError(f"linalg.solve: x2 of shape {b.shape} does not match x1 of shape "
                             f"{a.shape}: x2.shape[-2] must be {m}{hint}")
        broadcast_batch("linalg.solve", a.shape[:-2], b.shape[:-2], a.shape, b.shape)
    return apply(_solve, a, b)


# -- det, slogdet ---------------------------------------------------------------------------------
def _adjugate_h(xp, a):
    """``adj(a)^H`` (the det's gradient direction) from the SVD, also for singular ``a``:
    ``adj(U S Vh) = det(U) det(Vh) V adj(S) U^H``."""
    u, s, vh = xp.linalg.svd(a)
    n = s.shape[-1]
    off, eye = mask_diagonal(xp, s, n)
    others = xp.prod(xp.expand_dims(s, axis=-2) * off + eye, axis=-1)   # prod_{j != i} s_j
    phase = xp.linalg.det(u) * xp.linalg.det(vh)
    scaled = u * xp.expand_dims(others, axis=-2)
    return _lift(xp, conj(xp, phase)) * xp.matmul(scaled, vh)


# the largest n whose n^2 minors (n^4 entries) a higher-order pass builds for a singular matrix
_MINORS_UP_TO = 64


def _cofactors(xp, x):
    """The cofactor matrix ``C_ij = (-1)^(i+j) det(x without row i and column j)`` of each
    matrix, from one batched det of its n^2 minors: a polynomial of ``x``, so its derivatives
    are exact at any rank (the det rule runs again on the minors)."""
    n, b = x.shape[-1], x.ndim - 2
    keep = xp.asarray([k for i in range(n) for k in range(n) if k != i], dtype=xp.int64,
                      device=x.device)                          # row (column) i left out
    rows = xp.reshape(xp.take(x, keep, axis=-2), x.shape[:-2] + (n, n - 1, n))
    both = xp.reshape(xp.take(rows, keep, axis=-1), x.shape[:-2] + (n, n - 1, n, n - 1))
    minors = xp.permute_dims(both, tuple(range(b)) + (b, b + 2, b + 1, b + 3))
    signs = xp.asarray([[(-1.0) ** (i + j) for j in range(n)] for i in range(n)],
                       dtype=x.dtype, device=x.device)
    return signs * xp.linalg.det(minors)


def _adjugate_h_of_singular(xp, x):
    """``adj(x)^H`` where some matrix of the stack is singular (or, while ``xg.function``
    traces, for any matrix). A first-order pass (raw arrays) takes it from the SVD; a
    higher-order one (Tensors, under an outer tape) from the minors, since the SVD's
    derivative misses terms where singular values repeat (rank n - 2 or less: the Hessian of
    det at a zero 2x2 matrix came out as only its diagonal part)."""
    if isinstance(x, Tensor) and x.shape[-1] <= _MINORS_UP_TO:
        return conj(xp, _cofactors(xp, x))
    return _adjugate_h(xp, x)


def _regular(xp, ans) -> bool:
    """Whether no determinant in ``ans`` is 0 (the inverse exists). While ``xg.function``
    traces a first-order pass at regular matrices, a guard: a replay where one is 0 (or NaN)
    runs that call eagerly. A traced higher-order pass cannot ask: False (the SVD's way, valid
    for any matrix, as is a trace at a singular one, which needs no guard)."""
    if readable(ans):
        return not bool(xp.any(ans == 0))
    from ..jit.traced import Traced

    if type(ans) is not Traced:
        return False
    if 0 in ans.shape:
        return True             # an empty batch: no determinant (value_range needs one)
    if bool((ans._real == 0).any()):
        return False            # traced at a singular matrix: the SVD's way, no guard needed
    ans._tracer.be.value_range(xp.abs(ans), (math.ulp(0.0), math.inf))    # records the guard
    return True


def _det_vjp(xp, g, ans, x):
    if x.shape[-1] == 0:
        return xp.zeros_like(x)
    if not _regular(xp, ans):
        return _lift(xp, g) * _adjugate_h_of_singular(xp, x)
    return _lift(xp, g * conj(xp, ans)) * mH(xp, _inv(xp, "det", x))


_det = Primitive("linalg_det", lambda xp, x: xp.linalg.det(x), _det_vjp)


def det(x, /):
    """The determinant of each square matrix; its gradient ``g * adj(x)^H`` is taken through
    the inverse, or through the SVD where the matrix is singular (inside ``xg.function``, a
    program traced at regular matrices checks |det| on replay and runs a call meeting a
    singular one eagerly).

    >>> import xpgrad as xg
    >>> round(xg.linalg.det(xg.asarray([[1.0, 2.0], [3.0, 4.0]])).item(), 4)
    -2.0
    """
    return apply(_det, _square_float("det", x))


def _slogdet_forward(xp, x):
    sign, logabs = xp.linalg.slogdet(x)
    if is_complex(x):
        logabs = xp.astype(logabs, x.dtype)
    return xp.stack([sign, logabs], axis=-1)


def _slogdet_vjp(xp, g, ans, x):
    g_log = g[..., 1]
    if is_complex(x):
        g_sign = g[..., 0]
        sign = ans[..., 0]
        # only the phase of the determinant moves the sign: Im(conj(g_sign) * sign)
        g_log = real(xp, g_log) - 1j * real(xp, -1j * conj(xp, g_sign) * sign)
    if x.shape[-1] == 0:
        return xp.zeros_like(x)
    if not _regular(xp, ans[..., 0]):
        return run_quietly(xp, _slogdet_limit, g_log, x, divide="ignore", invalid="ignore")
    return _lift(xp, g_log) * mH(xp, _inv(xp, "slogdet", x))


def _slogdet_limit(xp, g_log, x):
    """log|det| -> -inf at a singular matrix; its gradient's limit adj(x)^H / conj(det):
    +-inf where a cofactor is not 0, NaN where all are (PyTorch's and JAX's there)."""
    return _lift(xp, g_log / conj(xp, xp.linalg.det(x))) * _adjugate_h_of_singular(xp, x)


_slogdet = Primitive("linalg_slogdet", _slogdet_forward, _slogdet_vjp)


def slogdet(x, /):
    """``(sign, logabsdet)`` of the determinant of each square matrix, a namedtuple.

    The result is one primitive whose output packs both along a last axis of 2 (complex for a
    complex ``x``); the two fields are views of it, so one rule sees both gradients. For a real
    ``x`` only ``logabsdet`` has a gradient (``inv(x)^T``); for a complex one the sign's phase
    has one too (PyTorch's formula). At a singular matrix (sign 0, logabsdet ``-inf``, as
    NumPy's and PyTorch's) the gradient is the limit ``adj(x)^T / det(x)``: +-inf where a
    cofactor is not 0, not a finite number anywhere below rank n - 1.

    >>> import xpgrad as xg
    >>> s, l = xg.linalg.slogdet(xg.asarray([[-2.0, 0.0], [0.0, 4.0]]))
    >>> s.item(), round(l.item(), 4)
    (-1.0, 2.0794)
    """
    x = _square_float("slogdet", x)
    packed = apply(_slogdet, x)
    logabs = packed[..., 1]
    return SlogdetResult(packed[..., 0], real(None, logabs) if x.dtype.is_complex else logabs)


# -- cholesky -------------------------------------------------------------------------------------
def _cholesky_forward(xp, x, upper):
    low = call("cholesky", xp.linalg.cholesky, x)
    return mH(xp, low) if upper else low


def _cholesky_vjp(xp, g, ans, x, upper):
    low, gl = (mH(xp, ans), mH(xp, g)) if upper else (ans, g)
    phi = tri(xp, xp.matmul(mH(xp, low), gl))
    phi = 0.5 * (phi + mH(xp, tri(xp, phi, -1)))        # Hermitian, half diagonal (PyTorch)
    inv_low = _inv(xp, "cholesky", low)
    return xp.matmul(mH(xp, inv_low), xp.matmul(phi, inv_low))


_cholesky = Primitive("linalg_cholesky", _cholesky_forward, _cholesky_vjp)


def cholesky(x, /, *, upper=False):
    """The Cholesky factor ``L`` (``x = L L^H``; with ``upper``, ``U`` with ``x = U^H U``) of
    each Hermitian positive-definite matrix. Only the lower triangle of ``x`` is read; the
    gradient is the Hermitian one (as PyTorch's), so differentiate through a symmetric input.

    >>> import xpgrad as xg
    >>> xg.linalg.cholesky(xg.asarray([[4.0, 2.0], [2.0, 5.0]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    """
    x = _square_float("cholesky", x)
    return apply(_cholesky, x, upper=flag(upper, "upper", "linalg.cholesky"))


# -- matrix_power ---------------------------------------------------------------------------------
def matrix_power(x, n, /):
    """``x`` (square) multiplied by itself ``n`` times: the identity for 0, powers of
    ``inv(x)`` for ``n < 0``. Built from matmul and inv by repeated squaring, so gradients
    (and higher orders) come from theirs; ``n = 0`` gives a constant (no gradient, as for
    any output that does not depend on ``x``).

    >>> import xpgrad as xg
    >>> xg.linalg.matrix_power(xg.asarray([[1.0, 1.0], [0.0, 1.0]]), 3).tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    """
    from ..creation import eye
    from .shape import broadcast_to

    x = as_tensor(x, "matrix_power")
    check_matrix("matrix_power", x, square=True)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"linalg.matrix_power: n must be an int, got {n!r}") from None
    if isinstance(n, bool) or x.dtype.kind not in "iufc":
        raise TypeError(f"linalg.matrix_power: x must be numeric and n an int, got "
                        f"{x.dtype} and {n!r}")
    if n == 0:
        return broadcast_to(eye(x.shape[-1], dtype=x.dtype, device=x.device), x.shape)
    if n < 0:
        check_floating("matrix_power", x)
        x, n = inv(x), -n
    result = None
    while True:
        if n & 1:
            result = x if result is None else matmul(result, x)
        n >>= 1
        if not n:
            return result
        x = matmul(x, x)


# after the primitives above, so that PRIMITIVES keeps its order (pinv, matrix_rank last)
from .linalg_rank import matrix_rank, pinv  # noqa: E402,F401

__all__: list = []
