"""Run xpgrad's CUDA sources on the CPU: build them against ``emu.h`` with the host C++ compiler
and launch them through the same ``Launcher`` interface the CuPy backend uses, with NumPy
arrays standing in for device arrays. Every launch checks the kernel's parameter types against
the Python arguments (a mismatch on a GPU would be silent garbage).

Used by tests/test_cuda_emulated.py; see emu.h for what is and is not emulated.
"""
from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from xpgrad.backends.cupy import _sources as S
from xpgrad.backends.cupy._launch import Launcher

HERE = Path(__file__).parent
#: the kernels of selftest.h, which test the emulator itself
SELFTEST = ("emu_selftest_exchange", "emu_selftest_deadlock")
CODES = {"float32": "f", "float64": "d", "int32": "i", "int64": "q"}
CTYPES = {"float32": ctypes.c_float, "float64": ctypes.c_double, "int32": ctypes.c_int32,
          "int64": ctypes.c_int64}


def compiler():
    return shutil.which("g++") or shutil.which("clang++")


def wrapper_source() -> str:
    """One C++ file: the emulator, every .cu module, and a registration per instantiation."""
    lines = [f'#include "{HERE / "emu.h"}"']
    lines += [f'#include "{S.path(m)}"' for m in S.MODULES]
    lines.append(f'#include "{HERE / "selftest.h"}"')
    i = 0
    for names in S.MODULES.values():
        for name in names:
            lines.append(f'static xpg_emu::Register xpg_reg_{i}("{name}", &{name});')
            i += 1
    for name in SELFTEST:
        lines.append(f'static xpg_emu::Register xpg_reg_{name}("{name}", &{name});')
    return "\n".join(lines) + "\n"


def build_dir() -> Path:
    """The one directory every test builds in: ``xpgrad_cuda_emu`` in the temp dir, shared by
    the xdist workers and kept between runs (``build`` names each build by its sources)."""
    path = Path(tempfile.gettempdir()) / "xpgrad_cuda_emu"
    path.mkdir(exist_ok=True)
    return path


#: a build of other sources is deleted once no process has asked for it for this long: the
#: folder is shared by every checkout on the machine, and a run of other sources (another
#: branch's suite, a CI job of another commit) may be using its build now
STALE_SECONDS = 24 * 3600


def build(out_dir: Path) -> Path:
    """Compile the emulated kernels into ``out_dir`` (reused while the sources are unchanged).
    One process builds at a time (a file lock): the others wait and reuse its build, rather
    than compile the same library beside it (and delete its files when cleaning up)."""
    text = wrapper_source()
    deps = [HERE / "emu.h", HERE / "selftest.h", S.CUDA_DIR / S.HEADER]
    deps += [S.path(m) for m in S.MODULES]
    key = hashlib.sha256((text + "".join(p.read_text() for p in deps)).encode()).hexdigest()
    lib = out_dir / f"xpgrad_emu_{key[:16]}.so"
    with open(out_dir / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if lib.exists():
            os.utime(lib)                   # in use: not stale for another run's clean-up
        else:
            _compile(text, lib)
    return lib


def _compile(text, lib):
    out_dir = lib.parent
    src = out_dir / f"xpgrad_emu_{os.getpid()}.cpp"
    src.write_text(text)
    tmp = out_dir / f"{lib.name}.{os.getpid()}.tmp"
    cmd = [compiler(), "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-Wall", "-Wextra",
           "-Werror", "-Wno-unused-parameter", "-Wno-unknown-pragmas", "-o", str(tmp), str(src)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"emulator build failed:\n{' '.join(cmd)}\n{res.stderr[-6000:]}")
    os.replace(tmp, lib)
    src.unlink()
    remove_stale(lib)


def remove_stale(lib: Path) -> list:
    """Delete the files of other builds beside ``lib`` (libraries of other sources, a failed
    build's leftovers) that no process has used for ``STALE_SECONDS``; the names deleted.
    Those used lately stay: deleting them made a suite running other sources rebuild, or
    fail to load the library it had just been handed."""
    removed = []
    for old in lib.parent.glob("xpgrad_emu_*"):
        try:
            stale = time.time() - old.stat().st_mtime > STALE_SECONDS
        except FileNotFoundError:
            continue
        if old != lib and stale:
            old.unlink(missing_ok=True)
            removed.append(old.name)
    return sorted(removed)


class EmuLauncher(Launcher):
    """A Launcher whose 'device' is the CPU: xp is NumPy, kernels run in the emulator."""

    xp = np

    def __init__(self, lib_path, sm_count=2, smem_optin=100 * 1024, smem_per_sm=160 * 1024):
        self.lib = ctypes.CDLL(str(lib_path))
        self.lib.xpg_launch.restype = ctypes.c_int
        self.sm_count = sm_count
        self.smem_optin = smem_optin
        self.smem_per_sm = smem_per_sm
        self.smem_reserved = 1024
        self.launches = []          # (name, grid, block, smem) of every launch, for the tests

    def static_smem(self, module, name):
        return 2048                 # stands in for the kernel's static shared memory

    def kernel(self, module, name):
        if name not in S.MODULES[module]:
            raise KeyError(f"{name} is not an instantiation of {module}.cu")

        def launch(grid, block, args, smem=0):
            self._launch(module, name, grid, block, args, smem)

        return launch

    def _launch(self, module, name, grid, block, args, smem):
        if smem > self.smem_budget(module, name, 1):
            raise ValueError(f"{name}: {smem} bytes of shared memory over the budget")
        keep, ptrs, sig = [], [], ""
        for a in args:
            if isinstance(a, np.ndarray):
                if not a.flags.c_contiguous:
                    raise ValueError(f"{name}: a non-contiguous array was passed")
                v = ctypes.c_void_p(a.ctypes.data)
                sig += "P" + CODES[a.dtype.name]
            elif isinstance(a, np.generic):
                v = CTYPES[a.dtype.name](a.item())
                sig += CODES[a.dtype.name]
            else:
                raise TypeError(f"{name}: argument {a!r} is neither an array nor a NumPy scalar "
                                "(CuPy would guess its C type)")
            keep.append(v)
            ptrs.append(ctypes.cast(ctypes.pointer(v), ctypes.c_void_p))
        argv = (ctypes.c_void_p * len(ptrs))(*ptrs)
        err = ctypes.create_string_buffer(512)
        with _ONE_LAUNCH:
            rc = self.lib.xpg_launch(name.encode(), sig.encode(), ctypes.c_uint(grid),
                                     ctypes.c_uint(block), ctypes.c_ulonglong(smem), argv, err,
                                     512)
        if rc:
            raise RuntimeError(err.value.decode())
        self.launches.append((name, grid, block, smem))


#: the emulator's launch state (its fibers, the block running) is the library's, one per process,
#: and ctypes lets go of the GIL during the call: one launch at a time
_ONE_LAUNCH = threading.Lock()


def emulated_backend(launcher):
    """A numpy-backed Backend whose kernels and optimizer updates are the CUDA ones, emulated:
    the CuPy backend's Python wrappers and CUDA sources, with the CPU standing in for the GPU."""
    from xpgrad.backend import KernelTable
    from xpgrad.backends.cupy import activations, losses, optim
    from xpgrad.backends.numpy import NumpyBackend

    class EmulatedCudaBackend(NumpyBackend):
        name = "cuda_emulated"

        def __init__(self):
            super().__init__()
            self._launcher = launcher
            self.kernels = KernelTable(losses.kernels(launcher), activations.kernels(launcher),
                                       optim.kernels(launcher))

    return EmulatedCudaBackend()
