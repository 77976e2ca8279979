"""``lstm_layer`` of one step (what ``xg.nn.LSTMCell`` runs each call), without the scan's
per-call setup (rings, transposed and halved weight copies, per-step iterators): the gates'
pre-activations in two products, the gate pass on the (B, 4H) block, the backward in closed
form with two products for the input gradients and one for all three weight gradients.
Saves what ``lstm_layer``'s forward saves (``seq, gates, cs, xh``), so either vjp reads it.
"""
from __future__ import annotations


def lstm_one_step(np, matmul):
    """``(forward, vjp_parts)`` of a one-step ``lstm_layer`` for arrays of ``np`` (float32 or
    float64, checked by the caller): ``forward(x, h0, c0, w_ih, w_hh, b)`` as
    ``lstm_layer_forward``, ``vjp_parts(g_h, g_c, saved, needs, h0, c0, w_ih, w_hh)`` as
    ``lstm_layer_vjp_parts``.

    >>> import numpy as np
    >>> forward, vjp_parts = lstm_one_step(np, np.matmul)
    >>> x, h0, c0 = np.ones((2, 1, 3)), np.zeros((2, 4)), np.ones((2, 4))
    >>> seq, saved = forward(x, h0, c0, np.zeros((3, 16)), np.zeros((4, 16)), np.zeros(16))
    >>> seq.shape, seq[1, 0, 0].tolist()        # c_1 = sigmoid(0) * c_0
    ((2, 2, 1, 4), [0.5, 0.5, 0.5, 0.5])
    """
    multiply, add, subtract, tanh = np.multiply, np.add, np.subtract, np.tanh

    def forward(x, h0, c0, w_ih, w_hh, b):
        B, _, I = x.shape
        H = h0.shape[1]
        xh = np.empty((1, B, I + 1 + H), dtype=x.dtype)
        rows = xh[0]
        rows[:, :I] = x[:, 0]
        rows[:, I] = 1.0
        rows[:, I + 1:] = h0
        z = matmul(x[:, 0], w_ih)
        add(z, matmul(h0, w_hh), out=z)
        add(z, b, out=z)
        gates = np.empty((1, 4, B, H), dtype=x.dtype)
        i, f, g, o = gates[0]
        blocks = np.reshape(z, (B, 4, H))
        # sigmoid(z) = tanh(z / 2) / 2 + 1 / 2: i, f and o from one tanh
        sigmoids = gates[0, :2]
        multiply(np.swapaxes(blocks[:, :2], 0, 1), 0.5, out=sigmoids)
        multiply(blocks[:, 3], 0.5, out=o)
        tanh(sigmoids, out=sigmoids)
        tanh(o, out=o)
        multiply(sigmoids, 0.5, out=sigmoids)
        add(sigmoids, 0.5, out=sigmoids)
        multiply(o, 0.5, out=o)
        add(o, 0.5, out=o)
        tanh(blocks[:, 2], out=g)
        seq = np.empty((2, B, 1, H), dtype=x.dtype)
        c_t, h_t = seq[1, :, 0], seq[0, :, 0]
        multiply(f, c0, out=c_t)
        add(c_t, i * g, out=c_t)
        multiply(o, tanh(c_t), out=h_t)
        cs = c_t[None].copy()
        return seq, (seq, gates, cs, xh)

    def vjp_parts(g_h, g_c, saved, needs, h0, c0, w_ih, w_hh):
        _, gates, cs, xh = saved
        _, B, IH = xh.shape
        H = h0.shape[1]
        I = IH - 1 - H
        i, f, g, o = gates[0]
        tc = tanh(cs[0])
        gh = None if g_h is None else g_h[:, 0]
        gc = np.zeros((B, H), dtype=xh.dtype) if g_c is None else np.array(g_c[:, 0])
        dz = np.empty((B, 4, H), dtype=xh.dtype)
        if gh is not None:                            # gc += gh o (1 - tanh(c)^2)
            dtc = gh * o
            add(gc, dtc, out=gc)
            multiply(dtc, tc, out=dtc)
            multiply(dtc, tc, out=dtc)
            subtract(gc, dtc, out=gc)
            multiply(gh, tc, out=dz[:, 3])
            multiply(dz[:, 3], o * (1.0 - o), out=dz[:, 3])
        else:
            dz[:, 3] = 0.0
        multiply(gc, g, out=dz[:, 0])
        multiply(dz[:, 0], i * (1.0 - i), out=dz[:, 0])
        multiply(gc, c0, out=dz[:, 1])
        multiply(dz[:, 1], f * (1.0 - f), out=dz[:, 1])
        multiply(gc, i, out=dz[:, 2])
        multiply(dz[:, 2], 1.0 - g * g, out=dz[:, 2])
        dz = np.reshape(dz, (B, 4 * H))
        dx = None if not needs[0] else np.reshape(matmul(dz, w_ih.T), (B, 1, I))
        dh = matmul(dz, w_hh.T) if needs[1] else None
        dc = multiply(gc, f) if needs[2] else None
        dw = matmul(xh[0].T, dz) if any(needs[3:]) else None
        return (dx, dh, dc,
                dw[:I] if needs[3] else None, dw[I + 1:] if needs[4] else None,
                dw[I] if needs[5] else None)

    return forward, vjp_parts
