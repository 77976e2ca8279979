"""Recurrent cells: RNNCell, LSTMCell, GRUCell (one step, or a whole sequence with ``scan``);
the sequence layers RNN, LSTM, GRU built from them are in ``recurrent_layers.py``, the cells'
shared weights in ``recurrent_cell_base.py``, their argument checks in ``recurrent_checks.py``.

Weights follow ``Linear``'s (in, out) layout, gates in PyTorch's order (i, f, g, o) along the
4H axis, and one bias per layer::

    w_ih: (input_size, 4H)   w_hh: (H, 4H)   b: (4H,)       (RNN: 4H -> H)

so ``torch.nn.LSTM``'s ``weight_ih_l{k} == w_ih.T``, ``weight_hh_l{k} == w_hh.T`` and
``bias_ih_l{k} + bias_hh_l{k} == b`` (``load_torch_state_dict`` / ``torch_state_dict``
convert). States are PyTorch's: ``(num_layers, batch, H)`` tensors, ``(h, c)`` for the LSTM.
The GRU's gates are (r, z, n) along 3H; its reset gate multiplies the hidden side's n bias, so
that bias stays apart: ``b`` (3H,) is ``bias_ih + [bias_hh_r, bias_hh_z, 0]`` and ``b_hn`` (H,)
is ``bias_hh_n``.

A sequence layer runs the input projection of all steps and the recurrence as one primitive
(``lstm_layer``; ``rnn_layer`` and ``gru_layer`` of ``xpgrad.ops.projected_scans``), so the tape
holds a handful of nodes per layer whatever the sequence length.

>>> import xpgrad as xg
>>> lstm = xg.nn.LSTM(3, 5, rng=0)
>>> out, (h, c) = lstm(xg.ones((2, 7, 3)))
>>> out.shape, h.shape, c.shape
((2, 7, 5), (1, 2, 5), (1, 2, 5))
"""
from __future__ import annotations

from .. import dtypes as _dt
from ..creation import asarray
from ..ops.projected_scans import gru_layer, rnn_layer
from ..ops.recurrent import lstm_layer, lstm_layer_states
from ..ops.recurrent_cells import gru_cell, lstm_cell, lstm_cell_pair, rnn_cell
from ..ops.shape import reshape
from ..tensor import Variable
from . import _checks
from .recurrent_cell_base import _Recurrent, initializers  # noqa: F401 (re-exported)
from .recurrent_checks import (_as_input, _check_pair, _check_state, cell_batch,
                               check_nonlinearity)


class RNNCell(_Recurrent):
    """One Elman step ``h' = act(x @ w_ih + h @ w_hh + b)``, act "tanh" (default) or "relu".
    ``kernel_init``, ``recurrent_init``, ``bias_init``: see ``LSTMCell``.

    >>> import xpgrad as xg
    >>> cell = xg.nn.RNNCell(3, 4, rng=0)
    >>> cell(xg.ones((2, 3))).shape
    (2, 4)
    """

    _TORCH_ORDER = ("input_size", "hidden_size", "bias", "nonlinearity")

    def __init__(self, input_size, hidden_size, *, nonlinearity="tanh", bias=True,
                 kernel_init=None, recurrent_init=None, bias_init=None, rng=None,
                 dtype=_dt.float32, backend=None, name="rnn_cell"):
        check_nonlinearity(nonlinearity, type(self).__name__)
        super().__init__(input_size, hidden_size, bias=bias, kernel_init=kernel_init,
                         recurrent_init=recurrent_init, bias_init=bias_init, rng=rng,
                         dtype=dtype, backend=backend, name=name)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        x, h, unbatched = cell_batch(self, x, h)
        x = _as_input(x, self, 2)
        B = x.shape[0]
        h = self._zeros(x) if h is None else h
        h = _check_state(h, (B, self.hidden_size), "h", self, self.w_hh)
        h = rnn_cell(x, h, self.w_ih, self.w_hh, self._bias(self.b, 1), self.nonlinearity)
        return reshape(h, (self.hidden_size,)) if unbatched else h

    def scan(self, x, h0):
        """All steps of a (B, T, I) sequence from ``h0`` (B, H): the outputs (B, T, H)."""
        x = _as_input(x, self, 3)
        return rnn_layer(x, h0, self.w_ih, self.w_hh, self._bias(self.b, 1), self.nonlinearity)


