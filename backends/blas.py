"""The host backends' matrix products, by a BLAS ``gemm`` called directly: Intel MKL's where
the ``mkl`` wheel is installed (``pip install "xpgrad[mkl]"``), or the OpenBLAS inside NumPy's
wheel (``blas_libraries.py`` finds and loads both).

Called directly, a product costs no layout checks after its first call, is written into its
destination, and an update ``c += alpha * a @ b`` is one call (``beta = 1``): the dense layers,
recurrent scans and compiled SGD updates use that. ``XPGRAD_BLAS`` picks: ``auto`` (the
default: MKL on Intel CPUs where it is installed, else NumPy's OpenBLAS; on AMD CPUs MKL runs its
AVX2 code and NumPy's OpenBLAS is as fast or faster), ``mkl`` or ``openblas`` (an error where it
is missing), or ``numpy`` (NumPy's ``matmul``). Small products stay on NumPy's ``matmul``, whose
call costs less than a foreign call.

``matmul(a, b, out=None)`` is ``a @ b`` for 2-D float32/float64 operands of any layout BLAS
takes without a copy (C- or Fortran-ordered, a transpose included; aligned, with strides and
sizes the library's integers hold); anything else (reversed or uneven strides, another byte
order), and any product under ``MIN_WORK`` multiply-adds, is NumPy's ``matmul``.
``MKL_INTERFACE_LAYER`` (LP64 or ILP64) and ``MKL_NUM_THREADS`` are honoured.

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

import numpy as np

from .blas_libraries import find_mkl as _find_mkl
from .blas_libraries import load_mkl, mkl_preferred, numpys_openblas

#: products of fewer multiply-adds (m * n * k) than this run on NumPy: below it the foreign
#: call's ~3 us outweighs the saved checks and copies (64x128x128: even; 32x784x256: 101 vs 70 us)
MIN_WORK = 1 << 21

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_CHOICES = ("auto", "mkl", "openblas", "numpy")


class SettingError(ValueError):
    """A bad ``XPGRAD_BLAS`` (a ValueError of its own, so no operation reports it as its
    inputs' fault)."""


def choice() -> str:
    """``XPGRAD_BLAS`` checked: ``auto``, ``mkl``, ``openblas`` or ``numpy``.

    >>> choice() in ("auto", "mkl", "openblas", "numpy")
    True
    """
    value = os.environ.get("XPGRAD_BLAS", "auto").strip().lower() or "auto"
    if value not in _CHOICES:
        raise SettingError(f"XPGRAD_BLAS must be one of {', '.join(_CHOICES)}, got "
                           f"{os.environ['XPGRAD_BLAS']!r}")
    return value


_STATE: dict = {}


def _load(name):
    """The library ``name`` (``"mkl"`` or ``"openblas"``), loaded once per process;
    RuntimeError saying why where it cannot be."""
    lib = _STATE.get(name)
    if lib is not None:
        return lib
    if name == "openblas":
        lib = numpys_openblas()
        if lib is None:
            raise RuntimeError(f"NumPy {np.__version__} ships no OpenBLAS xpgrad can call "
                               "(NumPy built against another BLAS)")
    else:
        path = _find_mkl()
        if path is None:
            raise RuntimeError("MKL is not installed: pip install \"xpgrad[mkl]\"")
        try:
            lib = load_mkl(path)
        except OSError as e:
            raise RuntimeError(f"{path} does not load: {e}") from None
        except AttributeError as e:         # a symbol missing: a stale or foreign library
            raise RuntimeError(f"{path} is not a usable MKL: {e}") from None
    _STATE[name] = lib
    return lib


def _library():
    """The library the products call directly (MKL's or NumPy's OpenBLAS), or None (NumPy's
    ``matmul``): decided once per process. ``auto`` takes MKL on Intel CPUs where it is
    installed, else NumPy's OpenBLAS."""
    try:
        return _STATE["chosen"]
    except KeyError:
        pass
    mode, lib = choice(), None
    if mode != "numpy":
        order = [mode] if mode != "auto" else \
            ["mkl", "openblas"] if mkl_preferred() else ["openblas", "mkl"]
        for name in order:
            try:
                lib = _load(name)
                break
            except RuntimeError as e:
                if mode != "auto":
                    raise RuntimeError(f"XPGRAD_BLAS={mode} but {e} (or unset XPGRAD_BLAS)") \
                        from None
    _STATE["chosen"] = lib
    return lib


_UNDECIDED = object()


def use(name):
    """Switch the products to ``"mkl"``, ``"openblas"`` (NumPy's, called directly) or
    ``"numpy"`` (NumPy's ``matmul``; tests and benchmarks compare them), whatever
    ``XPGRAD_BLAS`` says; returns the previous state for ``restore``.

    >>> previous = use("numpy"); describe()
    'numpy'
    >>> restore(previous)
    """
    if name not in _CHOICES[1:]:
        raise ValueError(f"name must be one of {', '.join(map(repr, _CHOICES[1:]))}, "
                         f"got {name!r}")
    previous = _STATE.get("chosen", _UNDECIDED)
    _STATE["chosen"] = None if name == "numpy" else _load(name)
    return previous


def restore(previous):
    """Undo ``use``."""
    if previous is _UNDECIDED:
        _STATE.pop("chosen", None)
    else:
        _STATE["chosen"] = previous


def describe() -> str:
    """What the products run on: ``"mkl <version>"``, ``"openblas <version>"`` or
    ``"numpy"``.

    >>> describe().split()[0] in ("mkl", "openblas", "numpy")
    True
    """
    lib = _library()
    return "numpy" if lib is None else f"{lib.name} {lib.version}"


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
    """``c = alpha * a @ b + beta * c`` by ``lib``'s gemm in place; False where it cannot run.
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


#: gemm plans by (the library's gemm of a's dtype, and the operands' shapes, strides and b's dtype):
#: what is the same for every product of that layout, checked and made C values once
#: (``_gemm`` of a 1x1 product: 5.1 -> 2.5 us)
_PLANS: dict = {}
_PLANS_MAX = 256


def _plan(lib, fn, a, b):
    """``(fn, C arguments up to k, a's (transpose for its address, dense), a's leading
    dimension, b's two and leading dimension, c's, c's shape, itemsize)`` for ``fn``
    (``lib``'s gemm of ``a``'s dtype) on a product of ``a``'s and ``b``'s layout; the C
    arguments None where BLAS cannot take it (the addresses are checked on every call)."""
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
    """The plan of a layout BLAS cannot take (``_gemm`` returns False: NumPy's product)."""
    return (fn, None, (False, False), None, (False, False), None, None, None, None)


def _gemm_call(lib, a, b, c):
    """``(the library's gemm, (m, n, k, a's operand, b's operand, c's address))`` for ``c = a @ b``
    in place, or None where it cannot take the arrays."""
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
    """``a @ b`` (into ``out`` when given), by a direct gemm for large enough 2-D float
    products.

    >>> import numpy as np
    >>> out = np.empty((2, 2))
    >>> matmul(np.eye(2), np.full((2, 2), 3.0), out=out) is out
    True
    """
    lib = _STATE.get("chosen", _UNDECIDED)
    if lib is _UNDECIDED:
        lib = _library()
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
    """``c += alpha * (a @ b)`` in place by a direct gemm; False (nothing done) where none is
    in use or it cannot take the operands.

    >>> import numpy as np
    >>> c = np.zeros((2, 2), np.float32)
    >>> gemm_update(c, np.eye(2, dtype=np.float32), np.ones((2, 2), np.float32), -1.0) in (
    ...     True, False)
    True
    """
    lib = _library()
    if lib is None or type(a) is not np.ndarray or type(b) is not np.ndarray \
            or type(c) is not np.ndarray or a.ndim != 2 or b.ndim != 2 or c.ndim != 2 \
            or a.shape[1] != b.shape[0] or small(a, b):
        return False
    return _gemm(lib, a, b, c, alpha, 1.0)


def subtract_column(c, column) -> bool:
    """``c -= column`` in place for a C-ordered 2-D ``c`` and an ``(m, 1)`` ``column`` of its
    dtype, by a gemm of inner size 1 (``c - column * 1``: each entry rounded once, the bits of
    NumPy's subtraction, infinities and NaNs alike) in half its time (NumPy's broadcast loop
    runs row by row: 4096x256 float32 0.28 -> 0.15 ms); False (nothing done) where no BLAS is
    in use or it cannot take the operands.

    >>> import numpy as np
    >>> c = np.arange(4.0).reshape(2, 2)
    >>> if not subtract_column(c, np.array([[1.0], [2.0]])):
    ...     c -= np.array([[1.0], [2.0]])
    >>> c.tolist()
    [[-1.0, 0.0], [0.0, 1.0]]
    """
    lib = _library()
    if lib is None or type(c) is not np.ndarray or c.ndim != 2 or column.shape != (len(c), 1):
        return False
    ones = _ONES.get((c.shape[1], c.dtype))
    if ones is None:
        if len(_ONES) >= _PLANS_MAX:
            _ONES.clear()
        ones = _ONES[c.shape[1], c.dtype] = np.ones((1, c.shape[1]), c.dtype)
    return _gemm(lib, column, ones, c, -1.0, 1.0)


#: the rows of ones ``subtract_column`` multiplies, by length and dtype
_ONES: dict = {}


def small(a, b) -> bool:
    """Whether the product of 2-D ``a`` and ``b`` (arrays, or anything with their ``shape``) is
    under ``MIN_WORK`` multiply-adds, where NumPy's ``matmul`` beats a foreign gemm call (a
    256x32 by 32x10 update: 4 us by NumPy's product and an update, 12 us by MKL's gemm, 7 us by
    SciPy's)."""
    return a.shape[0] * a.shape[1] * b.shape[1] < MIN_WORK


# a scan's per-step products, planned once (their own module; imported here, where they were)
from .blas_steps import (stepped_matmul, stepped_plan, stepped_plans,  # noqa: E402,F401
                         stepped_update)
