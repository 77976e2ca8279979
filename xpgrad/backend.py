"""Backends: the base class, the registry, and which backend a call runs on.

A backend is an object with a ``name`` and an array-API namespace ``xp``. It may register
``kernels``: faster implementations of primitives, keyed by primitive name (``KernelTable``).
Selection order, first match wins: the ``backend=`` argument, the tensors' own backend,
``use_backend(...)``, ``set_backend(...)``, ``$XPGRAD_BACKEND``, ``"numpy"``.

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
from . import dtypes as _dt
from .kernels import KERNELS_BY_INDEX, Kernel, KernelTable  # noqa: F401 (re-exported)

ENTRY_POINT_GROUP = "xpgrad.backends"


class BackendUnavailableError(RuntimeError):
    """A backend is known but cannot run here; the message says why and how to fix it."""


class UnknownBackendError(ValueError):
    """No backend of that name is registered."""


class MixedBackendError(ValueError):
    """Tensors from two backends met in one operation."""


class Backend:
    """Base class. Subclasses set ``name`` and ``xp`` and may register ``kernels``.

    Every faster version of an operation -- a fused loss, an activation, an optimizer update,
    a recurrent scan -- is a ``Kernel`` registered against that primitive in ``kernels``
    (``register_kernel``); there is no other way to plug one in.
    """

    name: str = "?"
    xp = None
    kernels: dict = {}

    #: Python scalar operands: beside a raw array of exactly this class whose dtype has a table
    #: in ``scalar_arrays`` ({dtype: {value: 0-d array}}), a primitive made with
    #: ``scalar_arrays=True`` (add, subtract, multiply, divide) gets the value as that table's
    #: 0-d array, filled by ``scalar_array`` (NumPy 2 takes a Python scalar through a slow
    #: promotion path: ~0.3 us of a 0.6 us product of 4 floats). None: scalars stay as given
    array_class = None
    scalar_arrays: dict = {}

    def scalar_array(self, dtype, value):
        """``value`` as a 0-d array of ``dtype``, kept in ``scalar_arrays[dtype]``, where that
        computes exactly what the Python scalar does; else ``value`` itself."""
        return value

    def __reduce__(self):
        # pickled and deep-copied by name: a copied Variable or model runs on this process's
        # instance (a second instance met the first as a "mixed backend" in every operation)
        return get_backend, (self.name,)

    def register_kernel(self, primitive, kernel: Kernel) -> None:
        """Use ``kernel`` for ``primitive`` (a Primitive or its name) on this backend.

        >>> import xpgrad as xg
        >>> class Loud(type(xg.get_backend("numpy"))):
        ...     name = "loud"
        >>> be = Loud()
        >>> be.register_kernel("relu", xg.Kernel(lambda x: None))   # declines: generic runs
        >>> xg.nn.relu(xg.asarray([-1.0, 2.0], backend=be)).tolist()
        [0.0, 2.0]
        """
        if not isinstance(self.kernels, KernelTable) or "kernels" not in vars(self):
            self.kernels = KernelTable(self.kernels)
        self.kernels[primitive] = kernel

    # -- dtypes and data movement -------------------------------------------------------------
    def native_dtype(self, dtype: _dt.DType):
        return getattr(self.xp, dtype.name)

    def xg_dtype(self, native) -> _dt.DType:
        """The xpgrad dtype of a native one: by name, else by equality with ``xp``'s dtypes
        (array-API dtype objects need not carry a name)."""
        try:
            return _dt.as_dtype(native)
        except TypeError:
            for d in _dt.ALL.values():
                if getattr(self.xp, d.name, None) == native:
                    return d
            raise

    def asarray(self, obj, dtype=None):
        return self.xp.asarray(obj) if dtype is None else self.xp.asarray(obj, dtype=dtype)

    def to_numpy(self, x):
        raise NotImplementedError

    def from_numpy(self, a):
        return self.xp.asarray(a)

    def device(self, x):
        """The native device of a raw array."""
        from array_api_compat import device

        return device(x)

    def devices(self) -> list:
        """The native devices this backend can place arrays on."""
        info = getattr(self.xp, "__array_namespace_info__", None)
        return list(info().devices()) if info is not None else [self.default_device()]

    def default_device(self):
        info = getattr(self.xp, "__array_namespace_info__", None)
        return info().default_device() if info is not None else "cpu"

    def on_device(self, native):
        """A context in which new arrays are allocated on ``native`` (one device: nothing)."""
        return contextlib.nullcontext()

    def move(self, raw, native):
        """A copy of ``raw`` on this backend's device ``native``."""
        with self.on_device(native):
            try:
                return self.xp.asarray(raw, device=native, copy=True)
            except TypeError:        # a namespace whose asarray takes no device=
                return self.xp.asarray(raw, copy=True)

    def owned_copy(self, raw):
        """A copy of ``raw`` that shares memory with nothing (what a Variable stores: the
        optimizer updates it in place), row-major where the backend can choose."""
        return self.xp.asarray(raw, copy=True)

    def from_dlpack(self, x, copy=None):
        """A raw array from any DLPack producer (shared memory unless ``copy``)."""
        if copy is None:
            return self.xp.from_dlpack(x)
        return self.xp.from_dlpack(x, copy=copy)

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
        transfer (one device synchronization). Under ``xg.function`` the values may be used
        in any way (a shape, a Python branch): a replay checks that the range is exactly the
        one traced, else the call runs eagerly. For a bounds check, ``check_index_range``."""
        xp = self.xp
        lo, hi = self.to_numpy(xp.stack([xp.min(a), xp.max(a)])).tolist()
        return int(lo), int(hi)

    def check_index_range(self, a, within=None) -> tuple:
        """``index_range(a)`` for a bounds check: the caller takes nothing from it but
        whether it raises, and a raise ends the call. Under ``xg.function`` a replay checks
        that the range lies inside the ones traced or accepted by an eager call since (the
        guard widens; docs/function.md). ``within``: where the caller also decides something
        from the range (negative indices wrapped or not), a function of ``(lo, hi)`` giving
        the interval of ranges its decisions hold for; the guard never widens past it.

        >>> import numpy as np, xpgrad as xg
        >>> xg.get_backend("numpy").check_index_range(np.array([3, -1, 2]))
        (-1, 3)
        """
        return self.index_range(a)

    def value_range(self, a, accepted) -> tuple:
        """``(min, max)`` of a non-empty floating array as Python floats, read back in one
        transfer. ``accepted`` is the ``(low, high)`` the caller accepts: under
        ``xg.function`` the replay checks the values against it (outside, the call runs
        eagerly and the caller's check raises)."""
        xp = self.xp
        lo, hi = self.to_numpy(xp.stack([xp.min(a), xp.max(a)])).tolist()
        return float(lo), float(hi)

    def describe(self) -> dict:
        return {"name": self.name}

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
_construction_lock = threading.RLock()    # reentrant: a backend may build another one


def register_backend(name: str, factory) -> None:
    """Register a backend class (or zero-argument factory, or ``"module:attr"`` string).

    >>> class Mine(NumpyLike): ...          # doctest: +SKIP
    >>> register_backend("mine", Mine)      # doctest: +SKIP
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_backend: name must be a non-empty str, got {name!r}")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise TypeError(f"register_backend: factory must be a Backend class, a zero-argument "
                        f"callable or a 'module:attr' string, got {factory!r}")
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
    inst = factory()
    if not isinstance(inst, Backend):
        raise TypeError(f"the factory registered for backend {name!r} returned "
                        f"{type(inst).__name__}, not an xg.Backend")
    return inst


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
    with _construction_lock:        # two threads asking first must get one instance
        inst = _instances.get(name)
        if inst is not None:
            return inst
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
    raw, name, be = _from_environment
    if _ENVIRONMENT.get(_ENVIRONMENT_KEY) is raw and _instances.get(name) is be:
        return be
    return _read_environment()


# os.environ's own table, which its writes (monkeypatch.setenv) update: looking the variable up
# there and comparing by identity skips os.environ.get's key encoding and, where it is unset,
# the KeyError raised and caught inside (2.6 us of xg.zeros' 17 here)
try:
    _ENVIRONMENT, _ENVIRONMENT_KEY = os.environ._data, os.environ.encodekey("XPGRAD_BACKEND")
except AttributeError:              # an os.environ without them: the mapping itself
    _ENVIRONMENT, _ENVIRONMENT_KEY = os.environ, "XPGRAD_BACKEND"

#: ``(raw value of $XPGRAD_BACKEND, the name it gives, its backend)`` as last read: valid while
#: the value is the same object and the registry still holds that backend under the name
_from_environment = (object(), None, None)


def _read_environment() -> Backend:
    global _from_environment
    raw = _ENVIRONMENT.get(_ENVIRONMENT_KEY)
    name = os.environ.get("XPGRAD_BACKEND") or "numpy"
    try:
        be = get_backend(name)
    except (UnknownBackendError, BackendUnavailableError) as e:
        raise type(e)(f"$XPGRAD_BACKEND={name!r}: {e}") from None
    _from_environment = (raw, name, be)
    return be
