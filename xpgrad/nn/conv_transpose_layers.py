"""The transposed-convolution layers ``xg.nn.ConvTranspose1d`` and ``xg.nn.ConvTranspose2d``
(PyTorch's ``nn.ConvTranspose1d`` / ``nn.ConvTranspose2d``): a weight and a bias, PyTorch's
initialization, state-dict keys and ``output_size=``, and ``nn/conv_transpose.py``'s
``transpose_convolve`` as the forward pass.

>>> import xpgrad as xg
>>> up = xg.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, rng=0)
>>> up(xg.ones((1, 4, 5, 5)), output_size=(10, 10)).shape
(1, 2, 10, 10)
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import dtypes as _dt
from .._args import flag
from . import _checks
from . import init as _init
from ._windows import int_tuple
from .conv_layers import WeightAndBias, init_parameters
from .conv_transpose import output_lengths, transpose_convolve
from .module import Module


class _ConvTransposeNd(WeightAndBias, Module):
    """The layer of ``dims`` spatial axes; ``ConvTranspose1d`` keeps its geometry as ints,
    ``ConvTranspose2d`` as pairs (PyTorch's attributes)."""

    dims = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding,
                 groups, bias, dilation, padding_mode, rng, init, bias_init, dtype, backend,
                 name):
        super().__init__(name)
        who, dims = type(self).__name__, self.dims
        self.in_channels = _checks.size("in_channels", in_channels, who)
        self.out_channels = _checks.size("out_channels", out_channels, who)
        self.groups = _checks.size("groups", groups, who)
        for arg in ("in_channels", "out_channels"):
            if getattr(self, arg) % self.groups:
                raise ValueError(f"{who}: {arg} ({getattr(self, arg)}) must be divisible by "
                                 f"groups ({self.groups})")
        kernel = int_tuple(kernel_size, "kernel_size", who, dims)
        stride = int_tuple(stride, "stride", who, dims)
        padding = int_tuple(padding, "padding", who, dims, minimum=0)
        output_padding = int_tuple(output_padding, "output_padding", who, dims, minimum=0)
        dilation = int_tuple(dilation, "dilation", who, dims)
        if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
            raise ValueError(f"{who}: output_padding must be smaller than either stride or "
                             f"dilation (as PyTorch), got output_padding={output_padding}, "
                             f"stride={stride}, dilation={dilation}")
        if padding_mode != "zeros":
            raise ValueError(f"{who}: only padding_mode='zeros' is supported (as PyTorch's "
                             f"transposed convolutions), got {padding_mode!r}")
        self.padding_mode = padding_mode
        shown = (lambda t: t[0]) if dims == 1 else (lambda t: t)
        self.kernel_size, self.stride, self.padding = shown(kernel), shown(stride), \
            shown(padding)
        self.output_padding, self.dilation = shown(output_padding), shown(dilation)
        bias = flag(bias, "bias", who)
        dtype = _checks.floating_dtype(dtype, who)
        # PyTorch's weight is (in, out / groups, *kernel): its fan-in is out / groups * kernel
        init_parameters(self, kernel, self.out_channels // self.groups, self.in_channels,
                        self.out_channels, init, bias_init, bias, dtype,
                        _init.as_rng(rng, backend), backend, "out_channels / groups, in_channels")

    def _tuple(self, name):
        value = getattr(self, name)
        return (value,) if self.dims == 1 else value

    def forward(self, x, output_size=None):
        output_padding = self._tuple("output_padding")
        if output_size is not None:
            output_padding = self._output_padding(x, output_size)
        return transpose_convolve(x, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation,
                                  type(self).__name__, dims=self.dims)

    def _output_padding(self, x, output_size):
        """PyTorch's ``_output_padding``: the ``output_padding`` that gives ``output_size``
        (the spatial sizes, or the whole output shape), each within ``stride - 1`` of the
        smallest output."""
        who, dims = type(self).__name__, self.dims
        if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
            output_size = (output_size,)
        if not isinstance(output_size, (tuple, list)) or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool)
                for v in output_size):
            raise TypeError(f"{who}: output_size must be a tuple of ints, got "
                            f"{output_size!r}")
        ndim = getattr(x, "ndim", None) or np.ndim(x)
        leading = ndim - dims
        if len(output_size) == leading + dims:
            output_size = tuple(output_size)[leading:]
        if len(output_size) != dims:
            raise ValueError(f"{who}: for {ndim}-D input, output_size must have {dims} or "
                             f"{leading + dims} elements, got {len(output_size)}")
        lengths = tuple(getattr(x, "shape", np.shape(x)))[leading:]
        smallest = output_lengths(lengths, self._tuple("kernel_size"), self._tuple("stride"),
                                  self._tuple("padding"), (0,) * dims, self._tuple("dilation"))
        largest = tuple(m + s - 1 for m, s in zip(smallest, self._tuple("stride")))
        if any(not lo <= int(v) <= hi for v, lo, hi in zip(output_size, smallest, largest)):
            raise ValueError(f"{who}: requested an output_size of {tuple(output_size)}, but "
                             f"valid sizes range from {smallest} to {largest} (for an input "
                             f"of spatial shape {lengths})")
        return tuple(int(v) - m for v, m in zip(output_size, smallest))

    def _extra_repr(self):
        one = (lambda v: v) if self.dims == 1 else (lambda v: (v,) * self.dims)
        extra = "".join(f", {k}={getattr(self, k)!r}" for k, default in
                        (("stride", one(1)), ("padding", one(0)), ("output_padding", one(0)),
                         ("dilation", one(1)), ("groups", 1))
                        if getattr(self, k) != default)
        return f", in_channels={self.in_channels}, out_channels={self.out_channels}, " \
               f"kernel_size={self.kernel_size}{extra}, bias={self.bias is not None}"


