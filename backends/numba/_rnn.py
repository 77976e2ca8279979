"""Numba loops of the recurrent scans: one fused pass per time step, forward and backward.

The scans themselves (``_scans.py``) alternate a BLAS product with one call of these per step:
forward, everything after the step's product ``a`` (the input projection or the bias added, the
gate nonlinearities, the state update, the saved activations written into preallocated
buffers); backward, everything before ``dh_{t-1} = dz_t @ w_hh.T``. The nonlinearities are
``_math``'s ``sigmoid`` and ``tanh`` (no C library calls), so each row's loop compiles to SIMD
code.

Every array is C-contiguous and indexed by the whole ``(b, t)`` prefix, so each row a loop
reads is a contiguous 1-D array to Numba; ``acts`` (the saved gate activations) and ``dz_tm``
(the gate gradients) are time-major: ``acts[t]`` is one step's block. Gates are in PyTorch's
order (i, f, g, o).
"""
from __future__ import annotations

from numba import njit

from . import _gemm
from ._math import LOOP_OPTIONS, sigmoid, tanh

#: the scans' whole loops (``*_steps``): no Python object inside, so other threads run meanwhile
#: as they did while a step's product ran from Python
SCAN_OPTIONS = {**LOOP_OPTIONS, "nogil": True}


@njit(**LOOP_OPTIONS)
def lstm_cell_forward(a, add, rows, t, c0, seq, acts, xh):
    """Step ``t`` forward from the product ``a`` (B, 4H) plus row ``rows[t, b]`` of ``add``
    (., 4H) for batch row ``b``: ``lstm_scan``'s input projection (B * T rows), or
    ``lstm_layer``'s bias (one row; ``rows`` (1, 1)), or for one-hot inputs the rows of
    ``w_ih`` plus the bias, ``rows`` the steps' hot columns (T, B).
    ``seq[0, :, t]`` <- ``h_t`` and ``seq[1, :, t]`` <- ``c_t`` (``seq``: the (2, B, T, H)
    states); ``acts[t]`` <- the activations ``[i | f | g | o]``;
    ``xh[t + 1, :, I:]`` <- ``h_t`` when ``xh`` (T, B, I + H) has that step (``lstm_layer``: the
    next product's operand; ``lstm_scan`` passes an empty one). ``c_{t-1}`` is
    ``seq[1, :, t-1]``, or ``c0`` at ``t = 0``.
    """
    B, G = a.shape
    H = G // 4
    I = xh.shape[2] - H
    for b in range(B):
        ab = a[b]
        xb = add[rows[t if rows.shape[0] > 1 else 0, b if rows.shape[1] > 1 else 0]]
        cp = seq[1, b, t - 1] if t > 0 else c0[b]
        hb = seq[0, b, t]
        cb = seq[1, b, t]
        ib = acts[t, b, :H]
        fb = acts[t, b, H:2 * H]
        gb = acts[t, b, 2 * H:3 * H]
        ob = acts[t, b, 3 * H:]
        # loops writing few arrays each: LLVM vectorizes a loop only while the runtime checks
        # that its arrays do not overlap stay few (one loop doing all was scalar; c_t and h_t
        # in two loops: the pass alone 1-10% faster than in one, batch 64, hidden 128)
        for j in range(H):
            ib[j] = sigmoid(ab[j] + xb[j])
            fb[j] = sigmoid(ab[H + j] + xb[H + j])
            gb[j] = tanh(ab[2 * H + j] + xb[2 * H + j])
            ob[j] = sigmoid(ab[3 * H + j] + xb[3 * H + j])
        for j in range(H):
            cb[j] = fb[j] * cp[j] + ib[j] * gb[j]
        if t + 1 < xh.shape[0]:
            # h_t into both places in one loop: the pass 7-9% faster than a copy loop after
            hn = xh[t + 1, b, I:]
            for j in range(H):
                h = ob[j] * tanh(cb[j])
                hb[j] = h
                hn[j] = h
        else:
            for j in range(H):
                hb[j] = ob[j] * tanh(cb[j])


