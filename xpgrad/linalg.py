"""The array API's ``linalg`` extension (2023.12 / 2024.12), differentiable: ``xg.linalg``.

The primitives live in ``xpgrad/ops/linalg*.py``: products in ``linalg.py``, inverses and
determinants in ``linalg_solve.py``, pinv and matrix_rank in ``linalg_rank.py``, the matrix
exponential in ``linalg_expm.py``, PyTorch's ``solve_triangular`` and ``cholesky_solve`` in
``linalg_triangular.py``, decompositions in ``linalg_decomp.py``, norms in ``linalg_norms.py``,
what their rules share in ``linalg_helpers.py``. Decompositions return namedtuples (``eigh ->
(eigenvalues, eigenvectors)``, ``qr -> (Q, R)``, ``slogdet -> (sign, logabsdet)``, ``svd -> (U,
S, Vh)``).

>>> import xpgrad as xg
>>> xg.linalg.matmul(xg.ones((2, 3)), xg.ones((3, 2))).shape
(2, 2)
>>> a = xg.asarray([[4.0, 1.0], [1.0, 3.0]], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(a)
...     y = xg.linalg.slogdet(a).logabsdet + xg.linalg.matrix_norm(a, ord="nuc")
>>> tape.gradient(y, a).numpy().round(4).tolist()
[[1.2727, -0.0909], [-0.0909, 1.3636]]
"""
from .ops.linalg import (cross, diagonal, matmul, matrix_transpose, outer, tensordot, trace,
                         vecdot)
from .ops.linalg_decomp import (EighResult, QRResult, SVDResult, eigh, eigvalsh, qr, svd,
                                svdvals)
from .ops.linalg_eig import EigResult, eig, eigvals
from .ops.linalg_expm import expm, matrix_exp
from .ops.linalg_norms import matrix_norm, norm, vector_norm
from .ops.linalg_solve import (SlogdetResult, cholesky, det, inv, matrix_power, matrix_rank,
                               pinv, slogdet, solve)
from .ops.linalg_triangular import cholesky_solve, solve_triangular

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
           "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv",
           "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot",
           "vector_norm", "EighResult", "QRResult", "SVDResult", "SlogdetResult"]
__all__ += ["eig", "eigvals", "EigResult"]          # 2025.12: general matrices (linalg_eig.py)
__all__ += ["solve_triangular", "cholesky_solve"]   # PyTorch's, beyond the array API
__all__ += ["norm"]                                 # NumPy's and JAX's, beyond the array API
__all__ += ["expm", "matrix_exp"]                   # SciPy's and JAX's, PyTorch's name


#: SciPy's and JAX's ``scipy.linalg`` names that xpgrad spells otherwise
_SCIPY_NAMES = {
    "cho_factor": "xg.linalg.cholesky(a), the lower factor L (cho_factor's (c, lower) pair is "
                  "(L, True))",
    "cho_solve": "xg.linalg.cholesky_solve(b, L) (PyTorch's order: jax.scipy.linalg.cho_solve("
                 "(L, True), b); b of shape (..., n, k), so a vector is b[:, None]; upper=True "
                 "for an upper factor)",
    "logdet": "xg.linalg.slogdet(a).logabsdet (its .sign says whether the determinant is "
              "negative)",
    "sqrtm": "for a symmetric positive semidefinite a: w, v = xg.linalg.eigh(a); "
             "(v * xg.sqrt(w)) @ v.mT (no general sqrtm)",
}


def __getattr__(name):
    from ._args import no_module_attribute

    raise no_module_attribute(__name__, name, _SCIPY_NAMES.get(name))
