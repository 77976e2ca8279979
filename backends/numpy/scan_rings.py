"""The rings of step gradients of the recurrent scans' backward: a few steps' worth, which
stay in cache until their block's products read them, in place of one (T, B, .) array.
"""
from __future__ import annotations


#: the bytes of the ring of steps' gate gradients in an LSTM layer's backward (a few steps:
#: they stay in cache until their block's products read them)
RING_BYTES = 1 << 20


#: scans of at most this many steps multiply by ``w_hh.T`` as a view: a contiguous copy makes
#: each product faster but costs about three products' gain (an LSTMCell's one step in a loop)
SHORT_SCAN = 3


def recurrent_transpose(np, w_hh, T):
    """``w_hh.T`` for the backward's products ``da_t @ w_hh.T`` over ``T`` steps: a contiguous
    copy (BLAS runs faster on it), or the view for a scan of at most ``SHORT_SCAN`` steps.

    >>> import numpy as np
    >>> w = np.ones((2, 3))
    >>> recurrent_transpose(np, w, 1).base is w, recurrent_transpose(np, w, 50).flags.c_contiguous
    (True, True)
    """
    w_t = np.swapaxes(w_hh, 0, 1)
    return w_t if T <= SHORT_SCAN else np.ascontiguousarray(w_t)


def ring_steps(T, step_bytes):
    """How many steps' gate gradients (``step_bytes`` each) a backward's ring holds: at
    least 2, at most ``T``, else what fits ``RING_BYTES`` (all ``T`` for empty steps: a batch
    of 0).

    >>> ring_steps(50, 64 * 512 * 4), ring_steps(3, 1024), ring_steps(50, 1 << 30)
    (8, 3, 2)
    >>> ring_steps(50, 0)
    50
    """
    return min(T, max(2, RING_BYTES // max(step_bytes, 1)))


def ring_functions(np, stepped_update):
    """``(new_ring, gradient_ring)`` for arrays of ``np``, whose per-step updates are
    ``stepped_update``'s (``scan_products._stepped_for``)."""

    def gradient_ring(g_h, da_ring, w_t, T):
        """``(ghs, back)`` for a backward whose steps' gradients ``da_ring`` (K, B, .) are a
        ring (``ring_steps``; all T at most): ``ghs`` (K, B, H), each step's state gradient
        in the slot of its ``da``, holds ``g_h``'s (B, T, H; None: zeros) for the block of
        the last step; ``back(t)``, for a step ``t > 0`` whose ``da`` is written, adds
        ``da_t @ w_t`` onto ``gh_{t-1}``, first filling ``ghs`` with the next block's
        ``g_h`` where ``t`` is its block's first step (its own ``gh`` is then gone). A step's
        rows of ``g_h`` alone are far apart: they are copied a block at a time."""
        K, B = da_ring.shape[:2]
        H = w_t.shape[1]
        ghs = np.empty((K, B, H), dtype=da_ring.dtype)

        def fill(t0):
            n = min(K, T - t0)
            if g_h is None:
                ghs[:n] = 0.0
            else:
                ghs[:n] = np.swapaxes(g_h[:, t0:t0 + n], 0, 1)
        # step t adds onto ghs[(t - 1) % K]: the slot before its own, or the last for t % K == 0
        within = stepped_update(da_ring[1:], w_t, ghs[:-1], split="depth")
        wrap = stepped_update(da_ring[:1], w_t, ghs[-1:], split="depth") if K < T else None

        def back(t):
            slot = t % K
            if slot:
                within(slot - 1)
            else:
                fill(t - K)
                wrap(0)
        fill((T - 1) // K * K)
        return ghs, back

    def new_ring(T, B, G, dtype, step_width=None):
        """An empty ring (K, B, G) of ``ring_steps`` steps' gradients, for steps of ``B *
        step_width`` floats in all the backward's rings (default ``G``: this ring alone)."""
        step_bytes = B * (step_width or G) * dtype.itemsize
        return np.empty((ring_steps(T, step_bytes), B, G), dtype=dtype)

    return new_ring, gradient_ring
