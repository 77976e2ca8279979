"""``xg.linalg.solve_triangular``: ``A X = B`` (or ``X A = B``) for a triangular ``A``, with
PyTorch's signature and gradient (only the used triangle of ``A`` gets one); and
``xg.linalg.cholesky_solve``, PyTorch's solve with a Cholesky factor, as two of them.

The array API has no triangular solver, so the forward solves the masked triangle with the
backend's ``linalg.solve``; what makes it cheap is folding: where ``A`` is one matrix (or a
batch that ``B``'s trailing batch axes match), ``B``'s extra leading axes become columns of a
single right-hand side, so ``A`` is factored once, not once per broadcast copy.

>>> import xpgrad as xg
>>> a = xg.asarray([[2.0, 0.0], [1.0, 4.0]], dtype=xg.float64)
>>> xg.linalg.solve_triangular(a, xg.asarray([[2.0], [5.0]], dtype=xg.float64),
...                            upper=False).tolist()
[[1.0], [1.0]]
"""
from __future__ import annotations

import math

from .._args import flag
from ..primitive import Primitive, apply
from ._define import as_tensor
from .linalg_helpers import (_mT, broadcast_batch, call, check_floating, check_matrix, eye_like,
                             mH, tri)


def _triangle(xp, a, upper, unitriangular):
    """The triangle of ``a`` that is read (its diagonal taken as ones with ``unitriangular``)."""
    if not unitriangular:
        return tri(xp, a, 0, upper)
    return tri(xp, a, 1 if upper else -1, upper) + eye_like(xp, a, a.shape[-1])


def _folded(a, b):
    """How many leading axes of ``b`` can become columns: those beyond ``a``'s batch, when the
    rest of ``b``'s batch equals ``a``'s (0 where nothing folds)."""
    extra = b.ndim - a.ndim
    if extra <= 0 or tuple(b.shape[extra:-2]) != tuple(a.shape[:-2]):
        return 0
    return extra


def _columns(xp, b, extra):
    """``b`` of shape ``(S..., B..., n, k)`` (``extra`` axes S) as ``(B..., n, S*k)``, and the
    shape between (``(B..., n, S..., k)``) with the axis order that made it."""
    nd = b.ndim
    order = tuple(range(extra, nd - 1)) + tuple(range(extra)) + (nd - 1,)
    moved = xp.permute_dims(b, order)
    width = math.prod(moved.shape[nd - extra - 1:])
    return xp.reshape(moved, tuple(moved.shape[:nd - extra - 1]) + (width,)), moved.shape, order


def _solve_left(xp, t, b):
    """``t^-1 b`` for a square ``t`` already masked, ``b``'s extra leading axes folded into
    columns first."""
    extra = _folded(t, b)
    if not extra:
        return call("solve_triangular", xp.linalg.solve, t, b)
    columns, moved_shape, order = _columns(xp, b, extra)
    x = xp.reshape(call("solve_triangular", xp.linalg.solve, t, columns), tuple(moved_shape))
    back = [0] * b.ndim
    for position, axis in enumerate(order):
        back[axis] = position
    return xp.permute_dims(x, tuple(back))


def _forward(xp, a, b, upper, left, unitriangular):
    t = _triangle(xp, a, upper, unitriangular)
    if left:
        return _solve_left(xp, t, b)
    return _mT(xp, _solve_left(xp, _mT(xp, t), _mT(xp, b)))


def _left_vjp(xp, g, x, t, upper, unitriangular, needs_a):
    """Gradients of ``x = t^-1 b`` (``t`` triangular): ``gb = t^-H g``, ``ga = -gb x^H`` on the
    triangle that was read; ``ga`` summed over the axes ``b`` folded (the tape would sum a
    broadcast gradient anyway, this never builds it)."""
    gb = _solve_left(xp, mH(xp, t), g)
    if not needs_a:
        return None, gb
    extra = _folded(t, g)
    if extra:
        gb_columns, x_columns = _columns(xp, gb, extra)[0], _columns(xp, x, extra)[0]
        ga = -xp.matmul(gb_columns, mH(xp, x_columns))
    else:
        ga = -xp.matmul(gb, mH(xp, x))
    shift = (1 if upper else -1) if unitriangular else 0
    return tri(xp, ga, shift, upper), gb


