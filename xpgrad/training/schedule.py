"""The learning-rate schedule of a training run (``--lr-schedule``, ``--warmup-steps``,
``--lr-gamma``, ``--lr-step-size``): its checks, its length (fixed when the run starts, kept by
its resumptions), the ``xg.optim`` schedule it makes, and the words the run prints for it (and
for ``--weight-decay`` and ``--clip-norm``).

The schedule spans the run as first planned: ``schedule_steps = epochs * steps_per_epoch``,
warm-up included, so cosine, linear and onecycle end at the run's last step. step and
exponential count epochs, as PyTorch's ``StepLR`` and ``ExponentialLR`` stepped once an epoch
(torchvision's reference scripts). A resumed run reads the schedule at the optimizer's
``iterations``, so its rates are those of the uninterrupted run.

>>> from xpgrad.training import TrainConfig
>>> cfg = TrainConfig(learning_rate=1.0, lr_schedule="cosine", warmup_steps=2,
...                   schedule_steps=6, steps_per_epoch=3)
>>> s = build_schedule(cfg)
>>> [round(s(k), 3) for k in range(7)]
[0.0, 0.5, 1.0, 0.854, 0.5, 0.146, 0.0]
"""
from __future__ import annotations

from . import ConfigError

#: ``--lr-schedule`` choices: the one-line help of each
SCHEDULES = {
    "constant": "--learning-rate throughout",
    "cosine": "half a cosine from --learning-rate to 0 at the run's last step (PyTorch's "
              "CosineAnnealingLR, Keras' CosineDecay)",
    "linear": "a straight line from --learning-rate to 0 at the run's last step (Hugging "
              "Face's linear schedule, PyTorch's PolynomialLR with power 1)",
    "exponential": "times --lr-gamma every epoch (PyTorch's ExponentialLR stepped per epoch)",
    "step": "times --lr-gamma every --lr-step-size epochs (PyTorch's StepLR)",
    "onecycle": "up from --learning-rate/25 to --learning-rate over the first 30%% of the run, "
                "then down to --learning-rate/25e4, the momentum (beta_1) cycled against it "
                "(PyTorch's OneCycleLR; no --warmup-steps)",
    "plateau": "times --lr-gamma once --monitor has not improved for more than --lr-patience "
               "epochs (PyTorch's ReduceLROnPlateau, Keras'; no --warmup-steps)",
}
#: the schedules each parameter applies to
USES = {"lr_gamma": ("step", "exponential", "plateau"), "lr_step_size": ("step",),
        "lr_patience": ("plateau",)}
DEFAULT_GAMMA = 0.1          # torchvision's --lr-gamma
#: the schedules that end (at ``schedule_steps``) at a rate of their own
ENDING = ("cosine", "linear", "onecycle")
#: the schedules that count epochs (of the run's first ``steps_per_epoch``)
EPOCHS = ("step", "exponential")
#: the settings ``plan_schedule`` fills in
PLANNED = ("schedule_steps", "steps_per_epoch", "lr_gamma", "lr_step_size", "lr_patience")


def _flag(name):
    return f"{name} (--{name.replace('_', '-')})"


def check_schedule(cfg) -> None:
    """ConfigError naming the flag for a schedule setting ``cfg`` cannot run with (the numbers
    themselves are checked by ``TrainConfig.resolved``)."""
    if not isinstance(cfg.lr_schedule, str) or cfg.lr_schedule not in SCHEDULES:
        raise ConfigError(f"unknown {_flag('lr_schedule')} {cfg.lr_schedule!r}; choose one of "
                          f"{', '.join(SCHEDULES)}")
    if cfg.lr_schedule == "onecycle" and cfg.warmup_steps:
        raise ConfigError(f"{_flag('warmup_steps')} {cfg.warmup_steps} does not apply to "
                          f"--lr-schedule onecycle, which climbs by itself over the first 30% "
                          f"of the run; give --warmup-steps 0")
    if cfg.lr_schedule == "plateau":
        if cfg.warmup_steps:
            raise ConfigError(f"{_flag('warmup_steps')} {cfg.warmup_steps} does not apply to "
                              f"--lr-schedule plateau, which sets the rate itself; give "
                              f"--warmup-steps 0")
        if cfg.lr_gamma is not None and not cfg.lr_gamma < 1:
            raise ConfigError(f"{_flag('lr_gamma')} {cfg.lr_gamma:g}: --lr-schedule plateau "
                              f"lowers the rate, its factor must be below 1")
    total = cfg.schedule_steps
    if total is not None and cfg.warmup_steps >= total:
        raise ConfigError(f"{_flag('warmup_steps')} {cfg.warmup_steps} is not shorter than the "
                          f"run's {total} steps (its epochs times {cfg.steps_per_epoch} steps "
                          f"per epoch): the rate would never reach --learning-rate")


