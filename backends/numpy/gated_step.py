"""One GRU step and one Elman RNN step on (batch, .) arrays: the kernels of ``gru_cell`` and
``rnn_cell`` (what ``xg.nn.GRUCell`` and ``xg.nn.RNNCell`` run each call) and of ``gru_layer``
and ``rnn_layer`` of one step (``gated_layers.py`` adapts them), without the scans' per-call
setup (the time-major projection buffers, halved weight copies, rings, product plans): two
products for the pre-activations, the gate pass on (B, .) blocks, and the backward in closed
form (one product per input that wants its gradient). The GRU saves ``(h, rz, n, hn)``, the
RNN ``(h,)``. On the Numba backend too (its table keeps these): at one step these ufunc passes
ran the decoder loop's step faster than Numba's layer kernels (GRUCell 1.31 -> 1.09 of
PyTorch's time, RNNCell 1.32 -> 0.96, batch 32, hidden 128).
"""
from __future__ import annotations


def gru_one_step(np, matmul):
    """``(forward, vjp)`` of ``gru_cell`` for arrays of ``np`` (float32 or float64, checked by
    the caller): ``forward(x, h0, w_ih, w_hh, b, b_hn)`` with ``x`` (B, I), ``h0`` (B, H).

    >>> import numpy as np
    >>> forward, vjp = gru_one_step(np, np.matmul)
    >>> x, h0 = np.zeros((1, 2)), np.ones((1, 3))
    >>> h, saved = forward(x, h0, np.zeros((2, 9)), np.zeros((3, 9)), np.zeros(9), np.zeros(3))
    >>> h.tolist()          # z = sigmoid(0), n = tanh(0): h_1 = h_0 / 2
    [[0.5, 0.5, 0.5]]
    """
    multiply, add, subtract, tanh = np.multiply, np.add, np.subtract, np.tanh

    def forward(x, h0, w_ih, w_hh, b, b_hn):
        B, H = h0.shape
        pre = matmul(x, w_ih)
        add(pre, b, out=pre)
        a = matmul(h0, w_hh)
        rz = pre[:, :2 * H]                      # sigmoid(v) = tanh(v / 2) / 2 + 1 / 2
        add(rz, a[:, :2 * H], out=rz)
        multiply(rz, 0.5, out=rz)
        tanh(rz, out=rz)
        multiply(rz, 0.5, out=rz)
        add(rz, 0.5, out=rz)
        hn = a[:, 2 * H:]
        add(hn, b_hn, out=hn)
        n = pre[:, 2 * H:]
        add(n, rz[:, :H] * hn, out=n)
        tanh(n, out=n)
        h = subtract(h0, n)                      # h_1 = n + z (h0 - n)
        multiply(h, rz[:, H:], out=h)
        add(h, n, out=h)
        return h, (h, rz, n, hn)

    def vjp(g, saved, needs, x, h0, w_ih, w_hh, b, b_hn):
        _, rz, n, hn = saved
        B, H = h0.shape
        gh = g
        r, z = rz[:, :H], rz[:, H:]
        dpre = np.empty((B, 3 * H), dtype=h0.dtype)       # [dr | dz | dn]
        dr, dz, dn = dpre[:, :H], dpre[:, H:2 * H], dpre[:, 2 * H:]
        subtract(1.0, z, out=dn)                 # dn = gh (1 - z) (1 - n^2)
        multiply(dn, gh, out=dn)
        multiply(dn, 1.0 - n * n, out=dn)
        subtract(h0, n, out=dz)                  # dz = gh (h0 - n) z (1 - z)
        multiply(dz, gh, out=dz)
        multiply(dz, z * (1.0 - z), out=dz)
        multiply(dn, hn, out=dr)                 # dr = dn hn r (1 - r)
        multiply(dr, r * (1.0 - r), out=dr)
        da = dpre.copy()                         # the hidden product's: [dr | dz | dn r]
        multiply(dn, r, out=da[:, 2 * H:])
        dx = matmul(dpre, w_ih.T) if needs[0] else None
        dh0 = None
        if needs[1]:
            dh0 = matmul(da, w_hh.T)
            add(dh0, gh * z, out=dh0)
        dw_ih = matmul(x.T, dpre) if needs[2] else None
        dw_hh = matmul(h0.T, da) if needs[3] else None
        db = dpre.sum(axis=0) if needs[4] else None
        db_hn = da[:, 2 * H:].sum(axis=0) if needs[5] else None
        return dx, dh0, dw_ih, dw_hh, db, db_hn

    return forward, vjp


def rnn_one_step(np, matmul, relu, relu_gradient):
    """``(forward, vjp)`` of ``rnn_cell`` for arrays of ``np`` (float32 or float64, checked by
    the caller), ``x`` (B, I) and ``h0`` (B, H); ``relu(a, out)`` and
    ``relu_gradient(B, H, dtype)`` are ``gated_scans``' (a -0.0 kept, a NaN state passing its
    gradient, as the scan's and PyTorch's).

    >>> import numpy as np
    >>> forward, vjp = rnn_one_step(np, np.matmul, None, None)
    >>> h, saved = forward(np.ones((1, 2)), np.zeros((1, 2)), np.zeros((2, 2)),
    ...                    np.zeros((2, 2)), np.zeros(2), "tanh")
    >>> h.tolist()
    [[0.0, 0.0]]
    """

    def forward(x, h0, w_ih, w_hh, b, nonlinearity):
        a = matmul(x, w_ih)
        np.add(a, b, out=a)
        np.add(a, matmul(h0, w_hh), out=a)
        if nonlinearity == "tanh":
            np.tanh(a, out=a)
        else:
            relu(a, a)
        return a, (a,)

    def vjp(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity, in_place=False):
        """``in_place``: the pre-activations' gradient written over ``g`` (C-ordered, the
        output's shape and dtype), as ``rnn_layer``'s ``vjp_in_place``."""
        (h,) = saved
        B, H = h0.shape
        da = g if in_place else np.empty((B, H), dtype=h.dtype)
        if nonlinearity == "tanh":
            slope = np.multiply(h, h)
            np.subtract(1.0, slope, out=slope)
            np.multiply(g, slope, out=da)
        else:
            relu_gradient(B, H, h.dtype)(np.ascontiguousarray(g), h, da)
        dx = matmul(da, w_ih.T) if needs[0] else None
        dh0 = matmul(da, w_hh.T) if needs[1] else None
        dw_ih = matmul(x.T, da) if needs[2] else None
        dw_hh = matmul(h0.T, da) if needs[3] else None
        db = da.sum(axis=0) if needs[4] else None
        return dx, dh0, dw_ih, dw_hh, db

    return forward, vjp
