"""Validation of hyperparameters at the boundary: a clear error naming the argument, its value
and what was expected, before any variable is touched.

A hyperparameter is a real number: a Python int or float, a NumPy scalar (``np.float32(0.1)``,
``np.int64(1)``) or any 0-d array or Tensor of a real dtype (anything ``float()`` takes without
losing meaning). Booleans, strings, complex numbers and arrays with more than one element are
refused with TypeError; NaN, infinities and values out of range with ValueError.

>>> hyperparameter("momentum", 0.9, low=0.0, high=1.0, high_open=True)
0.9
>>> try:
...     hyperparameter("learning_rate", float("nan"), low=0.0)
... except ValueError as e:
...     print(e)
learning_rate must be a finite number >= 0, got nan
"""
from __future__ import annotations

import math
import numbers


def _describe(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def monitored_value(owner: str, name: str, value) -> float:
    """The value an epoch ended with, stepped into ``owner`` (``"EarlyStopping.step"``): a real
    number (TypeError or ValueError naming ``owner`` and ``name``), averaged over the ranks when
    ``xg.distributed`` runs several, so every rank decides alike."""
    try:
        current = real_number(name, value)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{owner}: {e}") from None
    from ..distributed.agreement import ranks_mean

    return ranks_mean(current, f"{owner}()")


def real_number(name: str, value) -> float:
    """``value`` as a Python float, or TypeError naming ``name`` (bool, str, complex, arrays of
    more than one element are not real numbers)."""
    if value.__class__ is float:       # the common case, checked once per step: no ABC check
        return value
    if isinstance(value, bool) or isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, numbers.Complex):
        raise TypeError(f"{name} must be a real number, got the complex number {value!r}")
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None:
        if tuple(shape) != ():
            raise TypeError(f"{name} must be a real number (a scalar or 0-d array), got an "
                            f"array of shape {tuple(shape)}")
        kind = getattr(dtype, "kind", None)
        if kind not in ("i", "u", "f"):
            raise TypeError(f"{name} must be a real number, got a 0-d array of dtype {dtype}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} "
                        f"{value!r}") from None


def hyperparameter(name: str, value, *, low=None, high=None, low_open=False,
                   high_open=False, owner=None) -> float:
    """``value`` as a finite float within the bounds, else TypeError/ValueError naming ``name``
    (and, first, ``owner``: the layer or function that takes it).

    >>> hyperparameter("epsilon", 1e-8, low=0.0, low_open=True)
    1e-08
    >>> try:
    ...     hyperparameter("rho", 1.0, low=0.0, high=1.0, high_open=True)
    ... except ValueError as e:
    ...     print(e)
    rho must be a finite number in [0, 1), got 1.0
    """
    if owner is not None:
        try:
            return hyperparameter(name, value, low=low, high=high, low_open=low_open,
                                  high_open=high_open)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{owner}: {e}") from None
    x = real_number(name, value)
    bad = not math.isfinite(x)
    if low is not None:
        bad = bad or (x <= low if low_open else x < low)
    if high is not None:
        bad = bad or (x >= high if high_open else x > high)
    if bad:
        expected = _describe(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a finite number{' ' + expected if expected else ''}, "
                         f"got {x!r}")
    return x


def positive_int(name: str, value) -> int:
    """``value`` as an int >= 1 (integral floats and NumPy integers accepted).

    >>> positive_int("decay_steps", 10.0)
    10
    """
    return _integer(name, value, 1, "a positive integer")


def non_negative_int(name: str, value) -> int:
    """``value`` as an int >= 0 (a step count that may be zero: a warm-up, a boundary).

    >>> non_negative_int("warmup_steps", 0)
    0
    """
    return _integer(name, value, 0, "an integer >= 0")


def _integer(name, value, low, what) -> int:
    x = real_number(name, value)
    if not math.isfinite(x) or x != int(x) or x < low:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(x)


def learning_rate_value(value, step: int, schedule) -> float:
    """What a schedule returned at ``step``, checked: a finite number >= 0."""
    try:
        x = real_number("learning_rate", value)
    except TypeError:
        raise TypeError(f"the learning-rate schedule {schedule!r} returned {value!r} at step "
                        f"{step}; it must return a real number") from None
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"the learning-rate schedule {schedule!r} returned {x!r} at step "
                         f"{step}; a learning rate must be a finite number >= 0")
    return x


