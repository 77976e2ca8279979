"""One step of the GRU, the Elman RNN and the LSTM as one primitive each, on (batch, .)
arrays: what ``xg.nn.GRUCell``, ``RNNCell`` and ``LSTMCell`` record per call.

``gru_cell(x, h, w_ih, w_hh, b, b_hn)`` is ``gru_layer`` of the one-step sequence ``x[:, None]``
and ``rnn_cell(x, h, w_ih, w_hh, b, nonlinearity)`` ``rnn_layer``'s, each output's step axis
dropped: (B, I) -> (B, H), with no reshape nodes on the tape around them (a decoder loop calls
a cell once per step); ``lstm_cell`` is ``lstm_layer_states``' of one step, (2, B, H). Their
generic rules are the layers'; the NumPy backend's kernels (``backends/numpy/gated_step.py``
and ``lstm_step.py``, which the Numba and CuPy backends run too) are one step's closed forms,
as its layer kernels' at T = 1.

>>> import xpgrad as xg
>>> h = gru_cell(xg.zeros((1, 2)), xg.ones((1, 3)), xg.zeros((2, 9)), xg.zeros((3, 9)),
...              xg.zeros(9), xg.zeros(3))
>>> h.tolist()                   # z = sigmoid(0), n = tanh(0): h' = h / 2
[[0.5, 0.5, 0.5]]
"""
from __future__ import annotations

from ..appliers import _tensor_classes, tape_state
from ..primitive import Primitive, apply
from ..tensor import _wrap
from .projected_scans import _gru_layer_forward, _gru_layer_vjp, _rnn_layer_forward, _rnn_layer_vjp
from .recurrent import _lstm_layer_forward, _lstm_layer_vjp


def _steps(xp, a):
    """``a`` (B, .) as a one-step sequence (B, 1, .)."""
    return xp.reshape(a, (a.shape[0], 1, a.shape[1]))


def _cell_rule(layer_forward, layer_vjp):
    """The generic forward and joint rule of a cell from its layer's."""

    def forward(xp, x, h, *rest, **params):
        out = layer_forward(xp, _steps(xp, x), h, *rest, **params)
        return xp.reshape(out, h.shape)

    def vjp(xp, g, ans, needs, x, h, *rest, **params):
        dx, *others = layer_vjp(xp, _steps(xp, g), _steps(xp, ans), needs, _steps(xp, x), h,
                                *rest, **params)
        return (None if dx is None else xp.reshape(dx, x.shape), *others)
    return forward, vjp


_gru_cell_forward, _gru_cell_vjp = _cell_rule(_gru_layer_forward, _gru_layer_vjp)
_gru_cell = Primitive("gru_cell", _gru_cell_forward, joint=_gru_cell_vjp)
_rnn_cell_forward, _rnn_cell_vjp = _cell_rule(_rnn_layer_forward, _rnn_layer_vjp)
_rnn_cell = Primitive("rnn_cell", _rnn_cell_forward, joint=_rnn_cell_vjp)


def _lstm_cell_forward(xp, x, h, c, w_ih, w_hh, b):
    states = _lstm_layer_forward(xp, _steps(xp, x), h, c, w_ih, w_hh, b)
    return xp.reshape(states, (2, *h.shape))


def _lstm_cell_vjp(xp, g, ans, needs, x, h, c, w_ih, w_hh, b):
    B, H = h.shape
    dx, *others = _lstm_layer_vjp(xp, xp.reshape(g, (2, B, 1, H)), xp.reshape(ans, (2, B, 1, H)),
                                  needs, _steps(xp, x), h, c, w_ih, w_hh, b)
    return (None if dx is None else xp.reshape(dx, x.shape), *others)


_lstm_cell = Primitive("lstm_cell", _lstm_cell_forward, joint=_lstm_cell_vjp)


