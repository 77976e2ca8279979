"""Numba's kernels of ``rnn_layer`` and ``gru_layer`` (``xpgrad/ops/projected_scans.py``).

The forward runs Numba's ``rnn_scan`` / ``gru_scan`` steps on the input projection made a
block of steps at a time into one ring (``_projected_blocks``), so it makes no (B, T, G)
projection beside what the scan saves. The backwards (loops of ``_layer_steps.py``) make no
(B, T, G) gradient of the projection: the Elman RNN's writes its pre-activation gradients over
the output gradient (its own, or a copy), whose rows then give ``dx``, ``dw_ih``, ``db`` and
``dw_hh`` by one product each (``dw_hh``: ``gated_layers.hidden_weight_grad_for``'s, as
NumPy's); the GRU's writes a block of steps' gate gradients at a time into a ring whose rows
give that block's part of ``dx``, ``[dw_ih; db]`` and ``dw_hh`` (as NumPy's
``gated_layers.py``).

>>> import numpy as np
>>> seq, saved = KERNELS["rnn_layer"].forward(np.ones((2, 3, 1)), np.zeros((2, 4)),
...                                           np.ones((1, 4)), np.zeros((4, 4)), np.zeros(4),
...                                           "relu")
>>> seq[0, 0].tolist()
[1.0, 1.0, 1.0, 1.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .. import blas
from ..numpy import scans as numpy_scans
from ..numpy.gated_layers import hidden_weight_grad_for
from ..numpy.memory import aligned_empty
from . import _layer_steps
from ._read_only import read_only as _read_only
from ._scans import _floats, _transposed, gru_steps, rnn_steps

_add_product = numpy_scans.add_product_for(np)
_hidden_weight_grad = hidden_weight_grad_for(np, blas.matmul, _add_product)
#: the loops' ``plans`` where no direct gemm runs the steps' products (the caller runs them)
_NO_PLANS = np.empty((0, 15), dtype=np.int64)


def _projected_blocks(x, w_ih, b):
    """``(t0, t1, x[:, t0:t1] @ w_ih + b)`` (B, t1 - t0, G) for blocks of steps from the first,
    each written over the last into one ring of ``numpy_scans.ring_steps`` steps (the block's
    rows of ``x`` copied into another)."""
    B, T, I = x.shape
    G = w_ih.shape[1]
    K = numpy_scans.ring_steps(T, B * (G + I) * x.dtype.itemsize)
    ring = aligned_empty((B * K * G,), x.dtype)
    rows = aligned_empty((B * K * I,), x.dtype)
    for t0 in range(0, T, K):
        n = min(K, T - t0)
        x_rows = np.reshape(rows[:B * n * I], (B, n, I))
        x_rows[...] = x[:, t0:t0 + n]
        block = np.reshape(ring[:B * n * G], (B * n, G))
        blas.matmul(np.reshape(x_rows, (B * n, I)), w_ih, out=block)
        block += b
        yield t0, t0 + n, np.reshape(block, (B, n, G))


def rnn_layer_forward(x, h0, w_ih, w_hh, b, nonlinearity):
    if not _floats(x, h0, w_ih, w_hh, b):
        return None
    B, T, _ = x.shape
    seq = rnn_steps(_projected_blocks(x, w_ih, b), (B, T, w_ih.shape[1]), h0, w_hh,
                    nonlinearity)
    return seq, seq


def gru_layer_forward(x, h0, w_ih, w_hh, b, b_hn):
    if not _floats(x, h0, w_ih, w_hh, b, b_hn):
        return None
    B, T, _ = x.shape
    return gru_steps(_projected_blocks(x, w_ih, b), (B, T, w_ih.shape[1]), h0, w_hh, b_hn)


def _zeros(x, w_ih, w_hh, b, needs):
    """``(dx, dw_ih, db, dw_hh)`` of no steps, None where not needed."""
    return tuple(np.zeros_like(a) if needs[i] else None
                 for a, i in ((x, 0), (w_ih, 2), (b, 4), (w_hh, 3)))


# -- Elman RNN ----------------------------------------------------------------------------------
def rnn_layer_vjp(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity):
    own = np.empty(saved.shape, saved.dtype)
    own[...] = g
    return rnn_layer_vjp_in_place(own, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity)


def rnn_layer_vjp_in_place(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity):
    """The pre-activation gradients written over ``g`` (B, T, H), then ``dx``, ``dw_ih``,
    ``db`` and ``dw_hh`` from its rows by one product (or sum) each; on a copy where ``g`` is
    not a C-ordered writeable array of the output's shape and dtype."""
    seq = saved
    if g.shape != seq.shape or g.dtype != seq.dtype or not g.flags.c_contiguous \
            or not g.flags.writeable:
        return rnn_layer_vjp(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity)
    B, T, H = seq.shape
    I = x.shape[2]
    w_t = _transposed(w_hh)
    relu = nonlinearity == "relu"
    dh = np.zeros((B, H), dtype=seq.dtype)
    plans, held = blas.stepped_plans(np.swapaxes(g, 0, 1), w_t, dh, "depth")
    if plans is not None:
        _layer_steps.rnn_layer_back_steps(plans, 0, T, g, dh, seq, relu)
    else:
        for t in range(T - 1, -1, -1):
            _layer_steps.rnn_layer_back_steps(_NO_PLANS, t, t + 1, g, dh, seq, relu)
            blas.matmul(g[:, t], w_t, out=dh)
    del held                        # the block copies the plans' addresses point into
    if not T:
        dx, dw_ih, db, dw_hh = _zeros(x, w_ih, w_hh, b, needs)
        return dx, dh, dw_ih, dw_hh, db
    rows = np.reshape(g, (B * T, H))
    dx = np.reshape(blas.matmul(rows, _transposed(w_ih)), (B, T, I)) if needs[0] else None
    dw_ih = blas.matmul(np.reshape(x, (B * T, I)).T, rows) if needs[2] else None
    db = rows.sum(axis=0) if needs[4] else None
    dw_hh = _hidden_weight_grad(g, seq, h0) if needs[3] else None       # the last: it zeroes
    return dx, dh, dw_ih, dw_hh, db


