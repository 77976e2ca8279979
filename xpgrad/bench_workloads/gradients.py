"""Single operations whose forward+backward was once several times PyTorch's for an
algorithmic reason (a probe of the namespace against PyTorch): a sort's gradient that sorted
twice more, a masked update through ``np.add.at``'s slow path, an ``embedding_bag`` max over
bags padded to the longest, a multi-label hinge over every class position, a mask read by
its N-d positions, a product's gradient through the general way for zeros, sorted repeats
and a nearest upsampling scattered by ``np.add.at``, a remainder's quotient by a second slow
ufunc, an ``unstack`` recorded as a node per row, running sums one element at a time
(``np.cumsum``), a multiply at distinct rows through ``ufunc.at`` and the product of the
other repeats, a bag mean counting by a second scatter; and elementwise functions whose
NumPy ufuncs were scalar loops or whose formulas took many passes (``logaddexp``,
``exp2``, ``erfc``, ``log_ndtr``, ``gammainc`` in ``x``, ``betaln``); a CTC loss whose
recursions ran twice in log space, a softmax cross-entropy over a middle axis (NumPy's row
maxima of short rows), running products one element at a time, a triangle's mask made per
call, a constant padding written twice, ``take_along_axis``'s fancy index over every axis, a
set at distinct rows whose gradient marked the writes over ``x``'s shape, and ``gather_nd``'s
coordinates checked twice; and the speed cliffs of a probe of activations, losses and
normalizations (``glu``, once four tape nodes; ``huber`` and ``smooth_l1``; ``layer_norm``
and ``group_norm``, their weight and bias constants). Each is timed forward and backward
with a fixed output gradient, at one natural size."""
from __future__ import annotations

import numpy as np

from ._libs import Unavailable, _Lib, measured  # noqa: F401 (_Lib: the example)
from .ops import _differentiate

GRADIENT_OPS = ("sort", "median", "at_mask_add", "embedding_bag_max", "multilabel_margin",
                "getitem_mask", "prod_rows", "repeat_counts", "nearest_1d", "remainder",
                "unstack_rows", "cumsum_last", "cumsum_first", "at_multiply_rows",
                "embedding_bag_mean", "logaddexp", "exp2", "erfc", "log_ndtr", "gammainc",
                "betaln", "ctc", "sce_middle_axis", "cumprod_last", "tril", "pad_constant",
                "take_along_rows", "at_set_rows", "gather_nd",
                "glu", "huber", "smooth_l1", "layer_norm", "group_norm")
#: elementwise functions of one differentiated 256x256 float32 input (and a constant second):
#: ``(low, high)`` of a uniform input, or None for a standard normal one, per input
_ELEMENTWISE = {"logaddexp": (None, (0.1, 2.0)), "exp2": (None,), "erfc": (None,),
                "log_ndtr": (None,), "gammainc": ((0.0, 30.0), (0.1, 30.0)),
                "betaln": ((0.1, 2.0), (0.5, 12.0))}


def _inputs(name):
    """``(differentiated input, other inputs, output shape)`` as NumPy arrays."""
    rng = np.random.default_rng(11)
    if name in ("cumsum_last", "cumsum_first"):
        return rng.normal(size=(256, 256)).astype(np.float32), (), (256, 256)
    if name == "at_multiply_rows":
        return rng.normal(size=(256, 256)).astype(np.float32), \
            (rng.permutation(256)[:128], rng.normal(size=(128, 256)).astype(np.float32)), \
            (256, 256)
    if name in ("sort", "median", "at_mask_add", "getitem_mask", "prod_rows", "unstack_rows"):
        x = rng.normal(size=(256, 256)).astype(np.float32)
        out = {"median": (256,), "prod_rows": (256,),
               "getitem_mask": (int((x > 0.3).sum()),)}.get(name, (256, 256))
        return x, (x > 0.3,), out
    if name == "repeat_counts":
        counts = rng.integers(0, 4, 256)
        return rng.normal(size=(256, 256)).astype(np.float32), (counts,), \
            (int(counts.sum()), 256)
    if name == "nearest_1d":
        return rng.normal(size=(16, 32, 256)).astype(np.float32), (), (16, 32, 300)
    if name == "glu":
        return rng.normal(size=(256, 256)).astype(np.float32), (), (256, 128)
    if name in ("huber", "smooth_l1"):              # residuals across both branches
        return (rng.normal(size=(256, 256)) * 2).astype(np.float32), \
            (rng.normal(size=(256, 256)).astype(np.float32),), ()
    if name in ("layer_norm", "group_norm"):
        shape, channels = ((64, 16, 256), 256) if name == "layer_norm" else ((16, 16, 32, 32), 16)
        return rng.normal(size=shape).astype(np.float32), \
            tuple(rng.normal(size=channels).astype(np.float32) for _ in range(2)), shape
    if name in _ELEMENTWISE:
        x, *others = [(rng.normal(size=(256, 256)) if span is None else
                       rng.uniform(*span, (256, 256))).astype(np.float32)
                      for span in _ELEMENTWISE[name]]
        return x, tuple(others), (256, 256)
    if name == "remainder":          # the divisor differentiated: the quotient's gradient
        return rng.uniform(0.1, 2.0, (256, 256)).astype(np.float32), \
            (rng.normal(size=(256, 256)).astype(np.float32),), (256, 256)
    if name in ("embedding_bag_max", "embedding_bag_mean"):
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
    if name in _INDEXING:
        return _INDEXING[name](rng)
    raise ValueError(f"unknown operation {name!r}; expected one of {GRADIENT_OPS}")


