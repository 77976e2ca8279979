"""Gradient checking against central finite differences, and cross-backend comparison.

Complex inputs and outputs follow xpgrad's (PyTorch's) convention: for a cotangent ``c`` the
checked quantity is ``L = sum(real(conj(c) * f))``, and the gradient of a complex input
``z = x + iy`` is ``dL/dx + i dL/dy``.

>>> import xpgrad as xg
>>> xg.testing.check_grads(lambda x: xg.sum(xg.sin(x) * x), [xg.asarray([0.3, 1.2], dtype="float64")], order=2)
"""
from __future__ import annotations

import contextlib

from .backend import Backend
from .creation import asarray
from .functional import vjp
from .tensor import Tensor


def _float64_args(args):
    out = []
    for a in args:
        t = a if isinstance(a, Tensor) else asarray(
            a, dtype="complex128" if isinstance(a, complex) or getattr(
                getattr(a, "dtype", None), "kind", "") == "c" else "float64")
        if t.dtype not in ("float64", "complex128"):
            raise ValueError(f"check_grads needs float64 (or complex128) inputs for accurate "
                             f"finite differences, got {t.dtype}")
        out.append(t)
    return out


def numerical_vjp(f, args, cotangent, eps=1e-6):
    """Central finite-difference estimate of ``d/dargs sum(real(conj(cotangent) * f(*args)))``
    (NumPy); for a complex argument, the derivative along its real part plus ``1j`` times the
    one along its imaginary part."""
    import numpy as np

    args = _float64_args(args)
    ct = np.conj(cotangent.numpy())

    def loss(trial):
        return float(np.real(f(*trial).numpy() * ct).sum())

    results = []
    for i, a in enumerate(args):
        base = a.numpy()
        grad = np.zeros(base.shape, dtype=base.dtype)
        steps = (eps, 1j * eps) if base.dtype.kind == "c" else (eps,)
        for j in range(base.size):
            for step in steps:
                bumped = []
                for sign in (1.0, -1.0):
                    x = base.copy().reshape(-1)
                    x[j] += sign * step
                    trial = list(args)
                    trial[i] = asarray(x.reshape(base.shape), backend=a.backend)
                    bumped.append(loss(trial))
                grad.flat[j] += (bumped[0] - bumped[1]) / (2 * eps) * (step / eps)
        results.append(grad)
    return results


def check_grads(f, args, order=1, eps=1e-6, rtol=1e-5, atol=1e-6, seed=0):
    """Assert that reverse-mode gradients of ``f`` match finite differences.

    ``f`` maps float64 (or complex128) tensors to a tensor; its output is weighted by a random
    cotangent, so non-scalar outputs are covered. ``order=2`` also checks the gradient of the gradient (run
    through nested tapes). Raises AssertionError naming the argument and order that disagree.
    ``args`` is a sequence of the arguments (one Tensor alone is taken as the only argument).
    """
    import math

    if isinstance(args, Tensor):
        args = (args,)                  # iterating it would pass its rows as the arguments
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"check_grads: order must be an integer >= 1, got {order!r}")
    for name, value, low in (("eps", eps, 0.0), ("rtol", rtol, None), ("atol", atol, None)):
        ok = isinstance(value, (int, float)) and math.isfinite(value) and (
            value > low if low is not None else value >= 0)
        if not ok:
            raise ValueError(f"check_grads: {name} must be a finite number "
                             f"{'> 0' if low is not None else '>= 0'}, got {value!r}")
    _check(f, _float64_args(args), order, 1, eps, rtol, atol, seed)


def _check(f, args, order, level, eps, rtol, atol, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    out, pullback = vjp(f, *args)
    draw = rng.standard_normal(out.shape)
    if out.dtype.is_complex:
        draw = draw + 1j * rng.standard_normal(out.shape)
    ct = asarray(draw, dtype=out.dtype, backend=out.backend)
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


class _LazyStrict:
    """``array_api_strict``, imported on first use (it is a test dependency only)."""

    def __get__(self, obj, owner):
        import array_api_strict

        return array_api_strict


class StrictBackend(Backend):
    """xpgrad on the array API's reference implementation (``pip install array-api-strict``):
    a third-party backend in a few lines, with no kernels. It runs every generic rule exactly
    as the standard allows, which is how tests and the conformance script catch NumPy-isms.
    ``xg.register_backend("strict", StrictBackend)`` registers it for good;
    ``registered_backend`` for a ``with`` block.

    >>> import xpgrad as xg
    >>> with registered_backend("strict", StrictBackend):
    ...     xg.sum(xg.asarray([1.0, 2.0], backend="strict") ** 2).item()
    5.0
    """

    name = "strict"
    xp = _LazyStrict()

    def asarray(self, obj, dtype=None):
        return self.xp.asarray(obj, dtype=dtype)

    def to_numpy(self, x):
        import numpy as np

        return np.from_dlpack(x)

    def from_numpy(self, a):
        import numpy as np

        return self.xp.asarray(np.ascontiguousarray(a))

    def device(self, x):
        return x.device

    def rng(self, seed):
        """A host NumPy generator, as the cupy backend's: ``xg.random`` copies its draws over,
        so layers initialize here (the same seed: the numpy backend's numbers exactly)."""
        return _HostGenerator(self, seed)


class _HostGenerator:
    """``numpy.random.default_rng(seed)`` whose draws take the backend's native dtypes (and
    NumPy's: the host samplers of ``xg.distributions`` pass those)."""

    def __init__(self, backend, seed):
        import numpy as np

        self._backend, self._generator = backend, np.random.default_rng(seed)
        self._numpy_dtypes = (type, np.dtype)

    def __getattr__(self, name):
        attr = getattr(self._generator, name)
        if not callable(attr):
            return attr

        def draw(*args, dtype=None, **kwargs):
            if dtype is not None:
                kwargs["dtype"] = dtype if isinstance(dtype, self._numpy_dtypes) else \
                    self._backend.xg_dtype(dtype).name
            return attr(*args, **kwargs)

        return draw


@contextlib.contextmanager
def registered_backend(name, factory):
    """``xg.register_backend(name, factory)`` for the ``with`` block only (yields the backend):
    after it ``name`` is registered as it was before, or not at all, and the block's instance
    is dropped, so a test or an example leaves the registry as it found it.

    >>> import xpgrad as xg
    >>> with registered_backend("strict", StrictBackend) as strict:
    ...     strict.name
    'strict'
    >>> xg.get_backend("strict")
    Traceback (most recent call last):
    ...
    xpgrad.backend.UnknownBackendError: unknown backend 'strict'; known backends: [...]
    """
    from . import backend as registry

    kept = {table: dict(getattr(registry, table))
            for table in ("_factories", "_instances", "_failures")}
    registry.register_backend(name, factory)
    try:
        yield registry.get_backend(name)
    finally:
        for table, before in kept.items():
            entries = getattr(registry, table)
            if name in before:
                entries[name] = before[name]
            else:
                entries.pop(name, None)
