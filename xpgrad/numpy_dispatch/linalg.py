"""``numpy.linalg`` on Tensors: sent to ``xg.linalg``, with NumPy's conventions translated
(``UPLO=``, ``compute_uv=``, ``rcond=``, ``np.linalg.norm``'s ``ord``/``axis`` cases).

>>> import numpy as np, xpgrad as xg
>>> np.linalg.det(xg.asarray([[2.0, 0.0], [0.0, 3.0]])).item()
6.0
"""
from __future__ import annotations

import numbers

from .arguments import _Unsupported, _fn, _keepdims, _last_two, _tensor
from .functions import FUNCTIONS, numpy_function


# -- numpy.linalg ---------------------------------------------------------------------------------

def _linalg(name, adapt=None):
    def adapter(*args, **kwargs):
        if adapt is not None:
            args, kwargs = adapt(*args, **kwargs)
        return _fn(f"linalg.{name}")(*[_tensor(a) for a in args], **kwargs)
    return adapter


for _name in ("det", "inv", "slogdet", "svdvals", "matrix_transpose", "outer", "matrix_power",
              "tensordot", "vecdot", "matmul", "vector_norm", "matrix_norm", "trace",
              "diagonal", "solve", "eig", "eigvals"):
    FUNCTIONS[("numpy.linalg", _name)] = _linalg(_name)
# (eig/eigvals give complex results even where NumPy's, all eigenvalues real, would be real)


@numpy_function("cholesky", module="numpy.linalg")
def _cholesky(a, /, *, upper=False):
    return _fn("linalg.cholesky")(_tensor(a), upper=upper)


def _uplo(name):
    def adapter(a, UPLO="L"):  # noqa: N803 (NumPy's name)
        a = _tensor(a)
        if UPLO == "U":
            a = _fn("matrix_transpose")(a)
            if a.dtype.is_complex:
                a = _fn("conj")(a)
        return _fn(f"linalg.{name}")(a)
    return adapter


FUNCTIONS[("numpy.linalg", "eigh")] = _uplo("eigh")
FUNCTIONS[("numpy.linalg", "eigvalsh")] = _uplo("eigvalsh")


@numpy_function("svd", module="numpy.linalg")
def _svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    if not compute_uv:
        return _fn("linalg.svdvals")(_tensor(a))
    return _fn("linalg.svd")(_tensor(a), full_matrices=full_matrices)


@numpy_function("qr", module="numpy.linalg")
def _qr(a, mode="reduced"):
    if mode not in ("reduced", "complete"):
        raise _Unsupported(f"np.linalg.qr with mode={mode!r}")
    return _fn("linalg.qr")(_tensor(a), mode=mode)


@numpy_function("pinv", module="numpy.linalg")
def _pinv(a, rcond=None, hermitian=False, *, rtol=None):
    tol = rtol if rcond is None else rcond
    return _fn("linalg.pinv")(_tensor(a), **({} if tol is None else {"rtol": tol}))


@numpy_function("matrix_rank", module="numpy.linalg")
def _matrix_rank(A, tol=None, hermitian=False, *, rtol=None):  # noqa: N803
    if tol is not None:
        raise _Unsupported("np.linalg.matrix_rank with tol=")
    return _fn("linalg.matrix_rank")(_tensor(A), **({} if rtol is None else {"rtol": rtol}))


@numpy_function("multi_dot", module="numpy.linalg")
def _multi_dot(arrays, *, out=None):
    arrays = [_tensor(a) for a in arrays]
    result = arrays[0]
    for a in arrays[1:]:
        result = _fn("matmul")(result, a)
    return result


@numpy_function("norm", module="numpy.linalg")
def _norm(x, ord=None, axis=None, keepdims=False):
    keepdims = _keepdims(keepdims, "np.linalg.norm")
    x = _tensor(x)
    if axis is None and (ord is None or x.ndim == 1):
        return _fn("linalg.vector_norm")(x, ord=2 if ord is None else ord, keepdims=keepdims)
    if axis is None and x.ndim == 2:
        return _fn("linalg.matrix_norm")(x, ord=ord, keepdims=keepdims)
    if isinstance(axis, numbers.Integral) or (axis is not None and len(tuple(axis)) == 1):
        return _fn("linalg.vector_norm")(x, axis=axis, ord=2 if ord is None else ord,
                                         keepdims=keepdims)
    if axis is not None and len(tuple(axis)) == 2 and not keepdims:
        return _fn("linalg.matrix_norm")(_last_two(x, *axis), ord="fro" if ord is None else ord)
    raise _Unsupported(f"np.linalg.norm with ord={ord!r}, axis={axis!r}")
