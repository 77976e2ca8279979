"""Dropout: zero entries with probability ``rate`` in training, identity in eval mode.

Inverted dropout: kept entries are scaled by ``1 / (1 - rate)`` so eval needs no rescaling.

>>> import xpgrad as xg
>>> d = xg.nn.Dropout(0.5, rng=xg.random.default_rng(0))
>>> d.eval()(xg.ones(4)).tolist()
[1.0, 1.0, 1.0, 1.0]
"""
from __future__ import annotations

from .._args import flag
from ..creation import asarray
from ..ops.casting import astype
from . import _checks
from . import init as _init
from .module import Module


class Dropout(Module):
    """Randomly zero a fraction ``rate`` of the inputs while ``training`` (an explicit rng).

    The mask is drawn from ``rng`` (a Generator, an int seed or None: fresh entropy, made on
    the first input's backend) and moved to the input's backend if the generator's differs.
    """

    def __init__(self, rate: float, *, rng=None, name=None):
        super().__init__(name)
        who = type(self).__name__                  # Dropout1d and Dropout2d share this
        self.rate = _checks.probability("rate", rate, who)
        self._rng = _init.check_rng(rng, who)

    def forward(self, x):
        if not flag(self.training, "training", "Dropout") \
                or self.rate == 0.0:
            return x
        x = asarray(x)
        self._rng = _init.as_rng(self._rng, x.backend)
        # a generator of another backend (as Linear's rng=): its draw moved, then compared on
        # x's backend, which an xg.function traced there records
        keep = self._rng.uniform(size=x.shape, dtype=x.dtype).to(x.backend) >= self.rate
        return x * (astype(keep, x.dtype) * (1.0 / (1.0 - self.rate)))

    def _extra_repr(self):
        return f", rate={self.rate}"
