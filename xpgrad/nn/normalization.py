"""LayerNorm: normalize each sample over its last axes, then scale and shift (PyTorch's
``nn.LayerNorm``).

>>> import xpgrad as xg
>>> norm = xg.nn.LayerNorm(4)
>>> norm(xg.ones((2, 3, 4))).shape, [v.name for v in norm.trainable_variables]
((2, 3, 4), ['layer_norm/weight', 'layer_norm/bias'])
"""
from __future__ import annotations

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray, ones, zeros
from ..ops.nn import _eps, _normalized_shape, check_normalized_input, layer_norm
from ..tensor import Tensor, Variable
from . import _checks
from ._torch import host, load_checked
from .module import Module


class LayerNorm(Module):
    """``LayerNorm(normalized_shape)``: ``(x - mean) / sqrt(var + eps) * weight + bias``, the
    mean and (biased) variance over the input's last axes, those of ``normalized_shape`` (an
    int or a tuple).

    ``weight`` (ones) and ``bias`` (zeros), of shape ``normalized_shape``, are trained when
    ``elementwise_affine`` (``bias=False``: no bias), named ``f"{name}/weight"`` and
    ``f"{name}/bias"``. The input must have the weights' dtype (no silent promotion).
    ``load_torch_state_dict`` / ``torch_state_dict`` convert ``torch.nn.LayerNorm``'s.

    >>> import xpgrad as xg
    >>> y = xg.nn.LayerNorm(2, elementwise_affine=False)(xg.asarray([[1.0, 3.0]]))
    >>> [round(v, 3) for v in y.tolist()[0]]
    [-1.0, 1.0]
    """

    def __init__(self, normalized_shape, *, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=_dt.float32, backend=None, name="layer_norm"):
        super().__init__(name)
        who = type(self).__name__
        self.normalized_shape = _normalized_shape(normalized_shape, who)
        self.eps = _eps(eps, who)
        self.elementwise_affine = flag(elementwise_affine, "elementwise_affine", who)
        bias = flag(bias, "bias", who)
        self._dtype = _checks.floating_dtype(dtype, who)
        self._backend = backend
        self.weight = self.bias = None
        if self.elementwise_affine:
            self.weight = Variable(ones(self.normalized_shape, dtype=self._dtype,
                                        backend=backend), name=f"{self.name}/weight")
            if bias:
                self.bias = Variable(zeros(self.normalized_shape, dtype=self._dtype,
                                           backend=self.weight.backend),
                                     name=f"{self.name}/bias")

    def forward(self, x):
        who = type(self).__name__
        ref = self.weight
        if not isinstance(x, Tensor):
            x = asarray(x, dtype=self._dtype,
                        backend=self._backend if ref is None else ref.backend)
        check_normalized_input(x, self.normalized_shape, who)
        if ref is not None and x.dtype != ref.dtype:
            raise TypeError(f"{who} has {ref.dtype} weights but got a {x.dtype} input; cast "
                            "it with xg.astype")
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    # -- PyTorch interoperability --------------------------------------------------------------
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy ``weight`` and ``bias`` from a ``torch.nn.LayerNorm`` state dict (tensors or
        arrays; the keys this layer has); a missing key, one this layer lacks (a bias for
        ``bias=False``), another shape or values that are not real numbers raise ValueError."""
        mine = {k: v for k, v in (("weight", self.weight), ("bias", self.bias)) if v is not None}
        values = load_checked(self, state_dict, {k: v.shape for k, v in mine.items()},
                              known=("weight", "bias"))
        for variable, value in zip(mine.values(), values):
            variable.assign(value)

    def torch_state_dict(self) -> dict:
        """``{"weight": ..., "bias": ...}`` as NumPy arrays (those this layer has)."""
        return {k: host(v) for k, v in (("weight", self.weight), ("bias", self.bias))
                if v is not None}

    def _extra_repr(self):
        return (f", normalized_shape={self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


__all__ = ["LayerNorm"]
