"""Linear (dense) layer: ``y = x @ w + b`` with ``w`` of shape (in_features, out_features).

>>> import xpgrad as xg
>>> layer = xg.nn.Linear(3, 2, rng=xg.random.default_rng(0))
>>> layer(xg.ones((5, 3))).shape, layer.w.name
((5, 2), 'linear/w')
"""
from __future__ import annotations

import itertools

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray, zeros
from ..jit.capture import THREAD as _TRACES, guard_value, note_write
from ..ops.linalg import matrix_transpose
from ..ops.nn import linear
from ..tensor import Tensor, Variable
from . import _checks, _initial
from . import init as _init
from .module import Module
from ._torch_strict import strict_option


#: weight versions: each new w (or tie) of a Linear takes the next, never reused
_WEIGHTS = itertools.count(1)


class Linear(Module):
    """Dense layer with Glorot-uniform weights (``init="glorot"``, the default), or any
    initializer of ``xg.nn.init``: a name of ``xg.nn.init.INITIALIZERS`` (``"he"``,
    ``"orthogonal"``, ``"torch_linear_default"``, ...) or a callable ``(rng, shape, dtype)``
    such as ``xg.nn.init.normal(0.0, 0.02)``, given the shape (in_features, out_features).

    ``rng`` is an ``xg.random.Generator`` (or an int seed). The bias starts at zero, or as
    ``bias_init`` draws it (a name or callable as ``init``, given the shape (out_features,);
    one taking a keyword ``fan_in`` also gets ``in_features``, so
    ``init="torch_linear_default", bias_init="torch_linear_default"`` draws both as
    ``torch.nn.Linear``: U(+-1/sqrt(in_features)), the weights first); ``bias_init`` with
    ``bias=False`` is a ValueError. Weights are created on ``backend`` (default: the
    generator's backend) with ``dtype`` (default float32). Variables are named
    ``f"{name}/w"`` and ``f"{name}/b"``. The input's last axis must have ``in_features``
    entries; a Tensor input must have the weights' dtype (no silent promotion: cast with
    xg.astype), while a NumPy array or list is converted to it, as Keras converts. Assigning
    ``layer.w`` or ``layer.b`` takes an ``xg.Variable`` of its shape, the other one's dtype and
    the layer's backend (``b`` also None: no bias); anything else is refused (TypeError or
    ValueError naming it), as a tied ``weight`` is.

    ``layer.weight = variable`` ties the layer to a Variable in PyTorch's layout
    (out_features, in_features), as ``decoder.weight = encoder.weight`` ties a language
    model's read-out to its ``Embedding``: the layer computes ``x @ weight.T + b``, ``w``
    becomes None and the tied Variable is the layer's ``weight`` (its gradient is the sum of
    every use's, as in PyTorch). Reading ``weight`` of an untied layer raises AttributeError;
    assigning ``layer.w`` a Variable of its own unties it. The tied Variable must live on the
    layer's backend (TypeError naming both otherwise: it is shared, never copied). Under
    ``xg.function`` the layer's weights are guarded: a call after it was tied, untied or given
    a new ``w`` traces anew (as a ``ModuleList``'s items), rather than replaying the old ones.

    >>> import xpgrad as xg
    >>> enc, dec = xg.nn.Embedding(10, 4, rng=0), xg.nn.Linear(4, 10, rng=1)
    >>> dec.weight = enc.weight
    >>> dec(enc(xg.asarray([[1, 2]]))).shape, list(dec.named_variables())
    ((1, 2, 10), ['linear/b', 'linear/weight'])
    >>> torch_like = xg.nn.Linear(16, 4, init="torch_linear_default",
    ...                           bias_init="torch_linear_default", rng=0)
    >>> bool(abs(torch_like.b).max().item() <= 0.25)
    True
    """

    _weights = 0    # the version of w / weight (a Linear pickled before versions: 0)
    _TORCH_ORDER = ("in_features", "out_features", "bias")

    def __init__(self, in_features: int, out_features: int, *, rng=None, init="glorot",
                 bias: bool = True, bias_init=None, dtype=_dt.float32, backend=None,
                 name: str = "linear"):
        super().__init__(name)
        bias = flag(bias, "bias", "Linear")
        self.in_features = _checks.count("in_features", in_features, "Linear")
        self.out_features = _checks.count("out_features", out_features, "Linear")
        dtype = _checks.floating_dtype(dtype, "Linear")
        init_fn = _initial.resolve(init, "init", "Linear")
        bias_fn = bias_initializer(bias_init, bias, "Linear")
        gen = _init.as_rng(rng, backend)
        shape = (self.in_features, self.out_features)
        w = _initial.draw(init_fn, init, "init", gen, shape, dtype, "Linear",
                          "(in_features, out_features)")
        if backend is not None:
            w = w.to(backend)
        self.w = Variable(w, name=f"{self.name}/w")
        self.b = None
        if bias:
            if bias_fn is None:
                b = zeros((self.out_features,), dtype=dtype, backend=w.backend)
            else:
                b = _initial.draw(bias_fn, bias_init, "bias_init", gen, (self.out_features,),
                                  dtype, "Linear", "(out_features,)",
                                  fan_in=self.in_features).to(w.backend)
            self.b = Variable(b, name=f"{self.name}/b")

    @property
    def w(self):
        return self.__dict__["w"]

    @w.setter
    def w(self, value):
        # kept in the instance dict under its own name, where named_variables finds it
        shape = (self.in_features, self.out_features)
        if value is not None and not isinstance(value, Variable):
            raise TypeError(f"Linear.w: an xg.Variable of shape {shape} (in_features, "
                            f"out_features), got {type(value).__name__}, which would not be "
                            "trained; to tie the layer to an Embedding use PyTorch's line, "
                            "dec.weight = enc.weight")
        if value is None and self.__dict__.get("weight") is None:
            raise TypeError(f"Linear.w: an xg.Variable of shape {shape} (in_features, "
                            "out_features), got None (the layer would have no weights)")
        if value is not None and value.shape != shape:
            raise ValueError(f"Linear.w: (in_features, out_features) = {shape}, got "
                             f"{value.shape} (torch's layout goes to Linear.weight)")
        if value is not None:
            bias = self.__dict__.get("b")
            if bias is not None and value.dtype != bias.dtype:
                raise TypeError(f"Linear.w: the layer's bias is {bias.dtype}, the Variable "
                                f"{value.dtype} (no silent promotion: build both with one "
                                "dtype, or set b = None first)")
            self._check_backend(value, "w")
            self.__dict__.pop("weight", None)     # a weight of its own unties the layer
        self.__dict__["w"] = value
        if _TRACES.tracer is not None:
            note_write(self, "_weights")
        self.__dict__["_weights"] = next(_WEIGHTS)

    def __dir__(self):
        names = super().__dir__()      # weight only while tied: reading it otherwise raises
        return names if self.__dict__.get("weight") is not None else \
            [n for n in names if n != "weight"]

    @property
    def weight(self):
        tied = self.__dict__.get("weight")
        if tied is None:     # Module.__getattr__ says where xpgrad keeps it
            raise AttributeError("weight")
        return tied

    @weight.setter
    def weight(self, value):
        shape = (self.out_features, self.in_features)
        if not isinstance(value, Variable):
            raise TypeError(f"Linear.weight: ties the layer to an xg.Variable of shape {shape} "
                            f"(PyTorch's layout), got {type(value).__name__}")
        dtype = (self.w if self.w is not None else self.weight).dtype
        if value.shape != shape:
            raise ValueError(f"Linear.weight: a tied weight has torch's layout (out_features, "
                             f"in_features) = {shape}, got {value.shape}; this layer's own w "
                             f"is (in_features, out_features) = {shape[::-1]}")
        if value.dtype != dtype:
            raise TypeError(f"Linear.weight: the layer is {dtype}, the Variable {value.dtype} "
                            "(no silent promotion: build both with one dtype)")
        self._check_backend(value, "weight")
        self.__dict__["weight"] = value
        self.w = None

    def __setattr__(self, name, value):
        if name == "b" and value is not None:
            self._check_bias(value)
        super().__setattr__(name, value)

    def _check_bias(self, value):
        """As ``w`` and ``weight`` are checked: a new bias ``b`` is None or an xg.Variable of
        shape (out_features,), the weights' dtype (a float64 bias would silently make a
        float32 layer's output float64) and their backend."""
        shape = (self.out_features,)
        if not isinstance(value, Variable):
            if isinstance(self.__dict__.get("b"), Variable):
                return          # Module.__setattr__ names the Variable it would drop
            raise TypeError(f"Linear.b: an xg.Variable of shape {shape} (out_features,) or "
                            f"None, got {type(value).__name__}, which would not be trained")
        if value.shape != shape:
            raise ValueError(f"Linear.b: (out_features,) = {shape}, got {value.shape}")
        weights = self.__dict__.get("w")
        weights = self.__dict__.get("weight") if weights is None else weights
        if weights is not None and value.dtype != weights.dtype:
            raise TypeError(f"Linear.b: the layer is {weights.dtype}, the Variable "
                            f"{value.dtype} (no silent promotion: build both with one dtype)")
        self._check_backend(value, "b")

    def _check_backend(self, value, name):
        """TypeError naming both backends when Variable ``value`` (the new ``w`` or tied
        ``weight``) lives on another backend than the layer's other weights: a tied Variable
        is shared, never copied."""
        own = [v for v in (self.__dict__.get("w"), self.__dict__.get("weight"),
                           self.__dict__.get("b")) if v is not None and v is not value]
        if own and own[0].backend.name != value.backend.name:
            raise TypeError(f"Linear.{name}: the layer is on backend {own[0].backend.name!r}, "
                            f"the Variable on {value.backend.name!r}; a tied or assigned "
                            "weight is used as it is, never copied: build both layers with "
                            "one backend=")

    def _kernel(self):
        """(in, out) weights: ``w``, or the tied ``weight`` transposed (on the tape). Under
        ``xg.function`` the read is a guard: a call after the layer was tied, untied or given
        a new ``w`` traces anew rather than replaying the old Variable."""
        if _TRACES.tracer is not None:
            guard_value(self, "_weights", self._weights)
        return self.w if self.w is not None else matrix_transpose(self.weight)

    def forward(self, x):
        return self.forward_activated(x, None)

    def forward_activated(self, x, activation):
        """``forward(x)`` with ``activation`` applied (as ``xg.nn.linear``'s): a container
        applying relu, tanh or sigmoid after this layer gets both as one primitive."""
        # _kernel's usual case inline (untraced, own weights): this runs every step
        w = self.__dict__["w"] if _TRACES.tracer is None else None
        if w is None:
            w = self._kernel()
        return linear(check_input(x, w, "Linear"), w, self.b, activation)

    @strict_option
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
        values = load_checked(self, state_dict, expected)
        tied = self.w is None
        targets = [self.weight if tied else self.w] + ([self.b] if self.b is not None else [])
        first = values[0] if tied else np.ascontiguousarray(values[0].T)
        for variable, value in zip(targets, [first] + values[1:]):
            variable.assign(asarray(value, dtype=variable.dtype).to(variable.backend))

    def torch_state_dict(self) -> dict:
        """``{"weight": (out, in), "bias": (out,)}`` as NumPy arrays (the bias if this layer has
        one), for ``torch.nn.Linear.load_state_dict``."""
        from ._torch import host

        out = {"weight": host(self.weight) if self.w is None else host(self.w).T.copy()}
        if self.b is not None:
            out["bias"] = host(self.b)
        return out

    def _extra_repr(self):
        return f", in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.b is not None}"


def bias_initializer(bias_init, bias, owner):
    """The initializer of a layer's ``bias_init`` (None: the layer's default); ValueError
    naming ``bias_init`` when the layer has no bias (``bias=False``)."""
    if bias_init is None:
        return None
    if not bias:
        raise ValueError(f"{owner}: bias_init={_initial._label(bias_init)} was given but "
                         "bias=False: the layer has no bias to initialize")
    return _initial.resolve(bias_init, "bias_init", owner)


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
