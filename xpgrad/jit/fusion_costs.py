"""The numba fuser's cost model: which transcendental ops a fused run leaves to NumPy's ufunc.

A fused loop computes ``tanh``, ``exp``, ``log``, ... by calling the C library once per element
(Numba here has no SVML, so LLVM cannot vectorize those calls; ``fastmath`` changes nothing),
while NumPy's ufunc loops for most of them are SIMD: ``tanh`` on 1e6 float64 elements is 0.8
ns an element in NumPy and 13.5 in a fused loop. Arithmetic, comparisons, ``where``,
``maximum``/``minimum`` and ``sqrt`` vectorize in the loop and always fuse; so do ops whose
NumPy loop is no faster (float64 ``sin``/``cos``). A transcendental op is left out of the run
(the run ends before it, the op is a ufunc call writing a buffer, a new run starts after it)
when the time NumPy saves on its elements outweighs what the split costs: one more call, and
the values crossing between loop and ufunc written to memory and read back.

The savings are measured with ``benchmarks/fusion_transcendentals.py`` (one thread, AMD EPYC
Zen 5, NumPy 2.4 with AVX-512 loops, Numba 0.68), at 256k-1M elements where the branches of
the C library's functions are not learned by the predictor from a repeated small input.
NumPy's loops for float64 ``exp``/``log`` and the SVML ones (``expm1``, ``log1p``, ``arctan``,
``power``, ...) need AVX-512; on a CPU without it only ``tanh`` and float32 ``exp``, ``log``,
``sin``, ``cos`` are left to NumPy.

>>> left_to_numpy("tanh", np.dtype("float64"), 512 * 64), left_to_numpy("tanh", np.dtype(
...     "float64"), 35), left_to_numpy("add", np.dtype("float64"), 10 ** 6)
(True, False, False)
"""
from __future__ import annotations

import numpy as np

#: ns per element NumPy's ufunc loop saves over the fused loop's scalar call, (float32, float64)
#: (fused minus NumPy at 262144 and 1e6 elements); None where NumPy is no faster
SAVED_NS = {
    "tanh": (13.1, 12.7), "exp": (1.44, 2.4), "log": (1.55, 2.2), "log1p": (8.15, 7.7),
    "expm1": (9.9, 9.0), "sin": (6.3, None), "cos": (6.3, None), "power": (2.8, 7.1),
    "arctan": (11.2, 7.3), "exp2": (1.05, 1.3), "log2": (1.4, 2.1), "log10": (3.6, 5.1),
    "tan": (11.1, 12.1), "sinh": (14.4, 13.0), "cosh": (5.15, 4.7), "arcsin": (7.4, 12.1),
    "arccos": (7.6, 12.3), "arcsinh": (15.3, 16.2), "arctanh": (17.2, 17.3),
}

#: (op, dtype name) whose NumPy loop is SIMD without AVX-512 (its universal-intrinsic loops)
_SIMD_EVERYWHERE = frozenset((("tanh", "float32"), ("tanh", "float64"), ("exp", "float32"),
                              ("log", "float32"), ("sin", "float32"), ("cos", "float32")))

#: ns one split costs however many elements: a ufunc call, one more kernel call and its pack
#: (0.6 us where it splits a run in two: a gradient of tanh(x * 1.5 + b) on 16 elements, 6.5 ->
#: 7.1 us; up to 2.3 us where it strands single steps, NumPy calls of their own: softplus)
SPLIT_NS = 2500.0

#: ns per element of the values crossing a split (the op's operand written by the loop before
#: it and read by the ufunc, its result written and read by the loop after it)
CROSSING_NS = {np.dtype("float32"): 0.3, np.dtype("float64"): 0.5}


def _has_avx512() -> bool:
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:                     # (a NumPy that moved it: assume the least)
        return False
    return bool(__cpu_features__.get("AVX512_SKX"))


_AVX512 = _has_avx512()


def left_to_numpy(op: str, dtype, n: int) -> bool:
    """Whether a fused run should leave ``op`` (a NumPy ufunc name) on ``n`` elements of
    ``dtype`` to NumPy's ufunc rather than compute it in the loop.

    >>> left_to_numpy("sqrt", np.dtype("float32"), 10 ** 6)      # vectorizes in the loop
    False
    >>> left_to_numpy("tanh", "float32", -1)
    Traceback (most recent call last):
    ...
    ValueError: left_to_numpy: n must be a number of elements (an int >= 0), got -1
    """
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"left_to_numpy: dtype must be a NumPy dtype, got {dtype!r}") from None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"left_to_numpy: n must be a number of elements (an int >= 0), got "
                         f"{n!r}")
    saved = SAVED_NS.get(op)
    if saved is None or dtype not in CROSSING_NS:
        return False
    per_element = saved[dtype == np.dtype("float64")]
    if per_element is None or (not _AVX512 and (op, dtype.name) not in _SIMD_EVERYWHERE):
        return False
    return (per_element - CROSSING_NS[dtype]) * n > SPLIT_NS
