"""Linear algebra: matmul (1-D, 2-D, batched), tensordot, vecdot, matrix_transpose, outer.

>>> import xpgrad as xg
>>> a = xg.ones((2, 3)); b = xg.ones((3, 4))
>>> (a @ b).shape, xg.matmul(xg.ones((5, 2, 3)), b).shape
((2, 4), (5, 2, 4))
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from ._define import as_tensor, norm_axis


def _mT(xp, a):
    mt = getattr(a, "mT", None)   # the array API's attribute (NumPy >= 2, CuPy, Tensors): a view,
    return xp.matrix_transpose(a) if mt is None else mt     # ~8x cheaper than the wrapper


def _matmul_dx1(xp, g, ans, a, b):
    if a.ndim == 1 and b.ndim == 1:
        return g * b
    if b.ndim == 1:                                   # (..., m, k) @ (k,) -> (..., m)
        return xp.expand_dims(g, axis=-1) * b
    if a.ndim == 1:                                   # (k,) @ (..., k, n) -> (..., n)
        return xp.matmul(b, xp.expand_dims(g, axis=-1))[..., 0]
    return xp.matmul(g, _mT(xp, b))


def _matmul_dx2(xp, g, ans, a, b):
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if a.ndim == 1:
        return xp.expand_dims(a, axis=-1) * xp.expand_dims(g, axis=-2)
    if b.ndim == 1:
        return xp.matmul(_mT(xp, a), xp.expand_dims(g, axis=-1))[..., 0]
    return xp.matmul(_mT(xp, a), g)


_matmul = Primitive("matmul", lambda xp, a, b: xp.matmul(a, b), _matmul_dx1, _matmul_dx2)


def matmul(x1, x2, /):
    """Matrix product with NumPy's rules for 1-D and batched (broadcast) operands.

    >>> import xpgrad as xg
    >>> xg.matmul(xg.asarray([1.0, 2.0]), xg.asarray([3.0, 4.0])).item()
    11.0
    """
    a, b = as_tensor(x1), as_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul does not take 0-d operands; use multiply")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: the last axis "
                         f"of x1 has {ka} entries but x2's contraction axis has {kb}")
    if a.ndim > 2 and b.ndim > 2:
        _broadcast_batch(a.shape[:-2], b.shape[:-2], a.shape, b.shape)
    return apply(_matmul, a, b)


def _broadcast_batch(s1, s2, full1, full2):
    for p, q in zip(reversed(s1), reversed(s2)):
        if p != q and p != 1 and q != 1:
            raise ValueError(f"matmul: batch dimensions of {full1} and {full2} do not "
                             "broadcast")


_matrix_transpose = Primitive("matrix_transpose", lambda xp, x: xp.matrix_transpose(x),
                              lambda xp, g, ans, x: xp.matrix_transpose(g))


def matrix_transpose(x, /):
    """Swap the last two axes.

    >>> import xpgrad as xg
    >>> xg.matrix_transpose(xg.ones((4, 2, 3))).shape
    (4, 3, 2)
    """
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dimensions, got {x.ndim}")
    return apply(_matrix_transpose, x)


def vecdot(x1, x2, /, *, axis=-1):
    """Dot product of vectors along ``axis`` (broadcasting the rest).

    >>> import xpgrad as xg
    >>> xg.vecdot(xg.ones((2, 3)), xg.ones(3)).tolist()
    [3.0, 3.0]
    """
    from .elementwise import multiply
    from .reductions import sum

    a, b = as_tensor(x1), as_tensor(x2)
    prod = multiply(a, b)
    return sum(prod, axis=norm_axis(axis, prod.ndim) - prod.ndim)


def tensordot(x1, x2, /, *, axes=2):
    """Contract ``axes`` of ``x1`` with ``axes`` of ``x2`` (an int or a pair of sequences).

    Built from permute_dims, reshape and matmul, so its gradient comes for free.

    >>> import xpgrad as xg
    >>> xg.tensordot(xg.ones((2, 3, 4)), xg.ones((3, 4, 5))).shape
    (2, 5)
    """
    from .shape import permute_dims, reshape

    a, b = as_tensor(x1), as_tensor(x2)
    if isinstance(axes, int):
        if axes < 0 or axes > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={axes} is out of range for shapes "
                             f"{a.shape} and {b.shape}")
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                      [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
        ax_a = [norm_axis(i, a.ndim) for i in ax_a]
        ax_b = [norm_axis(i, b.ndim) for i in ax_b]
    if len(ax_a) != len(ax_b) or any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: axes {ax_a} of {a.shape} do not match axes {ax_b} "
                         f"of {b.shape}")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    k = 1
    for i in ax_a:
        k *= a.shape[i]
    am = reshape(permute_dims(a, tuple(free_a + ax_a)), (-1, k))
    bm = reshape(permute_dims(b, tuple(ax_b + free_b)), (k, -1))
    out_shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    return reshape(matmul(am, bm), out_shape)


def outer(x1, x2, /):
    """Outer product of two vectors.

    >>> import xpgrad as xg
    >>> xg.outer(xg.ones(2), xg.ones(3)).shape
    (2, 3)
    """
    from .shape import expand_dims

    return expand_dims(as_tensor(x1), axis=-1) * as_tensor(x2)


__all__ = ["matmul", "matrix_transpose", "vecdot", "tensordot", "outer"]
