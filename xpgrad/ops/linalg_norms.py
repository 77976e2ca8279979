"""``xg.linalg``: vector_norm (one primitive, every ``ord``) and matrix_norm (built from
vector_norm, svdvals, abs, sum and max/min, so its gradients come from theirs).

Where a norm is not differentiable the gradient takes PyTorch's choice: 0 at a zero vector
(every ``ord``), ``sign(x)`` for ``ord=1`` (0 at 0), the largest (smallest) entries sharing it
equally for ``ord=inf`` (``-inf``), 0 for ``ord=0`` (a count); for ``ord < 1`` entries at 0
get 0, and so does every entry of a vector whose negative-order norm is 0.

>>> import xpgrad as xg
>>> x = xg.asarray([3.0, -4.0], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     n = xg.linalg.vector_norm(x)
>>> n.item(), tape.gradient(n, x).tolist()
(5.0, [0.6, -0.8])
"""
from __future__ import annotations

import math
import numbers

from .._args import flag, refuse_extra_positional, refuse_keywords
from ..primitive import Primitive, apply
from ._define import as_tensor, kept_shape, norm_axes, norm_axis
from .linalg_helpers import check_floating, check_matrix, is_complex

_INF = math.inf


def _vector_norm_vjp(xp, g, ans, x, axis, keepdims, ord):
    if ord == 0:
        return xp.zeros_like(x)
    shape = kept_shape(x.shape, axis)
    norm = xp.reshape(ans, shape)
    g = xp.reshape(g, shape)
    zero = norm == 0
    if ord == 2:
        # masked as a whole: its derivative at 0 is 0 (PyTorch's), not the identity
        return xp.where(zero, 0.0, g * x / xp.where(zero, 1.0, norm))
    mag = xp.abs(x)
    at0 = mag == 0
    sgn = x / xp.where(at0, 1.0, mag) if is_complex(x) else xp.sign(x)
    if ord == 1:
        return g * sgn
    if ord in (_INF, -_INF):
        hit = mag == norm
        share = xp.sum(xp.astype(hit, mag.dtype), axis=axis, keepdims=True)
        return xp.where(hit, g * sgn / xp.where(share == 0, 1.0, share), 0.0)
    ratio = mag / xp.where(zero, 1.0, norm)
    scale = xp.where(at0, 0.0, xp.where(at0, 1.0, ratio) ** (ord - 1))
    return xp.where(zero, 0.0, g * sgn * scale)


_vector_norm = Primitive(
    "linalg_vector_norm",
    lambda xp, x, axis, keepdims, ord: xp.linalg.vector_norm(x, axis=axis, keepdims=keepdims,
                                                             ord=ord),
    _vector_norm_vjp)


def vector_norm(x, /, *extra, axis=None, keepdims=False, ord=2, **unexpected):
    """The ``ord``-norm over ``axis`` (None: all entries; an int or a tuple): any real ``ord``
    incl. 0 (count of nonzeros), ``inf`` and ``-inf``. A real result, also for complex ``x``.
    Unlike the reductions, ``axis`` is keyword-only here (as NumPy's and JAX's):
    ``torch.linalg.vector_norm(x, 2)`` is ``ord=2``, which a positional axis would misread.

    >>> import xpgrad as xg
    >>> xg.linalg.vector_norm(xg.asarray([[3.0, 4.0], [6.0, 8.0]]), axis=1).tolist()
    [5.0, 10.0]
    """
    if unexpected:
        refuse_keywords("vector_norm", unexpected)
    if extra:
        refuse_extra_positional("vector_norm", ("x",), extra, ("axis", "keepdims", "ord"))
    x = as_tensor(x, "vector_norm")
    check_floating("vector_norm", x)
    if isinstance(ord, bool) or not isinstance(ord, numbers.Real):      # NumPy scalars too
        raise ValueError(f"linalg.vector_norm: ord must be a real number (or inf, -inf), "
                         f"got {ord!r}")
    ord = int(ord) if isinstance(ord, numbers.Integral) else float(ord)
    if ord != ord:
        raise ValueError("linalg.vector_norm: ord must be a real number (or inf, -inf), got nan")
    return apply(_vector_norm, x, axis=norm_axes(axis, x.ndim, "vector_norm"),
                 keepdims=flag(keepdims, "keepdims", "linalg.vector_norm"), ord=ord)


_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, _INF, -_INF)


