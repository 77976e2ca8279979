"""The host backends' matrix products: NumPy's ``matmul`` (its OpenBLAS), or Intel MKL's
``gemm`` where the ``mkl`` wheel is installed (``pip install "xpgrad[mkl]"``).

PyTorch's CPU wheels do their products with MKL, which is 1.1-1.6x faster than NumPy's
OpenBLAS on an MLP's products on x86 (README, "Matrix products: OpenBLAS or MKL"); with the
extra, xpgrad's dense layers, recurrent scans and compiled SGD updates use the same library.
``XPGRAD_BLAS`` picks: ``auto`` (the default: MKL when installed), ``mkl`` (an error when it is
missing) or ``numpy``. Small products stay on NumPy, whose call costs less than a foreign call.

``matmul(a, b, out=None)`` is ``a @ b`` for 2-D float32/float64 operands of any layout BLAS
takes without a copy (C- or Fortran-ordered, a transpose included; aligned, with strides and
sizes MKL's integers hold); anything else (reversed or uneven strides, another byte order), and
any product under ``MIN_WORK`` multiply-adds, is NumPy's ``matmul``. ``MKL_INTERFACE_LAYER``
(LP64 or ILP64) and ``MKL_NUM_THREADS`` are honoured.

>>> import numpy as np
>>> a, b = np.ones((3, 4), np.float32), np.ones((4, 2), np.float32)
>>> matmul(a, b).tolist()
[[4.0, 4.0], [4.0, 4.0], [4.0, 4.0]]
>>> matmul(a.T.copy().T, b).tolist() == matmul(a, b).tolist()
True
"""
from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

#: products of fewer multiply-adds (m * n * k) than this run on NumPy: below it the foreign
#: call's ~3 us outweighs MKL's faster kernel (64x128x128: even; 32x784x256: 101 vs 70 us)
MIN_WORK = 1 << 21

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_CHOICES = ("auto", "mkl", "numpy")


class SettingError(ValueError):
    """A bad ``XPGRAD_BLAS`` (a ValueError of its own, so no operation reports it as its
    inputs' fault)."""


class _Mkl:
    """MKL's ``cblas_sgemm``/``cblas_dgemm`` through ctypes; AttributeError where the library
    at ``path`` lacks them (not MKL)."""

    def __init__(self, path):
        self.path = path
        self.lib = ctypes.CDLL(path)
        mkl_int = _interface_int(self.lib)
        #: the largest size or leading dimension MKL's integers hold
        self.int_max = 2 ** (8 * ctypes.sizeof(mkl_int) - 1) - 1
        ptr, enum = ctypes.c_void_p, ctypes.c_int
        self.gemm = {}
        for dtype, name, scalar in ((np.float32, "cblas_sgemm", ctypes.c_float),
                                    (np.float64, "cblas_dgemm", ctypes.c_double)):
            fn = getattr(self.lib, name)
            fn.restype = None
            fn.argtypes = [enum] * 3 + [mkl_int] * 3 + [scalar, ptr, mkl_int, ptr, mkl_int,
                                                        scalar, ptr, mkl_int]
            self.gemm[np.dtype(dtype)] = fn
        self.version = _mkl_version()
        _match_threads(self.lib)


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


def _find_mkl():
    """The path of MKL's single runtime library from the ``mkl`` wheel, or None."""
    import glob

    roots = dict.fromkeys((sys.prefix, sys.base_prefix,
                           os.path.dirname(os.path.dirname(sys.executable))))
    for root in roots:
        for pattern in ("lib/libmkl_rt.so.*", "lib/libmkl_rt.so", "Library/bin/mkl_rt*.dll",
                        "lib/libmkl_rt*.dylib"):
            found = sorted(glob.glob(os.path.join(root, pattern)), key=_version_order)
            if found:
                return found[-1]          # the newest interface version where several are
    return None


def _version_order(path):
    """A sort key of a library's file name that orders the numbers in it as numbers.

    >>> sorted(["libmkl_rt.so.10", "libmkl_rt.so.2"], key=_version_order)
    ['libmkl_rt.so.2', 'libmkl_rt.so.10']
    """
    import re

    return [int(part) if part.isdigit() else part
            for part in re.split(r"(\d+)", os.path.basename(path))]


def choice() -> str:
    """``XPGRAD_BLAS`` checked: ``auto``, ``mkl`` or ``numpy``.

    >>> choice() in ("auto", "mkl", "numpy")
    True
    """
    value = os.environ.get("XPGRAD_BLAS", "auto").strip().lower() or "auto"
    if value not in _CHOICES:
        raise SettingError(f"XPGRAD_BLAS must be one of {', '.join(_CHOICES)}, got "
                           f"{os.environ['XPGRAD_BLAS']!r}")
    return value


_STATE: dict = {}


