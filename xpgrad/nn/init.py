"""Weight initializers drawn from an explicit ``xg.random`` Generator.

Each takes ``(rng, shape, dtype)`` with ``shape = (fan_in, fan_out)`` for a dense kernel.

>>> import xpgrad as xg
>>> glorot_uniform(xg.random.default_rng(0), (4, 3)).shape
(4, 3)
"""
from __future__ import annotations

import math
import numbers

from .. import dtypes as _dt
from ..random import Generator, default_rng


def as_rng(rng, backend=None) -> Generator:
    """A Generator from a Generator (kept), an int seed (NumPy integers too), or None (fresh
    entropy)."""
    if isinstance(rng, Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return default_rng(None if rng is None else int(rng), backend=backend)
    raise TypeError(f"rng must be an xg.random.Generator, an int seed or None, "
                    f"got {type(rng).__name__}")


def _fans(shape):
    if len(shape) < 2:
        return shape[0] if shape else 1, shape[0] if shape else 1
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(rng, shape, dtype=_dt.float32):
    """Uniform on ``[-l, l]`` with ``l = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape, dtype=dtype)


def he_normal(rng, shape, dtype=_dt.float32):
    """Normal with standard deviation ``sqrt(2 / fan_in)`` (He et al. 2015; untruncated)."""
    fan_in, _ = _fans(shape)
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape, dtype=dtype)


INITIALIZERS = {"glorot": glorot_uniform, "glorot_uniform": glorot_uniform,
                "xavier": glorot_uniform, "he": he_normal, "he_normal": he_normal,
                "kaiming": he_normal}


def get(init):
    """An initializer from a name in INITIALIZERS or a callable ``(rng, shape, dtype)``."""
    if callable(init):
        return init
    try:
        return INITIALIZERS[init]
    except KeyError:
        raise ValueError(f"unknown init {init!r}; expected one of {sorted(INITIALIZERS)} "
                         "or a callable (rng, shape, dtype) -> Tensor") from None
