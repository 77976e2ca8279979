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


def expm(A, /):
    """The matrix exponential ``exp(A) = sum_k A^k / k!`` of each matrix of ``A``
    (``(..., n, n)``, real or complex floating): ``jax.scipy.linalg.expm``,
    ``scipy.linalg.expm``, ``torch.linalg.matrix_exp``. Differentiable (to any order) in
    ``A``. The number of squarings is chosen from the largest 1-norm in the batch, a value read
    in Python: under ``xg.function`` it is a ``TraceError`` (``on_trace_error="eager"`` runs
    it).

    >>> import xpgrad as xg
    >>> a = xg.asarray([[1.0, 2.0], [0.0, 1.0]], dtype=xg.float64)
    >>> xg.linalg.expm(a).numpy().round(6).tolist()             # e [[1, 2], [0, 1]]
    [[2.718282, 5.436564], [0.0, 2.718282]]
    >>> xg.grad(lambda a: xg.linalg.trace(xg.linalg.expm(a)))(a).numpy().round(6).tolist()
    [[2.718282, 0.0], [5.436564, 2.718282]]
    """
    from ..jit.errors import TraceError, user_line
    from ..jit.trace_state import _tracing
    from . import abs as _abs, max as _max, sum as _sum
    from .linalg_solve import solve

    a = as_tensor(A)
    check_matrix("expm", a, square=True, what="A")
    check_floating("expm", a, "A")
    if _tracing():
        raise TraceError("linalg.expm picks its number of squarings from the matrix's norm, a "
                         "value an xg.function replay cannot repeat: call it outside the traced "
                         "function or trace with on_trace_error='eager'", user_line())
    n = a.shape[-1]
    if a.size == 0:
        return a + 0
    single = a.dtype.name in ("float32", "complex64")
    thetas = _THETA32 if single else _THETA64
    norm = float(_max(_sum(_abs(a), axis=-2)))        # the 1-norm, largest over the batch
    if not math.isfinite(norm):
        return a * math.nan
    identity = eye(n, dtype=a.dtype, backend=a._backend)
    squarings = 0
    for degree, theta in thetas:
        if norm <= theta:
            break
    else:
        squarings = max(0, math.ceil(math.log2(norm / theta)))
        a = a * (0.5 ** squarings)
    b = _PADE[degree]
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
    result = solve(v - u, v + u)
    for _ in range(squarings):
        result = result @ result
    return result
