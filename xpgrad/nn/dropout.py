"""Dropout: zero entries with probability ``rate`` in training, identity in eval mode.

Inverted dropout: kept entries are scaled by ``1 / (1 - rate)`` so eval needs no rescaling.

>>> import xpgrad as xg
>>> d = xg.nn.Dropout(0.5, rng=xg.random.default_rng(0))
>>> d.eval()(xg.ones(4)).tolist()
[1.0, 1.0, 1.0, 1.0]
"""
from __future__ import annotations

from .._args import flag
from ..conversion import named_asarray
from ..ops.casting import astype
from ..random_replay import fresh_seed
from ..jit.capture import THREAD as _TRACES, guard_value, note_write
from . import _checks
from . import init as _init
from .module import Module


class Dropout(Module):
    """Randomly zero a fraction ``rate`` of the inputs while ``training`` (an explicit rng).

    The mask is drawn from ``rng`` (a Generator, an int seed or None: fresh entropy, made on
    the first input's backend; under ``xg.random.seed(n)``, the next seed, taken when the layer
    is made) and moved to the input's backend if the generator's differs.
    """

    def __init__(self, rate: float, *, rng=None, name=None):
        super().__init__(name)
        self.rate = rate
        rng = _init.check_rng(rng, type(self).__name__)
        # under xg.random.seed, the seed is taken now, as a layer's init takes it: twin
        # models built under one seed draw the same masks whenever each first runs
        self._rng = fresh_seed() if rng is None else rng

    @property
    def rate(self) -> float:
        """The fraction zeroed, in [0, 1); checked when set, after construction too (a
        schedule that raises it), as the constructor checks it. An ``xg.function`` keeps a
        program per rate it read, as per ``training`` mode."""
        if _TRACES.tracer is not None:
            return guard_value(self, "_rate", self._rate)
        return self._rate

    @rate.setter
    def rate(self, value):
        # Dropout1d and Dropout2d share this
        self._rate = _checks.probability("rate", value, type(self).__name__)
        if _TRACES.tracer is not None:
            note_write(self, "_rate")

    def forward(self, x):
        if not flag(self.training, "training", "Dropout") \
                or self.rate == 0.0:
            return x
        x = named_asarray(x, f"{self.name}: x")
        return self._masked(x, x.shape)

    def _masked(self, x, shape):
        """``x`` times a scaled mask drawn with ``shape`` (broadcast against x: one draw per
        channel for Dropout1d/2d)."""
        if not x.dtype.is_floating:
            raise TypeError(f"{type(self).__name__}: the input must be real floating point, "
                            f"got {x.dtype}")
        self._rng = _init.as_rng(self._rng, x.backend)
        # a generator of another backend (as Linear's rng=): its draw moved, then compared on
        # x's backend, which an xg.function traced there records
        keep = self._rng.uniform(size=shape, dtype=x.dtype).to(x.backend) >= self.rate
        return x * (astype(keep, x.dtype) * (1.0 / (1.0 - self.rate)))

    def _extra_repr(self):
        return f", rate={self.rate}"


def dropout(x, rate: float = 0.5, training: bool = True, *, rng=None, **unexpected):
    """Functional dropout (``torch.nn.functional.dropout(x, p, training)``): in training, zero
    each entry of ``x`` with probability ``rate`` and scale the kept ones by ``1 / (1 -
    rate)``; otherwise return ``x``. ``rng``: a Generator (its draws advance), an int seed (the
    same mask every call) or None (fresh entropy each call); the ``Dropout`` layer keeps one.

    >>> import xpgrad as xg
    >>> y = xg.nn.dropout(xg.ones(1000), 0.25, rng=xg.random.default_rng(0))
    >>> [round(v, 4) for v in sorted(set(y.tolist()))], round(float(xg.mean(y)), 1)
    ([0.0, 1.3333], 1.0)
    >>> xg.nn.dropout(xg.ones(3), 0.25, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
    if unexpected:                        # F.dropout(x, p=0.1): PyTorch's name, pointed at
        key = next(iter(unexpected))
        raise TypeError(f"dropout() got an unexpected keyword argument {key!r}"
                        + _checks._TORCH_KEYWORDS.get(key, ""))
    layer = Dropout(rate, rng=rng, name="dropout")
    layer.training = flag(training, "training", "dropout")
    return layer(x)
