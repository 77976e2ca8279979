"""``xg.linalg``: the decompositions with several outputs -- eigh, svd, qr -- and eigvalsh,
svdvals.

A primitive has one output, so each decomposition is ONE primitive whose output packs its
results, each flattened over its matrix axes, along a last axis (``(..., n + n*n)`` for eigh);
the public function returns a namedtuple of reshaped slices of it. One joint rule therefore
sees every result's gradient at once (zeros for results the loss does not use), and the tape
needs nothing new. For a complex input the real results (eigenvalues, singular values) are
packed as complex and returned through ``real``.

The rules are PyTorch's (and JAX's): for eigh ``V ((V^H gV - gV^H V)/2 / E + diag(gw)) V^H``
with ``E_ij = w_j - w_i``; for svd the full formula with the terms for non-square matrices;
for qr Walter & Lehmann's ``[gQ + Q copyltu(M)] R^{-H}`` (m >= n) and its extension to wide
matrices. Eigen- and singular vectors are defined up to phase (sign), so only functions of
them that do not depend on that choice have meaningful gradients (for complex inputs a loss
that depends on the phases raises ValueError, PyTorch's check); repeated eigen/singular
values make the vector gradients infinite (as in PyTorch). With ``full_matrices=True`` the
extra columns of ``U`` / rows of ``Vh`` are not unique, and their gradient is ignored, even
where a function of them (their projector) is unique: PyTorch's documented and actual rule
(torch.linalg.svd's note; checked against torch 2.13). ``qr(mode="complete")`` of a tall
matrix raises when its extra columns of ``Q`` get a gradient (PyTorch raises for any gradient
through it, even one reaching only ``R`` or ``Q[:, :n]``; those we differentiate). A zero
cotangent of the vectors skips their terms, except where a tape differentiates it: forward
mode (``xg.jvp``) differentiates these rules at a zero cotangent (``_vector_cotangent``).

>>> import xpgrad as xg
>>> a = xg.asarray([[2.0, 1.0], [1.0, 2.0]], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(a)
...     w, v = xg.linalg.eigh(a)
...     top = w[1]
>>> round(top.item(), 6), tape.gradient(top, a).numpy().round(3).tolist()
(3.0, [[0.5, 0.5], [0.5, 0.5]])
"""
from __future__ import annotations

import math
from collections import namedtuple

from .._args import flag
from ..primitive import Primitive, apply
from ..tensor import Tensor
from ._define import as_tensor
from .linalg_helpers import (call, check_floating, check_matrix, diag_embed, is_complex, mH,
                             mask_diagonal, readable, real, require_phase_free, tri)

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])


# -- packing several results into one array, and back -----------------------------------------
def _pack(xp, batch, parts, dtype_of):
    flat = []
    for p in parts:
        if is_complex(dtype_of) and not is_complex(p):
            p = xp.astype(p, dtype_of.dtype)
        flat.append(xp.reshape(p, tuple(batch) + (math.prod(p.shape[len(batch):]),)))
    return xp.concat(flat, axis=-1)


def _unpack(xp, packed, batch, cores):
    out, start = [], 0
    for core in cores:
        size = math.prod(core)
        out.append(xp.reshape(packed[..., start:start + size], tuple(batch) + tuple(core)))
        start += size
    return out


def _results(packed, batch, cores, real_parts):
    from .. import ops

    parts = _unpack(ops, packed, batch, cores)
    if packed.dtype.is_complex:
        parts = [real(None, p) if r else p for p, r in zip(parts, real_parts)]
    return parts


def _nonzero(xp, g):
    return bool(xp.any(g != 0))


def _vector_cotangent(xp, g):
    """``(g, zero)`` for the cotangent of eigen- or singular vectors: ``g`` None when it is
    zero and nothing differentiates it (its terms are skipped: they are 0, and inf or NaN at
    repeated or zero values); a zero ``g`` that a tape differentiates (forward mode, ``jvp``,
    differentiates a vjp at a zero cotangent) is kept, ``zero`` telling the rule so. While
    ``xg.function`` traces, ``g`` is kept and ``zero`` is a mask: which matrices' ``g`` is 0."""
    from ..inplace import on_tape

    if not readable(g):
        return g, xp.all(g == 0, axis=(-2, -1), keepdims=True)
    if _nonzero(xp, g):
        return g, False
    return (g, True) if isinstance(g, Tensor) and on_tape(g) else (None, True)


