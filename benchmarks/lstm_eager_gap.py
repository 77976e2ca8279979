"""Where an eager LSTM training step's time goes beyond its Numba kernels, next to the same step
compiled (``xg.function``), interleaved in one process, one thread each.

    python benchmarks/lstm_eager_gap.py [--rounds 25]

The step is ``xpgrad bench``'s ``lstm_step`` (64 inputs, 128 hidden, batch 64, 50 steps, MSE on
every output, SGD) on the numba backend. Rows, thread CPU time (min / median of ``--rounds``):

- ``eager``, ``compiled``: the whole step;
- ``eager: forward``, ``loss``, ``gradient``, ``update``: the eager step's phases;
- ``kernels``: the ``lstm_layer`` kernel's forward and sliced vjp called directly on NumPy
  arrays (no tape, no module, no loss, no update): what any step of this LSTM runs;
- minor page faults per step of each whole step (xpgrad's allocator tuning should make them 0).

``eager - kernels`` is what the eager step adds to its kernels (the MSE, the update, Python).
"""
from __future__ import annotations

import argparse
import os

if __name__ == "__main__":
    for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                  "OMP_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

B, T, I, H = 64, 50, 64, 128


def kernels_step():
    """The lstm_layer kernel's forward and vjp (outputs' gradient only) on NumPy arrays."""
    from xpgrad.backends.numba import _scans

    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.normal(size=(B, T, I)).astype(f32)
    h0, c0 = np.zeros((B, H), f32), np.zeros((B, H), f32)
    w_ih = (0.1 * rng.normal(size=(I, 4 * H))).astype(f32)
    w_hh = (0.1 * rng.normal(size=(H, 4 * H))).astype(f32)
    b = np.zeros(4 * H, f32)
    g_h = rng.normal(size=(B, T, H)).astype(f32)
    needs = (False, False, False, True, True, True)

    def step():
        _, saved = _scans.lstm_layer_forward(x, h0, c0, w_ih, w_hh, b)
        _scans.lstm_layer_vjp_sliced((0,), g_h, saved, needs, x, h0, c0, w_ih, w_hh, b)
    return step


def eager_phases(lib):
    """A callable running one eager step, returning its phases' thread times (s)."""
    import xpgrad as xg
    from xpgrad.losses import mse
    from xpgrad.optim import SGD

    rng = np.random.default_rng(7)
    x = xg.asarray(rng.normal(size=(B, T, I)).astype(np.float32), backend=lib.backend)
    y = xg.asarray(rng.normal(size=(B, T, H)).astype(np.float32), backend=lib.backend)
    model = xg.nn.LSTM(I, H, backend=lib.backend)
    params = model.trainable_variables
    opt = SGD(learning_rate=0.01)

    def step():
        t0 = time.thread_time()
        with xg.GradientTape() as tape:
            out, _ = model(x)
            t1 = time.thread_time()
            loss = mse(out, y)
        t2 = time.thread_time()
        grads = tape.gradient(loss, params)
        t3 = time.thread_time()
        opt.apply_gradients(zip(grads, params))
        t4 = time.thread_time()
        return {"eager: forward": t1 - t0, "eager: loss": t2 - t1, "eager: gradient": t3 - t2,
                "eager: update": t4 - t3}
    return step


def _timed(fn):
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults


def main(argv=None):
    from xpgrad import cli_types

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=cli_types.positive(int), default=25)
    args = ap.parse_args(argv)

    from xpgrad.bench_workloads._libs import _Lib
    from xpgrad.bench_workloads.training import lstm_step

    lib = _Lib("xpgrad-numba")
    steps = {"eager": lstm_step(lib), "compiled": lstm_step(lib, compiled=True),
             "kernels": kernels_step()}
    phases = eager_phases(lib)
    for fn in (*steps.values(), phases, phases):
        fn()
    times = {name: [] for name in steps}
    faults = dict.fromkeys(steps, 0)
    for _ in range(args.rounds):
        for name, fn in steps.items():
            took, faulted = _timed(fn)
            times[name].append(took)
            faults[name] += faulted
        for name, took in phases().items():
            times.setdefault(name, []).append(took)
    for name, values in times.items():
        extra = f"  {faults[name] / args.rounds:6.1f} faults/step" if name in faults else ""
        print(f"{name:18s} {min(values) * 1e3:7.3f} / {statistics.median(values) * 1e3:7.3f} ms"
              f"{extra}")
    print(f"eager - kernels    {(min(times['eager']) - min(times['kernels'])) * 1e3:7.3f} ms, "
          f"compiled - kernels {(min(times['compiled']) - min(times['kernels'])) * 1e3:.3f} ms "
          "(mins)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
