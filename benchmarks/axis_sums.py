"""Unbroadcasting sums: NumPy's ``sum`` against ``backends/axis_sums.py`` (products with ones)
and PyTorch's ``sum``, for the shapes a broadcast operand's gradient is summed from, with each
one's error (in the dtype asked for).

    python benchmarks/axis_sums.py [--repeats 200] [--rounds 3] [--dtype float32]

Rows: bias gradients (B, F) over axis 0; a channels-last conv's (N, H, W, C) over (0, 1, 2);
channels-first (N, C, H, W) over (0, 2, 3); an RNN's (T, B, H) over (0, 1); a transposed
(non-contiguous) view; and long columns (the accuracy cases). Times: the best of ``--rounds``
interleaved rounds, each the median of ``--repeats`` calls by the process's CPU time
(``interleaved.median_ms``), one thread. Error: the largest
``|sum - exact| / sum(|terms|)`` over the kept entries, the exact sum in long double (uniform
[0, 1) terms: no cancellation hides an error).
"""
from __future__ import annotations

import argparse

from interleaved import median_ms, one_thread

if __name__ == "__main__":      # not on import: a test process has its own thread settings
    one_thread()

import numpy as np  # noqa: E402

from xpgrad.backends.axis_sums import sum_axes  # noqa: E402

CASES = [((b, f), (0,)) for b in (32, 128, 512, 4096) for f in (10, 256)] + [
    ((32, 26, 26, 32), (0, 1, 2)), ((128, 26, 26, 32), (0, 1, 2)), ((32, 11, 11, 64), (0, 1, 2)),
    ((32, 32, 26, 26), (0, 2, 3)), ((32, 64, 56, 56), (0, 2, 3)), ((35, 32, 128), (0, 1)),
    ((100, 64, 256), (0, 1)), ("transposed", (0, 1, 2)), ((1 << 20, 8), (0,)),
    ((1 << 22, 4), (0,))]


def operand(shape, dtype, rng):
    """The gradient to sum: uniform [0, 1) values of ``shape`` (``"transposed"``: a channels-
    first array viewed channels-last)."""
    if shape == "transposed":
        return rng.uniform(size=(32, 32, 26, 26)).astype(dtype).transpose(0, 2, 3, 1)
    return rng.uniform(size=shape).astype(dtype)


def error(total, g, axes):
    wide = g.astype(np.longdouble)            # x87 extended on x86: 11 more bits than float64
    return float(np.max(np.abs(total - wide.sum(axes)) / np.abs(wide).sum(axes)))


def arguments(argv=None):
    """``--repeats``, ``--rounds`` and ``--dtype``."""
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=cli_types.positive(int), default=200)
    p.add_argument("--rounds", type=cli_types.positive(int), default=3,
                   help="interleaved rounds (best is shown)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    return p.parse_args(argv)


def main(argv=None):
    args = arguments(argv)
    import torch
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f"{'shape':>18} {'axes':>10} | {'np.sum':>8} {'axis_sums':>9} {'torch':>8} us | "
          f"{args.dtype} error: np.sum, axis_sums, torch")
    for shape, axes in CASES:
        g = operand(shape, args.dtype, rng)
        t = torch.from_numpy(g)
        if g.size > 4_000_000 and args.repeats > 20:
            repeats = 20
        else:
            repeats = max(3, min(args.repeats, int(2e8 // g.size)))
        calls = {"np.sum": lambda: g.sum(axes), "axis_sums": lambda: sum_axes(g, axes),
                 "torch": lambda: t.sum(axes)}
        best = {k: float("inf") for k in calls}
        for _ in range(args.rounds):
            for k, fn in calls.items():
                best[k] = min(best[k], median_ms(fn, repeats) * 1e3)
        errors = [error(np.asarray(fn()), g, axes) for fn in calls.values()]
        name = "x".join(map(str, g.shape)) + ("T" if shape == "transposed" else "")
        print(f"{name:>18} {str(axes):>10} | " + " ".join(f"{best[k]:8.1f}" for k in calls)
              + "    | " + " ".join(f"{e:.1e}" for e in errors), flush=True)


if __name__ == "__main__":
    main()
