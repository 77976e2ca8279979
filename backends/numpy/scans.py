"""The recurrent scans' fused first-order kernels, for any module with NumPy's API and ``out=``.

The NumPy and CuPy backends register these (``scan_kernels(numpy)``, ``scan_kernels(cupy)``;
Numba has its own fused steps, ``backends/numba/_scans.py``) for the primitives ``lstm_scan``
and ``rnn_scan`` of ``xpgrad/ops/recurrent.py``, whose generic joint rules they are tested
against. The forward writes each step's state straight into the output and saves the gate
activations; the vjp runs the backward recursion once for all inputs.

>>> import numpy as np
>>> kern = scan_kernels(np)["rnn_scan"]
>>> seq, saved = kern.forward(np.ones((2, 3, 4)), np.zeros((2, 4)), np.zeros((4, 4)), "relu")
>>> seq[0, 0].tolist()
[1.0, 1.0, 1.0, 1.0]
"""
from __future__ import annotations

from xpgrad.backend import Kernel


def scan_kernels(np) -> dict:
    """``{"lstm_scan": Kernel, "rnn_scan": Kernel}`` for arrays of the NumPy-API module ``np``.

    The forward writes each step's ``h`` and ``c`` straight into the output (``out=``) and saves
    the gate activations and ``tanh(c)``; the vjp runs the backward recursion once for all
    inputs, writing each step's gradient into place. The same function as the generic rules
    (the tests compare them); float32 and float64 only (None: the generic rule runs).
    """
    def floats(*arrays):
        dt = arrays[0].dtype
        return all(a.dtype == dt for a in arrays) and (dt == np.float32 or dt == np.float64)

    def lstm_forward(xproj, h0, c0, w_hh):
        if not floats(xproj, h0, c0, w_hh):
            return None
        B, T, G = xproj.shape
        H = G // 4
        # sigmoid(z) = (tanh(z / 2) + 1) / 2: halve the i, f, o columns of z, one tanh for all
        half = np.full((G,), 0.5, dtype=xproj.dtype)
        half[2 * H:3 * H] = 1.0
        shift = half.copy()
        shift[2 * H:3 * H] = 0.0
        seq = np.empty((B, T, 2 * H), dtype=xproj.dtype)   # written in place, step by step
        acts, tcs = [], []
        ig = np.empty((B, H), dtype=xproj.dtype)
        h, c = h0, c0
        for t in range(T):
            a = np.matmul(h, w_hh)
            a += xproj[:, t, :]
            a *= half
            np.tanh(a, out=a)
            a *= half
            a += shift                                # [i | f | g | o] activations
            c_t = seq[:, t, H:]
            np.multiply(a[:, H:2 * H], c, out=c_t)
            np.multiply(a[:, :H], a[:, 2 * H:3 * H], out=ig)
            c_t += ig
            tc = np.tanh(c_t)
            h = np.multiply(a[:, 3 * H:], tc, out=seq[:, t, :H])
            c = c_t
            acts.append(a)
            tcs.append(tc)
        return seq, (seq, acts, tcs)

    def lstm_vjp(g, saved, xproj, h0, c0, w_hh):
        seq, acts, tcs = saved
        B, T, H2 = seq.shape          # xproj: unused (may be None)
        H, G = H2 // 2, 2 * H2
        # d act / d z from the activations a: sigmoid a - a^2 (i, f, o), tanh 1 - a^2 (g)
        lin = np.ones((G,), dtype=seq.dtype)
        lin[2 * H:3 * H] = 0.0
        const = 1.0 - lin
        w_t = np.ascontiguousarray(np.swapaxes(w_hh, 0, 1))   # BLAS: faster than the view
        dz_all = np.empty((B, T, G), dtype=seq.dtype)
        gh, gc, tmp = (np.empty((B, H), dtype=seq.dtype) for _ in range(3))
        deriv = np.empty((B, G), dtype=seq.dtype)
        dh = dc = None
        for t in range(T - 1, -1, -1):
            a, tc = acts[t], tcs[t]
            c_prev = c0 if t == 0 else seq[:, t - 1, H:]
            dz = dz_all[:, t, :]
            if dh is None:
                gh[...] = g[:, t, :H]
                gc[...] = g[:, t, H:]
            else:
                np.add(dh, g[:, t, :H], out=gh)
                np.add(dc, g[:, t, H:], out=gc)
            np.multiply(seq[:, t, :H], tc, out=tmp)   # gc += gh * o * (1 - tanh(c)^2),
            np.subtract(a[:, 3 * H:], tmp, out=tmp)  # where o tanh(c)^2 = h tanh(c)
            tmp *= gh
            gc += tmp
            np.multiply(gc, a[:, 2 * H:3 * H], out=dz[:, :H])
            np.multiply(gc, c_prev, out=dz[:, H:2 * H])
            np.multiply(gc, a[:, :H], out=dz[:, 2 * H:3 * H])
            np.multiply(gh, tc, out=dz[:, 3 * H:])
            np.subtract(lin, a, out=deriv)
            deriv *= a
            deriv += const
            dz *= deriv
            dh = np.matmul(dz, w_t)
            dc = np.multiply(gc, a[:, H:2 * H], out=dc)
        h_prev = np.concatenate([h0[:, None, :], seq[:, :-1, :H]], axis=1)
        dw = np.matmul(h_prev.reshape(B * T, H).T, dz_all.reshape(B * T, G))
        return dz_all, dh, dc.copy(), dw

    def lstm_layer_forward(x, h0, c0, w_ih, w_hh, b):
        if not floats(x, h0, c0, w_ih, w_hh, b):
            return None
        B, T, I = x.shape
        xproj = np.matmul(np.reshape(x, (B * T, I)), w_ih)
        xproj += b
        return lstm_forward(np.reshape(xproj, (B, T, w_ih.shape[1])), h0, c0, w_hh)

    def lstm_layer_vjp(g, saved, needs, x, h0, c0, w_ih, w_hh, b):
        B, T, I = x.shape
        G = w_ih.shape[1]
        dz, dh, dc, dw_hh = lstm_vjp(g, saved, None, h0, c0, w_hh)
        dz2 = np.reshape(dz, (B * T, G))
        dx = np.reshape(np.matmul(dz2, w_ih.T), (B, T, I)) if needs[0] else None
        dw_ih = np.matmul(np.reshape(x, (B * T, I)).T, dz2) if needs[3] else None
        return (dx, dh if needs[1] else None, dc if needs[2] else None, dw_ih,
                dw_hh if needs[4] else None, dz2.sum(axis=0) if needs[5] else None)

    def rnn_forward(xproj, h0, w_hh, nonlinearity):
        if not floats(xproj, h0, w_hh):
            return None
        seq = np.empty(xproj.shape, dtype=xproj.dtype)
        h = h0
        for t in range(seq.shape[1]):
            a = np.matmul(h, w_hh)
            a += xproj[:, t, :]
            h = seq[:, t, :]
            if nonlinearity == "tanh":
                np.tanh(a, out=h)
            else:
                np.maximum(a, 0.0, out=h)
        return seq, seq

    def rnn_vjp(g, seq, xproj, h0, w_hh, nonlinearity):
        B, T, H = seq.shape
        w_t = np.ascontiguousarray(np.swapaxes(w_hh, 0, 1))
        da_all = np.empty((B, T, H), dtype=seq.dtype)
        dh = None
        for t in range(T - 1, -1, -1):
            da = da_all[:, t, :]
            h = seq[:, t, :]
            if dh is None:
                da[...] = g[:, t, :]
            else:
                np.add(dh, g[:, t, :], out=da)
            if nonlinearity == "tanh":
                da *= 1.0 - h * h
            else:
                da *= h > 0
            dh = np.matmul(da, w_t)
        h_prev = np.concatenate([h0[:, None, :], seq[:, :-1, :]], axis=1)
        dw = np.matmul(h_prev.reshape(B * T, H).T, da_all.reshape(B * T, H))
        return da_all, dh, dw

    # the LSTM's vjp reads only the shape and dtype of xproj (its largest input)
    return {"lstm_scan": Kernel(lstm_forward, lstm_vjp, saves=(1, 2, 3)),
            "lstm_layer": Kernel(lstm_layer_forward, lstm_layer_vjp, saves=(0, 1, 2, 3, 4),
                                 needs=True),
            "rnn_scan": Kernel(rnn_forward, rnn_vjp)}
