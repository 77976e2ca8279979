"""Backends: the base class, the registry, and which backend a call runs on.

A backend is an object with a ``name`` and an array-API namespace ``xp``. It may register
``kernels`` -- faster implementations of primitives, keyed by primitive name -- and override the
optimizer-update methods. Selection order, first match wins: the ``backend=`` argument, the
tensors' own backend, ``use_backend(...)``, ``set_backend(...)``, ``$XPGRAD_BACKEND``, ``"numpy"``.

>>> import xpgrad as xg
>>> with xg.use_backend("numpy"):
...     xg.zeros(2).backend.name
'numpy'
"""
from __future__ import annotations

import contextlib
import importlib
import os
import threading
from dataclasses import dataclass
from typing import Callable

from . import dtypes as _dt

ENTRY_POINT_GROUP = "xpgrad.backends"


class BackendUnavailableError(RuntimeError):
    """A backend is known but cannot run here; the message says why and how to fix it."""


class UnknownBackendError(ValueError):
    """No backend of that name is registered."""


class MixedBackendError(ValueError):
    """Tensors from two backends met in one operation."""


@dataclass(frozen=True)
class Kernel:
    """A backend's own implementation of one primitive (first-order passes only).

    ``forward(*raw_args, **params)`` returns ``(out, saved)``, or None to fall back to the generic
    rule (unsupported dtype, layout...). ``vjp(g, saved, *raw_args, **params)`` returns one
    gradient per positional argument: None where there is none, NotImplemented where the
    generic rule should compute it (e.g. the gradient for a loss's probability targets).
    Higher-order passes never use kernels; they run the generic rule.
    """

    forward: Callable
    vjp: Callable


