"""Numba's kernels of ``rnn_layer`` and ``gru_layer`` (``xpgrad/ops/projected_scans.py``): the
input projection by one product, then Numba's ``rnn_scan`` / ``gru_scan`` kernel, whose vjp's
projection gradient gives ``dx``, ``dw_ih`` and ``db`` by two products and a sum (the scan
kernels have no fused projection yet, as ``lstm_layer``'s; the tape holds neither the
projection nor its gradient).

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
from ._scans import KERNELS as SCANS


def _projected(scan):
    """The layer's ``Kernel`` from the scan's (forward, vjp) ``scan``, whose vjp reads neither
    the projection nor the last argument (``b_hn``, ``nonlinearity`` passed on)."""

    def forward(x, h0, w_ih, w_hh, b, *last, **params):
        (last,) = (*last, *params.values())      # b_hn, or the keyword nonlinearity
        B, T, I = x.shape
        if x.dtype != w_ih.dtype or x.dtype != b.dtype:
            return None
        xproj = blas.matmul(np.reshape(x, (B * T, I)), w_ih)
        xproj += b
        return scan.forward(np.reshape(xproj, (B, T, w_ih.shape[1])), h0, w_hh, last)

    def vjp(g, saved, needs, x, h0, w_ih, w_hh, b, *last, **params):
        (last,) = (*last, *params.values())
        B, T, I = x.shape
        dxproj, dh0, dw_hh, *rest = scan.vjp(g, saved, None, h0, w_hh, last)
        rows = np.reshape(dxproj, (B * T, dxproj.shape[2]))
        dx = (np.reshape(blas.matmul(rows, np.ascontiguousarray(w_ih.T)), (B, T, I))
              if needs[0] else None)
        dw_ih = blas.matmul(np.reshape(x, (B * T, I)).T, rows) if needs[2] else None
        db = rows.sum(axis=0) if needs[4] else None
        return (dx, dh0, dw_ih, dw_hh, db, *rest)[:len(needs)]

    return Kernel(forward, vjp, saves=(0, 1, 2, 3), needs=True)


KERNELS = {"rnn_layer": _projected(SCANS["rnn_scan"]), "gru_layer": _projected(SCANS["gru_scan"])}
