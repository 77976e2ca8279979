"""Variance scaling (Keras' ``VarianceScaling``, ``jax.nn.initializers.variance_scaling``) and
the named schemes built on it: Glorot/Xavier, He/Kaiming, LeCun and PyTorch's Linear default.

The variance is ``scale / n`` with ``n`` the fan of ``mode`` (``compute_fans``; ``fan_avg`` is
their mean). ``"uniform"`` draws from ``[-sqrt(3 scale / n), sqrt(3 scale / n)]``,
``"untruncated_normal"`` from N(0, scale / n), ``"truncated_normal"`` from a normal cut at two
of its standard deviations whose standard deviation is divided by 0.87962566103423978 (the
standard deviation of N(0, 1) cut at +-2), so the draws have variance ``scale / n`` (Keras, JAX).

The ``*_normal`` schemes are untruncated, as PyTorch's ``xavier_normal_`` /
``kaiming_normal_`` (and xpgrad's ``he_normal`` has always been); Keras' and JAX's
``glorot_normal`` / ``he_normal`` / ``lecun_normal`` are truncated:
``variance_scaling(2.0, "fan_in", "truncated_normal")`` is their ``he_normal``.

>>> import xpgrad as xg
>>> w = he_uniform(xg.random.default_rng(0), (256, 128))
>>> bool(abs(w).max().item() <= (6 / 256) ** 0.5)
True
"""
from __future__ import annotations

import math
import numbers

from ... import dtypes as _dt
from ...ops.casting import astype
from ._common import (as_rng, choice, compute_fans, empty_or_none, float_dtype, named, real,
                      shape_arg)
from .distributions import truncated_standard_normal
from .torch_keywords import refuse_torch_keywords

#: the standard deviation of N(0, 1) truncated to [-2, 2] (Keras' and JAX's constant)
TRUNCATED_STDDEV = 0.87962566103423978
MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")



def variance_scaling(scale=1.0, mode="fan_in", distribution="truncated_normal"):
    """An initializer ``(rng, shape, dtype=float32) -> Tensor`` whose draws have variance
    ``scale / n`` (module docstring); Keras' ``VarianceScaling`` defaults. ``scale`` must be a
    finite number > 0, ``mode`` one of ``MODES``, ``distribution`` one of ``DISTRIBUTIONS``
    (``"normal"`` is refused: Keras reads it as truncated, JAX as untruncated).

    >>> import xpgrad as xg
    >>> init = variance_scaling(2.0, "fan_in", "truncated_normal")   # Keras' / JAX's he_normal
    >>> w = init(xg.random.default_rng(0), (100, 50))
    >>> limit = 2 * (2.0 / 100) ** 0.5 / TRUNCATED_STDDEV
    >>> w.shape, bool(abs(w).max().item() <= limit)
    ((100, 50), True)
    """
    who = "variance_scaling"
    scale = real("scale", scale, who, positive=True)
    mode = choice("mode", mode, MODES, who)
    if distribution == "normal":
        raise ValueError(f"{who}: distribution 'normal' is ambiguous (Keras truncates it, JAX "
                         "does not); use 'truncated_normal' or 'untruncated_normal'")
    distribution = choice("distribution", distribution, DISTRIBUTIONS, who)

    def init(rng, shape, dtype=_dt.float32):
        return _draw(rng, shape, dtype, scale, mode, distribution, who)

    return named(init, f"variance_scaling({scale!r}, {mode!r}, {distribution!r})")


def _draw(rng, shape, dtype, scale, mode, distribution, who):
    rng, shape, dtype = as_rng(rng), shape_arg(shape), float_dtype(dtype, who)
    fan_in, fan_out = compute_fans(shape)
    empty = empty_or_none(rng, shape, dtype)
    if empty is not None:
        return empty
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale / n)
        return rng.uniform(-limit, limit, size=shape, dtype=dtype)
    if distribution == "untruncated_normal":
        return rng.normal(0.0, math.sqrt(scale / n), size=shape, dtype=dtype)
    stddev = math.sqrt(scale / n) / TRUNCATED_STDDEV
    return astype(truncated_standard_normal(rng, shape, -2.0, 2.0) * stddev, dtype)


def glorot_uniform(rng, shape, dtype=_dt.float32, **torch_options):
    """Uniform on ``[-l, l]``, ``l = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010;
    PyTorch's ``xavier_uniform_``, Keras' ``GlorotUniform``). Also ``xavier_uniform``.

    >>> import xpgrad as xg
    >>> glorot_uniform(xg.random.default_rng(0), (4, 3)).shape
    (4, 3)
    """
    refuse_torch_keywords("glorot_uniform", torch_options)
    return _draw(rng, shape, dtype, 1.0, "fan_avg", "uniform", "glorot_uniform")


