"""Before training, everything a user can get wrong: ``prepare`` checks the settings, the
output paths, the optional packages, the data set and the checkpoint, and builds the run (a
``Plan``) without training a step.

>>> import os, tempfile
>>> check_logdir(os.path.join(tempfile.mkdtemp(), "logs")).endswith("logs")
True
"""
from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass

from ..data import IDX_DATASETS, DataError, load_dataset
from ..models import MODELS, OPTIMIZERS
from . import ConfigError
from .config import (FLAGS, IDENTITY, TrainConfig, _name, named_errors as _named,
                     resume_config, run_metadata)
from .memory_check import check_fits_memory
from .results import TrainResult, history_run_id, logs_found
from .schedule import build_schedule, momentum_to_load, plan_schedule


# -- before training: everything a user can get wrong ------------------------------------------
def check_logdir(logdir) -> str:
    """Make ``logdir`` (and its parents) if needed and check it takes files; ConfigError
    naming it otherwise.

    >>> import os, tempfile
    >>> d = check_logdir(os.path.join(tempfile.mkdtemp(), "runs", "a"))
    >>> os.path.isdir(d)
    True
    """
    logdir = os.fspath(logdir)
    _check_logdir_path(logdir)
    try:
        os.makedirs(logdir, exist_ok=True)
        probe = os.path.join(logdir, f".xpgrad-probe-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(f"{_name('logdir')} {logdir!r} cannot be used: "
                          f"{e.strerror or e}") from None
    return logdir


def _check_logdir_path(logdir) -> None:
    """ConfigError when ``logdir`` is a file, or a symbolic link to nothing (which
    ``os.makedirs`` refuses with a bare "File exists")."""
    if os.path.exists(logdir) and not os.path.isdir(logdir):
        raise ConfigError(f"{_name('logdir')} {logdir!r} is a file, not a directory")
    if os.path.islink(logdir) and not os.path.exists(logdir):
        raise ConfigError(f"{_name('logdir')} {logdir!r} is a symbolic link to "
                          f"{os.readlink(logdir)!r}, which does not exist: make that "
                          f"directory, or give another {_name('logdir')}")


def check_logdir_free(logdir, run_id, resumed=None) -> None:
    """ConfigError unless ``logdir`` holds no other run's logs: a fresh run (``resumed`` None)
    takes a directory without ``history.json`` or event files (TensorBoard draws the event
    files of one directory as one run); a run resumed from the checkpoint ``resumed`` also
    that of the run ``run_id`` it continues (its ``history.json`` records that id), or one
    with event files alone.

    >>> import tempfile
    >>> check_logdir_free(tempfile.mkdtemp(), "a1")
    """
    found = logs_found(logdir)
    has_history = "history.json" in found
    if not found or resumed and (not has_history or history_run_id(logdir) == run_id):
        return
    events = len(found) - has_history
    what = " and ".join(part for part in (
        "history.json" if has_history else "",
        f"{events} event file{'s' if events != 1 else ''}" if events else "") if part)
    where = f"{_name('logdir')} {logdir!r}"
    if resumed:
        raise ConfigError(f"{where} holds the logs ({what}) of another run than the one "
                          f"{resumed!r} continues, which this run would extend as its own: "
                          f"give the --logdir of that checkpoint's run, or a new one (or "
                          f"{FLAGS['overwrite']} to replace those logs)")
    raise ConfigError(f"{where} already holds a run's logs ({what}), which TensorBoard and "
                      f"history.json would mix with this run's: give a new --logdir, "
                      f"{FLAGS['overwrite']} to replace those files, or --resume that run's "
                      f"checkpoint to continue it")


