"""Multi-head attention, PyTorch's ``torch.nn.MultiheadAttention``, over batch-first sequences
by default (xpgrad's default, as its recurrent layers') or, with ``batch_first=False``
(PyTorch's default), sequence-first ones, transposed at entry and exit.

>>> import xpgrad as xg
>>> mha = xg.nn.MultiheadAttention(8, 2, rng=0)
>>> out, weights = mha(xg.ones((3, 5, 8)), xg.ones((3, 7, 8)), xg.ones((3, 7, 8)))
>>> out.shape, weights.shape
((3, 5, 8), (3, 5, 7))
"""
from __future__ import annotations

import math

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray, zeros
from ..dtypes import isdtype
from ..ops.casting import astype
from ..ops.joining import concat
from ..ops.reductions import mean
from ..ops.shape import broadcast_to, permute_dims, reshape
from ..tensor import Variable
from . import _checks
from . import init as _init
from ._torch import host, load_checked
from .attention import as_tensor, attend, blocked, causal_mask, check_mask
from .linear import Linear
from .module import Module
from ._layout import stated_layout
from ._torch_strict import strict_option

_WHO = "MultiheadAttention"


def _as_attend(mask, name, q, shapes):
    """A MultiheadAttention mask (bool: True where NOT to attend, as PyTorch's; float: added)
    of one of ``shapes`` (``{shape: what its axes are}``), in ``attend``'s convention (bool
    True where to attend); TypeError/ValueError naming ``name`` otherwise."""
    mask = check_mask(mask, name, q, who=_WHO, meaning="True: do not attend")
    if mask.shape not in shapes:
        allowed = " or ".join(f"{shape} {axes}" for shape, axes in shapes.items())
        raise ValueError(f"{_WHO}: {name} must have shape {allowed}, got {mask.shape}")
    return ~mask if isdtype(mask.dtype, "bool") else mask


def _merge(a, b, dtype):
    """Two masks of ``attend``'s convention as one (None stands for no mask): ``and`` of two
    bool masks; otherwise a bool one becomes 0 / -inf and the two are added."""
    if a is None or b is None:
        return a if b is None else b
    if isdtype(a.dtype, "bool") and isdtype(b.dtype, "bool"):
        return a & b

    def additive(m):
        return blocked(m, dtype) if isdtype(m.dtype, "bool") else astype(m, dtype)
    return additive(a) + additive(b)


def _pad_key(mask, shape):
    """``mask`` (broadcast to ``shape``, (N, H, L, S)) with one more key it attends to."""
    if mask is None:
        return None
    mask = broadcast_to(mask, shape)
    fill = True if isdtype(mask.dtype, "bool") else 0.0
    extra = asarray(fill, dtype=mask.dtype, backend=mask.backend)
    return concat([mask, broadcast_to(extra, (*shape[:-1], 1))], axis=-1)


