"""The convolution layers ``xg.nn.Conv1d`` and ``xg.nn.Conv2d`` (PyTorch's ``nn.Conv1d`` /
``nn.Conv2d``): a weight and a bias, PyTorch's initialization and state-dict keys, and
``nn/conv.py``'s ``convolve`` as the forward pass.

>>> import xpgrad as xg
>>> xg.nn.Conv2d(1, 4, 3, padding="same", rng=0)(xg.ones((2, 1, 6, 5))).shape
(2, 4, 6, 5)
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray
from ..tensor import Variable
from . import _checks, _initial
from ._data_format import canonical
from . import init as _init
from ._torch import host, load_checked
from ._windows import PADDING_MODES, int_tuple
from .conv import convolve, padding_pairs
from .linear import bias_initializer
from .module import Module
from ._torch_strict import strict_option


def init_parameters(layer, kernel, c_group, c_last, c_out, init, bias_init, bias, dtype, gen,
                    backend, axes, keep_layout=False):
    """``layer.weight`` in PyTorch's layout (``c_last``, ``c_group``, *kernel), drawn by
    ``init`` in xpgrad's (*kernel, ``c_group``, ``c_last``: ``axes`` names the last two; kept
    so with ``keep_layout``, channels last), and ``layer.bias`` (``c_out`` values, PyTorch's
    default from the fan-in ``c_group`` * kernel size) or None: the weights of a convolution
    or a transposed one."""
    who, dims = type(layer).__name__, len(kernel)
    names = "kernel_size" if dims == 1 else "kH, kW"
    w = _initial.draw(_initial.resolve(init, "init", who), init, "init", gen,
                      kernel + (c_group, c_last), dtype, who, f"({names}, {axes})")
    if not keep_layout:
        order = (dims + 1, dims) + tuple(range(dims))       # PyTorch's layout, row-major
        w = asarray(np.ascontiguousarray(host(w).transpose(order)), dtype=dtype,
                    backend=backend or w.backend)
    elif backend is not None:
        w = w.to(backend)
    layer.weight = Variable(w, name=f"{layer.name}/weight")
    layer.bias = None
    bias_fn = bias_initializer(bias_init, bias, who) or _init.torch_linear_default
    if bias:
        b = _initial.draw(bias_fn, bias_init, "bias_init", gen, (c_out,), dtype, who,
                          "(out_channels,)", fan_in=c_group * math.prod(kernel))
        layer.bias = Variable(b.to(layer.weight.backend), name=f"{layer.name}/bias")


class WeightAndBias:
    """``load_torch_state_dict`` / ``torch_state_dict`` of a layer whose ``weight`` and
    ``bias`` (None with ``bias=False``) are in PyTorch's layout, as its ``torch.nn`` twin of
    the same class name (``Conv2d``, ``ConvTranspose1d``, ...), or in the channels-last one
    (*kernel, in / groups, out), transposed on the way in and out."""

    def _to_torch(self):
        """The axes order that takes this layer's weight to PyTorch's layout, or None."""
        if getattr(self, "data_format", "channels_first") != "channels_first":
            dims = self.weight.ndim - 2
            return (dims + 1, dims) + tuple(range(dims))
        return None

    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy ``weight`` and ``bias`` from the matching ``torch.nn`` layer's state dict
        (tensors or arrays); a missing key, a bias for ``bias=False``, another shape or values
        that are not real numbers raise ValueError before anything changes."""
        mine = {k: v for k, v in (("weight", self.weight), ("bias", self.bias)) if v is not None}
        order = self._to_torch()
        shapes = {k: v.shape for k, v in mine.items()}
        if order is not None:
            shapes["weight"] = tuple(self.weight.shape[i] for i in order)
        values = load_checked(self, state_dict, shapes)
        if order is not None:
            values[0] = np.ascontiguousarray(values[0].transpose(np.argsort(order)))
        for variable, value in zip(mine.values(), values):
            variable.assign(asarray(value, dtype=variable.dtype).to(variable.backend))

    def torch_state_dict(self) -> dict:
        """``{"weight": ..., "bias": ...}`` as NumPy arrays (the bias if this layer has one),
        for the matching ``torch.nn`` layer's ``load_state_dict``."""
        order = self._to_torch()
        weight = host(self.weight)
        out = {"weight": weight if order is None else
               np.ascontiguousarray(weight.transpose(order))}
        if self.bias is not None:
            out["bias"] = host(self.bias)
        return out


