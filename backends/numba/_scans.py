"""Kernels (forward + vjp) of the recurrent scans ``lstm_scan``, ``lstm_layer``, ``rnn_scan`` and
``gru_scan`` on Numba.

Each step is one BLAS product (``blas.matmul``, MKL's or NumPy's, into a preallocated buffer)
and one fused Numba pass (``_rnn.py``) over the step's rows. Where a direct gemm is in use the
whole scan is one compiled loop calling it (``_gemm.py``), and the loop splits each product in
blocks where the BLAS runs those faster (``blas.stepped_plans``). The forward writes ``h_t``/``c_t``
straight into the output and the gate activations into time-major buffers that the vjp reads;
the vjp writes each step's gate gradients into a time-major buffer, whose block is the next
product's operand.
The weight gradient is one product over all (batch, step) rows. ``lstm_layer`` also fuses the
input projection: its step's product is ``[x_t | h_{t-1}] @ [w_ih; w_hh]`` (the forward keeps
the rows ``[x_t | h_{t-1}]`` of all steps), the bias joins in the gate pass, and one product
gives both weight gradients; one-hot inputs skip their part of the products (the gate pass
adds the hot row of ``w_ih``, whose gradient is a row scatter-add). The generic rules of
``xpgrad/ops/recurrent.py`` are the reference (tests/test_kernel_protocol.py); inputs other than
float32/float64 of one dtype decline (None), and the generic rule runs.

>>> import numpy as np
>>> x, h0, w = np.ones((2, 3, 4)), np.zeros((2, 4)), np.zeros((4, 4))
>>> seq, saved = KERNELS["rnn_scan"].forward(x, h0, w, "relu")
>>> seq[0, 0].tolist()
[1.0, 1.0, 1.0, 1.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .. import blas
from ..numpy.memory import aligned_copy, aligned_empty
from ..numpy.scans import lstm_halves
from . import _copies, _rnn, _scatter, lstm_step
from ._activation_pool import _Activations

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _floats(*arrays):
    dt = arrays[0].dtype
    return dt in _FLOATS and all(a.dtype == dt for a in arrays)


def _c(a):
    return np.ascontiguousarray(a)


def _transposed(w):
    """``w.T`` as a new aligned C-ordered array: the backward products' operand (BLAS runs
    a transposed view ~30% slower here), copied by a Numba loop (``_copies``)."""
    if w.T.flags.c_contiguous:
        return aligned_copy(w.T)
    out = aligned_empty(w.shape[::-1], w.dtype)
    _copies.transpose(_c(w), out)
    return out


def _weight_grad(h0, seq_h, dz_all):
    """``sum_t h_{t-1}^T dz_t`` as one product: ``h_prev`` (B*T, H) ^T @ ``dz_all`` (B*T, G)."""
    B, T, G = dz_all.shape
    H = h0.shape[1]
    h_prev = np.empty((B, T, H), dtype=dz_all.dtype)
    h_prev[:, 0] = h0
    h_prev[:, 1:] = seq_h[:, :-1]
    return blas.matmul(h_prev.reshape(B * T, H).T, dz_all.reshape(B * T, G))


# -- LSTM: lstm_scan (a given input projection) and lstm_layer (the projection fused) ----------
def _recurrent_product(h0, states, w, out):
    """A function of ``t`` writing ``h_{t-1} @ w`` into ``out``: ``h0`` at ``t = 0``, then
    ``states[t - 1]`` (``states``: the hidden states, time-major, written as the scan goes)."""
    later = blas.stepped_matmul(states, w, out)

    def product(t):
        if t:
            later(t - 1)
        else:
            blas.matmul(h0, w, out=out)

    return product


def _later_steps(h0, states, w, out):
    """The plans of a compiled loop's products ``h_{t-1} @ w -> out`` from step 1 on,
    ``blas.stepped_plans(states, w, out, "columns")`` (``states``: the hidden states,
    time-major, written as the scan goes), with step 0's ``h0 @ w`` written into ``out``;
    ``(None, ())``, nothing written, where no gemm takes them (each step from Python)."""
    if not len(states):
        return None, ()
    plans, held = blas.stepped_plans(states, w, out, "columns")
    if plans is not None:
        blas.matmul(h0, w, out=out)
    return plans, held


def _lstm_steps_back(g_h, g_c, acts, seq, c0, w_hh, need_dh0):
    """The backward recursion for the output gradients ``g_h`` and ``g_c`` (B, T, H; None:
    zeros): ``(dz_tm, dh0, dc0, db)``, ``dz_tm`` (T, B, 4H) time-major."""
    T, B, G = acts.shape
    H = G // 4
    dt = acts.dtype
    g_h, g_c = lstm_step.grad_half(g_h, B, T, H, dt), lstm_step.grad_half(g_c, B, T, H, dt)
    c0 = _c(c0)
    w_t = _transposed(w_hh)
    dz_tm = aligned_empty((T, B, G), dt)
    dh = np.zeros((B, H), dtype=dt)
    dc = np.zeros((B, H), dtype=dt)
    db = np.zeros((G,), dtype=dt)
    plans, held = blas.stepped_plans(dz_tm, w_t, dh, "depth")
    if plans is not None:
        _rnn.lstm_backward_steps(plans, need_dh0, g_h, g_c, dh, dc, acts, seq, c0, dz_tm, db)
        del held                    # the block copies the plans' addresses point into
        return dz_tm, dh, dc, db
    product = blas.stepped_matmul(dz_tm, w_t, dh)
    for t in range(T - 1, -1, -1):
        _rnn.lstm_cell_backward(g_h, g_c, t, dh, dc, acts, seq, c0, dz_tm, db)
        if t or need_dh0:
            product(t)
    return dz_tm, dh, dc, db


def lstm_forward(xproj, h0, c0, w_hh):
    if not _floats(xproj, h0, c0, w_hh):
        return None
    xproj, c0, w_hh = _c(xproj), _c(c0), _c(w_hh)
    B, T, G = xproj.shape
    H = G // 4
    dt = xproj.dtype
    seq = np.empty((2, B, T, H), dtype=dt)
    saved = _Activations.take((T, B, G), dt)
    no_xh = np.empty((0, B, H), dtype=dt)
    a = np.empty((B, G), dtype=dt)
    table = xproj.reshape(B * T, G)
    rows = np.arange(B * T).reshape(B, T).T.copy()      # step t of batch row b: xproj[b, t]
    states = np.swapaxes(seq[0], 0, 1)
    plans, held = _later_steps(h0, states, w_hh, a)
    if plans is not None:
        _rnn.lstm_forward_steps(plans, 1, a, table, rows, c0, seq, saved.acts, no_xh)
        del held                    # the block copies the plans' addresses point into
        return seq, (seq, saved)
    product = _recurrent_product(h0, states, w_hh, a)
    for t in range(T):
        product(t)
        _rnn.lstm_cell_forward(a, table, rows, t, c0, seq, saved.acts, no_xh)
    return seq, (seq, saved)


def _full_halves(g, seq):
    """``(g_h, g_c)`` of a whole output gradient (broadcast to the states' shape)."""
    g = np.broadcast_to(g, seq.shape)
    return g[0], g[1]


def lstm_vjp(g, saved, xproj, h0, c0, w_hh):
    return _lstm_vjp(*_full_halves(g, saved[0]), saved, h0, c0, w_hh)


def lstm_vjp_sliced(key, values, saved, xproj, h0, c0, w_hh):
    halves = lstm_halves(key, values)
    return None if halves is None else _lstm_vjp(*halves, saved, h0, c0, w_hh)


def _lstm_vjp(g_h, g_c, saved, h0, c0, w_hh):
    seq, saved = saved
    dz_tm, dh, dc, _ = _lstm_steps_back(g_h, g_c, saved.acts, seq, c0, w_hh, True)
    T, B, G = dz_tm.shape
    H = G // 4
    h_prev = np.empty((T, B, H), dtype=dz_tm.dtype)
    h_prev[0] = h0
    h_prev[1:] = np.swapaxes(seq[0, :, :-1], 0, 1)
    dw = blas.matmul(h_prev.reshape(T * B, H).T, dz_tm.reshape(T * B, G))
    return _c(np.swapaxes(dz_tm, 0, 1)), dh, dc, dw


def lstm_layer_forward(x, h0, c0, w_ih, w_hh, b):
    """Each step one product ``[x_t | h_{t-1}] @ [w_ih; w_hh]`` from the time-major buffer
    ``xh`` (T, B, I + H), which the vjp reads again for both weight gradients at once.
    One-hot inputs (every ``x[b, t]`` one 1, zeros elsewhere: a character model's) skip
    their product: ``xh`` holds ``h_{t-1}`` alone and the gate pass adds the hot row of
    ``w_ih``. One step (``xg.nn.LSTMCell``'s call) runs ``lstm_step``, with no such setup."""
    if not _floats(x, h0, c0, w_ih, w_hh, b):
        return None
    if x.shape[1] == 1:
        return lstm_step.forward(x, h0, c0, w_ih, w_hh, b)
    x, c0 = _c(x), _c(c0)
    B, T, I = x.shape
    H = h0.shape[1]
    G = 4 * H
    dt = x.dtype
    ids = _one_hot_ids(x)
    if ids is not None and not np.isfinite(w_ih).all():
        ids = None      # a product spreads an inf or NaN of w_ih to every row (0 * inf is NaN)
    if ids is None:
        w, table, rows = _stacked(w_ih, w_hh), _c(b).reshape(1, G), np.zeros((1, 1), np.intp)
    else:
        w, table, rows = _stacked(w_hh), np.add(w_ih, b, out=np.empty((I, G), dt)), ids
    seq = np.empty((2, B, T, H), dtype=dt)
    saved, saved_xh = _Activations.take((T, B, G), dt), _Activations.take((T, B, len(w)), dt)
    xh = saved_xh.acts
    if ids is None:
        _copies.to_time_major(x, xh)
    xh[0, :, len(w) - H:] = h0
    a = np.empty((B, G), dtype=dt)
    plans, held = blas.stepped_plans(xh, w, a, "columns")
    if plans is not None:
        _rnn.lstm_forward_steps(plans, 0, a, table, rows, c0, seq, saved.acts, xh)
        del held                    # the block copies the plans' addresses point into
        return seq, (seq, saved, saved_xh, ids)
    product = blas.stepped_matmul(xh, w, a)
    for t in range(T):
        product(t)
        _rnn.lstm_cell_forward(a, table, rows, t, c0, seq, saved.acts, xh)
    return seq, (seq, saved, saved_xh, ids)


def _one_hot_ids(x):
    """The hot column of each step's rows (T, B), where every row of ``x`` is one-hot; else
    None."""
    B, T, I = x.shape
    ids = np.empty((T, B), dtype=np.intp)
    return ids if I and B * T and _copies.one_hot_ids(x, ids) else None


def _stacked(*weights):
    """``[w_0; w_1; ...]`` as one aligned row-major array, whatever the weights' layout:
    BLAS runs a column-major one at ~75% speed here."""
    out = aligned_empty((sum(len(w) for w in weights), weights[0].shape[1]), weights[0].dtype)
    start = 0
    for w in weights:
        out[start:start + len(w)] = w
        start += len(w)
    return out


def lstm_layer_vjp(g, saved, needs, x, h0, c0, w_ih, w_hh, b):
    return _lstm_layer_vjp(*_full_halves(g, saved[0]), saved, needs, c0, w_ih, w_hh)


def lstm_layer_vjp_sliced(key, values, saved, needs, x, h0, c0, w_ih, w_hh, b):
    halves = lstm_halves(key, values)
    return None if halves is None else _lstm_layer_vjp(*halves, saved, needs, c0, w_ih, w_hh)


def _lstm_layer_vjp(g_h, g_c, saved, needs, c0, w_ih, w_hh):
    if saved[0].shape[2] == 1 and saved[3] is None:
        return lstm_step.vjp(g_h, g_c, saved, needs, c0, w_ih, w_hh)
    seq, saved, saved_xh, ids = saved
    dz_tm, dh, dc, db = _lstm_steps_back(g_h, g_c, saved.acts, seq, c0, w_hh, needs[1])
    xh = saved_xh.acts
    T, B, G = dz_tm.shape
    I = w_ih.shape[0]
    dz2 = dz_tm.reshape(T * B, G)
    dw_ih, dw_hh = _layer_weight_grads(xh, dz2, ids, I, needs[3], needs[4])
    dx = None
    if needs[0]:
        dx = _c(np.swapaxes(blas.matmul(dz2, _c(w_ih.T)).reshape(T, B, I), 0, 1))
    return (dx, dh if needs[1] else None, dc if needs[2] else None,
            dw_ih if needs[3] else None, dw_hh if needs[4] else None, db if needs[5] else None)


def _layer_weight_grads(xh, dz2, ids, I, need_ih, need_hh):
    """``(dw_ih, dw_hh)`` from the gate gradients ``dz2`` (T * B, 4H), None where not needed:
    one product of ``xh``'s rows ``[x_t | h_{t-1}]``, or for one-hot inputs (``ids``) the
    product of its ``h_{t-1}`` and each row's gradient added into its hot column's row."""
    rows = xh.reshape(len(dz2), xh.shape[2])
    if ids is None:
        dw = blas.matmul(rows.T, dz2) if need_ih or need_hh else None
        return (None, None) if dw is None else (dw[:I], dw[I:])
    dw_ih = None
    if need_ih:
        dw_ih = np.zeros((I, dz2.shape[1]), dtype=dz2.dtype)
        _scatter.index_add_rows(dw_ih, ids.reshape(-1), dz2)
        if not np.isfinite(dw_ih).all():
            # an inf or NaN gradient (every row lands in some hot row): the product, which
            # spreads it to the other rows too (0 * inf), as the dense way does
            x_rows = np.zeros((len(dz2), I), dtype=dz2.dtype)     # the inputs, time-major
            x_rows[np.arange(len(dz2)), ids.reshape(-1)] = 1
            dw_ih = blas.matmul(x_rows.T, dz2)
    return dw_ih, blas.matmul(rows.T, dz2) if need_hh else None


# -- Elman RNN ----------------------------------------------------------------------------------
def rnn_forward(xproj, h0, w_hh, nonlinearity):
    if not _floats(xproj, h0, w_hh):
        return None
    xproj = _c(xproj)
    seq = rnn_steps([(0, xproj.shape[1], xproj)], xproj.shape, h0, w_hh, nonlinearity)
    return seq, seq


def rnn_steps(blocks, shape, h0, w_hh, nonlinearity):
    """The states (B, T, H) of the scan whose input projection comes in ``blocks``: ``(t0, t1,
    xproj)``, ``xproj`` (B, t1 - t0, H) C-ordered the projection of steps ``t0 .. t1 - 1``, in
    order (each block is read before the next is asked for: ``rnn_layer``'s share a buffer)."""
    B, T, H = shape
    dt = w_hh.dtype
    w_hh = _c(w_hh)
    seq = np.empty((B, T, H), dtype=dt)
    a = np.empty((B, H), dtype=dt)
    relu = nonlinearity == "relu"
    states = np.swapaxes(seq, 0, 1)
    plans, held = _later_steps(h0, states, w_hh, a)
    product = None if plans is not None else _recurrent_product(h0, states, w_hh, a)
    for t0, t1, xproj in blocks:
        if plans is not None:
            _rnn.rnn_forward_steps(plans, t0, t1, a, xproj, seq, relu)
            continue
        for t in range(t0, t1):
            product(t)
            _rnn.rnn_cell_forward(a, xproj, t0, t, seq, relu)
    del held                        # the block copies the plans' addresses point into
    return seq


def rnn_vjp(g, seq, xproj, h0, w_hh, nonlinearity):
    B, T, H = seq.shape
    g = _c(np.broadcast_to(g, seq.shape))
    w_t = _transposed(w_hh)
    relu = nonlinearity == "relu"
    da_all = np.empty_like(seq)
    da = np.empty((B, H), dtype=seq.dtype)
    dh = np.zeros((B, H), dtype=seq.dtype)
    plans, held = blas.stepped_plans(da[np.newaxis], w_t, dh, "depth")   # da, each step
    if plans is not None:
        _rnn.rnn_backward_steps(plans, g, dh, seq, relu, da, da_all)
        del held
        return da_all, dh, _weight_grad(h0, seq, da_all)
    product = blas.stepped_matmul(da[np.newaxis], w_t, dh)
    for t in range(T - 1, -1, -1):
        _rnn.rnn_cell_backward(g, t, dh, seq, relu, da, da_all)
        product(0)
    return da_all, dh, _weight_grad(h0, seq, da_all)


# -- GRU ----------------------------------------------------------------------------------------
def gru_forward(xproj, h0, w_hh, b_hn):
    """Each step one product ``h_{t-1} @ w_hh`` and one fused pass; saves the gates and the
    hidden n products (time-major), so the vjp recomputes nothing."""
    if not _floats(xproj, h0, w_hh, b_hn):
        return None
    xproj = _c(xproj)
    return gru_steps([(0, xproj.shape[1], xproj)], xproj.shape, h0, w_hh, b_hn)


def gru_steps(blocks, shape, h0, w_hh, b_hn):
    """``(seq, saved)`` of the scan whose input projection (B, T, 3H) comes in ``blocks``, as
    ``rnn_steps``'."""
    B, T, G = shape
    H = G // 3
    dt = w_hh.dtype
    h0, w_hh, b_hn = _c(h0), _c(w_hh), _c(b_hn)
    seq = np.empty((B, T, H), dtype=dt)
    saved, saved_hn = _Activations.take((T, B, G), dt), _Activations.take((T, B, H), dt)
    acts, hns = saved.acts, saved_hn.acts
    a = np.empty((B, G), dtype=dt)
    states = np.swapaxes(seq, 0, 1)
    plans, held = _later_steps(h0, states, w_hh, a)
    product = None if plans is not None else _recurrent_product(h0, states, w_hh, a)
    for t0, t1, xproj in blocks:
        if plans is not None:
            _rnn.gru_forward_steps(plans, t0, t1, a, xproj, b_hn, h0, seq, acts, hns)
            continue
        for t in range(t0, t1):
            product(t)
            _rnn.gru_cell_forward(a, xproj, t0, b_hn, t, h0, seq, acts, hns)
    del held
    return seq, (seq, saved, saved_hn)


def gru_vjp(g, saved, xproj, h0, w_hh, b_hn):
    seq, saved, saved_hn = saved
    B, T, H = seq.shape
    dt = seq.dtype
    g = _c(np.broadcast_to(g, seq.shape))
    h0 = _c(h0)
    w_t = _transposed(w_hh)
    dx_all = np.empty((B, T, 3 * H), dtype=dt)
    da_tm = np.empty((T, B, 3 * H), dtype=dt)
    dh = np.zeros((B, H), dtype=dt)
    db_hn = np.zeros((H,), dtype=dt)
    plans, held = blas.stepped_plans(da_tm, w_t, dh, "depth")
    if plans is not None:
        plans[:, 14] = 1            # every block onto dh, which holds the direct path
        _rnn.gru_backward_steps(plans, g, dh, saved.acts, saved_hn.acts, seq, h0, dx_all,
                                da_tm, db_hn)
        del held
    else:
        back = np.empty((B, H), dtype=dt)
        product = blas.stepped_matmul(da_tm, w_t, back)
        for t in range(T - 1, -1, -1):
            _rnn.gru_cell_backward(g, t, dh, saved.acts, saved_hn.acts, seq, h0, dx_all,
                                   da_tm, db_hn)
            product(t)
            dh += back
    h_prev = np.empty((T, B, H), dtype=dt)
    h_prev[0] = h0
    h_prev[1:] = np.swapaxes(seq[:, :-1], 0, 1)
    dw = blas.matmul(h_prev.reshape(T * B, H).T, da_tm.reshape(T * B, 3 * H))
    return dx_all, dh, dw, db_hn


KERNELS = {"lstm_scan": Kernel(lstm_forward, lstm_vjp, vjp_sliced=lstm_vjp_sliced),
           "lstm_layer": Kernel(lstm_layer_forward, lstm_layer_vjp, saves=(2, 3, 4), needs=True,
                                vjp_sliced=lstm_layer_vjp_sliced),
           "rnn_scan": Kernel(rnn_forward, rnn_vjp),
           "gru_scan": Kernel(gru_forward, gru_vjp, saves=(1, 2))}
