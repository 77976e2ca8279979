"""The ``xpgrad`` command: ``train`` (the main job), ``warmup``, ``info`` (in cli_info.py) and
``bench``.

>>> main(["info"])                     # doctest: +SKIP
>>> main(["train", "--epochs", "2"])   # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import signal
import sys

from .cli_info import cmd_info, info  # noqa: F401  (xpgrad.cli.info)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``xpgrad: error: ...`` on stderr, exit status 2."""

    def error(self, message):
        fail(f"{message} (see '{self.prog} -h')", 2)


class AgreedExit(SystemExit):
    """Data-parallel: every rank exits with this status together (an error they all reached at
    the same step), so none needs to abort the job, which could kill rank 0 while it still
    writes its logs or its message."""


def fail(message, status=2):
    """Print ``xpgrad: error: message`` as one line on stderr and exit with ``status`` (2: the
    user's input is wrong; 1: the run failed).

    >>> try:
    ...     fail("no such file", 2)        # prints "xpgrad: error: no such file" on stderr
    ... except SystemExit as e:
    ...     print(e.code)
    2
    """
    from .distributed.group import launcher_size, world_started

    line = " ".join(str(message).split())          # one line, whatever the message holds
    if launcher_size() > 1 and not world_started():
        raise Unreported(line, status)             # main reports it once for all the ranks
    sys.stderr.write(f"xpgrad: error: {line}\n")
    sys.stderr.flush()
    raise SystemExit(status)


class Unreported(SystemExit):
    """``fail`` under a launcher before MPI is up: every rank meets the error alike (the same
    command line), and ``main`` has it printed once (``_report_once``)."""

    def __init__(self, message, status):
        super().__init__(status)
        self.message = message


class UsageError(ValueError):
    """An `xpgrad train` command line another rank could not use (see ``_report_once``)."""


def _report_once(error, argv):
    """Report a failure met before MPI started (``Unreported``) once for the job and exit.

    For ``xpgrad train`` the ranks start MPI and agree on the error (``raise_together``, the
    collective a rank without it meets first in ``cmd_train``): rank 0 prints it, every rank
    exits with its status, and none is killed by the launcher while rank 0 still writes.
    Otherwise (another command, or MPI cannot start) the launcher's rank 0 prints it."""
    from .distributed import agreement, group

    if argv[:1] == ["train"]:
        try:
            world = group.init(gpu=False)
        except Exception:                 # the very error being reported, e.g. no mpi4py
            world = None
        if world is not None and world.size > 1:
            try:
                agreement.raise_together(world, UsageError(error.message),
                                         "the reading of the command line")
            except Exception as agreed:
                fail_together(world, agreed, _preparation_status(agreed) or 1)
    if group.launcher_rank() == 0:
        sys.stderr.write(f"xpgrad: error: {error.message}\n")
        sys.stderr.flush()
    raise SystemExit(error.code)


def fail_together(world, message, status):
    """``fail`` on every rank of ``world`` at once (an error every rank raised at the same
    point): rank 0 alone prints ``message``, prefixed with the rank the error arose on (its
    ``failed_rank``) if another, and every rank exits with ``status`` (AgreedExit, so that none
    aborts the job)."""
    if world.size == 1:
        fail(message, status)
    where = getattr(message, "failed_rank", 0)
    if world.rank == 0:
        try:
            fail(f"[rank {where}] {message}" if where else message, status)
        except SystemExit:
            pass
    raise AgreedExit(status)


