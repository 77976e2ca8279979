"""Initializers that ignore the fans: ``uniform``, ``normal``, ``truncated_normal`` and
``constant`` (factories taking their parameters, as ``jax.nn.initializers``), ``zeros`` and
``ones`` (initializers themselves). Defaults are PyTorch's (``uniform_``: [0, 1),
``normal_``: N(0, 1), ``trunc_normal_``: N(0, 1) cut at +-2), not Keras' (+-0.05, 0.05).

>>> import xpgrad as xg
>>> normal(0.0, 0.02)(xg.random.default_rng(0), (768, 64)).shape       # GPT-2's embeddings
(768, 64)
"""
from __future__ import annotations

import math

from ... import dtypes as _dt
from ...creation import full
from ...ops.casting import astype
from ...ops.selection import clip
from ...special import ndtri
from ._common import as_rng, float_dtype, named, real, shape_arg


def uniform(low=0.0, high=1.0):
    """An initializer drawing uniformly from ``[low, high)`` (PyTorch's ``uniform_(a, b)``;
    rounding can give ``high`` itself, never a value outside ``[low, high]``). ``low`` and
    ``high`` are finite numbers with ``low <= high``.

    >>> import xpgrad as xg
    >>> w = uniform(-0.1, 0.1)(xg.random.default_rng(0), (3, 4))
    >>> bool((abs(w) <= 0.1).all().item())
    True
    """
    low, high = real("low", low, "uniform"), real("high", high, "uniform")
    if low > high:
        raise ValueError(f"uniform: low must be <= high, got low={low!r}, high={high!r}")

    def init(rng, shape, dtype=_dt.float32):
        rng, shape = as_rng(rng), shape_arg(shape)
        dtype = float_dtype(dtype, "uniform")
        # u * (high - low) + low, rounded, can step past high by an ulp; the clip keeps it in
        return clip(rng.uniform(low, high, size=shape, dtype=dtype), low, high)

    return named(init, f"uniform({low!r}, {high!r})")


def normal(mean=0.0, stddev=1.0):
    """An initializer drawing from N(mean, stddev**2) (PyTorch's ``normal_(mean, std)``,
    Keras' ``RandomNormal``). ``stddev`` must be a finite number > 0.

    >>> import xpgrad as xg
    >>> w = normal(5.0, 0.1)(xg.random.default_rng(0), (1000,), xg.float64).numpy()
    >>> round(float(w.mean()), 1), round(float(w.std()), 1)
    (5.0, 0.1)
    """
    mean = real("mean", mean, "normal")
    stddev = real("stddev", stddev, "normal", positive=True)

    def init(rng, shape, dtype=_dt.float32):
        rng, shape = as_rng(rng), shape_arg(shape)
        return rng.normal(mean, stddev, size=shape, dtype=float_dtype(dtype, "normal"))

    return named(init, f"normal({mean!r}, {stddev!r})")


def truncated_normal(mean=0.0, stddev=1.0, lower=-2.0, upper=2.0):
    """An initializer drawing from N(mean, stddev**2) cut to
    ``[mean + lower * stddev, mean + upper * stddev]`` (bounds in standard deviations, as
    Keras' ``TruncatedNormal`` and ``jax.random.truncated_normal``; PyTorch's
    ``trunc_normal_(mean, std, a, b)`` takes absolute bounds: pass
    ``lower=(a - mean) / std, upper=(b - mean) / std``). ``stddev`` is the standard deviation
    before the cut (the draws' is smaller: 0.8796 stddev for +-2). Drawn by inverting the normal
    CDF in float64 (as ``torch.nn.init.trunc_normal_``), then rounded to ``dtype``: the bounds
    hold exactly.

    >>> import xpgrad as xg
    >>> w = truncated_normal(0.0, 0.02)(xg.random.default_rng(0), (64, 64))
    >>> bool((abs(w) <= 0.04).all().item())
    True
    """
    who = "truncated_normal"
    mean = real("mean", mean, who)
    stddev = real("stddev", stddev, who, positive=True)
    lower, upper = real("lower", lower, who), real("upper", upper, who)
    if lower >= upper:
        raise ValueError(f"{who}: lower must be < upper, got lower={lower!r}, upper={upper!r}")

    def init(rng, shape, dtype=_dt.float32):
        rng, shape = as_rng(rng), shape_arg(shape)
        dtype = float_dtype(dtype, who)
        z = truncated_standard_normal(rng, shape, lower, upper)
        return astype(z * stddev + mean, dtype)

    return named(init, f"truncated_normal({mean!r}, {stddev!r}, {lower!r}, {upper!r})")


