"""Devices and the namespace's inspection API (``__array_namespace_info__``); the hints of
``Tensor.to`` given a device or a dtype instead of a backend.

A device is a backend plus that backend's own device (``Device("numpy", "cpu")``,
``Device("cupy", <CUDA Device 0>)``): ``t.device`` tells where a tensor lives, and every
creation function's ``device=`` puts its result there (a Device, or a backend's name).
``to_device`` moves a tensor, recorded on tapes like ``Tensor.to``.

>>> import xpgrad as xg
>>> t = xg.asarray([1.0], device=xg.Device("numpy"))
>>> t.device, t.device == "cpu"
(Device('numpy', 'cpu'), True)
>>> info = xg.__array_namespace_info__()
>>> info.default_dtypes()["real floating"], info.capabilities()["boolean indexing"]
(xpgrad.float32, True)
"""
from __future__ import annotations

from . import dtypes as _dt
from .backend import Backend, available_backends, current_backend, get_backend


class Device:
    """Where a tensor lives: a backend (by name) and, optionally, that backend's device."""

    __slots__ = ("backend", "native")

    def __init__(self, backend: str, native=None):
        be = get_backend(backend)
        self.backend = be.name
        self.native = be.default_device() if native is None else native

    def __eq__(self, other) -> bool:
        if isinstance(other, Device):
            return self.backend == other.backend and self.native == other.native
        if isinstance(other, str):     # "cpu" (the native device) or the backend's name
            return other == str(self.native) or other == self.backend
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.backend, str(self.native)))

    def __repr__(self) -> str:
        return f"Device({self.backend!r}, {self.native!r})"


def device_of(be, raw) -> Device:
    d = Device.__new__(Device)
    d.backend = be.name
    d.native = be.device(raw)
    return d


def resolve(device, backend=None, who=None):
    """The backend (and native device or None) that ``device=``/``backend=`` ask for; errors
    start with ``who`` (the function given them)."""
    if device is None:
        if isinstance(backend, Backend):
            return backend, None    # what get_backend would return, without the call
        return (current_backend() if backend is None else get_backend(backend)), None
    if isinstance(device, Device):
        be = get_backend(device.backend)
        native = device.native
    elif isinstance(device, (str, Backend)) and backend is None:
        try:
            return get_backend(device), None
        except ValueError:
            be, native = current_backend(), device
    else:
        be, native = (current_backend() if backend is None else get_backend(backend)), device
    where = f"{who}: " if who else ""
    if backend is not None and get_backend(backend) is not be:
        raise ValueError(f"{where}device {device!r} is not on backend "
                         f"{get_backend(backend).name!r}")
    if native is not None and native not in be.devices():
        cuda = isinstance(native, str) and native.partition(":")[0] == "cuda" \
            and be.name != "cupy"
        raise ValueError(f"{where}backend {be.name!r} has no device {native!r}; its devices "
                         f"are {be.devices()}" + (_cuda_hint() if cuda else ""))
    return be, native


def _cuda_hint() -> str:
    """What to write for PyTorch's ``device='cuda'``, and whether it can run here."""
    hint = ("; PyTorch's 'cuda' is the cupy backend here: backend='cupy', or "
            "device=xg.Device('cupy', <CUDA device>)")
    report = available_backends().get("cupy")
    if report is not None and not report["available"]:
        hint += f" (not on this machine: {report['reason']})"
    return hint


class Info:
    """What ``__array_namespace_info__()`` returns: capabilities, devices, default dtypes."""

    def capabilities(self) -> dict:
        """Under ``xg.vmap`` no boolean indexing and no data-dependent shapes (each example's
        mask would select a different count), as JAX reports: array-api-extra's
        ``apply_where`` then takes its ``where`` form."""
        from .batching.session import _DEPTH     # batching imports this module

        free = _DEPTH.depth == 0
        return {"boolean indexing": free, "data-dependent shapes": free, "max dimensions": 64}

    def default_device(self) -> Device:
        return Device(current_backend().name)

    def devices(self) -> tuple:
        """Every device of every backend that runs here, a tuple (a list before 2025.12)."""
        out = []
        for name, report in available_backends().items():
            if report["available"]:
                be = get_backend(name)
                out += [Device(name, native) for native in be.devices()]
        return tuple(out)

    def default_dtypes(self, *, device=None) -> dict:
        return dict(_dt.DEFAULTS)

    def dtypes(self, *, device=None, kind=None) -> dict:
        """The dtypes (of ``kind``) that ``device`` holds: all thirteen, unless the device's
        backend says it lacks some (array-api-strict has a device without float64)."""
        names = _dt.ALL
        if isinstance(device, Device):
            info = getattr(get_backend(device.backend).xp, "__array_namespace_info__", None)
            if info is not None:
                native = info().dtypes(device=device.native)
                names = {n: d for n, d in _dt.ALL.items() if n in native}
        return {name: d for name, d in names.items() if kind is None or _dt.isdtype(d, kind)}


def __array_namespace_info__() -> Info:
    """The array API's inspection object for the xpgrad namespace."""
    return Info()


def to_keywords_error(keywords) -> str:
    """The message of ``Tensor.to`` called with PyTorch's keywords (or nothing).

    >>> to_keywords_error({"dtype": "float64"}).split(";")[0]
    'Tensor.to moves between backends and takes no dtype='
    """
    if "dtype" in keywords:
        return (f"Tensor.to moves between backends and takes no dtype=; to change the dtype use "
                f"t.astype({keywords['dtype']}) or xg.astype(t, {keywords['dtype']})")
    if not keywords or "device" in keywords:
        return ("Tensor.to takes one argument, where to: a backend's name ('numpy', 'numba', "
                "'cupy') or an xg.Device (t.to(other.device))")
    return (f"Tensor.to takes one argument, a backend's name or an xg.Device, got keywords "
            f"{sorted(keywords)} (it copies only where memory spaces differ)")


def to_argument_hint(arg):
    """What a PyTorch user meant by ``t.to(arg)`` when ``arg`` names no backend: ``(kind,
    hint)`` for a dtype or a device, ``(None, None)`` otherwise.

    >>> to_argument_hint("cuda")[0], to_argument_hint("float64")[0], to_argument_hint("gpu")
    ('device', 'dtype', (None, None))
    """
    if isinstance(arg, str) and (arg in ("cpu", "cuda") or arg.startswith("cuda:")):
        return "device", ("Tensor.to takes a backend name, not a device: host arrays are on "
                          "'numpy' or 'numba', CUDA arrays on 'cupy'")
    try:
        dtype = _dt.as_dtype(arg)
    except (TypeError, ValueError, KeyError):
        return None, None
    return "dtype", (f"Tensor.to moves between backends and takes no dtype (nor dtype=); to "
                     f"change the dtype use t.astype({dtype}) or xg.astype(t, {dtype})")
