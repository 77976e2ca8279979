"""The ``xpgrad`` command: ``train`` (the main job, in cli_train.py), ``plot``, ``warmup``,
``info`` (in cli_info.py) and ``bench``; how it fails is cli_failures.py.

>>> main(["info"])                     # doctest: +SKIP
>>> main(["train", "--epochs", "2"])   # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import os
import sys

from .cli_failures import AgreedExit, Unreported, _report_once, fail
from .cli_info import cmd_info, info  # noqa: F401  (xpgrad.cli.info)
from .cli_train import _train_parser
from .cli_types import backend_name, positive


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``xpgrad: error: ...`` on stderr, exit status 2."""

    def error(self, message):
        fail(f"{message} (see '{self.prog} -h')", 2)

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but a subcommand's unknown flag is that subcommand's error, with
        its own help to point at (``xpgrad train -h``), not ``xpgrad -h``."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            getattr(parsed, "parser", self).error(
                f"unrecognized arguments: {' '.join(extras)}")
        return parsed


#: what matplotlib writes (its savefig formats), checked before the history is read
_IMAGE_SUFFIXES = frozenset(("avif", "eps", "gif", "jpeg", "jpg", "pdf", "pgf", "png", "ps",
                             "raw", "rgba", "svg", "svgz", "tif", "tiff", "webp"))


def cmd_plot(args, parser) -> int:
    """``xpgrad plot RUN_DIR``: draw a finished (or interrupted) run's ``curves.png`` from its
    ``history.json``."""
    import json

    from .report import plot_history, run_title

    path = os.path.join(args.run_dir, "history.json")
    try:
        with open(path) as f:
            history = json.load(f)
    except FileNotFoundError:
        if not os.path.isdir(args.run_dir):
            fail(f"RUN_DIR {args.run_dir!r} does not exist (give the --logdir of an "
                 f"`xpgrad train` run)")
        fail(f"RUN_DIR {args.run_dir!r} holds no history.json (the --logdir of an "
             f"`xpgrad train` run)")
    except (OSError, ValueError) as e:
        fail(f"cannot read {path!r}: {e}")
    if not isinstance(history, dict) or not isinstance(history.get("epoch"), list):
        fail(f"{path!r} is not the history of an `xpgrad train` run")
    if not history["epoch"]:
        fail(f"{path!r} records no finished epoch: nothing to plot")
    out = args.output or os.path.join(args.run_dir, "curves.png")
    if os.path.isdir(out) or out.endswith(("/", os.sep)):
        fail(f"--output {out!r} is a directory; give the image's file name, e.g. "
             f"{os.path.join(out, 'curves.png')!r}")
    suffix = os.path.splitext(out)[1].lower().lstrip(".")
    if suffix and suffix not in _IMAGE_SUFFIXES:
        fail(f"--output {out!r}: {suffix!r} is not an image format; give a name ending in "
             f".png, .svg or .pdf (or another format matplotlib writes)")
    try:
        title = run_title(history.get("config"))
        print(f"wrote curves: {plot_history(history, out, title=title)}")
    except ImportError as e:
        fail(str(e), status=1)
    except (TypeError, ValueError) as e:          # metrics of other lengths, or not numbers
        fail(f"{path!r} cannot be plotted: {e}")
    except OSError as e:
        fail(f"cannot write {out!r}: {e}")
    return 0


def cmd_warmup(args, parser) -> int:
    import xpgrad

    try:
        be = xpgrad.get_backend(args.backend)
    except (xpgrad.UnknownBackendError, xpgrad.BackendUnavailableError) as e:
        fail(e, 2)
    warmup = getattr(be, "warmup", None)
    if warmup is None:
        print(f"backend {be.name!r} compiles no kernels: nothing to warm up"
              + (" or prune" if args.prune else ""))
        return 0
    kwargs = {} if args.jobs is None else {"processes": args.jobs}
    seconds = warmup(dtypes=tuple(args.dtypes), **kwargs)
    print(f"backend {be.name!r}: kernels for {', '.join(args.dtypes)} ready in {seconds:.1f} s")
    if args.prune:
        removed, freed = be.prune_cache()
        print(f"removed {removed} cache director{'y' if removed == 1 else 'ies'} of older "
              f"sources or Numba versions ({freed / 2**20:.1f} MiB)")
    return 0


