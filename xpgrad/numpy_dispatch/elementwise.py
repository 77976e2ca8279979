"""NumPy's elementwise-like functions on Tensors: ``np.where``, ``np.clip``, ``np.round``,
``np.real``/``np.imag``, ``np.diff``, ``np.tril``/``np.triu``, ``np.sinc``,
``np.nan_to_num``, ``np.meshgrid`` and the ``*_like`` constructors.

>>> import numpy as np, xpgrad as xg
>>> np.clip(xg.asarray([-2.0, 0.5, 3.0]), -1.0, 1.0).tolist()
[-1.0, 0.5, 1.0]
"""
from __future__ import annotations

from ..tensor import Tensor
from .arguments import _Unsupported, _dtype, _fn, _refuse, _tensor
from .functions import FUNCTIONS, numpy_function


# -- elementwise-like functions -------------------------------------------------------------------

@numpy_function("where")
def _where(condition, *xy):
    if not xy:
        return _fn("nonzero")(_tensor(condition))
    if len(xy) != 2:
        raise TypeError("np.where takes either one or three arguments")
    return _fn("where")(_tensor(condition), *xy)


@numpy_function("clip")
def _clip(a, a_min=None, a_max=None, *, min=None, max=None, **rest):
    _refuse(rest, "np.clip")
    low = a_min if min is None else min
    high = a_max if max is None else max
    a = _tensor(a)
    bounds = [b for b in (low, high) if b is not None]
    if not a.dtype.is_inexact and any(isinstance(b, (float, complex)) or getattr(
            getattr(b, "dtype", None), "kind", "") in ("f", "c") for b in bounds):
        a = _fn("astype")(a, _fn("result_type")(a, *bounds))   # NumPy's result: floating
    return _fn("clip")(a, low, high)


@numpy_function("sinc")
def _sinc(x):
    return _fn("sinc")(_tensor(x))


@numpy_function("nan_to_num")
def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    return _fn("nan_to_num")(_tensor(x), nan=nan, posinf=posinf, neginf=neginf)


@numpy_function("round", "around")
def _round(a, decimals=0):
    if decimals:
        raise _Unsupported(f"np.round with decimals={decimals}")
    return _fn("round")(_tensor(a))


@numpy_function("real")
def _real(val):
    val = _tensor(val)
    return _fn("real")(val) if val.dtype.is_complex else val


@numpy_function("imag")
def _imag(val):
    val = _tensor(val)
    return _fn("imag")(val) if val.dtype.is_complex else _fn("zeros_like")(val)


@numpy_function("diff")
def _diff(a, n=1, axis=-1, prepend=None, append=None):
    kwargs = {}
    if prepend is not None:
        kwargs["prepend"] = _tensor(prepend)
    if append is not None:
        kwargs["append"] = _tensor(append)
    return _fn("diff")(_tensor(a), axis=axis, n=n, **kwargs)


@numpy_function("tril")
def _tril(m, k=0):
    return _fn("tril")(_tensor(m), k=k)


@numpy_function("triu")
def _triu(m, k=0):
    return _fn("triu")(_tensor(m), k=k)


@numpy_function("meshgrid")
def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    if sparse:
        raise _Unsupported("np.meshgrid with sparse=True")
    return tuple(_fn("meshgrid")(*[_tensor(x) for x in xi], indexing=indexing))


def _make_like(name):
    def adapter(prototype, dtype=None, order="K", subok=True, shape=None, *, device=None):
        p = _tensor(prototype)
        dt = p.dtype if dtype is None else _dtype(dtype)
        if shape is not None:
            return _fn(name.replace("_like", ""))(shape, dtype=dt, backend=p.backend)
        return _fn(name)(p, dtype=dt)
    return adapter


for _name in ("zeros_like", "ones_like", "empty_like"):
    FUNCTIONS[("numpy", _name)] = _make_like(_name)


@numpy_function("full_like")
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    p = _tensor(a)
    dt = p.dtype if dtype is None else _dtype(dtype)
    if shape is not None:
        return _fn("full")(shape, fill_value, dtype=dt, backend=p.backend)
    return _fn("full_like")(p, fill_value, dtype=dt)
