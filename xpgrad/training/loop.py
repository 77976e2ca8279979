"""The training loop (``train``): minibatches in a seeded order, a NaN or infinite loss stopped
before its update (``TrainingError``), checkpoints every ``checkpoint_every`` steps and at the
end, SIGINT/SIGTERM turned into a clean stop, and the logs (event files, ``history.json``,
``curves.png`` with ``curves``). What a run writes is in ``run_files.py``, the signal handling
in ``stop_signals.py``.

>>> from xpgrad.training import TrainConfig
>>> train(TrainConfig(epochs=1, hidden=(4,), max_steps=2, progress=False), echo=None).steps
2
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, replace

import numpy as np

from . import TrainingError
from .compiled_step import replayed_after_tracing
from .config import FLAGS, TrainConfig
from .held import _Held
from .plan import Plan, prepare
from .results import History, TrainResult, evaluate, metric
from .run_files import _remove, _save, _write_logs
from .schedule import cycled_momentum, past_the_end, update_settings
from .stop_signals import _Stopper


def _progress(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    from ..report import require

    tqdm = require("tqdm", "the progress bar").tqdm
    return tqdm(iterable, total=total, desc=desc, leave=False, unit="batch", dynamic_ncols=True,
                file=sys.stderr)


# -- the loop ----------------------------------------------------------------------------------
def train(config: TrainConfig, echo=print, *, handle_signals=False) -> TrainResult:
    """Train ``config.model`` on ``config.dataset``; returns history, model and test accuracy.

    ``echo`` receives one line per epoch and a summary (None: silent). Writes TensorBoard event
    files (a ``loss/train_step`` scalar per step, the other scalars per epoch) and
    ``history.json`` under ``config.logdir`` when it is set (and ``curves.png`` with
    ``config.curves``), and the checkpoint (resuming from it if it exists). BLAS and Numba use
    ``config.threads`` threads while it trains. Everything is checked first (``prepare``); a
    ``logdir`` holding another run's logs is a ConfigError, unless this run resumes that one or
    ``config.overwrite`` is set (those logs are then removed as training starts).
    With ``handle_signals`` (main thread), SIGINT/SIGTERM stop the run after the current step,
    with everything saved, and ``result.interrupted`` names the signal.
    """
    return prepare(config, echo).fit(echo, handle_signals)


def _fit(plan: Plan, echo, handle_signals) -> TrainResult:
    import xpgrad as xg
    from ..distributed.training import data_parallel
    from ..report import RunWriter, plot_history

    dp = data_parallel()                # None on one process (see xpgrad.distributed.training)
    if dp is not None and not dp.root:  # only rank 0 prints, logs and saves
        plan.cfg = replace(plan.cfg, logdir=None, progress=False)
        echo = None
    cfg, ds, raw, model, opt, be = plan.cfg, plan.ds, plan.raw, plan.model, plan.opt, plan.be
    say = echo or (lambda *a, **k: None)
    if dp is not None:
        dp.start(plan)
        plan.monitor.share(dp.world)
    variables = model.trainable_variables
    plan.steps_before = opt.iterations
    start_epoch, skip = plan.start_epoch, plan.skip
    target = start_epoch + cfg.epochs
    if start_epoch or skip or opt.iterations:
        where = f" and {skip} examples of epoch {start_epoch + 1}" if skip else ""
        say(f"resumed from {cfg.resume or cfg.checkpoint}: {opt.iterations} steps done "
            f"({start_epoch} epoch{'' if start_epoch == 1 else 's'}{where})")
    per_epoch = -(-len(ds.x_train) // cfg.batch_size)
    # this call's steps: the rest of the interrupted epoch (``skip`` examples done), then whole
    planned = -(-(len(ds.x_train) - skip) // cfg.batch_size) + (cfg.epochs - 1) * per_epoch
    note = past_the_end(cfg, opt.iterations, min(planned, cfg.max_steps or planned))
    if note:
        say(note)

    held = _Held(dp)
    if cfg.logdir and plan.stale_logs:      # overwrite: checked in prepare, removed only now
        held(_remove, plan.stale_logs)
        say(f"replaced the logs of another run in {cfg.logdir} ({len(plan.stale_logs)} "
            f"file{'s' if len(plan.stale_logs) != 1 else ''})")
    writer = held(RunWriter, cfg.logdir) or RunWriter(None)
    held(writer.text, "config", "\n".join(f"    {k}: {v}" for k, v in asdict(cfg).items()))
    held(writer.images, "inputs/train_samples", raw.x_train[:64], ds.image_shape)
    say(f"{ds!r}; model {cfg.model} {[ds.n_features, *cfg.hidden, ds.n_classes]}; "
        f"{cfg.optimizer} lr={cfg.learning_rate:g}{update_settings(cfg)}; backend {be.name}")

    def forward_backward(xb, yb):
        with xg.GradientTape() as tape:
            logits = model(xb)
            loss = xg.losses.softmax_cross_entropy(logits, yb)
        return logits, loss, tape.gradient(loss, variables)

    if cfg.compile:     # traced once per batch shape, replayed (xg.function); on several
        forward_backward = replayed_after_tracing(        # ranks, reduced after the replay
            xg.function(forward_backward), model)

    def forward(mine):
        """This rank's share ``mine`` of the step: (loss, correct predictions, the loss
        Tensor, the gradients (--compile, one process) or None, the tape or None)."""
        idx_t = xg.asarray(mine, backend=be)
        xb, yb = x_train[idx_t], y_train[idx_t]
        tape = grads = None
        if not len(mine):          # several ranks: an empty share, nothing to contribute
            with xg.GradientTape() as tape:     # (it joins the reduction all the same)
                pass
            return 0.0, 0, None, [None] * len(variables), tape
        # overflow shows as a non-finite loss, reported by the loop: no warnings per step
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if dp is None or cfg.compile:
                logits, loss, grads = forward_backward(xb, yb)
            else:
                with xg.GradientTape() as tape:
                    logits = model(xb)
                    loss = xg.losses.softmax_cross_entropy(logits, yb)
        hits = int((np.argmax(logits.numpy(), axis=1) == ds.y_train[mine]).sum())
        return metric(loss), hits, loss, grads, tape

    history = History()
    monitor = plan.monitor
    set_momentum = cycled_momentum(cfg, opt)
    n_train = len(ds.x_train)
    order_rng = np.random.default_rng(cfg.seed)
    for _ in range(start_epoch):                 # resume: keep the data order a fresh run had
        order_rng.permutation(n_train)
    x_train = xg.asarray(ds.x_train, backend=be)
    y_train = xg.asarray(ds.y_train, backend=be)
    steps, t_start = 0, time.perf_counter()
    stopper = _Stopper(handle_signals)
    agreed = None     # several ranks: the stop request as reduced with the last step's metrics

    def stop():       # ranks stop after the same step, whenever a signal reached each
        return stopper.signum if dp is None else agreed
    epoch, done_in_epoch = start_epoch, 0
    loss_sum, correct, seen = 0.0, 0, 0
    try:
        for epoch in range(start_epoch + 1, target + 1):
            t_epoch = time.perf_counter()
            order = order_rng.permutation(n_train)
            first = skip if epoch == start_epoch + 1 else 0
            idx_batches = [order[i:i + cfg.batch_size]
                           for i in range(first, n_train, cfg.batch_size)]
            loss_sum, correct, seen, done_in_epoch = 0.0, 0, 0, first
            earlier_part = first and plan.skip_sums is not None
            if earlier_part:    # the epoch's line and row count the part done before resuming
                loss_sum, correct, seen = plan.skip_sums
            bar = _progress(idx_batches, len(idx_batches), f"epoch {epoch}/{target}",
                            cfg.progress)
            for idx in bar:
                mine = idx if dp is None else dp.share(idx)
                # None: this rank failed (held), and tells the others with the metrics
                done = held(forward, mine) or (0.0, 0, None, None, None)
                loss_value, hits, loss, grads, tape = done
                if dp is not None:
                    loss_value, hits, agreed, failed = dp.metrics(
                        loss_value, len(mine) if held.error is None else 0, hits,
                        stopper.signum, held.error is not None)
                    held.agree(failed)
                if not math.isfinite(loss_value):
                    history.step_loss.append(loss_value)
                    raise TrainingError(
                        f"the training loss became {loss_value} at step {opt.iterations + 1} "
                        f"(epoch {epoch}); stopped before applying that update. Lower "
                        f"{FLAGS['learning_rate']} (now {cfg.learning_rate:g})"
                        + (f"; the checkpoint {cfg.checkpoint!r} holds the last saved step"
                           if cfg.checkpoint and os.path.exists(cfg.checkpoint) else ""))
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    if dp is not None and cfg.compile:
                        grads = dp.reduce(grads, variables, len(mine))
                    elif dp is not None:    # a failure in one rank's backward: raised on all
                        grads = held(dp.gradient, tape, loss, variables, len(mine))
                    if set_momentum is not None:     # onecycle: torch's cycled momentum
                        set_momentum(opt.iterations)
                    held(lambda: opt.apply_gradients(zip(grads, variables)))
                history.step_loss.append(loss_value)
                held(writer.scalars, {"loss/train_step": loss_value}, opt.iterations)
                loss_sum += loss_value * len(idx)
                monitor.add(loss_value * len(idx), hits, len(idx))
                correct += hits
                seen += len(idx)
                done_in_epoch += len(idx)
                steps += 1
                if cfg.progress:
                    bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
                if cfg.checkpoint_every and opt.iterations % cfg.checkpoint_every == 0:
                    _save(plan, epoch, done_in_epoch, n_train, target, held,
                          (loss_sum, correct, seen))
                if stop() is not None or (cfg.max_steps is not None
                                          and steps >= cfg.max_steps):
                    break
            early_stop = False
            if done_in_epoch > first:         # this call trained some of the epoch
                test_loss, test_acc = _evaluated(dp, held, model, ds.x_test, ds.y_test, be)
                val_loss, val_acc = None, None
                if plan.val is not None:
                    val_loss, val_acc = _evaluated(dp, held, model, *plan.val, be)
                row = dict(epoch=epoch, train_loss=loss_sum / seen,
                           train_accuracy=correct / seen, val_loss=val_loss,
                           val_accuracy=val_acc, test_loss=test_loss, test_accuracy=test_acc)
                # a whole epoch steps early stopping and the plateau (every rank alike: the
                # values are reduced over the ranks), before the rate is read for the row
                early_stop = done_in_epoch >= n_train and monitor.epoch_end(row, epoch)
                lr = opt.learning_rate
                row.update(learning_rate=lr, seconds=time.perf_counter() - t_epoch,
                           train_examples=seen)
                for key, value in row.items():
                    getattr(history, key).append(value)
                scalars = {"loss/train": row["train_loss"], "loss/test": test_loss,
                           "accuracy/train": row["train_accuracy"], "accuracy/test": test_acc,
                           "learning_rate": lr}
                if val_loss is not None:
                    scalars.update({"loss/val": val_loss, "accuracy/val": val_acc})
                held(writer.scalars, scalars, epoch)
                held(writer.flush)
                partial = "" if done_in_epoch >= n_train else \
                    f"  (partial: {done_in_epoch}/{n_train} examples)"
                if first and not earlier_part:  # its loss and accuracy: this run's part only
                    partial = f"  (partial: examples {first + 1}-{done_in_epoch} of {n_train}," \
                              f" after resuming from a checkpoint without the sums of examples" \
                              f" 1-{first})"
                val = "" if val_loss is None else \
                    f"val loss {val_loss:.4f}  val acc {val_acc:6.2%}  "
                say(f"epoch {epoch:3d}  loss {row['train_loss']:.4f}  "
                    f"acc {row['train_accuracy']:6.2%}  {val}test loss {test_loss:.4f}  "
                    f"test acc {test_acc:6.2%}  ({row['seconds']:.2f} s){partial}")
            if early_stop or stop() is not None or (cfg.max_steps is not None
                                                    and steps >= cfg.max_steps):
                break
    except TrainingError as e:
        held.raise_after_logs(e, plan, history, writer, plot_history, None)
    finally:
        stopper.restore()
        if dp is not None:
            stopper.signum = agreed
    seconds = time.perf_counter() - t_start
    # the run's end (its last epoch done, or stopped early), where --restore-best acts; not
    # where --max-steps or a signal cut it short: its resumption ends it
    finished = monitor.stopped_epoch is not None or (epoch == target
                                                     and done_in_epoch >= n_train)
    planned_target = target
    if finished:
        target = epoch              # a run stopped early is finished: --resume says so
    kept = monitor.restore() if finished else False   # Keras 3: at the end of the run

    if cfg.checkpoint:              # the most valuable file first
        try:
            _save(plan, epoch, done_in_epoch, n_train, target, held, (loss_sum, correct, seen))
        except TrainingError as e:
            held.raise_after_logs(e, plan, history, writer, plot_history, stopper.name)
    files = held(_write_logs, plan, history, writer, plot_history, stopper.name)
    held.agree()
    if cfg.checkpoint:
        files["checkpoint"] = cfg.checkpoint

    test_acc = history.test_accuracy[-1] if history.test_accuracy else float("nan")
    if kept:                        # the held-out accuracy of the weights kept
        test_acc = _evaluated(dp, held, model, ds.x_test, ds.y_test, be)[1]
    if finished and monitor.summary(epoch, planned_target):
        say(monitor.summary(epoch, planned_target))
    if stopper.name:
        say(f"interrupted by {stopper.name} at step {opt.iterations} (epoch {epoch}); "
            + (f"resume with: xpgrad train --resume {cfg.checkpoint}" if cfg.checkpoint
               else "no --checkpoint was given, so the weights were not saved"))
    say(f"held-out accuracy {test_acc:.2%} on {len(ds.x_test)} {ds.name} test images "
        + (f"with the weights of epoch {monitor.best_epoch} " if kept else "")
        + f"after {opt.iterations} step{'' if opt.iterations == 1 else 's'}"
        + (f" ({steps} in this run)" if plan.steps_before else "") + f" in {seconds:.1f} s")
    for what, path in files.items():
        say(f"wrote {what}: {path}")
    return TrainResult(cfg, history, model, opt, test_acc, seconds, steps, start_epoch, files,
                       stopper.name, monitor.stopped_epoch, monitor.best_epoch)


def _evaluated(dp, held, model, x, y, be):
    """(mean loss, accuracy) of ``model`` on ``x``, ``y``: over every rank's share, the same
    on each, when data-parallel."""
    if dp is None:
        return evaluate(model, x, y, be)
    loss, accuracy, failed = dp.evaluate(model, x, y, be, held)
    held.agree(failed)
    return loss, accuracy
