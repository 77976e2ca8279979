"""The settings of an ``xpgrad train`` run (``_config``): its flags on top of a resumed
checkpoint's settings or the defaults, the checks of flags the run's settings would ignore,
and the default log directory (``runs/<timestamp>``, made here, removed again by
``_remove_made_dirs`` when the run fails its checks).

>>> "learning_rate" in _FLAGS and "resume" not in _FLAGS
True
"""
from __future__ import annotations

import datetime
import itertools
import os
import sys

from .cli_types import CLIP_OFF


_FLAGS = ("backend", "model", "optimizer", "epochs", "batch_size", "learning_rate", "seed",
          "hidden", "dataset", "data_dir", "checkpoint", "checkpoint_every", "max_steps",
          "threads", "compile", "lr_schedule", "warmup_steps", "lr_gamma", "lr_step_size",
          "weight_decay", "clip_norm", "validation_split", "monitor", "early_stopping",
          "min_delta", "restore_best", "lr_patience")


def _config(args):
    """The run's TrainConfig: the flags given, on top of the resumed checkpoint's settings
    (--resume, or an existing --checkpoint) or the defaults."""
    from .checkpoint import CheckpointError, checkpoint_metadata
    from .training import TrainConfig, resume_config
    from .training.config import named_errors

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
    clip_off = given.get("clip_norm") == CLIP_OFF
    if clip_off:                    # off: set after the saved settings are read
        del given["clip_norm"]
    source, finish = args.resume, True
    if source is not None and not os.path.exists(source):
        from .training import ConfigError

        raise ConfigError(f"--resume {source!r}: no checkpoint file there (give the "
                          "--checkpoint of an earlier run)")
    if source is None and args.checkpoint and os.path.isfile(args.checkpoint):
        source, finish = args.checkpoint, False          # trains --epochs more
        with named_errors("checkpoint", CheckpointError):
            saved_config = checkpoint_metadata(source).get("config")
        if not isinstance(saved_config, dict):
            source = None                                # an older checkpoint: flags only
    elif source is not None:
        with named_errors("resume", CheckpointError):    # a damaged file, not a checkpoint
            checkpoint_metadata(source)
    if source is not None:
        config = resume_config(source, given, finish=finish)     # checks the saved settings
        saved = checkpoint_metadata(source)["config"].get("backend")
        if "backend" not in given and saved is None:     # an older checkpoint's settings
            config.backend = os.environ.get("XPGRAD_BACKEND") or config.backend
        _note_other_backend(args, given, saved, source)
    else:
        given.setdefault("backend", os.environ.get("XPGRAD_BACKEND") or "numpy")
        config = TrainConfig(**given)
    _check_schedule_parameters(given, config)
    _check_monitor_used(given, config)
    if clip_off:
        config.clip_norm = None
    config.logdir = None
    if not args.no_log:
        config.logdir = args.logdir or _default_logdir(args)
    config.progress = _progress(args.progress)
    config.curves = args.curves
    config.overwrite = args.overwrite
    return config


def _note_other_backend(args, given, saved, source) -> None:
    """One line on stderr when --backend names another backend than the resumed run's: the
    weights carry over, the last bits of what follows may not."""
    if saved is not None and given.get("backend", saved) != saved \
            and not getattr(args, "quiet", False):
        sys.stderr.write(f"xpgrad: note: {source} was trained with --backend {saved}; this "
                         f"run continues it with --backend {given['backend']}\n")
        sys.stderr.flush()


def _check_schedule_parameters(given, config) -> None:
    """ConfigError for a schedule parameter given with a schedule that does not use it (the
    run's schedule: the saved one on --resume unless --lr-schedule is given)."""
    from .training import ConfigError
    from .training.schedule import USES

    for name, kinds in USES.items():
        if name in given and config.lr_schedule not in kinds:
            listed = " or ".join(filter(None, (", ".join(kinds[:-1]), kinds[-1])))
            raise ConfigError(f"--{name.replace('_', '-')} applies to --lr-schedule {listed}, "
                              f"but the schedule is {config.lr_schedule!r}")


def _check_monitor_used(given, config) -> None:
    """ConfigError for --monitor given to a run that watches nothing (no early stopping, no
    plateau schedule, also none in a resumed run's settings): it would change nothing."""
    from .training import ConfigError

    if "monitor" in given and config.early_stopping is None \
            and config.lr_schedule != "plateau":
        raise ConfigError(f"--monitor {given['monitor']} chooses what --early-stopping and "
                          "--lr-schedule plateau watch, but this run has neither: give one of "
                          "them too, or leave --monitor out")


def _timestamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def _default_logdir(args) -> str:
    """``runs/<timestamp>``, made here so that runs started in the same second (a shell loop
    over seeds) never share one: the next gets ``runs/<timestamp>-2``, and so on. What it made
    is noted in ``args.made_dirs`` for ``_remove_made_dirs``; where it cannot make them, the
    path is returned all the same, for the checks of the run to say why."""
    base = os.path.join("runs", _timestamp())
    args.made_dirs = [] if os.path.isdir("runs") else ["runs"]
    try:
        os.makedirs("runs", exist_ok=True)
    except OSError:
        args.made_dirs = []
        return base
    for n in itertools.count(1):
        path = base if n == 1 else f"{base}-{n}"
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        except OSError:
            return path
        args.made_dirs.insert(0, path)
        return path


def _remove_made_dirs(args) -> None:
    """Remove the default log directory (and ``runs``) made for a run that then failed its
    checks, where they are still empty."""
    for path in getattr(args, "made_dirs", ()):
        try:
            os.rmdir(path)
        except OSError:
            return


def _progress(choice) -> bool:
    """``--progress``: always, never, or auto (stderr is a terminal and tqdm is installed)."""
    from .report import available

    if choice == "auto":
        return sys.stderr.isatty() and available("tqdm")
    return choice == "always"

