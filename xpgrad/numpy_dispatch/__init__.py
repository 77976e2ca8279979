"""NumPy called on Tensors runs xpgrad: ``np.exp(t)`` is ``xg.exp(t)``, and stays on the tape.

``Tensor.__array_ufunc__`` and ``Tensor.__array_function__`` (NumPy's dispatch protocols, as
MyGrad uses them) send NumPy's ufuncs and functions to the xpgrad function of the same meaning:
``np.add`` to ``xg.add``, ``np.power`` to ``xg.pow``, ``np.absolute`` to ``xg.abs``,
``np.concatenate`` to ``xg.concat``, ``np.transpose`` to ``xg.permute_dims``, ``np.sum(t,
axis=0)`` to ``xg.sum``, ``np.add.reduce`` to ``xg.sum``, ``np.linalg.*`` and ``np.fft.*`` to
``xg.linalg`` and ``xg.fft``, with NumPy's argument conventions translated (``axis=None``
flattening where NumPy flattens, ``ddof``, ``dtype=``). The xpgrad function is looked up when
called, so a mapping works as soon as xpgrad has the function. ``out=`` is honoured when every
output is a Tensor (written with ``out[...] = result``, see ``xpgrad/inplace.py``); an
``ndarray`` ``out`` takes the NumPy path below.

Anything without a mapping (a NumPy function xpgrad has no counterpart for, an argument it does
not translate, ``ufunc.at``) raises TypeError while a recording tape differentiates one of the
tensors involved — never a NumPy array whose gradient would silently come back None. Outside any
tape (or when no tensor involved is differentiated) it falls back to NumPy on the tensors' values
(read-only arrays, so NumPy cannot write into a tensor) and returns what NumPy returns. Functions
whose results carry no gradient (``np.shape``, ``np.allclose``, ``np.isclose``, ...) take that
path even under a tape.

>>> import numpy as np, xpgrad as xg
>>> x = xg.asarray([0.0, 1.0], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = np.sum(np.exp(x) * 2.0)
>>> type(y).__name__, tape.gradient(y, x).tolist()
('Tensor', [2.0, 5.43656365691809])
"""
from __future__ import annotations

from .functions import FUNCTIONS, NO_GRADIENT, array_function, numpy_function
from .ufuncs import ACCUMULATE, COMPOSED, REDUCE, UFUNCS, array_ufunc

# the adapters of NumPy's functions, by kind: importing them fills FUNCTIONS
from . import reductions, manipulation, elementwise, products, searching  # noqa: F401
from . import linalg, fft, statistics  # noqa: F401

__all__ = ["ACCUMULATE", "COMPOSED", "FUNCTIONS", "NO_GRADIENT", "REDUCE", "UFUNCS",
           "array_function", "array_ufunc", "numpy_function"]
