"""``_Sequence``, what the sequence layers RNN, LSTM and GRU (``recurrent_layers.py``) share:
the cells stacked ``num_layers`` deep with dropout between them, one or two directions per
layer, ``lengths=`` (each sequence's outputs past its length zero, its final states those of
its last step, the reverse direction reading from it: ``_time_reversal``), the states in and
out in PyTorch's ``(num_layers * directions, batch, H)`` layout, and PyTorch's weights.

>>> import xpgrad as xg
>>> lstm = xg.nn.LSTM(3, 4, num_layers=2, bidirectional=True, rng=0)
>>> isinstance(lstm, _Sequence), lstm.directions, len(lstm.reverse_layers)
(True, 2, 2)
"""
from __future__ import annotations

import warnings

import numpy as np

from .._args import flag
from ..creation import arange, asarray
from ..dtypes import isdtype
from ..ops.casting import astype
from ..ops.joining import concat, stack
from ..ops.rearranging import flip
from ..ops.selection import where
from ..tensor import Tensor
from . import _checks
from . import _recurrent_torch
from . import init as _init
from ._layout import sequence_in, sequence_out, state_in, state_out, stated_layout
from .dropout import Dropout
from .module import Module
from .recurrent_cell_base import _SIZES, initializers
from .recurrent_checks import _check_state
from ._torch_strict import strict_option


def _time_reversal(lengths, x):
    """A function reversing the time axis of (B, T, F) sequences like ``x``: each whole
    sequence (``lengths`` None), or each sequence's first ``lengths[b]`` steps, the padding
    after them left in place (so the reverse direction starts at each sequence's last step).
    Applied twice it is the identity: the reverse direction's outputs come back in time order
    through it."""
    if lengths is None:
        return lambda seq: flip(seq, axis=1)
    B, T = x.shape[:2]
    t = arange(T, backend=x.backend)[None, :]
    n = astype(lengths, t.dtype)[:, None]
    rows, index = arange(B, backend=x.backend)[:, None], where(t < n, n - 1 - t, t)
    return lambda seq: seq[rows, index]


