"""The gradient of a per-example gradient penalty (WGAN-GP's): ``xg.grad`` of a loss that holds
``xg.vmap(xg.grad(critic, argnums=1))``, against ``torch.func.grad`` of the same with
``torch.func.vmap(torch.func.grad(...))``; the critic is a tanh MLP (float32).

    python benchmarks/vmap_gradient_penalty.py [--sizes 32-64] [--batches 64]
                                               [--repeats 5] [--threads 1]

Prints, per critic and batch size, the median wall and thread-CPU milliseconds per call of each
(rounds interleaved), the largest difference between the two gradients, and which functions
xg.vmap looped over.
"""
from __future__ import annotations

import argparse
import statistics

import numpy as np

import xpgrad as xg
from vmap_per_sample import timed


def critic_sizes(text):
    """``"32-64"`` -> ``(32, 64)``: inputs, hidden units (one output)."""
    parts = text.split("-")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"must be two integers > 0 as INPUTS-HIDDEN (32-64), got {text!r}")
    return tuple(int(p) for p in parts)


def _weights(rng, sizes):
    d, h = sizes
    shapes = {"w1": (d, h), "b1": (h,), "w2": (h,)}
    return {k: (rng.standard_normal(s) / np.sqrt(s[0])).astype(np.float32)
            for k, s in shapes.items()}


def xpgrad_call(weights, x):
    params = {k: xg.asarray(v) for k, v in weights.items()}
    xs = xg.asarray(x)

    def critic(p, x):
        return xg.sum(xg.tanh(x @ p["w1"] + p["b1"]) * p["w2"])

    slopes = xg.vmap(xg.grad(critic, argnums=1), in_axes=(None, 0))

    def penalty(p, x):
        norms = xg.sqrt(xg.sum(slopes(p, x) ** 2, axis=1))
        return xg.mean((norms - 1.0) ** 2)

    gradient = xg.grad(penalty)
    return lambda: gradient(params, xs), slopes


def torch_call(weights, x):
    import torch

    params = {k: torch.from_numpy(v) for k, v in weights.items()}
    xs = torch.from_numpy(x)

    def critic(p, x):
        return torch.sum(torch.tanh(x @ p["w1"] + p["b1"]) * p["w2"])

    slopes = torch.func.vmap(torch.func.grad(critic, argnums=1), in_dims=(None, 0))

    def penalty(p, x):
        norms = torch.sqrt(torch.sum(slopes(p, x) ** 2, dim=1))
        return torch.mean((norms - 1.0) ** 2)

    gradient = torch.func.grad(penalty)
    return lambda: gradient(params, xs)


def main(argv=None):
    from xpgrad import cli_types
    from xpgrad.threads import parse_threads

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=critic_sizes, nargs="+", default=[(32, 64)],
                   metavar="IN-HIDDEN")
    p.add_argument("--batches", type=cli_types.positive(int), nargs="+", default=[64])
    p.add_argument("--repeats", type=cli_types.positive(int), default=5)
    p.add_argument("--threads", type=parse_threads, default=1)
    args = p.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    for sizes in args.sizes:
        rng = np.random.default_rng(0)
        weights = _weights(rng, sizes)
        for batch in args.batches:
            x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
            ours, slopes = xpgrad_call(weights, x)
            calls = {"xg": ours, "torch.func": torch_call(weights, x)}
            got, want = calls["xg"](), calls["torch.func"]()
            diff = max(float(np.abs(got[k].numpy() - want[k].numpy()).max()) for k in weights)
            threadpool_limits(args.threads)
            number = max(1, 640 // batch)
            wall = {k: [] for k in calls}
            cpu = {k: [] for k in calls}
            for _ in range(args.repeats):
                for name, call in calls.items():
                    w, c = timed(call, number)
                    wall[name].append(w)
                    cpu[name].append(c)
            critic = "-".join(map(str, sizes))
            for name in calls:
                print(f"critic {critic} batch {batch:4d} {name:>10}: wall "
                      f"{statistics.median(wall[name]) * 1e3:7.2f} ms, thread CPU "
                      f"{statistics.median(cpu[name]) * 1e3:7.2f} ms per call "
                      f"[median of {args.repeats}]")
            print(f"  largest difference of the gradients: {diff:.2g}; xg.vmap looped over: "
                  f"{dict(slopes.fallbacks) or 'nothing'}")


if __name__ == "__main__":
    main()