def _dtypes(text):
    names = [s for s in text.replace(",", " ").split()]
    bad = [n for n in names if n not in ("float32", "float64")]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"expected float32 and/or float64, got {text!r}")
    return names


def cmd_bench(args, parser) -> int:
    import importlib

    try:
        bench = importlib.import_module("xpgrad.bench")
    except ImportError as e:
        if getattr(e, "name", None) == "xpgrad.bench":
            fail("bench: the benchmark module (xpgrad/bench.py) is not part of this "
                 "installation yet; use the asv suites in asv_benchmarks/", 1)
        raise
    make = getattr(bench, "_parser", None)
    if make is None:
        return bench.main(args.bench_args) or 0

    def one_line_errors():                      # its flags' errors as one line, like ours
        p = make()
        p.error = lambda message: fail(f"bench: {message} (see 'xpgrad bench -h')", 2)
        return p

    bench._parser = one_line_errors
    try:
        return bench.main(args.bench_args) or 0
    finally:
        bench._parser = make


def build_parser() -> argparse.ArgumentParser:
    import xpgrad

    parser = _Parser(
        prog="xpgrad", description="xpgrad: reverse-mode autodiff on NumPy, Numba and CuPy.")
    parser.add_argument("--version", action="version", version=f"xpgrad {xpgrad.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{train,plot,info,bench,warmup}")
    _train_parser(sub)
    p = sub.add_parser("plot", help="draw a run's curves.png from its history.json (matplotlib)")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the --logdir of an `xpgrad train` run")
    p.add_argument("--output", "-o", default=None, metavar="PNG",
                   help="where to write the plot (default: RUN_DIR/curves.png)")
    p.set_defaults(func=cmd_plot, parser=p)
    p = sub.add_parser("warmup", help="compile (or load from the disk cache) a backend's "
                                      "kernels ahead of time, once per machine")
    p.add_argument("--backend", default="numba", type=backend_name, help="(default: numba)")
    p.add_argument("--dtypes", type=_dtypes, default=["float32", "float64"],
                   help="float32 and/or float64 (default: both)")
    p.add_argument("--jobs", "-j", type=positive(int), default=None, metavar="N",
                   help="processes compiling side by side when the cache is cold (default: "
                        "one per available CPU; 1: in this process)")
    p.add_argument("--prune", action="store_true",
                   help="then delete the cache directories of older sources or Numba versions "
                        "(`xpgrad info` counts them as cache_stale_dirs)")
    p.set_defaults(func=cmd_warmup, parser=p)
    p = sub.add_parser("info", help="versions, backends (and why one is unavailable), devices")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_info, parser=p)
    p = sub.add_parser("bench", help="time training steps per backend (see `xpgrad bench -h`)",
                       add_help=False)
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench, parser=p)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``xpgrad`` console script; returns the exit status."""
    # Numba colours its messages with colorama, which then writes a colour reset to a terminal
    # stdout at exit; under mpiexec (a pty per rank) that lands in every log. The CLI reports
    # Numba's errors in its own words, so their colours are never seen.
    os.environ.setdefault("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", "1")
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:        # everything after `bench` belongs to xpgrad.bench
        args = parser.parse_args(["bench"])
        args.bench_args = argv[1:]
    else:
        try:
            args = parser.parse_args(argv)
        except Unreported as e:
            _report_once(e, argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args, args.parser)
    except KeyboardInterrupt:           # outside the training loop (which saves and returns)
        from .distributed.group import abort_on_failure

        sys.stderr.write("xpgrad: interrupted\n")
        abort_on_failure(130)           # data-parallel: the others wait for this rank, forever
        return 130
    except Unreported as e:
        _report_once(e, argv)
    except AgreedExit:
        raise
    except SystemExit as e:             # data-parallel: one failed rank ends every rank
        from .distributed.group import abort_on_failure

        abort_on_failure(e.code)
        raise


if __name__ == "__main__":
    sys.exit(main())
