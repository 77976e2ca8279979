"""PyTorch's transformer layers over batch-first sequences: ``TransformerEncoderLayer`` and
``TransformerDecoderLayer`` (self-attention, cross-attention for the decoder, and a feed-forward
network, each in a residual block with LayerNorm and Dropout, after it or, with
``norm_first=True``, before it), composed of ``MultiheadAttention``, ``Linear``, ``LayerNorm``
and ``Dropout``, and ``generate_square_subsequent_mask``. Their stacks are in
``transformer_stacks.py``.

>>> import xpgrad as xg
>>> layer = xg.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, rng=0)
>>> layer(xg.ones((3, 5, 8))).shape
(3, 5, 8)
"""
from __future__ import annotations

from .. import dtypes as _dt
from .._args import flag
from ..ops.activations import gelu, relu
from ..ops.shape import permute_dims
from ..optim._checks import hyperparameter
from . import _checks
from . import init as _init
from .attention import as_tensor, blocked, causal_mask, check_mask
from .dropout import Dropout
from .linear import Linear
from .module import Module
from ._layout import stated_layout
from .multihead import MultiheadAttention
from .normalization import LayerNorm

#: the activations PyTorch's transformer layers take by name
_ACTIVATIONS = {"relu": relu, "gelu": gelu}


def generate_square_subsequent_mask(sz, device=None, dtype=None, *, backend=None):
    """The (sz, sz) causal mask as PyTorch's ``nn.Transformer.generate_square_subsequent_mask``:
    a float mask, 0 on and below the diagonal and ``-inf`` above it, so that, added to the
    scores (``src_mask`` / ``tgt_mask``), position ``i`` attends to positions ``0..i``.
    ``dtype`` is float32 (None) or float64; ``device`` (PyTorch's argument, here an
    ``xg.Device`` or a backend's name, as the creation functions') or ``backend`` places it.

    >>> generate_square_subsequent_mask(3).tolist()
    [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]
    """
    from ..creation import _placed

    who = "generate_square_subsequent_mask"
    sz = _checks.size("sz", sz, who)
    dtype = _checks.floating_dtype(_dt.float32 if dtype is None else dtype, who)
    try:
        be, place = _placed(device, backend)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{who}: device={device!r}, backend={backend!r}: {e}") from None
    with place:
        return blocked(causal_mask(sz, sz, be), dtype)


def _activation(activation, who):
    """The feed-forward activation: ``"relu"`` / ``"gelu"`` (PyTorch's exact GELU) or a
    callable (a function such as ``xg.nn.silu``, or a layer instance); ValueError/TypeError
    naming ``activation`` otherwise."""
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{who}: activation must be 'relu', 'gelu' or a callable (as "
                             f"PyTorch's), got {activation!r}; pass another one as a function, "
                             "e.g. activation=xg.nn.silu")
        return _ACTIVATIONS[activation]
    _checks.not_torch(activation, "activation", who)
    if isinstance(activation, type):
        raise TypeError(f"{who}: activation must be 'relu', 'gelu' or a callable of one "
                        f"tensor, got the class {activation.__name__}; pass an instance, "
                        f"{activation.__name__}()")
    if not callable(activation):
        raise TypeError(f"{who}: activation must be 'relu', 'gelu' or a callable, got "
                        f"{type(activation).__name__} {activation!r}")
    return activation


