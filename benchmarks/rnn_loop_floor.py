"""Where the time of a hand-written RNN loop goes: xpgrad and PyTorch eager against the same
forward and backward written by hand in NumPy (the floor: no tape, no dispatch).

    python benchmarks/rnn_loop_floor.py [--steps 100] [--repeats 8] [--backend numpy]

The workload is ``rnn_loop`` of xpgrad/bench_workloads (a tanh RNN over ``unstack(x, axis=1)``,
loss = the sum of every step's h; gradients for x, w, u, b). BLAS and torch run on one thread;
rounds are interleaved so all three see the same machine load. Prints the median time per
call and checks that the three compute the same gradients.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from xpgrad.bench_workloads import build  # noqa: E402

BATCH, INPUTS, HIDDEN = 32, 32, 64


def numpy_loop(steps):
    """The workload's forward and backward by hand, on the workload's own inputs."""
    rng = np.random.default_rng(8)                   # the seed and draws of rnn_loop
    x = rng.normal(size=(BATCH, steps, INPUTS)).astype(np.float32)
    w = (rng.normal(size=(INPUTS, HIDDEN)) / np.sqrt(INPUTS)).astype(np.float32)
    u = (rng.normal(size=(HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)).astype(np.float32)
    b = np.zeros(HIDDEN, np.float32)

    def run():
        hs = [np.zeros((BATCH, HIDDEN), np.float32)]
        for t in range(steps):
            hs.append(np.tanh(x[:, t] @ w + hs[-1] @ u + b))
        dx, dw, du, db = (np.zeros_like(a) for a in (x, w, u, b))
        dh = np.zeros((BATCH, HIDDEN), np.float32)
        for t in range(steps - 1, -1, -1):
            da = (dh + 1.0) * (1.0 - hs[t + 1] * hs[t + 1])
            db += da.sum(0)
            dw += x[:, t].T @ da
            du += hs[t].T @ da
            dx[:, t] = da @ w.T
            dh = da @ u.T
        return dx, dw, du, db
    return run


def main(argv=None):
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=cli_types.positive(int), default=100)
    p.add_argument("--repeats", type=cli_types.positive(int), default=8)
    p.add_argument("--calls", type=cli_types.positive(int), default=5, help="calls per timed round")
    p.add_argument("--backend", type=cli_types.backend_name, default="numpy")
    args = p.parse_args(argv)
    runs = {"numpy by hand": numpy_loop(args.steps),
            f"xpgrad-{args.backend}": build("rnn_loop", f"xpgrad-{args.backend}",
                                            steps=args.steps)}
    try:
        import torch

        torch.set_num_threads(1)
        runs["torch-cpu"] = build("rnn_loop", "torch-cpu", steps=args.steps)
    except ImportError:
        print("PyTorch not installed: timing xpgrad and NumPy only")

    as_numpy = {"numpy by hand": lambda g: g, f"xpgrad-{args.backend}": lambda g: g.numpy(),
                "torch-cpu": lambda g: g.detach().numpy()}
    reference = runs["numpy by hand"]()
    for name, run in runs.items():
        for got, want in zip(run(), reference):
            np.testing.assert_allclose(as_numpy[name](got), want, rtol=1e-3, atol=1e-4,
                                       err_msg=name)

    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            for _ in range(args.calls):
                run()
            times[name].append((time.perf_counter() - t0) / args.calls)
    floor = statistics.median(times["numpy by hand"])
    print(f"tanh RNN loop, batch {BATCH}, {args.steps} steps, forward + gradient "
          f"(median of {args.repeats} rounds; same gradients checked)")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:16s} {med * 1e3:8.2f} ms   {med / floor:5.2f}x the hand-written floor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