# -- GRU ----------------------------------------------------------------------------------------
class _GruBlocks:
    """The GRU backward's blocks of steps, from the last: the ring (K, B, 4H) of their gate
    gradients ``[r dn | dr | dz | dn]`` (the hidden product's, its n block first, then the
    input projection's in ``w_ih``'s column order) and, for each block, the time-major rows
    ``[x_t | 1 | h_{t-1}]`` whose products with the ring give the block's part of
    ``[dw_ih; db]`` and ``dw_hh`` (its columns in the ring's order), and its rows of ``dx``."""

    def __init__(self, x, h0, seq, needs):
        B, T, I = x.shape
        H = h0.shape[1]
        dt = seq.dtype
        self.x, self.h0, self.seq, self.needs = x, h0, seq, needs
        wide = 4 * H + I + 1 + H + (I if needs[0] else 0)       # a step's floats per batch row
        K = numpy_scans.ring_steps(T, B * wide * dt.itemsize)
        self.ring = aligned_empty((K, B, 4 * H), dt)
        self.rows = aligned_empty((K, B, I + 1 + H), dt)
        self.rows[:, :, I] = 1
        self.dx = np.empty((B, T, I), dt) if needs[0] else None
        self.dx_block = aligned_empty((K, B, I), dt) if needs[0] else None
        self.dwb = np.empty((I + 1, 3 * H), dt)
        self.dwh = np.empty((H, 3 * H), dt)

    def spans(self):
        """``(t0, t1)`` of each block, the last first."""
        T, K = self.x.shape[1], len(self.ring)
        return [(max(t1 - K, 0), t1) for t1 in range(T, 0, -K)]

    def add(self, t0, t1, w_ih_t):
        """The part of steps ``t0 .. t1 - 1``, whose gradients fill the ring's first slots."""
        x, seq, needs = self.x, self.seq, self.needs
        B, T, I = x.shape
        H = seq.shape[2]
        n = t1 - t0
        ring = np.reshape(self.ring[:n], (n * B, 4 * H))
        first = t1 == T
        if needs[2] or needs[4] or needs[3]:
            rows = self.rows[:n]
            rows[:, :, :I] = np.swapaxes(x[:, t0:t1], 0, 1)
            if t0:
                rows[:, :, I + 1:] = np.swapaxes(seq[:, t0 - 1:t1 - 1], 0, 1)
            else:
                rows[0, :, I + 1:] = self.h0
                rows[1:, :, I + 1:] = np.swapaxes(seq[:, :n - 1], 0, 1)
            rows = np.reshape(rows, (n * B, I + 1 + H))
            if needs[2] or needs[4]:
                _add_product(self.dwb, rows[:, :I + 1].T, ring[:, H:], first)
            if needs[3]:
                _add_product(self.dwh, rows[:, I + 1:].T, ring[:, :3 * H], first)
        if self.dx is not None:
            block = self.dx_block[:n]
            blas.matmul(ring[:, H:], w_ih_t, out=np.reshape(block, (n * B, I)))
            self.dx[:, t0:t1] = np.swapaxes(block, 0, 1)

    def result(self):
        """``(dx, dw_ih, db, dw_hh)``, None where not needed."""
        needs, I, H = self.needs, self.x.shape[2], self.seq.shape[2]
        dwh = self.dwh
        return (self.dx, self.dwb[:I] if needs[2] else None, self.dwb[I] if needs[4] else None,
                np.concatenate([dwh[:, H:], dwh[:, :H]], axis=1) if needs[3] else None)