class MultiheadAttention(Module):
    """``MultiheadAttention(embed_dim, num_heads)``: ``out, weights = mha(query, key, value)``
    as ``torch.nn.MultiheadAttention(..., batch_first=True)``.

    ``query`` is (N, L, embed_dim), ``key`` (N, S, kdim), ``value`` (N, S, vdim) (``kdim`` and
    ``vdim`` default to ``embed_dim``), or the same without the batch axis; ``out`` is (N, L,
    embed_dim) (``batch_first`` left out is True, and ``load_torch_state_dict`` warns once
    that torch's default is False). With ``batch_first=False`` they are sequence first, (L, N,
    embed_dim), (S, N, kdim), (S, N, vdim) and (L, N, embed_dim), as PyTorch's; the weights are
    (N, L, S) either way. Each of ``num_heads`` heads attends with ``embed_dim // num_heads``
    features; ``dropout`` drops attention weights in training mode (1.0: all of them, as PyTorch
    allows). ``weights`` (with ``need_weights=True``) are (N, L, S), averaged over the heads, or
    (N, num_heads, L, S) with ``average_attn_weights=False``; None otherwise.
    Masks are PyTorch's: ``key_padding_mask`` (N, S), True for keys to ignore (padding);
    ``attn_mask`` (L, S) or (N * num_heads, L, S), True where a query may NOT attend (the
    opposite of ``scaled_dot_product_attention``'s); either may instead be a float mask, added
    to the scores (dtypes as ``scaled_dot_product_attention``'s). ``is_causal=True`` masks each
    query's later keys (PyTorch takes it only as a hint that ``attn_mask`` is causal and
    refuses it alone; here it applies the causal mask, together with ``attn_mask`` if given).
    A query with no key to attend to gives zeros (PyTorch: NaN with ``need_weights=True``,
    zeros without).

    The projections are ``Linear`` layers ``q_proj``, ``k_proj``, ``v_proj`` and ``out_proj``
    (weights (in, out)); they start as PyTorch's (Glorot-uniform over the packed (3 * embed_dim,
    embed_dim) in-projection, or over each when kdim/vdim differ; ``out_proj`` PyTorch's Linear
    default; biases zero). ``add_bias_kv`` appends learned ``bias_k`` / ``bias_v`` (1, 1,
    embed_dim) to the keys and values, ``add_zero_attn`` a zero key and value, as PyTorch's.
    ``load_torch_state_dict`` / ``torch_state_dict`` read and write PyTorch's keys.

    >>> import xpgrad as xg
    >>> mha = xg.nn.MultiheadAttention(4, 2, rng=0)
    >>> x = xg.ones((1, 3, 4))
    >>> out, w = mha(x, x, x, key_padding_mask=xg.asarray([[False, False, True]]))
    >>> w.tolist()[0][0]
    [0.5, 0.5, 0.0]
    """

    batch_first = True      # a layer pickled before the option had this layout

    _TORCH_ORDER = ("embed_dim", "num_heads", "dropout", "bias", "add_bias_kv", "add_zero_attn", "kdim",
                    "vdim", "batch_first")

    def __init__(self, embed_dim, num_heads, *, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=None, rng=None,
                 dtype=_dt.float32, backend=None, name="multihead_attention"):
        super().__init__(name)
        self.batch_first = stated_layout(self, batch_first, _WHO)
        E = self.embed_dim = _checks.size("embed_dim", embed_dim, _WHO)
        self.num_heads = _checks.size("num_heads", num_heads, _WHO)
        if E % self.num_heads:
            raise ValueError(f"{_WHO}: embed_dim ({E}) must be divisible by num_heads "
                             f"({self.num_heads})")
        self.head_dim = E // self.num_heads
        self.kdim = E if kdim is None else _checks.size("kdim", kdim, _WHO)
        self.vdim = E if vdim is None else _checks.size("vdim", vdim, _WHO)
        self.dropout = _checks.probability("dropout", dropout, _WHO, high_open=False)
        bias = flag(bias, "bias", _WHO)
        self.add_zero_attn = flag(add_zero_attn, "add_zero_attn", _WHO)
        add_bias_kv = flag(add_bias_kv, "add_bias_kv", _WHO)
        dtype = _checks.floating_dtype(dtype, _WHO)
        gen = _init.as_rng(rng, backend)
        packed = self.packed
        common = dict(rng=gen, bias=bias, dtype=dtype, backend=backend)
        for part, fan_in in (("q", E), ("k", self.kdim), ("v", self.vdim)):
            # PyTorch's xavier_uniform_ of in_proj_weight (3E, E), or of each (E, fan_in)
            bound = math.sqrt(6.0 / (4 * E if packed else E + fan_in))
            setattr(self, f"{part}_proj", Linear(fan_in, E, init=_init.uniform(-bound, bound),
                                                 name=f"{self.name}/{part}_proj", **common))
        self.out_proj = Linear(E, E, init="torch_linear_default", name=f"{self.name}/out_proj",
                               **common)
        self.bias_k = self.bias_v = None
        if add_bias_kv:             # PyTorch's xavier_normal_ of (1, 1, E): std sqrt(1 / E)
            draw = _init.normal(0.0, math.sqrt(1.0 / E))
            device = self.q_proj.w.backend
            self.bias_k, self.bias_v = (
                Variable(asarray(draw(gen, (1, 1, E), dtype)).to(device),
                         name=f"{self.name}/bias_{part}") for part in "kv")
        self._rng = gen

    @property
    def packed(self) -> bool:
        """Whether PyTorch packs the in-projections into one ``in_proj_weight`` (kdim and vdim
        equal to embed_dim, PyTorch's ``_qkv_same_embed_dim``)."""
        return self.kdim == self.embed_dim and self.vdim == self.embed_dim

    # -- forward -------------------------------------------------------------------------------
    def _inputs(self, query, key, value):
        """The three inputs as batch-first Tensors of 3 axes (batched or not, as the query),
        checked in the layer's layout."""
        w, out, shapes, batched = self.q_proj.w, [], [], None
        for name, x, features in (("query", query, self.embed_dim), ("key", key, self.kdim),
                                  ("value", value, self.vdim)):
            x = as_tensor(x, name, _WHO, dtype=w.dtype, backend=w.backend)
            if x.dtype != w.dtype:
                raise TypeError(f"{_WHO} has {w.dtype} weights but {name} is {x.dtype}; cast "
                                "it with xg.astype (no silent promotion)")
            batched = x.ndim == 3 if batched is None else batched
            want = 3 if batched else 2
            if x.ndim != want or x.shape[-1] != features:
                axes = "batch, sequence" if self.batch_first else "sequence, batch"
                if not out:
                    shape = f"({axes}, {features}), or (sequence, {features}) unbatched"
                else:
                    shape = f"({axes if batched else 'sequence'}, {features})" + (
                        "" if batched else ", unbatched as query")
                raise ValueError(f"{_WHO}: {name} must have shape {shape}, got shape "
                                 f"{x.shape}")
            shapes.append(x.shape)
            if batched and not self.batch_first:
                x = permute_dims(x, (1, 0, 2))              # (N, T, features) inside
            out.append(x if batched else x[None])
        q, k, v = out
        if not (q.shape[0] == k.shape[0] == v.shape[0]):
            raise ValueError(f"{_WHO}: query, key and value must have one batch size, got "
                             f"shapes {shapes[0]}, {shapes[1]} and {shapes[2]}")
        if k.shape[1] != v.shape[1]:
            raise ValueError(f"{_WHO}: key and value must have one sequence length, got shapes "
                             f"{shapes[1]} and {shapes[2]}")
        return q, k, v, batched

    def _mask(self, q, k, key_padding_mask, attn_mask, is_causal, batched):
        """The masks merged in ``attend``'s convention, broadcasting to (N, H, L, S)."""
        N, L, S, H = q.shape[0], q.shape[1], k.shape[1], self.num_heads
        mask = None
        if key_padding_mask is not None:
            want = (N, S) if batched else (S,)
            m = _as_attend(key_padding_mask, "key_padding_mask", q,
                           {want: "(N, S)" if batched else "(S,)"})
            mask = reshape(m, (N, 1, 1, S))
        if attn_mask is not None:
            heads = (N * H, L, S) if batched else (H, L, S)
            m = _as_attend(attn_mask, "attn_mask", q, {
                (L, S): "(L, S)",
                heads: "(N * num_heads, L, S)" if batched else "(num_heads, L, S)"})
            if m.ndim == 3:
                m = reshape(m, (N, H, L, S))
            mask = _merge(mask, m, q.dtype)
        if is_causal:
            mask = _merge(mask, causal_mask(L, S, q.backend), q.dtype)
        return mask

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        need_weights = flag(need_weights, "need_weights", _WHO)
        average = flag(average_attn_weights, "average_attn_weights", _WHO)
        is_causal = flag(is_causal, "is_causal", _WHO)
        query, key, value, batched = self._inputs(query, key, value)
        mask = self._mask(query, key, key_padding_mask, attn_mask, is_causal, batched)
        N, L, H, D = query.shape[0], query.shape[1], self.num_heads, self.head_dim
        q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        if self.bias_k is not None:
            k = concat([k, broadcast_to(self.bias_k, (N, 1, self.embed_dim))], axis=1)
            v = concat([v, broadcast_to(self.bias_v, (N, 1, self.embed_dim))], axis=1)
            mask = _pad_key(mask, (N, H, L, k.shape[1] - 1))

        def heads(x):                                   # (N, T, E) -> (N, H, T, D)
            return permute_dims(reshape(x, (N, x.shape[1], H, D)), (0, 2, 1, 3))
        q, k, v = heads(q), heads(k), heads(v)
        if self.add_zero_attn:
            nothing = zeros((N, H, 1, D), dtype=k.dtype, backend=k.backend)
            k, v = concat([k, nothing], axis=2), concat([v, nothing], axis=2)
            mask = _pad_key(mask, (N, H, L, k.shape[2] - 1))
        p = self.dropout if flag(self.training, "training", _WHO) else 0.0
        if p:
            self._rng = _init.as_rng(self._rng, q.backend)
        out, weights = attend(q, k, v, mask, p, None, self._rng, need_weights=need_weights)
        out = self.out_proj(reshape(permute_dims(out, (0, 2, 1, 3)), (N, L, self.embed_dim)))
        if need_weights and average:
            weights = mean(weights, axis=1)
        if not batched:
            out, weights = out[0], (None if weights is None else weights[0])
        elif not self.batch_first:
            out = permute_dims(out, (1, 0, 2))              # weights stay (N, L, S), as torch's
        return out, weights

    # -- PyTorch interoperability --------------------------------------------------------------
    def _torch_shapes(self) -> dict:
        E, out = self.embed_dim, {}
        if self.packed:
            out["in_proj_weight"] = (3 * E, E)
        else:
            out.update(q_proj_weight=(E, E), k_proj_weight=(E, self.kdim),
                       v_proj_weight=(E, self.vdim))
        if self.q_proj.b is not None:
            out["in_proj_bias"] = (3 * E,)
        if self.bias_k is not None:
            out["bias_k"] = out["bias_v"] = (1, 1, E)
        out["out_proj.weight"] = (E, E)
        if self.out_proj.b is not None:
            out["out_proj.bias"] = (E,)
        return out

    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy the weights of a ``torch.nn.MultiheadAttention`` of the same sizes, ``bias``,
        ``add_bias_kv``, kdim and vdim (its ``state_dict()``: ``in_proj_weight`` or
        ``q/k/v_proj_weight``, ``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``,
        ``bias_k``, ``bias_v``). A missing or foreign key of these, another shape or values that
        are not real numbers raise ValueError before anything changes.

        >>> import xpgrad as xg
        >>> a = xg.nn.MultiheadAttention(4, 2, rng=0)
        >>> b = xg.nn.MultiheadAttention(4, 2, batch_first=True, rng=1)
        >>> b.load_torch_state_dict(a.torch_state_dict())
        <All keys matched successfully>
        >>> bool((a.q_proj.w == b.q_proj.w).all().item())
        True
        """
        shapes = self._torch_shapes()
        values = dict(zip(shapes, load_checked(self, state_dict, shapes)))
        E = self.embed_dim
        if self.packed:
            w = values["in_proj_weight"]
            values.update(q_proj_weight=w[:E], k_proj_weight=w[E:2 * E],
                          v_proj_weight=w[2 * E:])
        targets = []                    # (variable, value): Variables do not hash
        for i, part in enumerate("qkv"):
            layer = getattr(self, f"{part}_proj")
            targets.append((layer.w, values[f"{part}_proj_weight"].T))
            if layer.b is not None:
                targets.append((layer.b, values["in_proj_bias"][i * E:(i + 1) * E]))
        targets.append((self.out_proj.w, values["out_proj.weight"].T))
        if self.out_proj.b is not None:
            targets.append((self.out_proj.b, values["out_proj.bias"]))
        if self.bias_k is not None:
            targets += [(self.bias_k, values["bias_k"]), (self.bias_v, values["bias_v"])]
        for variable, value in targets:
            value = asarray(value.copy(order="C"), dtype=variable.dtype)
            variable.assign(value.to(variable.backend))

    def torch_state_dict(self) -> dict:
        """``{PyTorch's key: NumPy array}`` for ``torch.nn.MultiheadAttention.load_state_dict``
        (see ``load_torch_state_dict`` for the keys)."""
        import numpy as np

        out = {}
        ws = [host(getattr(self, f"{p}_proj").w).T.copy() for p in "qkv"]
        if self.packed:
            out["in_proj_weight"] = np.concatenate(ws)
        else:
            out.update(q_proj_weight=ws[0], k_proj_weight=ws[1], v_proj_weight=ws[2])
        if self.q_proj.b is not None:
            out["in_proj_bias"] = np.concatenate([host(getattr(self, f"{p}_proj").b)
                                                  for p in "qkv"])
        if self.bias_k is not None:
            out["bias_k"], out["bias_v"] = host(self.bias_k), host(self.bias_v)
        out["out_proj.weight"] = host(self.out_proj.w).T.copy()
        if self.out_proj.b is not None:
            out["out_proj.bias"] = host(self.out_proj.b)
        return out

    def _extra_repr(self):
        dims = "" if self.packed else f", kdim={self.kdim}, vdim={self.vdim}"
        return (f", embed_dim={self.embed_dim}, num_heads={self.num_heads}{dims}"
                + (f", dropout={self.dropout}" if self.dropout else "")
                + (", add_bias_kv=True" if self.bias_k is not None else "")
                + (", add_zero_attn=True" if self.add_zero_attn else "")
                + ("" if self.batch_first else ", batch_first=False"))


__all__ = ["MultiheadAttention"]
