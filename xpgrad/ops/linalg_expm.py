"""``xg.linalg.expm``: the matrix exponential (SciPy's and JAX's ``expm``, PyTorch's
``torch.linalg.matrix_exp``), by scaling and squaring with a Pade approximant (Higham 2005,
the algorithm SciPy and JAX use). It is written in xpgrad operations, so every backend runs
it and the tapes differentiate it to any order.

>>> import xpgrad as xg
>>> a = xg.asarray([[0.0, 1.0], [-1.0, 0.0]], dtype=xg.float64)   # a rotation's generator
>>> xg.linalg.expm(a).numpy().round(6).tolist()                   # [[cos 1, sin 1], ...]
[[0.540302, 0.841471], [-0.841471, 0.540302]]
"""
from __future__ import annotations

import math

from ..creation import eye
from ._define import as_tensor
from .linalg_helpers import check_floating, check_matrix

# Pade approximants' numerator coefficients b_0 .. b_m (the denominator's are b_k (-1)^k) and
# the largest 1-norm each is accurate to unit roundoff for, in float64 (Higham 2005, table
# 10.2) and float32 (degrees 3, 5 and 7 suffice there)
_PADE = {
    3: (120.0, 60.0, 12.0, 1.0),
    5: (30240.0, 15120.0, 3360.0, 420.0, 30.0, 1.0),
    7: (17297280.0, 8648640.0, 1995840.0, 277200.0, 25200.0, 1512.0, 56.0, 1.0),
    9: (17643225600.0, 8821612800.0, 2075673600.0, 302702400.0, 30270240.0, 2162160.0,
        110880.0, 3960.0, 90.0, 1.0),
    13: (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
         129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
         40840800.0, 960960.0, 16380.0, 182.0, 1.0),
}
_THETA64 = ((3, 1.495585217958292e-2), (5, 2.539398330063230e-1), (7, 9.504178996162932e-1),
            (9, 2.097847961257068), (13, 5.371920351148152))
_THETA32 = ((3, 4.258730016922831e-1), (5, 1.880152677804762), (7, 3.925724783138660))


def expm(A, /, *, max_squarings=16):
    """The matrix exponential ``exp(A) = sum_k A^k / k!`` of each matrix of ``A``
    (``(..., n, n)``, real or complex floating): ``jax.scipy.linalg.expm``,
    ``scipy.linalg.expm``, ``torch.linalg.matrix_exp``. Differentiable (to any order) in
    ``A``. Eagerly the Pade degree and the number of squarings are chosen from the largest
    1-norm in the batch, as SciPy chooses them; under ``xg.function`` and inside ``xg.vmap``,
    where that value cannot steer Python, the degree is 13 and up to ``max_squarings``
    squarings are masked in (JAX's way: a matrix needing more gives NaN there, JAX's
    default bound 16 covers 1-norms up to 3.5e5).

    >>> import xpgrad as xg
    >>> a = xg.asarray([[1.0, 2.0], [0.0, 1.0]], dtype=xg.float64)
    >>> xg.linalg.expm(a).numpy().round(6).tolist()             # e [[1, 2], [0, 1]]
    [[2.718282, 5.436564], [0.0, 2.718282]]
    >>> (xg.grad(lambda a: xg.linalg.trace(xg.linalg.expm(a)))(a).numpy().round(6) + 0.0).tolist()
    [[2.718282, 0.0], [5.436564, 2.718282]]
    """
    return _expm(A, max_squarings, "expm")


def matrix_exp(A, /, *, max_squarings=16):
    """``expm`` under PyTorch's name (``torch.linalg.matrix_exp``); its errors name
    ``matrix_exp``.

    >>> import xpgrad as xg
    >>> xg.linalg.matrix_exp(xg.zeros((2, 2))).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return _expm(A, max_squarings, "matrix_exp")


def _expm(A, max_squarings, who):
    """``expm``, whose errors name ``who`` (the function the user called)."""
    from . import abs as _abs, max as _max, sum as _sum

    a = as_tensor(A, who, "A")
    check_matrix(who, a, square=True, what="A")
    check_floating(who, a, "A")
    if isinstance(max_squarings, bool) or not isinstance(max_squarings, int) or \
            max_squarings < 0:
        raise ValueError(f"linalg.{who}: max_squarings must be a non-negative int, got "
                         f"{max_squarings!r}")
    if a.size == 0:
        return a + 0
    thetas = _THETA32 if a.dtype.name in ("float32", "complex64") else _THETA64
    norm = _max(_sum(_abs(a), axis=-2), axis=-1)       # each matrix's 1-norm
    if _symbolic(a):
        return _masked_squarings(a, norm, thetas[-1][1], max_squarings)
    largest = float(_max(norm))
    if not math.isfinite(largest):
        return a * math.nan
    squarings = 0
    for degree, theta in thetas:
        if largest <= theta:
            break
    else:
        squarings = max(0, math.ceil(math.log2(largest / theta)))
        a = a * (0.5 ** squarings)
    result = _pade(a, degree)
    for _ in range(squarings):
        result = result @ result
    return result


def _symbolic(a) -> bool:
    """Whether ``a``'s values are not known to Python: an ``xg.function`` trace computes them,
    or ``xg.vmap`` batches them."""
    from ..batching.batched import BatchedArray
    from ..jit.traced import Traced

    raw = a._data
    return (type(raw) is Traced and raw._tracer.active) or isinstance(raw, BatchedArray)


def _masked_squarings(a, norm, theta, max_squarings):
    """Degree 13 on ``a / 2^s``, then ``max_squarings`` squarings, each kept where ``s`` asks
    for it (``s`` per matrix, from its 1-norm ``norm``); NaN where ``s`` exceeds the bound."""
    from . import ceil, clip, log2, maximum, where

    tiny = theta * 2.0 ** -60
    needed = maximum(ceil(log2(maximum(norm, tiny) / theta)), 0.0)[..., None, None]
    squarings = clip(needed, 0.0, float(max_squarings))
    result = _pade(a * 2.0 ** -squarings, 13)
    for i in range(max_squarings):
        result = where(squarings > i, result @ result, result)
    return where(needed > max_squarings, math.nan, result)


def _pade(a, degree):
    """The ``[degree/degree]`` Pade approximant of ``exp`` at ``a``: ``(V - U)^-1 (V + U)``
    with ``U`` the odd and ``V`` the even terms."""
    from .linalg_solve import solve

    b = _PADE[degree]
    identity = eye(a.shape[-1], dtype=a.dtype, backend=a._backend)
    a2 = a @ a
    if degree < 13:
        powers = [identity, a2]                      # the even powers A^0, A^2, ..., A^(m-1)
        while len(powers) <= degree // 2:
            powers.append(powers[-1] @ a2)
        u = a @ sum(b[2 * k + 1] * p for k, p in enumerate(powers))
        v = sum(b[2 * k] * p for k, p in enumerate(powers))
    else:
        a4 = a2 @ a2
        a6 = a4 @ a2
        u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2)
                 + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * identity)
        v = (a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2)
             + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * identity)
    return solve(v - u, v + u)
