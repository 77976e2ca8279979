"""Recurrent layers: RNNCell, LSTMCell, GRUCell (one step) and RNN, LSTM, GRU (whole sequences,
batch first).

Weights follow ``Linear``'s (in, out) layout, gates in PyTorch's order (i, f, g, o) along the
4H axis, and one bias per layer::

    w_ih: (input_size, 4H)   w_hh: (H, 4H)   b: (4H,)       (RNN: 4H -> H)

so ``torch.nn.LSTM``'s ``weight_ih_l{k} == w_ih.T``, ``weight_hh_l{k} == w_hh.T`` and
``bias_ih_l{k} + bias_hh_l{k} == b`` (``load_torch_state_dict`` / ``torch_state_dict``
convert). States are PyTorch's: ``(num_layers, batch, H)`` tensors, ``(h, c)`` for the LSTM.
The GRU's gates are (r, z, n) along 3H; its reset gate multiplies the hidden side's n bias, so
that bias stays apart: ``b`` (3H,) is ``bias_ih + [bias_hh_r, bias_hh_z, 0]`` and ``b_hn`` (H,)
is ``bias_hh_n``.

A sequence layer projects the inputs of all steps with one matrix product, then runs the
recurrence as one primitive (``xpgrad.ops.recurrent.rnn_scan``; an LSTM layer does both in one,
``lstm_layer``), so the tape holds a handful of nodes per layer whatever the sequence length.

>>> import xpgrad as xg
>>> lstm = xg.nn.LSTM(3, 5, rng=0)
>>> out, (h, c) = lstm(xg.ones((2, 7, 3)))
>>> out.shape, h.shape, c.shape
((2, 7, 5), (1, 2, 5), (1, 2, 5))
"""
from __future__ import annotations

import math
import re

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray, zeros
from ..ops.joining import stack
from ..ops.nn import linear
from ..ops.shape import reshape
from ..tensor import Tensor, Variable
from . import _checks
from . import init as _init
from .linear import Linear
from .module import Module
from ..ops.recurrent import (NONLINEARITIES, gru_scan, lstm_layer, lstm_layer_states,
                              lstm_states, rnn_scan)


#: the parameter names of torch.nn.RNN / LSTM / GRU (``weight_ih_l0``, ``bias_hh_l1_reverse``)
_TORCH_RECURRENT_KEY = re.compile(r"(weight|bias)_(ih|hh|hr)_l\d+(_reverse)?")

_SIZES = "{owner} needs positive sizes: {name} must be a positive integer, got {value!r}"


def _uniform(gen, shape, k, dtype, backend):
    w = gen.uniform(-k, k, size=shape, dtype=dtype)
    return w if backend is None else w.to(backend)


class _Recurrent(Module):
    """One layer's weights and its input projection; subclasses set GATES and the scan."""

    GATES = 1

    def __init__(self, input_size, hidden_size, *, bias=True, rng=None, dtype=_dt.float32,
                 backend=None, name="rnn_cell"):
        super().__init__(name)
        who = type(self).__name__
        bias = flag(bias, "bias", who)
        self.input_size = _checks.size("input_size", input_size, who, _SIZES)
        self.hidden_size = _checks.size("hidden_size", hidden_size, who, _SIZES)
        dtype = _checks.floating_dtype(dtype, who)
        G, H = self.GATES * self.hidden_size, self.hidden_size
        gen = _init.as_rng(rng, backend)
        k = 1.0 / math.sqrt(H)                       # PyTorch's default: U(-1/sqrt(H), 1/sqrt(H))
        self.w_ih = Variable(_uniform(gen, (self.input_size, G), k, dtype, backend),
                             name=f"{self.name}/w_ih")
        self.w_hh = Variable(_uniform(gen, (H, G), k, dtype, backend), name=f"{self.name}/w_hh")
        self.b = (Variable(zeros((G,), dtype=dtype, backend=self.w_ih.backend),
                           name=f"{self.name}/b") if bias else None)

    def project(self, x):
        """The input projection of every step, ``x @ w_ih + b``: (B, T, I) -> (B, T, G)."""
        x = _as_input(x, self, 3)
        B, T, _ = x.shape
        z = linear(reshape(x, (B * T, self.input_size)), self.w_ih, self.b)   # one fused op
        return reshape(z, (B, T, z.shape[-1]))

    def _zeros(self, x):
        return zeros((x.shape[0], self.hidden_size), dtype=self.w_hh.dtype,
                     backend=self.w_hh.backend)

    def _set_torch_biases(self, bias_ih, bias_hh):
        """``b`` from PyTorch's two biases (Tensors on this cell's backend)."""
        self.b.assign(bias_ih + bias_hh)

    def _torch_biases(self):
        """PyTorch's ``(bias_ih, bias_hh)`` as NumPy arrays: the bias in ``bias_ih``."""
        b = self.b.numpy().copy()
        return b, 0 * b

    def _extra_repr(self):
        return f", input_size={self.input_size}, hidden_size={self.hidden_size}"