class _Sequence(Module):
    """A stack of ``num_layers`` cells run over whole sequences, with ``dropout`` on the
    inputs of the layers above the first (training mode only, as PyTorch's)."""

    CELL = None

    def __init__(self, input_size, hidden_size, num_layers=1, *, name, batch_first=None,
                 dropout=0.0, bidirectional=False, **cell_kwargs):
        super().__init__(name)
        who = type(self).__name__
        self.batch_first = stated_layout(self, batch_first, who)
        self.input_size = _checks.size("input_size", input_size, who, _SIZES)
        self.hidden_size = _checks.size("hidden_size", hidden_size, who, _SIZES)
        self.num_layers = _checks.size(
            "num_layers", num_layers, who, "{owner}: num_layers must be >= 1 (an integer), "
                                           "got {value!r}")
        self.bidirectional = flag(bidirectional, "bidirectional", who)
        if "bias" in cell_kwargs:
            cell_kwargs["bias"] = flag(cell_kwargs["bias"], "bias", who)
        if "dtype" in cell_kwargs:      # checked here so that its error names the layer
            cell_kwargs["dtype"] = _checks.floating_dtype(cell_kwargs["dtype"], who)
        initializers(cell_kwargs["kernel_init"], cell_kwargs["recurrent_init"],
                     cell_kwargs["bias_init"], cell_kwargs["bias"], who)   # errors name `who`
        gen = _init.as_rng(cell_kwargs.pop("rng", None), cell_kwargs.get("backend"))
        sizes = [self.input_size] + [self.directions * self.hidden_size] * (self.num_layers - 1)
        layers = [self.CELL(sizes[k], self.hidden_size, rng=gen, name=f"{self.name}/cell{k}",
                            **cell_kwargs) for k in range(self.num_layers)]
        for cell in layers:
            cell.name = "cell"          # path component; the list index is appended
        self.layers = layers            # (its Variables are named after these paths)
        if self.bidirectional:
            # one attribute per layer, so that the variables' paths read as PyTorch's keys:
            # "lstm/cell0_reverse/w_ih" holds weight_ih_l0_reverse
            for k in range(self.num_layers):
                cell = self.CELL(sizes[k], self.hidden_size, rng=gen,
                                 name=f"{self.name}/cell{k}_reverse", **cell_kwargs)
                cell.name = f"cell{k}_reverse"
                setattr(self, cell.name, cell)
        self.dropout = _checks.probability("dropout", dropout, who)
        if self.dropout and self.num_layers == 1:
            warnings.warn(f"{who}: dropout={self.dropout} acts between stacked layers, so it "
                          "does nothing with num_layers=1 (add an xg.nn.Dropout after the "
                          "layer instead)", UserWarning, stacklevel=3)
        self.between = Dropout(self.dropout, rng=gen, name="dropout") if self.dropout else None

    @property
    def directions(self) -> int:
        """2 with ``bidirectional=True``, else 1 (PyTorch's ``num_directions``)."""
        return 2 if self.bidirectional else 1

    @property
    def reverse_layers(self) -> list:
        """The reverse-time cell of each layer (``[]`` unless ``bidirectional``)."""
        if not self.bidirectional:
            return []
        return [getattr(self, f"cell{k}_reverse") for k in range(self.num_layers)]

    def _layer_input(self, x, k):
        """The input of layer ``k``: dropped out above the first layer while training."""
        return x if k == 0 or self.between is None else self.between(x)

    def _lengths(self, lengths, x, unbatched=False):
        """``lengths`` as an integer Tensor on ``x``'s backend, one length in [1, time] per
        sequence, or None. Its values are checked through the backend's ``value_range``,
        which ``xg.function`` turns into a guard (a replay may not read them in Python)."""
        if lengths is None:
            return None
        who, (B, T) = type(self).__name__, x.shape[:2]
        if unbatched:
            raise ValueError(f"{who}: lengths= needs a batch of sequences; the input is one "
                             f"unbatched (time, input_size) sequence of {T} steps (slice it to "
                             "its length instead)")
        if isinstance(lengths, Tensor):
            integral = isdtype(lengths.dtype, "integral")
        else:
            lengths = np.asarray(lengths)
            integral = lengths.dtype.kind in "iu"
        if not integral:
            raise TypeError(f"{who}: lengths must be integers, one per sequence, got "
                            f"{lengths.dtype} values")
        if not isinstance(lengths, Tensor):
            lengths = asarray(lengths, backend=x.backend)
        if lengths.shape != (B,):
            raise ValueError(f"{who}: lengths must hold one length per sequence, shape "
                             f"({B},), got shape {lengths.shape}")
        if lengths.backend is not x.backend:
            lengths = lengths.to(x.backend)
        lo, hi = lengths.backend.value_range(lengths._data, (1, T))
        if lo < 1 or hi > T:
            raise ValueError(f"{who}: lengths must be between 1 and {T} (the input's time "
                             f"steps), got {lengths.tolist()}")
        return lengths

    @staticmethod
    def _last(seq, lengths):
        """``seq`` (B, T, H) at each sequence's last step: (B, H)."""
        if lengths is None:
            return seq[:, -1]
        return seq[arange(seq.shape[0], backend=seq.backend), lengths - 1]

    @staticmethod
    def _padded(out, lengths):
        """``out`` (B, T, H) with the steps past each length zero (PyTorch's padded output)."""
        if lengths is None:
            return out
        mask = arange(out.shape[1], backend=out.backend)[None, :] < lengths[:, None]
        return out * astype(mask, out.dtype)[:, :, None]

    def _state_in(self, state, x, what):
        """``state`` (num_layers * directions, B, H) as one (B, H) tensor per layer and
        direction, PyTorch's order (``2 * layer + direction``); zeros for None."""
        n = self.num_layers * self.directions
        if state is None:
            return [self.layers[0]._zeros(x)] * n
        try:
            state = _check_state(state, (n, x.shape[0], self.hidden_size), what, self,
                                 self.layers[0].w_hh)
        except ValueError as e:
            if not self.bidirectional:
                raise
            raise ValueError(f"{e} (bidirectional=True: num_layers * 2 = {n} states, the one "
                             "of layer k and direction d at 2 * k + d, as PyTorch's)") from None
        return [state[k] for k in range(n)]

    def _run(self, x, states, lengths, step):
        """The stack over ``x``: ``states`` one tuple per layer and direction (PyTorch's
        order), ``step(cell, x, state, lengths) -> (outputs (B, T, H), finals)``. Returns the
        last layer's outputs (zero past each length) and each kind of final state stacked
        (num_layers * directions, B, H). The reverse direction runs the same scan (the fused
        kernels included) on the time-reversed input, and its outputs are reversed back."""
        reverse = _time_reversal(lengths, x) if self.bidirectional else None
        finals = []
        for k, cell in enumerate(self.layers):
            x = self._layer_input(x, k)
            out, last = step(cell, x, states[self.directions * k], lengths)
            finals.append(last)
            if reverse is not None:
                back, last = step(self.reverse_layers[k], reverse(x), states[2 * k + 1],
                                  lengths)
                finals.append(last)
                out = concat([out, reverse(back)], axis=-1)
            x = out
        return self._padded(x, lengths), tuple(stack(list(f)) for f in zip(*finals))

    def _one_state_step(self, cell, x, h, lengths):
        out = cell.scan(x, h[0])
        return out, (self._last(out, lengths),)

    def _one_state_forward(self, x, h0, lengths):
        """(the last layer's outputs, h_n) of layers whose state is one array (RNN, GRU)."""
        x, unbatched = self._input(x)
        lengths = self._lengths(lengths, x, unbatched)
        hs = self._state_in(self._unbatched_state(h0, unbatched, "h0"), x, "h0")
        out, (h_n,) = self._run(x, [(h,) for h in hs], lengths, self._one_state_step)
        return sequence_out(out, self.batch_first, unbatched), state_out(h_n, unbatched)

    def _input(self, x):
        """``(x batch first, whether it was unbatched)`` (``_layout.sequence_in``)."""
        w = self.layers[0].w_ih
        return sequence_in(x, self.batch_first, self.input_size, w.dtype, type(self).__name__,
                           w.backend)

    def _unbatched_state(self, state, unbatched, what):
        return state_in(state, unbatched, self.num_layers * self.directions, self.hidden_size,
                        what, type(self).__name__, self.layers[0].w_hh)

    # -- PyTorch interoperability --------------------------------------------------------------
    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy weights from a ``torch.nn.LSTM`` / ``RNN`` / ``GRU`` state dict (same sizes,
        ``bias`` and ``bidirectional``: the reverse direction's keys end in ``_reverse``);
        values are tensors or arrays, converted through NumPy.

        Missing keys, recurrent weights this layer does not have (another ``num_layers``,
        ``bias``, ``proj_size`` or ``bidirectional``), shapes that differ and values that are
        not real numbers raise ValueError before any weight changes; keys of other modules
        (``"head_w"``) are ignored.

        >>> import xpgrad as xg
        >>> lstm = xg.nn.LSTM(2, 3, bidirectional=True, rng=0)
        >>> xg.nn.LSTM(2, 3, bidirectional=True, batch_first=True,
        ...            rng=1).load_torch_state_dict(lstm.torch_state_dict())
        <All keys matched successfully>
        """
        _recurrent_torch.load_torch_state_dict(self, state_dict)

    def torch_state_dict(self) -> dict:
        """``{name: NumPy array}`` in ``torch.nn.LSTM`` / ``RNN`` / ``GRU`` layout (the bias in
        ``bias_ih``, zeros in ``bias_hh`` but for the GRU's ``b_hn``; the reverse direction's
        keys end in ``_reverse``); load it with ``module.load_state_dict``.

        >>> import xpgrad as xg
        >>> list(xg.nn.GRU(2, 3, bias=False, rng=0).torch_state_dict())
        ['weight_ih_l0', 'weight_hh_l0']
        """
        return _recurrent_torch.torch_state_dict(self)

    def _extra_repr(self):
        return (f", input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"num_layers={self.num_layers}"
                + ("" if self.batch_first else ", batch_first=False")
                + (", bidirectional=True" if self.bidirectional else "")
                + (f", dropout={self.dropout}" if self.dropout else ""))
