"""Recurrent layers over whole sequences, batch first (``batch_first=True`` is accepted for
PyTorch's habits; ``False`` is refused with the transpose to make): RNN, LSTM, GRU, stacked
``num_layers`` deep from the cells of ``recurrent.py`` (``dropout=`` between them, as
PyTorch's), and ``SequenceClassifier`` (stacked layers, then a Linear layer on the last state).
A batch of sequences of different lengths is right-padded to one length and run with
``lengths=`` (PyTorch's ``pack_padded_sequence``): the outputs past each length are zero and the
final states are those of each sequence's last step. States are PyTorch's: ``(num_layers, batch,
H)`` tensors, ``(h, c)`` for the LSTM; ``load_torch_state_dict`` / ``torch_state_dict`` convert
PyTorch's weights (layouts in ``recurrent.py``'s docstring).

>>> import xpgrad as xg
>>> gru = xg.nn.GRU(3, 5, num_layers=2, rng=0)
>>> out, h = gru(xg.ones((2, 7, 3)))
>>> out.shape, h.shape
((2, 7, 5), (2, 2, 5))
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import dtypes as _dt
from .._args import flag
from ..creation import arange, asarray
from ..dtypes import isdtype
from ..ops.casting import astype
from ..ops.joining import stack
from ..ops.shape import reshape
from ..tensor import Tensor
from . import _checks
from . import init as _init
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .recurrent import (_SIZES, _TORCH_RECURRENT_KEY, GRUCell, LSTMCell, RNNCell, _as_input,
                        _check_pair, _check_state)


class _Sequence(Module):
    """A stack of ``num_layers`` cells run over whole sequences, with ``dropout`` on the
    inputs of the layers above the first (training mode only, as PyTorch's)."""

    CELL = None

    def __init__(self, input_size, hidden_size, num_layers=1, *, name, batch_first=True,
                 dropout=0.0, **cell_kwargs):
        super().__init__(name)
        who = type(self).__name__
        if flag(batch_first, "batch_first", who) is not True:
            raise ValueError(f"{who} reads batch-first sequences (batch, time, features) only; "
                             "transpose time-major input with xg.permute_dims(x, (1, 0, 2)) "
                             "and leave batch_first out (or pass True)")
        self.input_size = _checks.size("input_size", input_size, who, _SIZES)
        self.hidden_size = _checks.size("hidden_size", hidden_size, who, _SIZES)
        self.num_layers = _checks.size(
            "num_layers", num_layers, who, "{owner}: num_layers must be >= 1 (an integer), "
                                           "got {value!r}")
        if "bias" in cell_kwargs:
            cell_kwargs["bias"] = flag(cell_kwargs["bias"], "bias", who)
        gen = _init.as_rng(cell_kwargs.pop("rng", None), cell_kwargs.get("backend"))
        self.layers = [self.CELL(self.input_size if k == 0 else self.hidden_size,
                                 self.hidden_size, rng=gen, name=f"{self.name}/cell{k}",
                                 **cell_kwargs)
                       for k in range(self.num_layers)]
        for cell in self.layers:
            cell.name = "cell"          # path component; the list index is appended
        self.dropout = _checks.probability("dropout", dropout, who)
        if self.dropout and self.num_layers == 1:
            warnings.warn(f"{who}: dropout={self.dropout} acts between stacked layers, so it "
                          "does nothing with num_layers=1 (add an xg.nn.Dropout after the "
                          "layer instead)", UserWarning, stacklevel=3)
        self.between = Dropout(self.dropout, rng=gen, name="dropout") if self.dropout else None

    def _layer_input(self, x, k):
        """The input of layer ``k``: dropped out above the first layer while training."""
        return x if k == 0 or self.between is None else self.between(x)

    def _lengths(self, lengths, x):
        """``lengths`` as an integer Tensor on ``x``'s backend, one length in [1, time] per
        sequence, or None. Its values are checked through the backend's ``value_range``,
        which ``xg.function`` turns into a guard (a replay may not read them in Python)."""
        if lengths is None:
            return None
        who, (B, T) = type(self).__name__, x.shape[:2]
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
        shape = (self.num_layers, x.shape[0], self.hidden_size)
        if state is None:
            z = self.layers[0]._zeros(x)
            return [z] * self.num_layers
        state = _check_state(state, shape, what, self, self.layers[0].w_hh)
        return [state[k] for k in range(self.num_layers)]

    def _one_state_forward(self, x, h0, lengths):
        """(the last layer's outputs, each layer's final h) of layers whose state is one
        array (RNN, GRU)."""
        x = self._input(x)
        lengths = self._lengths(lengths, x)
        hs = self._state_in(h0, x, "h0")
        finals = []
        for k, (cell, h) in enumerate(zip(self.layers, hs)):
            x = cell.scan(self._layer_input(x, k), h)
            finals.append(self._last(x, lengths))
        return self._padded(x, lengths), stack(finals)

    def _input(self, x):
        return _as_input(x, self.layers[0], 3, type(self).__name__)

    # -- PyTorch interoperability --------------------------------------------------------------
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy weights from a ``torch.nn.LSTM`` / ``RNN`` / ``GRU`` state dict (same sizes and
        ``bias``, one direction); values are tensors or arrays, converted through NumPy.

        Missing keys, recurrent weights this layer does not have (another ``num_layers``,
        ``bias``, ``proj_size`` or ``bidirectional=True``), shapes that differ and values that
        are not real numbers raise ValueError before any weight changes; keys of other modules
        (``"head_w"``) are ignored."""
        import numpy as np

        from ._torch import prefix_hint, real_values

        who = type(self).__name__
        expected = {}
        for k, cell in enumerate(self.layers):
            G, I, H = cell.w_ih.shape[1], cell.input_size, cell.hidden_size
            expected[f"weight_ih_l{k}"] = (G, I)
            expected[f"weight_hh_l{k}"] = (G, H)
            if cell.b is not None:
                expected[f"bias_ih_l{k}"] = expected[f"bias_hh_l{k}"] = (G,)
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict
                      if k not in expected and _TORCH_RECURRENT_KEY.fullmatch(str(k))]
        if missing or unexpected:
            raise ValueError(f"{who}.load_torch_state_dict: the state dict does not fit this "
                             f"{who} ({self.num_layers} layer(s), bias="
                             f"{self.layers[0].b is not None}, one direction): missing keys "
                             f"{missing}, unexpected keys {unexpected}"
                             + prefix_hint(state_dict, missing))
        values = {key: real_values(state_dict[key], key, who) for key in expected}
        for key, shape in expected.items():
            if values[key].shape != shape:
                raise ValueError(f"{who}.load_torch_state_dict: {key!r} has shape "
                                 f"{values[key].shape}, this {who} needs {shape} (input_size="
                                 f"{self.input_size}, hidden_size={self.hidden_size})")
        for k, cell in enumerate(self.layers):
            def get(key, transpose=False):
                # a row-major copy: a view would share torch's memory, and a transposed one
                # is column-major, which BLAS and the fused optimizer updates run slower on
                value = values[f"{key}_l{k}"]
                value = np.array(value.T if transpose else value, order="C")
                return asarray(value, dtype=cell.w_ih.dtype).to(cell.w_ih.backend)
            cell.w_ih.assign(get("weight_ih", transpose=True))
            cell.w_hh.assign(get("weight_hh", transpose=True))
            if cell.b is not None:
                cell._set_torch_biases(get("bias_ih"), get("bias_hh"))

    def torch_state_dict(self) -> dict:
        """``{name: NumPy array}`` in ``torch.nn.LSTM`` / ``RNN`` / ``GRU`` layout (the bias in
        ``bias_ih``, zeros in ``bias_hh`` but for the GRU's ``b_hn``); load it with
        ``module.load_state_dict``."""
        out = {}
        for k, cell in enumerate(self.layers):
            out[f"weight_ih_l{k}"] = cell.w_ih.numpy().T.copy()
            out[f"weight_hh_l{k}"] = cell.w_hh.numpy().T.copy()
            if cell.b is not None:
                out[f"bias_ih_l{k}"], out[f"bias_hh_l{k}"] = cell._torch_biases()
        return out

    def _extra_repr(self):
        return (f", input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"num_layers={self.num_layers}"
                + (f", dropout={self.dropout}" if self.dropout else ""))


class RNN(_Sequence):
    """Elman RNN over batch-first sequences: ``outputs, h_n = rnn(x, h0=None)``.

    ``x`` is (B, T, input_size); ``h0`` and ``h_n`` are (num_layers, B, H); ``outputs`` (B, T, H)
    are the last layer's states. ``nonlinearity`` is "tanh" or "relu". ``lengths`` (one int
    per sequence) runs right-padded sequences of different lengths (see the module docstring).

    >>> import xpgrad as xg
    >>> out, h = xg.nn.RNN(3, 4, num_layers=2, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 4), (2, 5, 4))
    """

    CELL = RNNCell

    def __init__(self, input_size, hidden_size, num_layers=1, *, nonlinearity="tanh",
                 bias=True, batch_first=True, dropout=0.0, rng=None, dtype=_dt.float32,
                 backend=None, name="rnn"):
        super().__init__(input_size, hidden_size, num_layers, name=name,
                         batch_first=batch_first, dropout=dropout, nonlinearity=nonlinearity,
                         bias=bias, rng=rng, dtype=dtype, backend=backend)
        self.nonlinearity = nonlinearity

    def forward(self, x, h0=None, *, lengths=None):
        return self._one_state_forward(x, h0, lengths)


class LSTM(_Sequence):
    """LSTM over batch-first sequences: ``outputs, (h_n, c_n) = lstm(x, state=None)``.

    ``x`` is (B, T, input_size); the state ``(h, c)`` holds two (num_layers, B, H) tensors
    (zeros when None); ``outputs`` (B, T, H) are the last layer's ``h_t``. ``lengths`` (one
    int per sequence) runs right-padded sequences of different lengths: ``h_n``/``c_n`` are
    taken at each sequence's last step, the outputs past it are zero. See the module docstring
    for the weight layout and ``LSTMCell`` for the initialization.

    >>> import xpgrad as xg
    >>> out, (h, c) = xg.nn.LSTM(3, 4, num_layers=2, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 4), (2, 5, 4))
    """

    CELL = LSTMCell

    def __init__(self, input_size, hidden_size, num_layers=1, *, bias=True, forget_bias=1.0,
                 batch_first=True, dropout=0.0, rng=None, dtype=_dt.float32, backend=None,
                 name="lstm"):
        forget_bias = _checks.finite("forget_bias", forget_bias, "LSTM")
        super().__init__(input_size, hidden_size, num_layers, name=name, bias=bias,
                         batch_first=batch_first, dropout=dropout, forget_bias=forget_bias,
                         rng=rng, dtype=dtype, backend=backend)

    def forward(self, x, state=None, *, lengths=None):
        x = self._input(x)
        lengths = self._lengths(lengths, x)
        _check_pair(state, "LSTM", "(num_layers, batch, hidden)")
        hs = self._state_in(None if state is None else state[0], x, "h")
        cs = self._state_in(None if state is None else state[1], x, "c")
        h_n, c_n = [], []
        for k, (cell, h, c) in enumerate(zip(self.layers, hs, cs)):
            states = cell.states(self._layer_input(x, k), h, c)
            x = states[0]
            h_n.append(self._last(x, lengths))   # through x: states gets one gradient, h's
            c_n.append(states[1, :, -1] if lengths is None else self._last(states[1], lengths))
        return self._padded(x, lengths), (stack(h_n), stack(c_n))


class GRU(_Sequence):
    """GRU over batch-first sequences, PyTorch's equations: ``outputs, h_n = gru(x, h0=None)``.

    ``x`` is (B, T, input_size); ``h0`` and ``h_n`` are (num_layers, B, H) (zeros when None);
    ``outputs`` (B, T, H) are the last layer's states; ``lengths`` as ``LSTM``'s. Each layer
    projects its inputs with one matrix product and runs the recurrence as one primitive
    (``gru_scan``).

    >>> import xpgrad as xg
    >>> out, h = xg.nn.GRU(3, 4, num_layers=2, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 4), (2, 5, 4))
    """

    CELL = GRUCell

    def __init__(self, input_size, hidden_size, num_layers=1, *, bias=True, batch_first=True,
                 dropout=0.0, rng=None, dtype=_dt.float32, backend=None, name="gru"):
        super().__init__(input_size, hidden_size, num_layers, name=name, bias=bias,
                         batch_first=batch_first, dropout=dropout, rng=rng, dtype=dtype,
                         backend=backend)

    def forward(self, x, h0=None, *, lengths=None):
        return self._one_state_forward(x, h0, lengths)


class SequenceClassifier(Module):
    """Stacked recurrent layers read a sequence; a Linear layer maps the last state to logits.

    Input (B, T, input_size), or flat (B, T * input_size) rows (e.g. images read row by row).
    ``hidden`` lists one size per layer; ``cell`` is "lstm", "gru" or "rnn". ``lengths`` (one
    int per sequence) reads right-padded sequences each to its own last step.

    >>> import xpgrad as xg
    >>> model = xg.nn.SequenceClassifier(8, [16], 10, rng=0)
    >>> model(xg.zeros((4, 64))).shape                 # 8 rows of 8 pixels
    (4, 10)
    """

    def __init__(self, input_size, hidden, n_classes, *, cell="lstm", rng=None,
                 dtype=_dt.float32, backend=None, name="seq_classifier"):
        super().__init__(name)
        kinds = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
        if cell not in kinds:
            raise ValueError(f"cell must be one of {sorted(kinds)}, got {cell!r}")
        owner = "SequenceClassifier"
        hidden = _checks.sizes("hidden", hidden, owner)
        if not hidden:
            raise ValueError(f"{owner}: hidden must list at least one recurrent layer size, "
                             "got []")
        n_classes = _checks.size("n_classes", n_classes, owner)
        sizes = [_checks.size("input_size", input_size, owner)] + hidden
        gen = _init.as_rng(rng, backend)
        self.input_size = sizes[0]
        self.layers = [kinds[cell](a, b, rng=gen, dtype=dtype, backend=backend,
                                   name=f"{self.name}/{cell}{i}")
                       for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
        for layer in self.layers:
            layer.name = cell
        self.head = Linear(sizes[-1], n_classes, rng=gen, dtype=dtype, backend=backend,
                           name=f"{self.name}/head")

    def forward(self, x, *, lengths=None):
        if not isinstance(x, Tensor):
            x = asarray(x, dtype=self.head.w.dtype, backend=self.head.w.backend)
        if x.ndim == 2:
            if x.shape[1] % self.input_size:
                raise ValueError(f"SequenceClassifier: input of shape {x.shape}: its "
                                 f"{x.shape[1]} features do not split into steps of "
                                 f"input_size={self.input_size}")
            x = reshape(x, (x.shape[0], x.shape[1] // self.input_size, self.input_size))
        for layer in self.layers:
            x, final = layer(x, lengths=lengths)
        if lengths is None:
            return self.head(x[:, -1, :])
        h_n = final[0] if isinstance(final, tuple) else final
        return self.head(h_n[-1])


__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "SequenceClassifier"]
