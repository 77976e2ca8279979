"""``xpgrad bench``: time the asv workloads once, here, and print ratios to PyTorch.

The workloads are the asv suites' (xpgrad/bench_workloads/). Each is built (which runs it
once: Numba compiles, caches warm), then timed timeit-style: enough calls per repeat to last
``min_time``, several repeats, the median per call. GPU workloads synchronize inside the call.
A ratio is xpgrad's time over PyTorch's on the same device: below 1 means xpgrad is faster.

Fair by default: every library gets the same number of threads (``--threads``, default 1:
BLAS through threadpoolctl, Numba, PyTorch), and the header says how many each has and which
versions ran. A row's label is made from its sizes, and every library's workload reports the
sizes of the arrays it built (``fn.work``), which must be the row's: a row never claims work it
does not do. ``--json`` writes the results as JSON (for asv-like tooling and CI). The timing
and the table are ``bench_timing``'s, the report's header and JSON ``bench_report``'s.

>>> label("lstm_step", dict(batch=64, steps=10, input_size=64, hidden=128))
'LSTM 64-128 train step, batch 64, 10 steps'
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile

from . import bench_workloads as W
from .backends.blas import describe as describe_products
from .bench_report import _header, _json_report, _limit_threads, _references, _versions
from .bench_timing import calibrate, format_table, format_time, measure  # noqa: F401
from .threads import DEFAULT_THREADS, parse_threads

GROUPS = ("chain", "loss", "activation", "optimizer", "mlp_step", "lstm_step",
          "char_lm_step", "rnn_loop", "per_example_grads", "ode_fit", "neural_ode")


def label(group: str, p: dict) -> str:
    """A row's label, made from its sizes ``p`` (the workload's parameters); a row whose
    xpgrad runs as an ``xg.function`` says so ("compiled")."""
    if p.get("compiled"):
        return label(group, {k: v for k, v in p.items() if k != "compiled"}) + \
            " (xpgrad compiled)"
    shape = "x".join(map(str, p.get("shape", ())))
    sizes = "-".join(map(str, p.get("sizes", ())))
    if group == "chain":
        return f"chain {p['n_ops']} ops, {p['size']} floats, {p['mode']}"
    if group in ("loss", "activation"):
        return f"{p['name']} {shape} {p['mode']}"
    if group == "optimizer":
        return f"{p['name']} update, {sizes} MLP"
    if group == "mlp_step":
        return f"MLP {sizes} train step, batch {p['batch']}"
    if group == "lstm_step":
        return (f"LSTM {p['input_size']}-{p['hidden']} train step, batch {p['batch']}, "
                f"{p['steps']} steps")
    if group == "char_lm_step":
        return (f"char-LM {p['vocab']}-{p['hidden']} LSTM train step, batch {p['batch']}, "
                f"{p['steps']} steps")
    if group == "rnn_loop":
        return (f"tanh RNN {p['input_size']}-{p['hidden']} loop over unstack, batch "
                f"{p['batch']}, {p['steps']} steps")
    if group == "per_example_grads":
        return f"MLP {sizes} per-example gradients (vmap), batch {p['batch']}"
    if group == "ode_fit":
        return f"odeint Lotka-Volterra fit value+gradient, {p['points']} times"
    if group == "neural_ode":
        return f"odeint neural ODE 2-{p['hidden']}-2 weight gradient, batch {p['batch']}"
    raise ValueError(f"unknown workload group {group!r}; expected one of {GROUPS}")


def cases(quick: bool):
    """``(group, label, params)`` for every row of the table, smallest first; ``params`` holds
    every size the label states (``check_work`` compares them with what the workload built)."""
    out = []
    for n_ops in (100,) if quick else (100, 1000):
        for mode in ("forward+gradient", "forward"):
            out.append(("chain", dict(n_ops=n_ops, size=4, mode=mode)))
    for n_ops in () if quick else (10_000, 100_000):     # long tapes: is the cost per op flat?
        out.append(("chain", dict(n_ops=n_ops, size=4, mode="forward+gradient")))
    for shape in ("128x10",) if quick else ("128x10", "4096x1000"):
        for mode in ("forward+backward",) if quick else ("forward", "forward+backward"):
            for name in W.LOSSES:
                out.append(("loss", dict(name=name, shape=W.parse_shape(shape), mode=mode)))
    for shape in ("128x256",) if quick else ("128x256", "4096x256"):
        for mode in ("forward+backward",) if quick else ("forward", "forward+backward"):
            for name in W.ACTIVATIONS:
                out.append(("activation", dict(name=name, shape=W.parse_shape(shape),
                                               mode=mode)))
    for name in ("sgd", "adam") if quick else W.OPTIMIZERS:
        out.append(("optimizer", dict(name=name, sizes=W.MLP_SIZES)))
    for batch in (128,) if quick else (32, 128, 4096):
        out.append(("mlp_step", dict(batch=batch, sizes=W.MLP_SIZES)))
    out.append(("lstm_step", dict(batch=64, hidden=128, steps=10 if quick else 50,
                                  input_size=64)))
    out.append(("char_lm_step", dict(batch=32, steps=10 if quick else 50, vocab=65,
                                     hidden=128)))
    for steps in (20,) if quick else (100, 1000):
        out.append(("rnn_loop", dict(batch=32, hidden=64, steps=steps, input_size=32)))
    for sizes in (W.VMAP_SIZES,) if quick else (W.VMAP_SIZES, W.MLP_SIZES):
        out.append(("per_example_grads", dict(batch=64, sizes=sizes)))
    out.append(("ode_fit", dict(points=50)))
    out.append(("neural_ode", dict(batch=64 if quick else 512, hidden=64)))
    # the same steps traced once and replayed (xg.function)
    out.append(("chain", dict(n_ops=100, size=4, mode="forward+gradient", compiled=True)))
    for batch in (32, 128):
        out.append(("mlp_step", dict(batch=batch, sizes=W.MLP_SIZES, compiled=True)))
    out.append(("lstm_step", dict(batch=64, hidden=128, steps=10 if quick else 50,
                                  input_size=64, compiled=True)))
    out.append(("char_lm_step", dict(batch=32, steps=10 if quick else 50, vocab=65, hidden=128,
                                     compiled=True)))
    out.append(("per_example_grads", dict(batch=64, sizes=W.VMAP_SIZES, compiled=True)))
    return [(group, label(group, params), params) for group, params in out]


def check_work(fn, group, params, lib) -> None:
    """Raise AssertionError unless every size ``fn`` reports (``fn.work``) is the row's."""
    work = getattr(fn, "work", None)
    assert work, f"{lib} {group}: the workload reports no sizes"
    for key, value in work.items():
        expected = params.get(key)
        if isinstance(expected, (list, tuple)):
            expected = tuple(expected)
        assert value == expected, (f"{lib} {group}: built {key}={value}, but the row "
                                   f"{label(group, params)!r} says {expected}")


