"""The recurrent scans' fused first-order kernels, for any module with NumPy's API and ``out=``.

The NumPy and CuPy backends register these (``scan_kernels(numpy)``, ``scan_kernels(cupy)``;
Numba has its own fused steps, ``backends/numba/_scans.py``) for the primitives ``lstm_scan``,
``lstm_layer``, ``rnn_scan`` and ``gru_scan`` of ``xpgrad/ops/recurrent.py``, whose generic
joint rules they are tested against. The forward writes each step's state straight into the
output and saves the gate activations; the vjp runs the backward recursion once for all inputs.

The LSTM's are in ``lstm_scans.py``, the RNN's and GRU's in ``gated_scans.py`` (and
``gated_layers.py``), on the products of ``scan_products.py`` and the rings of step gradients of
``scan_rings.py``; this module puts them together.

>>> import numpy as np
>>> kern = scan_kernels(np)["rnn_scan"]
>>> seq, saved = kern.forward(np.ones((2, 3, 4)), np.zeros((2, 4)), np.zeros((4, 4)), "relu")
>>> seq[0, 0].tolist()
[1.0, 1.0, 1.0, 1.0]
"""
from __future__ import annotations

import functools

from xpgrad.backend import Kernel

from .gated_scans import gated_kernels
from .lstm_scans import lstm_halves, lstm_kernels  # noqa: F401 (Numba's _scans reads it here)
from .scan_products import _matmul_for, _stepped_for, add_product_for, recurrent_product_for
from .scan_rings import ring_functions, ring_steps  # noqa: F401 (Numba's layers read it here)


@functools.cache
def scan_kernels(np) -> dict:
    """``{"lstm_scan": Kernel, ..., "gru_scan": Kernel}`` for arrays of the NumPy-API module
    ``np``, made once per module: the NumPy and Numba backends share them (Numba's table keeps
    the cells' kernels, NumPy's own).

    The forward writes each step's ``h`` and ``c`` straight into the output (``out=``) and saves
    the gate activations (gate-major) and ``c``; the vjp runs the backward recursion once for all
    inputs, writing each step's gradient into place. The same function as the generic rules
    (the tests compare them); float32 and float64 only (None: the generic rule runs). Host
    arrays' products go through ``blas.matmul`` (MKL's where installed).
    """
    matmul, (stepped, stepped_update) = _matmul_for(np), _stepped_for(np)
    add_product = add_product_for(np)

    def floats(*arrays):
        dt = arrays[0].dtype
        return all(a.dtype == dt for a in arrays) and (dt == np.float32 or dt == np.float64)

    recurrent_product = recurrent_product_for(np, stepped_update)
    new_ring, gradient_ring = ring_functions(np, stepped_update)
    shared = (np, matmul, stepped, recurrent_product, floats,
              (new_ring, gradient_ring, add_product))
    gated = gated_kernels(*shared)
    return {**lstm_kernels(*shared),
            "rnn_scan": Kernel(*gated["rnn_scan"], saves=(1, 2)),
            "gru_scan": Kernel(*gated["gru_scan"], saves=(1, 2, 3)),
            **{name: gated[name] for name in ("rnn_layer", "gru_layer", "rnn_cell", "gru_cell")}}
