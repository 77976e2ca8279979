"""One training step of a 784-256-10 ReLU MLP (batch 128 by default, softmax cross-entropy, SGD):
xpgrad eager and compiled (``xg.function``) next to PyTorch CPU eager and a hand-written NumPy
step, in one run.

    python benchmarks/mlp_step.py [--repeats 7] [--steps 200] [--backend numpy] [--threads N]
                                  [--batch 128]

Prints the median time per step for each (over ``--repeats`` rounds of ``--steps`` steps,
rounds interleaved so all see the same machine load) and the ratios to PyTorch. Each model trains
on one fixed batch, like a benchmark loop does; the comparison is fair because all three do.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import xpgrad as xg


def xpgrad_step(backend, batch=128, compiled=False):
    """xpgrad's step; ``compiled``: as an ``xg.function``, traced here (outside the timings)."""
    rng = np.random.default_rng(0)
    x = xg.asarray(rng.standard_normal((batch, 784)).astype(np.float32), backend=backend)
    y = xg.asarray(rng.integers(0, 10, batch), backend=backend)
    model = xg.nn.MLP([784, 256, 10], rng=xg.random.default_rng(0, backend=backend),
                      backend=backend)
    params = model.trainable_variables
    opt = xg.optim.SGD(learning_rate=0.01)
    loss_fn = xg.losses.softmax_cross_entropy

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = loss_fn(model(x), y)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return loss

    if compiled:
        step = xg.function(step)
        for _ in range(3):
            step(x, y)
    return lambda: step(x, y)


def numpy_step(batch=128):
    """The same step written by hand in NumPy: the floor for the numpy backend."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    w1 = (rng.standard_normal((784, 256)) * np.sqrt(2 / 784)).astype(np.float32)
    b1 = np.zeros(256, np.float32)
    w2 = (rng.standard_normal((256, 10)) * np.sqrt(2 / 256)).astype(np.float32)
    b2 = np.zeros(10, np.float32)
    rows = np.arange(batch)

    def step():
        h = x @ w1
        h += b1
        a = np.maximum(h, 0)
        z = a @ w2
        z += b2
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        s = z.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - np.log(z[rows, y]))
        z *= 1 / (batch * s)
        z[rows, y] -= 1 / batch
        dw2 = a.T @ z
        db2 = z.sum(0)
        da = z @ w2.T
        da *= h > 0
        dw1 = x.T @ da
        db1 = da.sum(0)
        for p, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2)):
            p -= 0.01 * g
        return loss
    return step


def torch_step(batch=128):
    import torch

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((batch, 784)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, batch))
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def timed(step, n):
    """(wall seconds, this thread's CPU seconds) per step. With ``--threads 1`` all the work
    runs on this thread, so CPU time stays meaningful on a machine shared with other jobs."""
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n, (time.thread_time() - c0) / n


def main(argv=None):
    from xpgrad import cli_types
    from xpgrad.threads import parse_threads

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=cli_types.positive(int), default=7)
    p.add_argument("--steps", type=cli_types.positive(int), default=200)
    p.add_argument("--backend", type=cli_types.backend_name, default="numpy")
    p.add_argument("--threads", type=parse_threads, default=None,
                   help="limit both NumPy's BLAS (threadpoolctl) and torch to N threads "
                        "(default: each library's own choice)")
    p.add_argument("--batch", type=cli_types.positive(int), default=128)
    args = p.parse_args(argv)
    runs = {"xpgrad": xpgrad_step(args.backend, args.batch),
            "compiled": xpgrad_step(args.backend, args.batch, compiled=True),
            "numpy": numpy_step(args.batch)}
    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        runs["torch"] = torch_step(args.batch)
    except ImportError:
        print("PyTorch not installed: timing xpgrad and NumPy only")
    wall = {k: [] for k in runs}
    cpu = {k: [] for k in runs}
    for step in runs.values():
        timed(step, max(5, args.steps // 10))       # warm up (loads every BLAS library)
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)             # all BLAS libraries loaded by now
    for _ in range(args.repeats):
        for name, step in runs.items():
            w, c = timed(step, args.steps)
            wall[name].append(w)
            cpu[name].append(c)
    med = {k: statistics.median(v) for k, v in wall.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    for name in runs:
        print(f"{name:>8}: wall {med[name] * 1e6:8.1f} us/step (range "
              f"{min(wall[name]) * 1e6:.0f}-{max(wall[name]) * 1e6:.0f}), "
              f"thread CPU {cmed[name] * 1e6:8.1f} us/step   [median of {args.repeats}]")
    if "torch" in med:
        for what, m in (("wall", med), ("thread CPU", cmed)):
            print(f"  {what}: xpgrad/torch = {m['xpgrad'] / m['torch']:.2f}, "
                  f"compiled/torch = {m['compiled'] / m['torch']:.2f}, "
                  f"hand-written numpy/torch = {m['numpy'] / m['torch']:.2f}")
    return med, cmed


if __name__ == "__main__":
    main()
