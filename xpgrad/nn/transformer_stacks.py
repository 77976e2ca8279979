"""PyTorch's ``nn.TransformerEncoder`` and ``nn.TransformerDecoder``: ``num_layers`` deep
copies of a layer, called in turn, then an optional final norm.

>>> import xpgrad as xg
>>> layer = xg.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, rng=0)
>>> encoder = xg.nn.TransformerEncoder(layer, 3, norm=xg.nn.LayerNorm(8))
>>> encoder(xg.ones((2, 5, 8))).shape, list(encoder.torch_state_dict())[0]
((2, 5, 8), 'layers.0.self_attn.in_proj_weight')
"""
from __future__ import annotations

import copy

from .._args import flag
from ..random import Generator
from . import _checks
from .module import Module
from .module_containers import ModuleList


def _clones(owner, layer, num_layers, who):
    """``num_layers`` deep copies of ``layer`` (PyTorch's ``_get_clones``): each with its own
    Variables (equal at first, as PyTorch's), renamed after their paths in ``owner`` so that
    names stay unique, and sharing ``layer``'s random generators, so that their dropout masks
    are successive draws of one stream (as PyTorch's from its global one), not copies of one
    draw."""
    if not isinstance(layer, Module):
        kind = f"the class {layer.__name__}" if isinstance(layer, type) else type(layer).__name__
        raise TypeError(f"{who}: the layer to repeat must be a Module (e.g. "
                        f"xg.nn.{who}Layer(d_model, nhead)), got {kind}")
    num_layers = _checks.size("num_layers", num_layers, who)
    shared = {id(v): v for m in layer.modules() for v in vars(m).values()
              if isinstance(v, Generator)}
    layers = [copy.deepcopy(layer, dict(shared)) for _ in range(num_layers)]
    for i, twin in enumerate(layers):
        for path, variable in twin.named_variables(f"{owner.name}/layers/{i}").items():
            variable.name = path
    return ModuleList(layers, name=f"{owner.name}/layers")


def _norm(owner, norm, who):
    """The final ``norm`` (a Module or None), its Variables renamed after their paths in
    ``owner`` as the layers' copies are (a ``LayerNorm(d_model)`` of the encoder and one of the
    decoder would otherwise both hold ``layer_norm/weight``)."""
    if norm is not None and not isinstance(norm, Module):
        raise TypeError(f"{who}: norm must be a Module (e.g. xg.nn.LayerNorm(d_model)) or "
                        f"None, got {type(norm).__name__}")
    if norm is not None:
        for path, variable in norm.named_variables(f"{owner.name}/norm").items():
            variable.name = path
    return norm


def _causal_hint(value, name, who):
    """PyTorch's ``is_causal=None`` (detect it from the mask: the same result here, where a
    causal mask and ``is_causal=True`` mask alike) as False; else a bool."""
    return False if value is None else flag(value, name, who)


class TransformerEncoder(Module):
    """``TransformerEncoder(encoder_layer, num_layers, norm=None)``: PyTorch's
    ``nn.TransformerEncoder``: ``num_layers`` deep copies of ``encoder_layer`` (a
    ``TransformerEncoderLayer``, or a Module with its ``forward``), in ``layers`` (a
    ``ModuleList``: torch's keys ``layers.0.self_attn.in_proj_weight``, ...), called in turn,
    then ``norm`` (a Module, e.g. ``LayerNorm(d_model)``, or None; its Variables are renamed
    after their paths, ``transformer_encoder/norm/weight``, as the copies' are).

    As PyTorch's, the copies start with equal weights (those of ``encoder_layer``, which is
    not itself part of the stack) and train apart; they draw dropout masks from
    ``encoder_layer``'s generator in turn. ``forward(src, mask=None, src_key_padding_mask=None,
    is_causal=None)`` passes ``mask`` as each layer's ``src_mask``; ``is_causal=None`` is False
    (PyTorch detects a causal ``mask``; a causal mask masks as ``is_causal=True`` does here).
    ``enable_nested_tensor`` and ``mask_check`` are accepted (bools) and change nothing: they
    choose PyTorch's inference fast path, which, with ``src_key_padding_mask`` in eval mode and
    without gradients, gives zeros at the padded positions; every other position, and every
    position in its regular path, is what this encoder computes.

    >>> import xpgrad as xg
    >>> layer = xg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, rng=0)
    >>> encoder = xg.nn.TransformerEncoder(layer, 2)
    >>> encoder.variables[0].name
    'transformer_encoder/layers/0/self_attn/q_proj/w'
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True, *, name="transformer_encoder"):
        super().__init__(name)
        who = type(self).__name__
        self.layers = _clones(self, encoder_layer, num_layers, who)
        self.num_layers = len(self.layers)
        self.norm = _norm(self, norm, who)
        self.enable_nested_tensor = flag(enable_nested_tensor, "enable_nested_tensor", who)
        self.mask_check = flag(mask_check, "mask_check", who)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        is_causal = _causal_hint(is_causal, "is_causal", type(self).__name__)
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=is_causal)
        return x if self.norm is None else self.norm(x)

    def _extra_repr(self):
        return f", num_layers={self.num_layers}"


class TransformerDecoder(Module):
    """``TransformerDecoder(decoder_layer, num_layers, norm=None)``: PyTorch's
    ``nn.TransformerDecoder``, ``num_layers`` deep copies of ``decoder_layer`` in ``layers``
    and a final ``norm``, as ``TransformerEncoder``.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)`` passes every
    argument to each layer (``tgt_is_causal=None`` is False).

    >>> import xpgrad as xg
    >>> layer = xg.nn.TransformerDecoderLayer(4, 2, dim_feedforward=8, rng=0)
    >>> decoder = xg.nn.TransformerDecoder(layer, 2, norm=xg.nn.LayerNorm(4))
    >>> decoder(xg.ones((2, 3, 4)), xg.ones((2, 5, 4)), tgt_is_causal=True).shape
    (2, 3, 4)
    """

    def __init__(self, decoder_layer, num_layers, norm=None, *, name="transformer_decoder"):
        super().__init__(name)
        who = type(self).__name__
        self.layers = _clones(self, decoder_layer, num_layers, who)
        self.num_layers = len(self.layers)
        self.norm = _norm(self, norm, who)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        who = type(self).__name__
        tgt_is_causal = _causal_hint(tgt_is_causal, "tgt_is_causal", who)
        memory_is_causal = flag(memory_is_causal, "memory_is_causal", who)
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)

    def _extra_repr(self):
        return f", num_layers={self.num_layers}"


__all__ = ["TransformerEncoder", "TransformerDecoder"]
