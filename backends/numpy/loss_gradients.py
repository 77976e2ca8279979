"""A fused elementwise loss's saved gradient, handed out once (``handed_once``): its forward
computes the gradient for an output gradient of 1 along with the loss; the first vjp scales that
buffer in place by the incoming gradient and returns it, so no second buffer of the input's size
is made whatever the incoming gradient (a scaled loss, ``reduction="none"`` then a weighting); a
later vjp of the same record (a persistent tape's second gradient) computes it again, so what a
caller got stays the caller's to keep or write over. Numba's fused losses hand theirs out the
same way (``backends/numba/_losses.py``).

>>> import numpy as np
>>> from xpgrad.backends.numpy.loss_kernels import _mse_forward
>>> forward, vjp = handed_once(_mse_forward)
>>> loss, saved = forward(np.array([1.0, 3.0]), np.zeros(2), "sum")
>>> first = vjp(np.asarray(0.5), saved, np.array([1.0, 3.0]), np.zeros(2), "sum")[0]
>>> second = vjp(np.asarray(0.5), saved, np.array([1.0, 3.0]), np.zeros(2), "sum")[0]
>>> first.tolist(), second.tolist(), first is second
([1.0, 3.0], [1.0, 3.0], False)
"""
from __future__ import annotations


class SavedGradient:
    """The gradient a forward saved, and whether a vjp has taken it."""

    __slots__ = ("grad", "taken")

    def __init__(self, grad):
        self.grad = grad
        self.taken = False


def handed_once(forward):
    """``(forward, vjp)`` of the kernel of a loss ``forward(x, t, reduction)`` that returns
    ``(loss, gradient for an output gradient of 1)`` (None to decline); the vjp leaves the
    target's gradient to the generic rule."""

    def saving(x, t, reduction):
        out = forward(x, t, reduction)
        return None if out is None else (out[0], SavedGradient(out[1]))

    def vjp(g, saved, x, t, reduction):
        if saved.taken:
            saved = saving(x, t, reduction)[1]
        saved.taken = True
        grad = saved.grad
        if g.ndim or g.item() != 1:     # a Python comparison: NumPy's 0-d one is slower
            grad *= g
        return grad, NotImplemented
    return saving, vjp