def _as_input(x, layer, ndim, who=None):
    who = who or type(layer).__name__
    if not isinstance(x, Tensor):
        x = asarray(x, dtype=layer.w_ih.dtype, backend=layer.w_ih.backend)
    what = "(batch, time, input_size)" if ndim == 3 else "(batch, input_size)"
    if x.ndim != ndim or x.shape[-1] != layer.input_size:
        raise ValueError(f"{who} expects input of shape {what} with "
                         f"input_size={layer.input_size}, got shape {x.shape}")
    if x.dtype != layer.w_ih.dtype:
        raise TypeError(f"{who} has {layer.w_ih.dtype} weights but got a {x.dtype} input; "
                        "cast it with xg.astype")
    return x


def _describe(value):
    if isinstance(value, Tensor):
        return f"a tensor of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def _check_state(s, shape, what, layer):
    if not isinstance(s, Tensor) or s.shape != shape:
        got = s.shape if isinstance(s, Tensor) else type(s).__name__
        raise ValueError(f"{type(layer).__name__}: {what} must be a tensor of shape {shape}, "
                         f"got {got}")


class RNNCell(_Recurrent):
    """One Elman step ``h' = act(x @ w_ih + h @ w_hh + b)``, act "tanh" (default) or "relu".

    >>> import xpgrad as xg
    >>> cell = xg.nn.RNNCell(3, 4, rng=0)
    >>> cell(xg.ones((2, 3))).shape
    (2, 4)
    """

    def __init__(self, input_size, hidden_size, *, nonlinearity="tanh", bias=True, rng=None,
                 dtype=_dt.float32, backend=None, name="rnn_cell"):
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias=bias, rng=rng, dtype=dtype,
                         backend=backend, name=name)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        x = _as_input(x, self, 2)
        B = x.shape[0]
        h = self._zeros(x) if h is None else h
        _check_state(h, (B, self.hidden_size), "h", self)
        z = self.project(reshape(x, (B, 1, self.input_size)))
        return reshape(rnn_scan(z, h, self.w_hh, self.nonlinearity), (B, self.hidden_size))

    def scan(self, x, h0):
        """All steps of a (B, T, I) sequence from ``h0`` (B, H): the outputs (B, T, H)."""
        return rnn_scan(self.project(x), h0, self.w_hh, self.nonlinearity)


class LSTMCell(_Recurrent):
    """One LSTM step: ``(h', c') = cell(x, (h, c))``; the state defaults to zeros.

    The forget-gate bias starts at ``forget_bias`` (1.0, as Keras' unit_forget_bias), the
    other biases at 0, the weights as PyTorch's (uniform in +-1/sqrt(hidden_size)).

    >>> import xpgrad as xg
    >>> cell = xg.nn.LSTMCell(3, 4, rng=0)
    >>> h, c = cell(xg.ones((2, 3)))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    """

    GATES = 4

    def __init__(self, input_size, hidden_size, *, bias=True, forget_bias=1.0, rng=None,
                 dtype=_dt.float32, backend=None, name="lstm_cell"):
        forget_bias = _checks.finite("forget_bias", forget_bias, type(self).__name__)
        super().__init__(input_size, hidden_size, bias=bias, rng=rng, dtype=dtype,
                         backend=backend, name=name)
        if bias and forget_bias:
            H = self.hidden_size
            be = self.b.backend
            self.b.assign(asarray([0.0] * H + [forget_bias] * H + [0.0] * (2 * H),
                                  dtype=self.b.dtype, backend=be))

    def forward(self, x, state=None):
        x = _as_input(x, self, 2)
        B, H = x.shape[0], self.hidden_size
        if state is not None and not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise ValueError(f"LSTMCell: state must be a pair (h, c) of (batch, hidden) "
                             f"tensors, got {_describe(state)}")
        h, c = (self._zeros(x), self._zeros(x)) if state is None else state
        _check_state(h, (B, H), "h", self)
        _check_state(c, (B, H), "c", self)
        states = lstm_states(self.project(reshape(x, (B, 1, self.input_size))), h, c,
                             self.w_hh)
        return states[0, :, 0], states[1, :, 0]

    def scan(self, x, h0, c0):
        """All steps of a (B, T, I) sequence: ``[h_t | c_t]`` of shape (B, T, 2H)."""
        return lstm_layer(*self._layer_args(x, h0, c0))

    def states(self, x, h0, c0):
        """All steps of a (B, T, I) sequence as one (2, B, T, H) array, ``h_t`` in ``[0]`` and
        ``c_t`` in ``[1]`` (what ``LSTM`` runs: its outputs ``[0]`` are a contiguous view)."""
        return lstm_layer_states(*self._layer_args(x, h0, c0))

    def _layer_args(self, x, h0, c0):
        x = _as_input(x, self, 3)
        b = self.b if self.b is not None else zeros((4 * self.hidden_size,),
                                                     dtype=self.w_hh.dtype,
                                                     backend=self.w_hh.backend)
        return x, h0, c0, self.w_ih, self.w_hh, b


