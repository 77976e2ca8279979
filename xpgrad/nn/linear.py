"""Linear (dense) layer: ``y = x @ w + b`` with ``w`` of shape (in_features, out_features).

>>> import xpgrad as xg
>>> layer = xg.nn.Linear(3, 2, rng=xg.random.default_rng(0))
>>> layer(xg.ones((5, 3))).shape, layer.w.name
((5, 2), 'linear/w')
"""
from __future__ import annotations

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray, zeros
from ..ops.casting import astype
from ..ops.nn import linear
from ..tensor import Tensor, Variable
from . import _checks
from . import init as _init
from .module import Module


class Linear(Module):
    """Dense layer with Glorot-uniform weights (``init="glorot"``, the default), or any
    initializer of ``xg.nn.init``: a name of ``xg.nn.init.INITIALIZERS`` (``"he"``,
    ``"orthogonal"``, ``"torch_linear_default"``, ...) or a callable ``(rng, shape, dtype)``
    such as ``xg.nn.init.normal(0.0, 0.02)``, given the shape (in_features, out_features).

    ``rng`` is an ``xg.random.Generator`` (or an int seed); the bias starts at zero. Weights are
    created on ``backend`` (default: the generator's backend) with ``dtype`` (default float32).
    Variables are named ``f"{name}/w"`` and ``f"{name}/b"``. The input's last axis must have
    ``in_features`` entries and the weights' dtype (no silent promotion: cast with xg.astype).
    """

    def __init__(self, in_features: int, out_features: int, *, rng=None, init="glorot",
                 bias: bool = True, dtype=_dt.float32, backend=None, name: str = "linear"):
        super().__init__(name)
        bias = flag(bias, "bias", "Linear")
        self.in_features = _checks.size("in_features", in_features, "Linear")
        self.out_features = _checks.size("out_features", out_features, "Linear")
        dtype = _checks.floating_dtype(dtype, "Linear")
        init_fn = _init.get(init)
        gen = _init.as_rng(rng, backend)
        w = initial(init_fn(gen, (self.in_features, self.out_features), dtype),
                    (self.in_features, self.out_features), dtype, gen, init, "Linear",
                    "(in_features, out_features)")
        if backend is not None:
            w = w.to(backend)
        self.w = Variable(w, name=f"{self.name}/w")
        self.b = (Variable(zeros((self.out_features,), dtype=dtype, backend=w.backend),
                           name=f"{self.name}/b") if bias else None)

    def forward(self, x):
        return linear(check_input(x, self.w, "Linear"), self.w, self.b)

    def load_torch_state_dict(self, state_dict) -> None:
        """Copy ``weight`` (out_features, in_features) and ``bias`` from a ``torch.nn.Linear``
        state dict (tensors or arrays): ``w`` gets a row-major copy of the transposed weight.
        A missing key, a bias for ``bias=False``, another shape or values that are not real
        numbers raise ValueError before anything changes."""
        import numpy as np

        from ._torch import load_checked

        expected = {"weight": (self.out_features, self.in_features)}
        if self.b is not None:
            expected["bias"] = (self.out_features,)
        values = load_checked(self, state_dict, expected, known=("weight", "bias"))
        targets = [self.w] + ([self.b] if self.b is not None else [])
        for variable, value in zip(targets, [np.ascontiguousarray(values[0].T)] + values[1:]):
            variable.assign(asarray(value, dtype=variable.dtype).to(variable.backend))

    def torch_state_dict(self) -> dict:
        """``{"weight": (out, in), "bias": (out,)}`` as NumPy arrays (the bias if this layer has
        one), for ``torch.nn.Linear.load_state_dict``."""
        from ._torch import host

        out = {"weight": host(self.w).T.copy()}
        if self.b is not None:
            out["bias"] = host(self.b)
        return out

    def _extra_repr(self):
        return f", in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.b is not None}"


def initial(w, shape, dtype, gen, init, owner, layout):
    """What an initializer returned, as a Tensor of ``shape`` and ``dtype`` (a custom one may
    return an array or another float dtype); a wrong shape is a ValueError naming ``init``,
    ``owner`` (the layer) and ``layout`` (what the axes are)."""
    if not isinstance(w, Tensor):
        w = asarray(w, dtype=dtype, backend=gen.backend)
    if w.shape != shape:
        raise ValueError(f"{owner}: init {init!r} returned shape {w.shape}, expected {shape} "
                         f"{layout}")
    return w if w.dtype == dtype else astype(w, dtype)


def check_input(x, w, owner):
    """``x`` as a Tensor fitting weights ``w`` (in, out): at least 1-D, last axis ``in``, the
    weights' dtype; ValueError/TypeError naming ``owner`` otherwise."""
    if not isinstance(x, Tensor):
        x = asarray(x, dtype=w.dtype, backend=w.backend)
    xd, wd = x._data, w._data                       # raw arrays: this runs every step
    n_in = wd.shape[0]
    if xd.ndim < 1 or xd.shape[-1] != n_in:
        raise ValueError(f"{owner} expects input of shape (..., in_features) with "
                         f"in_features={n_in}, got shape {x.shape}")
    if xd.dtype != wd.dtype and x.dtype != w.dtype:
        raise TypeError(f"{owner} has {w.dtype} weights but got a {x.dtype} input; cast it "
                        "with xg.astype (no silent promotion)")
    return x
