"""``for_scipy``: an xpgrad function that takes and returns NumPy, for SciPy's optimizers.

SciPy reads what a function returns through NumPy functions (``np.atleast_1d(g)``), which
dispatch to xpgrad on Tensors and keep them Tensors, and its Fortran solvers (L-BFGS-B, SLSQP)
take NumPy arrays only: ``minimize(xg.value_and_grad(f), x0, jac=True, method="L-BFGS-B")``
fails with 'argument 7 must be numpy.ndarray, not Tensor'. Wrapped, the same call works as with
``jax.value_and_grad``, and the result holds NumPy arrays.

>>> import numpy as np, xpgrad as xg
>>> fun = xg.for_scipy(xg.value_and_grad(lambda x: xg.sum((x - 1.0) ** 2)))
>>> value, g = fun(np.array([0.0, 3.0]))
>>> value, g
(5.0, array([-2.,  4.]))
"""
from __future__ import annotations

import functools

import numpy as np

from .creation import asarray
from .tensor import Tensor


def for_scipy(fn, backend=None):
    """``fn`` taking NumPy arrays (made Tensors on ``backend``, dtype kept: SciPy's float64 stays
    float64) and returning NumPy: a 0-d Tensor as a Python number, others as a new ``ndarray``,
    through tuples and lists (``(value, gradient)``). Other arguments pass as they are.

    >>> import numpy as np, xpgrad as xg
    >>> xg.for_scipy(xg.jacobian(lambda x: x * x))(np.array([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    if not callable(fn):
        raise TypeError(f"for_scipy takes a callable fn, got {type(fn).__name__} {fn!r}")

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        args = [asarray(a, backend=backend) if isinstance(a, np.ndarray) else a for a in args]
        return _as_numpy(fn(*args, **kwargs))

    return wrapped


def _as_numpy(out):
    if isinstance(out, Tensor):
        return out.item() if out.ndim == 0 else np.array(out.numpy())
    if isinstance(out, (tuple, list)):
        return type(out)(_as_numpy(o) for o in out)
    return out