class GRUCell(_Recurrent):
    """One GRU step, PyTorch's equations (gates r, z, n; the module docstring has the biases)::

        r = sigmoid(x @ w_ih_r + h @ w_hh_r + b_r);   z = sigmoid(x @ w_ih_z + h @ w_hh_z + b_z)
        n = tanh(x @ w_ih_n + b_n + r * (h @ w_hh_n + b_hn));   h' = (1 - z) * n + z * h

    ``h' = cell(x, h=None)`` (zeros when None). Weights as PyTorch's (uniform in
    +-1/sqrt(hidden_size)), biases zero.

    >>> import xpgrad as xg
    >>> cell = xg.nn.GRUCell(3, 4, rng=0)
    >>> cell(xg.ones((2, 3))).shape, cell.b.shape, cell.b_hn.shape
    ((2, 4), (12,), (4,))
    """

    GATES = 3

    def __init__(self, input_size, hidden_size, *, bias=True, rng=None, dtype=_dt.float32,
                 backend=None, name="gru_cell"):
        super().__init__(input_size, hidden_size, bias=bias, rng=rng, dtype=dtype,
                         backend=backend, name=name)
        self.b_hn = (Variable(zeros((self.hidden_size,), dtype=self.w_hh.dtype,
                                    backend=self.w_hh.backend), name=f"{self.name}/b_hn")
                     if self.b is not None else None)

    def forward(self, x, h=None):
        x = _as_input(x, self, 2)
        B = x.shape[0]
        h = self._zeros(x) if h is None else h
        _check_state(h, (B, self.hidden_size), "h", self)
        out = self.scan(reshape(x, (B, 1, self.input_size)), h)
        return reshape(out, (B, self.hidden_size))

    def scan(self, x, h0):
        """All steps of a (B, T, I) sequence from ``h0`` (B, H): the outputs (B, T, H)."""
        b_hn = self.b_hn if self.b_hn is not None else zeros(
            (self.hidden_size,), dtype=self.w_hh.dtype, backend=self.w_hh.backend)
        return gru_scan(self.project(x), h0, self.w_hh, b_hn)

    def _set_torch_biases(self, bias_ih, bias_hh):
        H = self.hidden_size
        keep = asarray([1.0] * (2 * H) + [0.0] * H, dtype=bias_hh.dtype, backend=bias_hh.backend)
        self.b.assign(bias_ih + bias_hh * keep)
        self.b_hn.assign(bias_hh[2 * H:])

    def _torch_biases(self):
        bias_hh = 0 * self.b.numpy()
        bias_hh[2 * self.hidden_size:] = self.b_hn.numpy()
        return self.b.numpy().copy(), bias_hh


