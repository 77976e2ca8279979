"""The kernels of ``gru_cell`` and ``rnn_cell`` (``xpgrad/ops/recurrent_cells.py``): the
backend's own ``gru_layer`` / ``rnn_layer`` kernel, looked up in its table at each call (so the
Numba backend's, which replace the NumPy ones in its table, serve its cells), run on the
one-step sequence ``x[:, None]`` with the output's step axis dropped.

>>> import numpy as np
>>> from xpgrad.backends.numpy.scans import scan_kernels
>>> kern = cell_kernels(scan_kernels(np))["rnn_cell"]
>>> h, saved = kern.forward(np.ones((2, 1)), np.zeros((2, 4)), np.ones((1, 4)),
...                         np.zeros((4, 4)), np.zeros(4), nonlinearity="relu")
>>> h.tolist()
[[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
"""
from __future__ import annotations

from xpgrad.backend import Kernel


def _one_step_kernel(table, layer, saves):
    def forward(x, h, *rest, **params):
        B, I = x.shape
        out = table[layer].forward(x.reshape(B, 1, I), h, *rest, **params)
        if out is None:
            return None
        seq, saved = out
        return seq.reshape(h.shape), saved

    def vjp(g, saved, needs, x, h, *rest, **params):
        B, I = x.shape
        dx, *others = table[layer].vjp(g.reshape(B, 1, h.shape[1]), saved, needs,
                                       x.reshape(B, 1, I), h, *rest, **params)
        return (None if dx is None else dx.reshape(B, I), *others)
    return Kernel(forward, vjp, saves=saves, needs=True)


def cell_kernels(table) -> dict:
    """``{"gru_cell": Kernel, "rnn_cell": Kernel}`` running the kernels ``table["gru_layer"]``
    and ``table["rnn_layer"]`` (each ``needs=True``; ``saves`` here keeps every input either
    backend's layer kernel reads)."""
    return {"gru_cell": _one_step_kernel(table, "gru_layer", (0, 1, 2, 3, 4, 5)),
            "rnn_cell": _one_step_kernel(table, "rnn_layer", (0, 1, 2, 3))}
