"""Layers without weights that pass a tensor on or change its shape: ``Identity``,
``Flatten`` and ``Unflatten`` (PyTorch's, with xpgrad's ``axis`` for PyTorch's ``dim``).

>>> import xpgrad as xg
>>> xg.nn.Flatten()(xg.ones((2, 3, 4))).shape
(2, 12)
"""
from __future__ import annotations

import numbers

from ..creation import asarray
from ..ops.shape import reshape
from ..tensor import Tensor
from .module import Module


class Identity(Module):
    """Returns its input unchanged; arguments are ignored, as PyTorch's ``nn.Identity`` does
    (a placeholder where a layer is switched off, e.g. ``head = Identity()``).

    >>> import xpgrad as xg
    >>> x = xg.ones(3)
    >>> xg.nn.Identity(54, unused=0.1)(x) is x
    True
    """

    def __init__(self, *args, **kwargs):
        super().__init__(kwargs.get("name") if isinstance(kwargs.get("name"), str) else None)

    def forward(self, x):
        return x


class Flatten(Module):
    """Flattens axes ``start_axis`` to ``end_axis`` (both included; negative ones count from
    the end) into one, as ``torch.nn.Flatten(start_dim=1, end_dim=-1)``: by default every axis
    but the batch axis. A 0-d input becomes 1-d (as ``torch.flatten``; its axes are those of a
    1-d input, so the default ``start_axis=1`` refuses it, as PyTorch's).

    >>> import xpgrad as xg
    >>> xg.nn.Flatten(0, 1)(xg.ones((2, 3, 4))).shape
    (6, 4)
    """

    def __init__(self, start_axis: int = 1, end_axis: int = -1, name: str | None = None):
        super().__init__(name)
        self.start_axis = _integer("start_axis", start_axis, "Flatten")
        self.end_axis = _integer("end_axis", end_axis, "Flatten")

    def forward(self, x):
        x = _tensor(x)
        start = _axis("start_axis", self.start_axis, x.ndim, "Flatten", scalar_as_1d=True)
        end = _axis("end_axis", self.end_axis, x.ndim, "Flatten", scalar_as_1d=True)
        if x.ndim == 0:
            return reshape(x, (1,))
        if start > end:
            raise ValueError(f"Flatten: start_axis {self.start_axis} comes after end_axis "
                             f"{self.end_axis} for an input with {x.ndim} dimensions")
        shape = x.shape
        size = 1
        for s in shape[start:end + 1]:
            size *= s
        return reshape(x, (*shape[:start], size, *shape[end + 1:]))

    def _extra_repr(self):
        return f", start_axis={self.start_axis}, end_axis={self.end_axis}"


class Unflatten(Module):
    """Splits axis ``axis`` into ``unflattened_size`` (a tuple of positive ints, one of them
    may be -1), as ``torch.nn.Unflatten(dim, unflattened_size)``; their product must be the
    axis' length.

    >>> import xpgrad as xg
    >>> xg.nn.Unflatten(1, (2, -1))(xg.ones((5, 12))).shape
    (5, 2, 6)
    """

    def __init__(self, axis: int, unflattened_size, name: str | None = None):
        super().__init__(name)
        self.axis = _integer("axis", axis, "Unflatten")
        if isinstance(unflattened_size, (str, bytes)) or \
                not isinstance(unflattened_size, (list, tuple)) or not unflattened_size:
            raise TypeError(f"Unflatten: unflattened_size must be a non-empty tuple of ints, "
                            f"got {unflattened_size!r}")
        sizes = tuple(_integer("unflattened_size", s, "Unflatten") for s in unflattened_size)
        if any(s < -1 or s == 0 for s in sizes) or sizes.count(-1) > 1:
            raise ValueError(f"Unflatten: unflattened_size must hold positive ints and at most "
                             f"one -1, got {sizes}")
        self.unflattened_size = sizes

    def forward(self, x):
        x = _tensor(x)
        axis = _axis("axis", self.axis, x.ndim, "Unflatten")
        n, sizes = x.shape[axis], self.unflattened_size
        known = 1
        for s in sizes:
            known *= s if s != -1 else 1
        if (n != known) if -1 not in sizes else (n % known != 0):
            raise ValueError(f"Unflatten: unflattened_size {sizes} does not fit axis {self.axis} "
                             f"of length {n} (input shape {x.shape})")
        return reshape(x, (*x.shape[:axis], *sizes, *x.shape[axis + 1:]))

    def _extra_repr(self):
        return f", axis={self.axis}, unflattened_size={self.unflattened_size}"


def _integer(name, value, owner):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    return int(value)


def _axis(name, axis, ndim, owner, scalar_as_1d=False):
    """``axis`` in ``[0, ndim)``; with ``scalar_as_1d`` a 0-d input's axes are a 1-d one's
    (0 or -1), as ``torch.flatten``'s."""
    n = max(ndim, 1) if scalar_as_1d else ndim
    if not -n <= axis < n:
        raise ValueError(f"{owner}: {name} {axis} is out of range for an input with {ndim} "
                         "dimensions")
    return axis % n


def _tensor(x):
    return x if isinstance(x, Tensor) else asarray(x)
