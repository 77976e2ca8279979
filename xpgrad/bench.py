"""``xpgrad bench``: time the asv workloads once, here, and print ratios to PyTorch.

The workloads are the asv suites' (xpgrad/bench_workloads/). Each is built (which runs it
once: Numba compiles, caches warm), then timed timeit-style: enough calls per repeat to last
``min_time``, several repeats, the median per call. GPU workloads synchronize inside the call.
A ratio is xpgrad's time over PyTorch's on the same device: below 1 means xpgrad is faster.

>>> main(["--quick", "--only", "chain", "--backend", "numpy", "--peers"])  # doctest: +SKIP
0
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from . import bench_workloads as W

GROUPS = ("chain", "loss", "activation", "optimizer", "mlp_step", "lstm_step",
          "rnn_loop")


def cases(quick: bool):
    """``(group, label, params)`` for every row of the table, smallest first."""
    out = []
    for n_ops in (100,) if quick else (100, 1000):
        for mode in ("forward+gradient", "forward"):
            out.append(("chain", f"chain {n_ops} ops, 4 floats, {mode}",
                        dict(n_ops=n_ops, size=4, mode=mode)))
    for shape in ("128x10",) if quick else ("128x10", "4096x1000"):
        for mode in ("forward+backward",) if quick else ("forward", "forward+backward"):
            for name in W.LOSSES:
                out.append(("loss", f"{name} {shape} {mode}",
                            dict(name=name, shape=W.parse_shape(shape), mode=mode)))
    for shape in ("128x256",) if quick else ("128x256", "4096x256"):
        for mode in ("forward+backward",) if quick else ("forward", "forward+backward"):
            for name in W.ACTIVATIONS:
                out.append(("activation", f"{name} {shape} {mode}",
                            dict(name=name, shape=W.parse_shape(shape), mode=mode)))
    for name in ("sgd", "adam") if quick else W.OPTIMIZERS:
        out.append(("optimizer", f"{name} update, 784-256-10 MLP", dict(name=name)))
    for batch in (128,) if quick else (128, 4096):
        out.append(("mlp_step", f"MLP 784-256-10 train step, batch {batch}",
                    dict(batch=batch)))
    out.append(("lstm_step", "LSTM 64-128 train step, batch 64, 50 steps",
                dict(batch=64, hidden=128, steps=10 if quick else 50, input_size=64)))
    for steps in (20,) if quick else (100, 1000):
        out.append(("rnn_loop", f"tanh RNN loop over unstack, batch 32, {steps} steps",
                    dict(steps=steps)))
    return out


def calibrate(fn, min_time: float) -> int:
    """Calls per timed run so that one run lasts at least ``min_time`` (as timeit's autorange)."""
    number = 1
    while True:
        elapsed = _run(fn, number)
        if elapsed >= min_time:
            return number
        number = max(number * 2, int(number * min_time / max(elapsed, 1e-9) * 1.2))


def _run(fn, number) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def measure(fns: dict, min_time: float, repeats: int) -> dict:
    """Median seconds per call of each callable in ``fns``; the repeats are interleaved
    (a, b, a, b, ...) so that a change in machine load hits every library alike."""
    numbers = {k: calibrate(fn, min_time) for k, fn in fns.items()}
    runs = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            runs[k].append(_run(fn, numbers[k]) / numbers[k])
    return {k: statistics.median(v) for k, v in runs.items()}


def format_time(seconds) -> str:
    if seconds is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def format_table(rows, headers) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(headers), "  ".join("-" * w for w in widths),
                      *(line(r) for r in rows)])


def _parser():
    p = argparse.ArgumentParser(
        prog="xpgrad bench",
        description="Time xpgrad's backends against PyTorch on the asv workloads (tape "
                    "overhead, fused losses, activations, optimizer updates, an MLP step) and "
                    "print a table of ratios (xpgrad time / PyTorch time; < 1 is faster).")
    p.add_argument("--backend", nargs="+", metavar="NAME",
                   help="xpgrad backends to time (default: every available one)")
    p.add_argument("--peers", nargs="*", metavar="LIB", choices=W.PEER_LIBS,
                   help=f"peer libraries to time, from {', '.join(W.PEER_LIBS)} (default: "
                        "torch-cpu, plus torch-cuda when cupy is timed); --peers alone: none")
    p.add_argument("--only", nargs="+", choices=GROUPS, metavar="GROUP",
                   help=f"workload groups to run, from {', '.join(GROUPS)} (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes and 3 short repeats (seconds, not minutes)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="limit the thread pools (PyTorch, Numba, BLAS) to N threads")
    p.add_argument("--repeat", type=int, metavar="N",
                   help="timed repeats per workload (default: 3 with --quick, else 7)")
    return p


def _backends(parser, names):
    import xpgrad as xg

    if names is None:
        known = [lib.split("-", 1)[1] for lib in W.XPGRAD_LIBS]
        found = [n for n, info in xg.available_backends().items() if info["available"]]
        return sorted(found, key=lambda n: (known.index(n) if n in known else len(known), n))
    for n in names:
        try:
            xg.get_backend(n)
        except xg.UnknownBackendError as e:
            parser.error(str(e))
        except xg.BackendUnavailableError:
            pass    # shown as n/a, with the reason under the table
    return list(names)


def _limit_threads(parser, n, backends):
    if n < 1:
        parser.error("--threads must be at least 1")
    if "numba" in backends:
        import numba
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        pass


def main(argv=None) -> int:
    """Run the benchmarks named by ``argv`` (see ``xpgrad bench -h``); print the table."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    backends = _backends(parser, args.backend)
    libs = [f"xpgrad-{b}" for b in backends]
    peers = args.peers
    if peers is None:
        peers = ["torch-cpu"] + (["torch-cuda"] if "cupy" in backends else [])
    libs = peers + [lib for lib in libs if lib not in peers]
    repeats = args.repeat or (3 if args.quick else 7)
    min_time = 0.01 if args.quick else 0.1
    groups = args.only or GROUPS
    if args.threads is not None:
        _limit_threads(parser, args.threads, backends)

    results, why = {}, {}
    todo = [c for c in cases(args.quick) if c[0] in groups]
    progress = sys.stderr.isatty()
    for i, (group, label, params) in enumerate(todo):
        if progress:
            print(f"\r[{i + 1}/{len(todo)}] {label}\033[K", end="", file=sys.stderr, flush=True)
        fns = {}
        for lib in libs:
            try:
                fns[lib] = W.build(group, lib, **params)
            except W.Unavailable as e:
                results[label, lib] = None
                why.setdefault(lib, set()).add(str(e))
        for lib, t in measure(fns, min_time, repeats).items():
            results[label, lib] = t

    headers, columns = ["workload"], []
    for lib in libs:
        headers.append(lib)
        columns.append((lib, None))
        ref = W.REFERENCE.get(lib)
        if ref in peers:
            headers.append(f"/{ref}")
            columns.append((lib, ref))
    rows = []
    for _, label, _ in todo:
        row = [label]
        for lib, ref in columns:
            t = results[label, lib]
            if ref is None:
                row.append(format_time(t))
            else:
                r = results[label, ref]
                row.append("n/a" if t is None or not r else f"{t / r:.3g}x")
        rows.append(row)
    if progress:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    print(f"xpgrad bench: median time per call over {repeats} repeats "
          f"(ratio columns: xpgrad / peer, < 1 means xpgrad is faster)")
    print(format_table(rows, headers))
    for lib, reasons in why.items():
        print(f"n/a for {lib}: {'; '.join(sorted(reasons))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
