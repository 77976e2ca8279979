"""Schedules that climb before they decay: PyTorch's one-cycle policy, and a linear warm-up in
front of any schedule.

>>> from xpgrad.optim import ExponentialDecay
>>> s = LinearWarmup(ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5), warmup_steps=2)
>>> [s(k) for k in range(5)]
[0.0, 0.05, 0.1, 0.05, 0.025]
"""
from __future__ import annotations

import math

from .._args import flag
from ._checks import hyperparameter, non_negative_int, positive_int
from .schedules_base import Constant, Schedule

ANNEAL_STRATEGIES = ("cos", "linear")


def _anneal_cos(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start, end, pct):
    return (end - start) * pct + start


class OneCycle(Schedule):
    """PyTorch's ``OneCycleLR`` (Smith's 1cycle policy) for the learning rate: from
    ``max_lr / div_factor`` up to ``max_lr`` over the first ``pct_start * total_steps`` steps,
    then down to ``max_lr / div_factor / final_div_factor`` at step ``total_steps - 1``, by a
    half cosine (``anneal_strategy="cos"``) or a straight line (``"linear"``). With
    ``three_phase``, the climb is mirrored back down to ``max_lr / div_factor`` over as many
    steps before the final descent (``pct_start`` at most 0.5 then). ``pct_start`` is in
    (0, 1): PyTorch takes 0 and 1 too, a run without its climb or without its descent.

    ``OneCycle(k)`` is ``OneCycleLR``'s rate after ``k`` calls of ``scheduler.step()``, for
    ``k < total_steps`` (PyTorch's phase boundaries, ``pct_start * total_steps - 1`` and so on,
    fractional ones included). Past the end it stays at the final rate, where PyTorch raises
    after ``total_steps`` calls; and a phase of no length (``pct_start * total_steps == 1``),
    where PyTorch divides by zero, gives its starting rate. PyTorch's ``cycle_momentum=True``
    (its default) also moves the momentum (SGD's ``momentum``, Adam's ``beta_1``) against the
    rate: ``momentum(step)`` gives it, to set before each update,
    ``opt.beta_1 = s.momentum(opt.iterations)``; without that the run is
    ``OneCycleLR(..., cycle_momentum=False)``'s.

    >>> s = OneCycle(1.0, total_steps=10, pct_start=0.3, anneal_strategy="linear")
    >>> [round(s(k), 4) for k in (0, 1, 2, 9, 50)]
    [0.04, 0.52, 1.0, 0.0, 0.0]
    """

    def __init__(self, max_lr, total_steps, pct_start=0.3, anneal_strategy="cos",
                 div_factor=25.0, final_div_factor=1e4, three_phase=False):
        self.max_lr = hyperparameter("max_lr", max_lr, low=0.0)
        self.total_steps = positive_int("total_steps", total_steps)
        self.pct_start = hyperparameter("pct_start", pct_start, low=0.0, high=1.0,
                                        low_open=True, high_open=True)
        if not isinstance(anneal_strategy, str) or anneal_strategy not in ANNEAL_STRATEGIES:
            raise ValueError(f"anneal_strategy must be one of {ANNEAL_STRATEGIES}, got "
                             f"{anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        self.div_factor = hyperparameter("div_factor", div_factor, low=0.0, low_open=True)
        self.final_div_factor = hyperparameter("final_div_factor", final_div_factor, low=0.0,
                                               low_open=True)
        self.three_phase = flag(three_phase, "three_phase", "OneCycle")
        if self.three_phase and self.pct_start > 0.5:
            raise ValueError(f"pct_start must be <= 0.5 with three_phase=True (the climb and "
                             f"its mirror take 2 * pct_start of the steps), got {pct_start!r}")

    def _phases(self):
        """``(last step, start rate, end rate)`` of each phase, as PyTorch computes them."""
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        up = float(self.pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        if self.three_phase:
            down = float(2 * self.pct_start * self.total_steps) - 2
            return ((up, initial, self.max_lr), (down, self.max_lr, initial),
                    (last, initial, final))
        return (up, initial, self.max_lr), (last, self.max_lr, final)

    def __call__(self, step):
        return self._along(step, [(end, a, b) for end, a, b in self._phases()])

    def momentum(self, step, base_momentum=0.85, max_momentum=0.95):
        """PyTorch's cycled momentum after ``step`` calls of ``scheduler.step()``
        (``cycle_momentum=True``): from ``max_momentum`` down to ``base_momentum`` while the
        rate climbs, back up while it falls (with ``three_phase``, held at ``max_momentum``
        in the last phase), the same phases and annealing as the rate. Set it before each
        update: ``opt.momentum = s.momentum(opt.iterations)`` (``opt.beta_1`` for Adam).

        >>> s = OneCycle(1.0, total_steps=10, pct_start=0.3, anneal_strategy="linear")
        >>> [round(s.momentum(k), 4) for k in (0, 1, 2, 9)]
        [0.95, 0.9, 0.85, 0.95]
        """
        low = hyperparameter("base_momentum", base_momentum, low=0.0, high=1.0)
        high = hyperparameter("max_momentum", max_momentum, low=0.0, high=1.0)
        ends = [end for end, _, _ in self._phases()]
        momenta = ([(high, low), (low, high), (high, high)] if self.three_phase else
                   [(high, low), (low, high)])
        return self._along(step, [(end, a, b) for end, (a, b) in zip(ends, momenta)])

    def _along(self, step, phases):
        """The value at ``step`` of the values annealed over ``phases``, ``(last step,
        start, end)`` each."""
        if step >= self.total_steps - 1:
            return phases[-1][2]
        anneal = _anneal_cos if self.anneal_strategy == "cos" else _anneal_linear
        begin = 0.0
        for i, (end, start, stop) in enumerate(phases):
            if step <= end or i == len(phases) - 1:
                pct = (step - begin) / (end - begin) if end != begin else 0.0
                return anneal(start, stop, pct)
            begin = end


class LinearWarmup(Schedule):
    """A linear warm-up from ``start_value`` to ``schedule``'s first rate over
    ``warmup_steps``, then ``schedule`` from its step 0: ``start_value + (schedule(0) -
    start_value) * step / warmup_steps`` before ``warmup_steps``, ``schedule(step -
    warmup_steps)`` from there on. ``schedule`` is any schedule, callable of the step or
    number.

    PyTorch: ``SequentialLR(opt, [LinearLR(opt, start_factor, total_iters=warmup_steps),
    other], milestones=[warmup_steps])``, with ``start_value = start_factor * lr``. Keras'
    ``CosineDecay(start_value, n, warmup_target=lr, warmup_steps=w)`` is
    ``LinearWarmup(CosineDecay(lr, n), w, start_value)``.

    >>> from xpgrad.optim import CosineDecay
    >>> s = LinearWarmup(CosineDecay(1.0, decay_steps=4), warmup_steps=4, start_value=0.2)
    >>> [round(s(k), 3) for k in range(9)]
    [0.2, 0.4, 0.6, 0.8, 1.0, 0.854, 0.5, 0.146, 0.0]
    """

    def __init__(self, schedule, warmup_steps, start_value=0.0):
        if not callable(schedule):
            try:
                schedule = Constant(hyperparameter("schedule", schedule, low=0.0))
            except TypeError:
                raise TypeError(f"schedule must be a schedule (a callable of the step) or a "
                                f"number, got {type(schedule).__name__} {schedule!r}") from None
        self.schedule = schedule
        self.warmup_steps = non_negative_int("warmup_steps", warmup_steps)
        self.start_value = hyperparameter("start_value", start_value, low=0.0)

    def __call__(self, step):
        if step < self.warmup_steps:
            start = self.start_value
            return start + (self.schedule(0) - start) * step / self.warmup_steps
        return self.schedule(step - self.warmup_steps)

