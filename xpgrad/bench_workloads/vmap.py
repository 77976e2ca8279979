"""Per-example gradients of a ReLU MLP's softmax cross-entropy, the loss written for one
example and mapped over the batch: ``xg.vmap(xg.grad(loss), in_axes=(None, 0, 0))`` and
``torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))``. At small sizes the time is
the batching's cost per operation; at large ones, writing the per-example weight gradients."""
from __future__ import annotations

import numpy as np

from ._libs import Unavailable, _need, _xpgrad_module, measured
from .ops import _traced
from .training import _mlp_arrays, _sizes

VMAP_SIZES = (20, 64, 10)


def per_example_grads(lib, batch=64, sizes=VMAP_SIZES, compiled=False):
    """The gradient of every example's loss for every parameter of an MLP of ``sizes``
    (in, hidden..., classes), ``batch`` examples; ``compiled``: xpgrad runs the mapped
    function as an ``xg.function`` (PyTorch eager as always)."""
    if lib.kind == "jax":
        raise Unavailable("no JAX peer written for per-example gradients")
    if lib.device == "cupy":
        raise Unavailable("xg.vmap runs on the NumPy and Numba backends")
    rng = np.random.default_rng(7)
    x0 = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y0 = rng.integers(0, sizes[-1], batch)
    params0 = _mlp_arrays(sizes)
    x, y = lib.put(x0), lib.put(y0)
    params = [lib.put(p) for p in params0]
    sync = lib.sync
    if lib.kind == "xpgrad":
        import xpgrad as xg

        vmap = _need(xg, "vmap", "xpgrad")
        relu = _need(xg.nn, "relu", "xpgrad.nn")
        ce = _need(_xpgrad_module("losses"), "softmax_cross_entropy", "xpgrad.losses")

        def loss(ps, xi, yi):
            h = xi
            for i in range(0, len(ps), 2):
                h = h @ ps[i] + ps[i + 1]
                if i + 2 < len(ps):
                    h = relu(h)
            return ce(h[None], yi[None])

        per_example = vmap(xg.grad(loss), in_axes=(None, 0, 0))
        if compiled:
            per_example = _traced(xg, per_example, params, x, y)
    else:
        torch = lib.torch
        ce = torch.nn.functional.cross_entropy

        def loss(ps, xi, yi):
            h = xi
            for i in range(0, len(ps), 2):
                h = h @ ps[i] + ps[i + 1]
                if i + 2 < len(ps):
                    h = torch.relu(h)
            return ce(h[None], yi[None])

        per_example = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))

    def run():
        per_example(params, x, y)
        sync()
    grads = per_example(params, x, y)
    return measured(run, batch=grads[0].shape[0], sizes=_sizes([g[0] for g in grads]))