def _parser():
    p = argparse.ArgumentParser(
        prog="xpgrad bench",
        description="Time xpgrad's backends against PyTorch on the asv workloads (tape "
                    "overhead, fused losses, activations, optimizer updates, MLP, LSTM and char-LM steps, "
                    "odeint fits against JAX's) and "
                    "print a table of ratios (xpgrad time / PyTorch time; < 1 is faster).")
    p.add_argument("--backend", nargs="+", metavar="NAME",
                   help="xpgrad backends to time (default: every available one)")
    p.add_argument("--peers", nargs="*", metavar="LIB", choices=W.PEER_LIBS,
                   help=f"peer libraries to time, from {', '.join(W.PEER_LIBS)} (default: "
                        "torch-cpu, plus torch-cuda when cupy is timed and jax-cpu when JAX "
                        "is installed); --peers alone: none")
    p.add_argument("--only", nargs="+", choices=GROUPS, metavar="GROUP",
                   help=f"workload groups to run, from {', '.join(GROUPS)} (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes and 3 short repeats (seconds, not minutes)")
    p.add_argument("--threads", type=parse_threads, default=DEFAULT_THREADS, metavar="N",
                   help="threads for every library alike: BLAS, Numba and PyTorch (default: "
                        f"{DEFAULT_THREADS}, a fair comparison on any machine)")
    p.add_argument("--repeat", type=int, metavar="N",
                   help="timed repeats per workload (default: 3 with --quick, else 7)")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                   help="write the results as JSON to PATH (alone: print JSON instead of the "
                        "table)")
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
    return list(dict.fromkeys(names))      # a backend named twice: one column


