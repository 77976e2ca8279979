"""Linear algebra products: matmul (1-D, 2-D, batched), tensordot, vecdot, matrix_transpose,
outer; and for ``xg.linalg`` cross, diagonal, trace (the helpers the linalg rules share are in
``linalg_helpers.py``).

The factorizations live in ``linalg_solve.py`` (inv, solve, det, slogdet, cholesky,
matrix_power), ``linalg_rank.py`` (pinv, matrix_rank), ``linalg_decomp.py`` (eigh, svd, qr) and
``linalg_norms.py``.

Complex gradients follow PyTorch's convention (``z -= lr * grad`` descends): the rule of a
bilinear product conjugates the other factor, e.g. ``d(a @ b)/da = g @ conj(b).mT``.

>>> import xpgrad as xg
>>> a = xg.ones((2, 3)); b = xg.ones((3, 4))
>>> (a @ b).shape, xg.matmul(xg.ones((5, 2, 3)), b).shape
((2, 4), (5, 2, 4))
"""
from __future__ import annotations

import math
import numbers

from .._args import TORCH_AXES_KEYWORDS, refuse_keywords
from ..dtypes import as_dtype
from ..primitive import Primitive, apply
from ..views import view_of
from ..tensor import Tensor, Variable
from ._define import _int, as_tensor, norm_axis
from .shape import permute_dims, reshape
from .linalg_helpers import _mT, broadcast_batch, check_matrix, conj, diag_embed, eye_like


# -- matmul -------------------------------------------------------------------------------------
def _matmul_dx1(xp, g, ans, a, b):
    b = conj(xp, b)
    if a.ndim == 1 and b.ndim == 1:
        return g * b
    if b.ndim == 1:                                   # (..., m, k) @ (k,) -> (..., m)
        return xp.expand_dims(g, axis=-1) * b
    if a.ndim == 1:                                   # (k,) @ (..., k, n) -> (..., n)
        return xp.matmul(b, xp.expand_dims(g, axis=-1))[..., 0]
    return xp.matmul(g, _mT(xp, b))


def _matmul_dx2(xp, g, ans, a, b):
    a = conj(xp, a)
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if a.ndim == 1:
        return xp.expand_dims(a, axis=-1) * xp.expand_dims(g, axis=-2)
    if b.ndim == 1:
        return xp.matmul(_mT(xp, a), xp.expand_dims(g, axis=-1))[..., 0]
    return xp.matmul(_mT(xp, a), g)


_matmul = Primitive("matmul", lambda xp, a, b: xp.matmul(a, b), _matmul_dx1, _matmul_dx2,
                    saves=(0, 1))


_TENSOR_CLASSES = frozenset((Tensor, Variable))


def matmul(x1, x2, /):
    """Matrix product with NumPy's rules for 1-D and batched (broadcast) operands.

    >>> import xpgrad as xg
    >>> xg.matmul(xg.asarray([1.0, 2.0]), xg.asarray([3.0, 4.0])).item()
    11.0
    """
    if x1.__class__ in _TENSOR_CLASSES and x2.__class__ in _TENSOR_CLASSES:
        a, b = x1._data, x2._data
        if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:   # the common case
            return apply(_matmul, x1, x2)
    a, b = as_tensor(x1, "matmul", "x1"), as_tensor(x2, "matmul", "x2")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul does not take 0-d operands; use multiply")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: the last axis "
                         f"of x1 has {ka} entries but x2's contraction axis has {kb}")
    if a.ndim > 2 and b.ndim > 2:
        broadcast_batch("matmul", a.shape[:-2], b.shape[:-2], a.shape, b.shape)
    return apply(_matmul, a, b)


_matrix_transpose = Primitive("matrix_transpose", lambda xp, x: xp.matrix_transpose(x),
                              lambda xp, g, ans, x: xp.matrix_transpose(g))


def matrix_transpose(x, /):
    """Swap the last two axes.

    >>> import xpgrad as xg
    >>> xg.matrix_transpose(xg.ones((4, 2, 3))).shape
    (4, 3, 2)
    """
    x = as_tensor(x, "matrix_transpose")
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dimensions, got {x.ndim}")
    return view_of(x, apply(_matrix_transpose, x), _matrix_transpose, {})


# -- vecdot -------------------------------------------------------------------------------------
def _padded(xp, a, ndim):
    return a if a.ndim == ndim else xp.reshape(a, (1,) * (ndim - a.ndim) + tuple(a.shape))


def _vecdot_forward(xp, a, b, axis):
    ndim = max(a.ndim, b.ndim)
    return xp.vecdot(_padded(xp, a, ndim), _padded(xp, b, ndim), axis=axis)


def _vecdot_dx1(xp, g, ans, a, b, axis):
    return b * conj(xp, xp.expand_dims(g, axis=axis))


def _vecdot_dx2(xp, g, ans, a, b, axis):
    return xp.expand_dims(g, axis=axis) * a


_vecdot = Primitive("vecdot", _vecdot_forward, _vecdot_dx1, _vecdot_dx2)


