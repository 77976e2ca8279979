"""Per-example gradients of ReLU MLPs (softmax cross-entropy, float32; 784-256-10 and the
small 20-64-10, where the batching's cost per operation shows): ``xg.vmap(xg.grad(loss))``,
``torch.func.vmap(torch.func.grad(loss))`` and the recipe before xg.vmap existed,
``tape.jacobian`` of the unreduced losses (one reverse pass per example).

    python benchmarks/vmap_per_sample.py [--sizes 784-256-10 20-64-10] [--batches 64 256]
                                         [--repeats 5] [--threads 1]

Prints, per MLP and batch size, the median wall and thread-CPU milliseconds per call of each
(rounds interleaved, so all see the same machine load), and which functions xg.vmap looped
over.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import xpgrad as xg


def mlp_sizes(text):
    """``"784-256-10"`` -> ``(784, 256, 10)``: inputs, hidden units, classes."""
    parts = text.split("-")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"must be three integers > 0 as INPUTS-HIDDEN-CLASSES (784-256-10), got {text!r}")
    return tuple(int(p) for p in parts)


def _weights(rng, sizes=(784, 256, 10)):
    d, h, c = sizes
    shapes = {"w1": (d, h), "b1": (h,), "w2": (h, c), "b2": (c,)}
    return {k: (rng.standard_normal(s) * 0.05).astype(np.float32) for k, s in shapes.items()}


def xpgrad_calls(weights, x, y):
    params = {k: xg.asarray(v) for k, v in weights.items()}

    def loss(p, x, y):
        h = xg.nn.relu(x @ p["w1"] + p["b1"])
        return xg.losses.softmax_cross_entropy((h @ p["w2"] + p["b2"])[None], y[None])

    per_example = xg.vmap(xg.grad(loss), in_axes=(None, 0, 0))
    variables = [xg.Variable(weights[k]) for k in ("w1", "b1", "w2", "b2")]
    xs, ys = xg.asarray(x), xg.asarray(y)

    def jacobian_recipe():
        with xg.GradientTape() as tape:
            h = xg.nn.relu(xs @ variables[0] + variables[1])
            losses = xg.losses.softmax_cross_entropy(h @ variables[2] + variables[3], ys,
                                                     reduction="none")
        return tape.jacobian(losses, variables)

    return {"xg.vmap": lambda: per_example(params, xs, ys),
            "tape.jacobian": jacobian_recipe}, per_example


def torch_call(weights, x, y):
    import torch

    params = {k: torch.from_numpy(v) for k, v in weights.items()}

    def loss(p, x, y):
        h = torch.relu(x @ p["w1"] + p["b1"])
        return torch.nn.functional.cross_entropy((h @ p["w2"] + p["b2"])[None], y[None])

    per_example = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    return lambda: per_example(params, xs, ys)


def timed(call, number):
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(number):
        call()
    return (time.perf_counter() - wall) / number, (time.thread_time() - cpu) / number


def main(argv=None):
    from xpgrad import cli_types
    from xpgrad.threads import parse_threads

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=mlp_sizes, nargs="+",
                   default=[(784, 256, 10), (20, 64, 10)], metavar="IN-HIDDEN-CLASSES")
    p.add_argument("--batches", type=cli_types.positive(int), nargs="+", default=[64, 256])
    p.add_argument("--repeats", type=cli_types.positive(int), default=5)
    p.add_argument("--threads", type=parse_threads, default=1)
    args = p.parse_args(argv)
    for sizes in args.sizes:
        rng = np.random.default_rng(0)
        weights = _weights(rng, sizes)
        mlp = "-".join(map(str, sizes))
        for batch in args.batches:
            x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
            y = rng.integers(0, sizes[2], batch)
            calls, per_example = xpgrad_calls(weights, x, y)
            try:
                import torch

                torch.set_num_threads(args.threads)
                calls["torch.func"] = torch_call(weights, x, y)
            except ImportError:
                print("PyTorch not installed: timing xpgrad only")
            for call in calls.values():
                call()                              # warm up (loads every BLAS library)
            from threadpoolctl import threadpool_limits

            threadpool_limits(args.threads)
            # small MLPs take more calls per timing, so a timing is not a few clock ticks
            number = max(1, 1280 // batch) * min(10, max(1, 784 * 256 // (sizes[0] * sizes[1])))
            wall = {k: [] for k in calls}
            cpu = {k: [] for k in calls}
            for _ in range(args.repeats):
                for name, call in calls.items():
                    w, c = timed(call, number if name != "tape.jacobian" else max(1, number // 4))
                    wall[name].append(w)
                    cpu[name].append(c)
            for name in calls:
                print(f"{mlp} batch {batch:4d} {name:>14}: wall "
                      f"{statistics.median(wall[name]) * 1e3:7.2f} ms, thread CPU "
                      f"{statistics.median(cpu[name]) * 1e3:7.2f} ms per call "
                      f"[median of {args.repeats}]")
            print(f"  xg.vmap looped over: {dict(per_example.fallbacks) or 'nothing'}")


if __name__ == "__main__":
    main()