def _ctc_inputs(rng):
    """Logits (T=100, N=16, C=30) (the loss takes their ``log_softmax``: PyTorch's gradient
    of log-probabilities assumes one), targets of 10 to 29 labels."""
    return rng.normal(size=(100, 16, 30)).astype(np.float32), \
        (rng.integers(1, 30, (16, 30)), np.full(16, 100), rng.integers(10, 30, 16)), ()


#: the later operations' inputs: ``(differentiated input, other inputs, output shape)``
_INDEXING = {
    "ctc": _ctc_inputs,
    "sce_middle_axis": lambda rng: (rng.normal(size=(32, 50, 64)).astype(np.float32),
                                    (rng.integers(0, 50, (32, 64)),), ()),
    "cumprod_last": lambda rng: (rng.uniform(0.5, 1.5, (256, 256)).astype(np.float32), (),
                                 (256, 256)),
    "tril": lambda rng: (rng.normal(size=(256, 256)).astype(np.float32), (), (256, 256)),
    "pad_constant": lambda rng: (rng.normal(size=(16, 16, 32, 32)).astype(np.float32), (),
                                 (16, 16, 37, 37)),
    "take_along_rows": lambda rng: (rng.normal(size=(256, 256)).astype(np.float32),
                                    (rng.integers(0, 256, (256, 32)),), (256, 32)),
    "at_set_rows": lambda rng: (rng.normal(size=(256, 256)).astype(np.float32),
                                (rng.permutation(256)[:128],
                                 rng.normal(size=(128, 256)).astype(np.float32)), (256, 256)),
    "gather_nd": lambda rng: (rng.normal(size=(256, 256)).astype(np.float32),
                              (rng.integers(0, 256, (1024, 2)),), (1024,)),
}