def vecdot(x1, x2, /, axis=-1, **unexpected):
    """``sum(conj(x1) * x2, axis=axis)``, broadcasting the other axes; ``axis`` (by keyword or
    positionally) counts from the end of the broadcast shape and is not broadcast itself.

    >>> import xpgrad as xg
    >>> xg.vecdot(xg.ones((2, 3)), xg.ones(3)).tolist()
    [3.0, 3.0]
    """
    if unexpected:
        refuse_keywords("vecdot", unexpected)
    a, b = as_tensor(x1, "vecdot", "x1"), as_tensor(x2, "vecdot", "x2")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("vecdot needs operands with at least one dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    ndim = max(a.ndim, b.ndim)
    axis = norm_axis(axis, ndim, "vecdot: axis") - ndim
    sa = (1,) * (ndim - a.ndim) + tuple(a.shape)
    sb = (1,) * (ndim - b.ndim) + tuple(b.shape)
    if sa[axis] != sb[axis]:
        raise ValueError(f"vecdot: x1 {a.shape} and x2 {b.shape} differ in size along axis "
                         f"{axis} ({sa[axis]} != {sb[axis]}); that axis is not broadcast")
    sa, sb = list(sa), list(sb)
    del sa[axis], sb[axis]
    broadcast_batch("vecdot", tuple(sa), tuple(sb), a.shape, b.shape)
    return apply(_vecdot, a, b, axis=axis)


# -- tensordot, outer ---------------------------------------------------------------------------
def _axes_list(axes, ndim, which):
    if isinstance(axes, int) and not isinstance(axes, bool):
        axes = [axes]
    try:
        axes = list(axes)
    except TypeError:
        raise TypeError(f"tensordot: axes for {which} must be a sequence of ints, got "
                        f"{axes!r}") from None
    return [norm_axis(i, ndim, f"tensordot axis of {which}") for i in axes]


def tensordot(x1, x2, /, axes=2, **unexpected):
    """Contract ``axes`` of ``x1`` with ``axes`` of ``x2`` (an int or a pair of sequences; by
    keyword or positionally, as ``np.tensordot(a, b, 1)``).

    Built from permute_dims, reshape and matmul, so its gradient comes for free.

    >>> import xpgrad as xg
    >>> xg.tensordot(xg.ones((2, 3, 4)), xg.ones((3, 4, 5))).shape
    (2, 5)
    """
    if unexpected:
        refuse_keywords("tensordot", unexpected, TORCH_AXES_KEYWORDS)
    a, b = as_tensor(x1, "tensordot", "x1"), as_tensor(x2, "tensordot", "x2")
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):    # NumPy ints too
        axes = int(axes)
        if axes < 0 or axes > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={axes} is out of range for shapes "
                             f"{a.shape} and {b.shape}")
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        try:
            first, second = axes
        except (TypeError, ValueError):
            raise ValueError(f"tensordot: axes must be an int or a pair of sequences, got "
                             f"{axes!r}") from None
        ax_a, ax_b = _axes_list(first, a.ndim, "x1"), _axes_list(second, b.ndim, "x2")
    if (len(ax_a) != len(ax_b) or len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b)
            or any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b))):
        raise ValueError(f"tensordot: axes {ax_a} of {a.shape} do not match axes {ax_b} "
                         f"of {b.shape}")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    k = math.prod(a.shape[i] for i in ax_a)
    out_a = tuple(a.shape[i] for i in free_a)
    out_b = tuple(b.shape[i] for i in free_b)
    am = reshape(permute_dims(a, tuple(free_a + ax_a)), (math.prod(out_a), k))
    bm = reshape(permute_dims(b, tuple(ax_b + free_b)), (k, math.prod(out_b)))
    return reshape(matmul(am, bm), out_a + out_b)


# one node whose gradients are matrix-vector products: not expand_dims and a broadcast multiply,
# whose rule makes an (m, n) product and sums it (float32 n = 64, forward + backward, one core:
# 84 -> 39 us, PyTorch's 43)
_outer = Primitive("outer", lambda xp, a, b: xp.expand_dims(a, axis=-1) * b,
                   lambda xp, g, ans, a, b: xp.matmul(g, conj(xp, b)),
                   lambda xp, g, ans, a, b: xp.matmul(conj(xp, a), g))


def outer(x1, x2, /):
    """Outer product of two vectors.

    >>> import xpgrad as xg
    >>> xg.outer(xg.ones(2), xg.ones(3)).shape
    (2, 3)
    """
    a, b = as_tensor(x1, "outer", "x1"), as_tensor(x2, "outer", "x2")
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer takes two 1-D vectors, got shapes {a.shape} and {b.shape}")
    return apply(_outer, a, b)


