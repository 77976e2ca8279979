"""Where the kernel wrappers meet a device: compiled kernels, device limits and launch plans.

A ``Launcher`` gives the wrappers (``losses``, ``activations``, ``optim``) an array module ``xp``
for allocations (CuPy itself; NumPy under the tests' CPU emulator), the device's limits, and
``kernel(module, expr)``, a callable ``k(grid, block, args, smem=0)``. ``CudaLauncher`` compiles
the ``.cu`` sources lazily with ``cupy.RawModule`` (NVRTC; CuPy caches the result on disk) the
first time one of their kernels is asked for. The plan functions are pure arithmetic, tested
without a GPU.

>>> ce_plan(n_cols=32000, itemsize=4, probs=False, smem_budget=227 * 1024)
(1024, 128000, 32000)
>>> elementwise_grid(n=10, itemsize=4, threads=256, sm_count=132)
1
"""
from __future__ import annotations

from . import _sources as S

CUDA_SMEM_DEFAULT = 48 * 1024   # usable per block without the opt-in attribute
BLOCKS_PER_SM = 8               # grid-stride kernels: 8 x 256 threads fill an SM


def ce_plan(n_cols: int, itemsize: int, probs: bool, smem_budget: int, cache_rows=True):
    """Threads per block, dynamic shared memory (bytes) and ``n_cached`` for one CE row.

    Threads: about two 16-byte vectors per thread, a multiple of 32 in [32, 1024]. The row's
    logits (and, for probability targets, targets) are kept in shared memory up to
    ``smem_budget`` bytes: the whole row, or its first ``n_cached`` columns (a multiple of the
    vector width).
    """
    vn = 16 // itemsize
    threads = ce_threads(n_cols, itemsize)
    per_col = itemsize * (2 if probs else 1)
    if not cache_rows:
        return threads, 0, 0
    n_cached = n_cols if n_cols * per_col <= smem_budget else smem_budget // per_col // vn * vn
    return threads, n_cached * per_col, n_cached


