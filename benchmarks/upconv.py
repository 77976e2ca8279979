"""Transposed convolution, upsampling, padding and GroupNorm, forward + every gradient, one
thread: xpgrad (numpy and numba backends, eager) against PyTorch's CPU layers.

    python benchmarks/upconv.py [--repeats 7] [--rounds 3] [--scale 1.0] [--dtype float32]

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

#: name, input shape (batch first), layer name, its arguments (the same for both libraries)
WORKLOADS = [
    ("ConvTranspose2d(64, 32, 4, 2, 1)", (16, 64, 16, 16), "ConvTranspose2d", (64, 32, 4, 2, 1)),
    ("ConvTranspose2d(64, 32, 3, 1, 1)", (16, 64, 16, 16), "ConvTranspose2d", (64, 32, 3, 1, 1)),
    ("Upsample(2, bilinear)", (16, 32, 32, 32), "Upsample", (None, 2.0, "bilinear")),
    ("Upsample(2, nearest)", (16, 32, 32, 32), "Upsample", (None, 2.0, "nearest")),
    ("GroupNorm(8, 32)", (16, 32, 32, 32), "GroupNorm", (8, 32)),
    ("ReflectionPad2d(1)", (16, 32, 32, 32), "ReflectionPad2d", (1,)),
]


def _ours(ref, name, args, dtype, backend):
    """The xpgrad layer of one workload, with the torch layer ``ref``'s weights."""
    kw = {}
    if name in ("ConvTranspose2d", "GroupNorm"):
        kw = {"dtype": dtype, "backend": backend}
        if name == "ConvTranspose2d":
            kw["rng"] = 0
    ours = getattr(xg.nn, name)(*args, **kw)
    if hasattr(ours, "load_torch_state_dict"):
        ours.load_torch_state_dict(ref.state_dict())
    return ours


def xpgrad_step(layer, x, backend):
    xt = xg.asarray(x, backend=backend)

    def step():
        with xg.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt)
            loss = xg.sum(y * y)
        tape.gradient(loss, [xt] + layer.trainable_variables)
        return y.numpy()
    return step


def torch_step(layer, x):
    import torch

    def step():
        tx = torch.tensor(x, requires_grad=True)
        layer.zero_grad()
        y = layer(tx)
        (y * y).sum().backward()
        return y.detach().numpy()
    return step


def _steps(args, backends, workload):
    import torch

    name, shape, layer, layer_args = workload
    shape = (max(1, round(shape[0] * args.scale)),) + shape[1:]
    x = np.random.default_rng(0).standard_normal(shape).astype(args.dtype)
    ref = getattr(torch.nn, layer)(*layer_args).to(getattr(torch, args.dtype))
    return name, dict({b: xpgrad_step(_ours(ref, layer, layer_args, args.dtype, b), x, b)
                       for b in backends}, torch=torch_step(ref, x))


def main(argv=None):
    return run(__doc__, argv, WORKLOADS, _steps, tol32=1e-4, repeats=7)


if __name__ == "__main__":
    main()