class _ConvNd(WeightAndBias, Module):
    """The layer of ``dims`` spatial axes; ``Conv1d`` keeps its geometry as ints, ``Conv2d``
    as pairs (PyTorch's attributes)."""

    dims = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, padding_mode, rng, init, bias_init, dtype, backend, name,
                 data_format):
        super().__init__(name)
        who, dims = type(self).__name__, self.dims
        self.data_format = canonical(data_format, who, dims)
        last = self.data_format == "channels_last"
        self.in_channels = _checks.count("in_channels", in_channels, who)
        self.out_channels = _checks.size("out_channels", out_channels, who)
        if dims > 1 and isinstance(kernel_size, (tuple, list)) and len(kernel_size) == 1:
            # torch's functionals take (k,) for (k, k), but its layer makes a weight of the
            # wrong rank from it and fails at the first call
            raise ValueError(f"{who}: kernel_size must be an int or a tuple of {dims} ints, got "
                             f"{kernel_size!r} (as PyTorch's {who}, which fails on it)")
        kernel = int_tuple(kernel_size, "kernel_size", who, dims)
        stride = int_tuple(stride, "stride", who, dims)
        dilation = int_tuple(dilation, "dilation", who, dims)
        self.groups = _checks.size("groups", groups, who)
        for arg in ("in_channels", "out_channels"):
            if getattr(self, arg) % self.groups:
                raise ValueError(f"{who}: {arg} ({getattr(self, arg)}) must be divisible by "
                                 f"groups ({self.groups})")
        padding_pairs(padding, kernel, stride, dilation, who, last=last)   # checked
        if not isinstance(padding, str):
            padding = int_tuple(padding, "padding", who, dims, minimum=0)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{who}: padding_mode must be one of {list(PADDING_MODES)}, got "
                             f"{padding_mode!r}")
        self.padding_mode = padding_mode
        shown = (lambda t: t[0]) if dims == 1 else (lambda t: t)
        self.kernel_size, self.stride, self.dilation = shown(kernel), shown(stride), \
            shown(dilation)
        self.padding = padding if isinstance(padding, str) else shown(padding)
        bias = flag(bias, "bias", who)
        dtype = _checks.floating_dtype(dtype, who)
        c_group = self.in_channels // self.groups
        init_parameters(self, kernel, c_group, self.out_channels, self.out_channels, init,
                        bias_init, bias, dtype, _init.as_rng(rng, backend), backend,
                        "in_channels / groups, out_channels", keep_layout=last)

    def forward(self, x):
        return convolve(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups, self.padding_mode, type(self).__name__, dims=self.dims,
                        data_format=self.data_format)

    def _extra_repr(self):
        one = (lambda v: v) if self.dims == 1 else (lambda v: (v,) * self.dims)
        extra = "".join(f", {k}={getattr(self, k)!r}" for k, default in
                        (("stride", one(1)), ("padding", one(0)), ("dilation", one(1)),
                         ("groups", 1), ("padding_mode", "zeros"),
                         ("data_format", "channels_first"))
                        if getattr(self, k) != default)
        return f", in_channels={self.in_channels}, out_channels={self.out_channels}, " \
               f"kernel_size={self.kernel_size}" \
               f"{extra}, bias={self.bias is not None}"


