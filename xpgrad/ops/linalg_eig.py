"""``xg.linalg.eig`` and ``xg.linalg.eigvals`` (array API 2025.12): eigenvalues and eigenvectors
of general (non-Hermitian) real or complex square matrices, differentiable.

The results are complex of the input's precision (float32 -> complex64, float64 ->
complex128) even for a real matrix whose eigenvalues happen to be real, as the standard asks
(NumPy would return a real array then). Eigenvectors are the columns of ``eigenvectors``,
each of unit 2-norm (LAPACK's ``geev``); their order and phase are the backend's.

As in ``linalg_decomp``, eig is ONE primitive whose output packs both results along a last
axis, so one joint rule sees both gradients. The rule is PyTorch's (``linalg_eig_backward``):

    gA = V^{-H} (diag(gL) + (V^H gV - V^H V diag(re(V^H gV))) / conj(E)) V^H,

with ``E_ij = L_j - L_i`` off the diagonal; for a real input its real part. An eigenvector is
defined only up to a complex phase (a sign for real ``x``, but ``geev`` may still return a
complex one), so only losses that do not depend on that choice have gradients, e.g.
functions of ``|v_i|`` or of ``v_i v_i^H / (v_i^H v_i)``; one that depends on it raises
ValueError (PyTorch's check, ``Im diag(V^H gV) != 0``); repeated eigenvalues make the
eigenvector gradient infinite. eigvals' rule, ``V^{-H} diag(g) V^H``, recomputes ``V``.

>>> import xpgrad as xg
>>> a = xg.asarray([[0.0, 1.0], [-2.0, -3.0]], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(a)
...     w = xg.linalg.eigvals(a)
...     top = xg.max(xg.real(w))
>>> round(top.item(), 6), tape.gradient(top, a).numpy().round(3).tolist()
(-1.0, [[2.0, -2.0], [1.0, -1.0]])
"""
from __future__ import annotations

from collections import namedtuple

from ..primitive import Primitive, apply
from .linalg_decomp import (_nowhere_zero, _pack, _results, _square_float, _unpack,
                             _vector_cotangent)
from .linalg_helpers import (call, diag_embed, eye_like, is_complex, mask_diagonal, mH, real,
                             require_phase_free)

EigResult = namedtuple("EigResult", ["eigenvalues", "eigenvectors"])


def _complex_dtype(xp, x):
    """The complex dtype of ``x``'s precision."""
    if is_complex(x):
        return x.dtype
    return xp.complex64 if x.dtype == xp.float32 else xp.complex128


def _backend_eig(xp, x, name):
    """``xp.linalg.eig(x)`` as complex arrays of ``x``'s precision; a clear error where the
    backend's namespace has no general eigensolver."""
    solver = getattr(xp.linalg, "eig", None)
    if solver is None:
        raise NotImplementedError(f"linalg.{name}: this backend's array namespace "
                                  f"({getattr(xp, '__name__', xp)}) has no linalg.eig")
    w, v = call(name, solver, x)
    dtype = _complex_dtype(xp, x)
    if w.dtype != dtype:
        w, v = xp.astype(w, dtype), xp.astype(v, dtype)
    return w, v


def _diagonal(xp, a):
    """The diagonal of each matrix of ``a`` (``(..., n)``), differentiable in any namespace."""
    return xp.sum(a * eye_like(xp, a, a.shape[-1]), axis=-2)


def _conjugate_by_v(xp, inner, v, x):
    """``V^{-H} inner V^H``; its real part when ``x`` is real."""
    vh = mH(xp, v)
    out = xp.linalg.solve(vh, xp.matmul(inner, vh))
    return out if is_complex(x) else real(xp, out)


def _eig_grad(xp, w, v, gw, gv, x, zero=False):
    """PyTorch's rule (module docstring); ``gv`` None or ``zero`` as ``_vector_cotangent``
    gives them (a zero cotangent's terms are 0, not 0/0, at repeated eigenvalues)."""
    n = w.shape[-1]
    inner = diag_embed(xp, gw)
    if gv is not None:
        off, _ = mask_diagonal(xp, w, n)
        vhgv = xp.matmul(mH(xp, v), gv)
        require_phase_free(xp, "eig", xp.imag(_diagonal(xp, vhgv)), vhgv)
        scale = xp.astype(real(xp, _diagonal(xp, vhgv)), vhgv.dtype)
        vhgv = vhgv - xp.matmul(mH(xp, v), v * xp.expand_dims(scale, axis=-2))
        wc = xp.conj(w)
        gaps = xp.expand_dims(wc, axis=-2) - xp.expand_dims(wc, axis=-1)   # conj(w_j - w_i)
        gaps = _nowhere_zero(xp, gaps * off + (1 - off), zero)
        inner = inner + vhgv / gaps * off
    return _conjugate_by_v(xp, inner, v, x)


def _eig_forward(xp, x):
    w, v = _backend_eig(xp, x, "eig")
    return _pack(xp, x.shape[:-2], (w, v), v)


def _eig_vjp(xp, g, ans, x):
    n = x.shape[-1]
    batch = x.shape[:-2]
    w, v = _unpack(xp, ans, batch, ((n,), (n, n)))
    gw, gv = _unpack(xp, g, batch, ((n,), (n, n)))
    gv, zero = _vector_cotangent(xp, gv)
    return _eig_grad(xp, w, v, gw, gv, x, zero)


_eig = Primitive("linalg_eig", _eig_forward, _eig_vjp)


def eig(x, /):
    """Eigenvalues and eigenvectors (columns, unit norm) of each square matrix, a namedtuple
    ``EigResult(eigenvalues, eigenvectors)`` of complex tensors of ``x``'s precision; gradients
    as PyTorch's ``torch.linalg.eig`` (module docstring: only phase-invariant losses of the
    eigenvectors have one).

    >>> import xpgrad as xg
    >>> w, v = xg.linalg.eig(xg.asarray([[0.0, -1.0], [1.0, 0.0]], dtype=xg.float64))
    >>> sorted(w.tolist(), key=lambda z: z.imag), v.dtype
    ([-1j, 1j], xpgrad.complex128)
    """
    x = _square_float("eig", x)
    n = x.shape[-1]
    w, v = _results(apply(_eig, x), x.shape[:-2], ((n,), (n, n)), (False, False))
    return EigResult(w, v)


def _eigvals_forward(xp, x):
    solver = getattr(xp.linalg, "eigvals", None)
    if solver is None:
        return _backend_eig(xp, x, "eigvals")[0]
    w = call("eigvals", solver, x)
    dtype = _complex_dtype(xp, x)
    return w if w.dtype == dtype else xp.astype(w, dtype)


def _eigvals_vjp(xp, g, ans, x):
    v = _backend_eig(xp, x, "eigvals")[1]     # xp = xpgrad (outer tape): through V too
    return _conjugate_by_v(xp, diag_embed(xp, g), v, x)


_eigvals = Primitive("linalg_eigvals", _eigvals_forward, _eigvals_vjp, saves=(0,))


def eigvals(x, /):
    """The eigenvalues of each square matrix, complex of ``x``'s precision (their order is the
    backend's); the rule recomputes the eigenvectors (``V^{-H} diag(g) V^H``), so the forward
    stays as cheap as the backend's.

    >>> import xpgrad as xg
    >>> xg.linalg.eigvals(xg.asarray([[2.0, 0.0], [0.0, 3.0]])).tolist()
    [(2+0j), (3+0j)]
    """
    return apply(_eigvals, _square_float("eigvals", x))


__all__ = ["EigResult", "eig", "eigvals"]