def inner(a, b, /):
    """NumPy's and JAX's ``inner``: the sum over the last axes of ``a`` and ``b`` (shape
    ``a.shape[:-1] + b.shape[:-1]``); a 0-d argument multiplies.

    >>> import xpgrad as xg
    >>> xg.inner(xg.asarray([[1.0, 2.0], [3.0, 4.0]]), xg.asarray([1.0, 10.0])).tolist()
    [21.0, 43.0]
    """
    a, b = as_tensor(a, "inner", "a"), as_tensor(b, "inner", "b")
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: the last axes of a {a.shape} and b {b.shape} differ in "
                         f"size ({a.shape[-1]} != {b.shape[-1]})")
    return tensordot(a, b, axes=((a.ndim - 1,), (b.ndim - 1,)))


# -- cross, diagonal, trace (xg.linalg) ---------------------------------------------------------
def _cross_dx1(xp, g, ans, a, b, axis):
    return xp.linalg.cross(conj(xp, b), g, axis=axis)


def _cross_dx2(xp, g, ans, a, b, axis):
    return xp.linalg.cross(g, conj(xp, a), axis=axis)


_cross = Primitive("linalg_cross", lambda xp, a, b, axis: xp.linalg.cross(a, b, axis=axis),
                   _cross_dx1, _cross_dx2)


def cross(x1, x2, /, axis=-1, **unexpected):
    """Cross product of 3-element vectors along ``axis`` (negative; not broadcast), the other
    axes broadcast. ``axis`` by keyword or positionally, as ``torch.cross(a, b, -2)`` (NumPy's
    third positional argument is ``axisa``).

    >>> import xpgrad as xg
    >>> xg.linalg.cross(xg.asarray([1.0, 0.0, 0.0]), xg.asarray([0.0, 1.0, 0.0])).tolist()
    [0.0, 0.0, 1.0]
    """
    if unexpected:
        refuse_keywords("cross", unexpected)
    a, b = as_tensor(x1, "cross", "x1"), as_tensor(x2, "cross", "x2")
    if a.dtype.kind not in "iufc" or b.dtype.kind not in "iufc":
        raise TypeError(f"linalg.cross: x1 and x2 must be numeric, got {a.dtype} and {b.dtype}")
    axis = _int(axis, "linalg.cross: axis")
    low = min(a.ndim, b.ndim)
    if not -low <= axis < 0:
        hint = (f"; axis {axis} of both is axis={axis - a.ndim} (the array API counts it from "
                "the end, before broadcasting)") if 0 <= axis < a.ndim == b.ndim else ""
        raise ValueError(f"linalg.cross: axis {axis} must be in [-{low}, -1] for shapes "
                         f"{a.shape} and {b.shape}{hint}")
    if a.shape[axis] != 3 or b.shape[axis] != 3:
        raise ValueError(f"linalg.cross: x1 {a.shape} and x2 {b.shape} need size 3 along "
                         f"axis {axis}")
    sa, sb = list(a.shape), list(b.shape)
    del sa[axis], sb[axis]
    broadcast_batch("linalg.cross", tuple(sa), tuple(sb), a.shape, b.shape)
    return apply(_cross, a, b, axis=axis)


def _diagonal_vjp(xp, g, ans, x, offset):
    return diag_embed(xp, g, x.shape[-2], x.shape[-1], offset)


_diagonal = Primitive("linalg_diagonal",
                      lambda xp, x, offset: xp.linalg.diagonal(x, offset=offset), _diagonal_vjp)


def _check_offset(name, offset):
    """``offset`` as a Python int (NumPy integers too)."""
    return _int(offset, f"linalg.{name}: offset")


def diagonal(x, /, *, offset=0):
    """The diagonal ``offset`` (> 0 above, < 0 below the main one) of each matrix.

    >>> import xpgrad as xg
    >>> xg.linalg.diagonal(xg.reshape(xg.arange(6.0), (2, 3)), offset=1).tolist()
    [1.0, 5.0]
    """
    x = as_tensor(x, "diagonal")
    check_matrix("diagonal", x)
    return apply(_diagonal, x, offset=_check_offset("diagonal", offset))


def _trace_vjp(xp, g, ans, x, offset, dtype):
    g = xp.expand_dims(xp.expand_dims(g, axis=-1), axis=-1)
    return g * eye_like(xp, g, x.shape[-2], x.shape[-1], offset)


_trace = Primitive("linalg_trace",
                   lambda xp, x, offset, dtype: xp.linalg.trace(x, offset=offset, dtype=dtype),
                   _trace_vjp)


def trace(x, /, *, offset=0, dtype=None):
    """Sum of the diagonal ``offset`` of each matrix (``dtype``: the accumulator's, default as
    ``sum``).

    >>> import xpgrad as xg
    >>> xg.linalg.trace(xg.eye(3)).item()
    3.0
    """
    x = as_tensor(x, "trace")
    check_matrix("trace", x)
    offset = _check_offset("trace", offset)
    if x.dtype.kind not in "iufc":
        raise TypeError(f"linalg.trace: x must be numeric, got {x.dtype}")
    native = None if dtype is None else x._backend.native_dtype(as_dtype(dtype))
    return apply(_trace, x, offset=offset, dtype=native)


__all__ = ["matmul", "matrix_transpose", "vecdot", "tensordot", "outer", "inner"]