def gru_layer_vjp(g, saved, needs, x, h0, w_ih, w_hh, b, b_hn):
    seq, acts, hns = saved
    B, T, H = seq.shape
    dt = seq.dtype
    g = _read_only(np.broadcast_to(g, seq.shape))
    h0 = _read_only(h0)
    # the hidden product's rows in the ring's order [n | r | z]
    reordered = np.concatenate([w_hh[:, 2 * H:], w_hh[:, :2 * H]], axis=1)
    blocks = _GruBlocks(x, h0, seq, needs)
    ring = blocks.ring
    dh = np.zeros((B, H), dtype=dt)
    db_hn = np.zeros((H,), dtype=dt)
    plans, held, w_t, w_ih_t = None, (), reordered.T, w_ih.T   # one step: transposed views
    if T > 1:
        w_t, w_ih_t = _transposed(reordered), _transposed(w_ih)
        plans, held = blas.stepped_plans(ring[:, :, :3 * H], w_t, dh, "depth")
    if plans is not None:
        plans[:, 14] = 1            # every block onto dh, which holds the direct path
    for t0, t1 in blocks.spans():
        if plans is not None:
            _layer_steps.gru_layer_back_steps(plans, t0, t1, t0, g, dh, acts.acts, hns.acts,
                                              seq, h0, ring, db_hn)
        else:
            for t in range(t1 - 1, t0 - 1, -1):
                _layer_steps.gru_layer_back_steps(_NO_PLANS, t, t + 1, t0, g, dh, acts.acts,
                                                  hns.acts, seq, h0, ring, db_hn)
                dh += blas.matmul(ring[t - t0, :, :3 * H], w_t)
        blocks.add(t0, t1, w_ih_t)
    del held
    dx, dw_ih, db, dw_hh = blocks.result() if T else _zeros(x, w_ih, w_hh, b, needs)
    return dx, dh, dw_ih, dw_hh, db, db_hn if needs[5] else None


# the vjps read x, h0 and the weights (the GRU's b_hn only through its saved products), never b
KERNELS = {"rnn_layer": Kernel(rnn_layer_forward, rnn_layer_vjp,
                               saves=(0, 1, 2, 3), needs=True,
                               vjp_in_place=rnn_layer_vjp_in_place),
           "gru_layer": Kernel(gru_layer_forward, gru_layer_vjp,
                               saves=(0, 1, 2, 3), needs=True)}