def _load():
    """MKL, loaded once per process; RuntimeError saying why where it cannot be."""
    lib = _STATE.get("loaded")
    if lib is not None:
        return lib
    path = _find_mkl()
    if path is None:
        raise RuntimeError("MKL is not installed: pip install \"xpgrad[mkl]\"")
    try:
        lib = _Mkl(path)
    except OSError as e:
        raise RuntimeError(f"{path} does not load: {e}") from None
    except AttributeError as e:         # a symbol missing: a stale or foreign library
        raise RuntimeError(f"{path} is not a usable MKL: {e}") from None
    _STATE["loaded"] = lib
    return lib


def _mkl():
    """The loaded MKL, or None (NumPy's products): decided once per process."""
    try:
        return _STATE["mkl"]
    except KeyError:
        pass
    mode, lib = choice(), None
    if mode != "numpy":
        try:
            lib = _load()
        except RuntimeError as e:
            if mode == "mkl":
                raise RuntimeError(f"XPGRAD_BLAS=mkl but {e} (or unset XPGRAD_BLAS)") from None
    _STATE["mkl"] = lib
    return lib


_UNDECIDED = object()


def use(name):
    """Switch the products to ``"mkl"`` or ``"numpy"`` (tests and benchmarks compare the two),
    whatever ``XPGRAD_BLAS`` says; returns the previous state for ``restore``.

    >>> previous = use("numpy"); describe()
    'numpy'
    >>> restore(previous)
    """
    if name not in ("mkl", "numpy"):
        raise ValueError(f"name must be 'mkl' or 'numpy', got {name!r}")
    previous = _STATE.get("mkl", _UNDECIDED)
    _STATE["mkl"] = _load() if name == "mkl" else None
    return previous


def restore(previous):
    """Undo ``use``."""
    if previous is _UNDECIDED:
        _STATE.pop("mkl", None)
    else:
        _STATE["mkl"] = previous


def describe() -> str:
    """What the products run on: ``"mkl <version>"`` or ``"numpy"``.

    >>> describe().split()[0] in ("mkl", "numpy")
    True
    """
    lib = _mkl()
    return "numpy" if lib is None else f"mkl {lib.version}"


