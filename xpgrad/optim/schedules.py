"""Learning-rate schedules: callables of the step (the number of updates applied so far).

An optimizer's ``learning_rate`` is a float or any callable ``step -> float``; the optimizer
calls it with its ``iterations`` before each update, so update ``k + 1`` uses ``schedule(k)``.
That is Keras' ``schedule(optimizer.iterations)``, and PyTorch's rate after ``k`` calls of
``scheduler.step()`` when it is called once after each ``optimizer.step()`` (the rate a
PyTorch scheduler shows right after it is made is ``schedule(0)``). A schedule depends on
nothing but the step: under ``xg.function`` each replayed update calls it again, and a
checkpoint (which holds ``iterations``) resumes it where it was.

===========================  ==========================================================
xpgrad                       Keras / PyTorch
===========================  ==========================================================
``Constant``                 a float
``ExponentialDecay``         Keras' ``ExponentialDecay``; ``ExponentialLR``
``StepDecay``                ``StepLR``
``InverseTimeDecay``         Keras' ``InverseTimeDecay``
``PolynomialDecay``          Keras' ``PolynomialDecay``; ``PolynomialLR`` (end rate 0)
``PiecewiseConstant``        Keras' ``PiecewiseConstantDecay``; ``MultiStepLR``
``CosineDecay``              Keras' ``CosineDecay`` (warm-up too); ``CosineAnnealingLR``
``CosineDecayRestarts``      Keras' ``CosineDecayRestarts``; ``CosineAnnealingWarmRestarts``
``OneCycle``                 ``OneCycleLR``
``LinearWarmup``             ``LinearLR`` then another, in a ``SequentialLR``
===========================  ==========================================================

>>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> s(0), s(10), round(s(5), 4)
(0.1, 0.05, 0.0707)
"""
from __future__ import annotations

from .schedules_base import Constant, Schedule, as_schedule
from .schedules_cosine import CosineDecay, CosineDecayRestarts
from .schedules_decay import (ExponentialDecay, InverseTimeDecay, PiecewiseConstant,
                              PolynomialDecay, StepDecay)
from .schedules_warmup import LinearWarmup, OneCycle

__all__ = ["Schedule", "Constant", "ExponentialDecay", "StepDecay", "InverseTimeDecay",
           "PolynomialDecay", "PiecewiseConstant", "CosineDecay", "CosineDecayRestarts",
           "OneCycle", "LinearWarmup", "as_schedule"]