@dataclass
class Plan:
    cfg: TrainConfig
    raw: object
    ds: object
    model: object
    opt: object
    be: object
    start_epoch: int = 0        # whole epochs done before this call
    skip: int = 0               # examples of epoch start_epoch + 1 done before this call
    #: (loss sum, correct predictions, examples) of those ``skip`` examples, from the
    #: checkpoint; None where it predates them (the epoch's line then covers this call's part)
    skip_sums: tuple | None = (0.0, 0, 0)
    steps_before: int = 0       # optimizer steps done before this call (set as it starts)
    run_id: str | None = None   # one run's id, kept by its resumptions (None: an older one's)
    stale_logs: tuple = ()      # another run's logs in logdir, removed as training starts
    background_compile: bool = False    # kernels missing from the cache: see ``prepare``
    note: object = None         # gets notes on the run's machinery (stderr in ``xpgrad train``)
    val: tuple | None = None    # the validation set (x, y), held out of the training set
    monitor: object = None      # early stopping and the plateau schedule (training/monitor.py)
    #: where the run's global seed (``xg.random.seed(cfg.seed)``) is: the model was built, and
    #: ``fit`` goes on, from there, so generators made without a seed repeat run after run
    seed_state: dict | None = None
    #: data-parallel: each rank's random state (``checkpoint_generators.random_state``) as the
    #: checkpoint resumed saved it, or None
    ranks_random: list | None = None

    def fit(self, echo=print, handle_signals=False) -> "TrainResult":
        """Train as planned (see ``train``)."""
        import contextlib

        from ..batch_passes import start_afresh
        from ..random_seed import global_seed_at
        from ..threads import limit
        from .loop import _fit

        start_afresh()      # an earlier run in this process that failed midway does not count

        background = getattr(self.be, "compiling_in_background", None)
        kernels = background() if self.background_compile and background \
            else contextlib.nullcontext()
        with limit(self.cfg.threads), kernels as compiler, \
                global_seed_at(self.seed_state) as left:
            result = _fit(self, echo, handle_signals)
        self.seed_state = left["state"]
        summary = getattr(compiler, "summary", lambda: None)()
        if summary and self.note is not None:
            self.note(summary)
        return result


def prepare(config: TrainConfig, echo=None, *, background_compile=False) -> Plan:
    """Check everything and build the run: settings, output paths, optional packages, data
    (MNIST and Fashion-MNIST are downloaded on first use; ``echo`` gets a line per file),
    model, optimizer and (when resuming) the checkpoint's state. Raises ConfigError,
    CheckpointError, DataError (DownloadError), UnknownBackendError, BackendUnavailableError
    or ImportError. Nothing is imported for the logs here: matplotlib only at the end of the
    run, and only for ``curves.png`` (``curves=True``). With ``background_compile``, a backend that compiles kernels
    (numba) compiles those the run needs and the disk cache lacks in a background process,
    the NumPy kernels standing in until each is ready, instead of stopping the run to compile.
    On several ranks (``xg.distributed.init()``), rank 0 downloads a data set while the other
    ranks wait, then the first rank of each other machine, then the rest (who find the files),
    and an error on any rank is raised on every rank (``failed_rank`` names where it arose).

    >>> try:
    ...     prepare(TrainConfig(checkpoint="/no/such/dir/c.npz", progress=False))
    ... except ValueError as e:
    ...     print(type(e).__name__, str(e).split(": the")[0])
    CheckpointError checkpoint (--checkpoint): cannot save a checkpoint to '/no/such/dir/c.npz'
    """
    from ..distributed.agreement import leader_first, run_together
    from ..distributed.group import current

    # data-parallel: every rank checks, then reads the data, then builds; a failure on any rank
    # ends every rank after that stage with the same error (a rank that failed alone would
    # leave the others waiting in a collective)
    w = current()
    root = w.rank == 0      # rank 0 alone reads and writes checkpoints
    cfg, source, meta, be, run_id, stale = run_together(
        w, lambda: _checked(config, echo, background_compile, root), "the checks of the run")

    def load():
        # a bar from rank 0; a missing or unreadable --data-dir named
        with _named("data_dir", DataError) if cfg.data_dir is not None else nullcontext():
            return load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed,
                                progress=cfg.progress and root, echo=echo)

    if cfg.dataset in IDX_DATASETS and cfg.data_dir is None:    # downloaded on first use
        raw = leader_first(w, load, "the download of the data set")
    else:
        raw = run_together(w, load, "the reading of the data set")
    if w.size > 1:      # each rank indexes its share of every batch into its own copy
        from ..distributed.agreement import check_same

        check_same(w, "data set", _fingerprint(raw), "every rank must read the same data: "
                   "compare the files of the data directory (--data-dir, XPGRAD_DATA_DIR) "
                   "on each machine")
    plan = run_together(w, lambda: _built(cfg, raw, be, source, meta, background_compile, echo,
                                          root), "the building of the model")
    plan.run_id = run_id
    plan.stale_logs = stale
    return plan


