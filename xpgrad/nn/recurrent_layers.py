"""Recurrent layers over whole sequences: RNN, LSTM, GRU, stacked ``num_layers`` deep from
the cells of ``recurrent.py`` (``dropout=`` between them, as PyTorch's), each layer one
direction or, with ``bidirectional=True``, two (the outputs of a forward-time and a
reverse-time cell concatenated, 2 * hidden features). Inputs are batch first (B, T, F) by
default (``batch_first`` left out is True; ``load_torch_state_dict`` then warns once, as
torch's default is False); ``batch_first=False`` (PyTorch's default) reads time-major (T, B, F) input and
returns time-major outputs (T, B, D * H), and an unbatched (T, F) input returns (T, D * H)
outputs and (L * D, H) states in either mode, as PyTorch's (``_layout.py`` transposes at entry
and exit). A batch of sequences
of different lengths is right-padded to one length and run with ``lengths=`` (PyTorch's
``pack_padded_sequence``): the outputs past each length are zero, the final states are those
of each sequence's last step, and the reverse direction reads each sequence from its own last
step. States are PyTorch's: ``(num_layers * directions, batch, H)`` tensors whatever
``batch_first``, index ``2 * layer + direction``, ``(h, c)`` for the LSTM;
``load_torch_state_dict`` / ``torch_state_dict`` convert PyTorch's weights (layouts in
``recurrent.py``'s docstring). ``SequenceClassifier`` is in ``sequence_classifier.py``.

>>> import xpgrad as xg
>>> gru = xg.nn.GRU(3, 5, num_layers=2, rng=0)
>>> out, h = gru(xg.ones((2, 7, 3)))
>>> out.shape, h.shape
((2, 7, 5), (2, 2, 5))
>>> out, h = xg.nn.GRU(3, 5, num_layers=2, bidirectional=True, rng=0)(xg.ones((2, 7, 3)))
>>> out.shape, h.shape
((2, 7, 10), (4, 2, 5))
>>> out, h = xg.nn.GRU(3, 5, batch_first=False, rng=0)(xg.ones((7, 2, 3)))   # time-major
>>> out.shape, h.shape
((7, 2, 5), (1, 2, 5))
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import dtypes as _dt
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
from .recurrent import GRUCell, LSTMCell, RNNCell
from .recurrent_cell_base import _SIZES, initializers
from .recurrent_checks import _check_pair, _check_state, check_nonlinearity
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
        initializers(cell_kwargs["kernel_init"], cell_kwargs["recurrent_init"],
                     cell_kwargs["bias_init"], cell_kwargs["bias"], who)   # errors name `who`
        gen = _init.as_rng(cell_kwargs.pop("rng", None), cell_kwargs.get("backend"))
        sizes = [self.input_size] + [self.directions * self.hidden_size] * (self.num_layers - 1)
        self.layers = [self.CELL(sizes[k], self.hidden_size, rng=gen,
                                 name=f"{self.name}/cell{k}", **cell_kwargs)
                       for k in range(self.num_layers)]
        for cell in self.layers:
            cell.name = "cell"          # path component; the list index is appended
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


class RNN(_Sequence):
    """Elman RNN over sequences: ``outputs, h_n = rnn(x, h0=None)``.

    ``x`` is (B, T, input_size), or (T, B, input_size) with ``batch_first=False`` (PyTorch's
    default; the outputs are then (T, B, directions * H)), or unbatched (T, input_size) (the
    states then (num_layers * directions, H)); ``h0`` and ``h_n`` are
    (num_layers * directions, B, H) in either layout; ``outputs`` (B, T, directions * H) are
    the last layer's states. ``nonlinearity`` is "tanh" or "relu". ``bidirectional=True``
    adds a reverse-time cell to each layer, PyTorch's layout: the outputs are
    ``[forward | reverse]`` on the feature axis, the next layer reads 2 * H features, and
    state ``2 * k + d`` is layer k's, direction d's (1: reverse). ``lengths`` (one int per
    sequence) runs right-padded sequences of different lengths (see the module docstring).
    ``kernel_init``, ``recurrent_init``, ``bias_init`` as ``LSTM``'s.

    >>> import xpgrad as xg
    >>> out, h = xg.nn.RNN(3, 4, num_layers=2, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 4), (2, 5, 4))
    >>> out, h = xg.nn.RNN(3, 4, bidirectional=True, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 8), (2, 5, 4))
    """

    CELL = RNNCell

    def __init__(self, input_size, hidden_size, num_layers=1, *, nonlinearity="tanh",
                 bias=True, batch_first=None, dropout=0.0, bidirectional=False,
                 kernel_init=None, recurrent_init=None, bias_init=None, rng=None,
                 dtype=_dt.float32, backend=None, name="rnn"):
        check_nonlinearity(nonlinearity, "RNN")
        super().__init__(input_size, hidden_size, num_layers, name=name,
                         batch_first=batch_first, dropout=dropout, bidirectional=bidirectional,
                         nonlinearity=nonlinearity, bias=bias, kernel_init=kernel_init,
                         recurrent_init=recurrent_init, bias_init=bias_init, rng=rng,
                         dtype=dtype, backend=backend)
        self.nonlinearity = nonlinearity

    def forward(self, x, h0=None, *, lengths=None):
        return self._one_state_forward(x, h0, lengths)


class LSTM(_Sequence):
    """LSTM over sequences: ``outputs, (h_n, c_n) = lstm(x, state=None)``.

    ``x`` is (B, T, input_size), (T, B, input_size) with ``batch_first=False`` or unbatched
    (T, input_size), as ``RNN``'s; the state ``(h, c)`` holds two (num_layers * directions, B, H)
    tensors (zeros when None); ``outputs`` (B, T, directions * H) are the last layer's
    ``h_t``. ``bidirectional=True`` as PyTorch's (see ``RNN``): ``outputs[..., :H]`` forward,
    ``outputs[..., H:]`` reverse, ``h_n[2 * k + 1]`` layer k's reverse direction after reading
    the whole sequence backwards. ``lengths`` (one int per sequence) runs right-padded
    sequences of different lengths: ``h_n``/``c_n`` are taken at each sequence's last step,
    the outputs past it are zero. See the module docstring for the weight layout and
    ``LSTMCell`` for the initialization: ``kernel_init``, ``recurrent_init``, ``bias_init``
    (Keras': ``kernel_init="glorot_uniform", recurrent_init="orthogonal"``) and
    ``forget_bias`` apply to every layer and direction, each cell drawing its own weights
    from ``rng`` (forward cells of layers 0, 1, ... first, then the reverse ones).

    >>> import xpgrad as xg
    >>> out, (h, c) = xg.nn.LSTM(3, 4, num_layers=2, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 4), (2, 5, 4))
    >>> lstm = xg.nn.LSTM(3, 4, num_layers=2, bidirectional=True, rng=0)
    >>> out, (h, c) = lstm(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape, c.shape
    ((5, 6, 8), (4, 5, 4), (4, 5, 4))
    >>> out, (h, c) = xg.nn.LSTM(3, 4, batch_first=False, rng=0)(xg.ones((6, 5, 3)))
    >>> out.shape, h.shape
    ((6, 5, 4), (1, 5, 4))
    >>> out, (h, c) = xg.nn.LSTM(3, 4, rng=0)(xg.ones((6, 3)))        # unbatched
    >>> out.shape, h.shape
    ((6, 4), (1, 4))
    """

    CELL = LSTMCell

    def __init__(self, input_size, hidden_size, num_layers=1, *, bias=True, forget_bias=1.0,
                 batch_first=None, dropout=0.0, bidirectional=False, kernel_init=None,
                 recurrent_init=None, bias_init=None, rng=None, dtype=_dt.float32,
                 backend=None, name="lstm"):
        if forget_bias is not None:
            forget_bias = _checks.finite("forget_bias", forget_bias, "LSTM")
        super().__init__(input_size, hidden_size, num_layers, name=name, bias=bias,
                         batch_first=batch_first, dropout=dropout, bidirectional=bidirectional,
                         forget_bias=forget_bias, kernel_init=kernel_init,
                         recurrent_init=recurrent_init, bias_init=bias_init, rng=rng,
                         dtype=dtype, backend=backend)

    def forward(self, x, state=None, *, lengths=None):
        x, unbatched = self._input(x)
        lengths = self._lengths(lengths, x, unbatched)
        _check_pair(state, "LSTM", "(num_layers * 2, batch, hidden)" if self.bidirectional
                    else "(num_layers, batch, hidden)")
        h0, c0 = (None, None) if state is None else state
        hs = self._state_in(self._unbatched_state(h0, unbatched, "h"), x, "h")
        cs = self._state_in(self._unbatched_state(c0, unbatched, "c"), x, "c")
        out, (h_n, c_n) = self._run(x, list(zip(hs, cs)), lengths, self._step)
        return (sequence_out(out, self.batch_first, unbatched),
                (state_out(h_n, unbatched), state_out(c_n, unbatched)))

    def _step(self, cell, x, state, lengths):
        states = cell.states(x, *state)
        out = states[0]
        c_n = states[1, :, -1] if lengths is None else self._last(states[1], lengths)
        return out, (self._last(out, lengths), c_n)   # h_n through out: states gets one gradient


class GRU(_Sequence):
    """GRU over sequences, PyTorch's equations: ``outputs, h_n = gru(x, h0=None)``.

    ``x`` is (B, T, input_size), (T, B, input_size) with ``batch_first=False`` or unbatched
    (T, input_size), as ``RNN``'s; ``h0`` and ``h_n`` are (num_layers * directions, B, H) (zeros
    when None); ``outputs`` (B, T, directions * H) are the last layer's states;
    ``bidirectional`` as ``RNN``'s, ``lengths`` as ``LSTM``'s, ``kernel_init``,
    ``recurrent_init`` and ``bias_init`` as ``LSTM``'s (``GRUCell``). Each layer and direction
    projects its inputs with one matrix product and runs the recurrence as one primitive
    (``gru_scan``).

    >>> import xpgrad as xg
    >>> out, h = xg.nn.GRU(3, 4, num_layers=2, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 4), (2, 5, 4))
    >>> out, h = xg.nn.GRU(3, 4, num_layers=2, bidirectional=True, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 8), (4, 5, 4))
    """

    CELL = GRUCell

    def __init__(self, input_size, hidden_size, num_layers=1, *, bias=True, batch_first=None,
                 dropout=0.0, bidirectional=False, kernel_init=None, recurrent_init=None,
                 bias_init=None, rng=None, dtype=_dt.float32, backend=None, name="gru"):
        super().__init__(input_size, hidden_size, num_layers, name=name, bias=bias,
                         batch_first=batch_first, dropout=dropout, bidirectional=bidirectional,
                         kernel_init=kernel_init, recurrent_init=recurrent_init,
                         bias_init=bias_init, rng=rng, dtype=dtype, backend=backend)

    def forward(self, x, h0=None, *, lengths=None):
        return self._one_state_forward(x, h0, lengths)


__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"]