def _both(xp, a, b):
    """``a and b`` for flags that are bools or masks (``_vector_cotangent``)."""
    if isinstance(a, bool):
        return b if a else False
    if isinstance(b, bool):
        return a if b else False
    return xp.logical_and(a, b)


def _nowhere_zero(xp, a, zero=True):
    """``a`` with its zeros made ``inf`` where ``zero`` (True, or a mask that broadcasts):
    dividing a zero cotangent's terms by it gives 0 (and a derivative of 0), not 0/0, at
    repeated or zero values."""
    if zero is False:
        return a
    safe = xp.where(a == 0, math.inf, a)
    return safe if zero is True else xp.where(zero, safe, a)


def _square_float(name, x):
    x = as_tensor(x, name)
    check_matrix(name, x, square=True)
    check_floating(name, x)
    return x


# -- eigh, eigvalsh -------------------------------------------------------------------------------
def _eigh_forward(xp, x):
    w, v = call("eigh", xp.linalg.eigh, x)
    return _pack(xp, x.shape[:-2], (w, v), x)


def _eigh_grad(xp, w, v, gw, gv, zero=False):
    n = w.shape[-1]
    inner = diag_embed(xp, gw)
    if gv is not None:
        off, eye = mask_diagonal(xp, w, n)
        j = xp.matmul(mH(xp, v), gv)
        if is_complex(v):
            require_phase_free(xp, "eigh", xp.imag(xp.linalg.diagonal(j)), j)
        gaps = xp.expand_dims(w, axis=-2) - xp.expand_dims(w, axis=-1) + eye    # w_j - w_i
        gaps = _nowhere_zero(xp, gaps, zero)
        inner = inner + 0.5 * (j - mH(xp, j)) / gaps * off
    return xp.matmul(v, xp.matmul(inner, mH(xp, v)))


def _eigh_vjp(xp, g, ans, x):
    n = x.shape[-1]
    batch = x.shape[:-2]
    w, v = _unpack(xp, ans, batch, ((n,), (n, n)))
    gw, gv = _unpack(xp, g, batch, ((n,), (n, n)))
    if is_complex(x):
        w = real(xp, w)
    return _eigh_grad(xp, w, v, gw, *_vector_cotangent(xp, gv))


_eigh = Primitive("linalg_eigh", _eigh_forward, _eigh_vjp)


def eigh(x, /):
    """Eigenvalues (ascending) and eigenvectors (columns) of each Hermitian matrix, a
    namedtuple ``(eigenvalues, eigenvectors)``; only the lower triangle of ``x`` is read, and
    the gradient is the Hermitian one (module docstring).

    >>> import xpgrad as xg
    >>> xg.linalg.eigh(xg.asarray([[2.0, 0.0], [0.0, 1.0]])).eigenvalues.tolist()
    [1.0, 2.0]
    """
    x = _square_float("eigh", x)
    n = x.shape[-1]
    w, v = _results(apply(_eigh, x), x.shape[:-2], ((n,), (n, n)), (True, False))
    return EighResult(w, v)


def _eigvalsh_vjp(xp, g, ans, x):
    w, v = call("eigvalsh", xp.linalg.eigh, x)
    return xp.matmul(v * xp.expand_dims(g, axis=-2), mH(xp, v))


_eigvalsh = Primitive("linalg_eigvalsh", lambda xp, x: call("eigvalsh", xp.linalg.eigvalsh, x),
                      _eigvalsh_vjp)


def eigvalsh(x, /):
    """The eigenvalues (ascending) of each Hermitian matrix; the rule recomputes the
    eigenvectors (``V diag(g) V^H``), so the forward stays as cheap as the backend's.

    >>> import xpgrad as xg
    >>> xg.linalg.eigvalsh(xg.asarray([[2.0, 1.0], [1.0, 2.0]])).tolist()
    [1.0, 3.0]
    """
    return apply(_eigvalsh, _square_float("eigvalsh", x))


# -- svd, svdvals ---------------------------------------------------------------------------------
def _svd_cores(shape, full_matrices):
    m, n = shape[-2], shape[-1]
    k = min(m, n)
    return (m, m if full_matrices else k), (k,), (n if full_matrices else k, n)


def _svd_forward(xp, x, full_matrices):
    u, s, vh = call("svd", xp.linalg.svd, x, full_matrices=full_matrices)
    return _pack(xp, x.shape[:-2], (u, s, vh), x)


