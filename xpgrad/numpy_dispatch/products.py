"""NumPy's products on Tensors: ``np.dot``, ``np.vdot``, ``np.inner``, ``np.outer``,
``np.tensordot``, ``np.einsum`` (subscripts form), ``np.trace``, ``np.diagonal``, ``np.diag``,
``np.cross``.

>>> import numpy as np, xpgrad as xg
>>> np.dot(xg.asarray([1.0, 2.0]), xg.asarray([3.0, 4.0])).item()
11.0
"""
from __future__ import annotations

import numbers

from .arguments import _Unsupported, _cast, _flat, _fn, _last_two, _tensor
from .functions import numpy_function


# -- products -------------------------------------------------------------------------------------

@numpy_function("dot")
def _dot(a, b):
    a, b = _tensor(a), _tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2:
        return _fn("matmul")(a, b)
    return _fn("tensordot")(a, b, axes=((a.ndim - 1,), (b.ndim - 2,)))


@numpy_function("vdot")
def _vdot(a, b):
    a, b = _flat(a), _flat(b)
    if a.dtype.is_complex:
        a = _fn("conj")(a)
    return _fn("sum")(a * b)


@numpy_function("inner")
def _inner(a, b):
    return _fn("inner")(_tensor(a), _tensor(b))


@numpy_function("outer")
def _outer(a, b):
    return _fn("outer")(_flat(a), _flat(b))


@numpy_function("tensordot")
def _tensordot(a, b, axes=2):
    if not isinstance(axes, numbers.Integral):
        axes = tuple((x,) if isinstance(x, numbers.Integral) else tuple(x) for x in axes)
    return _fn("tensordot")(_tensor(a), _tensor(b), axes=axes)


@numpy_function("einsum")
def _einsum(*operands, dtype=None, order="K", casting="safe", optimize=False):
    subscripts, *arrays = operands
    if not isinstance(subscripts, str):
        raise _Unsupported("np.einsum in its interleaved form")
    arrays = [_tensor(a) for a in arrays]
    if dtype is not None:
        arrays = [_cast(a, dtype) for a in arrays]
    return _fn("einsum")(subscripts, *arrays)


@numpy_function("trace")
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    a = _last_two(a, axis1, axis2)
    if dtype is not None:
        a = _cast(a, dtype)
    return _fn("linalg.trace")(a, offset=offset)


@numpy_function("diagonal")
def _diagonal(a, offset=0, axis1=0, axis2=1):
    return _fn("linalg.diagonal")(_last_two(a, axis1, axis2), offset=offset)


@numpy_function("diag")
def _diag(v, k=0):
    """A matrix's ``k``-th diagonal, or the square matrix with a vector on its ``k``-th."""
    v = _tensor(v)
    if v.ndim == 2:
        return _fn("linalg.diagonal")(v, offset=k)
    if v.ndim != 1:
        raise ValueError(f"np.diag takes a 1-D or 2-D array, got {v.ndim}-D")
    n = v.shape[0] + abs(k)
    rows = _fn("arange")(v.shape[0], backend=v.backend) + max(-k, 0)
    columns = rows + k
    zeros = _fn("zeros")((n, n), dtype=v.dtype, backend=v.backend)
    return zeros.at[rows, columns].set(v)


@numpy_function("cross")
def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is None and (axisa, axisb, axisc) != (-1, -1, -1):
        raise _Unsupported("np.cross with axisa/axisb/axisc")
    return _fn("linalg.cross")(_tensor(a), _tensor(b), axis=-1 if axis is None else axis)
