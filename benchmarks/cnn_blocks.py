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

from interleaved import one_thread, run  # noqa: E402

if __name__ == "__main__":      # not on import: a test process has its own thread settings
    one_thread()

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


def _steps(args, backends, workload):
    name, (what, arg) = workload
    shape = (max(2, round(SHAPE[0] * args.scale)),) + SHAPE[1:]
    x = np.random.default_rng(0).standard_normal(shape).astype(args.dtype)
    return name, dict({be: xpgrad_step(be, x, what, arg) for be in backends},
                      torch=torch_step(x, what, arg))


def main(argv=None):
    return run(__doc__, argv, WORKLOADS, _steps, tol32=1e-4)


if __name__ == "__main__":
    main()
