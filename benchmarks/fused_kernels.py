"""Forward + backward of each fused NumPy kernel against the generic rule it replaces, then
each optimizer's update of one weight of the shape (``apply_gradients``).

    python benchmarks/fused_kernels.py [--shape 128 256] [--repeats 7] [--threads 1]
                                       [--backend numpy|numba] [--only adam rmsprop ...]

Both variants run interleaved in one process (the generic one with the backend's kernels
switched off); prints the median time of each, the speedup, and the fused time over the copy
floor: copying the input (``x.copy()``), the least a step that reads ``x`` and writes a
gradient of its size costs (benchmarks/numba_kernels.py --floor does this per class count).
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import timeit

import numpy as np

import xpgrad as xg


def cases(x, w, labels):
    L = xg.losses
    return {
        "sigmoid": xg.nn.sigmoid, "relu": xg.nn.relu, "leaky_relu": xg.nn.leaky_relu,
        "softmax_cross_entropy": lambda x: L.softmax_cross_entropy(x, labels),
        "sigmoid_cross_entropy_with_logits": lambda x: L.sigmoid_cross_entropy_with_logits(x, w),
        "sigmoid_mse": lambda x: L.sigmoid_mse(x, w),
        "mse": lambda x: L.mse(x, w),
    }


#: optimizers whose update of a weight is timed: (xg.optim class, keywords)
UPDATES = {
    "sgd momentum": ("SGD", dict(learning_rate=1e-3, momentum=0.9)),
    "rmsprop": ("RMSprop", dict(learning_rate=1e-3)),
    "rmsprop centered momentum": ("RMSprop", dict(learning_rate=1e-3, centered=True,
                                                  momentum=0.9)),
    "adam": ("Adam", dict(learning_rate=1e-3)),
    "adam amsgrad": ("Adam", dict(learning_rate=1e-3, amsgrad=True)),
    "adamw amsgrad": ("AdamW", dict(learning_rate=1e-3, amsgrad=True)),
    "adamax": ("Adamax", dict(learning_rate=2e-3)),
    "nadam": ("NAdam", dict(learning_rate=2e-3)),
    "radam": ("RAdam", dict(learning_rate=1e-3)),     # rectified after its first 5 steps
    "lion": ("Lion", dict(learning_rate=1e-4, weight_decay=0.1)),
}


def update_step(cls, kw, x, w):
    """One update of a weight shaped like ``x``, with the gradient ``w`` and ``-w`` in turn (a
    constant one would drive centered RMSprop's variance to rounding noise)."""
    opt = getattr(xg.optim, cls)(**kw)
    var = xg.Variable(x)
    pairs = itertools.cycle([[(w, var)], [(-w, var)]])
    return lambda: opt.apply_gradients(next(pairs))


def forward_backward(fn, x, w):
    def run():
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return tape.gradient(y, x, output_gradients=None if y.ndim == 0 else w)
    return run


def main(argv=None):
    from xpgrad import cli_types
    from xpgrad.threads import parse_threads

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", type=cli_types.positive(int), nargs=2, default=[128, 256])
    p.add_argument("--repeats", type=cli_types.positive(int), default=7)
    p.add_argument("--number", type=cli_types.positive(int), default=100)
    p.add_argument("--threads", type=parse_threads, default=None)
    p.add_argument("--backend", type=cli_types.backend_name, default="numpy")
    p.add_argument("--only", nargs="+", default=None,
                   help="time only the cases whose names contain one of these words")
    args = p.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    be = xg.get_backend(args.backend)
    if hasattr(be, "warmup"):
        be.warmup(dtypes=("float32",))         # compile time stays out of the timings
    fused_kernels = dict(be.kernels)
    rng = np.random.default_rng(0)
    x = xg.asarray(rng.standard_normal(args.shape).astype(np.float32), backend=be)
    w = xg.asarray(rng.standard_normal(args.shape).astype(np.float32), backend=be)
    labels = xg.asarray(rng.integers(0, args.shape[1], args.shape[0]), backend=be)
    raw = x.numpy()
    floor = statistics.median(timeit.repeat(raw.copy, number=args.number,
                                            repeat=args.repeats)) / args.number
    print(f"backend {be.name}, shape {tuple(args.shape)}; copy floor {floor * 1e6:.1f} us")
    runs = {name: forward_backward(fn, x, w) for name, fn in cases(x, w, labels).items()}
    runs.update({name: update_step(cls, kw, x, w) for name, (cls, kw) in UPDATES.items()})
    unmatched = [word for word in args.only or () if not any(word in name for name in runs)]
    if unmatched:
        p.error(f"argument --only: {', '.join(map(repr, unmatched))} is in no case's name; "
                f"the cases: {', '.join(runs)}")
    for name, run in runs.items():
        if args.only and not any(word in name for word in args.only):
            continue
        times = {"generic": [], "fused": []}
        for _ in range(args.repeats):
            for mode in times:
                be.kernels = fused_kernels if mode == "fused" else {}
                try:
                    run()
                    times[mode].append(timeit.timeit(run, number=args.number) / args.number)
                finally:
                    be.kernels = fused_kernels
        g, f = statistics.median(times["generic"]), statistics.median(times["fused"])
        print(f"{name:34s} generic {g * 1e6:8.1f} us   fused {f * 1e6:8.1f} us   "
              f"speedup {g / f:4.1f}x   fused/floor {f / floor:5.1f}x")


if __name__ == "__main__":
    main()
