"""Peak memory and time of one training step of a recurrent layer, xpgrad against PyTorch.

    python benchmarks/step_memory_numba.py memory [--backend numba] [--only rnn gru lstm]
    python benchmarks/step_memory_numba.py time [--backend numba] [--only gru] [--steps 30]

One step (float32): ``xg.nn.RNN`` / ``GRU`` / ``LSTM`` (one layer, batch first) over a
(B, T, I) batch, the MSE of all outputs against a target, the gradients of every parameter, one
SGD update; PyTorch's ``torch.nn`` layer of the same sizes the same way. B=64 T=50 I=64 H=128
unless ``--sizes B T I H`` says otherwise.

``memory``: each (library, layer) in 5 fresh processes (``--repeats``), the rise of the peak
RSS (VmHWM, reset through /proc/self/clear_refs) over the RSS before a step, after two warm-up
steps, glibc's mmap threshold at 64 KiB so that freed buffers leave the RSS; prints the medians
and torch/xpgrad (above 1: xpgrad's step needs less). ``time``: the thread CPU time of a step,
xpgrad and PyTorch interleaved in one process after warm-up (Numba's compile excluded), one
thread each; prints the medians and xpgrad/torch. Run ``time`` alternately in two trees
(``PYTHONPATH``) to compare kernels: only the ratio means much on a shared machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from tape_overhead import peak_rise

LAYERS = ("rnn", "gru", "lstm")


def _step(library, layer, backend, sizes):
    """``run()``: one training step of ``layer`` on ``library`` ("torch" or "xpgrad")."""
    B, T, I, H = sizes
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(B, T, I)).astype(np.float32)
    y0 = rng.normal(size=(B, T, H)).astype(np.float32)
    name = layer.upper()
    if library == "torch":
        import torch

        torch.set_num_threads(1)
        model = getattr(torch.nn, name)(I, H, batch_first=True)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x, y = torch.from_numpy(x0), torch.from_numpy(y0)

        def run():
            opt.zero_grad(set_to_none=True)
            out, _ = model(x)
            torch.nn.functional.mse_loss(out, y).backward()
            opt.step()
        return run
    import xpgrad as xg

    model = getattr(xg.nn, name)(I, H, batch_first=True, rng=0, backend=backend)
    params = model.trainable_variables
    opt = xg.optim.SGD(learning_rate=0.01)
    x, y = xg.asarray(x0, backend=backend), xg.asarray(y0, backend=backend)

    def run():
        with xg.GradientTape() as tape:
            out, _ = model(x)
            loss = xg.losses.mse(out, y)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
    return run


def peak(library, layer, backend, sizes):
    """One step's peak RSS rise, MiB (in a fresh process, run by ``memory``)."""
    print(f"{peak_rise(_step(library, layer, backend, sizes)):.2f}")


def memory(layers, backend, sizes, repeats):
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for layer in layers:
        got = {}
        for library in ("torch", "xpgrad"):
            runs = [float(subprocess.run(
                [sys.executable, __file__, "_peak", library, layer, "--backend", backend,
                 "--sizes", *map(str, sizes)],
                env=env, capture_output=True, text=True, check=True).stdout.split()[-1])
                for _ in range(repeats)]
            got[library] = statistics.median(runs)
        t, x = got["torch"], got["xpgrad"]
        print(f"{layer:4s} {backend} peak RSS rise: torch {t:.1f} MiB, xpgrad {x:.1f} MiB, "
              f"torch/xpgrad {t / x:.2f}")


def timing(layers, backend, sizes, steps):
    for layer in layers:
        runs = {library: _step(library, layer, backend, sizes) for library in ("torch", "xpgrad")}
        for run in runs.values():
            run()
            run()
        times = {library: [] for library in runs}
        for _ in range(steps):
            for library, run in runs.items():
                start = time.thread_time()
                run()
                times[library].append(time.thread_time() - start)
        t, x = (statistics.median(times[k]) for k in ("torch", "xpgrad"))
        print(f"{layer:4s} {backend} step: torch {t * 1e3:.2f} ms, xpgrad {x * 1e3:.2f} ms, "
              f"xpgrad/torch {x / t:.2f}")


def main(argv=None):
    from xpgrad import cli_types

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("memory", "time", "_peak"))
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--backend", type=cli_types.backend_name, default="numba")
    parser.add_argument("--only", nargs="*", choices=LAYERS, default=LAYERS)
    parser.add_argument("--sizes", nargs=4, type=cli_types.positive(int),
                        default=(64, 50, 64, 128),
                        metavar=("B", "T", "I", "H"))
    parser.add_argument("--repeats", type=cli_types.positive(int), default=5)
    parser.add_argument("--steps", type=cli_types.positive(int), default=30)
    a = parser.parse_args(argv)
    if a.what == "_peak":
        peak(*a.args, a.backend, a.sizes)
    elif a.what == "memory":
        memory(a.only, a.backend, a.sizes, a.repeats)
    else:
        timing(a.only, a.backend, a.sizes, a.steps)


if __name__ == "__main__":
    main()
