"""Peak memory and time of a training step with and without ``xg.recompute_grad``.

    python benchmarks/remat_memory.py [--backend numpy] [--only mlp lstm] [--repeats 5]

Workloads (float32, one step = forward, loss, gradient of every parameter):

- ``mlp``: 16 ReLU layers of 1024 (no bias) at batch 512, checkpointed in 4 segments of 4
  layers;
- ``mlp-tall``: 16 ReLU layers of 256 at batch 8192 (activations outweigh the weights'
  gradients), 4 segments;
- ``lstm``: an ``xg.nn.LSTMCell`` (64 in, 256 hidden) unrolled in Python over 256 steps at batch
  64, MSE of every step's output, checkpointed in 16 segments of 16 steps (each segment returns
  the pair ``(h, c)`` and its outputs).

Memory is measured as ``benchmarks/tape_overhead.py memory`` does it: each (workload, mode) in
a fresh process after two warm-up steps, the rise of the peak RSS (VmHWM, reset through
/proc/self/clear_refs) over the RSS before the step, glibc's mmap threshold fixed at 64 KiB so
freed buffers leave the RSS. Next to it, tracemalloc's peak of the step (NumPy reports its
buffers to it). Time: CPU seconds of the process per step (best of ``--repeats``, the two modes
interleaved in one process, one BLAS thread); only the ratio means much on a shared machine.
"""
from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
import tracemalloc

from tape_overhead import peak_rise

WORKLOADS = ("mlp", "mlp-tall", "lstm")


def _segments(n, size):
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


def mlp(xg, np, checkpoint, batch=512, width=1024, depth=16, per_segment=4):
    rng = np.random.default_rng(0)
    ws = [xg.Variable(rng.normal(size=(width, width)) / np.sqrt(width), dtype="float32",
                      name=f"w{i}") for i in range(depth)]
    x = xg.asarray(rng.normal(size=(batch, width)), dtype="float32")
    wrap = xg.recompute_grad if checkpoint else (lambda f: f)

    def segment(h, part):
        for w in part:
            h = xg.nn.relu(h @ w)
        return h

    def step():
        with xg.GradientTape() as tape:
            h = x
            for layers in _segments(depth, per_segment):
                h = wrap(segment)(h, [ws[i] for i in layers])
            loss = xg.mean(h * h)
        return tape.gradient(loss, ws)
    return step


def lstm(xg, np, checkpoint, batch=64, inputs=64, hidden=256, steps=256, per_segment=16):
    rng = np.random.default_rng(0)
    cell = xg.nn.LSTMCell(inputs, hidden, rng=0)
    xs = xg.unstack(xg.asarray(rng.normal(size=(batch, steps, inputs)), dtype="float32"),
                    axis=1)
    target = xg.asarray(rng.normal(size=(batch, hidden)), dtype="float32")
    params = cell.trainable_variables
    wrap = xg.recompute_grad if checkpoint else (lambda f: f)

    def segment(state, chunk):
        errors = []
        for x in chunk:
            state = cell(x, state)
            errors.append(xg.mean((state[0] - target) ** 2))
        return state, xg.sum(xg.stack(errors))

    def step():
        with xg.GradientTape() as tape:
            zeros = xg.zeros((batch, hidden))
            state, loss = (zeros, zeros), 0.0
            for part in _segments(steps, per_segment):
                state, err = wrap(segment)(state, [xs[i] for i in part])
                loss = loss + err
        return tape.gradient(loss, params)
    return step


def build(workload, checkpoint, backend):
    import numpy as np

    import xpgrad as xg

    xg.set_backend(backend)
    if workload == "lstm":
        return lstm(xg, np, checkpoint)
    if workload == "mlp-tall":
        return mlp(xg, np, checkpoint, batch=8192, width=256)
    return mlp(xg, np, checkpoint)


def peak(workload, mode, backend):
    """One step's peak RSS rise and tracemalloc peak, MiB (run in a fresh process)."""
    step = build(workload, mode == "remat", backend)
    rss = peak_rise(step)
    gc.collect()
    tracemalloc.start()
    step()
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"{rss:.1f} {traced:.1f}")


def memory(workload, backend):
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    got = {}
    for mode in ("plain", "remat"):
        out = subprocess.run([sys.executable, __file__, "_peak", workload, mode, backend],
                             env=env, capture_output=True, text=True, check=True)
        got[mode] = [float(v) for v in out.stdout.split()[-2:]]
    return got


def times(workload, backend, repeats):
    steps = {mode: build(workload, mode == "remat", backend) for mode in ("plain", "remat")}
    best = dict.fromkeys(steps, float("inf"))
    for step in steps.values():
        step()
    for _ in range(repeats):
        for mode, step in steps.items():
            t0 = time.process_time()
            step()
            best[mode] = min(best[mode], time.process_time() - t0)
    return best


def main(argv=None):
    from xpgrad import cli_types

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--backend", type=cli_types.backend_name, default="numpy")
    parser.add_argument("--only", nargs="*", default=WORKLOADS, choices=WORKLOADS)
    parser.add_argument("--repeats", type=cli_types.positive(int), default=5)
    a = parser.parse_args(argv)
    if a.what and a.what[0] == "_peak":
        return peak(*a.what[1:])
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    print(f"backend {a.backend}, load average {os.getloadavg()[0]:.1f}")
    for workload in a.only:
        mem = memory(workload, a.backend)
        t = times(workload, a.backend, a.repeats)
        (rss_p, tr_p), (rss_r, tr_r) = mem["plain"], mem["remat"]
        print(f"{workload:8s} peak RSS rise plain {rss_p:7.1f} MiB, remat {rss_r:7.1f} MiB "
              f"({rss_r / rss_p:.2f}); tracemalloc {tr_p:7.1f} -> {tr_r:7.1f} MiB "
              f"({tr_r / tr_p:.2f}); step {t['plain'] * 1e3:7.1f} -> {t['remat'] * 1e3:7.1f} "
              f"ms CPU ({t['remat'] / t['plain']:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