class _Layer(Module):
    """What the encoder and decoder layers share: the arguments' checks, the sublayers in
    PyTorch's order (its state-dict keys), the inputs' and masks' checks and the blocks."""

    _ATTENTIONS = ()        # the attention sublayers' attribute names
    batch_first = True      # a layer pickled before the option had this layout
    _NORMS = 0              # how many LayerNorm / Dropout pairs (one per residual block)

    def __init__(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                 batch_first, norm_first, bias, rng, dtype, backend, name):
        super().__init__(name)
        who = type(self).__name__
        self.batch_first = stated_layout(self, batch_first, who)
        self.d_model = _checks.size("d_model", d_model, who)
        self.nhead = _checks.size("nhead", nhead, who)
        if self.d_model % self.nhead:
            raise ValueError(f"{who}: d_model ({self.d_model}) must be divisible by nhead "
                             f"({self.nhead})")
        self.dim_feedforward = _checks.size("dim_feedforward", dim_feedforward, who)
        p = _checks.probability("dropout", dropout, who)
        eps = hyperparameter("layer_norm_eps", layer_norm_eps, low=0.0, owner=who)
        self.norm_first = flag(norm_first, "norm_first", who)
        bias = flag(bias, "bias", who)
        act = _activation(activation, who)
        dtype = _checks.floating_dtype(dtype, who)
        gen = _init.as_rng(_init.check_rng(rng, who), backend)
        common = dict(rng=gen, bias=bias, dtype=dtype, backend=backend)
        for attr in self._ATTENTIONS:
            setattr(self, attr, MultiheadAttention(self.d_model, self.nhead, dropout=p,
                                                   batch_first=True,     # (_batch_major)
                                                   name=f"{self.name}/{attr}", **common))
        linear = dict(init="torch_linear_default",
                      bias_init="torch_linear_default" if bias else None, **common)
        self.linear1 = Linear(self.d_model, self.dim_feedforward, name=f"{self.name}/linear1",
                              **linear)
        self.dropout = Dropout(p, rng=gen, name=f"{self.name}/dropout")
        self.linear2 = Linear(self.dim_feedforward, self.d_model, name=f"{self.name}/linear2",
                              **linear)
        device = self.linear1.w.backend
        for i in range(1, self._NORMS + 1):
            setattr(self, f"norm{i}", LayerNorm(self.d_model, eps=eps, bias=bias, dtype=dtype,
                                                backend=device, name=f"{self.name}/norm{i}"))
        for i in range(1, self._NORMS + 1):
            setattr(self, f"dropout{i}", Dropout(p, rng=gen, name=f"{self.name}/dropout{i}"))
        self.activation = act
        self._rng = gen

    # -- checks ---------------------------------------------------------------------------------
    def _input(self, x, name, like=None, like_name=None):
        """``x`` as a Tensor of the weights' dtype in the layer's layout, (N, L, d_model)
        (``batch_first=False``: (L, N, d_model)) or unbatched (L, d_model), batched as ``like``
        (an input as given) and of its batch size; TypeError/ValueError naming ``name``."""
        who, w, d = type(self).__name__, self.linear1.w, self.d_model
        x = as_tensor(x, name, who, dtype=w.dtype, backend=w.backend)
        if x.dtype != w.dtype:
            raise TypeError(f"{who} has {w.dtype} weights but {name} is {x.dtype}; cast it "
                            "with xg.astype (no silent promotion)")
        if like is None:
            if x.ndim not in (2, 3) or x.shape[-1] != d:
                axes = "batch, sequence" if self.batch_first else "sequence, batch"
                layout = "batch first" if self.batch_first else "batch_first=False"
                raise ValueError(f"{who}: {name} must have shape ({axes}, {d}) ({layout}), or "
                                 f"(sequence, {d}) unbatched, got shape {x.shape}")
        elif x.ndim != like.ndim or x.shape[-1] != d or self._batch(x) != self._batch(like):
            n = self._batch(like)
            shape = (f"(sequence, {d})" if not n else f"({n[0]}, sequence, {d})"
                     if self.batch_first else f"(sequence, {n[0]}, {d})")
            raise ValueError(f"{who}: {name} must have shape {shape} as {like_name} "
                             f"{like.shape}, got shape {x.shape}")
        return x

    def _batch(self, x):
        """The batch axis's size of an input as given (a 1-tuple), () unbatched."""
        return x.shape[:-2] if self.batch_first else x.shape[1:-1]

    def _batch_major(self, x):
        """An input as given, batch first (the layout the blocks compute in); and back."""
        return x if self.batch_first or x.ndim != 3 else permute_dims(x, (1, 0, 2))

    def _attn_mask(self, mask, name, x, L, S):
        """An attention mask (PyTorch's: bool True where NOT to attend, or float, added) of
        shape (L, S) or (N * nhead, L, S), checked; None stays None."""
        if mask is None:
            return None
        who = type(self).__name__
        m = check_mask(mask, name, x, who=who, meaning="True: do not attend")
        heads = (x.shape[0] * self.nhead, L, S) if x.ndim == 3 else (self.nhead, L, S)
        if m.shape not in ((L, S), heads):
            what = "batch * nhead" if x.ndim == 3 else "nhead"
            raise ValueError(f"{who}: {name} must have shape {(L, S)} or {heads} ({what}, "
                             f"{L}, {S}), got {m.shape}")
        return m

    def _padding_mask(self, mask, name, x, S):
        """A key padding mask (True for the positions to ignore, or float), (N, S) or (S,)
        unbatched, checked; None stays None."""
        if mask is None:
            return None
        who = type(self).__name__
        m = check_mask(mask, name, x, who=who, meaning="True: padding, not attended")
        want = (x.shape[0], S) if x.ndim == 3 else (S,)
        if m.shape != want:
            raise ValueError(f"{who}: {name} must have shape {want} "
                             f"({'batch, ' if x.ndim == 3 else ''}sequence), got {m.shape}")
        return m

    # -- blocks ---------------------------------------------------------------------------------
    def _attention(self, attention, dropout, x, memory, mask, padding, is_causal):
        out, _ = attention(x, memory, memory, key_padding_mask=padding, need_weights=False,
                           attn_mask=mask, is_causal=is_causal)
        return dropout(out)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return getattr(self, f"dropout{self._NORMS}")(x)

    def _residuals(self, x, blocks):
        """``x`` through the residual ``blocks`` (functions of one tensor), each with its
        LayerNorm: after the sum (``norm(x + block(x))``, PyTorch's default) or before the block
        (``x + block(norm(x))``, ``norm_first=True``)."""
        for i, block in enumerate(blocks, 1):
            norm = getattr(self, f"norm{i}")
            x = x + block(norm(x)) if self.norm_first else norm(x + block(x))
        return x

    def _extra_repr(self):
        return (f", d_model={self.d_model}, nhead={self.nhead}, "
                f"dim_feedforward={self.dim_feedforward}, dropout={self.dropout.rate}"
                + (", norm_first=True" if self.norm_first else "")
                + ("" if self.batch_first else ", batch_first=False"))