@njit(**LOOP_OPTIONS)
def lstm_cell_backward(g_hs, g_cs, t, dh, dc, acts, seq, c0, dz_tm, db):
    """Step ``t`` back: ``dz_tm[t]`` (time-major (T, B, 4H)) <- the gate gradients, also summed
    over the batch into ``db``; ``dc`` <- the gradient for ``c_{t-1}`` (in place). ``g_hs``,
    ``g_cs``: the output gradients of ``h`` and ``c``, each (B, T, H), or one (1, 1, H) row of
    zeros where that half has none; ``dh``/``dc``: what flows back from step t+1 (zeros at the
    last step). ``tanh(c_t)`` is recomputed from ``seq`` (cheaper than storing and reading it
    back), once per element.
    """
    B, H = dh.shape
    one = dh.dtype.type(1)
    for b in range(B):
        g_h = g_hs[b if g_hs.shape[0] > 1 else 0, t if g_hs.shape[1] > 1 else 0]
        g_c = g_cs[b if g_cs.shape[0] > 1 else 0, t if g_cs.shape[1] > 1 else 0]
        ib = acts[t, b, :H]
        fb = acts[t, b, H:2 * H]
        gb = acts[t, b, 2 * H:3 * H]
        ob = acts[t, b, 3 * H:]
        cb = seq[1, b, t]
        cp = seq[1, b, t - 1] if t > 0 else c0[b]
        dhb = dh[b]
        dcb = dc[b]
        dzb = dz_tm[t, b]
        dzi = dzb[:H]
        dzf = dzb[H:2 * H]
        dzg = dzb[2 * H:3 * H]
        dzo = dzb[3 * H:]
        # few arrays written per loop (see lstm_cell_forward): the first computes tanh(c_t)
        # once and leaves the cell gradient in dc's row, which the others read; the last
        # scales it. One loop writing dz's i, f, g blocks and dc: the pass alone 4-30% slower
        # than with these four (batch 64, hidden 128; shared machine)
        for j in range(H):
            o, tc = ob[j], tanh(cb[j])
            gh = g_h[j] + dhb[j]
            dzo[j] = gh * tc * o * (one - o)
            dcb[j] = g_c[j] + dcb[j] + gh * o * (one - tc * tc)
        for j in range(H):
            dzi[j] = dcb[j] * gb[j] * ib[j] * (one - ib[j])
        for j in range(H):
            dzg[j] = dcb[j] * ib[j] * (one - gb[j] * gb[j])
        for j in range(H):
            gc, f = dcb[j], fb[j]
            dzf[j] = gc * cp[j] * f * (one - f)
            dcb[j] = gc * f
    # the bias gradient: the step's rows of dz summed four at a time, so db is read and written
    # once per four rows (a row at a time, in the loop above: the backward 0.1-0.2 ms slower,
    # batch 64, hidden 128, 50 steps)
    G = 4 * H
    rows = dz_tm[t]
    b = 0
    while b + 4 <= B:
        r0, r1, r2, r3 = rows[b], rows[b + 1], rows[b + 2], rows[b + 3]
        for j in range(G):
            db[j] += (r0[j] + r1[j]) + (r2[j] + r3[j])
        b += 4
    while b < B:
        r0 = rows[b]
        for j in range(G):
            db[j] += r0[j]
        b += 1


@njit(**SCAN_OPTIONS)
def lstm_forward_steps(plans, ready, a, add, rows, c0, seq, acts, xh):
    """``lstm_cell_forward`` for every step ``t``, each after its product by the gemms of
    ``plans``, step ``t - ready``'s of the plans' stack: the forward loop without a Python call
    per step. ``lstm_layer``: ``ready = 0``, ``a = xh[t] @ w`` (``blas.stepped_plans(xh, w, a,
    "columns")``); ``lstm_scan``: ``ready = 1``, step 0's product ``h0 @ w_hh`` already in ``a``,
    the stack the time-major hidden states (``h_{t-1} @ w_hh``)."""
    one, zero = a.dtype.type(1), a.dtype.type(0)
    for t in range(seq.shape[2]):
        if t >= ready:
            _gemm.step_products(plans, t - ready, one, zero)
        lstm_cell_forward(a, add, rows, t, c0, seq, acts, xh)


