"""The Elman RNN's and GRU's fused scan kernels (``rnn_scan``, ``gru_scan``) for any module with
NumPy's API and ``out=``; ``scans.scan_kernels`` registers them next to the LSTM's.

As the LSTM's: each step's ``h_{t-1} @ w_hh`` is added onto that step's input projection by the
gemm itself (``stepped_update``, in column blocks where ``blas.block_width`` says the BLAS runs
them faster), from ``h_t`` made in the output's ``seq[:, t]`` (rows apart, which the gemm takes);
step 0's product is skipped for a zero ``h0`` and a finite ``w_hh``. The backward writes each
step's gradients into a ring of a few steps (``scan_rings.ring_steps``), adds ``da_t @ w_hh.T`` onto
the previous step's output gradient in depth blocks the same way, and each block of steps adds
its part of ``dw`` and writes its rows of ``dx`` while in cache; it reads ``h_{t-1}`` from the
output, copied time-major a block at a time, so the forwards save no states of their own.

>>> import numpy as np
>>> from xpgrad.backends.numpy.scans import scan_kernels
>>> seq, saved = scan_kernels(np)["gru_scan"].forward(
...     np.zeros((1, 2, 3)), np.ones((1, 1)), np.zeros((1, 3)), np.zeros(1))
>>> seq.tolist()        # z = 1/2 each step: h halves
[[[0.5], [0.25]]]
"""
from __future__ import annotations

import numpy

from ..axis_sums import sum_rows
from .gated_layers import layer_kernels
from .scan_rings import recurrent_transpose
from .ufuncs import clip


def every_step(np, buffer, T):
    """``buffer`` (of the module ``np``) as T steps (T, ...) that are all ``buffer`` (a stride
    of 0): a scan's per-step products made into one buffer.

    >>> every_step(numpy, numpy.zeros((2, 3)), 4).shape
    (4, 2, 3)
    """
    return np.lib.stride_tricks.as_strided(buffer, (T, *buffer.shape), (0, *buffer.strides))


def _relu_for(np):
    """``relu(a, out)``: for NumPy the ``clip`` ufunc (``maximum`` with a scalar bound: 7.1 us
    a (64, 128) float32 step here, clip 1.4), which keeps a -0.0 pre-activation -0.0 as
    PyTorch's ``relu`` and the Numba kernel do (``maximum`` makes it +0.0); other modules'
    ``maximum``."""
    if np is numpy:
        return lambda a, out: clip(a, 0.0, numpy.inf, out=out)
    return lambda a, out: np.maximum(a, 0.0, out=out)


def _relu_gradient_for(np, B, H, dtype):
    """``passed(gh, h, out)``: ``out`` <- ``gh`` where the relu output ``h`` is nonzero (a NaN
    ``h`` passes, as in PyTorch's relu), +0.0 elsewhere, even where ``gh`` is inf or NaN. For
    NumPy by the bits: ``gh``'s AND an all-ones mask, 4.8 us a (64, 128) float32 step where
    ``copyto(where=)`` took 36; other modules' ``copyto``."""
    if np is not numpy:
        def passed(gh, h, out):
            out[...] = gh
            np.copyto(out, 0, where=h <= 0)
        return passed
    bits = numpy.dtype(f"i{numpy.dtype(dtype).itemsize}")
    nonzero, mask = numpy.empty((B, H), dtype=bool), numpy.empty((B, H), dtype=bits)

    def passed(gh, h, out):
        numpy.not_equal(h, 0, out=nonzero)
        numpy.copyto(mask, nonzero)
        numpy.negative(mask, out=mask)                      # 0 or all ones
        numpy.bitwise_and(gh.view(bits), mask, out=out.view(bits))
    return passed