def _vjp(xp, g, ans, needs, a, b, upper, left, unitriangular):
    t = _triangle(xp, a, upper, unitriangular)
    if left:
        return _left_vjp(xp, g, ans, t, upper, unitriangular, needs[0])
    ga, gb = _left_vjp(xp, _mT(xp, g), _mT(xp, ans), _mT(xp, t), not upper, unitriangular,
                       needs[0])
    return (None if ga is None else _mT(xp, ga)), _mT(xp, gb)


_solve_triangular = Primitive("linalg_solve_triangular", _forward, joint=_vjp)


def solve_triangular(A, B, /, *, upper=None, left=True, unitriangular=False, lower=None,
                     trans=None, unit_diagonal=None):
    """PyTorch's ``torch.linalg.solve_triangular``: the ``X`` with ``A @ X = B`` (``left``) or
    ``X @ A = B`` (``left=False``), ``A`` of shape ``(..., n, n)`` triangular (only its upper
    or lower triangle is read, by ``upper``; with ``unitriangular`` its diagonal is taken as
    ones), ``B`` of shape ``(..., n, k)`` (``(..., k, n)`` with ``left=False``), batch axes
    broadcast. The gradient for ``A`` lies on the triangle that was read. A zero on the
    diagonal is the backend's LinAlgError (PyTorch returns inf/NaN).

    >>> import xpgrad as xg
    >>> a = xg.asarray([[1.0, 3.0], [0.0, 2.0]], dtype=xg.float64)
    >>> xg.linalg.solve_triangular(a, xg.asarray([[5.0, 2.0]], dtype=xg.float64),
    ...                            upper=True, left=False).tolist()
    [[5.0, -6.5]]

    SciPy's and JAX's keywords (``jax.scipy.linalg.solve_triangular``) are taken in their
    place: ``lower=`` (which triangle; give ``upper`` or ``lower``, not both), ``trans=``
    (0, 1, 2 or "N", "T", "C": solve ``A^T X = B`` or ``A^H X = B``), ``unit_diagonal=``,
    and with them a vector ``B`` of shape ``(n,)`` gives a vector ``X``.

    >>> l = xg.asarray([[2.0, 0.0], [1.0, 4.0]], dtype=xg.float64)
    >>> xg.linalg.solve_triangular(l, xg.asarray([2.0, 5.0], dtype=xg.float64),
    ...                            lower=True).tolist()
    [1.0, 1.0]
    """
    who = "linalg.solve_triangular"
    a, b = as_tensor(A, "solve_triangular", "A"), as_tensor(B, "solve_triangular", "B")
    scipy_style = lower is not None or trans is not None or unit_diagonal is not None
    if scipy_style:
        return _scipy_solve_triangular(a, b, upper, left, unitriangular, lower, trans,
                                       unit_diagonal)
    if upper is None:
        raise TypeError(f"{who}() missing the keyword argument 'upper' (PyTorch's: which "
                        "triangle of A is read), or SciPy's and JAX's 'lower'")
    check_matrix("solve_triangular", a, square=True, what="A")
    check_floating("solve_triangular", a, "A")
    check_floating("solve_triangular", b, "B")
    upper = flag(upper, "upper", who)
    left = flag(left, "left", who)
    unitriangular = flag(unitriangular, "unitriangular", who)
    n = a.shape[-1]
    if b.ndim < 2:
        raise ValueError(f"{who}: B must have at least 2 dimensions (shape (..., {n}, k), or "
                         f"(..., k, {n}) with left=False), got shape {b.shape}")
    axis = -2 if left else -1
    if b.shape[axis] != n:
        want = f"(..., {n}, k)" if left else f"(..., k, {n})"
        raise ValueError(f"{who}: B of shape {b.shape} does not match A of shape {a.shape}: "
                         f"with left={left} B must have shape {want}")
    if a.dtype != b.dtype:
        raise TypeError(f"{who}: A and B must have the same dtype, got {a.dtype} and "
                        f"{b.dtype}")
    broadcast_batch(who, a.shape[:-2], b.shape[:-2], a.shape, b.shape)
    return apply(_solve_triangular, a, b, upper=upper, left=left, unitriangular=unitriangular)


