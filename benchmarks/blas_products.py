"""The matrix products of an MLP and an LSTM step through ``xpgrad.backends.blas``: NumPy's
``matmul`` against the gemm of NumPy's OpenBLAS and of MKL (the ``mkl`` wheel) called directly,
interleaved in one process.

    python benchmarks/blas_products.py [--threads 1] [--repeats 5] [--alignment]

Prints the best time per product over ``--repeats`` rounds for each library, and NumPy's time
over each direct library's.
``--alignment``: MKL alone, with every operand starting on a 64-byte boundary (what xpgrad
allocates for weights, ``xpgrad/backends/numpy/memory.py``) against 16 bytes past one (what
NumPy's allocator may give).
Use one thread here: with more, the idle library's spinning threads slow the other one, and a
fair comparison at several threads runs each library in a process of its own
(``XPGRAD_BLAS=numpy`` / ``XPGRAD_BLAS=mkl python benchmarks/mlp_step.py --threads N``).
"""
from __future__ import annotations

import argparse
import timeit

import numpy as np

from xpgrad.backends import blas
from xpgrad.threads import limit, parse_threads

#: (label, left shape, right shape, which operands are transposed views): the products of the
#: bench's workloads, in the layouts the kernels pass (``x.T``, ``w.T``: views, not copies)
SHAPES = [("MLP B=32 forward x @ W1", (32, 784), (784, 256), ""),
          ("MLP B=32 weight gradient x.T @ g", (784, 32), (32, 256), "left"),
          ("MLP B=32 input gradient g @ W1.T", (32, 256), (256, 784), "right"),
          ("MLP B=128 forward x @ W1", (128, 784), (784, 256), ""),
          ("MLP B=4096 forward x @ W1", (4096, 784), (784, 256), ""),
          ("LSTM step [x|h] @ [w_ih; w_hh]", (64, 192), (192, 512), ""),
          ("LSTM weight gradient xh.T @ dz", (192, 3200), (3200, 512), "left")]


def _operand(shape, transposed, rng):
    """A float32 array of ``shape``; a transposed view of a C-ordered one if ``transposed``."""
    if transposed:
        return rng.normal(size=shape[::-1]).astype(np.float32).T
    return rng.normal(size=shape).astype(np.float32)


def _placed(m, offset):
    """A copy of 2-D ``m`` (its layout kept) starting ``offset`` bytes past a 64-byte boundary."""
    from xpgrad.backends.numpy.memory import ALIGNMENT, aligned_empty

    base = m.T if m.flags.f_contiguous and not m.flags.c_contiguous else m
    raw = aligned_empty((base.nbytes + ALIGNMENT,), np.uint8)[offset:offset + base.nbytes]
    out = raw.view(base.dtype).reshape(base.shape)
    out[...] = base
    return out.T if base is not m else out


def _alignment(args, rng):
    """MKL's time per product with operands on a cache line against 16 bytes past one."""
    print(f"products, float32, {args.threads} thread(s), {blas.describe()}: operands at a "
          "64-byte boundary against 16 bytes past one")
    print(f"{'product':40s} {'+16 B':>10s} {'aligned':>10s} {'ratio':>10s}")
    for label, left, right, transposed in SHAPES:
        a0 = _operand(left, transposed == "left", rng)
        b0 = _operand(right, transposed == "right", rng)
        work = a0.shape[0] * a0.shape[1] * b0.shape[1]
        number = max(3, int(2e8 / work))
        placed = {off: (_placed(a0, off), _placed(b0, off),
                        _placed(np.empty((a0.shape[0], b0.shape[1]), np.float32), off))
                  for off in (16, 0)}
        best = dict.fromkeys(placed, float("inf"))
        for _ in range(args.repeats):
            for off, (a, b, out) in placed.items():     # interleaved: both see the same load
                seconds = timeit.timeit(lambda: blas.matmul(a, b, out=out), number=number)
                best[off] = min(best[off], seconds / number)
        print(f"{label:40s} {best[16] * 1e6:8.1f}us {best[0] * 1e6:8.1f}us "
              f"{best[16] / best[0]:9.2f}x")


def _described(name):
    """``blas.describe()`` while ``name`` runs the products."""
    previous = blas.use(name)
    try:
        return blas.describe()
    finally:
        blas.restore(previous)


def _compare(args, libraries, rng):
    """Each product's best time on each library, interleaved, and NumPy's time over each
    direct library's."""
    direct = libraries[1:]
    print(f"products, float32, {args.threads} thread(s); "
          f"{', '.join(_described(name) for name in libraries)}")
    print(f"{'product':40s} " + " ".join(f"{name:>10s}" for name in libraries)
          + "".join(f" {'numpy/' + name:>14s}" for name in direct))
    for label, left, right, transposed in SHAPES:
        a = _operand(left, transposed == "left", rng)
        b = _operand(right, transposed == "right", rng)
        out = np.empty((a.shape[0], b.shape[1]), np.float32)
        work = a.shape[0] * a.shape[1] * b.shape[1]
        number = max(3, int(2e8 / work))
        best = dict.fromkeys(libraries, float("inf"))
        for _ in range(args.repeats):
            for name in best:                       # interleaved: all see the same load
                previous = blas.use(name)
                seconds = timeit.timeit(lambda: blas.matmul(a, b, out=out), number=number)
                blas.restore(previous)
                best[name] = min(best[name], seconds / number)
        print(f"{label:40s} " + " ".join(f"{best[n] * 1e6:8.1f}us" for n in libraries)
              + "".join(f" {best['numpy'] / best[n]:13.2f}x" for n in direct))


def main(argv=None) -> int:
    from xpgrad import cli_types

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=parse_threads, default=1)
    parser.add_argument("--repeats", type=cli_types.positive(int), default=5)
    parser.add_argument("--alignment", action="store_true",
                        help="time MKL on cache-line-aligned operands against unaligned ones")
    args = parser.parse_args(argv)
    with limit(args.threads):
        libraries = ["numpy"]
        for name in ("openblas", "mkl"):
            try:
                blas.restore(blas.use(name))
                libraries.append(name)
            except RuntimeError as e:
                print(f"({name} left out: {e})")
        if args.alignment:
            if "mkl" not in libraries:
                parser.error("--alignment times MKL, which is not installed")
            blas.use("mkl")
            _alignment(args, np.random.default_rng(0))
            return 0
        _compare(args, libraries, np.random.default_rng(0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
