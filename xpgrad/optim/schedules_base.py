"""The schedule base class, ``Constant`` and ``as_schedule`` (what an optimizer does with its
``learning_rate`` argument); the schedules themselves are listed in ``xg.optim.schedules``.

>>> as_schedule(0.1)
Constant(learning_rate=0.1)
"""
from __future__ import annotations

import functools
import inspect

from ..keyword_checks import CheckedKeywords
from ._checks import FLOAT32_MAX, hyperparameter, real_number


#: PyTorch's lr_scheduler keywords -> xpgrad's (Keras') names
_TORCH_SCHEDULE_KEYWORDS = {
    "lr": "; xpgrad uses Keras' names: initial_learning_rate=",
    "T_max": "; xpgrad uses Keras' names: decay_steps= (CosineDecay)",
    "T_0": "; xpgrad uses Keras' names: first_decay_steps= (CosineDecayRestarts)",
    "T_mult": "; xpgrad uses Keras' names: t_mul= (CosineDecayRestarts)",
    "eta_min": "; xpgrad's cosine schedules take alpha=, the final rate as a fraction of "
               "initial_learning_rate (eta_min / lr)",
    "last_epoch": ": a schedule is a function of the step, schedule(step), with no state to "
                  "resume; leave it out",
}


class Schedule(CheckedKeywords):
    """Base class: ``schedule(step) -> learning rate``, ``step`` being the number of updates
    applied so far (the optimizer's ``iterations``). Its repr lists the constructor's
    arguments (the public attributes, in the order they were set). A keyword its
    ``__init__`` does not take is refused naming the schedule (PyTorch's names said as
    xpgrad's, a misspelt one's closest name).

    >>> class Halving(Schedule):
    ...     def __init__(self, learning_rate):
    ...         self.learning_rate = learning_rate
    ...     def __call__(self, step):
    ...         return self.learning_rate / 2 ** step
    >>> Halving(1.0), Halving(1.0)(3)
    (Halving(learning_rate=1.0), 0.125)
    """

    _KEYWORD_HINTS = _TORCH_SCHEDULE_KEYWORDS

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _taking_a_name(cls.__init__)

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"

    def get_config(self) -> dict:
        """The constructor's arguments (Keras' ``get_config``), JSON-serializable: a schedule
        inside (``LinearWarmup``'s) as ``{"class_name": ..., "config": ...}`` (``serialize``).
        ``type(self).from_config(config)`` makes the same schedule.

        >>> import json
        >>> from xpgrad.optim import StepDecay
        >>> text = json.dumps(StepDecay(0.1, step_size=3).get_config())
        >>> text
        '{"initial_learning_rate": 0.1, "step_size": 3, "gamma": 0.1}'
        >>> StepDecay.from_config(json.loads(text))(3)
        0.010000000000000002
        """
        return {k: _config_value(self, k, v) for k, v in vars(self).items()
                if not k.startswith("_")}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "Schedule":
        """A schedule from ``get_config``'s dict (Keras' ``from_config``), checked as the
        constructor checks its arguments; ``custom_objects`` (``{name: class}``) names the
        user's schedules a nested one may be."""
        from .schedules import deserialize

        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config takes a dict (get_config's), got "
                            f"{type(config).__name__}")
        return cls(**{k: deserialize(v, custom_objects) if _is_serialized(v) else v
                      for k, v in config.items()})


def _taking_a_name(init):
    """``init`` also taking Keras' ``name=`` (every Keras schedule has one): kept as
    ``self.name`` when given, and so in the repr and the config."""
    signature = inspect.signature(init)
    parameters = list(signature.parameters.values())
    if "name" in signature.parameters or any(p.kind is p.VAR_KEYWORD for p in parameters):
        return init

    @functools.wraps(init)
    def named_init(self, *args, name=None, **kwargs):
        init(self, *args, **kwargs)
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"{type(self).__name__}: name must be a string, got {name!r}")
            self.name = name

    named_init.__signature__ = signature.replace(parameters=parameters + [
        inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY, default=None)])
    return named_init


