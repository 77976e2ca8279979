"""Why the Numba softmax cross-entropy kernel is written the way it is: one-threaded variants
of its row loop on 4096x1000 float32 logits, timed side by side.

    python benchmarks/numba_exp_alternatives.py [--rounds 5]

Variants (each computes the per-row loss and the gradient for integer labels):
  shipped        integer-key max, polynomial exp (vectorizes), exp stored then scaled
  float-max      the max as a float compare loop (LLVM does not vectorize it without 'nnan')
  libm-exp       np.exp on scalars: a call into the C library per entry (no SIMD)
  row-np-exp     np.exp on the shifted row buffer inside the kernel (still libm per entry)
  no-reassoc     shipped loops compiled without 'reassoc': the sum of exponentials is serial,
                 so the exp loop does not vectorize either
  recompute-exp  no store in the sum pass; the exponentials are recomputed for the gradient
Prints the median time per call (thread CPU time: robust to other processes on the machine)
and the largest deviation of the loss from a float64 reference.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from numba import njit

from xpgrad.backends.numba._loss_kernels import _row_exp, _row_max
from xpgrad.backends.numba._math import LOOP_FLAGS, exp_neg

OPTS = dict(error_model="numpy")


def _body(row_max, exp_fn, store):
    @njit(fastmath=LOOP_FLAGS, **OPTS)
    def kernel(x, labels, grad, losses, scale):
        n, c = x.shape
        for i in range(n):
            xr, gr = x[i], grad[i]
            m = row_max(xr)
            s = xr.dtype.type(0)
            if store:
                for j in range(c):
                    e = exp_fn(xr[j] - m)
                    gr[j] = e
                    s += e
                inv = scale / s
                for j in range(c):
                    gr[j] *= inv
            else:
                for j in range(c):
                    s += exp_fn(xr[j] - m)
                inv = scale / s
                for j in range(c):
                    gr[j] = exp_fn(xr[j] - m) * inv
            gr[labels[i]] -= scale
            losses[i] = np.log(s) - (xr[labels[i]] - m)
    return kernel


@njit(fastmath=LOOP_FLAGS, **OPTS)
def _float_max(xr):
    m = xr[0]
    for j in range(1, xr.shape[0]):
        m = xr[j] if xr[j] > m else m
    return m


@njit(**OPTS)
def _libm_exp(v):
    return np.exp(v)


@njit(fastmath=LOOP_FLAGS, **OPTS)
def _row_np_exp(x, labels, grad, losses, scale):
    n, c = x.shape
    for i in range(n):
        xr, gr = x[i], grad[i]
        m = _row_max(xr)
        e = np.exp(xr - m)
        s = e.sum()
        gr[:] = e * (scale / s)
        gr[labels[i]] -= scale
        losses[i] = np.log(s) - (xr[labels[i]] - m)


@njit(fastmath={"contract"}, **OPTS)
def _no_reassoc(x, labels, grad, losses, scale):
    n, c = x.shape
    for i in range(n):
        xr, gr = x[i], grad[i]
        m = _row_max(xr)
        s = xr.dtype.type(0)
        for j in range(c):
            e = exp_neg(xr[j] - m)
            gr[j] = e
            s += e
        inv = scale / s
        for j in range(c):
            gr[j] *= inv
        gr[labels[i]] -= scale
        losses[i] = np.log(s) - (xr[labels[i]] - m)


@njit(fastmath=LOOP_FLAGS, **OPTS)
def _shipped(x, labels, grad, losses, scale):
    n, c = x.shape
    for i in range(n):
        xr, gr = x[i], grad[i]
        m = _row_max(xr)
        s = _row_exp(xr, gr, m)
        inv = scale / s
        for j in range(c):
            gr[j] *= inv
        gr[labels[i]] -= scale
        losses[i] = np.log(s) - (xr[labels[i]] - m)


VARIANTS = {
    "shipped": _shipped,
    "float-max": _body(_float_max, exp_neg, True),
    "libm-exp": _body(_row_max, _libm_exp, True),
    "row-np-exp": _row_np_exp,
    "no-reassoc": _no_reassoc,
    "recompute-exp": _body(_row_max, exp_neg, False),
}


def main(argv=None):
    from xpgrad import cli_types

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=cli_types.positive(int), default=5)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 1000)).astype(np.float32)
    y = rng.integers(0, 1000, 4096)
    x64 = x.astype(np.float64)
    ref = np.log(np.exp(x64 - x64.max(1, keepdims=True)).sum(1)) - (
        x64[np.arange(4096), y] - x64.max(1))
    grad, losses = np.empty_like(x), np.empty(4096, np.float32)
    scale = np.float32(1 / 4096)
    for fn in VARIANTS.values():
        fn(x, y, grad, losses, scale)                      # compile
    times = {k: [] for k in VARIANTS}
    for _ in range(args.rounds):
        for name, fn in VARIANTS.items():
            t0 = time.thread_time()
            fn(x, y, grad, losses, scale)
            times[name].append(time.thread_time() - t0)
    for name, fn in VARIANTS.items():
        fn(x, y, grad, losses, scale)
        err = np.abs(losses - ref).max()
        print(f"  {name:14s} {statistics.median(times[name]) * 1e3:8.2f} ms   "
              f"max |loss - float64| {err:.2e}")


if __name__ == "__main__":
    main()
