"""Kernels of ``linear_relu``, ``linear_tanh`` and ``linear_sigmoid``: ``act(x @ w + b)``.

Forward, the activation runs in place on the product (the bias added in place first, as
``linear``'s kernel does): one array, saved for the backward. Backward, ``gz`` (the gradient at
the activation's input) is made once (written into ``g`` when the tape says nothing else holds
it) and feeds the three gradients: ``gz @ w.T``, ``x.T @ gz`` and the bias's column sums
(``axis_sums.sum_rows``).
``linear_activation_kernel`` builds the kernel from the three activation steps, so the Numba
backend gives its fused loops to the same code.

>>> import numpy as np
>>> k = KERNELS["linear_relu"]
>>> x, w, b = np.ones((1, 2)), np.array([[1.0, -1.0], [1.0, -1.0]]), np.zeros(2)
>>> y, saved = k.forward(x, w, b)
>>> y.tolist(), [gi.tolist() for gi in k.vjp(np.ones((1, 2)), saved, (False, True, True),
...                                          x, w, b)[1:]]
([[2.0, 0.0]], [[[1.0, 0.0], [1.0, 0.0]], [1.0, 0.0]])
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.deferred import weight_gradient

from .. import blas
from ..axis_sums import sum_rows
from .kernels import (_BLOCK, _FLOAT_SET, _INF, _relu_vjp, _relu_vjp_in_place, _sigmoid_vjp,
                      _tanh_vjp)
from .ufuncs import clip

_NOT_MINE = (NotImplemented, NotImplemented, NotImplemented)


def linear_activation_kernel(activate, gradient, gradient_in_place) -> Kernel:
    """The Kernel of ``act(x @ w + b)`` from ``activate(z, b)`` (adds ``b`` to the fresh 2-D
    product ``z`` and applies the activation, both in place) and ``gradient(g, y)`` /
    ``gradient_in_place(g, y)``, each ``(gz, gz.sum(0))`` for the output ``y`` (the second may
    write ``gz`` into ``g``; None to decline: the generic rules run)."""

    def forward(x, w, b):
        dt = x.dtype
        if dt not in _FLOAT_SET or w.dtype != dt or b.dtype != dt or x.ndim != 2:
            return None
        z = blas.matmul(x, w)
        activate(z, b)
        return z, z

    def backward(g, y, needs, x, w, b, in_place):
        if g.__class__ is not np.ndarray or g.shape != y.shape or g.dtype != y.dtype:
            return _NOT_MINE             # a NumPy scalar or a broadcast seed: the generic rules
        made = (gradient_in_place if in_place else gradient)(g, y)
        if made is None:
            return _NOT_MINE
        gz, db = made
        return (blas.matmul(gz, w.T) if needs[0] else None,
                weight_gradient(x, gz, w, needs[1]) if needs[1] else None,
                db if needs[2] else None)

    def vjp(g, y, needs, x, w, b):
        return backward(g, y, needs, x, w, b, False)

    def vjp_in_place(g, y, needs, x, w, b):
        return backward(g, y, needs, x, w, b, True)

    # the output (saved by forward) stands for the activation's input: x and w are kept for
    # the products
    return Kernel(forward, vjp, saves=(0, 1), vjp_in_place=vjp_in_place, needs=True,
                  defers=(1,))


def _with_sum(rule):
    """``gradient(g, y)`` from an activation kernel's vjp ``rule(g, y, x) -> (gz,)``."""
    def gradient(g, y):
        gz = rule(g, y, None)[0]
        return gz, sum_rows(gz)
    return gradient


def _relu_gradient_in_place(g, y):
    """``_with_sum(_relu_vjp_in_place)`` for ``backward``, which has checked ``g``'s class,
    shape and dtype: a writable ``g`` of one block is masked here, without the rule's checks."""
    if g.flags.writeable and g.size <= _BLOCK:
        np.multiply(g, y != 0, out=g)
        return g, sum_rows(g)
    return _relu_gradient_by_rule(g, y)


_relu_gradient_by_rule = _with_sum(_relu_vjp_in_place)      # read-only, or blocks of rows


# each ``activate(z, b)``: ``z <- act(z + b)`` in place on a fresh product (the Numba kernels
# run these where their own loops do not)
def relu(z, b):
    z += b
    clip(z, 0.0, _INF, out=z)          # ufuncs.py: faster than maximum; -0.0 stays -0.0


def tanh(z, b):
    z += b
    np.tanh(z, out=z)


def sigmoid(z, b):
    z += b
    # the sigmoid kernel's steps (kernel_common._sigmoid) on z itself: no second array
    with np.errstate(over="ignore"):
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1.0
        np.divide(1.0, z, out=z)


KERNELS = {
    "linear_relu": linear_activation_kernel(relu, _with_sum(_relu_vjp),
                                            _relu_gradient_in_place),
    "linear_tanh": linear_activation_kernel(tanh, _with_sum(_tanh_vjp),
                                            _with_sum(_tanh_vjp)),
    "linear_sigmoid": linear_activation_kernel(sigmoid, _with_sum(_sigmoid_vjp),
                                               _with_sum(_sigmoid_vjp)),
}
