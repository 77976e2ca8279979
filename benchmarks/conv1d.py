"""Conv1d and 1-d pooling, forward + every gradient, one thread: xpgrad (numpy and numba
backends, eager) against PyTorch's CPU ``F.conv1d`` / ``F.max_pool1d`` / ``F.avg_pool1d``.

    python benchmarks/conv1d.py [--repeats 9] [--rounds 3] [--scale 1.0] [--dtype float32]

One thread everywhere (BLAS, Numba and PyTorch; run as a script, the environment variables are
set before NumPy is imported unless given). Runs are interleaved in one process (xpgrad numpy, numba, torch,
then again), each the median of ``--repeats`` calls; prints ms and the ratios to PyTorch.
``--scale`` multiplies the batch size (0.1 for a quick check). Every variant is first checked
to give PyTorch's output.
"""
from __future__ import annotations

from interleaved import one_thread, run  # noqa: E402

if __name__ == "__main__":      # not on import: a test process has its own thread settings
    one_thread()

import numpy as np  # noqa: E402

import xpgrad as xg  # noqa: E402

#: name, (N, C_in, L), the call's keyword arguments
WORKLOADS = [
    ("conv k3 64->64", (32, 64, 128), {"conv": (64, 3), "padding": 1}),
    ("conv k5 40->128", (16, 40, 200), {"conv": (128, 5), "padding": 2}),
    ("conv k11 s2 16->32", (8, 16, 1000), {"conv": (32, 11), "stride": 2, "padding": 5}),
    ("conv depthwise k5", (16, 64, 256), {"conv": (64, 5), "groups": 64, "padding": 2}),
    ("conv k3 d2 g4", (16, 64, 256), {"conv": (64, 3), "groups": 4, "dilation": 2}),
    ("max_pool k3 s2 p1", (32, 64, 256), {"pool": "max", "kernel_size": 3, "stride": 2,
                                          "padding": 1}),
    ("avg_pool k4", (32, 64, 256), {"pool": "avg", "kernel_size": 4}),
]


def _arrays(shape, kwargs, dtype, scale):
    rng = np.random.default_rng(0)
    shape = (max(1, round(shape[0] * scale)),) + shape[1:]
    x = rng.standard_normal(shape).astype(dtype)
    if "conv" not in kwargs:
        return x, None, None
    c_out, k = kwargs["conv"]
    w = rng.standard_normal((c_out, shape[1] // kwargs.get("groups", 1), k)).astype(dtype)
    return x, w, rng.standard_normal(c_out).astype(dtype)


def _call_kwargs(kwargs):
    return {k: v for k, v in kwargs.items() if k not in ("conv", "pool")}


def xpgrad_step(backend, x, w, b, kwargs):
    xt = xg.asarray(x, backend=backend)
    params = [] if w is None else [xg.Variable(xg.asarray(a, backend=backend)) for a in (w, b)]
    fn = {"max": xg.nn.max_pool1d, "avg": xg.nn.avg_pool1d}.get(kwargs.get("pool"))
    call = _call_kwargs(kwargs)

    def step():
        with xg.GradientTape() as tape:
            tape.watch(xt)
            y = fn(xt, **call) if fn else xg.nn.conv1d(xt, *params, **call)
            loss = xg.sum(y)
        tape.gradient(loss, [xt] + params)
        return y.numpy()
    return step


def torch_step(x, w, b, kwargs):
    import torch

    F = torch.nn.functional
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    fn = {"max": F.max_pool1d, "avg": F.avg_pool1d}.get(kwargs.get("pool"))
    call = _call_kwargs(kwargs)

    def step():
        y = fn(ts[0], **call) if fn else F.conv1d(*ts, **call)
        torch.autograd.grad(y.sum(), ts)
        return y.detach().numpy()
    return step


def _steps(args, backends, workload):
    name, shape, kwargs = workload
    x, w, b = _arrays(shape, kwargs, args.dtype, args.scale)
    return name, dict({be: xpgrad_step(be, x, w, b, kwargs) for be in backends},
                      torch=torch_step(x, w, b, kwargs))


def main(argv=None):
    return run(__doc__, argv, WORKLOADS, _steps, tol32=1e-3)


if __name__ == "__main__":
    main()
