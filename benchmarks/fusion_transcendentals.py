"""Per-element cost of each transcendental the numba fuser can emit: NumPy's ufunc loop (SIMD
where NumPy has one) against the fused kernel's loop of scalar calls (``fused_kernels``), and
that loop compiled with ``fastmath``; the numbers behind ``fusion_costs.py``.

    python benchmarks/fusion_transcendentals.py [--sizes 64 1024 65536] [--only tanh exp]
                                                [--dtypes float32 float64] [--fastmath]

Prints nanoseconds per element (median of thread CPU time: robust to other processes on the
machine), one thread. ``numpy`` is ``ufunc(x, out=buf)`` (a composite, its ufunc calls each
writing a buffer); ``fused`` is the kernel the fuser generates for the op alone, reading one
array and writing one pack row; ``add`` is the fused kernel of one addition, the floor of a
fused loop.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

#: op -> (fused expression of ``v0``, NumPy calls on ``x`` writing ``out``, input range)
OPS = {
    "add": ("(v0 + v0)", lambda x, out, t: np.add(x, x, out=out), (-3, 3)),
    "tanh": ("np.tanh(v0)", lambda x, out, t: np.tanh(x, out=out), (-3, 3)),
    "exp": ("np.exp(v0)", lambda x, out, t: np.exp(x, out=out), (-3, 3)),
    "log": ("np.log(v0)", lambda x, out, t: np.log(x, out=out), (0.1, 5)),
    "log1p": ("np.log1p(v0)", lambda x, out, t: np.log1p(x, out=out), (0.1, 5)),
    "expm1": ("np.expm1(v0)", lambda x, out, t: np.expm1(x, out=out), (-3, 3)),
    "sin": ("np.sin(v0)", lambda x, out, t: np.sin(x, out=out), (-3, 3)),
    "cos": ("np.cos(v0)", lambda x, out, t: np.cos(x, out=out), (-3, 3)),
    "sqrt": ("np.sqrt(v0)", lambda x, out, t: np.sqrt(x, out=out), (0.1, 5)),
    "power": ("(v0 ** v0)", lambda x, out, t: np.power(x, x, out=out), (0.1, 5)),
    "arctan": ("np.arctan(v0)", lambda x, out, t: np.arctan(x, out=out), (-3, 3)),
    "exp2": ("np.exp2(v0)", lambda x, out, t: np.exp2(x, out=out), (-3, 3)),
    "log2": ("np.log2(v0)", lambda x, out, t: np.log2(x, out=out), (0.1, 5)),
    "log10": ("np.log10(v0)", lambda x, out, t: np.log10(x, out=out), (0.1, 5)),
    "tan": ("np.tan(v0)", lambda x, out, t: np.tan(x, out=out), (-1.5, 1.5)),
    "sinh": ("np.sinh(v0)", lambda x, out, t: np.sinh(x, out=out), (-3, 3)),
    "cosh": ("np.cosh(v0)", lambda x, out, t: np.cosh(x, out=out), (-3, 3)),
    "arcsin": ("np.arcsin(v0)", lambda x, out, t: np.arcsin(x, out=out), (-0.9, 0.9)),
    "arccos": ("np.arccos(v0)", lambda x, out, t: np.arccos(x, out=out), (-0.9, 0.9)),
    "arcsinh": ("np.arcsinh(v0)", lambda x, out, t: np.arcsinh(x, out=out), (-3, 3)),
    "arctanh": ("np.arctanh(v0)", lambda x, out, t: np.arctanh(x, out=out), (-0.9, 0.9)),
    # the generic sigmoid's ops (formulas.sigmoid): exp(-|x|), then a where of two quotients
    "sigmoid": ("(1.0 / (1.0 + np.exp(-abs(v0))) if v0 >= 0 else "
                "np.exp(-abs(v0)) / (1.0 + np.exp(-abs(v0))))", None, (-3, 3)),
    # the generic softplus (formulas.softplus): max(x, 0) + log1p(exp(-|x|))
    "softplus": ("(max(v0, 0.0) + np.log1p(np.exp(-abs(v0))))", None, (-3, 3)),
}


def _sigmoid_numpy(x, out, t):
    np.abs(x, out=t[0]); np.negative(t[0], out=t[0]); np.exp(t[0], out=t[0])
    np.add(t[0], 1.0, out=t[1]); np.divide(1.0, t[1], out=t[2]); np.divide(t[0], t[1], out=t[1])
    np.greater_equal(x, 0, out=t[3]); np.copyto(out, t[1]); np.copyto(out, t[2], where=t[3])


def _softplus_numpy(x, out, t):
    np.abs(x, out=t[0]); np.negative(t[0], out=t[0]); np.exp(t[0], out=t[0])
    np.log1p(t[0], out=t[0]); np.maximum(x, 0.0, out=out); np.add(out, t[0], out=out)


def _numpy_call(op):
    call = OPS[op][1]
    return call or {"sigmoid": _sigmoid_numpy, "softplus": _softplus_numpy}[op]


def fused_kernel(op, dtype, fastmath=False):
    """The fuser's kernel for ``op`` alone on ``dtype`` (``fastmath``: the same source, njit'd
    with ``fastmath=True``)."""
    from numba import njit

    from xpgrad.jit.fused_kernels import _compiled, kernel_source

    cast = f"np.{np.dtype(dtype).name}"
    expr = OPS[op][0].replace("1.0", f"{cast}(1.0)").replace("0.0", f"{cast}(0.0)")
    source = kernel_source(1, 1, ["v0 = a0[i]", f"t0 = {cast}({expr})"], ["p0[0, i] = t0"])
    if not fastmath:
        return _compiled(source)
    names = {}
    exec(source.replace("njit(cache=True, error_model='numpy')",
                        "njit(cache=False, error_model='numpy', fastmath=True)"), names)
    return names["kernel"]


def _median_ns(fn, n):
    fn()
    loops = max(1, int(2e6 // (n * 5 + 2000)))
    times = []
    for _ in range(7):
        start = time.thread_time_ns()
        for _ in range(loops):
            fn()
        times.append((time.thread_time_ns() - start) / loops)
    return statistics.median(times)


def measure(op, dtype, n, fastmath=False):
    """ns per element of ``op`` at ``n`` elements: {"numpy": ..., "fused": ...[, "fastmath"]}."""
    lo, hi = OPS[op][2]
    x = np.random.default_rng(0).uniform(lo, hi, n).astype(dtype)
    out, pack = np.empty_like(x), np.empty((1, n), dtype)
    temps = [np.empty_like(x) for _ in range(3)] + [np.empty(n, bool)]
    numpy_call = _numpy_call(op)
    result = {"numpy": _median_ns(lambda: numpy_call(x, out, temps), n) / n}
    kernel = fused_kernel(op, dtype)
    result["fused"] = _median_ns(lambda: kernel(n, x, pack), n) / n
    if fastmath:
        fast = fused_kernel(op, dtype, fastmath=True)
        result["fastmath"] = _median_ns(lambda: fast(n, x, pack), n) / n
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[64, 256, 1024, 4096, 16384, 65536, 262144, 1000000])
    parser.add_argument("--only", nargs="+", default=list(OPS), choices=list(OPS))
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--fastmath", action="store_true", help="also time fastmath kernels")
    args = parser.parse_args(argv)
    kinds = ["numpy", "fused"] + (["fastmath"] if args.fastmath else [])
    print("ns per element (one thread); columns: " + ", ".join(kinds))
    print(f"{'op':9} {'dtype':8}" + "".join(f"{n:>22}" for n in args.sizes))
    for op in args.only:
        for dtype in args.dtypes:
            cells = []
            for n in args.sizes:
                r = measure(op, dtype, n, args.fastmath)
                cells.append("/".join(f"{r[k]:.2f}" for k in kinds))
            print(f"{op:9} {dtype:8}" + "".join(f"{c:>22}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
