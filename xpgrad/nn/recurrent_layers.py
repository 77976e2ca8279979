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
``recurrent.py``'s docstring); what the three share is ``_Sequence`` (``recurrent_sequence.py``).
``SequenceClassifier`` is in ``sequence_classifier.py``.

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

from .. import dtypes as _dt
from . import _checks
from ._layout import sequence_out, state_out
from .recurrent import GRUCell, LSTMCell, RNNCell
from .recurrent_checks import _check_pair, check_nonlinearity
from .recurrent_sequence import _Sequence

#: PyTorch's positional order of GRU's (and, proj_size after, LSTM's) arguments
_GRU_ORDER = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
              "bidirectional")


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
    _TORCH_ORDER = ("input_size", "hidden_size", "num_layers", "nonlinearity", "bias",
                   "batch_first", "dropout", "bidirectional")

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
    ``proj_size`` is PyTorch's: 0 (its default, no projection) is taken, another is refused.

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
    _TORCH_ORDER = _GRU_ORDER + ("proj_size",)

    def __init__(self, input_size, hidden_size, num_layers=1, *, bias=True, forget_bias=1.0,
                 batch_first=None, dropout=0.0, bidirectional=False, kernel_init=None,
                 recurrent_init=None, bias_init=None, rng=None, dtype=_dt.float32,
                 backend=None, name="lstm", proj_size=0):
        if _checks.count("proj_size", proj_size, "LSTM") != 0:
            raise ValueError(f"LSTM: proj_size={proj_size} (PyTorch's projection of h_t) is not "
                             "supported; xpgrad's LSTM takes proj_size=0 only (no projection, "
                             "PyTorch's default)")
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
    runs its input projection and the recurrence as one primitive (``gru_layer``).

    >>> import xpgrad as xg
    >>> out, h = xg.nn.GRU(3, 4, num_layers=2, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 4), (2, 5, 4))
    >>> out, h = xg.nn.GRU(3, 4, num_layers=2, bidirectional=True, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 8), (4, 5, 4))
    """

    CELL = GRUCell
    _TORCH_ORDER = _GRU_ORDER

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