def serialize(schedule) -> dict:
    """``{"class_name": ..., "config": schedule.get_config()}`` (Keras'
    ``keras.optimizers.schedules.serialize``); ``deserialize`` makes it back.

    >>> serialize(Constant(0.5))
    {'class_name': 'Constant', 'config': {'learning_rate': 0.5}}
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"serialize takes an xg.optim schedule, got {type(schedule).__name__} "
                        f"{schedule!r}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def _is_serialized(value) -> bool:
    return isinstance(value, dict) and set(value) == {"class_name", "config"}


def _config_value(owner, key, value):
    if isinstance(value, Schedule):
        return serialize(value)
    if callable(value):
        raise TypeError(f"{type(owner).__name__}.get_config: its {key} is "
                        f"{type(value).__name__} {value!r}, which a config cannot hold; give an "
                        f"xg.optim schedule (a Schedule subclass with get_config) instead")
    return list(value) if isinstance(value, tuple) else value


class Constant(Schedule):
    """The same rate at every step.

    >>> Constant(0.01)(1000)
    0.01
    """

    def __init__(self, learning_rate: float):
        self.learning_rate = hyperparameter("learning_rate", learning_rate, low=0.0)

    def __call__(self, step):
        return self.learning_rate


def fitting_constant_rate(optimizer):
    """``optimizer``'s constant learning rate where it is a float in ``[0, FLOAT32_MAX]`` (what
    ``optimizer.learning_rate`` and ``learning_rate_fits`` accept for any variable: an update
    may use it unchecked), else None.

    >>> import xpgrad as xg
    >>> fitting_constant_rate(xg.optim.SGD(0.5)), fitting_constant_rate(xg.optim.SGD(1e39))
    (0.5, None)
    """
    schedule = optimizer._schedule
    if type(schedule) is not Constant:
        return None
    lr = schedule.learning_rate
    return lr if lr.__class__ is float and 0.0 <= lr <= FLOAT32_MAX else None


#: what PyTorch's parameter groups are here (optimizer.py checks for them first too)
PARAM_GROUPS = ("an optimizer takes no parameter groups (PyTorch's AdamW([{'params': ..., "
                "'weight_decay': 0.1}, ...], lr=...)): make one optimizer per group, "
                "AdamW(lr, weight_decay=0.1) and AdamW(lr, weight_decay=0.0), and give each "
                "its group's (gradient, variable) pairs in apply_gradients (docs/training.md)")


#: the TypeError for PyTorch's first argument (``model.parameters()``) given an optimizer
MODEL_GIVEN = ("an optimizer takes no model or variables (PyTorch's SGD(model.parameters(), "
               "lr)): give it the learning rate, e.g. SGD(0.01), and the variables to "
               "apply_gradients(zip(grads, model.trainable_variables))")


def model_or_variables(value) -> bool:
    """Whether ``value``, given where the learning rate goes, is PyTorch's first argument
    (``model.parameters()``): a Module, or a non-empty list or tuple of Variables."""
    from ..nn.module import Module
    from ..tensor import Variable

    return isinstance(value, Module) or (isinstance(value, (list, tuple)) and bool(value)
                                         and all(isinstance(v, Variable) for v in value))


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
    if isinstance(learning_rate, type):
        raise TypeError(f"learning_rate is the class {learning_rate.__name__}; pass a schedule "
                        f"made of it (e.g. {learning_rate.__name__}(0.1, ...)), a float or a "
                        f"callable of the step")
    from ..tensor import Variable

    if model_or_variables(learning_rate):
        raise TypeError(MODEL_GIVEN)
    if isinstance(learning_rate, (list, tuple)) and learning_rate \
            and all(isinstance(group, dict) for group in learning_rate):
        raise TypeError(PARAM_GROUPS)
    if callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, Variable):
        raise TypeError("learning_rate is a Variable, whose later assign() an optimizer would "
                        "not see (its value is taken once); pass a float and set "
                        "opt.learning_rate = new_value to change it, or pass a schedule")
    try:
        real_number("learning_rate", learning_rate)
    except TypeError:
        raise TypeError(f"learning_rate must be a float or a callable of the step, got "
                        f"{type(learning_rate).__name__} {learning_rate!r}") from None
    return Constant(learning_rate)