def glorot_normal(rng, shape, dtype=_dt.float32, **torch_options):
    """N(0, 2 / (fan_in + fan_out)), untruncated (PyTorch's ``xavier_normal_``; Keras' is
    ``variance_scaling(1.0, "fan_avg", "truncated_normal")``). Also ``xavier_normal``.

    >>> import xpgrad as xg
    >>> glorot_normal(xg.random.default_rng(0), (4, 3), xg.float64).dtype == xg.float64
    True
    """
    refuse_torch_keywords("glorot_normal", torch_options)
    return _draw(rng, shape, dtype, 1.0, "fan_avg", "untruncated_normal", "glorot_normal")


def he_uniform(rng, shape, dtype=_dt.float32, **torch_options):
    """Uniform on ``[-l, l]``, ``l = sqrt(6 / fan_in)`` (He et al. 2015; PyTorch's
    ``kaiming_uniform_`` with its default ``a=0``, Keras' ``HeUniform``). Also
    ``kaiming_uniform``.

    >>> import xpgrad as xg
    >>> he_uniform(xg.random.default_rng(0), (3, 3, 8, 16)).shape      # a conv kernel
    (3, 3, 8, 16)
    """
    refuse_torch_keywords("he_uniform", torch_options)
    return _draw(rng, shape, dtype, 2.0, "fan_in", "uniform", "he_uniform")


def he_normal(rng, shape, dtype=_dt.float32, **torch_options):
    """N(0, 2 / fan_in), untruncated (He et al. 2015; PyTorch's ``kaiming_normal_``; Keras'
    is ``variance_scaling(2.0, "fan_in", "truncated_normal")``). Also ``kaiming_normal``.

    >>> import xpgrad as xg
    >>> he_normal(xg.random.default_rng(0), (4, 3)).shape
    (4, 3)
    """
    refuse_torch_keywords("he_normal", torch_options)
    return _draw(rng, shape, dtype, 2.0, "fan_in", "untruncated_normal", "he_normal")


def lecun_uniform(rng, shape, dtype=_dt.float32):
    """Uniform on ``[-l, l]``, ``l = sqrt(3 / fan_in)`` (LeCun et al. 1998; Keras'
    ``LecunUniform``).

    >>> import xpgrad as xg
    >>> w = lecun_uniform(xg.random.default_rng(0), (12, 5))
    >>> bool(abs(w).max().item() <= 0.5)
    True
    """
    return _draw(rng, shape, dtype, 1.0, "fan_in", "uniform", "lecun_uniform")


def lecun_normal(rng, shape, dtype=_dt.float32):
    """N(0, 1 / fan_in), untruncated (for SELU networks; Keras' ``LecunNormal`` is
    ``variance_scaling(1.0, "fan_in", "truncated_normal")``).

    >>> import xpgrad as xg
    >>> lecun_normal(xg.random.default_rng(0), (4, 3)).shape
    (4, 3)
    """
    return _draw(rng, shape, dtype, 1.0, "fan_in", "untruncated_normal", "lecun_normal")


def torch_linear_default(rng, shape, dtype=_dt.float32, *, fan_in=None):
    """PyTorch's initialization of ``nn.Linear`` (and ``nn.Conv*``) weights:
    ``kaiming_uniform_(w, a=sqrt(5))``, i.e. uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``
    (``variance_scaling(1/3, "fan_in", "uniform")``), ``fan_in`` from ``compute_fans(shape)``.

    PyTorch draws the bias from the same interval, with the fan_in of the weight (a 1-D bias
    has no fans of its own): a layer's ``bias_init`` passes its weight's ``fan_in=`` to an
    initializer taking that keyword, so ``Linear(..., init="torch_linear_default",
    bias_init="torch_linear_default")`` draws as ``torch.nn.Linear``. A shape of fewer than 2
    axes needs ``fan_in`` (ValueError naming ``shape`` otherwise); a given ``fan_in`` (a
    non-negative integer; 0, a layer with no inputs, gives zeros as PyTorch's bias) is used
    for any shape.

    >>> import xpgrad as xg
    >>> w = torch_linear_default(xg.random.default_rng(0), (16, 4))
    >>> bool(abs(w).max().item() <= 0.25)
    True
    >>> b = torch_linear_default(xg.random.default_rng(0), (4,), fan_in=16)   # its bias
    >>> bool(abs(b).max().item() <= 0.25)
    True
    """
    rng, shape = as_rng(rng), shape_arg(shape)
    if fan_in is None:
        fan_in, _ = compute_fans(shape)
    elif isinstance(fan_in, bool) or not isinstance(fan_in, numbers.Integral) or fan_in < 0:
        raise ValueError(f"torch_linear_default: fan_in must be a non-negative integer, got "
                         f"{fan_in!r}")
    dtype = float_dtype(dtype, "torch_linear_default")
    empty = empty_or_none(rng, shape, dtype)
    if empty is not None:
        return empty
    bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
    return rng.uniform(-bound, bound, size=shape, dtype=dtype)


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal
