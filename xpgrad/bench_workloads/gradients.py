"""Single operations whose forward+backward was once several times PyTorch's for an
algorithmic reason (a probe of the namespace against PyTorch): a sort's gradient that sorted
twice more, a masked update through ``np.add.at``'s slow path, an ``embedding_bag`` max over
bags padded to the longest, a multi-label hinge over every class position. Each is timed
forward and backward with a fixed output gradient, at one natural size."""
from __future__ import annotations

import numpy as np

from ._libs import Unavailable, _Lib, measured  # noqa: F401 (_Lib: the example)
from .ops import _differentiate

GRADIENT_OPS = ("sort", "median", "at_mask_add", "embedding_bag_max", "multilabel_margin")


def _inputs(name):
    """``(differentiated input, other inputs, output shape)`` as NumPy arrays."""
    rng = np.random.default_rng(11)
    if name in ("sort", "median", "at_mask_add"):
        x = rng.normal(size=(256, 256)).astype(np.float32)
        out = (256,) if name == "median" else (256, 256)
        return x, (x > 0.3,), out
    if name == "embedding_bag_max":
        ids = rng.integers(0, 10000, 2048)
        offsets = np.concatenate([[0], np.sort(rng.choice(np.arange(1, 2048), 127,
                                                          replace=False))])
        return rng.normal(size=(10000, 64)).astype(np.float32), (ids, offsets), (128, 64)
    if name == "multilabel_margin":
        y = np.full((256, 32), -1, np.int64)
        for row in range(256):
            k = rng.integers(1, 8)
            y[row, :k] = rng.choice(32, k, replace=False)
        return rng.normal(size=(256, 32)).astype(np.float32), (y,), ()
    raise ValueError(f"unknown operation {name!r}; expected one of {GRADIENT_OPS}")


def _function(lib, name):
    """The operation on ``lib`` as a function of the differentiated input and the others."""
    if lib.kind == "xpgrad":
        import xpgrad as xg

        return {"sort": lambda x, mask: xg.sort(x, axis=1),
                "median": lambda x, mask: xg.median(x, axis=1),
                "at_mask_add": lambda x, mask: x.at[mask].add(1.0),
                "embedding_bag_max": lambda w, ids, offsets: xg.nn.embedding_bag(
                    ids, w, offsets, mode="max"),
                "multilabel_margin": xg.losses.multilabel_margin}[name]
    if lib.kind == "torch":
        F = lib.torch.nn.functional
        return {"sort": lambda x, mask: lib.torch.sort(x, dim=1, stable=True).values,
                "median": lambda x, mask: lib.torch.quantile(x, 0.5, dim=1),
                "at_mask_add": lambda x, mask: x + mask.to(x.dtype),
                "embedding_bag_max": lambda w, ids, offsets: F.embedding_bag(
                    ids, w, offsets, mode="max"),
                "multilabel_margin": F.multilabel_margin_loss}[name]
    jnp = lib.jax.numpy
    if name == "sort":
        return lambda x, mask: jnp.sort(x, axis=1)
    if name == "median":
        return lambda x, mask: jnp.median(x, axis=1)
    raise Unavailable(f"no JAX peer written for {name}")


def op_gradient(lib, name="sort"):
    """``name`` (one of ``GRADIENT_OPS``) forward and backward on ``lib``, the output's
    gradient a fixed array (a loss's: 1).

    >>> op_gradient(_Lib("xpgrad-numpy"), "median").work
    {'shape': (256, 256)}
    """
    x0, others0, out_shape = _inputs(name)
    fn = _function(lib, name)
    x = lib.put(x0, grad=True)
    others = [lib.put(a) for a in others0]
    g = lib.put(np.random.default_rng(12).normal(size=out_shape).astype(np.float32)) \
        if out_shape else None                       # a loss: its own gradient, 1
    return measured(_differentiate(lib, fn, x, *others, output_gradient=g),
                    shape=tuple(x.shape))
