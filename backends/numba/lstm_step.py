"""``lstm_layer`` of one step on Numba (what ``xg.nn.LSTMCell`` runs each call), without the
scan's per-call setup (the stacked and transposed weight copies, the one-hot check, the gemm
plans, the pooled buffers): two products for the gates' pre-activations, ``_rnn``'s fused gate
pass and its step back, the input gradients as products with the weights' transposed views and
both weight gradients as one product of the saved ``[x | h0]`` rows. Saves what
``_scans.lstm_layer_forward`` saves, so ``_scans``' vjps hand a one-step ``saved`` here.

>>> import numpy as np
>>> x, h0, c0 = np.ones((2, 1, 3)), np.zeros((2, 4)), np.ones((2, 4))
>>> seq, saved = forward(x, h0, c0, np.zeros((3, 16)), np.zeros((4, 16)), np.zeros(16))
>>> seq.shape, seq[1, 0, 0].tolist()        # c_1 = sigmoid(0) * c_0
((2, 2, 1, 4), [0.5, 0.5, 0.5, 0.5])
"""
from __future__ import annotations

import numpy as np

from .. import blas
from ..numpy.memory import aligned_empty
from . import _rnn
from ._activation_pool import _Activations

#: the gate pass's bias row index (``lstm_cell_forward``'s ``rows``: one row for every step)
_BIAS_ROW = np.zeros((1, 1), np.intp)


def grad_half(part, B, T, H, dt):
    """An output gradient's half for ``lstm_cell_backward``: (B, T, H) C-contiguous, or one
    (1, 1, H) row of zeros for None; read-only either way (a broadcast view), so that the loop
    has one signature for every case and the warmup compiles it."""
    if part is None:
        part = np.zeros((1, 1, H), dtype=dt)
        return np.broadcast_to(part, part.shape)
    return np.ascontiguousarray(np.broadcast_to(part, (B, T, H)))


def forward(x, h0, c0, w_ih, w_hh, b):
    """``lstm_layer_forward`` of a (B, 1, I) input (float32 or float64 throughout, checked by
    the caller): ``(seq, (seq, activations, [x | h0] rows, None))``."""
    B, _, I = x.shape
    H = h0.shape[1]
    dt = x.dtype
    xh = aligned_empty((1, B, I + H), dt)
    rows = xh[0]
    rows[:, :I] = x[:, 0]
    rows[:, I:] = h0
    a = blas.matmul(rows[:, :I], w_ih)
    if not blas.gemm_update(a, rows[:, I:], w_hh, 1.0):
        a += blas.matmul(rows[:, I:], w_hh)
    seq = np.empty((2, B, 1, H), dtype=dt)
    acts = np.empty((1, B, 4 * H), dtype=dt)
    _rnn.lstm_cell_forward(a, np.ascontiguousarray(b).reshape(1, 4 * H), _BIAS_ROW, 0,
                           np.ascontiguousarray(c0), seq, acts, xh)
    return seq, (seq, _Activations(acts), _Activations(xh), None)


def vjp(g_h, g_c, saved, needs, c0, w_ih, w_hh):
    """``lstm_layer``'s input gradients ``(dx, dh0, dc0, dw_ih, dw_hh, db)`` (None where
    ``needs`` has False) from the output gradient's halves ``g_h``, ``g_c`` (B, 1, H) or None,
    for what ``forward`` saved."""
    seq, acts, xh, _ = saved
    acts, xh = acts.acts, xh.acts
    _, B, G = acts.shape
    H, I = G // 4, w_ih.shape[0]
    dt = acts.dtype
    dz = aligned_empty((1, B, G), dt)
    dh = np.zeros((B, H), dtype=dt)
    dc = np.zeros((B, H), dtype=dt)
    db = np.zeros((G,), dtype=dt)
    _rnn.lstm_cell_backward(grad_half(g_h, B, 1, H, dt), grad_half(g_c, B, 1, H, dt), 0, dh, dc,
                            acts, seq, np.ascontiguousarray(c0), dz, db)
    dz = dz[0]
    dw = blas.matmul(xh[0].T, dz) if needs[3] or needs[4] else None
    return (blas.matmul(dz, w_ih.T).reshape(B, 1, I) if needs[0] else None,
            blas.matmul(dz, w_hh.T) if needs[1] else None, dc if needs[2] else None,
            dw[:I] if needs[3] else None, dw[I:] if needs[4] else None, db if needs[5] else None)