def _hidden(text):
    if "," in text and not all(p.strip() for p in text.split(",")):
        raise argparse.ArgumentTypeError(f"empty layer size in {text!r} (sizes like 128 or "
                                         "128,64)")
    try:
        sizes = [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer sizes like 128 or 128,64, got {text!r}")
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive integers, got {text!r}")
    return sizes


def _number(kind, low, strict=True):
    """An argparse type: a finite ``kind`` above ``low`` (``>= low`` unless ``strict``)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        if not math.isfinite(value) or (value <= low if strict else value < low):
            what = "an integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(
                f"must be {what} {'>' if strict else '>='} {low:g}, got {text}")
        return value
    return parse


def _positive(kind):
    return _number(kind, 0)


def _train_parser(sub):
    from .data import DATASETS
    from .models import MODELS, OPTIMIZERS

    from .threads import DEFAULT_THREADS, parse_threads

    p = sub.add_parser(
        "train", help="train a classifier (default: MLP on the 8x8 digits)",
        description="Train a classifier and report held-out accuracy. Writes TensorBoard event "
                    "files and history.json (and, with --curves, curves.png) under --logdir. "
                    "Every flag and output path is checked before training starts. "
                    "SIGINT/SIGTERM stop after the current step and save the checkpoint and "
                    "logs (exit 130/143).")
    p.add_argument("--backend", default=None,
                   help="array backend, see `xpgrad info` (default: $XPGRAD_BACKEND or numpy); "
                        "numba: kernels not yet compiled on this machine compile in a background "
                        "process while NumPy's kernels stand in")
    p.add_argument("--model", default=None, choices=sorted(MODELS),
                   help="; ".join(f"{m.name}: {m.help}" for m in MODELS.values())
                   + " (default: mlp)")
    p.add_argument("--optimizer", default=None, choices=list(OPTIMIZERS),
                   help="optimizer (default learning rates: " + ", ".join(
                       f"{o.name} {o.default_learning_rate:g}" for o in OPTIMIZERS.values())
                   + "; default: adam)")
    p.add_argument("--epochs", type=_positive(int), default=None,
                   help="epochs to train in this run (default: 20; with --resume: what remains "
                        "of the saved run)")
    p.add_argument("--batch-size", type=_positive(int), default=None, help="(default: 32)")
    p.add_argument("--learning-rate", "--lr", type=_positive(float), default=None,
                   help="step size, a finite number > 0 (default: the optimizer's)")
    p.add_argument("--seed", type=_number(int, 0, strict=False), default=None,
                   help="seeds the train/test split, the initial weights and the data order "
                        "(an integer >= 0; default: 0)")
    p.add_argument("--hidden", type=_hidden, default=None,
                   help="hidden layer sizes, e.g. 128 or 256,128 (default: the model's; mlp: 128)")
    p.add_argument("--dataset", default=None, choices=DATASETS,
                   help="digits: the 8x8 digits shipped with xpgrad (scikit-learn's); mnist, "
                        "fashion-mnist: the standard IDX files, downloaded on first use into "
                        "$XPGRAD_DATA_DIR (default ~/.cache/xpgrad) with their SHA-256 checked, "
                        "or read from --data-dir (default: digits)")
    p.add_argument("--data-dir", default=None,
                   help="directory with the four IDX files of --dataset mnist or fashion-mnist "
                        "(nothing is downloaded)")
    p.add_argument("--logdir", default=None,
                   help="where event files and plots go (default: runs/<timestamp>)")
    p.add_argument("--no-log", action="store_true", help="write no event files or plots")
    p.add_argument("--curves", action="store_true",
                   help="also draw curves.png (loss and accuracy per epoch) under --logdir; "
                        "needs matplotlib, the viz extra (`xpgrad plot RUN_DIR` draws it later)")
    p.add_argument("--checkpoint", default=None,
                   help=".npz file saved at the end (and every --checkpoint-every steps, and "
                        "on SIGINT/SIGTERM); if it exists, training resumes from it and trains "
                        "--epochs more")
    p.add_argument("--checkpoint-every", type=_positive(int), default=None, metavar="N",
                   help="also save the checkpoint every N optimizer steps")
    p.add_argument("--resume", default=None, metavar="PATH",
                   help="continue the run saved in PATH with its settings (flags given again "
                        "override them; the model's shape cannot change) and save back to it "
                        "unless --checkpoint is given")
    p.add_argument("--max-steps", type=_positive(int), default=None,
                   help="stop after this many optimizer steps (for quick checks)")
    p.add_argument("--threads", type=parse_threads, default=None, metavar="N",
                   help=f"threads for BLAS and Numba's kernels (default: {DEFAULT_THREADS}; "
                        f"more pays only for large layers on an idle machine)")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress bars (per epoch, per download): auto shows them when stderr "
                        "is a terminal and tqdm is installed (default: auto)")
    p.add_argument("--compile", action="store_true", default=None,
                   help="trace each step's forward and backward pass once (xg.function) and "
                        "replay it: the same numbers, without per-op dispatch")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress bar and no per-epoch lines; print the final summary only")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the processes of mpiexec/srun (automatic under "
                        "them): --batch-size stays the global batch; see docs/distributed.md")
    p.set_defaults(func=cmd_train, parser=p)
    return p


#: TrainConfig fields set by a flag of the same name
_FLAGS = ("backend", "model", "optimizer", "epochs", "batch_size", "learning_rate", "seed",
          "hidden", "dataset", "data_dir", "checkpoint", "checkpoint_every", "max_steps",
          "threads", "compile")


def _config(args):
    """The run's TrainConfig: the flags given, on top of the resumed checkpoint's settings
    (--resume, or an existing --checkpoint) or the defaults."""
    from .checkpoint import checkpoint_metadata
    from .training import TrainConfig, resume_config

    given = {k: getattr(args, k) for k in _FLAGS if getattr(args, k) is not None}
    env = os.environ.get("XPGRAD_BACKEND")
    if env and "backend" not in given:
        from .backend import BackendUnavailableError, UnknownBackendError, get_backend

        try:
            get_backend(env)
        except (UnknownBackendError, BackendUnavailableError) as e:
            from .training import ConfigError

            raise ConfigError(f"$XPGRAD_BACKEND={env!r} (the default of --backend): {e}") \
                from None
    if "hidden" in given:
        given["hidden"] = tuple(given["hidden"])
    source, finish = args.resume, True
    if source is None and args.checkpoint and os.path.isfile(args.checkpoint):
        source, finish = args.checkpoint, False          # trains --epochs more
        if not isinstance(checkpoint_metadata(source).get("config"), dict):
            source = None                                # an older checkpoint: flags only
    if source is not None:
        config = resume_config(source, given, finish=finish)
        if "backend" not in given and os.environ.get("XPGRAD_BACKEND"):
            config.backend = os.environ["XPGRAD_BACKEND"]
    else:
        given.setdefault("backend", os.environ.get("XPGRAD_BACKEND") or "numpy")
        config = TrainConfig(**given)
    config.logdir = None
    if not args.no_log:
        config.logdir = args.logdir or os.path.join(
            "runs", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    config.progress = _progress(args.progress)
    config.curves = args.curves
    return config


def _progress(choice) -> bool:
    """``--progress``: always, never, or auto (stderr is a terminal and tqdm is installed)."""
    from .report import available

    if choice == "auto":
        return sys.stderr.isatty() and available("tqdm")
    return choice == "always"


def _preparation_status(error):
    """The exit status for ``error`` raised while a run is prepared: 2 for the user's input
    (settings, paths, files, data), 1 for what failed around it (a download, a missing
    package, MPI), None for a bug (its traceback is shown).

    >>> _preparation_status(ValueError("--epochs")), _preparation_status(ImportError("tqdm"))
    (2, 1)
    """
    from .backend import BackendUnavailableError, UnknownBackendError
    from .checkpoint import CheckpointError
    from .data import DataError, DownloadError
    from .distributed import DistributedError

    if isinstance(error, (DownloadError, ImportError, DistributedError)):
        return 1
    if isinstance(error, (CheckpointError, DataError, UnknownBackendError,
                          BackendUnavailableError, ValueError, TypeError, FileNotFoundError,
                          PermissionError, MemoryError)):
        return 2
    return None


def cmd_train(args, parser) -> int:
    from .checkpoint import CheckpointError
    from .training import TrainingError, prepare

    for flag in ("logdir", "checkpoint", "resume", "data_dir"):   # e.g. --checkpoint "$UNSET"
        if getattr(args, flag) == "":
            fail(f"--{flag.replace('_', '-')} is empty; give a path")
    if args.no_log and args.logdir:
        fail("--no-log and --logdir contradict each other; give one of them")
    if args.no_log and args.curves:
        fail("--curves draws curves.png under the log directory, which --no-log turns off; "
             "give one of them")
    if args.quiet and args.progress == "always":
        fail("--quiet and --progress always contradict each other; give one of them")
    if args.quiet:
        args.progress = "never"

    from .distributed import DistributedError, init as init_distributed, launcher_size
    from .distributed.agreement import run_together
    from .distributed.group import current as current_world

    if args.distributed or launcher_size() > 1:
        try:
            init_distributed(gpu=args.backend == "cupy" or None)
        except (ImportError, DistributedError) as e:   # no mpi4py; another MPI's mpiexec
            fail(e, 1)

    _check_same_command(current_world(), args)

    def note(line):                       # downloads: on stderr, so stdout stays the results
        if not args.quiet and current_world().rank == 0:    # data-parallel: rank 0 alone
            sys.stderr.write(f"xpgrad: {line}\n")
            sys.stderr.flush()

    # data-parallel: rank 0 alone reads a checkpoint's settings, and every rank runs those;
    # an error on any rank is raised on every rank (run_together, prepare), reported once
    world = current_world()
    try:
        config = run_together(world, lambda: _config(args) if world.rank == 0 else None,
                              "the reading of the settings")
        plan = prepare(world.bcast_object(config) if world.size > 1 else config, echo=note,
                       background_compile=world.size == 1)
    except Exception as e:
        status = _preparation_status(e)
        if status is None:
            raise
        if isinstance(e, MemoryError):        # e.g. --hidden 99999999999: the weights
            where = getattr(e, "failed_rank", 0)
            e = f"{f'[rank {where}] ' if where else ''}not enough memory to set up this run " \
                f"(check --hidden and --batch-size): {e}"
        fail_together(world, e, status)

    def echo(line):
        if not args.quiet or line.startswith(("held-out", "wrote", "interrupted")):
            print(line, flush=True)

    try:
        result = plan.fit(echo, handle_signals=True)
    except TrainingError as e:   # every rank raised it at the same step (reduced loss)
        fail_together(world, e, 1)
    except (ImportError, OSError, CheckpointError) as e:
        # data-parallel: rank 0's failed write (logs, checkpoint) is raised on every rank
        # (failed_rank set) after the ranks agreed on it: one message, no MPI_Abort
        if getattr(e, "failed_rank", None) is not None:
            fail_together(world, e, 1)
        fail(e, 1)
    except MemoryError as e:          # one process, or raised on every rank (failed_rank)
        _fail_in_training(world, e, f"out of memory while training (check --hidden and "
                                    f"--batch-size): {e}")
    except Exception as e:
        if getattr(e, "failed_rank", None) is None:   # one process: the traceback, as before
            raise
        # data-parallel: an unexpected error on one rank (a bug), raised on every rank at
        # the same step; that rank shows where it arose, rank 0 the one-line summary
        if e.failed_rank == world.rank:
            from .distributed.group import print_traceback

            print_traceback(e, world.rank)
        _fail_in_training(world, e, f"{type(e).__name__}: {e}")
    if result.interrupted:
        return 128 + int(getattr(signal, result.interrupted))
    return 0


def _check_same_command(world, args) -> None:
    """Data-parallel: fail (status 2, every rank) unless every rank was started with the same
    ``xpgrad train`` settings; rank 0's would otherwise be used on all of them without a word
    (a launch giving each rank its own ``--seed`` or model: ``mpiexec -n 1 xpgrad train --seed
    1 : -n 1 xpgrad train --seed 2``)."""
    if world.size == 1:
        return
    mine = {k: v for k, v in vars(args).items() if k not in ("func", "parser")}
    every = world.allgather(mine)
    for rank, theirs in enumerate(every):
        differ = [k for k in mine if theirs.get(k) != every[0].get(k)]
        if differ:
            name = differ[0]
            fail_together(world, f"rank {rank} was started with other settings than rank 0 "
                                 f"(--{name.replace('_', '-')}: rank 0 has "
                                 f"{_shown(every[0].get(name))}, rank {rank} has "
                                 f"{_shown(theirs.get(name))}); start every rank with the same "
                                 f"xpgrad train command line", 2)


def _shown(value):
    """A setting as a user would recognise it: text as given, lists and numbers as Python
    writes them, an unset one as "none"."""
    return "none" if value is None else value if isinstance(value, str) else repr(value)


def _fail_in_training(world, error, message):
    """Fail with status 1 for ``error``, met while training: on several ranks every rank has
    raised it (``failed_rank`` names where it arose) and rank 0 prints ``message`` once."""
    where = getattr(error, "failed_rank", None)
    if where is None:
        fail(message, 1)
    fail_together(world, f"[rank {where}] {message}" if where else message, 1)


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
    p.add_argument("--backend", default="numba", help="(default: numba)")
    p.add_argument("--dtypes", type=_dtypes, default=["float32", "float64"],
                   help="float32 and/or float64 (default: both)")
    p.add_argument("--jobs", "-j", type=_positive(int), default=None, metavar="N",
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