@njit(**SCAN_OPTIONS)
def lstm_backward_steps(plans, need_dh0, g_hs, g_cs, dh, dc, acts, seq, c0, dz_tm, db):
    """``lstm_cell_backward`` for every step ``t`` from the last, each followed by its product
    ``dh = dz_tm[t] @ w_hh.T`` by the gemms of ``plans`` (``blas.stepped_plans(dz_tm, w_t, dh,
    "depth")``; at ``t = 0`` only if ``need_dh0``)."""
    one, zero = dh.dtype.type(1), dh.dtype.type(0)
    for t in range(acts.shape[0] - 1, -1, -1):
        lstm_cell_backward(g_hs, g_cs, t, dh, dc, acts, seq, c0, dz_tm, db)
        if t or need_dh0:
            _gemm.step_products(plans, t, one, zero)


@njit(**LOOP_OPTIONS)
def rnn_cell_forward(a, xproj, t0, t, seq, relu):
    """Step ``t`` forward: ``seq[:, t] <- act(a + xproj[:, t - t0])``, act relu or tanh
    (``xproj``: the input projection of steps ``t0`` on)."""
    B, H = a.shape
    zero = a.dtype.type(0)
    for b in range(B):
        ab = a[b]
        xb = xproj[b, t - t0]
        sb = seq[b, t]
        if relu:
            for j in range(H):
                z = ab[j] + xb[j]
                sb[j] = zero if z < zero else z     # NaN passes, as in maximum(z, 0)
        else:
            for j in range(H):
                sb[j] = tanh(ab[j] + xb[j])


@njit(**LOOP_OPTIONS)
def rnn_cell_backward(g, t, dh, seq, relu, da, da_all):
    """Step ``t`` back: ``da`` (B, H) and ``da_all[:, t]`` <- the pre-activation gradient
    ``(g[:, t] + dh) * act'``, from the step's output ``h_t = seq[:, t]``."""
    B, H = dh.shape
    zero = dh.dtype.type(0)
    one = dh.dtype.type(1)
    for b in range(B):
        gb = g[b, t]
        hb = seq[b, t]
        dhb = dh[b]
        dab = da[b]
        daab = da_all[b, t]
        if relu:
            for j in range(H):
                d = zero if hb[j] <= zero else gb[j] + dhb[j]   # NaN h passes, as PyTorch's
                dab[j] = d
                daab[j] = d
        else:
            for j in range(H):
                h = hb[j]
                d = (gb[j] + dhb[j]) * (one - h * h)
                dab[j] = d
                daab[j] = d


@njit(**LOOP_OPTIONS)
def gru_cell_forward(a, xproj, t0, b_hn, t, h0, seq, acts, hns):
    """Step ``t`` forward from the hidden product ``a = h_{t-1} @ w_hh`` (B, 3H) and the input
    projection's row ``xproj[:, t - t0]`` (``xproj``: steps ``t0`` on):
    ``acts[t]`` <- the gates ``[r | z | n]``, ``hns[t]`` <- ``a_n + b_hn``, ``seq[:, t]`` <-
    ``h_t = n + z (h_{t-1} - n)``; ``h_{t-1}`` is ``seq[:, t-1]``, or ``h0`` at ``t = 0``."""
    B, G = a.shape
    H = G // 3
    for b in range(B):
        ab = a[b]
        xb = xproj[b, t - t0]
        hp = seq[b, t - 1] if t > 0 else h0[b]
        hb = seq[b, t]
        rb = acts[t, b, :H]
        zb = acts[t, b, H:2 * H]
        nb = acts[t, b, 2 * H:]
        hnb = hns[t, b]
        for j in range(H):
            rb[j] = sigmoid(ab[j] + xb[j])
            zb[j] = sigmoid(ab[H + j] + xb[H + j])
            hnb[j] = ab[2 * H + j] + b_hn[j]
        for j in range(H):
            n = tanh(xb[2 * H + j] + rb[j] * hnb[j])
            nb[j] = n
            hb[j] = n + zb[j] * (hp[j] - n)