class LSTMCell(_Recurrent):
    """One LSTM step: ``(h', c') = cell(x, (h, c))``; the state defaults to zeros.

    By default the weights are PyTorch's (uniform in +-1/sqrt(hidden_size)), the biases 0 but
    the forget gate's, ``forget_bias`` (1.0, as Keras' ``unit_forget_bias``).

    Keras' arguments choose otherwise, each a name of ``xg.nn.init.INITIALIZERS`` or a
    callable ``(rng, shape, dtype)`` called once on the whole matrix: ``kernel_init`` for
    ``w_ih`` (input_size, 4H), ``recurrent_init`` for ``w_hh`` (H, 4H), ``bias_init`` for
    ``b`` (4H,) (given ``fan_in=hidden_size`` if it takes that keyword, so
    ``"torch_linear_default"`` draws U(+-1/sqrt(hidden_size)), the law of each of PyTorch's
    two biases; ``b`` stands for their sum but is drawn once). Keras' LSTM is
    ``kernel_init="glorot_uniform", recurrent_init="orthogonal"``: its Orthogonal draws one
    (H, 4H) matrix with orthonormal rows, as here (and as PyTorch's ``orthogonal_`` on the
    (4H, H) ``weight_hh``); each gate's (H, H) block of it is not orthogonal;
    ``recurrent_init=xg.nn.init.blockwise(xg.nn.init.orthogonal(), 4)`` draws each gate's
    block orthogonal. ``forget_bias`` then replaces the forget gate's slice of ``b``, as
    Keras' ``unit_forget_bias=True`` does after its ``bias_initializer``;
    ``forget_bias=None`` keeps ``bias_init``'s draws there (``unit_forget_bias=False``).

    >>> import xpgrad as xg
    >>> cell = xg.nn.LSTMCell(3, 4, rng=0)
    >>> h, c = cell(xg.ones((2, 3)))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    >>> keras = xg.nn.LSTMCell(3, 4, kernel_init="glorot_uniform", recurrent_init="orthogonal",
    ...                        rng=0)
    >>> keras.b.tolist()[4:8]
    [1.0, 1.0, 1.0, 1.0]
    """

    GATES = 4

    _TORCH_ORDER = ("input_size", "hidden_size", "bias")

    def __init__(self, input_size, hidden_size, *, bias=True, forget_bias=1.0,
                 kernel_init=None, recurrent_init=None, bias_init=None, rng=None,
                 dtype=_dt.float32, backend=None, name="lstm_cell"):
        if forget_bias is not None:
            forget_bias = _checks.finite("forget_bias", forget_bias, type(self).__name__)
        super().__init__(input_size, hidden_size, bias=bias, kernel_init=kernel_init,
                         recurrent_init=recurrent_init, bias_init=bias_init, rng=rng,
                         dtype=dtype, backend=backend, name=name)
        if bias and forget_bias is not None and (forget_bias or bias_init is not None):
            H = self.hidden_size
            b = self.b.numpy().copy()
            b[H:2 * H] = forget_bias
            self.b.assign(asarray(b, dtype=self.b.dtype, backend=self.b.backend))

    def forward(self, x, state=None):
        x, state, unbatched = cell_batch(self, x, state, pair=True)
        x = _as_input(x, self, 2)
        B, H = x.shape[0], self.hidden_size
        _check_pair(state, "LSTMCell", "(batch, hidden)")
        h, c = (self._zeros(x), self._zeros(x)) if state is None else state
        h = _check_state(h, (B, H), "h", self, self.w_hh)
        c = _check_state(c, (B, H), "c", self, self.w_hh)
        if unbatched:
            states = lstm_cell(x, h, c, self.w_ih, self.w_hh, self._bias(self.b, 4))
            return states[0, 0], states[1, 0]
        return lstm_cell_pair(x, h, c, self.w_ih, self.w_hh, self._bias(self.b, 4))

    def scan(self, x, h0, c0):
        """All steps of a (B, T, I) sequence: ``[h_t | c_t]`` of shape (B, T, 2H)."""
        return lstm_layer(*self._layer_args(x, h0, c0))

    def states(self, x, h0, c0):
        """All steps of a (B, T, I) sequence as one (2, B, T, H) array, ``h_t`` in ``[0]`` and
        ``c_t`` in ``[1]`` (what ``LSTM`` runs: its outputs ``[0]`` are a contiguous view)."""
        return lstm_layer_states(*self._layer_args(x, h0, c0))

    def _layer_args(self, x, h0, c0):
        x = _as_input(x, self, 3)
        return x, h0, c0, self.w_ih, self.w_hh, self._bias(self.b, 4)


