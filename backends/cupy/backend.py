"""The CuPy backend: xpgrad on an NVIDIA GPU, with fused CUDA kernels.

Available only when CuPy imports and a CUDA device answers; otherwise constructing it raises
``BackendUnavailableError`` saying which. Arrays live on the current CUDA device; ``Tensor.to``
moves them explicitly. Random numbers come from a host NumPy generator and are copied to the
device, so a seeded run draws exactly the numbers the numpy backend draws.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0], backend="cupy")      # doctest: +SKIP
>>> x.to("numpy").tolist()                           # doctest: +SKIP
[1.0, 2.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad import dtypes as _dt
from xpgrad.backend import Backend, BackendUnavailableError, KernelTable

# xpgrad is installed from its source checkout (it is not on PyPI): the extras work there
INSTALL_HINT = ('pip install -e ".[cuda]" (CUDA 12) or -e ".[cuda13]" (CUDA 13) in the xpgrad '
                'checkout, or any CuPy >= 14.2 wheel that matches the driver '
                '(pip install cupy-cuda12x)')
_BY_NATIVE = {np.dtype(d.name): d for d in _dt.ALL.values()}


def _import_cupy():
    """CuPy, after checking that a CUDA device answers; else BackendUnavailableError."""
    try:
        import cupy
    except ImportError as e:
        raise BackendUnavailableError(
            f"backend 'cupy' needs CuPy, which is not installed ({e}); install it with "
            f"{INSTALL_HINT}; see docs/gpu.md") from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:   # CUDARuntimeError: no driver, driver too old, no device
        raise BackendUnavailableError(
            f"backend 'cupy': CuPy {cupy.__version__} is installed but no CUDA device is "
            f"available ({type(e).__name__}: {e})") from e
    if count < 1:
        raise BackendUnavailableError(
            f"backend 'cupy': CuPy {cupy.__version__} is installed but no CUDA device is "
            "available (the driver reports 0 devices)")
    return cupy


class CupyBackend(Backend):
    """CuPy arrays through ``array_api_compat.cupy``; kernels compiled on first use."""

    name = "cupy"

    def __init__(self):
        cupy = _import_cupy()
        import array_api_compat.cupy as xp_cupy
        import cupyx

        from ..numpy.scans import scan_kernels
        from . import activations, losses, optim
        from ._launch import CudaLauncher

        self.xp = xp_cupy
        self._cupy = cupy
        self._scatter_add = cupyx.scatter_add
        self._launcher = CudaLauncher(cupy)
        # the recurrent scans: the NumPy backend's fused kernels run as they are on CuPy arrays
        # (NumPy's API with out=), saving the gate activations for a one-recursion backward
        self.kernels = KernelTable(losses.kernels(self._launcher),
                                   activations.kernels(self._launcher),
                                   optim.kernels(self._launcher), scan_kernels(cupy))

    # -- dtypes and data movement -------------------------------------------------------------
    def native_dtype(self, dtype):
        return np.dtype(dtype.name)

    def xg_dtype(self, native):
        try:
            return _BY_NATIVE[np.dtype(native)]
        except KeyError:
            raise TypeError(f"xpgrad has no dtype for cupy {native}; "
                            f"supported: {sorted(_dt.ALL)}") from None

    def asarray(self, obj, dtype=None):
        return self._cupy.asarray(obj, dtype=dtype)

    def owned_copy(self, raw):
        if type(raw) is self._cupy.ndarray:
            return self._cupy.array(raw, order="C")
        return super().owned_copy(raw)

    def to_numpy(self, x):
        """Copy device -> host (waits for the work that produces ``x``)."""
        return self._cupy.asnumpy(x)

    def from_numpy(self, a):
        """Copy host -> device."""
        return self._cupy.asarray(a)

    def device(self, x):
        return x.device

    def devices(self):
        cuda = self._cupy.cuda
        return [cuda.Device(i) for i in range(cuda.runtime.getDeviceCount())]

    def default_device(self):
        return self._cupy.cuda.Device()

    def on_device(self, native):
        """``with cupy.cuda.Device(native)``: new arrays and kernels go to that GPU."""
        cuda = self._cupy.cuda
        return native if isinstance(native, cuda.Device) else cuda.Device(native)

    def synchronize(self) -> None:
        """Wait until the device has finished all queued work (use it around timings)."""
        self._cupy.cuda.Device().synchronize()

    def rng(self, seed):
        """A host NumPy generator: draws are made on the host and copied to the device by
        ``xg.random``, so the same seed gives the numpy backend's numbers exactly."""
        return np.random.default_rng(seed)

    def warmup(self, dtypes=("float32", "float64")) -> None:
        """Compile (or load from CuPy's cache) every kernel for ``dtypes`` now, not on first use."""
        from . import _sources as S

        ctypes = {S.CTYPE[d] for d in dtypes}
        for module, names in S.MODULES.items():
            for name in names:
                if name[name.index("<") + 1:].split(",")[0].rstrip(">") in ctypes:
                    self._launcher.kernel(module, name)

    def index_add(self, target, key, values):
        self._scatter_add(target, key, values)

    def describe(self) -> dict:
        cupy = self._cupy
        dev = cupy.cuda.Device()
        props = cupy.cuda.runtime.getDeviceProperties(dev.id)
        name = props["name"]
        free, total = dev.mem_info
        return {"name": self.name, "version": cupy.__version__,
                "device": name.decode() if isinstance(name, bytes) else str(name),
                "compute_capability": f"{props['major']}.{props['minor']}",
                "memory_total_gib": round(total / 2**30, 2),
                "memory_free_gib": round(free / 2**30, 2),
                "multiprocessors": self._launcher.sm_count}