def plan_schedule(cfg, n_train, start_epoch=0) -> None:
    """Fill in ``cfg``'s schedule length (a run started before schedules existed: from its
    position, ``start_epoch`` epochs done) and the defaults of the schedule's parameters, in
    place, then check them."""
    per_epoch = -(-n_train // cfg.batch_size)
    if cfg.steps_per_epoch is None:
        cfg.steps_per_epoch = per_epoch
    if cfg.lr_schedule in EPOCHS and cfg.steps_per_epoch != per_epoch:
        raise ConfigError(f"{_flag('batch_size')} {cfg.batch_size} makes {per_epoch} steps per "
                          f"epoch of the {n_train} training examples, but the resumed run made "
                          f"{cfg.steps_per_epoch}: the "
                          f"{cfg.lr_schedule} schedule, which changes the rate at the ends of "
                          f"its epochs, would change it within this run's epochs; keep the "
                          f"saved run's --batch-size, or give --lr-schedule constant")
    if cfg.schedule_steps is None:
        cfg.schedule_steps = (start_epoch + cfg.epochs) * cfg.steps_per_epoch
    if cfg.lr_schedule in USES["lr_gamma"] and cfg.lr_gamma is None:
        cfg.lr_gamma = DEFAULT_GAMMA
    if cfg.lr_schedule in USES["lr_patience"] and cfg.lr_patience is None:
        from .monitor import DEFAULT_PATIENCE

        cfg.lr_patience = DEFAULT_PATIENCE
    if cfg.lr_schedule in USES["lr_step_size"] and cfg.lr_step_size is None:
        cfg.lr_step_size = max(1, cfg.schedule_steps // cfg.steps_per_epoch // 3)
    check_schedule(cfg)


def build_schedule(cfg):
    """The ``xg.optim`` schedule of ``cfg`` (planned: ``plan_schedule``), or the number
    ``cfg.learning_rate`` for a constant rate without warm-up."""
    from ..optim import (CosineDecay, ExponentialDecay, LinearWarmup, OneCycle,
                         PolynomialDecay, StepDecay)

    lr, kind, warmup = cfg.learning_rate, cfg.lr_schedule, cfg.warmup_steps
    decay_steps = cfg.schedule_steps - warmup          # the steps after the warm-up
    if kind in ("constant", "plateau"):     # plateau: ReduceLROnPlateau lowers the number
        schedule = lr
    elif kind == "cosine":
        schedule = CosineDecay(lr, decay_steps)
    elif kind == "linear":
        schedule = PolynomialDecay(lr, decay_steps, end_learning_rate=0.0, power=1.0)
    elif kind == "exponential":
        schedule = ExponentialDecay(lr, cfg.steps_per_epoch, cfg.lr_gamma, staircase=True)
    elif kind == "step":
        schedule = StepDecay(lr, cfg.lr_step_size * cfg.steps_per_epoch, cfg.lr_gamma)
    else:
        schedule = OneCycle(lr, cfg.schedule_steps)
    return LinearWarmup(schedule, warmup) if warmup else schedule


def cycled_momentum(cfg, opt):
    """``set(step)``, which sets ``opt``'s momentum for the update after ``step`` updates as
    PyTorch's ``OneCycleLR(cycle_momentum=True)`` (its default) does, for ``--lr-schedule
    onecycle``: ``beta_1`` (Adam and the others with one), else ``momentum`` (SGD, RMSprop:
    torch cycles plain SGD's too, from 0.95 down to 0.85 and back); None for other schedules
    and for optimizers with neither (Adagrad, Adadelta: there torch's refuses
    ``cycle_momentum=True``, and the run is its ``cycle_momentum=False``).

    >>> import xpgrad as xg
    >>> from xpgrad.training import TrainConfig
    >>> cfg = TrainConfig(learning_rate=1.0, lr_schedule="onecycle", schedule_steps=10)
    >>> opt = xg.optim.Adam(1.0)
    >>> set_momentum = cycled_momentum(cfg, opt)
    >>> set_momentum(0); opt.beta_1
    0.95
    >>> set_momentum(2); round(opt.beta_1, 4)      # the rate's peak: the momentum's low
    0.85
    """
    if cfg.lr_schedule != "onecycle":
        return None
    name = "beta_1" if hasattr(opt, "beta_1") else "momentum" if hasattr(opt, "momentum") \
        else None
    if name is None:
        return None
    momentum = build_schedule(cfg).momentum

    def set_momentum(step):
        setattr(opt, name, momentum(step))
    return set_momentum


def momentum_to_load(cfg, opt) -> None:
    """Before a checkpoint of an ``--lr-schedule onecycle`` run loads into ``opt`` (made with
    its own momentum): the cycled momentum (``cycled_momentum``, set again before each
    update), so that plain SGD, built with momentum 0, expects the velocity the run saved
    (resuming was 'unexpected .../velocity'). Nothing for other schedules or a run whose
    schedule length is not known yet.

    >>> import xpgrad as xg
    >>> from xpgrad.training import TrainConfig
    >>> cfg = TrainConfig(learning_rate=1.0, lr_schedule="onecycle", schedule_steps=10)
    >>> opt = xg.optim.SGD(1.0)
    >>> momentum_to_load(cfg, opt); opt.momentum
    0.95
    """
    if cfg.schedule_steps is None:
        return
    set_momentum = cycled_momentum(cfg, opt)
    if set_momentum is not None:
        set_momentum(0)


def past_the_end(cfg, first_step, steps) -> str | None:
    """A note for a run whose ``steps`` from ``first_step`` go past the end of its ending
    schedule (a finished run trained --epochs more), else None.

    >>> from xpgrad.training import TrainConfig
    >>> cfg = TrainConfig(learning_rate=1.0, lr_schedule="cosine", schedule_steps=10)
    >>> past_the_end(cfg, 8, 2) is None, past_the_end(cfg, 10, 5)[:33]
    (True, 'the cosine schedule ends at step ')
    """
    end = cfg.schedule_steps
    if cfg.lr_schedule not in ENDING or end is None or first_step + steps <= end:
        return None
    final = build_schedule(cfg)(end)
    return (f"the {cfg.lr_schedule} schedule ends at step {end}, the length of the run when it "
            f"started; its steps from there on keep its final rate {final:g} (give "
            f"--lr-schedule constant and a --learning-rate to train on at another rate)")


def describe(cfg) -> str:
    """The schedule in a few words, for the line a run prints as it starts.

    >>> from xpgrad.training import TrainConfig
    >>> describe(TrainConfig(lr_schedule="step", lr_gamma=0.5, lr_step_size=2, warmup_steps=10))
    'step (x0.5 every 2 epochs), 10 warm-up steps'
    """
    kind = cfg.lr_schedule
    words = kind
    if kind == "exponential":
        words = f"exponential (x{cfg.lr_gamma:g} per epoch)"
    elif kind == "step":
        every = "epoch" if cfg.lr_step_size == 1 else f"{cfg.lr_step_size} epochs"
        words = f"step (x{cfg.lr_gamma:g} every {every})"
    elif kind == "plateau":
        words = (f"plateau (x{cfg.lr_gamma:g} after {cfg.lr_patience} epochs without "
                 f"improvement in {cfg.monitor})")
    if cfg.warmup_steps:
        words += f", {cfg.warmup_steps} warm-up steps"
    return words


def update_settings(cfg) -> str:
    """The schedule, weight decay and clipping for the line a run starts with ('' for none).

    >>> from xpgrad.training import TrainConfig
    >>> update_settings(TrainConfig(lr_schedule="cosine", weight_decay=0.01, clip_norm=1.0))
    ' (cosine, weight decay 0.01, clip norm 1)'
    """
    parts = [describe(cfg)] if cfg.lr_schedule != "constant" or cfg.warmup_steps else []
    if cfg.weight_decay:
        parts.append(f"weight decay {cfg.weight_decay:g}")
    if cfg.clip_norm is not None:
        parts.append(f"clip norm {cfg.clip_norm:g}")
    return f" ({', '.join(parts)})" if parts else ""
