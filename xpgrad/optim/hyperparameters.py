"""The hyperparameters of an optimizer: checked whenever one is set, the learning rate as a
number or a schedule, Keras' ``get_config`` / ``from_config``, and the constructor call as its
repr. ``Optimizer`` (``optimizer.py``) is made of this, its checkpoints
(``optimizer_checkpoints.py``) and its updates.

>>> import xpgrad as xg
>>> opt = xg.optim.SGD(0.1, momentum=0.9)
>>> opt.momentum = 0.95                       # checked as the constructor checks it
>>> opt.get_config()["momentum"]
0.95
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._args import listed_names
from ._checks import (CLIP_NAMES, clip_setting, learning_rate_value, non_negative,
                      non_negative_int)
from .schedules import as_schedule

if TYPE_CHECKING:
    from .optimizer import Optimizer


class Hyperparameters:
    """The hyperparameter half of ``Optimizer``, its base class: ``_CHECKS`` maps each
    hyperparameter to the check run when it is set; ``self._schedule`` holds the learning rate.

    >>> import xpgrad as xg
    >>> xg.optim.SGD(0.1).get_config()["weight_decay"]
    0.0
    """

    #: ``{hyperparameter: check(name, value)}``, run whenever one is set (in ``__init__`` and
    #: later: ``opt.momentum = 0.95`` between updates, as a PyTorch user changes
    #: ``param_groups``); subclasses add theirs
    _CHECKS = {"weight_decay": non_negative, "iterations": non_negative_int}

    def __dir__(self):
        return listed_names(self)     # without PyTorch's names, which raise (OTHER_NAMES)

    def __setattr__(self, name, value):
        """Set ``name``, checked as the constructor checks it when it is a hyperparameter
        (plain attributes, not descriptors: reading them stays as fast as any attribute)."""
        check = self._CHECKS.get(name)
        try:
            if check is not None:
                value = check(name, value)
            elif name in CLIP_NAMES:
                value = clip_setting(self, name, value)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{type(self).__name__}: {e}") from None
        object.__setattr__(self, name, value)

    def _as_schedule(self, value):
        """``as_schedule(value)``, its errors naming this optimizer."""
        try:
            return as_schedule(value)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{type(self).__name__}: {e}") from None

    @property
    def learning_rate(self) -> float:
        """The learning rate the next update will use (a schedule's value is checked: a
        non-finite or negative one raises ValueError naming the step). A schedule set mid-run
        is read at ``iterations``, as in Keras (a PyTorch scheduler made mid-run counts from 0):

        >>> import xpgrad as xg
        >>> opt = xg.optim.SGD(0.1)
        >>> opt.iterations = 100                       # as after 100 updates
        >>> opt.learning_rate = xg.optim.LinearWarmup(0.5, warmup_steps=10)
        >>> opt.learning_rate                          # schedule(100): past its warm-up
        0.5
        """
        return learning_rate_value(self._schedule(self.iterations), self.iterations,
                                   self._schedule)

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        """Replace the learning rate (a float or a schedule) from the next update on, as in
        Keras (``opt.learning_rate = 1e-4``; PyTorch: ``param_group["lr"] = 1e-4``). Checked
        like the constructor's argument; the optimizer state is kept."""
        self._schedule = self._as_schedule(value)

    def get_config(self) -> dict:
        """The hyperparameters, as Keras' ``get_config``: ``learning_rate`` (the number, or the
        schedule object), ``weight_decay``, ``global_clipnorm``, ``clipnorm``, ``clipvalue``,
        ``name``, ``iterations`` and the optimizer's own (``momentum``, ``beta_1``, ...).

        >>> import xpgrad as xg
        >>> cfg = xg.optim.SGD(0.1, momentum=0.9).get_config()
        >>> cfg["learning_rate"], cfg["momentum"]
        (0.1, 0.9)
        """
        from .schedules import Constant

        lr = self._schedule
        lr = lr.learning_rate if isinstance(lr, Constant) else lr
        return {"learning_rate": lr,
                **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        """A new optimizer with ``config``'s hyperparameters (Keras' ``from_config``; its
        ``iterations`` is state, not a setting: the new one starts at 0).

        >>> import xpgrad as xg
        >>> xg.optim.SGD.from_config(xg.optim.SGD(0.1, momentum=0.9).get_config()).momentum
        0.9
        """
        return cls(**{k: v for k, v in config.items() if k != "iterations"})

    def __repr__(self):
        """The constructor call: ``SGD(learning_rate=0.1, ...)`` for a number (as given, not
        the ``Constant`` holding it), the schedule's own repr for a schedule."""
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                        if k not in ("name", "iterations"))
        return f"{type(self).__name__}({cfg})"