def _function(lib, name):
    """The operation on ``lib`` as a function of the differentiated input and the others."""
    if lib.kind == "xpgrad":
        import xpgrad as xg

        return {"sort": lambda x, mask: xg.sort(x, axis=1),
                "median": lambda x, mask: xg.median(x, axis=1),
                "at_mask_add": lambda x, mask: x.at[mask].add(1.0),
                "embedding_bag_max": lambda w, ids, offsets: xg.nn.embedding_bag(
                    ids, w, offsets, mode="max"),
                "multilabel_margin": xg.losses.multilabel_margin,
                "getitem_mask": lambda x, mask: x[mask],
                "prod_rows": lambda x, mask: xg.prod(x, axis=1),
                "repeat_counts": lambda x, counts: xg.repeat(x, counts, axis=0),
                "nearest_1d": lambda x: xg.nn.interpolate(x, size=300, mode="nearest"),
                "remainder": lambda y, x: xg.remainder(x, y),
                "unstack_rows": lambda x, mask: xg.stack(xg.unstack(x)[::-1]),
                "cumsum_last": lambda x: xg.cumulative_sum(x, axis=1),
                "cumsum_first": lambda x: xg.cumulative_sum(x, axis=0),
                "at_multiply_rows": lambda x, ids, u: x.at[ids].multiply(u),
                "embedding_bag_mean": lambda w, ids, offsets: xg.nn.embedding_bag(
                    ids, w, offsets, mode="mean"),
                "logaddexp": xg.logaddexp, "exp2": xg.special.exp2, "erfc": xg.special.erfc,
                "log_ndtr": xg.special.log_ndtr,
                "gammainc": lambda x, a: xg.special.gammainc(a, x),
                "betaln": xg.special.betaln,
                "ctc": lambda x, t, il, tl: xg.losses.ctc(xg.nn.log_softmax(x, axis=-1), t, il,
                                                          tl),
                "sce_middle_axis": lambda x, y: xg.losses.softmax_cross_entropy(
                    xg.moveaxis(x, 1, -1), y),
                "cumprod_last": lambda x: xg.cumulative_prod(x, axis=1),
                "tril": xg.tril, "pad_constant": lambda x: xg.nn.pad(x, (2, 3, 1, 4)),
                "take_along_rows": lambda x, i: xg.take_along_axis(x, i, axis=1),
                "at_set_rows": lambda x, ids, u: x.at[ids].set(u),
                "gather_nd": xg.gather_nd, "glu": xg.nn.glu, "huber": xg.losses.huber,
                "smooth_l1": xg.losses.smooth_l1,
                "layer_norm": lambda x, w, b: xg.nn.layer_norm(x, (256,), w, b),
                "group_norm": lambda x, w, b: xg.nn.group_norm(x, 4, w, b)}[name]
    if lib.kind == "torch":
        F = lib.torch.nn.functional
        return {"sort": lambda x, mask: lib.torch.sort(x, dim=1, stable=True).values,
                "median": lambda x, mask: lib.torch.quantile(x, 0.5, dim=1),
                "at_mask_add": lambda x, mask: x + mask.to(x.dtype),
                "embedding_bag_max": lambda w, ids, offsets: F.embedding_bag(
                    ids, w, offsets, mode="max"),
                "multilabel_margin": F.multilabel_margin_loss,
                "getitem_mask": lambda x, mask: x[mask],
                "prod_rows": lambda x, mask: lib.torch.prod(x, 1),
                "repeat_counts": lambda x, counts: lib.torch.repeat_interleave(x, counts, 0),
                "nearest_1d": lambda x: F.interpolate(x, size=300, mode="nearest"),
                "remainder": lambda y, x: lib.torch.remainder(x, y),
                "unstack_rows": lambda x, mask: lib.torch.stack(lib.torch.unbind(x)[::-1]),
                "cumsum_last": lambda x: lib.torch.cumsum(x, 1),
                "cumsum_first": lambda x: lib.torch.cumsum(x, 0),
                "at_multiply_rows": lambda x, ids, u: x.index_put((ids,), x[ids] * u),
                "embedding_bag_mean": lambda w, ids, offsets: F.embedding_bag(
                    ids, w, offsets, mode="mean"),
                "logaddexp": lib.torch.logaddexp, "exp2": lib.torch.special.exp2,
                "erfc": lib.torch.special.erfc, "log_ndtr": lib.torch.special.log_ndtr,
                "gammainc": lambda x, a: lib.torch.special.gammainc(a, x),
                "betaln": lambda a, b: (lib.torch.lgamma(a) + lib.torch.lgamma(b)
                                        - lib.torch.lgamma(a + b)),
                "ctc": lambda x, t, il, tl: F.ctc_loss(x.log_softmax(-1), t, il, tl),
                "sce_middle_axis": F.cross_entropy,
                "cumprod_last": lambda x: lib.torch.cumprod(x, 1), "tril": lib.torch.tril,
                "pad_constant": lambda x: F.pad(x, (2, 3, 1, 4)),
                "take_along_rows": lambda x, i: lib.torch.take_along_dim(x, i, 1),
                "at_set_rows": lambda x, ids, u: x.index_copy(0, ids, u),
                "gather_nd": lambda x, i: x[i[:, 0], i[:, 1]],
                "glu": F.glu, "huber": F.huber_loss, "smooth_l1": F.smooth_l1_loss,
                "layer_norm": lambda x, w, b: F.layer_norm(x, (256,), w, b),
                "group_norm": lambda x, w, b: F.group_norm(x, 4, w, b)}[name]
    jnp = lib.jax.numpy
    if name == "sort":
        return lambda x, mask: jnp.sort(x, axis=1)
    if name == "median":
        return lambda x, mask: jnp.median(x, axis=1)
    if name in ("cumsum_last", "cumsum_first"):
        return lambda x: jnp.cumsum(x, axis=1 if name == "cumsum_last" else 0)
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
