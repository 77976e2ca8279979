"""What every initializer shares: the generator (``as_rng``), the fans of a shape
(``compute_fans``) and the checks of their arguments.

>>> compute_fans((3, 3, 16, 32))           # a 3x3 convolution kernel, (kh, kw, in, out)
(144, 288)
"""
from __future__ import annotations

import math
import numbers

import numpy as np  # noqa: F401 (the examples)

from ...creation import _shape as shape_arg  # noqa: F401 (a shape as a tuple of ints)
from ...creation import zeros
from ...random import Generator, default_rng
from .._checks import floating_dtype as float_dtype  # noqa: F401 (a weight's real dtype)


def as_rng(rng, backend=None) -> Generator:
    """A Generator from a Generator (kept), an int seed (NumPy integers too), or None (fresh
    entropy, or the next seed of ``xg.random.seed(n)``).

    >>> import xpgrad as xg
    >>> as_rng(0).normal(size=2).tolist() == xg.random.default_rng(0).normal(size=2).tolist()
    True
    """
    if isinstance(check_rng(rng), Generator):
        return rng
    return default_rng(None if rng is None else int(rng), backend=backend)


def check_rng(rng, who=None):
    """``rng`` if ``as_rng`` takes it (a Generator, an int seed or None); TypeError otherwise,
    naming ``who`` (and, for NumPy's generators, what to pass instead).

    >>> check_rng(np.random.default_rng(0))
    Traceback (most recent call last):
    ...
    TypeError: rng must be an xg.random.Generator, an int seed or None, got numpy.random._generator.Generator; xpgrad draws from its own generators: pass an int seed or xg.random.default_rng(seed)
    """
    if isinstance(rng, Generator) or rng is None or (
            isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return rng
    kind = type(rng)
    got = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    hint = ""
    if kind.__module__.startswith("numpy"):   # NumPy's Generator is also named "Generator"
        hint = ("; xpgrad draws from its own generators: pass an int seed or "
                "xg.random.default_rng(seed)")
    raise TypeError(f"{who + ': ' if who else ''}rng must be an xg.random.Generator, an int seed "
                    f"or None, got {got}{hint}")


def compute_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``, in xpgrad's layout: a dense kernel is
    ``(fan_in, fan_out)`` (``Linear.w``: (in_features, out_features)); a kernel with more axes
    is ``(*receptive_field, in, out)`` (Keras' and JAX's ``(kh, kw, in, out)``), so both fans
    are multiplied by the product of the leading axes. This is PyTorch's
    ``_calculate_fan_in_and_fan_out`` of the transposed weight ``(out, in, *receptive_field)``.
    A shape with fewer than 2 axes has no fans: ValueError naming ``shape``.

    >>> compute_fans((784, 256))
    (784, 256)
    >>> compute_fans((5, 4, 3))
    (20, 15)
    """
    shape = shape_arg(shape)
    if len(shape) < 2:
        raise ValueError(f"shape must have at least 2 axes (fan_in, fan_out) to compute fans, "
                         f"got shape {shape}; for a bias or a vector use zeros, ones, constant, "
                         "uniform or normal")
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def real(name, value, who, *, positive=False) -> float:
    """``value`` as a finite float (and > 0 with ``positive``); TypeError/ValueError naming
    ``name`` and ``who`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{who}: {name} must be a real number, got {type(value).__name__} "
                        f"{value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        need = "a finite number > 0" if positive else "a finite number"
        raise ValueError(f"{who}: {name} must be {need}, got {value!r}")
    return value


def choice(name, value, options, who) -> str:
    """``value`` if it is one of ``options``; ValueError naming ``name`` otherwise."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{who}: unknown {name} {value!r}; expected one of {list(options)}")
    return value


def named(fn, name, doc=None):
    """``fn`` with ``__name__``/``__qualname__`` ``name`` (what ``repr`` and error messages
    show for a made initializer) and, if given, a docstring."""
    fn.__name__ = fn.__qualname__ = name
    if doc is not None:
        fn.__doc__ = doc
    return fn


def empty_or_none(rng, shape, dtype):
    """A zero-element tensor of ``shape`` where ``shape`` has a 0 (nothing to draw: PyTorch's
    initializers leave such a tensor as it is), else None."""
    if math.prod(shape) == 0:
        return zeros(shape, dtype=dtype, backend=rng.backend)
    return None
