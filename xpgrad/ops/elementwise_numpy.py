"""NumPy's and JAX's elementwise functions beyond the array API: ``isclose``, ``allclose``,
``nan_to_num`` and ``sinc`` (``xg.special.sinc``, re-exported).

``allclose`` returns a 0-d boolean Tensor, as ``jax.numpy.allclose`` (``bool(...)`` and ``if``
read it; NumPy's returns a Python bool). ``nan_to_num`` passes the gradient where ``x`` is
finite and none where it replaces a value.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, float("nan"), float("inf")])
>>> xg.isclose(x, xg.asarray([1.0 + 1e-9, float("nan"), float("inf")])).tolist()
[True, False, True]
>>> xg.nan_to_num(x, posinf=9.0).tolist()
[1.0, 0.0, 9.0]
"""
from __future__ import annotations

import numbers

from .._args import flag
from ..conversion import named_asarray
from ..tensor import Tensor
from ._define import as_tensor
from .special_more import sinc


def _ns():
    from .. import tensor_methods

    return tensor_methods._ns


def _tolerance(value, name, who):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{who}: {name} must be a non-negative number, got {value!r}")
    return float(value)


def isclose(a, b, /, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether ``|a - b| <= atol + rtol * |b|`` elementwise, with broadcasting, as
    ``numpy.isclose``: infinities are close to equal infinities only, NaN to nothing unless
    ``equal_nan``. No gradient.

    >>> import xpgrad as xg
    >>> xg.isclose(xg.asarray([1.0, 2.0]), 1.0).tolist()
    [True, False]
    """
    return _isclose(a, b, rtol, atol, equal_nan, "isclose")


def _isclose(a, b, rtol, atol, equal_nan, who):
    """``isclose``, whose errors name ``who`` (the function the user called)."""
    xg = _ns()
    rtol, atol = _tolerance(rtol, "rtol", who), _tolerance(atol, "atol", who)
    equal_nan = flag(equal_nan, "equal_nan", who)
    a, b = _inexact(xg, a, b, who)
    finite = xg.logical_and(xg.isfinite(a), xg.isfinite(b))
    a_finite, b_finite = xg.where(finite, a, 0), xg.where(finite, b, 0)    # no inf - inf
    near = xg.abs(a_finite - b_finite) <= atol + rtol * xg.abs(b_finite)
    close = xg.where(finite, near, a == b)
    if equal_nan:
        close = xg.logical_or(close, xg.logical_and(xg.isnan(a), xg.isnan(b)))
    return close


def allclose(a, b, /, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every entry is ``isclose``: a 0-d boolean Tensor, as ``jax.numpy.allclose``.

    >>> import xpgrad as xg
    >>> bool(xg.allclose(xg.asarray([1.0, 2.0]), xg.asarray([1.0, 2.0 + 1e-7])))
    True
    """
    return _ns().all(_isclose(a, b, rtol, atol, equal_nan, "allclose"))


def _inexact(xg, a, b, who):
    """``a`` and ``b`` as Tensors of one inexact dtype (integers compare as float64)."""
    a = a if isinstance(a, Tensor) else None if a is None else as_tensor(a, who, "a")
    if a is None or b is None:
        raise TypeError(f"{who}: a and b must be arrays or numbers, got None")
    b = b if isinstance(b, Tensor) else named_asarray(b, f"{who}: b", backend=a.backend, dtype=(
        a.dtype if a.dtype.is_inexact and isinstance(b, (int, float)) else None))
    dtype = xg.result_type(a, b)
    if not xg.isdtype(dtype, ("real floating", "complex floating")):
        dtype = xg.float64
    return xg.astype(a, dtype), xg.astype(b, dtype)


def nan_to_num(x, /, copy=True, nan=0.0, posinf=None, neginf=None):
    """``x`` with NaN replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (by default
    the dtype's largest and most negative finite numbers), as ``numpy.nan_to_num``; integers
    come back as they are. Always a new tensor (``copy`` is taken for NumPy's signature). The
    gradient is 1 where ``x`` is finite, 0 where a value was replaced.

    >>> import xpgrad as xg
    >>> xg.nan_to_num(xg.asarray([float("-inf"), 2.0]), neginf=-1.0).tolist()
    [-1.0, 2.0]
    """
    xg = _ns()
    flag(copy, "copy", "nan_to_num")
    x = as_tensor(x, "nan_to_num")
    if not x.dtype.is_inexact:
        return x
    if x.dtype.is_complex:
        parts = [nan_to_num(part, nan=nan, posinf=posinf, neginf=neginf)
                 for part in (xg.real(x), xg.imag(x))]
        return xg.astype(parts[0], x.dtype) + xg.astype(parts[1], x.dtype) * 1j
    info = xg.finfo(x.dtype)
    values = {}
    for name, value, default in (("nan", nan, 0.0), ("posinf", posinf, info.max),
                                 ("neginf", neginf, info.min)):
        if value is None:
            value = default
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"nan_to_num: {name} must be a real number or None, got "
                            f"{value!r:.40}")
        values[name] = float(value)
    out = xg.where(xg.isnan(x), values["nan"], x)
    out = xg.where(out == float("inf"), values["posinf"], out)
    return xg.where(out == -float("inf"), values["neginf"], out)


__all__ = ["isclose", "allclose", "nan_to_num", "sinc"]
