"""Gradient checking against central finite differences, and cross-backend comparison.

>>> import xpgrad as xg
>>> xg.testing.check_grads(lambda x: xg.sum(xg.sin(x) * x), [xg.asarray([0.3, 1.2], dtype="float64")], order=2)
"""
from __future__ import annotations

from .creation import asarray
from .functional import vjp
from .tensor import Tensor


def _float64_args(args):
    out = []
    for a in args:
        t = a if isinstance(a, Tensor) else asarray(a, dtype="float64")
        if t.dtype != "float64":
            raise ValueError(f"check_grads needs float64 inputs for accurate finite "
                             f"differences, got {t.dtype}")
        out.append(t)
    return out


def numerical_vjp(f, args, cotangent, eps=1e-6):
    """Central finite-difference estimate of ``d/dargs sum(f(*args) * cotangent)`` (NumPy)."""
    import numpy as np

    args = _float64_args(args)
    ct = cotangent.numpy()
    results = []
    for i, a in enumerate(args):
        base = a.numpy()
        grad = np.zeros(base.shape, dtype=np.float64)
        for j in range(base.size):
            bumped = []
            for sign in (1.0, -1.0):
                x = base.copy().reshape(-1)
                x[j] += sign * eps
                trial = list(args)
                trial[i] = asarray(x.reshape(base.shape), backend=a.backend)
                bumped.append((f(*trial).numpy() * ct).sum())
            grad.flat[j] = (bumped[0] - bumped[1]) / (2 * eps)
        results.append(grad)
    return results


def check_grads(f, args, order=1, eps=1e-6, rtol=1e-5, atol=1e-6, seed=0):
    """Assert that reverse-mode gradients of ``f`` match finite differences.

    ``f`` maps float64 tensors to a tensor; its output is weighted by a random cotangent, so
    non-scalar outputs are covered. ``order=2`` also checks the gradient of the gradient (run
    through nested tapes). Raises AssertionError naming the argument and order that disagree.
    """
    _check(f, _float64_args(args), order, 1, eps, rtol, atol, seed)


def _check(f, args, order, level, eps, rtol, atol, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    out, pullback = vjp(f, *args)
    ct = asarray(rng.standard_normal(out.shape), dtype="float64", backend=out.backend)
    analytic = pullback(ct)
    numeric = numerical_vjp(f, args, ct, eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        got = a.numpy()
        if got.shape != n.shape or not np.allclose(got, n, rtol=rtol, atol=atol):
            raise AssertionError(
                f"gradient of argument {i} (order {level}) disagrees with finite differences:"
                f"\nreverse mode: {got}\nnumerical:    {n}")
    if order > 1:
        def pulled(*xs):
            from .ops import concat, reshape

            gs = vjp(f, *xs)[1](ct)
            return concat([reshape(g, (-1,)) for g in gs])

        _check(pulled, args, order - 1, level + 1, eps, rtol * 10, atol * 10, seed + 1)


def assert_same(a, b, rtol=1e-5, atol=1e-6):
    """Assert two tensors (possibly on different backends) hold the same values."""
    import numpy as np

    x = a.numpy() if isinstance(a, Tensor) else np.asarray(a)
    y = b.numpy() if isinstance(b, Tensor) else np.asarray(b)
    np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)
