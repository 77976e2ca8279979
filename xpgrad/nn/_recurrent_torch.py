"""PyTorch state dicts of the sequence layers (``xg.nn.RNN`` / ``LSTM`` / ``GRU``): their keys
``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, and with
``bidirectional=True`` the reverse direction's ``..._l{k}_reverse``; the layouts are in
``recurrent.py``'s docstring.

>>> import xpgrad as xg
>>> sorted(torch_state_dict(xg.nn.RNN(2, 3, bidirectional=True, rng=0)))[:2]
['bias_hh_l0', 'bias_hh_l0_reverse']
"""
from __future__ import annotations

import numpy as np

from ..creation import asarray
from ._torch import prefix_hint, real_values


def directions(layer):
    """``(key suffix, cell)`` of every direction of every layer, in PyTorch's order:
    ``("_l0", cell0), ("_l0_reverse", cell0_reverse), ("_l1", cell1), ...``."""
    out = []
    for k, cell in enumerate(layer.layers):
        out.append((f"_l{k}", cell))
        if layer.bidirectional:
            out.append((f"_l{k}_reverse", layer.reverse_layers[k]))
    return out


def load_torch_state_dict(layer, state_dict) -> None:
    """``layer.load_torch_state_dict``: every key checked (missing, unexpected, shape, real
    numbers) before any weight changes; a key this layer does not read is unexpected, as in
    PyTorch's strict ``load_state_dict``."""
    who = type(layer).__name__
    expected = {}
    for suffix, cell in directions(layer):
        G, I, H = cell.w_ih.shape[1], cell.input_size, cell.hidden_size
        expected[f"weight_ih{suffix}"] = (G, I)
        expected[f"weight_hh{suffix}"] = (G, H)
        if cell.b is not None:
            expected[f"bias_ih{suffix}"] = expected[f"bias_hh{suffix}"] = (G,)
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        raise ValueError(f"{who}.load_torch_state_dict: the state dict does not fit this "
                         f"{who} ({layer.num_layers} layer(s), bias="
                         f"{layer.layers[0].b is not None}, "
                         f"{'two directions' if layer.bidirectional else 'one direction'}): "
                         f"missing keys {missing}, unexpected keys {unexpected}"
                         + prefix_hint(state_dict, missing))
    values = {key: real_values(state_dict[key], key, who) for key in expected}
    for key, shape in expected.items():
        if values[key].shape != shape:
            raise ValueError(f"{who}.load_torch_state_dict: {key!r} has shape "
                             f"{values[key].shape}, this {who} needs {shape} (input_size="
                             f"{layer.input_size}, hidden_size={layer.hidden_size}"
                             + (", bidirectional=True" if layer.bidirectional else "") + ")")
    for suffix, cell in directions(layer):
        def get(key, transpose=False):
            # a row-major copy: a view would share torch's memory, and a transposed one
            # is column-major, which BLAS and the fused optimizer updates run slower on
            value = values[f"{key}{suffix}"]
            value = np.array(value.T if transpose else value, order="C")
            return asarray(value, dtype=cell.w_ih.dtype).to(cell.w_ih.backend)
        cell.w_ih.assign(get("weight_ih", transpose=True))
        cell.w_hh.assign(get("weight_hh", transpose=True))
        if cell.b is not None:
            cell._set_torch_biases(get("bias_ih"), get("bias_hh"))


def torch_state_dict(layer) -> dict:
    """``layer.torch_state_dict``: ``{PyTorch's key: NumPy array}`` in PyTorch's order."""
    out = {}
    for suffix, cell in directions(layer):
        out[f"weight_ih{suffix}"] = cell.w_ih.numpy().T.copy()
        out[f"weight_hh{suffix}"] = cell.w_hh.numpy().T.copy()
        if cell.b is not None:
            out[f"bias_ih{suffix}"], out[f"bias_hh{suffix}"] = cell._torch_biases()
    return out
