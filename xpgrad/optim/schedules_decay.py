"""Decaying schedules: exponential, step, inverse-time, polynomial and piecewise constant.

Each is a callable of ``step``, the updates applied so far (``optimizer.iterations``): Keras'
``schedule(step)``, and PyTorch's rate after ``step`` calls of ``scheduler.step()`` made once
after each ``optimizer.step()``.

>>> s = PolynomialDecay(1.0, decay_steps=4, end_learning_rate=0.0)
>>> [s(k) for k in range(6)]
[1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
"""
from __future__ import annotations

import bisect
import math

from .._args import flag
from ._checks import hyperparameter, non_negative_int, positive_int
from .schedules_base import Schedule


def _power(base, exponent):
    """``base ** exponent``, inf where it overflows (Python's floats raise OverflowError), so
    that the optimizer's check of the rate names the step (a factor above 1 grows the rate)."""
    try:
        return base ** exponent
    except OverflowError:
        return math.inf


class ExponentialDecay(Schedule):
    """``lr * decay_rate ** (step / decay_steps)`` (integer division when ``staircase``).

    PyTorch: ``ExponentialLR(gamma=decay_rate ** (1 / decay_steps))``; with ``staircase``,
    ``StepLR(decay_steps, decay_rate)``.

    >>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> s(0), s(10), round(s(5), 4)
    (0.1, 0.05, 0.0707)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = hyperparameter("initial_learning_rate",
                                                    initial_learning_rate, low=0.0)
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.decay_rate = hyperparameter("decay_rate", decay_rate, low=0.0, low_open=True)
        self.staircase = flag(staircase, "staircase", "ExponentialDecay")

    def __call__(self, step):
        p = step // self.decay_steps if self.staircase else step / self.decay_steps
        return self.initial_learning_rate * _power(self.decay_rate, p)


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
        return self.initial_learning_rate * _power(self.gamma, step // self.step_size)


class InverseTimeDecay(Schedule):
    """Keras' ``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with
    ``staircase``, ``step // decay_steps`` in place of ``step / decay_steps``. (PyTorch has no
    such scheduler: ``LambdaLR(opt, lambda k: 1 / (1 + decay_rate * k / decay_steps))``.)

    >>> s = InverseTimeDecay(1.0, decay_steps=2, decay_rate=0.5)
    >>> s(0), s(2), s(3), InverseTimeDecay(1.0, 2, 0.5, staircase=True)(3)
    (1.0, 0.6666666666666666, 0.5714285714285714, 0.6666666666666666)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = hyperparameter("initial_learning_rate",
                                                    initial_learning_rate, low=0.0)
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.decay_rate = hyperparameter("decay_rate", decay_rate, low=0.0)
        self.staircase = flag(staircase, "staircase", "InverseTimeDecay")

    def __call__(self, step):
        p = step // self.decay_steps if self.staircase else step / self.decay_steps
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)


class PolynomialDecay(Schedule):
    """Keras' polynomial decay from ``initial_learning_rate`` to ``end_learning_rate`` over
    ``decay_steps``: ``(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power +
    end``, then ``end_learning_rate``. With ``cycle``, the decay restarts from the top with a
    horizon of the first multiple of ``decay_steps`` at or past ``step`` (Keras' formula:
    ``decay_steps * ceil(step / decay_steps)``, one ``decay_steps`` at step 0).

    PyTorch's ``PolynomialLR(total_iters=decay_steps, power=power)`` is
    ``PolynomialDecay(lr, decay_steps, end_learning_rate=0.0, power=power)`` (it decays to 0).

    >>> s = PolynomialDecay(1.0, decay_steps=4, end_learning_rate=0.5, power=2.0)
    >>> [s(k) for k in (0, 2, 4, 9)]
    [1.0, 0.625, 0.5, 0.5]
    >>> c = PolynomialDecay(1.0, decay_steps=4, end_learning_rate=0.0, cycle=True)
    >>> [c(k) for k in (3, 4, 5, 8)]
    [0.25, 0.0, 0.375, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False):
        self.initial_learning_rate = hyperparameter("initial_learning_rate",
                                                    initial_learning_rate, low=0.0)
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.end_learning_rate = hyperparameter("end_learning_rate", end_learning_rate,
                                                low=0.0)
        self.power = hyperparameter("power", power, low=0.0)
        self.cycle = flag(cycle, "cycle", "PolynomialDecay")

    def __call__(self, step):
        horizon = self.decay_steps
        if self.cycle:
            horizon *= max(1, math.ceil(step / self.decay_steps))
        else:
            step = min(step, horizon)
        start, end = self.initial_learning_rate, self.end_learning_rate
        return (start - end) * (1.0 - step / horizon) ** self.power + end


def _numbers(name, seq) -> list:
    try:
        return list(seq)
    except TypeError:
        raise TypeError(f"{name} must be a list of numbers, got {type(seq).__name__} "
                        f"{seq!r}") from None


class PiecewiseConstant(Schedule):
    """Keras' ``PiecewiseConstantDecay``: ``values[0]`` while ``step <= boundaries[0]``,
    ``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after
    ``boundaries[-1]``. ``boundaries`` are strictly increasing step counts (integers >= 0);
    ``values`` has one more entry.

    PyTorch's ``MultiStepLR(milestones, gamma)`` changes the rate *at* each milestone ``m``:
    it is ``PiecewiseConstant([m - 1 for m in milestones], [lr * gamma ** i for i in
    range(len(milestones) + 1)])``.

    >>> s = PiecewiseConstant(boundaries=[2, 5], values=[1.0, 0.5, 0.1])
    >>> [s(k) for k in range(8)]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]
    """

    def __init__(self, boundaries, values):
        boundaries, values = _numbers("boundaries", boundaries), _numbers("values", values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"values must have one entry more than boundaries "
                             f"(len(boundaries) + 1 = {len(boundaries) + 1}), got "
                             f"{len(values)}")
        self.boundaries = [non_negative_int(f"boundaries[{i}]", b)
                           for i, b in enumerate(boundaries)]
        for i in range(1, len(self.boundaries)):
            if self.boundaries[i] <= self.boundaries[i - 1]:
                raise ValueError(f"boundaries must be strictly increasing, got "
                                 f"boundaries[{i - 1}] = {self.boundaries[i - 1]} and "
                                 f"boundaries[{i}] = {self.boundaries[i]}")
        self.values = [hyperparameter(f"values[{i}]", v, low=0.0) for i, v in enumerate(values)]

    def __call__(self, step):
        return self.values[bisect.bisect_left(self.boundaries, step)]