class TransformerEncoderLayer(_Layer):
    """``TransformerEncoderLayer(d_model, nhead)``: PyTorch's ``nn.TransformerEncoderLayer``
    with ``batch_first=True`` (xpgrad's default; ``False``, PyTorch's, reads and returns
    sequence-first (S, N, d_model) tensors, the masks unchanged): self-attention, then a
    feed-forward network ``linear2(dropout(activation(linear1(x))))`` of ``dim_feedforward``
    features, each a residual block with its LayerNorm (``norm1``, ``norm2``, eps
    ``layer_norm_eps``) after the sum, or before the block with ``norm_first=True``, and its
    Dropout (``dropout1``, ``dropout2``; ``dropout`` is the rate of these, of the feed-forward
    one and of the attention weights').

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: ``src`` is
    (N, S, d_model) or unbatched (S, d_model); the masks are ``MultiheadAttention``'s (bool
    True where NOT to attend, or float, added): ``src_mask`` (S, S) or (N * nhead, S, S),
    ``src_key_padding_mask`` (N, S). ``is_causal=True`` applies the causal mask (PyTorch only
    takes it as a hint that ``src_mask`` is causal and wants the mask with it).
    ``activation`` is ``"relu"``, ``"gelu"`` (exact, as PyTorch's) or a callable. ``bias=False``
    leaves the biases out of the Linear layers, the attention and the LayerNorms, as
    PyTorch's. The weights start as PyTorch's (Glorot-uniform in-projections, PyTorch's Linear
    default elsewhere, drawn from ``rng``); ``torch_state_dict`` / ``load_torch_state_dict``
    use PyTorch's keys (``self_attn.in_proj_weight``, ``linear1.weight``, ``norm1.bias``, ...).
    Every Dropout and the attention draw their masks from the one generator ``rng``.

    >>> import xpgrad as xg
    >>> layer = xg.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, rng=0)
    >>> x = xg.ones((1, 3, 8))
    >>> causal = xg.nn.generate_square_subsequent_mask(3)
    >>> bool(xg.all(layer(x, src_mask=causal) == layer(x, is_causal=True)).item())
    True
    >>> list(layer.torch_state_dict())[:2]
    ['self_attn.in_proj_weight', 'self_attn.in_proj_bias']
    """

    _ATTENTIONS = ("self_attn",)
    _NORMS = 2

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=None, norm_first=False, bias=True, *,
                 rng=None, dtype=_dt.float32, backend=None, name="transformer_encoder_layer"):
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                         batch_first, norm_first, bias, rng, dtype, backend, name)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        is_causal = flag(is_causal, "is_causal", type(self).__name__)
        x = self._batch_major(self._input(src, "src"))
        S = x.shape[-2]
        mask = self._attn_mask(src_mask, "src_mask", x, S, S)
        padding = self._padding_mask(src_key_padding_mask, "src_key_padding_mask", x, S)

        def self_attention(h):
            return self._attention(self.self_attn, self.dropout1, h, h, mask, padding,
                                   is_causal)
        return self._batch_major(self._residuals(x, (self_attention, self._ff_block)))


