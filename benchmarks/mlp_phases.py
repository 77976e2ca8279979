"""Where the eager MLP 784-256-10 SGD step goes, phase by phase: xpgrad, the same step written by
hand in NumPy, and PyTorch CPU, one thread each.

    python benchmarks/mlp_phases.py [--batch 32] [--steps 2000] [--backend numpy]

Each step is timed inside (``time.perf_counter_ns`` between its phases; the three steps
interleaved, medians over ``--steps``): ``linear+relu`` (the first layer with its weight product),
``linear`` (the second layer), ``softmax-CE``, ``backward`` (``tape.gradient``; PyTorch's
``loss.backward()`` and NumPy's gradient lines, which compute the first layer's weight product)
and ``update`` (SGD; xpgrad's plain SGD folds that product into its update, see
xpgrad/deferred.py, so its weight product lands here). ``total`` is the median whole step.
The phases after the first weight product run on caches that product has just emptied: a phase
costs more here than alone in a loop.
"""
from __future__ import annotations

import argparse
import os

if __name__ == "__main__":
    for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

PHASES = ("linear+relu", "linear", "softmax-CE", "backward", "update")
_clock = time.perf_counter_ns


def _data(batch):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch, 784)).astype(np.float32),
            rng.integers(0, 10, batch))


def xpgrad_step(batch, backend="numpy"):
    """xpgrad's step as ``benchmarks/mlp_step.py`` runs it, timed phase by phase: the step
    ``step(times)`` appends its phases' nanoseconds to ``times``."""
    import xpgrad as xg

    x0, y0 = _data(batch)
    x, y = xg.asarray(x0, backend=backend), xg.asarray(y0, backend=backend)
    model = xg.nn.MLP([784, 256, 10], rng=xg.random.default_rng(0, backend=backend),
                      backend=backend)
    first, second = model.layers
    params = model.trainable_variables
    opt = xg.optim.SGD(learning_rate=0.01)
    loss_fn = xg.losses.softmax_cross_entropy

    def step(times):
        t0 = _clock()
        with xg.GradientTape() as tape:
            h = first.forward_activated(x, "relu")     # what MLP.forward calls
            t1 = _clock()
            z = second(h)
            t2 = _clock()
            loss = loss_fn(z, y)
        t3 = _clock()
        grads = tape.gradient(loss, params)
        t4 = _clock()
        opt.apply_gradients(zip(grads, params))
        times.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3, _clock() - t4))
    return step


def numpy_step(batch):
    """The step by hand in NumPy (``benchmarks/mlp_step.py``'s), timed phase by phase."""
    x, y = _data(batch)
    rng = np.random.default_rng(1)
    w1 = (rng.standard_normal((784, 256)) * np.sqrt(2 / 784)).astype(np.float32)
    b1 = np.zeros(256, np.float32)
    w2 = (rng.standard_normal((256, 10)) * np.sqrt(2 / 256)).astype(np.float32)
    b2 = np.zeros(10, np.float32)
    rows = np.arange(batch)

    def step(times):
        t0 = _clock()
        h = x @ w1
        h += b1
        a = np.maximum(h, 0)
        t1 = _clock()
        z = a @ w2
        z += b2
        t2 = _clock()
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        s = z.sum(axis=1, keepdims=True)
        np.mean(np.log(s[:, 0]) - np.log(z[rows, y]))
        t3 = _clock()
        z *= 1 / (batch * s)
        z[rows, y] -= 1 / batch
        dw2, db2 = a.T @ z, z.sum(0)
        da = z @ w2.T
        da *= h > 0
        dw1, db1 = x.T @ da, da.sum(0)
        t4 = _clock()
        for p, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2)):
            p -= 0.01 * g
        times.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3, _clock() - t4))
    return step


def torch_step(batch):
    """PyTorch's step (``torch.nn.Linear`` layers, ``cross_entropy``, ``optim.SGD``), timed
    phase by phase; None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    x0, y0 = _data(batch)
    x, y = torch.from_numpy(x0), torch.from_numpy(y0)
    first, second = torch.nn.Linear(784, 256), torch.nn.Linear(256, 10)
    opt = torch.optim.SGD([*first.parameters(), *second.parameters()], lr=0.01)
    loss_fn = torch.nn.functional.cross_entropy

    def step(times):
        t0 = _clock()
        opt.zero_grad(set_to_none=True)
        h = torch.relu(first(x))
        t1 = _clock()
        z = second(h)
        t2 = _clock()
        loss = loss_fn(z, y)
        t3 = _clock()
        loss.backward()
        t4 = _clock()
        opt.step()
        times.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3, _clock() - t4))
    return step


def main(argv=None) -> int:
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=cli_types.positive(int), default=32)
    p.add_argument("--steps", type=cli_types.positive(int), default=2000)
    p.add_argument("--backend", type=cli_types.backend_name, default="numpy")
    args = p.parse_args(argv)
    steps = {"xpgrad": xpgrad_step(args.batch, args.backend), "numpy": numpy_step(args.batch),
             "torch": torch_step(args.batch)}
    steps = {name: step for name, step in steps.items() if step is not None}
    times = {name: [] for name in steps}
    for step in steps.values():         # warm up: loads every BLAS library, hints the fold
        for _ in range(20):
            step([])
    for _ in range(args.steps):
        for name, step in steps.items():
            step(times[name])
    print(f"MLP 784-256-10 SGD step, batch {args.batch}: median us per phase over "
          f"{args.steps} interleaved steps")
    print(f"{'':8}" + "".join(f"{name:>13}" for name in PHASES + ("total",)))
    totals = {}
    for name, rows in times.items():
        phases = [statistics.median(column) / 1e3 for column in zip(*rows)]
        totals[name] = statistics.median(sum(row) for row in rows) / 1e3
        print(f"{name:8}" + "".join(f"{v:13.1f}" for v in phases + [totals[name]]))
    if "torch" in totals:
        print(f"torch/xpgrad {totals['torch'] / totals['xpgrad']:.2f}, "
              f"torch/numpy {totals['torch'] / totals['numpy']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
