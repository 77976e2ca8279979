"""The LSTM scan's backward step as one Numba loop, for the Numba backend's ``lstm_scan`` kernel.

The scan kernel itself is ``xpgrad.backends.numpy.scans`` (NumPy calls and BLAS matrix products);
this replaces the ~15 NumPy passes per step of its backward with one fused pass that reads the
saved gate activations and writes the step's gate gradients. The forward stays NumPy's: its
cost is ``tanh``, where NumPy's SIMD version beats a Numba loop calling the C library.
"""
from __future__ import annotations

from numba import njit

from ._math import LOOP_OPTIONS


@njit(**LOOP_OPTIONS)
def lstm_cell_backward(g_h, g_c, dh, dc, a, tc, h, c_prev, dz):
    """One step back: ``dz`` (B, 4H) <- gate gradients; ``dc`` (B, H) <- gradient for c_{t-1}.

    ``g_h``, ``g_c``: the step's output gradients; ``dh``, ``dc``: what flows back from step t+1;
    ``a``: activations [i | f | g | o]; ``tc``: tanh(c_t); ``h``: h_t (unused: kept so the
    signature matches the NumPy step); ``c_prev``: c_{t-1}.
    """
    B, H = tc.shape
    one = a.dtype.type(1)
    for b in range(B):
        for j in range(H):
            i = a[b, j]
            f = a[b, H + j]
            g = a[b, 2 * H + j]
            o = a[b, 3 * H + j]
            t = tc[b, j]
            gh = g_h[b, j] + dh[b, j]
            gc = g_c[b, j] + dc[b, j] + gh * o * (one - t * t)
            dz[b, j] = gc * g * i * (one - i)
            dz[b, H + j] = gc * c_prev[b, j] * f * (one - f)
            dz[b, 2 * H + j] = gc * i * (one - g * g)
            dz[b, 3 * H + j] = gh * t * o * (one - o)
            dc[b, j] = gc * f