def ce_threads(n_cols: int, itemsize: int) -> int:
    """Threads per CE block: about two 16-byte vectors each, a multiple of 32 in [32, 1024]."""
    want = -(-n_cols // (2 * (16 // itemsize)))
    return min(S.CE_MAX_THREADS, max(32, -(-want // 32) * 32))


def smem_budget(optin: int, per_sm: int, reserved: int, static: int, blocks_per_sm: int) -> int:
    """Dynamic shared memory per block that leaves room for ``blocks_per_sm`` blocks per SM.

    >>> smem_budget(227 * 1024, 228 * 1024, 1024, 528, 2)   # an H100, float32 CE
    115184
    """
    return max(0, min(optin - static, per_sm // blocks_per_sm - reserved - static))


def elementwise_grid(n: int, itemsize: int, threads: int, sm_count: int) -> int:
    """Blocks for a grid-stride kernel over ``n`` elements in 16-byte vectors."""
    vectors = -(-n // (16 // itemsize))
    return max(1, min(-(-vectors // threads), sm_count * BLOCKS_PER_SM))


def resident_blocks(regs_per_sm: int, regs_per_thread: int, threads: int) -> int:
    """Blocks of ``threads`` threads that the register file lets one SM hold at once (at least
    one; registers are allocated per thread in multiples of 8).

    >>> resident_blocks(65536, 62, 1024), resident_blocks(65536, 31, 1024)
    (1, 2)
    """
    if regs_per_thread <= 0:
        return 1 << 30
    return max(1, regs_per_sm // (-(-regs_per_thread // 8) * 8 * threads))


class Launcher:
    """The interface the kernel wrappers use (see the module docstring)."""

    xp = None
    sm_count: int = 1
    smem_optin: int = CUDA_SMEM_DEFAULT     # per block, with the opt-in attribute
    smem_per_sm: int = CUDA_SMEM_DEFAULT
    smem_reserved: int = 0                  # per block, taken by the system (1 KiB on sm_80+)
    regs_per_sm: int = 65536

    def kernel(self, module: str, name: str):
        raise NotImplementedError

    def static_smem(self, module: str, name: str) -> int:
        raise NotImplementedError

    def num_regs(self, module: str, name: str) -> int:
        """Registers per thread of ``name`` (0: unknown, no register limit is applied)."""
        return 0

    def smem_budget(self, module: str, name: str, blocks_per_sm: int = 1) -> int:
        """Dynamic shared memory one block of ``name`` may use, ``blocks_per_sm`` per SM."""
        return smem_budget(self.smem_optin, self.smem_per_sm, self.smem_reserved,
                           self.static_smem(module, name), blocks_per_sm)

    def blocks_per_sm(self, module: str, name: str, threads: int, wanted: int) -> int:
        """``wanted`` blocks per SM, or fewer where the kernel's registers do not fit them."""
        return min(wanted, resident_blocks(self.regs_per_sm, self.num_regs(module, name),
                                           threads))


class _Device:
    """One CUDA device's limits and the kernels prepared for it (the dynamic shared-memory
    attribute is set on each device's own copy of a kernel)."""

    def __init__(self, rt, dev):
        get = rt.deviceGetAttribute
        self.sm_count = get(rt.cudaDevAttrMultiProcessorCount, dev)
        self.smem_optin = get(rt.cudaDevAttrMaxSharedMemoryPerBlockOptin, dev)
        self.smem_per_sm = get(rt.cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev)
        self.smem_reserved = get(rt.cudaDevAttrReservedSharedMemoryPerBlock, dev)
        self.regs_per_sm = get(rt.cudaDevAttrMaxRegistersPerMultiprocessor, dev)
        self.launchers: dict = {}
        self.attributes: dict = {}


class CudaLauncher(Launcher):
    """Kernels compiled by NVRTC through CuPy, on the current CUDA device (limits and kernel
    attributes are kept per device, so ``with cupy.cuda.Device(1):`` works too)."""

    def __init__(self, cupy):
        self.xp = cupy
        self._cupy = cupy
        self._rt = cupy.cuda.runtime
        self._devices: dict = {}
        self._modules: dict = {}
        self._kernels: dict = {}
        self._device()          # reads the current device's limits now: fails early, not mid-run

    def _device(self) -> _Device:
        dev = self._rt.getDevice()
        state = self._devices.get(dev)
        if state is None:
            state = self._devices[dev] = _Device(self._rt, dev)
        return state

    sm_count = property(lambda self: self._device().sm_count)
    smem_optin = property(lambda self: self._device().smem_optin)
    smem_per_sm = property(lambda self: self._device().smem_per_sm)
    smem_reserved = property(lambda self: self._device().smem_reserved)
    regs_per_sm = property(lambda self: self._device().regs_per_sm)

    def _raw(self, module, name):
        """The RawKernel (one object for all devices; CuPy compiles it per device on use)."""
        key = (module, name)
        k = self._kernels.get(key)
        if k is None:
            mod = self._modules.get(module)
            if mod is None:
                mod = self._cupy.RawModule(code=S.source(module), options=S.OPTIONS,
                                           name_expressions=S.MODULES[module])
                self._modules[module] = mod
            k = self._kernels[key] = mod.get_function(name)
        return k

    def kernel(self, module, name):
        state = self._device()
        launch = state.launchers.get(name)
        if launch is None:
            k = self._raw(module, name)
            if module == "softmax_ce":   # the only kernels with large dynamic shared memory
                k.max_dynamic_shared_size_bytes = state.smem_optin - self.static_smem(module,
                                                                                      name)

            def launch(grid, block, args, smem=0):
                k((grid,), (block,), args, shared_mem=smem)

            state.launchers[name] = launch
        return launch

    def _attribute(self, module, name, attr):
        """``RawKernel.<attr>`` of ``name`` on the current device, read once."""
        table = self._device().attributes
        key = (name, attr)
        value = table.get(key)
        if value is None:
            value = table[key] = getattr(self._raw(module, name), attr)
        return value

    def static_smem(self, module, name):
        return self._attribute(module, name, "shared_size_bytes")

    def num_regs(self, module, name):
        return self._attribute(module, name, "num_regs")
