"""What the linalg rules share (``linalg.py``, ``linalg_solve.py``, ``linalg_rank.py``,
``linalg_decomp.py``, ``linalg_norms.py``): helpers that run on raw arrays (first order) or on
Tensors (higher orders, through private primitives: conj, real, tri), LinAlgError messages
naming the function, and the argument checks of the public functions.

>>> import numpy as np
>>> diag_embed(np, np.array([1.0, 2.0])).tolist(), mH(np, np.array([[1j, 2.0]])).tolist()
([[1.0, 0.0], [0.0, 2.0]], [[-1j], [(2-0j)]])
"""
from __future__ import annotations

import math

from ..primitive import Primitive, apply
from ..jit.traced import Traced
from ..tensor import Tensor


# -- helpers for rules that run on raw arrays (first order) or on Tensors (higher orders) -------
def _mT(xp, a):
    mt = getattr(a, "mT", None)   # the array API's attribute (NumPy >= 2, CuPy, Tensors): a view,
    return xp.matrix_transpose(a) if mt is None else mt     # ~8x cheaper than the wrapper


def is_complex(a) -> bool:
    """Whether a raw array or a Tensor holds complex numbers."""
    kind = getattr(a.dtype, "kind", None)
    if isinstance(kind, str):
        return kind == "c"
    return "complex" in str(a.dtype)


def conj(xp, a):
    """``a`` conjugated; ``a`` itself when it is real (no pass on real hot paths)."""
    if not is_complex(a):
        return a
    return apply(_conj, a) if isinstance(a, Tensor) else xp.conj(a)


def mH(xp, a):
    """The conjugate transpose of the last two axes."""
    return conj(xp, _mT(xp, a))


def real(xp, a):
    """The real part (a real-dtype array) of a complex array."""
    return apply(_real, a) if isinstance(a, Tensor) else xp.real(a)


def require_phase_free(xp, name, imag_diagonal, scale):
    """PyTorch's check for complex eigen/singular vectors, each fixed only up to a phase
    ``e^{i phi}``: a loss of them has a gradient only if it does not depend on those phases,
    i.e. ``imag_diagonal`` (``Im diag(V^H gV)``; for svd U's plus V's) vanishes next to
    ``scale`` (``V^H gV``). Else ValueError, as PyTorch raises, not the gradient for whatever
    phases LAPACK happened to pick."""
    if math.prod(imag_diagonal.shape) == 0 or not readable(imag_diagonal):
        return          # inside xg.function no value is read: a replay could not raise
    worst = float(xp.max(xp.abs(imag_diagonal)))
    if worst > math.sqrt(xp.finfo(scale.dtype).eps) * float(xp.max(xp.abs(scale))):
        vectors = "singular vectors" if name == "svd" else "eigenvectors"
        raise ValueError(
            f"linalg.{name}: the loss depends on the phases of the complex {vectors}, which "
            f"are arbitrary (each is unique only up to a factor e^(i phi)), so it has no "
            f"gradient (as in PyTorch); use a phase-free function of them, e.g. |V|**2, "
            f"V @ V^H, or the {'singular values' if name == 'svd' else 'eigenvalues'}")


def tri(xp, a, k=0, upper=False):
    """``tril(a, k)`` (or ``triu`` with ``upper``) that is differentiable on Tensors."""
    if isinstance(a, Tensor):
        return apply(_tri, a, k=k, upper=upper)
    return xp.triu(a, k=k) if upper else xp.tril(a, k=k)


def readable(a) -> bool:
    """Whether a rule may read ``a``'s values in Python (``bool(xp.any(...))``): not while
    ``xg.function`` traces it, where such a branch cannot be replayed and the rule must take
    a way that does not depend on the values."""
    return type(a._data if isinstance(a, Tensor) else a) is not Traced


def eye_like(xp, like, n, m=None, k=0):
    """The identity (ones on diagonal ``k``) with ``like``'s dtype, device and backend."""
    return xp.eye(n, m, k=k, dtype=like.dtype, device=like.device)


def zeros_like_shape(xp, like, shape):
    return xp.zeros(shape, dtype=like.dtype, device=like.device)


def diag_embed(xp, v, m=None, n=None, k=0):
    """Matrices ``(..., m, n)`` holding ``v`` (``(..., L)``) on diagonal ``k``, zeros elsewhere.

    Built from multiply and concat, so it is differentiable in any namespace."""
    length = v.shape[-1]
    m = length if m is None else m
    n = length if n is None else n
    span = m if k >= 0 else n              # the axis that indexes the diagonal's entries
    if length < span:
        pad = zeros_like_shape(xp, v, tuple(v.shape[:-1]) + (span - length,))
        v = xp.concat([v, pad], axis=-1)
    elif length > span:
        v = v[..., :span]
    v = xp.expand_dims(v, axis=-1 if k >= 0 else -2)
    return v * eye_like(xp, v, m, n, k)


def mask_diagonal(xp, like, n):
    """``(1 - I, I)`` for ``n x n`` matrices, in ``like``'s dtype."""
    eye = eye_like(xp, like, n)
    return 1 - eye, eye


def linalg_error(name, err):
    """A backend's LinAlgError (singular matrix, no convergence), re-raised naming the function
    and keeping the backend's exception type."""
    if type(err).__name__ == "LinAlgError":
        try:
            return type(err)(f"linalg.{name}: {err}")
        except TypeError:
            return None
    return None


def call(name, fn, *args, **kw):
    """``fn(*args, **kw)``; a LinAlgError gets a message naming ``linalg.<name>``."""
    try:
        return fn(*args, **kw)
    except Exception as e:    # noqa: BLE001 -- only the backend's LinAlgError is rewritten
        better = linalg_error(name, e)
        if better is None:
            raise
        raise better from e


# -- private primitives the rules need (the namespace may not have them yet) --------------------
_conj = Primitive("linalg_conj", lambda xp, x: xp.conj(x),
                  lambda xp, g, ans, x: conj(xp, g))
_real = Primitive("linalg_real", lambda xp, x: xp.real(x),
                  lambda xp, g, ans, x: g)
_tri = Primitive("linalg_tri",
                 lambda xp, x, k, upper: xp.triu(x, k=k) if upper else xp.tril(x, k=k),
                 lambda xp, g, ans, x, k, upper: tri(xp, g, k, upper))


# -- checks shared by the public functions ------------------------------------------------------
def check_floating(name, x, what="x"):
    if not x.dtype.is_inexact:
        raise TypeError(f"linalg.{name}: {what} must have a floating-point (real or complex) "
                        f"dtype, got {x.dtype}")


def check_matrix(name, x, square=False, what="x"):
    if x.ndim < 2:
        raise ValueError(f"linalg.{name}: {what} must have at least 2 dimensions (a matrix "
                         f"or a stack of matrices, shape (..., M, N)), got shape {x.shape}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"linalg.{name}: {what} must be square in its last two dimensions "
                         f"(shape (..., M, M)), got shape {x.shape}")


def broadcast_batch(name, s1, s2, full1, full2):
    """The broadcast of two batch shapes; a ValueError naming ``name`` when they do not."""
    out = []
    for i in range(1, max(len(s1), len(s2)) + 1):
        p = s1[-i] if i <= len(s1) else 1
        q = s2[-i] if i <= len(s2) else 1
        if p != q and p != 1 and q != 1:
            raise ValueError(f"{name}: batch dimensions of {full1} and {full2} do not "
                             "broadcast")
        out.append(q if p == 1 else p)
    return tuple(reversed(out))
