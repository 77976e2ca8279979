"""multi_margin (PyTorch's multi_margin_loss), forward + gradient w.r.t. the scores, one
thread: xpgrad (numpy and numba backends, eager) against PyTorch's CPU
``F.multi_margin_loss``.

    python benchmarks/multi_margin.py [--repeats 9] [--rounds 5] [--dtype float32]
                                      [--backends numpy,numba]

One thread everywhere (BLAS, Numba and PyTorch; run as a script, the environment variables are
set before NumPy is imported unless given). Each round times every library in turn (the
median of ``--repeats`` calls by the process's CPU time, ``interleaved.median_ms``);
printed: the median over the rounds in ms and torch time / xpgrad time (above 1: xpgrad is
faster). Every variant is first checked to give PyTorch's loss and gradient.
"""
from __future__ import annotations

from interleaved import arguments, median_ms, one_thread  # noqa: E402

if __name__ == "__main__":      # not on import: a test process has its own thread settings
    one_thread()

import statistics  # noqa: E402

import numpy as np  # noqa: E402

#: name, (N, C), the loss's keyword arguments
WORKLOADS = [
    ("256x10 p=1", (256, 10), {}),
    ("256x1000 p=1", (256, 1000), {}),
    ("256x10 p=2 weight", (256, 10), {"p": 2, "margin": 0.5, "weight": True}),
    ("256x1000 p=2 weight", (256, 1000), {"p": 2, "margin": 0.5, "weight": True}),
]


def _inputs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    n, c = shape
    return (rng.normal(size=shape).astype(dtype), rng.integers(0, c, n),
            rng.uniform(0.5, 2.0, c).astype(dtype))


def xpgrad_step(backend, x, y, w, options):
    import xpgrad as xg

    xs, ys = xg.asarray(x, backend=backend), xg.asarray(y, backend=backend)
    kw = dict(options, weight=xg.asarray(w, backend=backend) if options.get("weight") else None)

    def step():
        with xg.GradientTape() as tape:
            tape.watch(xs)
            loss = xg.losses.multi_margin(xs, ys, **kw)
        return np.concatenate([[loss.item()], tape.gradient(loss, xs).numpy().ravel()])
    return step


def torch_step(x, y, w, options):
    import torch

    xs, ys = torch.tensor(x, requires_grad=True), torch.tensor(y)
    kw = dict(options, weight=torch.tensor(w) if options.get("weight") else None)

    def step():
        loss = torch.nn.functional.multi_margin_loss(xs, ys, **kw)
        (g,) = torch.autograd.grad(loss, xs)
        return np.concatenate([[loss.item()], g.numpy().ravel()])
    return step


def main(argv=None):
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = ["numpy", "numba"]
    if "--backends" in argv:
        at = argv.index("--backends")
        wanted = argv[at + 1].split(",")
        del argv[at:at + 2]
    args = arguments(__doc__, argv, repeats=9)
    import torch

    import xpgrad as xg

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    backends = [b for b in wanted if xg.available_backends()[b]["available"]]
    tol = 1e-4 if args.dtype == "float32" else 1e-10
    rows = []
    try:
        for name, shape, options in WORKLOADS:
            x, y, w = _inputs(shape, args.dtype)
            steps = {be: xpgrad_step(be, x, y, w, options) for be in backends}
            steps["torch"] = torch_step(x, y, w, options)
            want = steps["torch"]()
            for be in backends:
                np.testing.assert_allclose(steps[be](), want, rtol=tol, atol=tol, err_msg=name)
            times = {k: [] for k in steps}
            for _ in range(max(args.rounds, 5)):
                for k, step in steps.items():
                    times[k].append(median_ms(step, args.repeats))
            ms = {k: statistics.median(v) for k, v in times.items()}
            rows.append((name, ms))
            ratios = "  ".join(f"{be} {ms[be]:.3f} ms (torch/xpgrad {ms['torch'] / ms[be]:.2f})"
                               for be in backends)
            print(f"{name:22s} torch {ms['torch']:.3f} ms  {ratios}", flush=True)
    finally:
        torch.set_num_threads(previous)
    return rows


if __name__ == "__main__":
    main()
