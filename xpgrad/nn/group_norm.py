"""GroupNorm and InstanceNorm1d/2d/3d as PyTorch's: each sample's channels normalized in
groups (``group_norm``, ``nn.GroupNorm``) or one by one (``nn.InstanceNorm1d`` ...) over the
spatial axes, both through the ``group_norm`` primitive (``xpgrad.ops.group_norm``: one joint
rule, fused kernels on numpy and numba); InstanceNorm's evaluation with running statistics is
composed of plain operations (every gradient exact, the statistics' too).

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 3.0], [5.0, 9.0]]])               # (N, C, L)
>>> [[round(v, 3) for v in row] for row in xg.nn.group_norm(x, 2).tolist()[0]]
[[-1.0, 1.0], [-1.0, 1.0]]
"""
from __future__ import annotations

import math
import warnings

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray, ones, zeros
from ..ops.elementwise import sqrt
from ..ops.group_norm import as_input, group_norm
from ..ops.nn import _eps
from ..ops.reductions import mean, var
from ..ops.shape import reshape
from ..tape import stop_gradient
from ..tensor import Tensor, Variable
from . import _checks
from ._torch import host, load_checked
from .module import Module
from .normalization import channel_layer, optional_counter
from ._torch_strict import strict_option


def _tensor(x, owner, like=None):
    return as_input(x, owner, like)


def _normalize(x, eps, stats):
    """``x`` normalized by ``stats`` = (mean, var) broadcastable to it."""
    return (x - stats[0]) / sqrt(stats[1] + eps)


def _affine(y, weight, bias, owner):
    """``y`` (N, C, *) times ``weight`` plus ``bias``, each (C,) or None, per channel."""
    shape = (y.shape[1],) + (1,) * (y.ndim - 2)
    for name, v in (("weight", weight), ("bias", bias)):
        if v is None:
            continue
        if not isinstance(v, Tensor):
            v = asarray(v, dtype=y.dtype, backend=y.backend)
        if v.shape != (y.shape[1],):
            raise ValueError(f"{owner}: {name} must have shape (C,) = ({y.shape[1]},), got "
                             f"{v.shape}")
        if v.dtype != y.dtype:
            raise TypeError(f"{owner}: {name} is {v.dtype} but the input is {y.dtype}; cast "
                            "with xg.astype")
        y = y * reshape(v, shape) if name == "weight" else y + reshape(v, shape)
    return y


class GroupNorm(Module):
    """``GroupNorm(num_groups, num_channels, eps=1e-5, affine=True)``, PyTorch's: ``group_
    norm(x, num_groups, weight, bias, eps)`` over (N, C, *), C = ``num_channels`` (which
    ``num_groups`` divides); ``weight`` (ones) and ``bias`` (zeros), (C,), trained when
    ``affine`` (``f"{name}/weight"``, ``f"{name}/bias"``). The same in training and eval mode
    (no running statistics). ``load_torch_state_dict`` / ``torch_state_dict`` convert
    ``torch.nn.GroupNorm``'s. ``num_channels`` may be 0 (empty parameters and output). Over
    no positions (N, C, 0) the weight's gradient is 0, where PyTorch's is NaN: nothing depends
    on the weight there (0, as PyTorch's own InstanceNorm and LayerNorm give).

    >>> import xpgrad as xg
    >>> norm = xg.nn.GroupNorm(2, 6)
    >>> norm(xg.ones((2, 6, 5))).shape, [v.name for v in norm.trainable_variables]
    ((2, 6, 5), ['group_norm/weight', 'group_norm/bias'])
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, dtype=_dt.float32,
                 backend=None, name="group_norm"):
        super().__init__(name)
        who = type(self).__name__
        self.num_groups = _checks.size("num_groups", num_groups, who)
        self.num_channels = _checks.count("num_channels", num_channels, who)
        if self.num_channels % self.num_groups:
            raise ValueError(f"{who}: num_channels ({self.num_channels}) must be divisible by "
                             f"num_groups ({self.num_groups})")
        self.eps = _eps(eps, who)
        self.affine = flag(affine, "affine", who)
        self._dtype = _checks.floating_dtype(dtype, who)
        self._backend = backend
        self.weight = self.bias = None
        if self.affine:
            c = (self.num_channels,)
            self.weight = Variable(ones(c, dtype=self._dtype, backend=backend),
                                   name=f"{self.name}/weight")
            self.bias = Variable(zeros(c, dtype=self._dtype, backend=self.weight.backend),
                                 name=f"{self.name}/bias")

    def forward(self, x):
        who = type(self).__name__
        x = _checked(self, x, self.num_channels, who)
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy ``weight`` and ``bias`` from a ``torch.nn.GroupNorm`` state dict (those this
        layer has); a missing or unknown key, another shape: ValueError, nothing changed."""
        _load(self, state_dict, ("weight", "bias"))

    def torch_state_dict(self) -> dict:
        """``{"weight": ..., "bias": ...}`` as NumPy arrays (with ``affine``)."""
        return _state(self, ("weight", "bias"))

    def _extra_repr(self):
        return (f", num_groups={self.num_groups}, num_channels={self.num_channels}, "
                f"eps={self.eps}, affine={self.affine}")


