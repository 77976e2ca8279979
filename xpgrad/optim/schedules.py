"""Learning-rate schedules: callables of the step (the number of updates applied so far).

An optimizer's ``learning_rate`` is a float or any callable ``step -> float``.

>>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> s(0), s(10), round(s(5), 4)
(0.1, 0.05, 0.0707)
"""
from __future__ import annotations

import math

from .._args import flag
from ._checks import hyperparameter, positive_int, real_number


class Schedule:
    """Base class: ``schedule(step) -> learning rate``."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The same rate at every step.

    >>> Constant(0.01)(1000)
    0.01
    """

    def __init__(self, learning_rate: float):
        self.learning_rate = hyperparameter("learning_rate", learning_rate, low=0.0)

    def __call__(self, step):
        return self.learning_rate


class ExponentialDecay(Schedule):
    """``lr * decay_rate ** (step / decay_steps)`` (integer division when ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = hyperparameter("initial_learning_rate",
                                                    initial_learning_rate, low=0.0)
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.decay_rate = hyperparameter("decay_rate", decay_rate, low=0.0, low_open=True)
        self.staircase = flag(staircase, "staircase", "ExponentialDecay")

    def __call__(self, step):
        p = step // self.decay_steps if self.staircase else step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** p


class StepDecay(Schedule):
    """Multiply by ``gamma`` every ``step_size`` steps (PyTorch's StepLR).

    >>> StepDecay(1.0, step_size=2, gamma=0.1)(5)
    0.010000000000000002
    """

    def __init__(self, initial_learning_rate, step_size, gamma=0.1):
        self.initial_learning_rate = hyperparameter("initial_learning_rate",
                                                    initial_learning_rate, low=0.0)
        self.step_size = positive_int("step_size", step_size)
        self.gamma = hyperparameter("gamma", gamma, low=0.0)

    def __call__(self, step):
        return self.initial_learning_rate * self.gamma ** (step // self.step_size)


class CosineDecay(Schedule):
    """Cosine from ``lr`` down to ``alpha * lr`` over ``decay_steps``, then constant.

    With ``warmup_target`` and ``warmup_steps`` (Keras 3's), the rate first rises linearly
    from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then decays
    from ``warmup_target`` as above (PyTorch: ``LinearLR`` then ``CosineAnnealingLR`` in a
    ``SequentialLR``).

    >>> CosineDecay(1.0, decay_steps=10)(5), CosineDecay(1.0, 10, alpha=0.1)(20)
    (0.5, 0.1)
    >>> warm = CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=4)
    >>> warm(2), warm(4), warm(9)
    (0.5, 1.0, 0.5)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, *, warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = hyperparameter("initial_learning_rate",
                                                    initial_learning_rate, low=0.0)
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.alpha = hyperparameter("alpha", alpha, low=0.0, high=1.0)
        self.warmup_steps = 0 if warmup_steps == 0 else positive_int("warmup_steps",
                                                                     warmup_steps)
        if warmup_target is None and self.warmup_steps:
            raise ValueError(f"warmup_steps={warmup_steps!r} needs warmup_target, the rate "
                             "to warm up to")
        self.warmup_target = (None if warmup_target is None else
                              hyperparameter("warmup_target", warmup_target, low=0.0))

    def __call__(self, step):
        start = self.initial_learning_rate
        if self.warmup_target is not None:
            if step < self.warmup_steps:
                return start + (self.warmup_target - start) * step / self.warmup_steps
            start, step = self.warmup_target, step - self.warmup_steps
        t = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * t))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)


def as_schedule(learning_rate):
    """A callable of the step from a number (checked: finite, >= 0) or a callable (its values
    are checked where the optimizer uses them).

    >>> as_schedule(0.1)(5)
    0.1
    >>> try:
    ...     as_schedule(float("inf"))
    ... except ValueError as e:
    ...     print(e)
    learning_rate must be a finite number >= 0, got inf
    """
    if callable(learning_rate):
        return learning_rate
    try:
        real_number("learning_rate", learning_rate)
    except TypeError:
        raise TypeError(f"learning_rate must be a float or a callable of the step, got "
                        f"{type(learning_rate).__name__} {learning_rate!r}") from None
    return Constant(learning_rate)