def _fingerprint(raw):
    """One line per array of the data set ``raw``: its shape, dtype and a hash of its bytes.

    >>> import numpy as np
    >>> from ..data.dataset import Dataset
    >>> ds = Dataset("toy", np.zeros((4, 2), np.float32), np.arange(4), np.zeros((2, 2)),
    ...              np.arange(2), (1, 2), 4)
    >>> before = _fingerprint(ds)
    >>> ds.y_train[1] = 3
    >>> [line == then for line, then in zip(_fingerprint(ds), before)]
    [True, False, True, True]
    """
    import hashlib

    import numpy as np

    return [f"{name}: shape {a.shape} {a.dtype} hash "
            f"{hashlib.blake2b(np.ascontiguousarray(a).data, digest_size=8).hexdigest()}"
            for name in ("x_train", "y_train", "x_test", "y_test")
            for a in [getattr(raw, name)]]


def _checked(config, echo, background_compile, root):
    """The resolved configuration, the checkpoint to resume (None on ranks other than the
    ``root``), its metadata, the backend and the run's id (the checkpoint's when resuming,
    else a new one), once every setting and path is checked."""
    import uuid

    import xpgrad as xg
    from ..checkpoint import CheckpointError, check_writable
    from ..report import require

    cfg = config.resolved()
    if cfg.checkpoint and root:
        with _named("checkpoint", CheckpointError):
            check_writable(cfg.checkpoint)
    if cfg.logdir and root:         # rank 0 alone writes the logs
        _check_logdir_path(cfg.logdir)
        if cfg.curves:
            # imported now, not only found: a broken install fails here, not after training
            for module in ("matplotlib", "matplotlib.backends.backend_agg"):
                require(module, "plotting the learning curves (--curves)")
    if cfg.progress:
        require("tqdm", "the progress bar", load=False)
    source = cfg.resume or (cfg.checkpoint if cfg.checkpoint and os.path.exists(cfg.checkpoint)
                            else None)
    if not root:                    # rank 0's state and position are broadcast (xpgrad train)
        source = None
    meta = {}
    if source:
        with _named("resume" if cfg.resume else "checkpoint", CheckpointError):
            meta = run_metadata(source)
        saved = meta.get("config")
        if isinstance(saved, dict):
            resume_config(source, {k: getattr(cfg, k) for k in IDENTITY}, finish=False)
    run_id = meta.get("run_id") if source else uuid.uuid4().hex
    stale = ()
    if cfg.logdir and root and os.path.isdir(cfg.logdir):
        try:
            check_logdir_free(cfg.logdir, run_id, resumed=source)
        except ConfigError:
            if not cfg.overwrite:
                raise
            stale = replaced_logs(cfg.logdir)
    be = xg.get_backend(cfg.backend)
    _check_products(be)
    cached = getattr(be, "kernels_cached", None)
    if echo is not None and cached is not None and not background_compile \
            and not cached(("float32",)):
        echo(f"the {be.name} backend compiles its kernels on first use, which takes a while "
             f"once per machine; `xpgrad warmup --backend {be.name}` compiles them all ahead of "
             f"time, in parallel")
    return cfg, source, meta, be, run_id, stale


def replaced_logs(logdir) -> tuple:
    """The paths ``overwrite`` removes from ``logdir`` before a run writes there: another
    run's ``history.json``, event files and ``curves.png`` (nothing else in it).

    >>> import tempfile
    >>> replaced_logs(tempfile.mkdtemp())
    ()
    """
    names = logs_found(logdir)
    if os.path.isfile(os.path.join(logdir, "curves.png")):
        names.append("curves.png")
    return tuple(os.path.join(logdir, name) for name in names)


def _check_products(be):
    """``XPGRAD_BLAS`` checked, and MKL loaded where a host backend's products will use it."""
    from ..backends import blas
    from ..backends.numpy import NumpyBackend

    try:
        blas.choice()
        if isinstance(be, NumpyBackend):           # the numba backend's too
            blas.describe()
    except (ValueError, RuntimeError) as e:
        raise ConfigError(str(e)) from None


