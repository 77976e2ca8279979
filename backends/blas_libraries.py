"""The BLAS libraries ``xpgrad.backends.blas`` can call directly: Intel MKL's single runtime
library from the ``mkl`` wheel, and the OpenBLAS that NumPy's own wheel ships.

Each is a ``CblasLibrary``: its ``name``, ``version``, ``int_max`` (the largest size its
integers hold) and ``gemm``, the ctypes ``cblas_?gemm`` per dtype. Calling NumPy's OpenBLAS
directly costs what calling MKL costs (no layout checks on every call, products written into
their destination, ``beta = 1`` updates), with NumPy's kernels and NumPy's thread pool: on an AMD
CPU, where MKL runs its AVX2 code, NumPy's OpenBLAS was 14-18% faster on the MLP's and LSTM's
products (docs/cli.md, "Matrix products: OpenBLAS or MKL").

>>> library = numpys_openblas()
>>> library is None or library.name == "openblas"
True
"""
from __future__ import annotations

import ctypes
import glob
import os
import sys

import numpy as np

_SCALARS = ((np.float32, "sgemm", ctypes.c_float), (np.float64, "dgemm", ctypes.c_double))
_TRSM_SCALARS = ((np.float32, "strsm", ctypes.c_float), (np.float64, "dtrsm", ctypes.c_double))


class CblasLibrary:
    """``cblas_sgemm``/``cblas_dgemm`` of the library at ``path`` through ctypes, their names
    ``prefix + "cblas_?gemm" + suffix`` taking integers of type ``integer``; AttributeError
    where the library lacks them. ``cblas_?trsm`` likewise where it has them (``trsm``)."""

    def __init__(self, name, path, lib, integer, version, prefix="", suffix="", core=None):
        self.name, self.path, self.lib, self.version = name, path, lib, version
        #: the kernels OpenBLAS runs (``"SkylakeX"``, ``"Haswell"``: its ``openblas_get_corename``),
        #: None for other libraries
        self.core = core
        #: the largest size or leading dimension the library's integers hold
        self.int_max = 2 ** (8 * ctypes.sizeof(integer) - 1) - 1
        ptr, enum = ctypes.c_void_p, ctypes.c_int
        self.gemm = {}
        for dtype, routine, scalar in _SCALARS:
            fn = getattr(lib, f"{prefix}cblas_{routine}{suffix}")
            fn.restype = None
            fn.argtypes = [enum] * 3 + [integer] * 3 + [scalar, ptr, integer, ptr, integer,
                                                        scalar, ptr, integer]
            self.gemm[np.dtype(dtype)] = fn
        #: ``cblas_?trsm`` per dtype (the triangular solves of ``../triangular_solve.py``),
        #: empty where the library lacks them
        self.trsm = {}
        for dtype, routine, scalar in _TRSM_SCALARS:
            fn = getattr(lib, f"{prefix}cblas_{routine}{suffix}", None)
            if fn is not None:
                fn.restype = None
                fn.argtypes = [enum] * 5 + [integer] * 2 + [scalar, ptr, integer, ptr, integer]
                self.trsm[np.dtype(dtype)] = fn

    def __repr__(self):
        return f"{self.name} {self.version}"


# -- MKL -----------------------------------------------------------------------------------------
def load_mkl(path) -> CblasLibrary:
    """MKL's runtime library at ``path``, its interface layer fixed (LP64 unless
    ``MKL_INTERFACE_LAYER`` says ILP64) and its thread count matched to NumPy's BLAS; OSError
    where it does not load, AttributeError where it is not MKL."""
    lib = ctypes.CDLL(path)
    library = CblasLibrary("mkl", path, lib, _interface_int(lib), _mkl_version())
    _match_threads(lib)
    return library


def _interface_int(lib):
    """MKL's integer type, fixed before any other call: 32-bit (LP64) unless
    ``MKL_INTERFACE_LAYER`` asks for ILP64 or another library in this process chose it."""
    asked = {part.strip() for part in os.environ.get("MKL_INTERFACE_LAYER", "").upper()
             .split(",")}
    fn = lib.MKL_Set_Interface_Layer
    fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
    layer = fn(("ILP64" in asked) | 2 * ("GNU" in asked))
    if layer < 0:
        raise OSError(f"MKL_Set_Interface_Layer refused MKL_INTERFACE_LAYER="
                      f"{os.environ.get('MKL_INTERFACE_LAYER')!r}")
    return ctypes.c_int64 if layer & 1 else ctypes.c_int


def _mkl_version():
    try:
        from importlib import metadata

        return metadata.version("mkl")
    except Exception:                           # noqa: BLE001 - a version is only shown
        return "unknown version"


