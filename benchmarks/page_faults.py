"""Page faults per training step, process by process: what ``xpgrad.allocator`` fixes.

    python benchmarks/page_faults.py [--workload mlp|lstm|char_lm] [--backend numpy]
                                     [--processes 8] [--steps N]

Runs one training loop in ``--processes`` fresh processes, once with xpgrad's malloc tuning (the
default) and once with ``XPGRAD_MALLOC_TUNING=0``, interleaved, one thread each, and prints per
process the median step time (thread CPU time) and the minor page faults per step. Workloads:
``mlp``, a script as a user writes it (an MLP 784-256-10 SGD step at batch 32, softmax
cross-entropy, and after each step a hand-written NumPy step of the same model, as a script's
own array work would be); ``lstm`` and ``char_lm``, ``xpgrad bench``'s LSTM and char-LM steps
alone in their process. Without the tuning, whether a process faults depends on where its heap
happens to end; with it, none should.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def bench_child(workload, backend, steps):
    from xpgrad import allocator
    from xpgrad.bench_workloads._libs import _Lib
    from xpgrad.bench_workloads.char_lm import char_lm_step
    from xpgrad.bench_workloads.training import lstm_step

    lib = _Lib(f"xpgrad-{backend}")
    run = lstm_step(lib) if workload == "lstm" else char_lm_step(lib)
    _report(run, None, 5, steps, allocator.STATE)


def _report(step, between, warmup, steps, state):
    for _ in range(warmup):
        step()
        if between:
            between()
    times = []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        t0 = time.thread_time()
        step()
        times.append(time.thread_time() - t0)
        if between:
            between()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(f"{statistics.median(times) * 1e6:.1f} {faults / steps:.1f} {state}")


def child(batch, steps):
    import numpy as np

    import xpgrad as xg
    from xpgrad import allocator

    rng = np.random.default_rng(0)
    xn = rng.standard_normal((batch, 784)).astype(np.float32)
    yn = rng.integers(0, 10, batch)
    x, y = xg.asarray(xn), xg.asarray(yn)
    model = xg.nn.MLP([784, 256, 10], rng=xg.random.default_rng(0))
    params = model.trainable_variables
    opt = xg.optim.SGD(learning_rate=0.01)
    w1, b1, w2, b2 = (np.array(p.numpy()) for p in params)
    rows = np.arange(batch)

    def step():
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))

    def by_hand():
        h = xn @ w1 + b1
        a = np.maximum(h, 0)
        z = a @ w2 + b2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[rows, yn] -= 1
        p /= batch
        da = (p @ w2.T) * (h > 0)
        for w, g in ((w1, xn.T @ da), (b1, da.sum(0)), (w2, a.T @ p), (b2, p.sum(0))):
            w -= 0.01 * g

    _report(step, by_hand, 30, steps, allocator.STATE)


def main(argv=None):
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", choices=("mlp", "lstm", "char_lm"), default="mlp")
    p.add_argument("--backend", choices=("numpy", "numba"), default="numpy",
                   help="lstm and char_lm only (mlp: numpy)")
    p.add_argument("--processes", type=cli_types.positive(int), default=8)
    p.add_argument("--steps", type=cli_types.positive(int), default=None,
                   help="timed steps per process (default: mlp 300, else 30)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    steps = args.steps or (300 if args.workload == "mlp" else 30)
    if args.child:
        if args.workload == "mlp":
            return child(32, steps)
        return bench_child(args.workload, args.backend, steps)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    configs = {"tuned (default)": {}, "XPGRAD_MALLOC_TUNING=0": {"XPGRAD_MALLOC_TUNING": "0"}}
    rows = {name: [] for name in configs}
    cmd = [sys.executable, __file__, "--child", "--workload", args.workload,
           "--backend", args.backend, "--steps", str(steps)]
    for _ in range(args.processes):
        for name, extra in configs.items():
            out = subprocess.run(cmd, env=dict(env, **extra), capture_output=True, text=True,
                                 check=True).stdout.split(maxsplit=2)
            rows[name].append((float(out[0]), float(out[1]), out[2].strip()))
    what = {"mlp": "MLP 784-256-10 SGD step, batch 32, numpy",
            "lstm": f"LSTM 64-128 step, batch 64, 50 steps, {args.backend}",
            "char_lm": f"char-LM step, batch 32, 50 steps, {args.backend}"}[args.workload]
    print(f"{what}; one thread; {args.processes} fresh processes each; load average "
          f"{os.getloadavg()[0]:.1f}")
    for name, got in rows.items():
        print(f"{name}: {got[0][2]}")
        print("  step us:     " + " ".join(f"{t:7.0f}" for t, _, _ in got)
              + f"   median {statistics.median(t for t, _, _ in got):.0f}")
        print("  faults/step:  " + " ".join(f"{f:7.0f}" for _, f, _ in got))


if __name__ == "__main__":
    main()
