"""Where the NumPy backend's eager LSTM training step goes, next to PyTorch CPU, one thread each.

    python benchmarks/lstm_numpy_phases.py [--rounds 21] [--batch 64] [--hidden 128] [--steps 50]

The step is ``xpgrad bench``'s ``lstm_step`` (64 inputs, MSE on every output, SGD). Rows,
thread CPU time (min / median of ``--rounds``, interleaved):

- ``torch step``, ``xpgrad step``: the whole steps;
- ``kernel forward``, ``kernel vjp``: the NumPy ``lstm_layer`` kernel on NumPy arrays, the vjp
  as the step's (the h half's gradient, the weights' gradients only);
- ``... without products``: the same with every matrix product replaced by nothing (the gate
  passes, the state updates, the copies and Python: what NumPy's ufuncs cost);
- ``products``: the step's matrix products alone as the kernel runs them (``blas.matmul``,
  ``blas.stepped_update`` in blocks where ``block_width`` says so): the input projection, the T
  forward and T backward per-step products, the weight gradient.

``xpgrad step - kernels`` is the module, loss, tape and update.
"""
from __future__ import annotations

import argparse
import os

if __name__ == "__main__":
    for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def _kernels(products=True):
    """A fresh ``scan_kernels(np)["lstm_layer"]``; ``products=False``: its matrix products
    do nothing (the outputs keep whatever the buffers held)."""
    from xpgrad.backends import blas
    from xpgrad.backends.numpy.scans import scan_kernels

    if products:
        return scan_kernels(np)["lstm_layer"]
    saved = blas.matmul, blas.stepped_matmul, blas.stepped_update, blas.gemm_update
    blas.matmul = lambda a, b, out=None: np.empty((a.shape[0], b.shape[1]), a.dtype) \
        if out is None else out
    blas.stepped_matmul = lambda stack, b, out: (lambda t: None)
    blas.stepped_update = lambda stack, b, outs, split=None: (lambda t: None)
    blas.gemm_update = lambda c, a, b, alpha: True      # the blocks' dw += x_rows.T @ dz
    try:        # built afresh: scan_kernels(np) is made once and keeps the real products
        return scan_kernels.__wrapped__(np)["lstm_layer"]
    finally:
        blas.matmul, blas.stepped_matmul, blas.stepped_update, blas.gemm_update = saved


def _arrays(B, T, I, H):
    rng = np.random.default_rng(0)
    f32, k = np.float32, 1.0 / np.sqrt(H)
    return (rng.normal(size=(B, T, I)).astype(f32), np.zeros((B, H), f32),
            np.zeros((B, H), f32), rng.uniform(-k, k, (I, 4 * H)).astype(f32),
            rng.uniform(-k, k, (H, 4 * H)).astype(f32), rng.uniform(-k, k, 4 * H).astype(f32),
            rng.normal(size=(B, T, H)).astype(f32))


def kernel_calls(B, T, I, H, products=True):
    """``(forward, vjp)`` of the kernel on the step's arrays, each a call of no arguments."""
    kernel = _kernels(products)
    *args, g = _arrays(B, T, I, H)
    needs = (False, False, False, True, True, True)
    _, saved = kernel.forward(*args)
    return (lambda: kernel.forward(*args),
            lambda: kernel.vjp_sliced((0, Ellipsis), g, saved, needs, *args))


def products_call(B, T, I, H):
    """The step's matrix products as the kernel runs them, one call of no arguments."""
    from xpgrad.backends import blas

    rng = np.random.default_rng(1)
    f32, G, IH = np.float32, 4 * H, I + 1 + H
    xh = rng.normal(size=(T, B, IH)).astype(f32)
    w_x, w_hh = rng.normal(size=(I + 1, G)).astype(f32), rng.normal(size=(H, G)).astype(f32)
    hs, acts = np.ascontiguousarray(xh[:, :, I + 1:]), np.empty((T, B, G), f32)
    dz, ghs = rng.normal(size=(T, B, G)).astype(f32), np.zeros((T, B, H), f32)
    forward = blas.stepped_update(hs[:-1], w_hh, acts[1:], split="columns")
    backward = blas.stepped_update(dz[1:], np.ascontiguousarray(w_hh.T), ghs[:-1],
                                   split="depth")

    def run():
        blas.matmul(xh.reshape(T * B, IH)[:, :I + 1], w_x, out=acts.reshape(T * B, G))
        for t in range(T - 1):
            forward(t)
        for t in range(T - 2, -1, -1):
            backward(t)
        blas.matmul(xh.reshape(T * B, IH).T, dz.reshape(T * B, G))
    return run


def main(argv=None):
    from xpgrad import cli_types

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    positive = cli_types.positive(int)
    ap.add_argument("--rounds", type=positive, default=21)
    ap.add_argument("--batch", type=positive, default=64)
    ap.add_argument("--hidden", type=positive, default=128)
    ap.add_argument("--steps", type=positive, default=50)
    args = ap.parse_args(argv)
    B, T, I, H = args.batch, args.steps, 64, args.hidden

    from xpgrad.backends import blas
    from xpgrad.bench_workloads._libs import Unavailable, _Lib
    from xpgrad.bench_workloads.training import lstm_step

    rows = {}
    try:
        rows["torch step"] = lstm_step(_Lib("torch-cpu"), batch=B, hidden=H, steps=T)
    except Unavailable as why:
        print(f"no torch row: {why}")
    rows["xpgrad step"] = lstm_step(_Lib("xpgrad-numpy"), batch=B, hidden=H, steps=T)
    rows["kernel forward"], rows["kernel vjp"] = kernel_calls(B, T, I, H)
    fwd, vjp = kernel_calls(B, T, I, H, products=False)
    rows["kernel forward without products"], rows["kernel vjp without products"] = fwd, vjp
    rows["products"] = products_call(B, T, I, H)
    for fn in rows.values():
        fn()
    times = {name: [] for name in rows}
    for _ in range(args.rounds):
        for name, fn in rows.items():
            start = time.thread_time()
            fn()
            times[name].append(time.thread_time() - start)
    print(f"B={B} T={T} I={I} H={H}, products: {blas.describe()}, one thread, "
          f"min / median of {args.rounds}")
    for name, values in times.items():
        print(f"{name:32s} {min(values) * 1e3:7.3f} / {statistics.median(values) * 1e3:7.3f} ms")
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{'xpgrad step - kernels':32s} "
          f"{(median['xpgrad step'] - median['kernel forward'] - median['kernel vjp']) * 1e3:7.3f}"
          " ms (medians)")
    if "torch step" in median:
        print(f"{'xpgrad / torch':32s} {median['xpgrad step'] / median['torch step']:7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