def _svd_grad(xp, u, s, vh, gu, gs, gvh, zero=False):
    """``gA`` for the thin SVD ``A = U diag(s) Vh``; ``gu``/``gvh`` None when zero and not
    differentiated, ``zero`` when both are zero (``_vector_cotangent``)."""
    m, n, k = u.shape[-2], vh.shape[-1], s.shape[-1]
    inner = diag_embed(xp, gs)
    if gu is None and gvh is None:
        return xp.matmul(u * xp.expand_dims(gs, axis=-2), vh)
    off, eye = mask_diagonal(xp, s, k)
    s_row, s_col = xp.expand_dims(s, axis=-2), xp.expand_dims(s, axis=-1)
    s2 = s * s
    gaps = xp.expand_dims(s2, axis=-2) - xp.expand_dims(s2, axis=-1) + eye
    s_div = _nowhere_zero(xp, s, zero if isinstance(zero, bool) else zero[..., 0])
    f = off / _nowhere_zero(xp, gaps, zero)            # s_div: what the terms are divided by
    j = kk = None
    if gu is not None:
        j = xp.matmul(mH(xp, u), gu)
        skew_u = j - mH(xp, j)
        inner = inner + f * skew_u * s_row
        if is_complex(u):   # the phase the SVD leaves free: only gU's imaginary diagonal
            inner = inner + diag_embed(xp, xp.linalg.diagonal(skew_u) / (2 * s_div))
    if gvh is not None:
        kk = xp.matmul(vh, mH(xp, gvh))
        inner = inner + s_col * f * (kk - mH(xp, kk))
    if is_complex(u):
        _require_svd_phase_free(xp, j, kk)
    ga = xp.matmul(u, xp.matmul(inner, vh))
    if m > k and gu is not None:          # (I - U U^H) gU S^-1 Vh
        rest = gu - xp.matmul(u, xp.matmul(mH(xp, u), gu))
        ga = ga + xp.matmul(rest / xp.expand_dims(s_div, axis=-2), vh)
    if n > k and gvh is not None:         # U S^-1 gVh (I - V V^H)
        rest = gvh - xp.matmul(xp.matmul(gvh, mH(xp, vh)), vh)
        ga = ga + xp.matmul(u, rest / xp.expand_dims(s_div, axis=-1))
    return ga


def _require_svd_phase_free(xp, j, kk):
    """``Im diag(U^H gU) + Im diag(V^H gV)`` must vanish (``j``, ``kk``: those products)."""
    present = [m for m in (j, kk) if m is not None]
    total = sum(xp.imag(xp.linalg.diagonal(m)) for m in present)
    require_phase_free(xp, "svd", total, present[0] if len(present) == 1 else
                       xp.concat(present, axis=-1))


def _svd_vjp(xp, g, ans, x, full_matrices):
    batch = x.shape[:-2]
    cores = _svd_cores(x.shape, full_matrices)
    u, s, vh = _unpack(xp, ans, batch, cores)
    gu, gs, gvh = _unpack(xp, g, batch, cores)
    if is_complex(x):
        s, gs = real(xp, s), real(xp, gs)
    k = s.shape[-1]
    if full_matrices:
        u, gu, vh, gvh = u[..., :k], gu[..., :k], vh[..., :k, :], gvh[..., :k, :]
    (gu, zero_u), (gvh, zero_vh) = _vector_cotangent(xp, gu), _vector_cotangent(xp, gvh)
    return _svd_grad(xp, u, s, vh, gu, gs, gvh, _both(xp, zero_u, zero_vh))


_svd = Primitive("linalg_svd", _svd_forward, _svd_vjp)


def svd(x, /, *, full_matrices=True, compute_uv=True):
    """The singular value decomposition ``x = U diag(S) Vh`` of each matrix, a namedtuple
    ``(U, S, Vh)`` with ``S`` descending (module docstring for the gradient);
    ``compute_uv=False`` (NumPy's and JAX's) returns ``S`` alone, as ``svdvals``.

    >>> import xpgrad as xg
    >>> xg.linalg.svd(xg.asarray([[3.0, 0.0], [0.0, -4.0]])).S.tolist()
    [4.0, 3.0]
    >>> xg.linalg.svd(xg.asarray([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False).tolist()
    [4.0, 3.0]
    """
    x = as_tensor(x, "svd")
    check_matrix("svd", x)
    check_floating("svd", x)
    full_matrices = flag(full_matrices, "full_matrices", "linalg.svd")
    if not flag(compute_uv, "compute_uv", "linalg.svd"):
        return svdvals(x)
    packed = apply(_svd, x, full_matrices=full_matrices)
    u, s, vh = _results(packed, x.shape[:-2], _svd_cores(x.shape, full_matrices),
                        (False, True, False))
    return SVDResult(u, s, vh)