@njit(**LOOP_OPTIONS)
def gru_cell_backward(g, t, dh, acts, hns, seq, h0, dx_all, da_tm, db_hn):
    """Step ``t`` back. In: ``dh`` (B, H), the gradient flowing from step t+1 (zeros at the
    last step). Out: ``dx_all[:, t]`` <- the input projection's gradient ``[dr | dz | dn]``;
    ``da_tm[t]`` (time-major) <- the hidden product's, ``[dr | dz | r dn]``, also summed into
    ``db_hn`` (its n block); ``dh`` <- ``gh * z``, the direct path to ``h_{t-1}`` (the caller
    adds ``da_tm[t] @ w_hh.T``)."""
    B, H = dh.shape
    one = dh.dtype.type(1)
    for b in range(B):
        gb = g[b, t]
        dhb = dh[b]
        hp = seq[b, t - 1] if t > 0 else h0[b]
        rb = acts[t, b, :H]
        zb = acts[t, b, H:2 * H]
        nb = acts[t, b, 2 * H:]
        hnb = hns[t, b]
        dxb = dx_all[b, t]
        dab = da_tm[t, b]
        for j in range(H):
            gh = gb[j] + dhb[j]
            z, n, r = zb[j], nb[j], rb[j]
            dn = gh * (one - z) * (one - n * n)
            dxb[H + j] = gh * (hp[j] - n) * z * (one - z)
            dxb[2 * H + j] = dn
            dxb[j] = dn * hnb[j] * r * (one - r)
            dhb[j] = gh * z
        for j in range(2 * H):
            dab[j] = dxb[j]
        for j in range(H):
            d = dxb[2 * H + j] * rb[j]
            dab[2 * H + j] = d
            db_hn[j] += d


# -- the Elman RNN's and GRU's whole scans: each step's product by the gemm called from the loop
# (``blas.stepped_plans``), step 0's forward product ``h0 @ w_hh`` already in ``a``
@njit(**SCAN_OPTIONS)
def rnn_forward_steps(plans, t0, t1, a, xproj, seq, relu):
    """``rnn_cell_forward`` for steps ``t0 .. t1 - 1`` (``xproj``: their input projection),
    from step 1 on after its product ``a = h_{t-1} @ w_hh`` by the gemms of ``plans``
    (``blas.stepped_plans(states, w_hh, a, "columns")``, ``states`` the time-major view of
    ``seq``; step ``t - 1``'s)."""
    one, zero = a.dtype.type(1), a.dtype.type(0)
    for t in range(t0, t1):
        if t:
            _gemm.step_products(plans, t - 1, one, zero)
        rnn_cell_forward(a, xproj, t0, t, seq, relu)


@njit(**SCAN_OPTIONS)
def rnn_backward_steps(plans, g, dh, seq, relu, da, da_all):
    """``rnn_cell_backward`` for every step from the last, each followed by ``dh = da @
    w_hh.T`` by the gemms of ``plans`` (``blas.stepped_plans(da[None], w_t, dh, "depth")``)."""
    one, zero = dh.dtype.type(1), dh.dtype.type(0)
    for t in range(seq.shape[1] - 1, -1, -1):
        rnn_cell_backward(g, t, dh, seq, relu, da, da_all)
        _gemm.step_products(plans, 0, one, zero)


@njit(**SCAN_OPTIONS)
def gru_forward_steps(plans, t0, t1, a, xproj, b_hn, h0, seq, acts, hns):
    """``gru_cell_forward`` for steps ``t0 .. t1 - 1`` (``xproj``: their input projection),
    from step 1 on after its product ``a = h_{t-1} @ w_hh`` by the gemms of ``plans`` (as
    ``rnn_forward_steps``')."""
    one, zero = a.dtype.type(1), a.dtype.type(0)
    for t in range(t0, t1):
        if t:
            _gemm.step_products(plans, t - 1, one, zero)
        gru_cell_forward(a, xproj, t0, b_hn, t, h0, seq, acts, hns)


@njit(**SCAN_OPTIONS)
def gru_backward_steps(plans, g, dh, acts, hns, seq, h0, dx_all, da_tm, db_hn):
    """``gru_cell_backward`` for every step from the last, each followed by ``dh += da_tm[t] @
    w_hh.T`` by the gemms of ``plans`` (``blas.stepped_plans(da_tm, w_t, dh, "depth")``, every
    row adding onto ``dh``: the cell's direct path to ``h_{t-1}``)."""
    one, zero = dh.dtype.type(1), dh.dtype.type(0)
    for t in range(seq.shape[1] - 1, -1, -1):
        gru_cell_backward(g, t, dh, acts, hns, seq, h0, dx_all, da_tm, db_hn)
        _gemm.step_products(plans, t, one, zero)
