"""Embedding: a lookup table of ``num_embeddings`` vectors, read by integer ids (PyTorch's
``nn.Embedding``); EmbeddingBag: the table's rows summed, averaged or maxed per bag of ids
(``nn.EmbeddingBag``).

>>> import xpgrad as xg
>>> emb = xg.nn.Embedding(10, 3, padding_idx=0, rng=0)
>>> emb(xg.asarray([[1, 2, 0]])).shape, emb.weight.name
((1, 3, 3), 'embedding/weight')
"""
from __future__ import annotations

from .. import dtypes as _dt
from ..creation import asarray
from ..ops.nn import _padding_index, lookup
from ..tensor import Tensor, Variable
from . import _checks, _initial
from . import init as _init
from ._torch import host, load_checked
from .embedding_bag import MODES, embedding_bag
from .module import Module
from ._torch_strict import strict_option


#: PyTorch's default for an embedding: N(0, 1)
_STANDARD_NORMAL = _init.normal(0.0, 1.0)


def _table(layer, num_embeddings, embedding_dim, padding_idx, rng, init, dtype, backend):
    """A lookup layer's settings, checked (errors naming its class), and its weight
    (``f"{name}/weight"``), drawn by ``init`` (N(0, 1) by default), the ``padding_idx`` row
    zero."""
    who = type(layer).__name__
    layer.num_embeddings = _checks.count("num_embeddings", num_embeddings, who)
    layer.embedding_dim = _checks.count("embedding_dim", embedding_dim, who)
    layer.padding_idx = _padding_index(padding_idx, layer.num_embeddings, who)
    dtype = _checks.floating_dtype(dtype, who)
    init_fn = _STANDARD_NORMAL if init is None else _initial.resolve(init, "init", who)
    gen = _init.as_rng(rng, backend)
    shape = (layer.num_embeddings, layer.embedding_dim)
    w = _initial.draw(init_fn, init, "init", gen, shape, dtype, who,
                      "(num_embeddings, embedding_dim)")
    if backend is not None:
        w = w.to(backend)
    if layer.padding_idx is not None:
        w = asarray(w, copy=True)       # an init may return the caller's (pretrained) rows
        w[layer.padding_idx] = 0.0
    layer.weight = Variable(w, name=f"{layer.name}/weight")