class _Sequence(Module):
    """A stack of ``num_layers`` cells run over whole sequences."""

    CELL = None

    def __init__(self, input_size, hidden_size, num_layers=1, *, name, **cell_kwargs):
        super().__init__(name)
        who = type(self).__name__
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

    def _state_in(self, state, x, what):
        shape = (self.num_layers, x.shape[0], self.hidden_size)
        if state is None:
            z = self.layers[0]._zeros(x)
            return [z] * self.num_layers
        _check_state(state, shape, what, self)
        return [state[k] for k in range(self.num_layers)]

    def _input(self, x):
        return _as_input(x, self.layers[0], 3, type(self).__name__)

    # -- PyTorch interoperability --------------------------------------------------------------
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy weights from a ``torch.nn.LSTM`` / ``RNN`` / ``GRU`` state dict (same sizes and
        ``bias``, one direction); values are tensors or arrays, converted through NumPy.

        Missing keys, recurrent weights this layer does not have (another ``num_layers``,
        ``bias``, ``proj_size`` or ``bidirectional=True``) and shapes that differ raise
        ValueError before any weight changes; keys of other modules (``"head_w"``) are
        ignored."""
        import numpy as np

        def host(v):
            return v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)

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
                             f"{missing}, unexpected keys {unexpected}")
        values = {key: host(state_dict[key]) for key in expected}
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
                f"num_layers={self.num_layers}")


class RNN(_Sequence):
    """Elman RNN over batch-first sequences: ``outputs, h_n = rnn(x, h0=None)``.

    ``x`` is (B, T, input_size); ``h0`` and ``h_n`` are (num_layers, B, H); ``outputs`` (B, T, H)
    are the last layer's states. ``nonlinearity`` is "tanh" or "relu".

    >>> import xpgrad as xg
    >>> out, h = xg.nn.RNN(3, 4, num_layers=2, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 4), (2, 5, 4))
    """

    CELL = RNNCell

    def __init__(self, input_size, hidden_size, num_layers=1, *, nonlinearity="tanh",
                 bias=True, rng=None, dtype=_dt.float32, backend=None, name="rnn"):
        super().__init__(input_size, hidden_size, num_layers, name=name,
                         nonlinearity=nonlinearity, bias=bias, rng=rng, dtype=dtype,
                         backend=backend)
        self.nonlinearity = nonlinearity

    def forward(self, x, h0=None):
        x = self._input(x)
        hs = self._state_in(h0, x, "h0")
        finals = []
        for cell, h in zip(self.layers, hs):
            x = cell.scan(x, h)
            finals.append(x[:, -1, :])
        return x, stack(finals)


class LSTM(_Sequence):
    """LSTM over batch-first sequences: ``outputs, (h_n, c_n) = lstm(x, state=None)``.

    ``x`` is (B, T, input_size); the state ``(h, c)`` holds two (num_layers, B, H) tensors
    (zeros when None); ``outputs`` (B, T, H) are the last layer's ``h_t``. See the module
    docstring for the weight layout and ``LSTMCell`` for the initialization.

    >>> import xpgrad as xg
    >>> out, (h, c) = xg.nn.LSTM(3, 4, num_layers=2, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 4), (2, 5, 4))
    """

    CELL = LSTMCell

    def __init__(self, input_size, hidden_size, num_layers=1, *, bias=True, forget_bias=1.0,
                 rng=None, dtype=_dt.float32, backend=None, name="lstm"):
        forget_bias = _checks.finite("forget_bias", forget_bias, "LSTM")
        super().__init__(input_size, hidden_size, num_layers, name=name, bias=bias,
                         forget_bias=forget_bias, rng=rng, dtype=dtype, backend=backend)

    def forward(self, x, state=None):
        x = self._input(x)
        if state is not None and not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise ValueError("LSTM: state must be a pair (h, c) of (num_layers, batch, "
                             f"hidden) tensors, got {_describe(state)}")
        hs = self._state_in(None if state is None else state[0], x, "h")
        cs = self._state_in(None if state is None else state[1], x, "c")
        h_n, c_n = [], []
        for cell, h, c in zip(self.layers, hs, cs):
            states = cell.states(x, h, c)
            x = states[0]
            h_n.append(x[:, -1])       # through x: states gets one gradient, the h half
            c_n.append(states[1, :, -1])
        return x, (stack(h_n), stack(c_n))


class GRU(_Sequence):
    """GRU over batch-first sequences, PyTorch's equations: ``outputs, h_n = gru(x, h0=None)``.

    ``x`` is (B, T, input_size); ``h0`` and ``h_n`` are (num_layers, B, H) (zeros when None);
    ``outputs`` (B, T, H) are the last layer's states. Each layer projects its inputs with one
    matrix product and runs the recurrence as one primitive (``gru_scan``).

    >>> import xpgrad as xg
    >>> out, h = xg.nn.GRU(3, 4, num_layers=2, rng=0)(xg.ones((5, 6, 3)))
    >>> out.shape, h.shape
    ((5, 6, 4), (2, 5, 4))
    """

    CELL = GRUCell

    def __init__(self, input_size, hidden_size, num_layers=1, *, bias=True, rng=None,
                 dtype=_dt.float32, backend=None, name="gru"):
        super().__init__(input_size, hidden_size, num_layers, name=name, bias=bias, rng=rng,
                         dtype=dtype, backend=backend)

    def forward(self, x, h0=None):
        x = self._input(x)
        hs = self._state_in(h0, x, "h0")
        finals = []
        for cell, h in zip(self.layers, hs):
            x = cell.scan(x, h)
            finals.append(x[:, -1, :])
        return x, stack(finals)


class SequenceClassifier(Module):
    """Stacked recurrent layers read a sequence; a Linear layer maps the last state to logits.

    Input (B, T, input_size), or flat (B, T * input_size) rows (e.g. images read row by row).
    ``hidden`` lists one size per layer; ``cell`` is "lstm", "gru" or "rnn".

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

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = asarray(x, dtype=self.head.w.dtype, backend=self.head.w.backend)
        if x.ndim == 2:
            if x.shape[1] % self.input_size:
                raise ValueError(f"SequenceClassifier: input of shape {x.shape}: its "
                                 f"{x.shape[1]} features do not split into steps of "
                                 f"input_size={self.input_size}")
            x = reshape(x, (x.shape[0], x.shape[1] // self.input_size, self.input_size))
        for layer in self.layers:
            x, _ = layer(x)
        return self.head(x[:, -1, :])


__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "SequenceClassifier"]