_TRANS = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2}


def _scipy_solve_triangular(a, b, upper, left, unitriangular, lower, trans, unit_diagonal):
    """``solve_triangular`` called with SciPy's and JAX's keywords (its docstring)."""
    who = "linalg.solve_triangular"
    if upper is not None:
        raise TypeError(f"{who}: give upper= (PyTorch's) or lower= (SciPy's and JAX's), not "
                        "both")
    if unitriangular is not False and unit_diagonal is not None:
        raise TypeError(f"{who}: give unitriangular= (PyTorch's) or unit_diagonal= (SciPy's "
                        "and JAX's), not both")
    upper = not flag(False if lower is None else lower, "lower", who)
    if unit_diagonal is not None:
        unitriangular = flag(unit_diagonal, "unit_diagonal", who)
    mode = _TRANS.get(0 if trans is None else trans) if isinstance(
        trans, (int, str, type(None))) and not isinstance(trans, bool) else None
    if mode is None:
        raise ValueError(f"{who}: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    if mode:
        a = a.mT
        if mode == 2 and a.dtype.is_complex:
            from .elementwise import conj

            a = conj(a)
        upper = not upper
    if b.ndim == 1 and flag(left, "left", who):
        column = solve_triangular(a, b[:, None], upper=upper, unitriangular=unitriangular)
        return column[:, 0]
    return solve_triangular(a, b, upper=upper, left=left, unitriangular=unitriangular)


def cholesky_solve(B, L, upper=False):
    """PyTorch's ``torch.cholesky_solve`` (JAX's ``jax.scipy.linalg.cho_solve``): the ``X``
    with ``A @ X = B`` where ``A = L @ L^H`` (``upper=True``: ``A = U^H @ U``), ``L`` the
    factor ``xg.linalg.cholesky`` returns, of shape ``(..., n, n)`` (only its lower, or with
    ``upper`` its upper, triangle is read), ``B`` of shape ``(..., n, k)``, batch axes
    broadcast, or a vector of shape ``(n,)`` (SciPy's and JAX's ``cho_solve((L, True), b)``;
    the result a vector too, ``(..., n)``). Two triangular solves, so gradients reach ``B``
    and the triangle of the factor that is read; the other triangle's is zero (as JAX's;
    PyTorch's formula treats the factor as a full matrix there, though its forward ignores
    that triangle).

    >>> import xpgrad as xg
    >>> a = xg.asarray([[4.0, 2.0], [2.0, 3.0]], dtype=xg.float64)
    >>> x = xg.linalg.cholesky_solve(xg.asarray([[2.0], [1.0]], dtype=xg.float64),
    ...                              xg.linalg.cholesky(a))
    >>> (a @ x).tolist()
    [[2.0], [1.0]]
    """
    who = "linalg.cholesky_solve"
    factor, b = as_tensor(L, "cholesky_solve", "L"), as_tensor(B, "cholesky_solve", "B")
    check_matrix("cholesky_solve", factor, square=True, what="L")
    check_floating("cholesky_solve", factor, "L")
    check_floating("cholesky_solve", b, "B")
    upper = flag(upper, "upper", who)
    n = factor.shape[-1]
    if b.ndim == 1 and b.shape[0] == n:
        return cholesky_solve(b[:, None], factor, upper)[..., 0]
    if b.ndim < 2 or b.shape[-2] != n:
        raise ValueError(f"{who}: B must have shape (..., {n}, k) or ({n},) to match L of shape "
                         f"{factor.shape}, got shape {b.shape}")
    if factor.dtype != b.dtype:
        raise TypeError(f"{who}: B and L must have the same dtype, got {b.dtype} and "
                        f"{factor.dtype}")
    broadcast_batch(who, factor.shape[:-2], b.shape[:-2], factor.shape, b.shape)
    adjoint = factor.mT
    if factor.dtype.is_complex:
        from .elementwise import conj

        adjoint = conj(adjoint)
    lower_factor, upper_factor = (adjoint, factor) if upper else (factor, adjoint)
    y = solve_triangular(lower_factor, b, upper=False)
    return solve_triangular(upper_factor, y, upper=True)


__all__: list = []