class _LookupTable(Module):
    """What ``Embedding`` and ``EmbeddingBag`` share beyond ``_table``: their PyTorch state
    dict, ``{"weight": (num_embeddings, embedding_dim)}``."""

    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy the weight from a ``torch.nn.Embedding`` or ``torch.nn.EmbeddingBag`` state dict
        (``{"weight": (N, D)}``, a tensor or array); a missing key or another shape raises
        ValueError.

        >>> import numpy as np, xpgrad as xg
        >>> bag = xg.nn.EmbeddingBag(3, 2, rng=0)
        >>> _ = bag.load_torch_state_dict({"weight": np.arange(6.0).reshape(3, 2)})
        >>> bag.weight.tolist()
        [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
        >>> bag.load_torch_state_dict({"weight": np.zeros((2, 2))})
        Traceback (most recent call last):
        ValueError: EmbeddingBag.load_torch_state_dict: 'weight' has shape (2, 2), ...
        """
        (weight,) = load_checked(self, state_dict, {"weight": self.weight.shape})
        self.weight.assign(weight)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, **kwargs):
        """PyTorch's ``from_pretrained``: a layer whose weight is a copy of the 2-D
        ``embeddings`` (a Tensor, NumPy array, nested list or torch tensor), in their float
        dtype and, for a Tensor, on its backend (``dtype=`` / ``backend=`` choose otherwise),
        the ``padding_idx`` row kept as given (it gets no gradient); ``freeze=True``, torch's
        default, leaves the weight out of ``trainable_variables``. Other keywords are the
        constructor's (``name=``, EmbeddingBag's ``mode=``).

        >>> import xpgrad as xg
        >>> emb = xg.nn.Embedding.from_pretrained([[0.5, 1.0], [2.0, 3.0]], padding_idx=0)
        >>> emb(xg.asarray([1, 0])).tolist(), emb.trainable_variables
        ([[2.0, 3.0], [0.5, 1.0]], [])
        """
        who = f"{cls.__name__}.from_pretrained"
        values = host(embeddings)
        if values.ndim != 2:
            raise ValueError(f"{who}: embeddings must be 2-D (num_embeddings, embedding_dim), "
                             f"got shape {values.shape}")
        if values.dtype.kind != "f":
            raise TypeError(f"{who}: embeddings must hold real floats, got {values.dtype} "
                            "values (cast them first)")
        kwargs.setdefault("dtype", values.dtype)
        if isinstance(embeddings, Tensor):
            kwargs.setdefault("backend", embeddings.backend)
        layer = cls(*values.shape, padding_idx=padding_idx, init=lambda *_: values, **kwargs)
        if layer.padding_idx is not None:       # torch keeps the given row
            layer.weight.assign(asarray(values, dtype=layer.weight.dtype,
                                        backend=layer.weight.backend))
        layer.weight.trainable = not freeze
        return layer

    def torch_state_dict(self) -> dict:
        """``{"weight": NumPy array}``, for ``torch.nn.Embedding.load_state_dict`` (or
        ``EmbeddingBag``'s).

        >>> import xpgrad as xg
        >>> xg.nn.Embedding(4, 3, rng=0).torch_state_dict()["weight"].shape
        (4, 3)
        """
        return {"weight": host(self.weight)}


class Embedding(_LookupTable):
    """``Embedding(num_embeddings, embedding_dim)``: ``emb(ids)`` is ``weight[ids]``, of shape
    ``ids.shape + (embedding_dim,)``.

    The weight (``f"{name}/weight"``, shape (num_embeddings, embedding_dim)) starts N(0, 1), as
    PyTorch's, or as ``init`` draws it (a name of ``xg.nn.init.INITIALIZERS`` or a callable
    ``(rng, shape, dtype)`` such as ``xg.nn.init.normal(0.0, 0.02)``; for the fan-based ones the
    shape is (fan_in, fan_out) = (num_embeddings, embedding_dim), Keras' reading; PyTorch's
    ``_calculate_fan_in_and_fan_out`` of the same tensor swaps them); its ``padding_idx`` row
    (if given; negative counts from the end) starts at zero and gets no gradient. ``ids`` are
    integers in ``[0, num_embeddings)`` (IndexError otherwise, TypeError for other dtypes). The
    gradient is a sparse scatter-add of the rows read (``xg.nn.embedding``).
    ``load_torch_state_dict`` / ``torch_state_dict`` convert a ``torch.nn.Embedding``'s
    ``{"weight": ...}``.

    >>> import xpgrad as xg
    >>> emb = xg.nn.Embedding(5, 2, padding_idx=0, rng=0)
    >>> emb(xg.asarray([0, 0])).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """

    _TORCH_ORDER = ("num_embeddings", "embedding_dim", "padding_idx")

    def __init__(self, num_embeddings, embedding_dim, *, padding_idx=None, rng=None, init=None,
                 dtype=_dt.float32, backend=None, name="embedding"):
        super().__init__(name)
        _table(self, num_embeddings, embedding_dim, padding_idx, rng, init, dtype, backend)

    def forward(self, ids):
        return lookup(ids, self.weight, self.padding_idx, "Embedding")

    def _extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f", num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim}{pad}"


class EmbeddingBag(_LookupTable):
    """``EmbeddingBag(num_embeddings, embedding_dim, mode="mean")``: PyTorch's
    ``nn.EmbeddingBag``, ``bag(input, offsets=None, per_sample_weights=None)`` is
    ``xg.nn.embedding_bag(input, weight, offsets, mode, per_sample_weights, padding_idx,
    include_last_offset)``: each bag's rows of ``weight`` summed (``mode="sum"``), averaged
    (``"mean"``) or maxed column by column (``"max"``), an (bags, embedding_dim) result,
    without the (bags, n, embedding_dim) array ``Embedding`` would make. ``input`` is 2-D
    (bags, n), or 1-D with ``offsets`` where each bag starts (with ``include_last_offset``
    one more: the end of the last).

    The weight (``f"{name}/weight"``, (num_embeddings, embedding_dim)) starts N(0, 1) or as
    ``init`` draws it, its ``padding_idx`` row zero, as ``Embedding``'s; ids equal to
    ``padding_idx`` are left out of their bags. Its gradient is a sparse scatter-add of the
    rows read. ``load_torch_state_dict`` / ``torch_state_dict`` convert a
    ``torch.nn.EmbeddingBag``'s ``{"weight": ...}``.

    >>> import xpgrad as xg
    >>> bag = xg.nn.EmbeddingBag(10, 3, mode="sum", rng=0)
    >>> bag(xg.asarray([1, 2, 4, 5, 4]), xg.asarray([0, 2])).shape, bag.weight.name
    ((2, 3), 'embedding_bag/weight')
    """

    def __init__(self, num_embeddings, embedding_dim, *, mode="mean", padding_idx=None,
                 include_last_offset=False, rng=None, init=None, dtype=_dt.float32,
                 backend=None, name="embedding_bag"):
        super().__init__(name)
        who = type(self).__name__
        if not isinstance(mode, str) or mode not in MODES:
            raise ValueError(f"{who}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        if not isinstance(include_last_offset, bool):
            raise TypeError(f"{who}: include_last_offset must be True or False, got "
                            f"{include_last_offset!r}")
        self.mode, self.include_last_offset = mode, include_last_offset
        _table(self, num_embeddings, embedding_dim, padding_idx, rng, init, dtype, backend)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return embedding_bag(input, self.weight, offsets, self.mode, per_sample_weights,
                             self.padding_idx, self.include_last_offset)

    def _extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return (f", num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim}, "
                f"mode={self.mode!r}{pad}")


__all__ = ["Embedding", "EmbeddingBag"]