def main(argv=None) -> int:
    """Run the benchmarks named by ``argv`` (see ``xpgrad bench -h``); print the table."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    _check_json_path(parser, args.json)
    try:
        describe_products()                  # XPGRAD_BLAS, before any timing
    except (ValueError, RuntimeError) as e:
        parser.error(str(e))
    backends = _backends(parser, args.backend)
    libs = [f"xpgrad-{b}" for b in backends]
    peers = args.peers and list(dict.fromkeys(args.peers))    # a peer named twice: one column
    if peers is None:
        peers = ["torch-cpu"] + (["torch-cuda"] if "cupy" in backends else [])
        if importlib.util.find_spec("jax") is not None:
            peers.append("jax-cpu")
    libs = peers + [lib for lib in libs if lib not in peers]
    repeats = args.repeat or (3 if args.quick else 7)
    min_time = 0.01 if args.quick else 0.1
    groups = args.only or GROUPS
    threads, limits = _limit_threads(args.threads, libs)
    with limits:            # the counts from before once the table is out (main run in-process)
        return _run(parser, args, libs, peers, groups, threads, repeats, min_time)


def _run(parser, args, libs, peers, groups, threads, repeats, min_time) -> int:
    """Time ``groups`` on ``libs`` and print (or write) the report: the body of ``main``."""
    results, why = {}, {}
    todo = [c for c in cases(args.quick) if c[0] in groups]
    progress = sys.stderr.isatty()
    for i, (group, row_label, params) in enumerate(todo):
        if progress:
            print(f"\r[{i + 1}/{len(todo)}] {row_label}\033[K", end="", file=sys.stderr,
                  flush=True)
        fns = {}
        for lib in libs:
            try:
                fns[lib] = W.build(group, lib, **params)
            except W.Unavailable as e:
                results[row_label, lib] = None
                why.setdefault(lib, set()).add(str(e))
                continue
            check_work(fns[lib], group, params, lib)
        for lib, t in measure(fns, min_time, repeats).items():
            results[row_label, lib] = t
    if progress:
        print("\r\033[K", end="", file=sys.stderr, flush=True)

    versions = _versions(libs)
    columns = []
    for lib in libs:
        columns.append((lib, None))
        columns += [(lib, ref) for ref in _references(lib) if ref in peers]
    if args.json is not None:
        report = _json_report(todo, libs, results, why, threads, versions, repeats, min_time,
                              args.quick)
        text = json.dumps(report, indent=1)
        if args.json == "-":
            print(text)
            return 0
        try:
            with open(args.json, "w") as f:
                f.write(text + "\n")
        except OSError as e:
            parser.exit(2, f"xpgrad: error: cannot write --json {args.json!r}: "
                           f"{e.strerror or e}\n")
    rows = []
    for _, row_label, _ in todo:
        row = [row_label]
        for lib, ref in columns:
            t = results[row_label, lib]
            if ref is None:
                row.append(format_time(t))
            else:
                r = results[row_label, ref]
                row.append("n/a" if t is None or not r else f"{t / r:.3g}x")
        rows.append(row)
    headers = ["workload"] + [lib if ref is None else f"/{ref}" for lib, ref in columns]
    print("\n".join(_header(threads, versions, repeats)))
    print(format_table(rows, headers))
    for lib, reasons in why.items():
        print(f"n/a for {lib}: {'; '.join(sorted(reasons))}")
    if args.json not in (None, "-"):
        print(f"wrote {args.json}")
    return 0


def _check_json_path(parser, path) -> None:
    """Refuse a ``--json PATH`` that cannot be written before minutes of timing, not after."""
    if path in (None, "-"):
        return
    if not path:
        parser.error("--json is empty; give a file name (or --json alone to print JSON)")
    if os.path.isdir(path):
        parser.error(f"--json {path!r} is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        parser.error(f"--json {path!r}: the directory {parent!r} does not exist")
    try:                        # a test file: root ignores permission bits, not read-only mounts
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        parser.error(f"--json {path!r}: cannot write in {parent!r} ({e.strerror or e})")


if __name__ == "__main__":
    sys.exit(main())
