"""Numba loops of the ``rnn_layer`` and ``gru_layer`` backwards (``_layers.py``), steps from the
last: the Elman RNN's writes each step's pre-activation gradient over the output gradient, the
GRU's each step's gate gradients into a ring of a block of steps (time-major), so neither makes a
(B, T, G) gradient of the input projection. Each step's product onto ``dh`` runs by the gemms of
``plans`` (``blas.stepped_plans``) where it has rows; with none, the caller runs it (one step per
call).
"""
from __future__ import annotations

from numba import njit

from . import _gemm
from ._rnn import SCAN_OPTIONS


@njit(**SCAN_OPTIONS)
def rnn_layer_back_steps(plans, t0, t1, g, dh, seq, relu):
    """Steps ``t1 - 1`` down to ``t0``: ``g[:, t]`` <- the pre-activation gradient ``(g[:, t] +
    dh) * act'`` in place, from the step's output ``seq[:, t]``; then ``dh`` <- ``g[:, t] @
    w_hh.T`` (``plans``: ``blas.stepped_plans`` of ``g``'s time-major view)."""
    B, H = dh.shape
    one, zero = dh.dtype.type(1), dh.dtype.type(0)
    for t in range(t1 - 1, t0 - 1, -1):
        for b in range(B):
            gb = g[b, t]
            hb = seq[b, t]
            dhb = dh[b]
            if relu:
                for j in range(H):
                    gb[j] = zero if hb[j] <= zero else gb[j] + dhb[j]   # NaN h passes
            else:
                for j in range(H):
                    h = hb[j]
                    gb[j] = (gb[j] + dhb[j]) * (one - h * h)
        if plans.shape[0]:
            _gemm.step_products(plans, t, one, zero)


@njit(**SCAN_OPTIONS)
def gru_layer_back_steps(plans, t0, t1, base, g, dh, acts, hns, seq, h0, ring, db_hn):
    """Steps ``t1 - 1`` down to ``t0``: ``ring[t - base]`` <- ``[r dn | dr | dz | dn]`` (B, 4H):
    its first 3H columns the hidden product's gradient (its n block first), its last 3H the
    input projection's, in ``w_ih``'s column order; ``db_hn`` += the first block's column sums;
    ``dh`` <- ``gh * z`` (the direct path to ``h_{t-1}``), then ``dh += ring[t - base, :, :3H]
    @ w_t`` (``plans``: ``blas.stepped_plans`` of that view, every row adding onto ``dh``).
    ``acts[t]`` holds the gates ``[r | z | n]``, ``hns[t]`` the hidden n products."""
    B, H = dh.shape
    one, zero = dh.dtype.type(1), dh.dtype.type(0)
    for t in range(t1 - 1, t0 - 1, -1):
        s = t - base
        for b in range(B):
            gates = acts[t, b]                                  # [r | z | n]
            hp = seq[b, t - 1] if t > 0 else h0[b]
            gb, dhb, hnb, row = g[b, t], dh[b], hns[t, b], ring[s, b]
            rdn, dr, dz, dn = row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:]
            for j in range(H):
                gh = gb[j] + dhb[j]
                z, n = gates[H + j], gates[2 * H + j]
                dn[j] = gh * (one - z) * (one - n * n)
                dz[j] = gh * (hp[j] - n) * z * (one - z)
                dhb[j] = gh * z
            for j in range(H):
                r, d = gates[j], dn[j]
                dr[j] = d * hnb[j] * r * (one - r)
                rdn[j] = d * r
        for b in range(B):
            rdn = ring[s, b, :H]
            for j in range(H):
                db_hn[j] += rdn[j]
        if plans.shape[0]:
            _gemm.step_products(plans, s, one, zero)