#: float32's largest finite value: a learning rate above it cannot update a float32 variable
FLOAT32_MAX = 3.4028234663852886e38


def learning_rate_fits(lr: float, variables) -> None:
    """ValueError naming the first float32 (or complex64) variable when ``lr`` exceeds what
    float32 holds: the update, in the variable's dtype, would make every weight inf (and NaN
    where the gradient is 0), where PyTorch refuses the rate. Costs one comparison below it."""
    if lr <= FLOAT32_MAX:
        return
    for v in variables:
        if v.dtype.name in ("float32", "complex64"):
            raise ValueError(f"learning_rate {lr!r} is larger than float32 can hold "
                             f"({FLOAT32_MAX:g}), but the variable {v.name!r} is {v.dtype}: "
                             "its update would be inf")


#: Keras' three ways to clip the gradients: one at a time
CLIP_NAMES = ("global_clipnorm", "clipnorm", "clipvalue")


def clip_setting(opt, name, value):
    """``value`` for ``opt``'s clipping option ``name``: None or a number > 0, and only one of
    the three set at a time (as Keras).

    >>> class Opt: clipvalue = None; global_clipnorm = 1.0
    >>> try:
    ...     clip_setting(Opt(), "clipvalue", 0.5)
    ... except ValueError as e:
    ...     print(str(e).split(":")[1].strip())
    global_clipnorm is set (set it to None first), so clipvalue cannot be
    """
    value = optional_positive(name, value)
    others = [k for k in CLIP_NAMES if k != name and getattr(opt, k, None) is not None]
    if value is not None and others:
        raise ValueError(f"give only one of clipnorm, clipvalue and global_clipnorm (as Keras): "
                         f"{others[0]} is set (set it to None first), so {name} cannot be")
    return value


def non_negative(name, value) -> float:
    """A finite number >= 0 (weight_decay, initial_accumulator_value)."""
    return hyperparameter(name, value, low=0.0)


def positive(name, value) -> float:
    """A finite number > 0 (epsilon)."""
    return hyperparameter(name, value, low=0.0, low_open=True)


def optional_positive(name, value):
    """None, or a finite number > 0 (the clipping thresholds)."""
    return None if value is None else positive(name, value)


def unit_interval(name, value) -> float:
    """A decay rate or momentum: in [0, 1)."""
    return hyperparameter(name, value, low=0.0, high=1.0, high_open=True)


def boolean(name, value) -> bool:
    """True or False (a NumPy bool too), nothing else."""
    from .._args import flag

    return flag(value, name)


def check_state_keys(owner: str, state, expected) -> None:
    """``state`` must be a dict with exactly the keys ``expected`` (a ``state_dict()``'s), else
    TypeError / ValueError naming the missing and unexpected ones (``owner``'s
    ``load_state_dict``, as ``ReduceLROnPlateau``'s).

    >>> check_state_keys("ReduceLROnPlateau", {"best": 1.0}, {"best"})
    """
    from collections.abc import Mapping

    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict as from state_dict(), got "
                        f"{type(state).__name__}")
    missing = sorted(set(expected) - set(state))
    unknown = sorted(map(repr, set(state) - set(expected)))
    if missing or unknown:
        raise ValueError(f"{owner}.load_state_dict: missing {missing}, "
                         f"unexpected [{', '.join(unknown)}]")


class CheckedSettings:
    """Settings checked as they are set, in the constructor and after: ``_CHECKS`` maps an
    attribute to ``check(name, value)``, whose error is prefixed with the class's name
    (``ReduceLROnPlateau: patience must be an integer >= 0, got -1``)."""

    _CHECKS: dict = {}

    def __setattr__(self, name, value):
        check = self._CHECKS.get(name)
        if check is not None:
            try:
                value = check(name, value)
            except (TypeError, ValueError) as e:
                raise type(e)(f"{type(self).__name__}: {e}") from None
        object.__setattr__(self, name, value)
