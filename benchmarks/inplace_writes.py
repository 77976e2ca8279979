"""The in-place write spellings of hand-written training loops (TF's ``w.assign_sub(u)``,
PyTorch's ``p.data -= u`` / ``p.data.add_(u, alpha=a)`` / ``p -= u``, NumPy's ``out[a:b] += v``)
against NumPy's own in-place operation on the same arrays, interleaved, in microseconds per
call (min over repeats of ``timeit``, by the process's CPU time: on a shared machine the wall
clock also counts the time other processes hold the cores), on the numpy backend.

    python benchmarks/inplace_writes.py --sizes 30x200 1000x1000

>>> rows = measure((4, 3), repeats=1, number=1)
>>> sorted(rows)[0][0]
'assign(u)'
"""
from __future__ import annotations

import argparse
import time
import timeit

import numpy as np


def _cases(shape):
    """``(name, xpgrad statement, NumPy statement)`` over the namespace ``_namespace`` makes."""
    return [
        ("assign_sub(u)", "w.assign_sub(u)", "a -= n"),
        ("assign_add(u)", "w.assign_add(u)", "a += n"),
        ("assign(u)", "w.assign(u)", "a[...] = n"),
        ("w -= 0.1 (Variable)", "w -= 0.1", "a -= 0.1"),
        ("w -= u (Variable)", "w -= u", "a -= n"),
        ("w.data -= u", "w.data -= u", "a -= n"),
        ("w.data.add_(u, alpha=-0.1)", "w.data.add_(u, alpha=-0.1)", "a += -0.1 * n"),
        ("w.data.sub_(u)", "w.data.sub_(u)", "a -= n"),
        ("w.data.mul_(0.9)", "w.data.mul_(0.9)", "a *= 0.9"),
        ("t -= u (Tensor)", "t -= u", "a -= n"),
        ("t[a:b] += v", "t[2:4] += v", "a[2:4] += m"),
        ("t[a:b] = v", "t[2:4] = v", "a[2:4] = m"),
    ]


def _aligned(values):
    """A copy of ``values`` starting on a 64-byte boundary (where the heap happens to place a
    small array moves NumPy's own time by 20%: SIMD loads across cache lines)."""
    raw = np.empty(values.nbytes + 64, dtype=np.uint8)
    start = -raw.ctypes.data % 64
    out = raw[start:start + values.nbytes].view(values.dtype).reshape(values.shape)
    out[...] = values
    return out


def _namespace(shape):
    import xpgrad as xg

    rng = np.random.default_rng(0)
    base = rng.standard_normal(shape)
    step = rng.standard_normal(shape) * 1e-9
    rows = step[:2]
    t = xg.asarray(_aligned(base), copy=False)
    return {"w": xg.Variable(base, name="w"), "t": t,
            "u": xg.asarray(_aligned(step)), "v": xg.asarray(_aligned(rows)),
            "a": _aligned(base), "n": _aligned(step), "m": _aligned(rows)}


def measure(shape, repeats=7, number=None):
    """``[(case, xpgrad us, NumPy us)]`` for arrays of ``shape`` (NumPy and xpgrad timed in
    turn, the minimum of ``repeats`` runs of ``number`` calls each)."""
    names = _namespace(shape)
    size = int(np.prod(shape))
    number = number or max(10, min(20000, 20_000_000 // max(size, 1)))
    # (locals of timeit's function: ``a -= n`` rebinds ``a``, as in a loop body)
    setup = "; ".join(f"{name} = _names[{name!r}]" for name in names)
    names = {"_names": names}
    timer = timeit.Timer

    def seconds(statement):
        return timer(statement, setup, time.process_time, globals=names).timeit(number) / number

    out = []
    for case, ours, theirs in _cases(shape):
        best_ours = best_theirs = float("inf")
        for _ in range(repeats):
            best_theirs = min(best_theirs, seconds(theirs))
            best_ours = min(best_ours, seconds(ours))
        out.append((case, best_ours * 1e6, best_theirs * 1e6))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["30x200", "1000x1000"])
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    for spec in args.sizes:
        shape = tuple(int(s) for s in spec.split("x"))
        print(f"\n{spec} float64, us per call (min of {args.repeats})")
        print(f"{'write':30s} {'xpgrad':>10s} {'NumPy':>10s} {'ratio':>7s}")
        for case, ours, theirs in measure(shape, args.repeats):
            print(f"{case:30s} {ours:10.2f} {theirs:10.2f} {ours / theirs:7.1f}")


if __name__ == "__main__":
    main()
