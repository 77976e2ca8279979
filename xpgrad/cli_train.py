"""``xpgrad train``: its command line (``_train_parser``) and the command itself
(``cmd_train``), one process or data-parallel under ``mpiexec``; the types of its flags are in
``cli_types``, the settings it makes of them (``_config``) in ``cli_train_settings``.

>>> _train_parser.__name__
'_train_parser'
"""
from __future__ import annotations

import os
import signal
import sys

from .cli_failures import _fail_in_training, _preparation_status, fail, fail_together
from .cli_profile import PROFILE_STEPS, check_profile_path, run_profiled
from .cli_train_settings import _config, _remove_made_dirs
from .cli_types import _clip_norm, _fraction, _hidden, backend_name, number, positive


def _train_parser(sub):
    from .data import DATASETS
    from .models import MODELS, OPTIMIZERS
    from .training.schedule import SCHEDULES

    from .threads import DEFAULT_THREADS, parse_threads

    p = sub.add_parser(
        "train", help="train a classifier (default: MLP on the 8x8 digits)",
        description="Train a classifier and report held-out accuracy. Writes TensorBoard event "
                    "files and history.json (and, with --curves, curves.png) under --logdir. "
                    "Every flag and output path is checked before training starts. "
                    "SIGINT/SIGTERM stop after the current step and save the checkpoint and "
                    "logs (exit 130/143).")
    p.add_argument("--backend", default=None, type=backend_name,
                   help="array backend, see `xpgrad info` (default: $XPGRAD_BACKEND or numpy; "
                        "with --resume: the saved run's); "
                        "numba: kernels not yet compiled on this machine compile in a background "
                        "process while NumPy's kernels stand in")
    p.add_argument("--model", default=None, choices=sorted(MODELS),
                   help="; ".join(f"{m.name}: {m.help}" for m in MODELS.values())
                   + " (default: mlp)")
    p.add_argument("--optimizer", default=None, choices=list(OPTIMIZERS),
                   help="optimizer (default learning rates: " + ", ".join(
                       f"{o.name} {o.default_learning_rate:g}" for o in OPTIMIZERS.values())
                   + "; default: adam)")
    p.add_argument("--epochs", type=positive(int), default=None,
                   help="epochs to train in this run (default: 20; with --resume: what remains "
                        "of the saved run)")
    p.add_argument("--batch-size", type=positive(int), default=None, help="(default: 32)")
    p.add_argument("--learning-rate", "--lr", type=positive(float), default=None,
                   help="step size, a finite number > 0 (default: the optimizer's)")
    p.add_argument("--lr-schedule", default=None, choices=list(SCHEDULES),
                   help="the learning rate over the run, peaking at --learning-rate; "
                        + "; ".join(f"{k}: {v}" for k, v in SCHEDULES.items())
                        + ". Its length is the run's: --epochs times the steps per epoch "
                          "(default: constant)")
    p.add_argument("--warmup-steps", type=number(int, 0, strict=False), default=None,
                   metavar="N", help="first raise the rate linearly from 0 over N steps, then "
                                     "follow --lr-schedule from its start (default: 0)")
    p.add_argument("--lr-gamma", "--lr-decay-rate", type=positive(float), default=None,
                   metavar="GAMMA", help="step, exponential, plateau: the factor of each "
                                         "decay (plateau: below 1; default: 0.1, as "
                                         "torchvision's scripts)")
    p.add_argument("--lr-patience", type=number(int, 0, strict=False), default=None,
                   metavar="EPOCHS", help="plateau: epochs without improvement of --monitor "
                                          "before each decay (default: 10, as PyTorch's and "
                                          "Keras' ReduceLROnPlateau)")
    p.add_argument("--lr-step-size", type=positive(int), default=None, metavar="EPOCHS",
                   help="step: epochs between decays (default: a third of the run's epochs)")
    p.add_argument("--weight-decay", type=number(float, 0, strict=False), default=None,
                   metavar="W", help="the optimizer's weight_decay: decoupled for adamw and "
                                     "lion (w -= lr * W * w, PyTorch's AdamW), added to the "
                                     "gradient (W * w) for the others, as PyTorch's optimizers "
                                     "(default: the optimizer's: 0.01 for adamw, else 0)")
    p.add_argument("--clip-norm", type=_clip_norm, default=None, metavar="C",
                   help="scale the gradients down to global norm C before each update "
                         "(Keras' global_clipnorm; torch.nn.utils.clip_grad_norm_ but for its "
                         "+ 1e-6 on the norm; with --distributed, the averaged gradients); "
                         "'none' or 'off': no clipping, e.g. to stop the clipping of a "
                         "--resume'd run (default: none, or the resumed run's)")
    p.add_argument("--validation-split", type=_fraction, default=None, metavar="FRACTION",
                   help="hold this fraction of the training set out as validation data "
                        "(stratified, seeded by --seed; Keras' validation_split): val loss and "
                        "accuracy per epoch; the test set stays as it is (default: none)")
    p.add_argument("--monitor", default=None, choices=("val_loss", "val_accuracy", "loss",
                                                       "accuracy"),
                   help="what --early-stopping and --lr-schedule plateau watch, once per "
                        "epoch: val_* need --validation-split; loss and accuracy are the "
                        "epoch's training metrics; the test set is never monitored "
                        "(default: val_loss, as Keras)")
    p.add_argument("--early-stopping", type=positive(int), default=None, metavar="PATIENCE",
                   help="stop once --monitor has not improved (by more than --min-delta) for "
                        "PATIENCE epochs in a row (Keras' EarlyStopping)")
    p.add_argument("--min-delta", type=number(float, 0, strict=False), default=None,
                   metavar="DELTA", help="early stopping: the least change of --monitor that "
                                         "counts as an improvement (default: 0)")
    p.add_argument("--restore-best", action="store_true", default=None,
                   help="early stopping: end the run with the weights of its best epoch "
                        "(Keras' restore_best_weights; also saved in the checkpoint)")
    p.add_argument("--seed", type=number(int, 0, strict=False), default=None,
                   help="seeds the train/test split, the initial weights, the data order and "
                        "the generators made without a seed, as xg.random.seed (an integer "
                        ">= 0; default: 0)")
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
                   help="where event files and plots go (default: runs/<timestamp>, with -2, -3, "
                        "... when a run started in the same second has it)")
    p.add_argument("--no-log", action="store_true", help="write no event files or plots")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the logs another run left in --logdir (its history.json, "
                        "event files and curves.png; nothing else there), removed as training "
                        "starts, instead of refusing the directory")
    p.add_argument("--curves", action="store_true",
                   help="also draw curves.png (loss and accuracy per epoch) under --logdir; "
                        "needs matplotlib, the viz extra (`xpgrad plot RUN_DIR` draws it later)")
    p.add_argument("--checkpoint", default=None,
                   help=".npz file saved at the end (and every --checkpoint-every steps, and "
                        "on SIGINT/SIGTERM); if it exists, training resumes from it and trains "
                        "--epochs more")
    p.add_argument("--checkpoint-every", type=positive(int), default=None, metavar="N",
                   help="also save the checkpoint every N optimizer steps")
    p.add_argument("--resume", default=None, metavar="PATH",
                   help="continue the run saved in PATH with its settings (flags given again "
                        "override them, except --model, --hidden, --dataset, --optimizer, "
                        "--seed and --validation-split, which cannot change; a new "
                        "--learning-rate, --lr-schedule or its parameters act from the saved "
                        "step, on the saved run's length; "
                        "a step or exponential schedule keeps the saved --batch-size; "
                        "the saved --backend, not $XPGRAD_BACKEND, unless --backend is given) "
                        "and save back to it unless --checkpoint is given")
    p.add_argument("--max-steps", type=positive(int), default=None,
                   help="stop after this many optimizer steps of this run (for quick checks; "
                        "--resume does not carry it over)")
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
    p.add_argument("--profile", default=None, metavar="PATH",
                   help="profile the run (xg.profiler): write its Chrome trace to PATH and print "
                        f"the costliest ops on stderr; without --max-steps it stops after "
                        f"{PROFILE_STEPS} steps")
    p.set_defaults(func=cmd_train, parser=p)
    return p


