"""``lstm_layer`` of one step (what ``xg.nn.LSTMCell`` runs each call), without the scan's
per-call setup (rings, transposed and halved weight copies, per-step iterators): the gates'
pre-activations in two products, the gate pass on the (B, 4H) block in four whole-block
passes, the backward in closed form (the gates' slopes in one block too) with two products for
the input gradients and one for all three weight gradients. Saves ``(seq, [i | f | g | o],
tanh(c'), xh)``, ``xh`` as ``lstm_layer``'s forward; ``lstm_layer``'s vjp of one step runs
``vjp_parts`` too. (Per call at B=32, I=64, H=128, float32: forward 123 -> 94 us, vjp
196 -> 134 us against the gates pass of one block per gate.)
"""
from __future__ import annotations


def lstm_one_step(np, matmul, add_product):
    """``(forward, vjp_parts)`` of a one-step ``lstm_layer`` for arrays of ``np`` (float32 or
    float64, checked by the caller; ``add_product`` as ``scan_products.add_product_for``'s):
    ``forward(x, h0, c0, w_ih, w_hh, b)`` as ``lstm_layer_forward``, ``vjp_parts(g_h, g_c,
    saved, needs, h0, c0, w_ih, w_hh)`` as ``lstm_layer_vjp_parts``.

    >>> import numpy as np
    >>> from xpgrad.backends.numpy.scan_products import add_product_for
    >>> forward, vjp_parts = lstm_one_step(np, np.matmul, add_product_for(np))
    >>> x, h0, c0 = np.ones((2, 1, 3)), np.zeros((2, 4)), np.ones((2, 4))
    >>> seq, saved = forward(x, h0, c0, np.zeros((3, 16)), np.zeros((4, 16)), np.zeros(16))
    >>> seq.shape, seq[1, 0, 0].tolist()        # c_1 = sigmoid(0) * c_0
    ((2, 2, 1, 4), [0.5, 0.5, 0.5, 0.5])
    """
    multiply, add, subtract, tanh = np.multiply, np.add, np.subtract, np.tanh
    rows_of = {}

    def scales(H, dt):
        """Two (4H,) rows: 0.5 on the i, f, o columns and 1 on g's, then 0.5 and 0:
        sigmoid(z) = tanh(z / 2) / 2 + 1 / 2, so that one tanh of the scaled block makes all
        four gates and one multiply-add the sigmoids (the gradient reads them too)."""
        key = (H, dt)
        rows = rows_of.get(key)
        if rows is None:
            half = np.full(4 * H, 0.5, dtype=dt)
            half[2 * H:3 * H] = 1.0
            offset = np.full(4 * H, 0.5, dtype=dt)
            offset[2 * H:3 * H] = 0.0
            rows = rows_of[key] = (half, offset)
        return rows

    def forward(x, h0, c0, w_ih, w_hh, b):
        B, _, I = x.shape
        H = h0.shape[1]
        xh = np.empty((1, B, I + 1 + H), dtype=x.dtype)
        rows = xh[0]
        rows[:, :I] = x[:, 0]
        rows[:, I] = 1.0
        rows[:, I + 1:] = h0
        z = matmul(x[:, 0], w_ih)
        add_product(z, h0, w_hh, False)
        add(z, b, out=z)
        half, offset = scales(H, z.dtype)
        multiply(z, half, out=z)
        tanh(z, out=z)
        multiply(z, half, out=z)
        add(z, offset, out=z)                  # [i | f | g | o], i, f and o sigmoids
        i, f, g, o = np.reshape(z, (B, 4, H)).transpose(1, 0, 2)
        seq = np.empty((2, B, 1, H), dtype=x.dtype)
        c_t, h_t = seq[1, :, 0], seq[0, :, 0]
        multiply(f, c0, out=c_t)
        add(c_t, i * g, out=c_t)
        tc = tanh(c_t)
        multiply(o, tc, out=h_t)
        return seq, (seq, z, tc, xh)

    def vjp_parts(g_h, g_c, saved, needs, h0, c0, w_ih, w_hh):
        _, z, tc, xh = saved
        _, B, IH = xh.shape
        H = h0.shape[1]
        I = IH - 1 - H
        i, f, g, o = np.reshape(z, (B, 4, H)).transpose(1, 0, 2)
        gh = None if g_h is None else g_h[:, 0]
        gc = np.zeros((B, H), dtype=xh.dtype) if g_c is None else np.array(g_c[:, 0])
        # dz = upstream (gc g, gc c0, gc i, gh tanh(c)) times the gates' slopes (s (1 - s) for
        # the sigmoids i, f, o, 1 - g^2 for g)
        dz = np.empty((B, 4, H), dtype=xh.dtype)
        slope = np.reshape(subtract(1.0, z), (B, 4, H))
        multiply(slope, np.reshape(z, (B, 4, H)), out=slope)
        multiply(g, g, out=slope[:, 2])
        subtract(1.0, slope[:, 2], out=slope[:, 2])
        if gh is not None:                            # gc += gh o (1 - tanh(c)^2)
            dtc = gh * o
            multiply(gh, tc, out=dz[:, 3])
            add(gc, dtc, out=gc)
            multiply(dtc, tc, out=dtc)
            multiply(dtc, tc, out=dtc)
            subtract(gc, dtc, out=gc)
        else:
            dz[:, 3] = 0.0
        multiply(gc, g, out=dz[:, 0])
        multiply(gc, c0, out=dz[:, 1])
        multiply(gc, i, out=dz[:, 2])
        multiply(dz, slope, out=dz)
        dz = np.reshape(dz, (B, 4 * H))
        dx = None if not needs[0] else np.reshape(matmul(dz, w_ih.T), (B, 1, I))
        dh = matmul(dz, w_hh.T) if needs[1] else None
        dc = multiply(gc, f) if needs[2] else None
        dw = matmul(xh[0].T, dz) if any(needs[3:]) else None
        return (dx, dh, dc,
                dw[:I] if needs[3] else None, dw[I + 1:] if needs[4] else None,
                dw[I] if needs[5] else None)

    return forward, vjp_parts