def _match_threads(lib):
    """MKL loaded after ``--threads`` limited NumPy's BLAS takes that count too, unless
    ``MKL_NUM_THREADS`` (or ``MKL_DOMAIN_NUM_THREADS``) gives MKL a count of its own."""
    if os.environ.get("MKL_NUM_THREADS", "").strip() \
            or os.environ.get("MKL_DOMAIN_NUM_THREADS", "").strip():
        return
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return
    counts = [c.num_threads for c in ThreadpoolController().select(user_api="blas").lib_controllers
              if c.internal_api != "mkl"]
    if counts:
        lib.MKL_Set_Num_Threads(ctypes.c_int(min(counts)))


def find_mkl():
    """The path of MKL's single runtime library from the ``mkl`` wheel, or None."""
    roots = dict.fromkeys((sys.prefix, sys.base_prefix,
                           os.path.dirname(os.path.dirname(sys.executable))))
    for root in roots:
        for pattern in ("lib/libmkl_rt.so.*", "lib/libmkl_rt.so", "Library/bin/mkl_rt*.dll",
                        "lib/libmkl_rt*.dylib"):
            found = sorted(glob.glob(os.path.join(root, pattern)), key=version_order)
            if found:
                return found[-1]          # the newest interface version where several are
    return None


def version_order(path):
    """A sort key of a library's file name that orders the numbers in it as numbers.

    >>> sorted(["libmkl_rt.so.10", "libmkl_rt.so.2"], key=version_order)
    ['libmkl_rt.so.2', 'libmkl_rt.so.10']
    """
    import re

    return [int(part) if part.isdigit() else part
            for part in re.split(r"(\d+)", os.path.basename(path))]


# -- NumPy's OpenBLAS ----------------------------------------------------------------------------
#: how OpenBLAS builds name their gemm: NumPy 2's wheels (scipy-openblas, 64-bit integers),
#: NumPy 1.22-1.26's (64-bit integers, suffixed), and a plain build (32-bit integers)
_OPENBLAS_NAMES = (("scipy_", "64_", ctypes.c_int64), ("", "64_", ctypes.c_int64),
                   ("", "", ctypes.c_int))


def numpys_openblas():
    """The OpenBLAS inside NumPy's wheel as a ``CblasLibrary``, or None (NumPy built against
    another BLAS, or no OpenBLAS library file next to it). Loading it again from its file
    gives the library NumPy already runs: one library, one thread pool."""
    path = find_numpys_openblas()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix, suffix, integer in _OPENBLAS_NAMES:
        try:
            return CblasLibrary("openblas", path, lib, integer,
                                _openblas_version(lib, prefix, suffix), prefix, suffix,
                                _openblas_core(lib, prefix, suffix))
        except AttributeError:
            continue
    return None


def find_numpys_openblas():
    """The path of the OpenBLAS library NumPy's wheel ships (``numpy.libs`` on Linux and
    Windows, ``numpy/.dylibs`` on macOS), or None."""
    package = os.path.dirname(np.__file__)
    for pattern in (os.path.join(package + ".libs", "*openblas*"),
                    os.path.join(package, ".dylibs", "*openblas*")):
        found = sorted(glob.glob(pattern), key=version_order)
        if found:
            return found[-1]
    return None


def _openblas_version(lib, prefix, suffix):
    """OpenBLAS's own version (``"0.3.31.188.0"``), from its configuration string."""
    try:
        fn = getattr(lib, f"{prefix}openblas_get_config{suffix}")
        fn.restype, fn.argtypes = ctypes.c_char_p, []
        words = fn().decode("ascii", "replace").split()
        return words[1] if len(words) > 1 and words[0] == "OpenBLAS" else "unknown version"
    except (AttributeError, OSError):
        return "unknown version"


def _openblas_core(lib, prefix, suffix):
    """The kernels OpenBLAS picked for this CPU (or ``OPENBLAS_CORETYPE`` forced), as it names
    them (``"SkylakeX"``), or None where it does not say."""
    try:
        fn = getattr(lib, f"{prefix}openblas_get_corename{suffix}")
        fn.restype, fn.argtypes = ctypes.c_char_p, []
        return fn().decode("ascii", "replace").strip() or None
    except (AttributeError, OSError):
        return None


# -- which one by default ------------------------------------------------------------------------
def cpu_vendor() -> str:
    """The CPU's vendor string (``"GenuineIntel"``, ``"AuthenticAMD"``, ...), or ``""`` where
    it cannot be read.

    >>> isinstance(cpu_vendor(), str)
    True
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as lines:
            for line in lines:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    text = platform.processor()
    return "GenuineIntel" if "Intel" in text else "AuthenticAMD" if "AMD" in text else ""


def mkl_preferred() -> bool:
    """Whether ``XPGRAD_BLAS=auto`` takes MKL over NumPy's OpenBLAS: on Intel CPUs. On other
    x86 CPUs MKL runs its AVX2 code, and NumPy's OpenBLAS was as fast on a Zen 4 and 14-18%
    faster on a Zen 5 (docs/cli.md, "Matrix products: OpenBLAS or MKL")."""
    return cpu_vendor() == "GenuineIntel"