class ConvTranspose1d(_ConvTransposeNd):
    """``ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros")``, PyTorch's:
    ``up(x)`` is ``xg.nn.conv_transpose1d(x, weight, bias, stride, padding, output_padding,
    groups, dilation)`` over (N, C_in, L) or (C_in, L); ``up(x, output_size=...)`` picks the
    ``output_padding`` that gives that length (PyTorch's rule: at most ``stride - 1`` more
    than the smallest).

    ``weight`` (``f"{name}/weight"``, PyTorch's layout (in_channels, out_channels / groups,
    kernel_size)) and ``bias`` start as PyTorch's: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    PyTorch's fan_in of that weight, out_channels / groups * kernel_size, from ``rng`` (a
    Generator or an int seed; xpgrad's stream). ``init`` / ``bias_init`` take any initializer
    of ``xg.nn.init``, given the kernel as (kernel_size, out_channels / groups, in_channels).
    ``load_torch_state_dict`` / ``torch_state_dict`` convert ``torch.nn.ConvTranspose1d``'s
    ``{"weight", "bias"}``.

    >>> import xpgrad as xg
    >>> xg.nn.ConvTranspose1d(2, 3, 4, stride=2, padding=1, rng=0)(xg.ones((2, 7))).shape
    (3, 14)
    """

    dims = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros", *,
                 rng=None, init="torch_linear_default", bias_init=None, dtype=_dt.float32,
                 backend=None, name="conv_transpose1d"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, rng, init,
                         bias_init, dtype, backend, name)


class ConvTranspose2d(_ConvTransposeNd):
    """``ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros")``, PyTorch's:
    ``ConvTranspose1d`` over (N, C_in, H, W) or (C_in, H, W), with ``xg.nn.conv_transpose2d``;
    ``kernel_size``, ``stride``, ``padding``, ``output_padding``, ``dilation`` are ints or
    (height, width) pairs, kept as pairs; ``output_size=`` in the call as PyTorch's (the
    spatial sizes or the whole shape). Weight (in_channels, out_channels / groups, kH, kW),
    initialization and state dicts as ``ConvTranspose1d``'s.

    >>> import xpgrad as xg
    >>> up = xg.nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1, bias=False, rng=0)  # DCGAN
    >>> up(xg.ones((2, 16, 4, 4))).shape
    (2, 8, 8, 8)
    """

    dims = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros", *,
                 rng=None, init="torch_linear_default", bias_init=None, dtype=_dt.float32,
                 backend=None, name="conv_transpose2d"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, rng, init,
                         bias_init, dtype, backend, name)


__all__ = ["ConvTranspose1d", "ConvTranspose2d"]