def _svdvals_vjp(xp, g, ans, x):
    u, s, vh = call("svdvals", xp.linalg.svd, x, full_matrices=False)
    return xp.matmul(u * xp.expand_dims(g, axis=-2), vh)


_svdvals = Primitive("linalg_svdvals", lambda xp, x: call("svdvals", xp.linalg.svdvals, x),
                     _svdvals_vjp)


def svdvals(x, /):
    """The singular values of each matrix, descending; the rule recomputes the singular
    vectors (``U diag(g) Vh``).

    >>> import xpgrad as xg
    >>> xg.linalg.svdvals(xg.asarray([[3.0, 0.0], [0.0, -4.0]])).tolist()
    [4.0, 3.0]
    """
    x = as_tensor(x, "svdvals")
    check_matrix("svdvals", x)
    check_floating("svdvals", x)
    return apply(_svdvals, x)


# -- qr -------------------------------------------------------------------------------------------
def _qr_cores(shape, mode):
    m, n = shape[-2], shape[-1]
    k = m if mode == "complete" else min(m, n)
    return (m, k), (k, n)


def _qr_forward(xp, x, mode):
    q, r = call("qr", xp.linalg.qr, x, mode=mode)
    return _pack(xp, x.shape[:-2], (q, r), x)


def _qr_tall(xp, q, r, gq, gr):
    """``gA = [gQ + Q herm(M)] R^{-H}``, ``M = gR R^H - Q^H gQ``, ``herm`` the Hermitian
    matrix with M's strict upper triangle and real diagonal (m >= n, R square)."""
    mm = xp.matmul(gr, mH(xp, r)) - xp.matmul(mH(xp, q), gq)
    off, eye = mask_diagonal(xp, mm, mm.shape[-1])
    t = tri(xp, mm, 1, upper=True) + 0.5 * (mm * eye)
    b = gq + xp.matmul(q, t + mH(xp, t))
    return mH(xp, call("qr", xp.linalg.solve, r, mH(xp, b)))


def _qr_vjp(xp, g, ans, x, mode):
    m, n = x.shape[-2], x.shape[-1]
    batch = x.shape[:-2]
    cores = _qr_cores(x.shape, mode)
    q, r = _unpack(xp, ans, batch, cores)
    gq, gr = _unpack(xp, g, batch, cores)
    if m > n and mode == "complete":
        extra = gq[..., n:]
        q, gq, r, gr = q[..., :n], gq[..., :n], r[..., :n, :], gr[..., :n, :]
        if not readable(extra):     # xg.function: a replay cannot raise; NaN says it instead
            used = xp.any(extra != 0, axis=(-2, -1), keepdims=True)
            ga = _qr_tall(xp, q, r, gq, gr)
            return xp.where(used, ga * math.nan, ga)
        if _nonzero(xp, extra):
            raise ValueError("linalg.qr: the last m - n columns of Q from mode='complete' are "
                             "not unique, so they have no gradient; use mode='reduced'")
    if m >= n:
        return _qr_tall(xp, q, r, gq, gr)
    gx, gy = gr[..., :m], gr[..., m:]             # A = Q [X | Y] with X square
    gq = gq + xp.matmul(x[..., m:], mH(xp, gy))
    return xp.concat([_qr_tall(xp, q, r[..., :m], gq, gx), xp.matmul(q, gy)], axis=-1)


_qr = Primitive("linalg_qr", _qr_forward, _qr_vjp)


def qr(x, /, *, mode="reduced"):
    """The QR decomposition of each matrix, a namedtuple ``(Q, R)``: ``mode="reduced"``
    gives ``Q`` ``(..., M, K)`` and ``R`` ``(..., K, N)`` with ``K = min(M, N)``,
    ``"complete"`` ``Q`` ``(..., M, M)`` and ``R`` ``(..., M, N)``. The gradient needs the
    first ``K`` columns of ``x`` independent (module docstring).

    >>> import xpgrad as xg
    >>> q, r = xg.linalg.qr(xg.asarray([[3.0], [4.0]]))
    >>> abs(r.item())
    5.0
    """
    x = as_tensor(x, "qr")
    check_matrix("qr", x)
    check_floating("qr", x)
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr: mode must be 'reduced' or 'complete', got {mode!r}")
    packed = apply(_qr, x, mode=mode)
    q, r = _results(packed, x.shape[:-2], _qr_cores(x.shape, mode), (False, False))
    return QRResult(q, r)


__all__: list = []
