"""LayerNorm: normalize each sample over its last axes, then scale and shift (PyTorch's
``nn.LayerNorm``); RMSNorm: divide each sample by its root mean square over its last axes, then
scale (``nn.RMSNorm``); BatchNorm1d: normalize each channel over the batch (``nn.BatchNorm1d``).

>>> import xpgrad as xg
>>> norm = xg.nn.LayerNorm(4)
>>> norm(xg.ones((2, 3, 4))).shape, [v.name for v in norm.trainable_variables]
((2, 3, 4), ['layer_norm/weight', 'layer_norm/bias'])
"""
from __future__ import annotations

import math

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray, ones, zeros
from ..ops.casting import astype
from ..ops import batch_norm as _bn
from ..ops.nn import _eps, _normalized_shape, check_normalized_input, layer_norm
from ..ops.rms_norm import machine_eps, rms_norm
from ..recompute import recomputing
from ..tensor import Tensor, Variable
from . import _checks
from ._torch import host, load_checked
from .module import Module
from ._torch_strict import strict_option



def _layer_input(layer, x):
    """``x`` as a tensor for ``LayerNorm``/``RMSNorm`` ``layer``: its trailing shape checked,
    its dtype the weights'."""
    who = type(layer).__name__
    ref = layer.weight
    if not isinstance(x, Tensor):
        x = asarray(x, dtype=layer._dtype, backend=layer._backend if ref is None else ref.backend)
    check_normalized_input(x, layer.normalized_shape, who)
    if ref is not None and x.dtype != ref.dtype:
        raise _checks.input_dtype_error(x, ref.dtype, who)
    return x

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

    _TORCH_ORDER = ("normalized_shape", "eps", "elementwise_affine", "bias")

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
        x = _layer_input(self, x)
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    # -- PyTorch interoperability --------------------------------------------------------------
    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy ``weight`` and ``bias`` from a ``torch.nn.LayerNorm`` state dict (tensors or
        arrays; the keys this layer has); a missing key, one this layer lacks (a bias for
        ``bias=False``), another shape or values that are not real numbers raise ValueError."""
        mine = {k: v for k, v in (("weight", self.weight), ("bias", self.bias)) if v is not None}
        values = load_checked(self, state_dict, {k: v.shape for k, v in mine.items()})
        for variable, value in zip(mine.values(), values):
            variable.assign(value)

    def torch_state_dict(self) -> dict:
        """``{"weight": ..., "bias": ...}`` as NumPy arrays (those this layer has)."""
        return {k: host(v) for k, v in (("weight", self.weight), ("bias", self.bias))
                if v is not None}

    def _extra_repr(self):
        return (f", normalized_shape={self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class RMSNorm(Module):
    """``RMSNorm(normalized_shape)``: ``x / sqrt(mean(x ** 2) + eps) * weight``, the mean over
    the input's last axes, those of ``normalized_shape`` (an int or a tuple): PyTorch's
    ``nn.RMSNorm``. ``eps=None`` (the default) is the input dtype's machine epsilon
    (``xg.finfo(dtype).eps``), as PyTorch's.

    ``weight`` (ones, of shape ``normalized_shape``, named ``f"{name}/weight"``) is trained
    when ``elementwise_affine``. The input must have the weight's dtype (no silent promotion).
    ``load_torch_state_dict`` / ``torch_state_dict`` convert ``torch.nn.RMSNorm``'s.

    >>> import xpgrad as xg
    >>> norm = xg.nn.RMSNorm(2)
    >>> [round(v, 3) for v in norm(xg.asarray([[3.0, 4.0]])).tolist()[0]], norm.weight.name
    ([0.849, 1.131], 'rms_norm/weight')
    """

    def __init__(self, normalized_shape, *, eps=None, elementwise_affine=True,
                 dtype=_dt.float32, backend=None, name="rms_norm"):
        super().__init__(name)
        who = type(self).__name__
        self.normalized_shape = _normalized_shape(normalized_shape, who)
        self.eps = None if eps is None else _eps(eps, who)
        self.elementwise_affine = flag(elementwise_affine, "elementwise_affine", who)
        self._dtype = _checks.floating_dtype(dtype, who)
        self._backend = backend
        self.weight = None
        if self.elementwise_affine:
            self.weight = Variable(ones(self.normalized_shape, dtype=self._dtype,
                                        backend=backend), name=f"{self.name}/weight")

    def forward(self, x):
        x = _layer_input(self, x)
        return rms_norm(x, self.normalized_shape, self.weight,
                        machine_eps(self.eps, x, type(self).__name__))

    # -- PyTorch interoperability --------------------------------------------------------------
    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy ``weight`` from a ``torch.nn.RMSNorm`` state dict (a tensor or array; none for
        ``elementwise_affine=False``); a missing key, one this layer lacks, another shape or
        values that are not real numbers raise ValueError."""
        mine = {} if self.weight is None else {"weight": self.weight}
        values = load_checked(self, state_dict, {k: v.shape for k, v in mine.items()})
        for variable, value in zip(mine.values(), values):
            variable.assign(value)

    def torch_state_dict(self) -> dict:
        """``{"weight": NumPy array}`` (empty for ``elementwise_affine=False``)."""
        return {} if self.weight is None else {"weight": host(self.weight)}

    def _extra_repr(self):
        return (f", normalized_shape={self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


def optional_counter(layer, given) -> tuple:
    """``_torch_tree.expected_state`` of a BatchNorm or InstanceNorm: its torch keys, of
    which ``num_batches_tracked`` may be left out of ``given`` when it carries no torch
    version 2 for the layer (``_torch_tree.counter_optional``: PyTorch's ``load_state_dict``
    keeps the layer's count then)."""
    from ._torch_tree import counter_optional

    required = layer.torch_state_dict()
    optional = {"num_batches_tracked"} & set(required) if counter_optional(given) else set()
    return {k: v for k, v in required.items() if k not in optional}, optional


class _BatchNorm(Module):
    """What BatchNorm1d, BatchNorm2d and BatchNorm3d share (PyTorch's ``_BatchNorm``): the
    state, the update and the conversions; each subclass says which inputs it takes."""

    _ndims, _layout = (), "an (N, C, ...)"        # the inputs it takes: () any from 2 axes

    _TORCH_ORDER = ("num_features", "eps", "momentum", "affine", "track_running_stats")

    def __init__(self, num_features, *, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=_dt.float32, backend=None,
                 name="batch_norm"):
        super().__init__(name)
        channel_layer(self, num_features, eps, _bn._positive, momentum, affine,
                      track_running_stats, dtype, backend)

    def forward(self, x):
        who = type(self).__name__
        x = self._input(x)
        training = flag(self.training, "training", who)
        batch = training or not self.track_running_stats
        stats = (self.running_mean, self.running_var) if self.track_running_stats else (None,
                                                                                         None)
        momentum = self.momentum
        if training and self.track_running_stats and x.shape[0] * math.prod(x.shape[2:]) != 1:
            momentum = self._count_batch(x.dtype)
        return _bn.normalize(x, *stats, self.weight, self.bias, batch,
                             0.0 if momentum is None else momentum, self.eps, who)

    def _count_batch(self, dtype):
        """Count a training batch in ``num_batches_tracked`` (not again while
        ``recompute_grad`` reruns the block) and return the momentum of its update: the
        cumulative average's ``1 / num_batches_tracked`` for ``momentum=None``."""
        if not recomputing():             # the forward pass counted this batch
            self.num_batches_tracked.assign_add(1)
        if self.momentum is None:         # a Tensor: xg.function replays the division
            return 1.0 / astype(self.num_batches_tracked, dtype)
        return self.momentum

    def _input(self, x):
        """``x`` as a Tensor, checked: ``_ndims`` axes (any from 2 when empty; BatchNorm1d:
        (N, C) or (N, C, L)), C = num_features, this layer's dtype."""
        who = type(self).__name__
        if not isinstance(x, Tensor):
            x = asarray(x, dtype=self._dtype, backend=self._backend if self.weight is None
                        else self.weight.backend)
        if x.ndim < 2 or (self._ndims and x.ndim not in self._ndims):
            raise ValueError(f"{who}: expected {self._layout} input, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{who}: the input has {x.shape[1]} channels (axis 1, shape "
                             f"{x.shape}) but num_features = {self.num_features}")
        if x.dtype != self._dtype:
            raise _checks.input_dtype_error(x, self._dtype, who)
        return x

    def reset_running_stats(self) -> None:
        """PyTorch's: ``running_mean`` back to zeros, ``running_var`` to ones,
        ``num_batches_tracked`` to 0 (nothing without ``track_running_stats``).

        >>> import xpgrad as xg
        >>> bn = xg.nn.BatchNorm1d(1)
        >>> _ = bn(xg.asarray([[1.0], [3.0]]))
        >>> bn.reset_running_stats()
        >>> bn.running_mean.tolist(), bn.running_var.tolist(), bn.num_batches_tracked.item()
        ([0.0], [1.0], 0)
        """
        if self.track_running_stats:
            _refill(zeros, self.running_mean, self.num_batches_tracked)
            _refill(ones, self.running_var)

    def reset_parameters(self) -> None:
        """PyTorch's: ``reset_running_stats()``, and ``weight`` back to ones, ``bias`` to
        zeros (with ``affine``).

        >>> import xpgrad as xg
        >>> bn = xg.nn.BatchNorm1d(2)
        >>> _ = bn.weight.assign(xg.asarray([2.0, 3.0]))
        >>> bn.reset_parameters()
        >>> bn.weight.tolist(), bn.bias.tolist()
        ([1.0, 1.0], [0.0, 0.0])
        """
        self.reset_running_stats()
        if self.affine:
            _refill(ones, self.weight)
            _refill(zeros, self.bias)

    # -- PyTorch interoperability --------------------------------------------------------------
    def _buffers(self):
        return {k: v for k in ("weight", "bias", "running_mean", "running_var",
                               "num_batches_tracked") if (v := getattr(self, k)) is not None}

    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy ``torch.nn.BatchNorm1d``'s state dict (the keys this layer has; tensors or
        arrays); a missing key, one this layer lacks (``weight`` for ``affine=False``), another
        shape or values that are not real numbers raise ValueError, and nothing is changed.
        A state dict without ``num_batches_tracked`` (saved by PyTorch before 0.4.1, or a
        plain dict: one without torch's version 2 for this layer in ``_metadata``) keeps this
        layer's count, as PyTorch's ``load_state_dict`` does."""
        from ._torch_tree import counter_optional

        mine = self._buffers()
        if "num_batches_tracked" not in state_dict and counter_optional(state_dict):
            mine.pop("num_batches_tracked", None)
        values = load_checked(self, state_dict, {k: v.shape for k, v in mine.items()})
        for variable, value in zip(mine.values(), values):
            variable.assign(value)

    def _torch_expected(self, given):
        return optional_counter(self, given)

    def torch_state_dict(self) -> dict:
        """``{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}`` (those
        this layer has) as NumPy arrays, torch's keys."""
        return {k: host(v) for k, v in self._buffers().items()}

    def _extra_repr(self):
        return (f", num_features={self.num_features}, eps={self.eps}, momentum="
                f"{self.momentum}, affine={self.affine}, track_running_stats="
                f"{self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """``BatchNorm1d(num_features)``: PyTorch's ``nn.BatchNorm1d`` on an (N, C) or (N, C, L)
    input, ``C = num_features``: each channel normalized with the batch's mean and biased
    variance (over N, and L) in training mode, with the running statistics in eval mode, then
    scaled by ``weight`` (ones) and shifted by ``bias`` (zeros) when ``affine``.

    Training mode (``train()``) updates ``running_mean`` (zeros) and ``running_var`` (ones),
    non-trainable Variables (PyTorch's buffers, kept in ``state_dict``): ``running = (1 -
    momentum) * running + momentum * batch``, the variance unbiased; ``momentum=None`` is the
    cumulative average, ``momentum = 1 / num_batches_tracked`` (an int64 Variable counting the
    training calls). ``track_running_stats=False`` keeps no statistics and uses the batch's in
    both modes. Training needs more than one value per channel (ValueError, as PyTorch), or
    none: an empty batch gives an empty output, leaves the statistics as they are and, as
    PyTorch's, counts in ``num_batches_tracked``.

    The update is one step of the call: an ``xg.function`` replays it on every call, and
    ``xg.recompute_grad`` does not repeat it when it runs the block again for the gradient
    (PyTorch's checkpoint updates twice). ``load_torch_state_dict`` / ``torch_state_dict``
    convert ``torch.nn.BatchNorm1d``'s (``weight``, ``bias``, ``running_mean``,
    ``running_var``, ``num_batches_tracked``).

    >>> import xpgrad as xg
    >>> bn = xg.nn.BatchNorm1d(1, momentum=0.5, dtype=xg.float64)
    >>> [round(v[0], 3) for v in bn(xg.asarray([[1.0], [3.0]], dtype=xg.float64)).tolist()]
    [-1.0, 1.0]
    >>> bn.running_mean.tolist(), bn.running_var.tolist(), bn.num_batches_tracked.item()
    ([1.0], [1.5], 1)
    """

    _ndims, _layout = (2, 3), "a 2-D (N, C) or 3-D (N, C, L)"


def channel_layer(norm, num_features, eps, check_eps, momentum, affine, track_running_stats,
                  dtype, backend) -> None:
    """A per-channel normalization layer's settings, each checked (errors naming the layer's
    class) and kept as PyTorch's attributes (``eps`` by ``check_eps(eps, owner)``), then its
    Variables (``channel_variables``)."""
    who = type(norm).__name__
    norm.num_features = _checks.count("num_features", num_features, who)
    norm.eps = check_eps(eps, who)
    norm.momentum = None if momentum is None else _bn._momentum(momentum, who)
    norm.affine = flag(affine, "affine", who)
    norm.track_running_stats = flag(track_running_stats, "track_running_stats", who)
    norm._dtype = _checks.floating_dtype(dtype, who)
    norm._backend = backend
    channel_variables(norm, backend)


def channel_variables(norm, backend) -> None:
    """A normalization layer's per-channel Variables as PyTorch's: ``weight`` (ones) and
    ``bias`` (zeros) when ``norm.affine``, ``running_mean`` / ``running_var`` /
    ``num_batches_tracked`` (not trained) when ``norm.track_running_stats``; None otherwise."""
    c, norm.weight, norm.bias = (norm.num_features,), None, None
    norm.running_mean = norm.running_var = norm.num_batches_tracked = None

    def make(fill, what, trainable=True, dtype=norm._dtype, shape=c):
        return Variable(fill(shape, dtype=dtype, backend=backend), name=f"{norm.name}/{what}",
                        trainable=trainable)
    if norm.affine:
        norm.weight, norm.bias = make(ones, "weight"), make(zeros, "bias")
    if norm.track_running_stats:
        norm.running_mean = make(zeros, "running_mean", False)
        norm.running_var = make(ones, "running_var", False)
        norm.num_batches_tracked = make(zeros, "num_batches_tracked", False, _dt.int64, ())


def _refill(fill, *variables) -> None:
    """Assign each of ``variables`` ``fill`` (``zeros`` or ``ones``) of its shape and dtype."""
    for v in variables:
        v.assign(fill(v.shape, dtype=v.dtype, backend=v.backend))


__all__ = ["LayerNorm", "RMSNorm", "BatchNorm1d"]
