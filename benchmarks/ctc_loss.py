"""CTC loss, forward + gradient w.r.t. ``log_probs``, one thread: xpgrad's generic rule (numpy
backend), the Numba kernel (numba backend) and PyTorch's CPU ``ctc_loss``.

    python benchmarks/ctc_loss.py [--shape T N C S] [--dtype float32] [--repeats 9]

Interleaved runs in one process; prints the median of each in ms and the ratios to PyTorch.
Every variant is first checked to give PyTorch's loss (the gradients agree through a
log_softmax, see tests/test_ctc_loss.py).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import xpgrad as xg


def inputs(T, N, C, S, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C))
    lp = (x - np.log(np.exp(x).sum(-1, keepdims=True))).astype(dtype)
    tl = rng.integers(S // 2, S + 1, N)
    il = np.full(N, T)
    return lp, rng.integers(1, C, (N, S)), il, tl


def xpgrad_step(backend, lp, targets, il, tl):
    x = xg.asarray(lp, backend=backend)
    t, i, n = (xg.asarray(a, backend=backend) for a in (targets, il, tl))

    def step():
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.losses.ctc(x, t, i, n)
        return loss.item(), tape.gradient(loss, x)
    return step


def torch_step(lp, targets, il, tl):
    import torch

    x = torch.tensor(lp, requires_grad=True)
    t, i, n = (torch.tensor(a) for a in (targets, il, tl))

    def step():
        loss = torch.nn.functional.ctc_loss(x, t, i, n)
        (g,) = torch.autograd.grad(loss, x)
        return loss.item(), g
    return step


def main(argv=None):
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", type=cli_types.positive(int), nargs=4, default=[100, 32, 30, 20],
                   metavar=("T", "N", "C", "S"))
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--repeats", type=cli_types.positive(int), default=9)
    args = p.parse_args(argv)
    T, N, C, S = args.shape
    if C < 2:
        p.error(f"argument --shape: C (classes) must be >= 2, class 0 being the blank, got {C}")
    if S > T:
        p.error(f"argument --shape: S (target length) must be at most T (input length), "
                f"got S={S} > T={T}")
    lp, targets, il, tl = inputs(*args.shape, np.dtype(args.dtype))
    steps = {"generic (numpy)": xpgrad_step("numpy", lp, targets, il, tl)}
    restore = []                  # the thread counts this run changed, put back at the end
    if "numba" in xg.available_backends():
        import numba

        restore.append((numba.set_num_threads, numba.get_num_threads()))
        numba.set_num_threads(1)
        steps["kernel (numba)"] = xpgrad_step("numba", lp, targets, il, tl)
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        restore.append((torch.set_num_threads, torch.get_num_threads()))
        torch.set_num_threads(1)
        steps["torch"] = torch_step(lp, targets, il, tl)
    try:
        return _time(steps, args)
    finally:
        for set_threads, n in restore:
            set_threads(n)


def _time(steps, args):
    want = None
    for name, step in steps.items():          # warm up (compiles), and the same loss
        loss = step()[0]
        want = loss if want is None else want
        assert abs(loss - want) <= 1e-4 * abs(want), (name, loss, want)
    times = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    T, N, C, S = args.shape
    print(f"CTC forward + gradient, T={T} N={N} C={C} S={S} {args.dtype}, one thread, median "
          f"of {args.repeats}")
    ref = statistics.median(times["torch"]) if "torch" in times else None
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = f"  {med / ref:5.2f}x torch" if ref else ""
        print(f"  {name:18s} {med * 1e3:9.3f} ms{ratio}")
    return times


if __name__ == "__main__":
    main()