def truncated_standard_normal(rng, shape, lower, upper):
    """float64 draws of N(0, 1) cut to ``[lower, upper]``. Where the cut keeps at least
    ``_REJECT_ABOVE`` of the mass (PyTorch's default +-2 keeps 95%), normal draws outside it
    are drawn again (TensorFlow's way; ``ndtri`` of each draw cost 40x PyTorch's time on
    NumPy); else ``ndtri`` of a uniform draw between the CDF at the bounds, clipped to them."""
    flip = lower > 0        # all in the upper tail: draw its mirror, where the CDF keeps digits
    if flip:
        lower, upper = -upper, -lower
    lo, hi = _ndtr(lower), _ndtr(upper)
    if hi - lo >= _REJECT_ABOVE:
        z = _rejected(rng, shape, lower, upper, hi - lo)
    else:
        z = clip(ndtri(rng.uniform(lo, hi, size=shape, dtype=_dt.float64)), lower, upper)
    return -z if flip else z


#: the least mass of N(0, 1) in the cut for which ``truncated_standard_normal`` redraws
_REJECT_ABOVE = 0.25


def _rejected(rng, shape, lower, upper, mass):
    """``shape`` draws of N(0, 1) inside ``[lower, upper]`` (holding ``mass`` of it): normal
    draws, those outside left out, in rounds of about the number still missing / ``mass``."""
    from ...ops.joining import concat
    from ...ops.shape import reshape

    count = math.prod(shape)
    kept, have = [rng.normal(size=(0,), dtype=_dt.float64)], 0
    while have < count:
        draws = rng.normal(size=(int((count - have) / mass * 1.05) + 16,), dtype=_dt.float64)
        inside = draws[(draws >= lower) & (draws <= upper)]
        kept.append(inside)
        have += inside.shape[0]
    flat = kept[-1] if len(kept) == 2 else concat(kept)
    return reshape(flat[:count], shape)


def _ndtr(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def constant(value):
    """An initializer filling the shape with ``value``, a finite number (PyTorch's
    ``constant_``, Keras' ``Constant``).

    >>> import xpgrad as xg
    >>> constant(0.5)(None, (2, 2)).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    value = real("value", value, "constant")

    def init(rng, shape, dtype=_dt.float32):
        return _fill(rng, shape, dtype, value, "constant")

    return named(init, f"constant({value!r})")


def zeros(rng, shape, dtype=_dt.float32):
    """All zeros; ``rng`` (a Generator, a seed or None) only picks the backend.

    >>> zeros(None, (2,)).tolist()
    [0.0, 0.0]
    """
    return _fill(rng, shape, dtype, 0.0, "zeros")


def ones(rng, shape, dtype=_dt.float32):
    """All ones; ``rng`` (a Generator, a seed or None) only picks the backend.

    >>> ones(None, (1, 2)).tolist()
    [[1.0, 1.0]]
    """
    return _fill(rng, shape, dtype, 1.0, "ones")


def _fill(rng, shape, dtype, value, who):
    rng, shape = as_rng(rng), shape_arg(shape)
    dtype = float_dtype(dtype, who)
    return full(shape, value, dtype=dtype, backend=rng.backend)
