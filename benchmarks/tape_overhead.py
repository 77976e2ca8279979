"""The tape's own cost, next to PyTorch: Python calls per op, time per op as tapes grow, peak
memory of one training step.

    python benchmarks/tape_overhead.py calls
    python benchmarks/tape_overhead.py ratios [--backend numpy] [--only chain MLP LSTM]
    python benchmarks/tape_overhead.py memory [--backend numpy]

``calls``: cProfile's count of every call (built-ins included) for the 100-op chain on 4 floats
(forward and gradient; 101 ops with the sum) and for one MLP 784-256-10 SGD step, batch 128.

``ratios``: PyTorch time / xpgrad time (above 1: xpgrad faster) for the chain at 100, 10k and
100k ops, the MLP step at batch 32, 128 and 4096, and the LSTM step (64 in, 128 hidden, 50 steps,
batch 64): one thread each, the two interleaved in one process, best of several repeats of the
CPU time of this process (``time.process_time``), so that time other processes take on shared
cores is not counted; the workloads are ``xpgrad bench``'s.

``memory``: the rise of the peak RSS during one step (MLP at batch 4096, LSTM) over the RSS
before it, each library in a fresh subprocess after two warm-up steps (Linux: VmHWM, reset
through /proc/self/clear_refs; glibc's mmap threshold is fixed at 64 KiB so that freed buffers
leave the RSS, for both libraries).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import subprocess
import sys
import time


def calls():
    import numpy as np

    import xpgrad as xg

    def counted(fn, reps=5):
        fn()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(reps):
            fn()
        prof.disable()
        return pstats.Stats(prof).total_calls / reps

    x = xg.asarray(np.random.default_rng(0).uniform(-1, 1, 4).astype(np.float32))

    def chain():
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = x
            for _ in range(25):
                y = xg.tanh(xg.sin(y) * 1.5 + 0.1)
            total = xg.sum(y)
        tape.gradient(total, x)

    rng = np.random.default_rng(5)
    model = xg.nn.MLP([784, 256, 10])
    params = model.trainable_variables
    opt = xg.optim.SGD(learning_rate=0.01)
    xb = xg.asarray(rng.normal(size=(128, 784)).astype(np.float32))
    yb = xg.asarray(rng.integers(0, 10, 128))

    def step():
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(xb), yb)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))

    print(f"chain 100 ops, 4 floats: {counted(chain) / 101:.1f} calls per op")
    print(f"MLP 784-256-10 SGD step, batch 128: {counted(step):.0f} calls per step")


#: the ratio rows, named for ``--only`` (a row runs when its name starts with a given word)
RATIO_ROWS = ("chain 100", "chain 10k", "chain 100k", "MLP B=32", "MLP B=128", "MLP B=4096",
              "LSTM")


def unmatched(only):
    """The words of ``--only`` that start no row's name (``main`` refuses them)."""
    return [o for o in only if not any(name.startswith(o) for name in RATIO_ROWS)]


def ratios(backend, only):
    from xpgrad.bench_workloads._libs import _Lib, limit_threads
    from xpgrad.bench_workloads.ops import chain
    from xpgrad.bench_workloads.training import lstm_step, mlp_step

    libs = {"xpgrad": _Lib(f"xpgrad-{backend}"), "torch": _Lib("torch-cpu")}
    limit_threads(1, torch=True)    # after the libraries: Numba's pool exists only once imported
    work = [(lambda lib: chain(lib, 100), 200, 7),
            (lambda lib: chain(lib, 10_000), 2, 5),
            (lambda lib: chain(lib, 100_000), 1, 3),
            (lambda lib: mlp_step(lib, 32), 50, 7),
            (lambda lib: mlp_step(lib, 128), 20, 7),
            (lambda lib: mlp_step(lib, 4096), 2, 5),
            (lstm_step, 2, 5)]
    print(f"load average {os.getloadavg()[0]:.1f}")
    for name, (make, inner, repeats) in zip(RATIO_ROWS, work):
        if only and not any(name.startswith(o) for o in only):
            continue
        runs = {k: make(lib) for k, lib in libs.items()}
        for run in runs.values():
            run()
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(repeats):
            for k, run in runs.items():
                t0 = time.process_time()
                for _ in range(inner):
                    run()
                best[k] = min(best[k], (time.process_time() - t0) / inner)
        t, x = best["torch"], best["xpgrad"]
        print(f"{name:11s} torch {t * 1e3:9.3f} ms  xpgrad {x * 1e3:9.3f} ms  torch/xpgrad "
              f"{t / x:.2f}", flush=True)


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status (peak memory needs Linux)")


def peak_rise(run):
    """The rise of the peak RSS (VmHWM, reset through /proc/self/clear_refs) over the RSS
    before one call of ``run``, after two warm-up calls, MiB."""
    run()
    run()
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status("VmRSS")
    run()
    return _status("VmHWM") - before


def peak(lib_name, workload):
    """One step's peak RSS rise, MiB (run in a fresh process by ``memory``)."""
    from xpgrad.bench_workloads._libs import _Lib
    from xpgrad.bench_workloads.training import lstm_step, mlp_step

    lib = _Lib(lib_name)
    if lib.kind == "torch":
        lib.torch.set_num_threads(1)
    run = mlp_step(lib, batch=4096) if workload == "mlp" else lstm_step(lib)
    print(f"{peak_rise(run):.1f}")


def memory(backend):
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    for workload in ("mlp", "lstm"):
        got = {}
        for lib in ("torch-cpu", f"xpgrad-{backend}"):
            out = subprocess.run([sys.executable, __file__, "_peak", lib, workload], env=env,
                                 capture_output=True, text=True, check=True)
            got[lib] = float(out.stdout.split()[-1])
        t, x = got["torch-cpu"], got[f"xpgrad-{backend}"]
        print(f"{workload:4s} peak RSS rise: torch {t:.1f} MiB, xpgrad {x:.1f} MiB, "
              f"torch/xpgrad {t / x:.2f}")


def main(argv=None):
    from xpgrad import cli_types

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("calls", "ratios", "memory", "_peak"))
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--backend", type=cli_types.backend_name, default="numpy")
    parser.add_argument("--only", nargs="*", default=())
    a = parser.parse_args(argv)
    if a.only and unmatched(a.only):
        parser.error(f"argument --only: {', '.join(map(repr, unmatched(a.only)))} names no "
                     f"row; the rows are {', '.join(map(repr, RATIO_ROWS))}")
    if a.what == "calls":
        calls()
    elif a.what == "ratios":
        ratios(a.backend, a.only)
    elif a.what == "memory":
        memory(a.backend)
    else:
        peak(*a.args)


if __name__ == "__main__":
    main()