def _set_hyperparameters(opt, cfg) -> None:
    """The run's schedule, weight decay and clipping on ``opt`` (after a checkpoint's state:
    the schedule is read at its ``iterations``). Clipping is the optimizer's
    ``global_clipnorm``: it acts in ``apply_gradients``, on the gradients as applied -- after
    the allreduce on several ranks, and outside the traced step with ``compile``."""
    opt.learning_rate = build_schedule(cfg)
    if cfg.weight_decay is not None:
        opt.weight_decay = cfg.weight_decay
    if cfg.clip_norm is not None:
        opt.global_clipnorm = cfg.clip_norm


def _check_rates(opt, cfg, model, start_epoch) -> None:
    """ConfigError before training when the run's rate would not fit the model's variables
    (above float32's range; the optimizer refuses it at the step that uses it, mid-run):
    --learning-rate itself, or where a step or exponential schedule with --lr-gamma above 1
    grows it to by the run's last step."""
    from ..optim._checks import learning_rate_fits, learning_rate_value
    from .schedule import EPOCHS

    try:
        learning_rate_fits(cfg.learning_rate, model.trainable_variables)
    except ValueError as e:
        raise ConfigError(f"{_name('learning_rate')} {cfg.learning_rate:g} is too large: "
                          f"{e}") from None
    if cfg.lr_schedule not in EPOCHS or cfg.lr_gamma <= 1:
        return
    last = max(cfg.schedule_steps, (start_epoch + cfg.epochs) * cfg.steps_per_epoch) - 1
    schedule = opt._schedule
    try:
        learning_rate_fits(learning_rate_value(schedule(last), last, schedule),
                           model.trainable_variables)
    except ValueError as e:
        raise ConfigError(f"{_name('lr_gamma')} {cfg.lr_gamma:g} grows {_name('learning_rate')}"
                          f" {cfg.learning_rate:g} too far by the run's last step: {e}") from None


def _built(cfg, raw, be, source, meta, background_compile, echo, root=True) -> Plan:
    """The run's Plan: model and optimizer (with the checkpoint's state and position when
    resuming from ``source``), once the log directory is made."""
    import xpgrad as xg
    from ..checkpoint import checkpoint_extra, load_checkpoint
    from ..random_seed import global_seed_at
    from .monitor import Monitor, held_out

    ds, val = held_out(raw, cfg)
    check_fits_memory(cfg, ds)
    with global_seed_at({"entropy": cfg.seed, "spawn_key": [], "children": 0}) as seed_left:
        model = MODELS[cfg.model].build(ds, list(cfg.hidden),
                                        xg.random.default_rng(cfg.seed, backend=be), be)
    opt = OPTIMIZERS[cfg.optimizer].build(cfg.learning_rate)
    plan = Plan(cfg, raw, ds, model, opt, be, background_compile=background_compile,
                note=echo, val=val, seed_state=seed_left["state"])
    if source:      # its rate is replaced by the run's, below; its generators go on
        momentum_to_load(cfg, opt)      # onecycle: SGD's velocity is in the checkpoint
        with global_seed_at(plan.seed_state) as loaded:
            load_checkpoint(source, model, opt)
        plan.seed_state = loaded["state"]
        plan.ranks_random = meta.get("ranks_random")
        if isinstance(meta.get("epochs_done"), int):
            plan.start_epoch = meta["epochs_done"]
            plan.skip = min(int(meta.get("examples_in_epoch") or 0), len(ds.x_train))
            sums = meta.get("epoch_sums")
            if plan.skip:
                plan.skip_sums = tuple(sums) if sums and sums[2] == plan.skip else None
        else:   # a checkpoint without position: whole epochs follow from the step count
            steps_per_epoch = -(-len(ds.x_train) // cfg.batch_size)
            plan.start_epoch = -(-opt.iterations // steps_per_epoch)
    plan_schedule(cfg, len(ds.x_train), plan.start_epoch)
    _set_hyperparameters(opt, cfg)
    plan.monitor = Monitor(cfg, opt, model)
    if source and "monitor" in meta:            # a new --learning-rate replaces a lowered one
        saved_rate = (meta.get("config") or {}).get("learning_rate")
        plan.monitor.load(meta["monitor"], checkpoint_extra(source),
                          rate_given=saved_rate != cfg.learning_rate)
    _check_rates(opt, cfg, model, plan.start_epoch)
    if cfg.logdir and root:         # last: nothing is made when another check fails
        check_logdir(cfg.logdir)
    return plan
