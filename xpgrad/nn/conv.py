"""1-d convolution as PyTorch's: ``xg.nn.conv1d`` (``F.conv1d``) and ``xg.nn.Conv1d``
(``nn.Conv1d``).

``conv1d`` (cross-correlation, as PyTorch's) is composed of differentiable operations: the
input padded (``nn/_windows.py``), its ``kernel_size`` strided slices stacked into columns
(im2col without an index array), and one batched ``matmul`` with the weight. Every gradient
(input, weight, bias) is that of those operations, exact for free: the input's is the slices'
scatter into one buffer (col2im), the weight's a product with the columns.

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 2.0, 3.0, 4.0]]])              # (N, C_in, L)
>>> w = xg.asarray([[[1.0, 0.0, -1.0]]])                  # (C_out, C_in / groups, K)
>>> xg.nn.conv1d(x, w, padding=1).tolist()
[[[-2.0, -2.0, -2.0, 3.0]]]
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray
from ..ops.joining import stack
from ..ops.linalg import matmul
from ..ops.shape import reshape, squeeze
from ..tensor import Tensor, Variable
from . import _checks, _initial
from . import init as _init
from ._torch import host, load_checked
from ._windows import PADDING_MODES, batched, check_mode_padding, one_int, out_length, pad, \
    windows
from .linear import bias_initializer
from .module import Module


def padding_pair(padding, kernel_size, stride, dilation, owner):
    """``(left, right)`` for PyTorch's ``padding``: an int >= 0 (or a tuple of one),
    ``"valid"`` (none) or ``"same"`` (the output as long as the input: ``dilation *
    (kernel_size - 1)`` in all, the odd one on the right, as PyTorch; refused with a stride
    above 1, as PyTorch does).

    >>> padding_pair("same", 4, 1, 1, "conv1d")
    (1, 2)
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same":
            if stride != 1:
                raise ValueError(f"{owner}: padding='same' is not supported for strided "
                                 f"convolutions (stride={stride}), as in PyTorch; give "
                                 "padding as an int")
            total = dilation * (kernel_size - 1)
            return total // 2, total - total // 2
        raise ValueError(f"{owner}: padding must be an int, 'valid' or 'same', got "
                         f"{padding!r}")
    p = one_int(padding, "padding", owner, minimum=0)
    return p, p


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """PyTorch's ``F.conv1d``: ``input`` (N, C_in, L) or unbatched (C_in, L), ``weight``
    (C_out, C_in / groups, K), ``bias`` (C_out,) or None; output (N, C_out, L_out) (unbatched:
    (C_out, L_out)) with ``L_out = (L + 2 padding - dilation (K - 1) - 1) // stride + 1``.

    ``stride``, ``dilation`` and ``groups`` are positive ints (``stride``/``dilation`` also a
    tuple of one); ``padding`` is an int >= 0 (or a tuple of one), ``"valid"`` or ``"same"``
    (PyTorch's: not with stride > 1). ``input`` and ``weight`` must share a floating dtype (no
    silent promotion). Wrong channel counts, a kernel longer than the padded input, groups not
    dividing the channels, negative padding: ValueError naming the argument.

    >>> import xpgrad as xg
    >>> x, w = xg.ones((2, 4, 10)), xg.ones((6, 2, 3))
    >>> xg.nn.conv1d(x, w, stride=2, padding=1, groups=2).shape
    (2, 6, 5)
    """
    return convolve(input, weight, bias, stride, padding, dilation, groups, "zeros", "conv1d")


