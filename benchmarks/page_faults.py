"""Page faults per training step, process by process: what ``xpgrad.allocator`` fixes.

    python benchmarks/page_faults.py [--processes 8] [--batch 32] [--steps 300]

Runs the same short script (an MLP 784-256-10 SGD step, softmax cross-entropy, in a loop, as a
user writes it; a hand-written NumPy step of the same model after each, as a script's own array
work would be) in ``--processes`` fresh processes, once with xpgrad's malloc tuning
(the default) and once with ``XPGRAD_MALLOC_TUNING=0``, interleaved, one thread each. Prints, per
process, the median step time (thread CPU time) and the minor page faults per step. Without the
tuning, whether a process faults depends on where its heap happens to end; with it, none should.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


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

    for _ in range(30):
        step()
        by_hand()
    times = []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        t0 = time.thread_time()
        step()
        times.append(time.thread_time() - t0)
        by_hand()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(f"{statistics.median(times) * 1e6:.1f} {faults / steps:.1f} {allocator.STATE}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, default=8)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.batch, args.steps)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    configs = {"tuned (default)": {}, "XPGRAD_MALLOC_TUNING=0": {"XPGRAD_MALLOC_TUNING": "0"}}
    rows = {name: [] for name in configs}
    cmd = [sys.executable, __file__, "--child", "--batch", str(args.batch),
           "--steps", str(args.steps)]
    for _ in range(args.processes):
        for name, extra in configs.items():
            out = subprocess.run(cmd, env=dict(env, **extra), capture_output=True, text=True,
                                 check=True).stdout.split(maxsplit=2)
            rows[name].append((float(out[0]), float(out[1]), out[2].strip()))
    print(f"MLP 784-256-10 SGD step, batch {args.batch}, one thread; {args.processes} fresh "
          f"processes each; load average {os.getloadavg()[0]:.1f}")
    for name, got in rows.items():
        print(f"{name}: {got[0][2]}")
        print("  step us:      " + " ".join(f"{t:7.0f}" for t, _, _ in got))
        print("  faults/step:  " + " ".join(f"{f:7.0f}" for _, f, _ in got))


if __name__ == "__main__":
    main()
