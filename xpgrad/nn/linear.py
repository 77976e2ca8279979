"""Linear (dense) layer: ``y = x @ w + b`` with ``w`` of shape (in_features, out_features).

>>> import xpgrad as xg
>>> layer = xg.nn.Linear(3, 2, rng=xg.random.default_rng(0))
>>> layer(xg.ones((5, 3))).shape, layer.w.name
((5, 2), 'linear/w')
"""
from __future__ import annotations

from .. import dtypes as _dt
from ..creation import zeros
from ..ops.nn import linear
from ..tensor import Variable
from . import init as _init
from .module import Module


class Linear(Module):
    """Dense layer with Glorot-uniform (``init="glorot"``) or He-normal (``init="he"``) weights.

    ``rng`` is an ``xg.random.Generator`` (or an int seed); the bias starts at zero. Weights are
    created on ``backend`` (default: the generator's backend) with ``dtype`` (default float32).
    Variables are named ``f"{name}/w"`` and ``f"{name}/b"``.
    """

    def __init__(self, in_features: int, out_features: int, *, rng=None, init="glorot",
                 bias: bool = True, dtype=_dt.float32, backend=None, name: str = "linear"):
        super().__init__(name)
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes, got in_features={in_features}, "
                             f"out_features={out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        gen = _init.as_rng(rng, backend)
        w = _init.get(init)(gen, (self.in_features, self.out_features), dtype)
        if backend is not None:
            w = w.to(backend)
        self.w = Variable(w, name=f"{name}/w")
        self.b = (Variable(zeros((self.out_features,), dtype=dtype, backend=w.backend),
                           name=f"{name}/b") if bias else None)

    def forward(self, x):
        return linear(x, self.w, self.b)

    def _extra_repr(self):
        return f", in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.b is not None}"