class Conv1d(_ConvNd):
    """``Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
    groups=1, bias=True, padding_mode="zeros")``, PyTorch's: ``conv(x)`` is
    ``xg.nn.conv1d(x, weight, bias, stride, padding, dilation, groups)`` after padding the
    input in ``padding_mode`` (``"zeros"``, ``"reflect"``, ``"replicate"``, ``"circular"``, as
    ``F.pad``; ``padding`` an int, a tuple of one, ``"valid"`` or ``"same"``).

    ``weight`` (``f"{name}/weight"``, PyTorch's layout (out_channels, in_channels / groups,
    kernel_size)) and ``bias`` (``f"{name}/bias"``, (out_channels,)) start as PyTorch's:
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels / groups * kernel_size
    (``kaiming_uniform_(a=sqrt(5))``), from ``rng`` (a Generator or an int seed; its stream is
    xpgrad's, not torch's). ``init`` / ``bias_init`` take any initializer of ``xg.nn.init``
    (``bias_init`` with ``bias=False`` is a ValueError);
    it is given xpgrad's kernel layout (kernel_size, in_channels / groups, out_channels), whose
    fans (``compute_fans``) are PyTorch's for this weight, and the result is transposed into
    place. ``load_torch_state_dict`` / ``torch_state_dict`` convert ``torch.nn.Conv1d``'s
    ``{"weight", "bias"}``.

    ``data_format="channels_last"`` (or ``"NWC"``): inputs (N, L, C_in), outputs (N, L_out,
    C_out), and ``weight`` stored in Keras's and flax's layout (kernel_size, in_channels /
    groups, out_channels), so their kernels load as they are (``weight.assign``); the torch
    state dicts are transposed on the way. ``padding`` as ``xg.nn.conv1d`` takes it there.

    >>> import xpgrad as xg
    >>> conv = xg.nn.Conv1d(2, 4, 5, stride=2, padding=2, padding_mode="reflect", rng=0)
    >>> conv(xg.ones((2, 9))).shape                 # unbatched (C_in, L)
    (4, 5)
    >>> xg.nn.Conv1d(2, 4, 5, padding="same", data_format="NWC", rng=0).weight.shape
    (5, 2, 4)
    """

    dims = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", *, rng=None,
                 init="torch_linear_default", bias_init=None,
                 dtype=_dt.float32, backend=None, name="conv1d",
                 data_format="channels_first"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, rng, init, bias_init, dtype, backend, name,
                         data_format)


class Conv2d(_ConvNd):
    """``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
    groups=1, bias=True, padding_mode="zeros")``, PyTorch's: ``conv(x)`` is
    ``xg.nn.conv2d(x, weight, bias, stride, padding, dilation, groups)`` over (N, C_in, H, W)
    or unbatched (C_in, H, W), after padding the input in ``padding_mode`` (``"zeros"``,
    ``"reflect"``, ``"replicate"``, ``"circular"``, as ``F.pad``). ``kernel_size``,
    ``stride``, ``dilation`` are ints or pairs (height, width), ``padding`` an int, a pair,
    ``"valid"`` or ``"same"``; the layer keeps them as pairs, as PyTorch's.

    ``weight`` (``f"{name}/weight"``, PyTorch's layout (out_channels, in_channels / groups,
    kH, kW)) and ``bias`` (``f"{name}/bias"``) start as PyTorch's: U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), fan_in = in_channels / groups * kH * kW, from ``rng`` (xpgrad's stream).
    ``init`` / ``bias_init`` take any initializer of ``xg.nn.init``, given the kernel as (kH,
    kW, in_channels / groups, out_channels), whose fans are PyTorch's for this weight.
    ``load_torch_state_dict`` / ``torch_state_dict`` convert ``torch.nn.Conv2d``'s
    ``{"weight", "bias"}``.

    ``data_format="channels_last"`` (or ``"NHWC"``): inputs (N, H, W, C_in) or (H, W, C_in),
    outputs (N, H_out, W_out, C_out), and ``weight`` stored as Keras's ``Conv2D`` and flax's
    ``nn.Conv`` keep their kernels, (kH, kW, in_channels / groups, out_channels), so one loads
    as it is (``conv.weight.assign(kernel)``); ``load_torch_state_dict`` /
    ``torch_state_dict`` transpose torch's weight on the way. ``padding="same"`` with a
    stride is then TensorFlow's and flax's (``xg.nn.conv2d``).

    >>> import xpgrad as xg
    >>> conv = xg.nn.Conv2d(1, 32, 3, 1, rng=0)       # PyTorch's MNIST example's first layer
    >>> conv(xg.ones((2, 1, 28, 28))).shape
    (2, 32, 26, 26)
    >>> conv = xg.nn.Conv2d(1, 32, 3, 2, padding="same", data_format="channels_last", rng=0)
    >>> conv.weight.shape, conv(xg.ones((2, 28, 28, 1))).shape
    ((3, 3, 1, 32), (2, 14, 14, 32))
    """

    dims = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", *, rng=None,
                 init="torch_linear_default", bias_init=None,
                 dtype=_dt.float32, backend=None, name="conv2d",
                 data_format="channels_first"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, rng, init, bias_init, dtype, backend, name,
                         data_format)


__all__ = ["Conv1d", "Conv2d"]