def lstm_cell(x, h, c, w_ih, w_hh, b):
    """One LSTM step (``lstm_layer``'s equations) for a batch: ``x`` (B, I), ``h`` and ``c``
    (B, H); returns the states ``[h', c']`` as one (2, B, H) array (the layer's layout). The
    caller has checked the arguments (``xg.nn.LSTMCell`` does).

    >>> import xpgrad as xg
    >>> states = lstm_cell(xg.zeros((1, 2)), xg.zeros((1, 2)), xg.ones((1, 2)),
    ...                    xg.zeros((2, 8)), xg.zeros((2, 8)), xg.zeros(8))
    >>> states[1].tolist()             # c' = sigmoid(0) * c
    [[0.5, 0.5]]
    """
    return apply(_lstm_cell, x, h, c, w_ih, w_hh, b)


def lstm_cell_pair(x, h, c, w_ih, w_hh, b):
    """``lstm_cell``'s states as the pair ``(h', c')``. Where the backend's kernel runs it on
    its own arrays and at most one tape records, one tape node has both outputs
    (``GradientTape._record_pieces``: no getitem nodes, about 150 fewer Python calls a step
    forward and back); otherwise the states' two halves (getitems).

    >>> import xpgrad as xg
    >>> h, c = lstm_cell_pair(xg.zeros((1, 2)), xg.zeros((1, 2)), xg.ones((1, 2)),
    ...                       xg.zeros((2, 8)), xg.zeros((2, 8)), xg.zeros(8))
    >>> h.shape, c.tolist()                   # c' = sigmoid(0) * c
    ((1, 2), [[0.5, 0.5]])
    """
    args = (x, h, c, w_ih, w_hh, b)
    be = x._backend
    kern = be.kernels.get("lstm_cell") if be.kernels else None
    recording = tape_state.recording
    record = None
    if recording:
        record = getattr(recording[0], "_record_pieces", None) if len(recording) == 1 \
            else None
    if kern is not None and (record is not None or not recording):
        kind = be.array_class
        raws = tuple(a._data for a in args if a.__class__ in _tensor_classes and
                     a._backend is be and a._data.__class__ is kind)
        result = kern.forward(*raws) if len(raws) == 6 else None
        if result is not None:
            states, saved = result
            pair = (_wrap(states[0], be), _wrap(states[1], be))
            if record is not None:
                record(_lstm_cell, args, raws, _wrap(states, be), pair, saved, kern)
            return pair
    states = apply(_lstm_cell, *args)
    return states[0], states[1]


def gru_cell(x, h, w_ih, w_hh, b, b_hn):
    """One GRU step (``gru_layer``'s equations) for a batch: ``x`` (B, I), ``h`` (B, H), the
    weights as ``gru_layer``'s; returns ``h'`` (B, H). The caller has checked the shapes and
    dtypes (``xg.nn.GRUCell`` does).

    >>> import xpgrad as xg
    >>> gru_cell(xg.zeros((2, 1)), xg.zeros((2, 1)), xg.zeros((1, 3)), xg.zeros((1, 3)),
    ...          xg.zeros(3), xg.zeros(1)).shape
    (2, 1)
    """
    return apply(_gru_cell, x, h, w_ih, w_hh, b, b_hn)


def rnn_cell(x, h, w_ih, w_hh, b, nonlinearity):
    """One Elman step ``act(x @ w_ih + b + h @ w_hh)`` for a batch: ``x`` (B, I), ``h`` (B, H);
    returns ``h'`` (B, H). The caller has checked the arguments (``xg.nn.RNNCell`` does).

    >>> import xpgrad as xg
    >>> rnn_cell(xg.ones((1, 2)), xg.zeros((1, 2)), xg.eye(2), xg.zeros((2, 2)), xg.zeros(2),
    ...          "relu").tolist()
    [[1.0, 1.0]]
    """
    return apply(_rnn_cell, x, h, w_ih, w_hh, b, nonlinearity=nonlinearity)


__all__: list = []   # what xg.nn.GRUCell and RNNCell run