def gated_kernels(np, matmul, stepped, recurrent_product, floats, rings):
    """``{"rnn_scan": (forward, vjp), "gru_scan": (forward, vjp)}`` for the module ``np``:
    ``matmul``, ``stepped``, ``recurrent_product`` and ``floats`` are ``scan_kernels``'s
    (``recurrent_product(h0, w, acts)(t, hs)`` adds step ``t``'s recurrent product onto
    ``acts[t]``), ``rings`` its ``(new_ring, gradient_ring, add_product)``: the backwards
    write each step's gradients into a ring of a few steps, and each block of steps adds its
    part of the weight's gradient and writes its rows of ``dx`` while in cache.

    >>> import numpy as np
    >>> from xpgrad.backends.numpy.scans import scan_kernels
    >>> forward = scan_kernels(np)["rnn_scan"].forward
    >>> seq, saved = forward(np.full((1, 2, 2), -1.0), np.ones((1, 2)), np.eye(2), "relu")
    >>> seq.tolist()        # relu(-1 + 1) = 0, then relu(-1 + 0)
    [[[0.0, 0.0], [0.0, 0.0]]]
    """
    relu = _relu_for(np)
    new_ring, gradient_ring, add_product = rings

    def time_major(part, dtype):
        """A new contiguous (T, B, .) copy of the batch-first ``part`` (never a view of it)."""
        out = np.empty((part.shape[1], part.shape[0], *part.shape[2:]), dtype=dtype)
        out[...] = np.swapaxes(part, 0, 1)
        return out

    def states_ring(seq, h0, K):
        """``(hs, fill)``: ``fill(t0, n)`` copies ``h_{t0-1} .. h_{t0+n-1}`` (``h_{-1}`` is
        ``h0``) from the batch-first states ``seq`` into ``hs[:n + 1]`` (K + 1, B, H), time-major:
        step ``t0 + j``'s ``h_{t-1}`` is ``hs[j]``, its ``h_t`` ``hs[j + 1]``, and ``hs[:n]`` the
        block's rows for the weight's gradient."""
        B, T, H = seq.shape
        hs = np.empty((K + 1, B, H), dtype=seq.dtype)

        def fill(t0, n):
            hs[0] = h0 if t0 == 0 else seq[:, t0 - 1]
            hs[1:n + 1] = np.swapaxes(seq[:, t0:t0 + n], 0, 1)
        return hs, fill

    def rnn_steps(acts, h0, w_hh, nonlinearity):
        """The forward recursion over the pre-activations ``acts`` (T, B, H), each step's
        input projection, made in place; returns the states (B, T, H), whose steps ``seq[:,
        t]`` they are made into (the next product's operand, rows apart: the gemm's blocked
        steps need it apart from their output, the pre-activations)."""
        T, B, H = acts.shape
        seq = np.empty((B, T, H), dtype=acts.dtype)
        hs = np.swapaxes(seq, 0, 1)
        product = recurrent_product(h0, w_hh, acts)
        for t in range(T):
            product(t, hs)
            if nonlinearity == "tanh":
                np.tanh(acts[t], out=hs[t])
            else:
                relu(acts[t], hs[t])
        return seq

    def rnn_forward(xproj, h0, w_hh, nonlinearity):
        """Saves the output alone."""
        if not floats(xproj, h0, w_hh):
            return None
        seq = rnn_steps(time_major(xproj, xproj.dtype), h0, w_hh, nonlinearity)
        return seq, (seq,)

    def pre_activation_gradient(nonlinearity, B, H, dtype):
        """``passed(gh, h, da)``: ``da`` <- ``gh`` times the derivative of the activation at
        the step whose output is ``h`` (``da`` may be ``gh``)."""
        if nonlinearity == "relu":
            return _relu_gradient_for(np, B, H, dtype)
        tmp = np.empty((B, H), dtype=dtype)

        def passed(gh, h, da):
            np.multiply(h, h, out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            np.multiply(gh, tmp, out=da)
        return passed

    def rnn_steps_back(g, seq, h0, w_hh, nonlinearity, da_ring, flush):
        """The backward recursion: each step's ``da`` into ``da_ring`` (K, B, H); after each
        block of steps ``t0 .. t0 + n - 1`` (``t0`` a multiple of K) ``flush(t0, block)``
        gets their ``da`` (n, B, H), once the block's part of ``dw`` is added. Returns
        ``(dh0, dw)``."""
        B, T, H = seq.shape
        w_t = recurrent_transpose(np, w_hh, T)
        K = len(da_ring)
        ghs, back = gradient_ring(g, da_ring, w_t, T)
        hs, fill = states_ring(seq, h0, K)
        dh0, dw = (np.empty(shape, dtype=seq.dtype) for shape in ((B, H), (H, H)))
        passed = pre_activation_gradient(nonlinearity, B, H, seq.dtype)
        for t in range(T - 1, -1, -1):
            slot = t % K
            if t == T - 1 or slot == K - 1:
                fill(t - slot, slot + 1)
            passed(ghs[slot], hs[slot + 1], da_ring[slot])
            if t:
                back(t)
            else:
                stepped(da_ring, w_t, dh0)(0)
            if not slot:
                n = min(K, T - t)
                add_product(dw, np.reshape(hs[:n], (n * B, H)).T,
                            np.reshape(da_ring[:n], (n * B, H)), t + n == T)
                flush(t, da_ring[:n])
        return dh0, dw

    def rnn_steps_back_in_place(g, seq, w_hh, nonlinearity):
        """The backward recursion with each step's ``da`` written over ``g[:, t]`` (``g``:
        the output's gradient (B, T, H), C-ordered and writeable), as Numba's layer kernel:
        no ring and no copy of ``g``, whose steps' rows the products read where they are.
        Returns ``dh0``."""
        B, T, H = seq.shape
        w_t = recurrent_transpose(np, w_hh, T)
        dh = np.zeros((B, H), dtype=seq.dtype)
        back = stepped(np.swapaxes(g, 0, 1), w_t, dh)
        passed = pre_activation_gradient(nonlinearity, B, H, seq.dtype)
        for t in range(T - 1, -1, -1):
            gh = g[:, t]
            if t < T - 1:
                np.add(gh, dh, out=gh)
            passed(gh, seq[:, t], gh)
            back(t)
        return dh

    def rnn_vjp(g, saved, xproj, h0, w_hh, nonlinearity):
        (seq,) = saved                       # xproj: unused (a stand-in)
        B, T, H = seq.shape
        da_all = np.empty((B, T, H), dtype=seq.dtype)

        def flush(t0, block):
            da_all[:, t0:t0 + len(block)] = np.swapaxes(block, 0, 1)
        # a step's H of the rings' 3H (da, gh, states)
        da_ring = new_ring(T, B, H, seq.dtype, 3 * H)
        dh0, dw = rnn_steps_back(g, seq, h0, w_hh, nonlinearity, da_ring, flush)
        return da_all, dh0, dw

    def gru_steps(acts, h0, w_hh, b_hn, xn=None):
        """The forward recursion from ``acts`` (T, B, 3H), each step's input projection ``[x_r
        / 2 | x_z / 2 | x_n]`` (sigmoid(v) = tanh(v / 2) / 2 + 1 / 2: r and z's projections
        halved, as their weights here, exactly), which becomes ``[r | z | n]``: a step's hidden
        n product ``hn = h_{t-1} @ w_hn + b_hn`` is made in its n columns (after ``x_n`` is
        copied out) and replaced by n once used; the backward makes ``hn`` again, a block of
        steps by one product. Given ``xn`` (T, B, H), ``acts`` (T, B, 2H) is ``[x_r / 2 | x_z
        / 2]`` alone, which becomes ``[r | z]``, the step's products made in one (B, 3H)
        buffer and n kept by no one (the layer's backward makes it again). Returns the states
        (B, T, H)."""
        T, B = acts.shape[:2]
        H = w_hh.shape[0]
        w = w_hh.copy()
        w[:, :2 * H] *= 0.5
        seq = np.empty((B, T, H), dtype=acts.dtype)
        hs = np.swapaxes(seq, 0, 1)                # each step's state made into the output
        tmp, n = (np.empty((B, H), dtype=acts.dtype) for _ in range(2))
        pre = acts if xn is None else every_step(np, np.empty((B, 3 * H), dtype=acts.dtype), T)
        product = recurrent_product(h0, w, pre)
        h = h0
        for t in range(T):
            a = pre[t]
            if xn is None:
                n[...] = a[:, 2 * H:]                 # x_n, then n
            else:
                n[...] = xn[t]
                a[:, :2 * H] = acts[t]
            a[:, 2 * H:] = b_hn
            product(t, hs)
            rz = np.tanh(a[:, :2 * H], out=acts[t, :, :2 * H])
            rz *= 0.5
            rz += 0.5
            np.multiply(rz[:, :H], a[:, 2 * H:], out=tmp)
            n += tmp
            np.tanh(n, out=n)
            if xn is None:
                a[:, 2 * H:] = n
            np.subtract(h, n, out=tmp)                # h_t = n + z * (h - n): in tmp, its
            tmp *= rz[:, H:]                          #   rows together, then into the output
            h = np.add(tmp, n, out=hs[t])
        return seq

    def gru_forward(xproj, h0, w_hh, b_hn):
        """Saves the output and ``acts`` (``gru_steps``)."""
        if not floats(xproj, h0, w_hh, b_hn):
            return None
        B, T, G = xproj.shape
        H = G // 3
        acts = time_major(xproj, xproj.dtype)
        acts[:, :, :2 * H] *= 0.5
        seq = gru_steps(acts, h0, w_hh, b_hn)
        return seq, (seq, acts)

    def gru_steps_back(g, saved, h0, w_hh, b_hn, da_ring, dn_at, flush, gates=None):
        """The backward recursion: each step's ``[dr | dz | dn r]`` (the hidden product's
        gradient) into ``da_ring`` (K, B, 3H) and its ``dn`` into ``dn_at(t, slot)`` (B, H; it
        may be the step's n, read first);
        after each block of steps ``t0 .. t0 + n - 1`` ``flush(t0, block)`` gets their ring
        rows (n, B, 3H), once the block's part of ``dw`` is added. Each block's hidden n
        products ``hn`` are made again by one product; its gates ``(rz, n)`` ((n, B, 2H),
        (n, B, H)) are ``gates(t0, n, hns)`` given the block's ``hn`` (default: ``saved``'s
        ``[r | z | n]``, ``gru_steps``'). Returns ``(dh0, dw, db_hn)``."""
        seq, acts = saved
        B, T, H = seq.shape
        if gates is None:
            def gates(t0, n, hns):
                return acts[t0:t0 + n, :, :2 * H], acts[t0:t0 + n, :, 2 * H:]
        w_t = recurrent_transpose(np, w_hh, T)
        w_hn = w_hh[:, 2 * H:]
        K = len(da_ring)
        ghs, back = gradient_ring(g, da_ring, w_t, T)
        hs, fill = states_ring(seq, h0, K)
        hns = np.empty((K, B, H), dtype=seq.dtype)
        tmp, carry, dh0 = (np.empty((B, H), dtype=seq.dtype) for _ in range(3))
        dw, db_rows = np.empty((H, 3 * H), dtype=seq.dtype), np.zeros((B, H), dtype=seq.dtype)
        slopes = np.empty((B, 2 * H), dtype=seq.dtype)
        for t in range(T - 1, -1, -1):
            slot = t % K
            if t == T - 1 or slot == K - 1:
                fill(t - slot, slot + 1)
                hns[:slot + 1] = b_hn
                add_product(np.reshape(hns[:slot + 1], ((slot + 1) * B, H)),
                            np.reshape(hs[:slot + 1], ((slot + 1) * B, H)), w_hn, False)
                rzs, ns = gates(t - slot, slot + 1, hns[:slot + 1])
            rz, n = rzs[slot], ns[slot]
            hn, gh, h_prev = hns[slot], ghs[slot], hs[slot]
            da = da_ring[slot]
            dr, dz, dn = da[:, :H], da[:, H:2 * H], dn_at(t, slot)
            np.subtract(1.0, rz, out=slopes)          # [1 - r | 1 - z]
            np.multiply(n, n, out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            np.subtract(h_prev, n, out=dz)            # n's last use: dn may be written over it
            np.multiply(slopes[:, H:], gh, out=dn)    # dn = gh (1 - z) (1 - n^2)
            dn *= tmp
            slopes *= rz                              # [r (1 - r) | z (1 - z)]
            dz *= gh                                  # dz = gh (h_prev - n) z (1 - z)
            dz *= slopes[:, H:]
            np.multiply(dn, hn, out=dr)               # dr = dn hn r (1 - r)
            dr *= slopes[:, :H]
            np.multiply(dn, rz[:, :H], out=da[:, 2 * H:])
            db_rows += da[:, 2 * H:]                  # db_hn's terms, by batch row
            np.multiply(gh, rz[:, H:], out=carry)     # gh z, before back() refills gh's slot
            if t:
                back(t)                               # gh_{t-1} = g_{t-1} + da @ w_hh.T
                ghs[slot - 1] += carry                #   + gh z
            else:
                stepped(da_ring, w_t, dh0)(0)
                dh0 += carry
            if not slot:
                n_steps = min(K, T - t)
                block = da_ring[:n_steps]
                rows = np.reshape(block, (n_steps * B, 3 * H))
                add_product(dw, np.reshape(hs[:n_steps], (n_steps * B, H)).T, rows,
                            t + n_steps == T)
                flush(t, block)
        return dh0, dw, sum_rows(db_rows)

    def gru_vjp(g, saved, xproj, h0, w_hh, b_hn):
        seq = saved[0]                     # xproj: unused (a stand-in)
        B, T, H = seq.shape
        dx_all = np.empty((B, T, 3 * H), dtype=seq.dtype)

        def flush(t0, block):
            dx_all[:, t0:t0 + len(block), :2 * H] = np.swapaxes(block[:, :, :2 * H], 0, 1)
        # [dr | dz | dn r] (dx's dn apart): 3H of a step's 6H in the rings (gh, states, hn)
        da_ring = new_ring(T, B, 3 * H, seq.dtype, 6 * H)
        dh0, dw, db = gru_steps_back(g, saved, h0, w_hh, b_hn, da_ring,
                                     lambda t, slot: dx_all[:, t, 2 * H:], flush)
        return dx_all, dh0, dw, db

    steps = {"rnn_steps": rnn_steps, "rnn_steps_back": rnn_steps_back,
             "rnn_steps_back_in_place": rnn_steps_back_in_place,
             "gru_steps": gru_steps, "gru_steps_back": gru_steps_back, "relu": relu,
             "relu_gradient": lambda B, H, dtype: _relu_gradient_for(np, B, H, dtype)}
    return {"rnn_scan": (rnn_forward, rnn_vjp), "gru_scan": (gru_forward, gru_vjp),
            **layer_kernels(np, matmul, floats, new_ring, add_product, steps)}