class Backend:
    """Base class. Subclasses set ``name`` and ``xp`` and may fill ``kernels``.

    The optimizer methods update ``param`` (and state arrays) in place, written once against
    ``xp``; a backend with fused kernels overrides them.
    """

    name: str = "?"
    xp = None
    kernels: dict = {}

    # -- dtypes and data movement -------------------------------------------------------------
    def native_dtype(self, dtype: _dt.DType):
        return getattr(self.xp, dtype.name)

    def xg_dtype(self, native) -> _dt.DType:
        return _dt.as_dtype(native)

    def asarray(self, obj, dtype=None):
        return self.xp.asarray(obj) if dtype is None else self.xp.asarray(obj, dtype=dtype)

    def to_numpy(self, x):
        raise NotImplementedError

    def from_numpy(self, a):
        return self.xp.asarray(a)

    def device(self, x):
        from array_api_compat import device

        return device(x)

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on the CPU)."""

    def rng(self, seed):
        """A native random generator with ``standard_normal``, ``random`` and ``integers``."""
        raise NotImplementedError

    def index_add(self, target, key, values):
        """``target[key] += values`` with repeated indices accumulating (in place)."""
        raise NotImplementedError

    def index_range(self, a) -> tuple:
        """``(min, max)`` of a non-empty integer array as Python ints, read back in one
        transfer (one device synchronization)."""
        xp = self.xp
        lo, hi = self.to_numpy(xp.stack([xp.min(a), xp.max(a)])).tolist()
        return int(lo), int(hi)

    def describe(self) -> dict:
        return {"name": self.name}

    # -- optimizer updates (in place) ---------------------------------------------------------
    def sgd_update(self, param, grad, velocity, lr, momentum, nesterov, weight_decay):
        if weight_decay:
            grad = grad + weight_decay * param
        if velocity is None:
            param -= lr * grad
            return
        velocity *= momentum
        velocity += grad
        param -= lr * (grad + momentum * velocity if nesterov else velocity)

    def adagrad_update(self, param, grad, accum, lr, eps):
        accum += grad * grad
        param -= lr * grad / (self.xp.sqrt(accum) + eps)

    def adadelta_update(self, param, grad, accum_g, accum_dx, lr, rho, eps):
        xp = self.xp
        accum_g *= rho
        accum_g += (1 - rho) * grad * grad
        delta = xp.sqrt(accum_dx + eps) / xp.sqrt(accum_g + eps) * grad
        accum_dx *= rho
        accum_dx += (1 - rho) * delta * delta
        param -= lr * delta

    def rmsprop_update(self, param, grad, sq, mom, lr, rho, momentum, eps):
        sq *= rho
        sq += (1 - rho) * grad * grad
        step = grad / (self.xp.sqrt(sq) + eps)
        if mom is None:
            param -= lr * step
        else:   # PyTorch's form: lr outside the buffer, so a changing lr acts at once
            mom *= momentum
            mom += step
            param -= lr * mom

    def adam_update(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
        xp = self.xp
        if weight_decay and decoupled:
            param *= 1 - lr * weight_decay
        elif weight_decay:
            grad = grad + weight_decay * param
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        bc1 = 1 - beta1**step
        bc2 = 1 - beta2**step
        param -= (lr / bc1) * m / (xp.sqrt(v / bc2) + eps)

    def __repr__(self) -> str:
        return f"<xpgrad backend {self.name!r}>"


# -- registry --------------------------------------------------------------------------------

_factories: dict[str, Callable[[], Backend] | str] = {
    "numpy": "xpgrad.backends.numpy:NumpyBackend",
    "numba": "xpgrad.backends.numba:NumbaBackend",
    "cupy": "xpgrad.backends.cupy:CupyBackend",
}
_instances: dict[str, Backend] = {}
_failures: dict[str, str] = {}
_entry_points_loaded = False


def register_backend(name: str, factory) -> None:
    """Register a backend class (or zero-argument factory, or ``"module:attr"`` string).

    >>> class Mine(NumpyLike): ...          # doctest: +SKIP
    >>> register_backend("mine", Mine)      # doctest: +SKIP
    """
    _factories[name] = factory
    _instances.pop(name, None)
    _failures.pop(name, None)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _factories.setdefault(ep.name, ep.value)


def _construct(name: str) -> Backend:
    factory = _factories[name]
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except AttributeError:
            raise ImportError(f"module {module!r} has no attribute {attr!r}") from None
    return factory()


def get_backend(name) -> Backend:
    """The backend instance for ``name`` (a Backend passes through).

    Raises UnknownBackendError for a name nobody registered and BackendUnavailableError (with
    the reason) for a known backend that cannot run here.
    """
    if isinstance(name, Backend):
        return name
    inst = _instances.get(name)
    if inst is not None:
        return inst
    if not isinstance(name, str):
        raise TypeError(f"backend must be a name or a Backend, got {type(name).__name__}")
    if name not in _factories:
        _load_entry_points()
    if name not in _factories:
        raise UnknownBackendError(
            f"unknown backend {name!r}; known backends: {sorted(_factories)}")
    if name in _failures:
        raise BackendUnavailableError(_failures[name])
    try:
        inst = _construct(name)
    except BackendUnavailableError as e:
        _failures[name] = str(e)
        raise
    except ImportError as e:
        _failures[name] = f"backend {name!r} could not be imported: {e}"
        raise BackendUnavailableError(_failures[name]) from e
    _instances[name] = inst
    return inst


def available_backends() -> dict[str, dict]:
    """Every known backend with whether it runs here and, if not, why.

    >>> available_backends()["numpy"]["available"]
    True
    """
    _load_entry_points()
    report = {}
    for name in sorted(_factories):
        try:
            be = get_backend(name)
            report[name] = {"available": True, "reason": None, **be.describe()}
        except BackendUnavailableError as e:
            report[name] = {"available": False, "reason": str(e)}
        except Exception as e:  # a broken third-party factory must not break the report
            report[name] = {"available": False, "reason": f"{type(e).__name__}: {e}"}
    return report


# -- selection -------------------------------------------------------------------------------

class _Selection(threading.local):
    def __init__(self):
        self.stack: list[Backend] = []


_selection = _Selection()
_global_default: Backend | None = None


def set_backend(name) -> Backend:
    """Make ``name`` the default backend for this process (below ``use_backend``)."""
    global _global_default
    _global_default = get_backend(name)
    return _global_default


@contextlib.contextmanager
def use_backend(name):
    """Within the block, calls with no tensor inputs and no ``backend=`` run on ``name``."""
    be = get_backend(name)
    _selection.stack.append(be)
    try:
        yield be
    finally:
        _selection.stack.pop()


def current_backend() -> Backend:
    """The backend a call with no tensor inputs runs on (see the module docstring)."""
    stack = _selection.stack
    if stack:
        return stack[-1]
    if _global_default is not None:
        return _global_default
    return get_backend(os.environ.get("XPGRAD_BACKEND") or "numpy")
