"""PyTorch's ``nn.Transformer``: a ``TransformerEncoder`` and a ``TransformerDecoder``, each
with a final LayerNorm, over batch-first sequences.

>>> import xpgrad as xg
>>> model = xg.nn.Transformer(8, 2, 1, 1, dim_feedforward=16, rng=0)
>>> model(xg.ones((2, 5, 8)), xg.ones((2, 3, 8)), tgt_is_causal=True).shape
(2, 3, 8)
"""
from __future__ import annotations

import math

from .. import dtypes as _dt
from . import init as _init
from .attention import as_tensor
from ._layout import stated_layout
from ._torch_strict import own_weights
from .module import Module
from .normalization import LayerNorm
from .transformer import (TransformerDecoderLayer, TransformerEncoderLayer,
                          generate_square_subsequent_mask)
from .transformer_stacks import TransformerDecoder, TransformerEncoder

_WHO = "Transformer"


def _custom(module, name):
    if module is not None and not isinstance(module, Module):
        raise TypeError(f"{_WHO}: {name} must be a Module or None, got "
                        f"{type(module).__name__}")
    return module


class Transformer(Module):
    """``Transformer(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6)``:
    PyTorch's ``nn.Transformer`` with ``batch_first=True`` (xpgrad's default; ``False``,
    PyTorch's, takes sequence-first src (S, N, d_model) and tgt (T, N, d_model)): ``encoder``, a
    ``TransformerEncoder`` of ``num_encoder_layers`` ``TransformerEncoderLayer`` with a final
    ``LayerNorm``, and ``decoder``, a ``TransformerDecoder`` of ``num_decoder_layers``
    ``TransformerDecoderLayer`` with one (or ``custom_encoder`` / ``custom_decoder``, Modules of
    their ``forward``); the other arguments are the layers'.

    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)`` encodes ``src`` (N, S,
    d_model) and decodes ``tgt`` (N, T, d_model) against it, returning (N, T, d_model); the
    masks are the layers' (``tgt_mask=Transformer.generate_square_subsequent_mask(T)`` or
    ``tgt_is_causal=True`` for a causal decoder). As PyTorch's, every weight of two or more
    axes (in PyTorch's layout) is then drawn Glorot-uniform (``xavier_uniform_``) from ``rng``,
    the biases and norms left as the layers make them. ``torch_state_dict`` /
    ``load_torch_state_dict`` use PyTorch's keys (``encoder.layers.0.self_attn.in_proj_weight``,
    ``decoder.norm.bias``, ...).

    >>> import xpgrad as xg
    >>> model = xg.nn.Transformer(8, 2, 2, 1, dim_feedforward=16, rng=0)
    >>> sorted({k.split(".")[0] for k in model.torch_state_dict()})
    ['decoder', 'encoder']
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=None, norm_first=False,
                 bias=True, *, rng=None, dtype=_dt.float32, backend=None, name="transformer"):
        super().__init__(name)
        self.batch_first = stated_layout(self, batch_first, _WHO)
        gen = _init.as_rng(_init.check_rng(rng, _WHO), backend)
        args = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                    layer_norm_eps=layer_norm_eps, batch_first=self.batch_first,
                    norm_first=norm_first, bias=bias, rng=gen,
                    dtype=dtype, backend=backend)
        self.encoder = _custom(custom_encoder, "custom_encoder")
        if self.encoder is None:
            layer = TransformerEncoderLayer(d_model, nhead, **args)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              self._norm(layer, f"{self.name}/encoder/norm"),
                                              name=f"{self.name}/encoder")
        self.decoder = _custom(custom_decoder, "custom_decoder")
        if self.decoder is None:
            layer = TransformerDecoderLayer(d_model, nhead, **args)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              self._norm(layer, f"{self.name}/decoder/norm"),
                                              name=f"{self.name}/decoder")
        self.d_model, self.nhead = d_model, nhead
        unstated, self._batch_first_unstated = self._batch_first_unstated, False
        self._reset_parameters(gen)         # (a load of its own weights: not the user's)
        self._batch_first_unstated = unstated

    def _norm(self, layer, name):
        """A final LayerNorm ``name`` (its path in the model) as ``layer``'s own (eps, bias,
        dtype and backend)."""
        norm = layer.norm1
        return LayerNorm(layer.d_model, eps=norm.eps, bias=norm.bias is not None,
                         dtype=norm.weight.dtype, backend=norm.weight.backend, name=name)

    def _reset_parameters(self, gen):
        """PyTorch's: ``xavier_uniform_`` on every parameter of two or more axes, its fans
        those of PyTorch's shape (the packed (3 * d_model, d_model) ``in_proj_weight``;
        (out, in, *receptive_field) beyond two axes, e.g. a custom layer's ``bias_k``)."""
        state = self.torch_state_dict()
        for key, value in state.items():
            if value.ndim > 1:
                # compute_fans reads xpgrad's (*receptive_field, in, out): give it that order
                out, fan_in, *field = value.shape
                fans = _init.compute_fans((*field, fan_in, out))
                bound = math.sqrt(6.0 / sum(fans))
                draw = _init.uniform(-bound, bound)
                state[key] = draw(gen, value.shape, value.dtype.name).numpy()
        with own_weights():
            self.load_torch_state_dict(state)

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)
    batch_first = True      # a model pickled before the option had this layout

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        s, t = as_tensor(src, "src", _WHO), as_tensor(tgt, "tgt", _WHO)
        batch = 0 if self.batch_first else 1
        if s.ndim != t.ndim or (s.ndim == 3 and s.shape[batch] != t.shape[batch]):
            axes, layout = (("batch, sequence", "batch first") if self.batch_first else
                            ("sequence, batch", "batch_first=False"))
            raise ValueError(f"{_WHO}: src and tgt must both be ({axes}, d_model) with one "
                             f"batch size ({layout}), or both unbatched, got shapes "
                             f"{s.shape} and {t.shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    def _extra_repr(self):
        return (f", d_model={self.d_model}, nhead={self.nhead}"
                + ("" if self.batch_first else ", batch_first=False"))


__all__ = ["Transformer"]
