"""The Elman RNN's and GRU's layers as one primitive each: the input projection and the scan.

``rnn_layer(x, h0, w_ih, w_hh, b, nonlinearity)`` is ``rnn_scan(x @ w_ih + b, h0, w_hh,
nonlinearity)`` and ``gru_layer(x, h0, w_ih, w_hh, b, b_hn)`` is ``gru_scan(x @ w_ih + b, h0,
w_hh, b_hn)`` (``recurrent.py`` has the equations), as ``lstm_layer`` is the LSTM's: with one
tape node for both, the (B, T, G) projection and its gradient need not be arrays the tape
holds. A backend's kernel projects the inputs into its own time-major buffer and, in the
backward, adds each block of steps' part of ``dw_ih``, ``db`` and ``dx`` from its ring of gate
gradients (``backends/numpy/gated_layers.py``); the generic rules below are the reference.

>>> import xpgrad as xg
>>> x, h0 = xg.ones((1, 4, 3)), xg.zeros((1, 2))
>>> gru_layer(x, h0, xg.zeros((3, 6)), xg.zeros((2, 6)), xg.zeros(6), xg.zeros(2)).shape
(1, 4, 2)
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from ._define import as_tensor
from .recurrent import (NONLINEARITIES, _check, _gru_forward, _gru_vjp, _project, _rnn_forward,
                        _rnn_vjp, projection_grads)


def _rnn_layer_forward(xp, x, h0, w_ih, w_hh, b, nonlinearity):
    return _rnn_forward(xp, _project(xp, x, w_ih, b), h0, w_hh, nonlinearity)


def _rnn_layer_vjp(xp, g, ans, needs, x, h0, w_ih, w_hh, b, nonlinearity):
    """The joint rule: ``rnn_scan``'s, then the projection's gradients."""
    xproj = _project(xp, x, w_ih, b)
    da, dh0, dw_hh = _rnn_vjp(xp, g, ans, (True, needs[1], needs[3]), xproj, h0, w_hh,
                              nonlinearity)
    dx, dw_ih, db = projection_grads(xp, da, x, w_ih, needs[0], needs[2], needs[4])
    return dx, dh0, dw_ih, dw_hh, db


_rnn_layer = Primitive("rnn_layer", _rnn_layer_forward, joint=_rnn_layer_vjp)


def _gru_layer_forward(xp, x, h0, w_ih, w_hh, b, b_hn):
    return _gru_forward(xp, _project(xp, x, w_ih, b), h0, w_hh, b_hn)


def _gru_layer_vjp(xp, g, ans, needs, x, h0, w_ih, w_hh, b, b_hn):
    """The joint rule: ``gru_scan``'s, then the projection's gradients."""
    xproj = _project(xp, x, w_ih, b)
    dxproj, dh0, dw_hh, db_hn = _gru_vjp(xp, g, ans, (True, needs[1], needs[3], needs[5]),
                                         xproj, h0, w_hh, b_hn)
    dx, dw_ih, db = projection_grads(xp, dxproj, x, w_ih, needs[0], needs[2], needs[4])
    return dx, dh0, dw_ih, dw_hh, db, db_hn


_gru_layer = Primitive("gru_layer", _gru_layer_forward, joint=_gru_layer_vjp)


def _check_layer(name, x, h0, w_ih, w_hh, b, gates, more=()):
    x, h0 = as_tensor(x, name, "x"), as_tensor(h0, name, "h0")
    w_ih, b = as_tensor(w_ih, name, "w_ih"), as_tensor(b, name, "b")
    if x.ndim != 3:
        raise ValueError(f"{name}: x must be (batch, time, input_size), got shape {x.shape}")
    G = w_ih.shape[-1] if w_ih.ndim == 2 else -1
    if w_ih.shape != (x.shape[2], G) or b.shape != (G,):
        raise ValueError(f"{name}: w_ih must be (input_size, {gates}*hidden) = ({x.shape[2]}, "
                         f"{gates}*hidden) and b ({gates}*hidden,); got {w_ih.shape} and "
                         f"{b.shape}")
    _, (h0,), w_hh = _check(name, (x.shape[0], x.shape[1], G), (h0,), w_hh, gates,
                            more=(x, w_ih, b, *more))
    return x, h0, w_ih, w_hh, b


def rnn_layer(x, h0, w_ih, w_hh, b, nonlinearity="tanh"):
    """``rnn_scan(x @ w_ih + b, h0, w_hh, nonlinearity)`` as one primitive: (B, T, I) ->
    ``h_t`` (B, T, H).

    >>> import xpgrad as xg
    >>> h = rnn_layer(xg.ones((2, 3, 1)), xg.zeros((2, 4)), xg.ones((1, 4)), xg.zeros((4, 4)),
    ...               xg.zeros(4), "relu")
    >>> h[0, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"rnn_layer: nonlinearity must be one of {NONLINEARITIES}, got "
                         f"{nonlinearity!r}")
    args = _check_layer("rnn_layer", x, h0, w_ih, w_hh, b, 1)
    return apply(_rnn_layer, *args, nonlinearity=nonlinearity)


def gru_layer(x, h0, w_ih, w_hh, b, b_hn):
    """``gru_scan(x @ w_ih + b, h0, w_hh, b_hn)`` as one primitive: (B, T, I) -> ``h_t``
    (B, T, H).

    >>> import xpgrad as xg
    >>> h = gru_layer(xg.zeros((1, 3, 2)), xg.ones((1, 2)), xg.zeros((2, 6)), xg.zeros((2, 6)),
    ...               xg.zeros(6), xg.zeros(2))
    >>> h[0, 0].tolist()         # z = sigmoid(0), n = tanh(0): h_1 = h_0 / 2
    [0.5, 0.5]
    """
    b_hn = as_tensor(b_hn, "gru_layer", "b_hn")
    args = _check_layer("gru_layer", x, h0, w_ih, w_hh, b, 3, more=(b_hn,))
    H = args[1].shape[-1]
    if b_hn.shape != (H,):
        raise ValueError(f"gru_layer: b_hn must be (hidden,) = ({H},), got shape {b_hn.shape}")
    return apply(_gru_layer, *args, b_hn)


__all__: list = []   # exposed through xg.nn (rnn_layer, gru_layer)
