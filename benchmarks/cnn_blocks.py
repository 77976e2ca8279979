"""BatchNorm2d (training mode) and adaptive pooling, forward + every gradient, one thread:
xpgrad (numpy and numba backends, eager) against PyTorch's CPU ``nn.BatchNorm2d`` /
``F.adaptive_avg_pool2d`` / ``F.adaptive_max_pool2d``.

    python benchmarks/cnn_blocks.py [--repeats 9] [--rounds 3] [--scale 1.0] [--dtype float32]

One thread everywhere (BLAS, Numba and PyTorch; run as a script, the environment variables are
set before NumPy is imported unless given). Runs are interleaved in one process (xpgrad numpy,
numba, torch, then again), each the median of ``--repeats`` calls; prints ms and the ratios to
PyTorch (the best of ``--rounds``). ``--scale`` multiplies the batch size (0.1 for a quick
check). Every variant is first checked to give PyTorch's output.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

if __name__ == "__main__":      # not on import: a test process has its own thread settings
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import xpgrad as xg  # noqa: E402

SHAPE = (32, 64, 16, 16)
#: name, (what, its argument)
WORKLOADS = [
    ("BatchNorm2d(64) train", ("batch_norm", 64)),
    ("adaptive_avg_pool2d 1", ("avg", 1)),
    ("adaptive_avg_pool2d 5", ("avg", 5)),
    ("adaptive_max_pool2d 1", ("max", 1)),
    ("adaptive_max_pool2d 4", ("max", 4)),
    ("adaptive_max_pool2d 5", ("max", 5)),
]


def xpgrad_step(backend, x, what, arg):
    xt = xg.asarray(x, backend=backend)
    if what == "batch_norm":
        layer = xg.nn.BatchNorm2d(arg, dtype=x.dtype.name, backend=backend)
        params = layer.trainable_variables
    else:
        fn = {"avg": xg.nn.adaptive_avg_pool2d, "max": xg.nn.adaptive_max_pool2d}[what]
        layer, params = (lambda t: fn(t, arg)), []

    def step():
        with xg.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt)
            loss = xg.sum(y * y)
        tape.gradient(loss, [xt] + params)
        return y.numpy()
    return step


def torch_step(x, what, arg):
    import torch

    t = torch.tensor(x, requires_grad=True)
    if what == "batch_norm":
        layer = torch.nn.BatchNorm2d(arg, dtype=t.dtype)
        params = list(layer.parameters())
    else:
        F = torch.nn.functional
        fn = {"avg": F.adaptive_avg_pool2d, "max": F.adaptive_max_pool2d}[what]
        layer, params = (lambda a: fn(a, arg)), []

    def step():
        y = layer(t)
        torch.autograd.grad((y * y).sum(), [t] + params)
        return y.detach().numpy()
    return step


def _median_ms(step, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best is shown)")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    backends = [b for b in ("numpy", "numba") if xg.available_backends()[b]["available"]]
    shape = (max(2, round(SHAPE[0] * args.scale)),) + SHAPE[1:]
    x = np.random.default_rng(0).standard_normal(shape).astype(args.dtype)
    rows = []
    for name, (what, arg) in WORKLOADS:
        steps = {be: xpgrad_step(be, x, what, arg) for be in backends}
        steps["torch"] = torch_step(x, what, arg)
        want = steps["torch"]()
        tol = 1e-4 if args.dtype == "float32" else 1e-10
        for be in backends:
            np.testing.assert_allclose(steps[be](), want, rtol=tol, atol=tol, err_msg=name)
        best = {k: float("inf") for k in steps}
        for _ in range(args.rounds):
            for k, step in steps.items():
                best[k] = min(best[k], _median_ms(step, args.repeats))
        rows.append((name, best))
        ratios = "  ".join(f"{be} {best[be]:.2f} ms (x{best[be] / best['torch']:.2f})"
                           for be in backends)
        print(f"{name:22s} torch {best['torch']:.2f} ms  {ratios}", flush=True)
    return rows


if __name__ == "__main__":
    main()