def convolve(x, weight, bias, stride, padding, dilation, groups, padding_mode, owner):
    """``conv1d`` with ``padding_mode`` (``nn.Conv1d``'s: the input padded in that mode first);
    errors name ``owner``."""
    weight = _weight(weight, owner)
    x, unbatched = batched(x, owner, like=weight)
    stride = one_int(stride, "stride", owner)
    dilation = one_int(dilation, "dilation", owner)
    groups = one_int(groups, "groups", owner)
    c_out, c_group, k = weight.shape
    left, right = padding_pair(padding, k, stride, dilation, owner)
    n, c_in, length = x.shape
    _check_channels(c_in, c_out, c_group, groups, weight.shape, x.shape, owner)
    if x.dtype != weight.dtype:
        raise TypeError(f"{owner}: input is {x.dtype} but weight is {weight.dtype}; cast one "
                        "with xg.astype (no silent promotion)")
    if x.backend is not weight.backend:
        raise ValueError(f"{owner}: input is on backend {x.backend.name!r} but weight on "
                         f"{weight.backend.name!r}; move one with .to()")
    bias = _bias(bias, weight, owner)
    n_out = out_length(length, k, stride, dilation, left, right, owner)
    if padding_mode != "zeros":
        check_mode_padding(padding_mode, left, right, length, owner)
    x = pad(x, left, right, padding_mode, 0.0)
    cols = stack(windows(x, k, stride, dilation, n_out), axis=2)      # (N, C_in, K, L_out)
    if groups == 1:
        y = matmul(reshape(weight, (c_out, c_in * k)), reshape(cols, (n, c_in * k, n_out)))
    else:
        y = matmul(reshape(weight, (groups, c_out // groups, c_group * k)),
                   reshape(cols, (n, groups, c_group * k, n_out)))
        y = reshape(y, (n, c_out, n_out))
    if bias is not None:
        y = y + reshape(bias, (c_out, 1))
    return squeeze(y, axis=0) if unbatched else y


def _weight(weight, owner):
    if not isinstance(weight, Tensor):
        weight = asarray(weight)
    if weight.ndim != 3:
        raise ValueError(f"{owner}: weight must be 3-D (out_channels, in_channels / groups, "
                         f"kernel_size), got shape {weight.shape}")
    if weight.dtype.kind not in "fc":
        raise TypeError(f"{owner}: weight must hold floating-point numbers, got {weight.dtype}")
    if 0 in weight.shape:
        raise ValueError(f"{owner}: weight has an empty axis, shape {weight.shape}")
    return weight


def _check_channels(c_in, c_out, c_group, groups, w_shape, x_shape, owner):
    if c_out % groups:
        raise ValueError(f"{owner}: groups={groups} does not divide the weight's "
                         f"out_channels {c_out} (weight shape {w_shape})")
    if c_in != c_group * groups:
        raise ValueError(f"{owner}: input has {c_in} channels (shape {x_shape}), but weight "
                         f"{w_shape} with groups={groups} expects {c_group * groups} "
                         f"(in_channels / groups = {c_group})")


def _bias(bias, weight, owner):
    if bias is None:
        return None
    if not isinstance(bias, Tensor):
        bias = asarray(bias, dtype=weight.dtype, backend=weight.backend)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"{owner}: bias must have shape (out_channels,) = "
                         f"({weight.shape[0]},), got {bias.shape}")
    if bias.dtype != weight.dtype:
        raise TypeError(f"{owner}: bias is {bias.dtype} but weight is {weight.dtype}; cast "
                        "with xg.astype")
    return bias



class Conv1d(Module):
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

    >>> import xpgrad as xg
    >>> conv = xg.nn.Conv1d(2, 4, 5, stride=2, padding=2, padding_mode="reflect", rng=0)
    >>> conv(xg.ones((2, 9))).shape                 # unbatched (C_in, L)
    (4, 5)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", *, rng=None,
                 init="torch_linear_default", bias_init=None,
                 dtype=_dt.float32, backend=None, name="conv1d"):
        super().__init__(name)
        who = type(self).__name__
        self.in_channels = _checks.size("in_channels", in_channels, who)
        self.out_channels = _checks.size("out_channels", out_channels, who)
        self.kernel_size = one_int(kernel_size, "kernel_size", who)
        self.stride = one_int(stride, "stride", who)
        self.dilation = one_int(dilation, "dilation", who)
        self.groups = _checks.size("groups", groups, who)
        for arg in ("in_channels", "out_channels"):
            if getattr(self, arg) % self.groups:
                raise ValueError(f"{who}: {arg} ({getattr(self, arg)}) must be divisible by "
                                 f"groups ({self.groups})")
        padding_pair(padding, self.kernel_size, self.stride, self.dilation, who)   # checked
        self.padding = padding if isinstance(padding, str) else one_int(padding, "padding",
                                                                        who, minimum=0)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{who}: padding_mode must be one of {list(PADDING_MODES)}, got "
                             f"{padding_mode!r}")
        self.padding_mode = padding_mode
        bias = flag(bias, "bias", who)
        dtype = _checks.floating_dtype(dtype, who)
        gen = _init.as_rng(rng, backend)
        fan_in = self.in_channels // self.groups * self.kernel_size
        layout = (self.kernel_size, self.in_channels // self.groups, self.out_channels)
        w = _initial.draw(_initial.resolve(init, "init", who), init, "init", gen, layout,
                          dtype, who, "(kernel_size, in_channels / groups, out_channels)")
        w = asarray(np.ascontiguousarray(host(w).transpose(2, 1, 0)), dtype=dtype,
                    backend=backend or w.backend)         # PyTorch's layout, row-major
        self.weight = Variable(w, name=f"{self.name}/weight")
        self.bias = None
        bias_fn = bias_initializer(bias_init, bias, who) or _init.torch_linear_default
        if bias:
            b = _initial.draw(bias_fn, bias_init, "bias_init", gen, (self.out_channels,),
                              dtype, who, "(out_channels,)", fan_in=fan_in)
            self.bias = Variable(b.to(self.weight.backend), name=f"{self.name}/bias")

    def forward(self, x):
        return convolve(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups, self.padding_mode, type(self).__name__)

    # -- PyTorch interoperability --------------------------------------------------------------
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy ``weight`` (out_channels, in_channels / groups, kernel_size) and ``bias`` from
        a ``torch.nn.Conv1d`` state dict (tensors or arrays); a missing key, a bias for
        ``bias=False``, another shape or values that are not real numbers raise ValueError
        before anything changes."""
        mine = {k: v for k, v in (("weight", self.weight), ("bias", self.bias)) if v is not None}
        values = load_checked(self, state_dict, {k: v.shape for k, v in mine.items()},
                              known=("weight", "bias"))
        for variable, value in zip(mine.values(), values):
            variable.assign(asarray(value, dtype=variable.dtype).to(variable.backend))

    def torch_state_dict(self) -> dict:
        """``{"weight": ..., "bias": ...}`` as NumPy arrays (the bias if this layer has one),
        for ``torch.nn.Conv1d.load_state_dict``."""
        out = {"weight": host(self.weight)}
        if self.bias is not None:
            out["bias"] = host(self.bias)
        return out

    def _extra_repr(self):
        extra = "".join(f", {k}={getattr(self, k)!r}" for k, default in
                        (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1),
                         ("padding_mode", "zeros")) if getattr(self, k) != default)
        return f", in_channels={self.in_channels}, out_channels={self.out_channels}, " \
               f"kernel_size={self.kernel_size}" \
               f"{extra}, bias={self.bias is not None}"


__all__ = ["conv1d", "Conv1d"]