class TransformerDecoderLayer(_Layer):
    """``TransformerDecoderLayer(d_model, nhead)``: PyTorch's ``nn.TransformerDecoderLayer``
    with ``batch_first=True`` (or ``False``, sequence first, as the encoder layer's):
    self-attention over the target, cross-attention
    (``multihead_attn``) from the target to ``memory`` (the encoder's output), then the
    feed-forward network, each a residual block with its LayerNorm (``norm1``..``norm3``) and
    Dropout (``dropout1``..``dropout3``), as ``TransformerEncoderLayer`` (the same arguments).

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``: ``tgt`` is
    (N, T, d_model), ``memory`` (N, S, d_model) (or both unbatched); ``tgt_mask`` (T, T) or
    (N * nhead, T, T), ``memory_mask`` (T, S) or (N * nhead, T, S), the key padding masks (N,
    T) and (N, S); ``tgt_is_causal`` / ``memory_is_causal`` apply the causal (top-left) mask.

    >>> import xpgrad as xg
    >>> layer = xg.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, rng=0)
    >>> layer(xg.ones((2, 3, 8)), xg.ones((2, 5, 8)), tgt_is_causal=True).shape
    (2, 3, 8)
    """

    _ATTENTIONS = ("self_attn", "multihead_attn")
    _NORMS = 3

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=None, norm_first=False, bias=True, *,
                 rng=None, dtype=_dt.float32, backend=None, name="transformer_decoder_layer"):
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                         batch_first, norm_first, bias, rng, dtype, backend, name)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        who = type(self).__name__
        tgt_is_causal = flag(tgt_is_causal, "tgt_is_causal", who)
        memory_is_causal = flag(memory_is_causal, "memory_is_causal", who)
        given = self._input(tgt, "tgt")
        memory = self._input(memory, "memory", like=given, like_name="tgt")
        x, memory = self._batch_major(given), self._batch_major(memory)
        T, S = x.shape[-2], memory.shape[-2]
        tgt_mask = self._attn_mask(tgt_mask, "tgt_mask", x, T, T)
        memory_mask = self._attn_mask(memory_mask, "memory_mask", x, T, S)
        tgt_padding = self._padding_mask(tgt_key_padding_mask, "tgt_key_padding_mask", x, T)
        memory_padding = self._padding_mask(memory_key_padding_mask, "memory_key_padding_mask",
                                            x, S)

        def self_attention(h):
            return self._attention(self.self_attn, self.dropout1, h, h, tgt_mask, tgt_padding,
                                   tgt_is_causal)

        def cross_attention(h):
            return self._attention(self.multihead_attn, self.dropout2, h, memory, memory_mask,
                                   memory_padding, memory_is_causal)
        return self._batch_major(self._residuals(x, (self_attention, cross_attention,
                                                     self._ff_block)))


__all__ = ["TransformerEncoderLayer", "TransformerDecoderLayer",
           "generate_square_subsequent_mask"]