class GRUCell(_Recurrent):
    """One GRU step, PyTorch's equations (gates r, z, n; the module docstring has the biases)::

        r = sigmoid(x @ w_ih_r + h @ w_hh_r + b_r);   z = sigmoid(x @ w_ih_z + h @ w_hh_z + b_z)
        n = tanh(x @ w_ih_n + b_n + r * (h @ w_hh_n + b_hn));   h' = (1 - z) * n + z * h

    ``h' = cell(x, h=None)`` (zeros when None). Weights as PyTorch's (uniform in
    +-1/sqrt(hidden_size)), biases zero, or as ``kernel_init`` (``w_ih`` (input_size, 3H)),
    ``recurrent_init`` (``w_hh`` (H, 3H)) and ``bias_init`` draw them (see ``LSTMCell``;
    ``bias_init`` draws ``b`` (3H,) once, then ``b_hn`` (H,), not Keras' two bias rows summed).

    >>> import xpgrad as xg
    >>> cell = xg.nn.GRUCell(3, 4, rng=0)
    >>> cell(xg.ones((2, 3))).shape, cell.b.shape, cell.b_hn.shape
    ((2, 4), (12,), (4,))
    """

    GATES = 3

    _TORCH_ORDER = ("input_size", "hidden_size", "bias")

    def __init__(self, input_size, hidden_size, *, bias=True, kernel_init=None,
                 recurrent_init=None, bias_init=None, rng=None, dtype=_dt.float32,
                 backend=None, name="gru_cell"):
        super().__init__(input_size, hidden_size, bias=bias, kernel_init=kernel_init,
                         recurrent_init=recurrent_init, bias_init=bias_init, rng=rng,
                         dtype=dtype, backend=backend, name=name)

    def _more_biases(self, bias_vector):
        self.b_hn = (Variable(bias_vector((self.hidden_size,), "(hidden_size,)"),
                              name=f"{self.name}/b_hn") if bias_vector is not None else None)

    def forward(self, x, h=None):
        x, h, unbatched = cell_batch(self, x, h)
        x = _as_input(x, self, 2)
        B = x.shape[0]
        h = self._zeros(x) if h is None else h
        h = _check_state(h, (B, self.hidden_size), "h", self, self.w_hh)
        h = gru_cell(x, h, self.w_ih, self.w_hh, self._bias(self.b, 3), self._bias(self.b_hn, 1))
        return reshape(h, (self.hidden_size,)) if unbatched else h

    def scan(self, x, h0):
        """All steps of a (B, T, I) sequence from ``h0`` (B, H): the outputs (B, T, H)."""
        x = _as_input(x, self, 3)
        return gru_layer(x, h0, self.w_ih, self.w_hh, self._bias(self.b, 3),
                         self._bias(self.b_hn, 1))

    def _set_torch_biases(self, bias_ih, bias_hh):
        H = self.hidden_size
        keep = asarray([1.0] * (2 * H) + [0.0] * H, dtype=bias_hh.dtype, backend=bias_hh.backend)
        self.b.assign(bias_ih + bias_hh * keep)
        self.b_hn.assign(bias_hh[2 * H:])

    def _torch_biases(self):
        bias_hh = 0 * self.b.numpy()
        bias_hh[2 * self.hidden_size:] = self.b_hn.numpy()
        return self.b.numpy().copy(), bias_hh
