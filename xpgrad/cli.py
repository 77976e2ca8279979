"""The ``xpgrad`` command: ``train`` (the main job), ``info`` and ``bench``.

>>> main(["info"])                     # doctest: +SKIP
>>> main(["train", "--epochs", "2"])   # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys

# name shown -> distributions that provide it (CuPy ships as cupy-cudaXXx wheels)
PEERS = {"torch": ("torch",), "jax": ("jax",), "jaxlib": ("jaxlib",),
         "cupy": ("cupy", "cupy-cuda12x", "cupy-cuda11x", "cupy-cuda13x"), "numba": ("numba",),
         "array-api-strict": ("array-api-strict",), "tqdm": ("tqdm",),
         "tensorboardX": ("tensorboardX",), "matplotlib": ("matplotlib",),
         "scikit-learn": ("scikit-learn",)}


def _hidden(text):
    try:
        sizes = [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer sizes like 128 or 128,64, got {text!r}")
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive integers, got {text!r}")
    return sizes


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def _train_parser(sub):
    from .data import DATASETS
    from .models import MODELS, OPTIMIZERS

    p = sub.add_parser(
        "train", help="train a classifier (default: MLP on scikit-learn's digits)",
        description="Train a classifier and report held-out accuracy. Writes TensorBoard event "
                    "files, curves.png and history.json under --logdir.")
    p.add_argument("--backend", default=os.environ.get("XPGRAD_BACKEND") or "numpy",
                   help="array backend, see `xpgrad info` (default: $XPGRAD_BACKEND or numpy)")
    p.add_argument("--model", default="mlp", choices=sorted(MODELS),
                   help="; ".join(f"{m.name}: {m.help}" for m in MODELS.values())
                   + " (default: mlp)")
    p.add_argument("--optimizer", default="adam", choices=list(OPTIMIZERS),
                   help="optimizer (default learning rates: " + ", ".join(
                       f"{o.name} {o.default_learning_rate:g}" for o in OPTIMIZERS.values())
                   + "; default: adam)")
    p.add_argument("--epochs", type=_positive(int), default=20, help="(default: 20)")
    p.add_argument("--batch-size", type=_positive(int), default=32, help="(default: 32)")
    p.add_argument("--learning-rate", "--lr", type=_positive(float), default=None,
                   help="step size (default: the optimizer's)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the train/test split, the initial weights and the data order "
                        "(default: 0)")
    p.add_argument("--hidden", type=_hidden, default=None,
                   help="hidden layer sizes, e.g. 128 or 256,128 (default: the model's; mlp: 128)")
    p.add_argument("--dataset", default="digits", choices=DATASETS,
                   help="digits: scikit-learn's bundled 8x8 digits; mnist: IDX files in "
                        "--data-dir (default: digits)")
    p.add_argument("--data-dir", default=None, help="directory with the MNIST IDX files")
    p.add_argument("--logdir", default=None,
                   help="where event files and plots go (default: runs/<timestamp>)")
    p.add_argument("--no-log", action="store_true", help="write no event files or plots")
    p.add_argument("--checkpoint", default=None,
                   help=".npz file saved at the end; if it exists, training resumes from it")
    p.add_argument("--max-steps", type=_positive(int), default=None,
                   help="stop after this many optimizer steps (for quick checks)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress bar and no per-epoch lines; print the final summary only")
    p.set_defaults(func=cmd_train, parser=p)
    return p


def cmd_train(args, parser) -> int:
    from .backend import BackendUnavailableError, UnknownBackendError
    from .checkpoint import CheckpointError
    from .data import DataError
    from .training import TrainConfig, train

    logdir = None
    if not args.no_log:
        logdir = args.logdir or os.path.join(
            "runs", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    config = TrainConfig(
        backend=args.backend, model=args.model, optimizer=args.optimizer, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
        hidden=None if args.hidden is None else tuple(args.hidden), dataset=args.dataset,
        data_dir=args.data_dir, logdir=logdir, checkpoint=args.checkpoint,
        max_steps=args.max_steps, progress=not args.quiet and sys.stderr.isatty())
    try:
        config = config.resolved()
    except (UnknownBackendError, BackendUnavailableError, ValueError) as e:
        parser.error(str(e))

    def echo(line):
        if not args.quiet or line.startswith(("held-out", "wrote")):
            print(line, flush=True)

    try:
        train(config, echo=echo)
    except (DataError, ImportError, BackendUnavailableError) as e:
        parser.exit(1, f"xpgrad train: error: {e}\n")
    except CheckpointError as e:
        parser.exit(1, f"xpgrad train: error: cannot resume: {e}\n"
                       f"(use another --checkpoint path, or the flags it was trained with)\n")
    return 0


def _version(dists):
    from importlib.metadata import PackageNotFoundError, version

    for dist in dists:
        try:
            return version(dist)
        except PackageNotFoundError:
            pass
    return None


def info() -> dict:
    """What ``xpgrad info`` prints, as a dict: versions, backends (with why not), peers."""
    import numpy

    import xpgrad

    return {
        "xpgrad": xpgrad.__version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()}, "
                  f"{platform.system()} {platform.machine()})",
        "numpy": numpy.__version__,
        "current_backend": xpgrad.current_backend().name,
        "backends": xpgrad.available_backends(),
        "installed": {name: _version(dists) for name, dists in PEERS.items()},
    }


def cmd_info(args, parser) -> int:
    report = info()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"xpgrad   {report['xpgrad']}")
    print(f"python   {report['python']}")
    print(f"numpy    {report['numpy']}")
    print(f"current backend: {report['current_backend']}")
    print("backends:")
    for name, row in report["backends"].items():
        if row["available"]:
            details = ", ".join(f"{k}={v}" for k, v in row.items()
                                if k not in ("available", "reason", "name"))
            print(f"  {name:8s} available   {details}")
        else:
            print(f"  {name:8s} unavailable {row['reason']}")
    print("installed packages:")
    for name, ver in report["installed"].items():
        print(f"  {name:17s} {ver or '-'}")
    return 0


def cmd_bench(args, parser) -> int:
    import importlib

    try:
        bench = importlib.import_module("xpgrad.bench")
    except ImportError as e:
        if getattr(e, "name", None) == "xpgrad.bench":
            parser.exit(1, "xpgrad bench: the benchmark module (xpgrad/bench.py) is not part of "
                           "this installation yet; use the asv suites in asv_benchmarks/\n")
        raise
    return bench.main(args.bench_args) or 0


def build_parser() -> argparse.ArgumentParser:
    import xpgrad

    parser = argparse.ArgumentParser(
        prog="xpgrad", description="xpgrad: reverse-mode autodiff on NumPy, Numba and CuPy.")
    parser.add_argument("--version", action="version", version=f"xpgrad {xpgrad.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{train,info,bench}")
    _train_parser(sub)
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
        args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.func(args, args.parser)


if __name__ == "__main__":
    sys.exit(main())