def _reader_gone() -> int:
    """The reader of stdout closed it (``xpgrad train | head``): stop quietly, with the status
    of a Unix tool ended by SIGPIPE; stdout goes to devnull so the exit's flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + int(getattr(signal, "SIGPIPE", 13))




def cmd_train(args, parser) -> int:
    from .checkpoint import CheckpointError
    from .training import TrainingError, prepare

    for flag in ("logdir", "checkpoint", "resume", "data_dir"):   # e.g. --checkpoint "$UNSET"
        if getattr(args, flag) == "":
            fail(f"--{flag.replace('_', '-')} is empty; give a path")
    if args.no_log and args.logdir:
        fail("--no-log and --logdir contradict each other; give one of them")
    if args.no_log and args.overwrite:
        fail("--overwrite replaces the logs in --logdir, which --no-log turns off; give one "
             "of them")
    if args.no_log and args.curves:
        fail("--curves draws curves.png under the log directory, which --no-log turns off; "
             "give one of them")
    if args.quiet and args.progress == "always":
        fail("--quiet and --progress always contradict each other; give one of them")
    if args.quiet:
        args.progress = "never"
    if args.profile is not None:
        problem = check_profile_path(args.profile)
        if problem:
            fail(problem)
        if args.max_steps is None:
            args.max_steps = PROFILE_STEPS

    from .distributed import DistributedError, init as init_distributed, launcher_size
    from .distributed.agreement import run_together
    from .distributed.group import current as current_world

    if args.distributed or launcher_size() > 1:
        try:
            init_distributed(gpu=args.backend == "cupy" or None)
        except (ImportError, DistributedError) as e:   # no mpi4py; another MPI's mpiexec
            fail(e, 1)
        except ValueError as e:                 # a bad XPGRAD_DIST_TIMEOUT, say
            fail(e, 2)
    else:       # one process: its distributed settings are read all the same, as under mpiexec
        from .distributed.stalls import stall_settings

        try:
            stall_settings()
        except ValueError as e:
            fail(e, 2)

    _check_same_command(current_world(), args)
    if args.profile is not None and current_world().size > 1:
        fail_together(current_world(), "--profile profiles one process; run it without "
                                       "mpiexec/srun", 2)

    def note(line):                       # downloads: on stderr, so stdout stays the results
        if not args.quiet and current_world().rank == 0:    # data-parallel: rank 0 alone
            sys.stderr.write(f"xpgrad: {line}\n")
            sys.stderr.flush()

    if args.distributed and launcher_size() <= 1:
        note("--distributed: no launcher (mpiexec, srun) started this process, so it trains "
             "alone; start it with mpiexec -n N xpgrad train (docs/distributed.md)")

    # data-parallel: rank 0 alone reads a checkpoint's settings, and every rank runs those;
    # an error on any rank is raised on every rank (run_together, prepare), reported once
    world = current_world()
    try:
        config = run_together(world, lambda: _config(args) if world.rank == 0 else None,
                              "the reading of the settings")
        plan = prepare(world.bcast_object(config) if world.size > 1 else config, echo=note,
                       background_compile=world.size == 1)
    except BaseException as e:
        _remove_made_dirs(args)
        status = _preparation_status(e) if isinstance(e, Exception) else None
        if status is None:
            raise
        if isinstance(e, MemoryError):        # e.g. --hidden 99999999999: the weights
            where = getattr(e, "failed_rank", 0)
            e = f"{f'[rank {where}] ' if where else ''}not enough memory to set up this run " \
                f"(check --hidden and --batch-size): {e}"
        fail_together(world, e, status)

    def echo(line):
        if not args.quiet or line.startswith(("held-out", "wrote", "interrupted",
                                              "early stopping")):
            print(line, flush=True)

    try:
        result = plan.fit(echo, handle_signals=True) if args.profile is None else \
            run_profiled(args.profile, lambda: plan.fit(echo, handle_signals=True))
    except TrainingError as e:   # every rank raised it at the same step (reduced loss)
        fail_together(world, e, 1)
    except BrokenPipeError as e:
        if getattr(e, "failed_rank", None) is not None:
            fail_together(world, e, 1)
        return _reader_gone()
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
    """Data-parallel: fail (status 2, every rank) unless every rank read its command line and
    was started with the same ``xpgrad train`` settings; rank 0's would otherwise be used on
    all of them without a word (a launch giving each rank its own ``--seed`` or model:
    ``mpiexec -n 1 xpgrad train --seed 1 : -n 1 xpgrad train --seed 2``), and a rank whose
    command line was refused (``--epochs -1`` on one rank) left the others waiting forever."""
    if world.size == 1:
        return
    from .distributed.agreement import raise_together

    try:    # the collective of the ranks that could not read their command line (_report_once)
        raise_together(world, None, "the reading of the command line")
    except Exception as agreed:
        fail_together(world, agreed, _preparation_status(agreed) or 1)
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
