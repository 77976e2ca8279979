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

from .schedules_base import Constant, Schedule, as_schedule, serialize
from .schedules_cosine import CosineDecay, CosineDecayRestarts
from .schedules_decay import (ExponentialDecay, InverseTimeDecay, PiecewiseConstant,
                              PolynomialDecay, StepDecay)
from .schedules_warmup import LinearWarmup, OneCycle

__all__ = ["Schedule", "Constant", "ExponentialDecay", "StepDecay", "InverseTimeDecay",
           "PolynomialDecay", "PiecewiseConstant", "CosineDecay", "CosineDecayRestarts",
           "OneCycle", "LinearWarmup", "as_schedule", "serialize", "deserialize"]


def deserialize(config, custom_objects=None) -> Schedule:
    """The schedule ``serialize`` described: ``{"class_name": ..., "config": ...}`` of one of
    this module's schedules, or of a Schedule subclass in ``custom_objects`` (``{name:
    class}``, as Keras' ``deserialize``).

    >>> s = deserialize(serialize(LinearWarmup(CosineDecay(1.0, 4), warmup_steps=2)))
    >>> s, [s(k) for k in (1, 2, 4)]
    (LinearWarmup(schedule=CosineDecay(initial_learning_rate=1.0, decay_steps=4, alpha=0.0, \
warmup_steps=0, warmup_target=None), warmup_steps=2, start_value=0.0), [0.5, 1.0, 0.5])
    """
    known = {name: globals()[name] for name in __all__
             if isinstance(globals()[name], type) and issubclass(globals()[name], Schedule)
             and globals()[name] is not Schedule}
    known.update(custom_objects or {})
    if not (isinstance(config, dict) and set(config) == {"class_name", "config"}):
        raise TypeError(f"deserialize takes serialize's dict {{'class_name': ..., 'config': "
                        f"...}}, got {config!r}")
    cls = known.get(config["class_name"])
    if cls is None:
        raise ValueError(f"unknown schedule {config['class_name']!r}: xg.optim has "
                         f"{', '.join(sorted(known))} (a schedule of your own: pass "
                         f"custom_objects={{name: class}})")
    return cls.from_config(config["config"], custom_objects)


def __getattr__(name):
    """Keras' schedule names that xpgrad spells otherwise (``PiecewiseConstantDecay``): an
    AttributeError naming xpgrad's."""
    from .._args import no_module_attribute
    from ..tf_names import OPTIM

    raise no_module_attribute(__name__, name, OPTIM.get(name))
