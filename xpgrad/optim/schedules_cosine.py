"""Cosine schedules: one decay (with Keras' optional warm-up) and SGDR's warm restarts.

>>> s = CosineDecayRestarts(1.0, first_decay_steps=2)
>>> [s(k) for k in range(7)]
[1.0, 0.5, 1.0, 0.8535533905932737, 0.5, 0.14644660940672627, 1.0]
"""
from __future__ import annotations

import math

from ._checks import hyperparameter, positive_int
from .schedules_base import Schedule


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


class CosineDecayRestarts(Schedule):
    """Keras' ``CosineDecayRestarts`` (SGDR, Loshchilov & Hutter): a cosine decay from
    ``initial_learning_rate`` towards ``alpha * initial_learning_rate`` over
    ``first_decay_steps``, then a warm restart; the ``i``-th period (from 0) lasts
    ``first_decay_steps * t_mul ** i`` steps and starts from ``m_mul ** i`` times the top:
    ``lr = initial_learning_rate * ((1 - alpha) * m_mul ** i * (1 + cos(pi * t)) / 2 +
    alpha)``, ``t`` the fraction of the period done. The period is Keras' closed form (a
    logarithm), checked against the period's bounds: Keras' can round a restart's step into
    the period before.

    PyTorch's ``CosineAnnealingWarmRestarts(T_0=first_decay_steps, T_mult=t_mul,
    eta_min=alpha * lr)`` is this schedule with ``m_mul=1`` (it takes only integer
    ``T_mult``). ``t_mul`` must be >= 1: with shorter periods Keras' schedule ends (NaN) after
    ``first_decay_steps / (1 - t_mul)`` steps.

    >>> s = CosineDecayRestarts(1.0, first_decay_steps=4, t_mul=1.0, m_mul=0.5, alpha=0.1)
    >>> [round(s(k), 4) for k in (0, 2, 4, 6, 8)]
    [1.0, 0.55, 0.55, 0.325, 0.325]
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0):
        self.initial_learning_rate = hyperparameter("initial_learning_rate",
                                                    initial_learning_rate, low=0.0)
        self.first_decay_steps = positive_int("first_decay_steps", first_decay_steps)
        self.t_mul = hyperparameter("t_mul", t_mul, low=1.0)
        self.m_mul = hyperparameter("m_mul", m_mul, low=0.0)
        self.alpha = hyperparameter("alpha", alpha, low=0.0, high=1.0)

    def _period(self, step):
        """(i, fraction of the i-th period done at ``step``)."""
        first = self.first_decay_steps
        if self.t_mul == 1.0:
            i = step // first
            return i, (step - i * first) / first
        t = self.t_mul

        def start(j):
            return first * (t ** j - 1.0) / (t - 1.0)

        def began(j):           # up to the rounding of the bound: 30 + 33 is 63.00000000000004
            return step >= start(j) * (1.0 - 1e-12)
        # Keras' closed form, moved to the period whose bounds hold the step (Keras' logarithm
        # can round a restart's step into the period before)
        i = max(0, math.floor(math.log1p(step * (t - 1.0) / first) / math.log(t)))
        while i > 0 and not began(i):
            i -= 1
        while began(i + 1):
            i += 1
        return i, (step - start(i)) / (first * t ** i)

    def __call__(self, step):
        i, t = self._period(step)
        cosine = 0.5 * self.m_mul ** i * (1.0 + math.cos(math.pi * t))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)