def _checked(layer, x, channels, who):
    """``x`` as a Tensor of the layer's dtype with ``channels`` channels (axis 1)."""
    if not isinstance(x, Tensor):
        x = asarray(x, dtype=layer._dtype, backend=layer._backend)
    x = _tensor(x, who)
    if x.shape[1] != channels:
        raise ValueError(f"{who}: the input has {x.shape[1]} channels (axis 1, shape "
                         f"{x.shape}) but the layer was made for {channels}")
    if x.dtype != layer._dtype:
        raise _checks.input_dtype_error(x, layer._dtype, who)
    return x


def _load(layer, state_dict, keys):
    from ._torch_tree import counter_optional

    mine = {k: v for k in keys if (v := getattr(layer, k)) is not None}
    if "num_batches_tracked" in mine and "num_batches_tracked" not in state_dict \
            and counter_optional(state_dict):
        mine.pop("num_batches_tracked")
    values = load_checked(layer, state_dict, {k: v.shape for k, v in mine.items()})
    for variable, value in zip(mine.values(), values):
        variable.assign(value)


def _state(layer, keys):
    return {k: host(v) for k in keys if (v := getattr(layer, k)) is not None}


_INSTANCE_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


class _InstanceNorm(Module):
    """InstanceNorm1d/2d/3d: ``dims`` spatial axes, batched or not."""

    dims = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, *, dtype=_dt.float32, backend=None,
                 name="instance_norm"):
        super().__init__(name)
        channel_layer(self, num_features, eps, _eps, momentum, affine, track_running_stats,
                      dtype, backend)

    def forward(self, x):
        who, dims = type(self).__name__, self.dims
        if not isinstance(x, Tensor):
            x = asarray(x, dtype=self._dtype, backend=self._backend)
        if x.ndim not in (dims + 1, dims + 2):
            raise ValueError(f"{who}: expected {dims + 2}-D (N, C, ...) or unbatched "
                             f"{dims + 1}-D (C, ...) input, got shape {x.shape}")
        unbatched = x.ndim == dims + 1
        if unbatched:
            x = reshape(x, (1,) + x.shape)
        if x.shape[1] != self.num_features:
            if self.affine or self.track_running_stats:
                raise ValueError(f"{who}: the input has {x.shape[1]} channels (axis 1, "
                                 f"shape {x.shape}) but num_features = {self.num_features}")
            warnings.warn(f"{who}: input has {x.shape[1]} channels but num_features = "
                          f"{self.num_features}; with affine=False and no running stats "
                          "this is ignored (as PyTorch)", stacklevel=2)
        x = _checked(self, x, x.shape[1], who)
        training = flag(self.training, "training", who)
        if self.track_running_stats and not training:
            shape = (1, x.shape[1], 1)
            flat = reshape(x, x.shape[:2] + (math.prod(x.shape[2:]),))  # not -1: N may be 0
            stats = reshape(self.running_mean, shape), reshape(self.running_var, shape)
            y = _affine(reshape(_normalize(flat, self.eps, stats), x.shape), self.weight,
                        self.bias, who)
        else:
            if math.prod(x.shape[2:]) == 1:
                raise ValueError(f"{who}: expected more than 1 spatial element when using "
                                 f"the input's statistics (as PyTorch), got shape {x.shape}")
            if self.track_running_stats:
                self._update(reshape(x, x.shape[:2] + (math.prod(x.shape[2:]),)))
            # one channel a group: the group_norm primitive (its kernels, its joint rule)
            y = group_norm(x, max(x.shape[1], 1), self.weight, self.bias, self.eps)
        return reshape(y, y.shape[1:]) if unbatched else y

    def _update(self, flat):
        """PyTorch's update: the running statistics move by ``momentum`` towards the batch
        average of each instance's mean and unbiased variance (``momentum=None`` is 0 there,
        and ``num_batches_tracked`` stays 0: PyTorch's ``F.instance_norm`` takes neither). An
        empty batch leaves them as they are (PyTorch's turn NaN), as BatchNorm's, and so do
        instances of no positions (as PyTorch's)."""
        from ..recompute import recomputing

        if recomputing() or self.momentum is None or flat.shape[0] == 0 or flat.shape[2] == 0:
            return
        m = self.momentum
        data = stop_gradient(flat)
        batch_var = var(data, axis=-1, correction=1)
        self.running_mean.assign(self.running_mean * (1 - m) + mean(mean(data, axis=-1),
                                                                    axis=0) * m)
        self.running_var.assign(self.running_var * (1 - m) + mean(batch_var, axis=0) * m)

    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy a ``torch.nn.InstanceNorm*d`` state dict (the keys this layer has:
        ``weight``/``bias`` with ``affine``, ``running_mean``/``running_var``/
        ``num_batches_tracked`` with ``track_running_stats``); other keys or shapes:
        ValueError, nothing changed."""
        _load(self, state_dict, _INSTANCE_KEYS)

    def _torch_expected(self, given):
        return optional_counter(self, given)

    def torch_state_dict(self) -> dict:
        """The keys PyTorch's layer has, as NumPy arrays."""
        return _state(self, _INSTANCE_KEYS)

    def _extra_repr(self):
        return (f", num_features={self.num_features}, eps={self.eps}, momentum="
                f"{self.momentum}, affine={self.affine}, track_running_stats="
                f"{self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """``InstanceNorm1d(num_features, eps=1e-5, momentum=0.1, affine=False,
    track_running_stats=False)``, PyTorch's: each channel of each sample of (N, C, L) or
    (C, L) normalized over L by its mean and biased variance, then scaled and shifted per
    channel with ``affine`` (``weight`` ones, ``bias`` zeros). With ``track_running_stats``,
    training mode also moves ``running_mean`` / ``running_var`` (non-trainable) towards the
    batch average of the instances' means and unbiased variances by ``momentum`` (PyTorch's
    ``momentum=None`` moves nothing, and ``num_batches_tracked`` stays 0, as there), and
    eval mode normalizes with them.

    >>> import xpgrad as xg
    >>> y = xg.nn.InstanceNorm1d(2)(xg.asarray([[1.0, 3.0], [2.0, 6.0]]))
    >>> [[round(v, 3) for v in row] for row in y.tolist()]
    [[-1.0, 1.0], [-1.0, 1.0]]
    """

    dims = 1


class InstanceNorm2d(_InstanceNorm):
    """``InstanceNorm2d(num_features, ...)``, PyTorch's: ``InstanceNorm1d`` over (N, C, H, W)
    or (C, H, W), each channel of each sample normalized over H and W.

    >>> import xpgrad as xg
    >>> xg.nn.InstanceNorm2d(3, affine=True)(xg.ones((2, 3, 4, 4))).shape
    (2, 3, 4, 4)
    """

    dims = 2


class InstanceNorm3d(_InstanceNorm):
    """``InstanceNorm3d(num_features, ...)``, PyTorch's: ``InstanceNorm1d`` over (N, C, D, H,
    W) or (C, D, H, W).

    >>> import xpgrad as xg
    >>> xg.nn.InstanceNorm3d(2)(xg.ones((1, 2, 2, 3, 3))).shape
    (1, 2, 2, 3, 3)
    """

    dims = 3


__all__ = ["group_norm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]