def matrix_norm(x, /, *, keepdims=False, ord="fro", **unexpected):
    """The matrix norm of each matrix: ``'fro'``, ``'nuc'`` (sum of singular values), ``2`` /
    ``-2`` (largest / smallest singular value), ``1`` / ``-1`` (max / min column sum of
    ``|x|``), ``inf`` / ``-inf`` (max / min row sum).

    >>> import xpgrad as xg
    >>> xg.linalg.matrix_norm(xg.asarray([[1.0, -2.0], [3.0, 4.0]]), ord=1).item()
    6.0
    """
    if unexpected:
        refuse_keywords("matrix_norm", unexpected)
    from .elementwise import abs
    from .linalg_decomp import svdvals
    from .reductions import max, min, sum
    from .shape import reshape

    x = as_tensor(x, "matrix_norm")
    keepdims = flag(keepdims, "keepdims", "linalg.matrix_norm")
    check_matrix("matrix_norm", x)
    check_floating("matrix_norm", x)
    if isinstance(ord, bool) or ord not in _MATRIX_ORDS or (
            isinstance(ord, str) != (ord in ("fro", "nuc"))):
        raise ValueError(f"linalg.matrix_norm: ord must be one of 'fro', 'nuc', 1, -1, 2, -2, "
                         f"inf, -inf; got {ord!r}")
    if ord == "fro":
        return vector_norm(x, axis=(-2, -1), keepdims=keepdims)
    if x.shape[-1] == 0 or x.shape[-2] == 0:     # an empty matrix has norm 0 for every ord
        out = sum(abs(x), axis=(-2, -1))
    elif ord == "nuc":
        out = sum(svdvals(x), axis=-1)
    elif ord in (2, -2):
        out = (max if ord == 2 else min)(svdvals(x), axis=-1)
    else:
        across = -2 if ord in (1, -1) else -1
        out = (max if ord > 0 else min)(sum(abs(x), axis=across), axis=-1)
    return reshape(out, out.shape + (1, 1)) if keepdims else out


def norm(x, /, ord=None, axis=None, keepdims=False, **unexpected):
    """NumPy's and JAX's ``linalg.norm``: over one axis (an int) the vector norm
    (``vector_norm``, ``ord`` default 2), over two (a pair of axes: the rows', the columns')
    the matrix norm (``matrix_norm``, ``ord`` default ``'fro'``); with ``axis=None``, ``x``'s
    vector norm if it is 1-D, its matrix norm if 2-D, and with ``ord=None`` the 2-norm of all
    its entries whatever its shape. Gradients are those of the two it calls.

    >>> import xpgrad as xg
    >>> m = xg.asarray([[1.0, -2.0], [3.0, 4.0]])
    >>> round(xg.linalg.norm(m).item(), 4), xg.linalg.norm(m, ord=1).item()
    (5.4772, 6.0)
    >>> xg.linalg.norm(m, axis=1, ord=1).tolist()
    [3.0, 7.0]
    """
    if unexpected:
        refuse_keywords("norm", unexpected)
    from .shape import expand_dims, moveaxis

    x = as_tensor(x, "norm")
    keepdims = flag(keepdims, "keepdims", "linalg.norm")
    if axis is None:
        if ord is None:
            return vector_norm(x, keepdims=keepdims)
        if x.ndim not in (1, 2):
            raise ValueError(f"linalg.norm: ord={ord!r} without axis needs a 1-D or 2-D x, got "
                             f"{x.ndim}-D; give axis= (an int for vectors, a pair for matrices)")
        axis = tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ValueError(f"linalg.norm: ord={ord!r} is a matrix norm; a vector norm over "
                             f"axis={axis!r} takes a number (or inf, -inf)")
        return vector_norm(x, axis=axes, keepdims=keepdims, ord=2 if ord is None else ord)
    if len(axes) != 2:
        raise ValueError(f"linalg.norm: axis must be None, an int or a pair of ints, got "
                         f"{axis!r}")
    rows, cols = (norm_axis(a, x.ndim, "norm: axis") for a in axes)
    if rows == cols:
        raise ValueError(f"linalg.norm: the two axes must differ, got {axis!r}")
    out = matrix_norm(moveaxis(x, (rows, cols), (-2, -1)), ord="fro" if ord is None else ord)
    return expand_dims(out, axis=tuple(sorted((rows, cols)))) if keepdims else out


__all__: list = []
