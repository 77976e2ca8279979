"""The schedule base class, ``Constant`` and ``as_schedule`` (what an optimizer does with its
``learning_rate`` argument); the schedules themselves are listed in ``xg.optim.schedules``.

>>> as_schedule(0.1)
Constant(learning_rate=0.1)
"""
from __future__ import annotations

from ._checks import hyperparameter, real_number


class Schedule:
    """Base class: ``schedule(step) -> learning rate``, ``step`` being the number of updates
    applied so far (the optimizer's ``iterations``). Its repr lists the constructor's
    arguments (the public attributes, in the order they were set).

    >>> class Halving(Schedule):
    ...     def __init__(self, learning_rate):
    ...         self.learning_rate = learning_rate
    ...     def __call__(self, step):
    ...         return self.learning_rate / 2 ** step
    >>> Halving(1.0), Halving(1.0)(3)
    (Halving(learning_rate=1.0), 0.125)
    """

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
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