def _way(m):
    """``(trans, leading dimension, (transpose for the address, dense))`` for BLAS to read
    2-D ``m`` in place, or None: what ``_operand`` and a gemm plan need of its layout."""
    size = m.itemsize
    s0, s1 = m.strides
    rows, cols = m.shape
    if s1 == size and s0 >= cols * size and s0 % size == 0:
        return _NO_TRANS, max(s0 // size, cols, 1), (False, s0 == cols * size)
    if s0 == size and s1 >= rows * size and s1 % size == 0:
        dense = s1 == rows * size
        return _TRANS, max(s1 // size, rows, 1), (dense, dense)
    return None


def _operand(m, int_max):
    """``(trans, leading dimension, address)`` for BLAS to read 2-D ``m`` in place, or None."""
    way = _way(m)
    if way is None:
        return None
    trans, ld, (transposed, dense) = way
    address = _address(m.T if transposed else m, dense)
    if ld > int_max or address % m.itemsize:      # unaligned: BLAS assumes aligned elements
        return None
    return trans, ld, address


def _address(m, contiguous):
    """The address of ``m``'s first element: through a buffer export where ``m`` is
    C-contiguous and writable (0.3 us; ``m.ctypes.data`` takes 0.85, three times per product).
    The caller holds ``m``, which keeps the memory alive."""
    if contiguous:
        try:
            return _addressof(_char_at(m))
        except (TypeError, ValueError):     # read-only, or empty
            pass
    return m.ctypes.data


_char_at, _addressof = ctypes.c_char.from_buffer, ctypes.addressof


def _gemm(lib, a, b, c, alpha, beta, fresh=False) -> bool:
    """``c = alpha * a @ b + beta * c`` by MKL in place; False where it cannot run.
    ``fresh``: ``c`` was just made C-ordered of shape ``(m, n)`` (no checks of its own)."""
    fn = lib.gemm.get(a.dtype)
    if fn is None:
        return False
    key = (id(fn), a.shape, a.strides, b.dtype, b.shape, b.strides)
    plan = _PLANS.get(key)
    if plan is None or plan[0] is not fn:       # (ctypes functions do not hash: by id)
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        plan = _PLANS[key] = _plan(lib, fn, a, b)
    _, head, (a_t, a_dense), lda, (b_t, b_dense), ldb, ldc, shape, size = plan
    if head is None:
        return False
    if c.dtype != a.dtype or not fresh and (
            c.shape != shape or c.strides != (shape[1] * size, size)
            or np.may_share_memory(c, a) or np.may_share_memory(c, b)):
        return False
    address_a = _address(a.T if a_t else a, a_dense)
    address_b = _address(b.T if b_t else b, b_dense)
    try:
        out = _addressof(_char_at(c))
    except (TypeError, ValueError):         # read-only, or empty
        return False
    if address_a % size or address_b % size or out % size:     # BLAS assumes aligned elements
        return False
    fn(*head, alpha, address_a, lda, address_b, ldb, beta, out, ldc)
    return True


#: gemm plans by (MKL's gemm of a's dtype, and the operands' shapes, strides and b's dtype):
#: what is the same for every product of that layout, checked and made C values once
#: (``_gemm`` of a 1x1 product: 5.1 -> 2.5 us)
_PLANS: dict = {}
_PLANS_MAX = 256


def _plan(lib, fn, a, b):
    """``(fn, C arguments up to k, a's (transpose for its address, dense), a's leading
    dimension, b's two and leading dimension, c's, c's shape, itemsize)`` for ``fn``
    (``lib``'s gemm of ``a``'s dtype) on a product of ``a``'s and ``b``'s layout; the C
    arguments None where MKL cannot take it (the addresses are checked on every call)."""
    if b.dtype != a.dtype:
        return _refused(fn)
    m, k = a.shape
    n = b.shape[1]
    ways = [_way(a), _way(b)]
    if max(m, n, k) > lib.int_max or None in ways or max(w[1] for w in ways) > lib.int_max:
        return _refused(fn)
    (ta, lda, a_way), (tb, ldb, b_way) = ways
    kinds = getattr(fn, "argtypes", None) or [lambda v: v] * 14       # a test's stand-in
    head = tuple(kind(v) for kind, v in zip(kinds, (_ROW_MAJOR, ta, tb, m, n, k)))
    return (fn, head, a_way, kinds[8](lda), b_way, kinds[10](ldb), kinds[13](max(n, 1)),
            (m, n), a.itemsize)


def _refused(fn):
    """The plan of a layout MKL cannot take (``_gemm`` returns False: NumPy's product)."""
    return (fn, None, (False, False), None, (False, False), None, None, None, None)


def _gemm_call(lib, a, b, c):
    """``(MKL's gemm, (m, n, k, a's operand, b's operand, c's address))`` for ``c = a @ b``
    in place, or None where MKL cannot take the arrays."""
    fn = lib.gemm.get(a.dtype)
    if fn is None or b.dtype != a.dtype or c.dtype != a.dtype:
        return None
    m, k = a.shape
    n = b.shape[1]
    if c.shape != (m, n) or max(m, n, k) > lib.int_max or \
            c.strides != (n * c.itemsize, c.itemsize) or np.may_share_memory(c, a) or \
            np.may_share_memory(c, b):
        return None
    ta, tb = _operand(a, lib.int_max), _operand(b, lib.int_max)
    if ta is None or tb is None:
        return None
    try:
        out = _addressof(_char_at(c))
    except (TypeError, ValueError):         # read-only, or empty
        return None
    if out % c.itemsize:
        return None
    return fn, (m, n, k, ta, tb, out)


def matmul(a, b, out=None):
    """``a @ b`` (into ``out`` when given), by MKL for large enough 2-D float products.

    >>> import numpy as np
    >>> out = np.empty((2, 2))
    >>> matmul(np.eye(2), np.full((2, 2), 3.0), out=out) is out
    True
    """
    lib = _STATE.get("mkl", _UNDECIDED)
    if lib is _UNDECIDED:
        lib = _mkl()
    if lib is not None and a.__class__ is _ndarray and b.__class__ is _ndarray \
            and a.ndim == 2 and b.ndim == 2:
        m, k = a.shape
        k_b, n = b.shape
        if k == k_b and m * k * n >= MIN_WORK:        # not small(a, b), shapes read once
            c = out
            if c is None:
                c = _empty((m, n), a.dtype)
            if _gemm(lib, a, b, c, 1.0, 0.0, out is None):
                return c
    return _np_matmul(a, b) if out is None else _np_matmul(a, b, out=out)


_ndarray, _empty, _np_matmul = np.ndarray, np.empty, np.matmul


def gemm_update(c, a, b, alpha) -> bool:
    """``c += alpha * (a @ b)`` in place by MKL; False (nothing done) where MKL is not in use
    or cannot take the operands.

    >>> import numpy as np
    >>> c = np.zeros((2, 2), np.float32)
    >>> gemm_update(c, np.eye(2, dtype=np.float32), np.ones((2, 2), np.float32), -1.0) in (
    ...     True, False)
    True
    """
    lib = _mkl()
    if lib is None or type(a) is not np.ndarray or type(b) is not np.ndarray \
            or type(c) is not np.ndarray or a.ndim != 2 or b.ndim != 2 or c.ndim != 2 \
            or a.shape[1] != b.shape[0] or small(a, b):
        return False
    return _gemm(lib, a, b, c, alpha, 1.0)


def small(a, b) -> bool:
    """Whether the product of 2-D ``a`` and ``b`` (arrays, or anything with their ``shape``) is
    under ``MIN_WORK`` multiply-adds, where NumPy's ``matmul`` beats a foreign gemm call (a
    256x32 by 32x10 update: 4 us by NumPy's product and an update, 12 us by MKL's gemm, 7 us by
    SciPy's)."""
    return a.shape[0] * a.shape[1] * b.shape[1] < MIN_WORK


# a scan's per-step products, planned once (their own module; imported here, where they were)
from .blas_steps import stepped_matmul, stepped_update  # noqa: E402,F401
