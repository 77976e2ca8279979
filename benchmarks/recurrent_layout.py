"""What ``batch_first=False`` costs: a recurrent layer's training step on time-major input
against the same step on batch-first input, xpgrad next to PyTorch CPU.

    python benchmarks/recurrent_layout.py [--kind LSTM] [--backend numba] [--rounds 15]
                                          [--batch 32] [--steps 35] [--inputs 64] [--hidden 128]

xpgrad's layers run batch first inside; with ``batch_first=False`` they transpose the input
at entry and the outputs at exit (``xpgrad/nn/_layout.py``), and the gradients back through
both. One step is the layer's forward, an MSE loss on every output, the backward pass and an
SGD update. The rows are each library's step in each layout (thread CPU time, one thread
each, medians of ``--rounds`` interleaved repeats) and the ratios that matter: time-major /
batch-first within each library (the transposes' cost) and xpgrad / torch in each layout.
Before timing, the two xpgrad layouts are checked to give the same loss.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def _xpgrad_step(kind, backend, batch_first, x, y, H):
    import xpgrad as xg

    I = x.shape[-1]
    layer = getattr(xg.nn, kind)(I, H, batch_first=batch_first, backend=backend, rng=0)
    if not batch_first:
        x, y = x.transpose(1, 0, 2), y.transpose(1, 0, 2)
    xt, yt = xg.asarray(np.ascontiguousarray(x), backend=backend), xg.asarray(
        np.ascontiguousarray(y), backend=backend)
    params = layer.trainable_variables
    opt = xg.optim.SGD(learning_rate=0.0)      # the weights stay: every round times one step

    def step():
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(layer(xt)[0], yt)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return float(loss)
    return step


def _torch_step(kind, batch_first, x, y, H):
    import torch

    I = x.shape[-1]
    torch.manual_seed(0)
    layer = getattr(torch.nn, kind)(I, H, batch_first=batch_first)
    if not batch_first:
        x, y = x.transpose(1, 0, 2), y.transpose(1, 0, 2)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
    opt = torch.optim.SGD(layer.parameters(), lr=0.0)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(layer(xt)[0], yt)
        loss.backward()
        opt.step()
        return float(loss.detach())
    return step


def main(argv=None):
    from xpgrad import cli_types

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=("RNN", "LSTM", "GRU"), default="LSTM")
    ap.add_argument("--backend", choices=("numpy", "numba"), default="numba")
    ap.add_argument("--rounds", type=cli_types.positive(int), default=15)
    ap.add_argument("--batch", type=cli_types.positive(int), default=32)
    ap.add_argument("--steps", type=cli_types.positive(int), default=35)
    ap.add_argument("--inputs", type=cli_types.positive(int), default=64)
    ap.add_argument("--hidden", type=cli_types.positive(int), default=128)
    args = ap.parse_args(argv)
    B, T, I, H = args.batch, args.steps, args.inputs, args.hidden

    import torch
    from threadpoolctl import threadpool_limits

    numba = None
    if args.backend == "numba":
        import numba

        numba_threads = numba.get_num_threads()
        numba.set_num_threads(1)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):             # one thread each; the caller's settings after
            _measure(args, B, T, I, H)
    finally:
        torch.set_num_threads(torch_threads)
        if numba is not None:
            numba.set_num_threads(numba_threads)
    return 0


def _measure(args, B, T, I, H):
    """The interleaved timing and the printed table."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, I)).astype(np.float32)
    y = rng.normal(size=(B, T, H)).astype(np.float32)
    steps = {"xpgrad batch-first": _xpgrad_step(args.kind, args.backend, True, x, y, H),
             "xpgrad time-major": _xpgrad_step(args.kind, args.backend, False, x, y, H),
             "torch batch-first": _torch_step(args.kind, True, x, y, H),
             "torch time-major": _torch_step(args.kind, False, x, y, H)}
    losses = {name: fn() for name, fn in steps.items()}       # compile, allocate, warm up
    a, b = losses["xpgrad batch-first"], losses["xpgrad time-major"]
    if abs(a - b) > 1e-5 * abs(a):
        raise AssertionError(f"the layouts' losses differ: {a} (batch first), {b} (time major)")
    times = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, fn in steps.items():
            t0 = time.thread_time()
            fn()
            times[name].append(time.thread_time() - t0)
    ms = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
    print(f"{args.kind} {I}-{H} train step, batch {B}, {T} steps, xpgrad on {args.backend}; "
          f"one thread each; shared machine, load average {os.getloadavg()[0]:.1f}")
    for name, v in ms.items():
        print(f"  {name:34s} {v:8.2f} ms")
    for lib in ("xpgrad", "torch"):
        print(f"  {lib + ' time-major / batch-first':34s} "
              f"{ms[lib + ' time-major'] / ms[lib + ' batch-first']:8.3f}")
    for layout in ("batch-first", "time-major"):
        print(f"  {'xpgrad / torch, ' + layout:34s} "
              f"{ms['xpgrad ' + layout] / ms['torch ' + layout]:8.3f}")


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")     # as recurrent_steps.py
    main()
