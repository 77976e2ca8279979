"""What a training run writes: the checkpoint with the run's position (``_save``), the logs at
its end (``_write_logs``: the event files closed, ``history.json``, ``curves.png``), JSON
written atomically and strictly (``_write_json``, ``_json_safe``), and the stale logs an
``overwrite`` replaces (``_remove``).

>>> _json_safe({"loss": [float("nan"), 1.0], "shape": (2, 3)})
{'loss': [None, 1.0], 'shape': [2, 3]}
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict

import numpy as np

from . import TrainingError
from .config import FLAGS
from .results import continue_history, earlier_history


def _json_safe(value):
    """NaN and infinities as None, tuples as lists: strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _write_json(path, data) -> None:
    """Write JSON atomically (a temporary file renamed onto ``path``)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(_json_safe(data), f, indent=1, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _save(plan, epoch, done_in_epoch, n_train, target_epochs, writes, sums=None) -> None:
    """Save the checkpoint with the run's position (``done_in_epoch`` examples of ``epoch``
    done, ``sums``: their (loss sum, correct, examples) where this call counted all of them),
    refusing non-finite weights (on every rank); rank 0 writes it through ``writes``."""
    from ..checkpoint import save_checkpoint
    from ..checkpoint_generators import random_state
    from ..distributed.group import current

    for name, var in plan.model.named_variables().items():
        if not np.isfinite(var.numpy()).all():
            raise TrainingError(f"variable {name!r} holds NaN or infinite values after step "
                                f"{plan.opt.iterations}; the checkpoint {plan.cfg.checkpoint!r}"
                                f" was not overwritten (lower {FLAGS['learning_rate']})")
    world = current()
    # data-parallel: every rank holds the same weights, and its own generators' states
    ranks = world.allgather(random_state(plan.model)) if world.size > 1 else None
    if world.rank != 0:
        return
    complete = done_in_epoch >= n_train
    meta = {"config": _json_safe(asdict(plan.cfg)),
            "epochs_done": epoch if complete else epoch - 1,
            "examples_in_epoch": 0 if complete else done_in_epoch, "target_epochs": target_epochs,
            "steps": plan.opt.iterations, "run_id": plan.run_id,
            "monitor": _json_safe(plan.monitor.state_dict())}
    if ranks is not None:
        meta["ranks_random"] = ranks
    if not complete and sums is not None and sums[2] == done_in_epoch:
        meta["epoch_sums"] = [float(sums[0]), int(sums[1]), int(sums[2])]
    best = plan.monitor.weights()         # --restore-best: the best epoch's weights
    writes(save_checkpoint, plan.cfg.checkpoint, plan.model, plan.opt, metadata=meta,
           **({"extra": best} if best else {}))


def _remove(paths) -> None:
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def _write_logs(plan, history, writer, plot_history, interrupted) -> dict:
    """Close the event files, write ``history.json`` (after the rows of the run this one
    resumes, where its history is in the same log directory) and (``curves``) ``curves.png``;
    return their paths."""
    from ..report import run_title

    cfg = plan.cfg
    writer.close()
    if not cfg.logdir:
        return {}
    history_path = os.path.join(cfg.logdir, "history.json")
    config = asdict(cfg)
    rows = history.as_dict()
    earlier = earlier_history(cfg.logdir, plan.steps_before, cfg, plan.run_id)
    if earlier is not None:
        rows = continue_history(earlier, rows, counts_earlier=plan.skip_sums is not None)
    if plan.monitor.early_stopping:
        rows["early_stopping"] = plan.monitor.record()
    _write_json(history_path, {"config": config, "run_id": plan.run_id, **rows,
                               "interrupted": interrupted, "steps_done": plan.opt.iterations})
    files = {"events": cfg.logdir}
    if rows["epoch"] and cfg.curves:
        files["curves"] = plot_history(rows, os.path.join(cfg.logdir, "curves.png"),
                                       title=run_title(config))
    files["history"] = history_path
    return files
