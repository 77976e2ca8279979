"""The LSTM's fused first-order kernels (``lstm_scan``, ``lstm_layer``) for any module with
NumPy's API and ``out=``; ``scans.scan_kernels`` registers them.
"""
from __future__ import annotations

from xpgrad.accumulate import Scatter
from xpgrad.backend import Kernel

from .lstm_step import lstm_one_step
from .scan_rings import recurrent_transpose


def lstm_halves(key, values, ndim=3):
    """``(g_h, g_c)``, each (B, T, H) or None for zeros, for the gradient of an LSTM's (2, B, T,
    H) states that is ``values`` at ``key`` and zero elsewhere (what ``Kernel.vjp_sliced``
    gets); None unless ``key`` selects one whole half (``states[0]``, ``states[1]``).
    ``ndim`` 2: a cell's (2, B, H) states, halves (B, H).

    >>> import numpy as np
    >>> g_h, g_c = lstm_halves((0, Ellipsis), np.ones((2, 3, 4)))
    >>> g_h.shape, g_c, lstm_halves((0, 1), np.ones((3, 4)))
    ((2, 3, 4), None, None)
    """
    first = key[0] if key else None
    if first.__class__ is not int or first not in (0, 1, -1, -2) or values.ndim != ndim:
        return None
    if any(k is not Ellipsis and k != slice(None) for k in key[1:]):
        return None
    return (values, None) if first in (0, -2) else (None, values)



def lstm_kernels(np, matmul, stepped, recurrent_product, floats, rings):
    """``{"lstm_scan": Kernel, "lstm_layer": Kernel}`` for arrays of ``np``, on the scans'
    shared products and rings (``scans.scan_kernels`` makes them; ``rings``: ``(new_ring,
    gradient_ring, add_product)``)."""
    new_ring, gradient_ring, add_product = rings
    one_step_forward, one_step_vjp = lstm_one_step(np, matmul, add_product)

    def sigmoid_halves(H, dt):
        """A (4H,) row: 0.5 on the i, f, o columns, 1 on g's (sigmoid(z) = tanh(z / 2) / 2 +
        1 / 2: one ``tanh`` makes all four gates)."""
        half = np.full(4 * H, 0.5, dtype=dt)
        half[2 * H:3 * H] = 1.0
        return half

    def lstm_steps(seq, c0, acts, product):
        """The forward recursion into the states ``seq`` (2, B, T, H), from ``acts`` (T, B,
        4H), which holds each step's input projection: ``product(t, hs)`` adds step ``t``'s
        recurrent product (of ``hs[t - 1]`` after step 0) to ``acts[t]``, both with their i, f,
        o columns halved (the sigmoids' ``z / 2``). Returns each step's ``c_t``, ``h_t`` (T, B,
        H) and activations ``gates`` (T, 4, B, H), time-major: made there, contiguous (a column
        slice of ``seq`` or ``acts`` as an operand or output costs a (64, 128) float32 ufunc
        ~2.4 us more per step: one inner loop per row), and ``hs`` copied into ``seq`` once.
        One ``tanh`` over the whole gate block makes all four; a copy puts them gate-major,
        where the sigmoids' ``t / 2 + 1 / 2`` and every later pass run on whole blocks.
        ``tanh(c_t)`` is not kept: the backward makes it again from ``c_t``, which it has just
        read (writing it to memory here cost more, and (T, B, H) floats). Gates ordered
        ``[i | f | o | g]`` (4 ufunc calls a step fewer, bytes the same) measured no faster;
        nor did ``acts`` gate-major (4, T, B, H), each gate's product apart and no copy (the
        step 3% slower), nor ``h_t`` and ``c_t`` copied into ``seq`` (and ``xh``) a step or a
        block of steps at a time while in cache (the forward 3% slower: the writes miss)."""
        _, B, T, H = seq.shape
        cs, hs = (np.empty((T, B, H), dtype=seq.dtype) for _ in range(2))
        gates = np.reshape(acts, (T, 4, B, H))     # each step's, in place of its projection
        a = np.empty((B, 4, H), dtype=seq.dtype)
        ig, tc = (np.empty((B, H), dtype=seq.dtype) for _ in range(2))
        multiply, add, tanh, copyto = np.multiply, np.add, np.tanh, np.copyto
        c = c0
        # each step's views made by the iterators (Python indexing cost ~1 us more a step)
        for t, (block, rows, (i, f, g, o), i_f, c_t, h_t) in enumerate(zip(
                np.reshape(acts, (T, B, 4, H)), gates.transpose(0, 2, 1, 3), gates,
                gates[:, :2], cs, hs)):
            product(t, hs)
            tanh(block, out=a)
            copyto(rows, a)
            multiply(i_f, 0.5, out=i_f)               # the sigmoids: [i | f | g | o]
            add(i_f, 0.5, out=i_f)
            multiply(o, 0.5, out=o)
            add(o, 0.5, out=o)
            multiply(f, c, out=c_t)
            multiply(i, g, out=ig)
            add(c_t, ig, out=c_t)
            tanh(c_t, out=tc)
            multiply(o, tc, out=h_t)
            c = c_t
        seq[0] = np.swapaxes(hs, 0, 1)
        seq[1] = np.swapaxes(cs, 0, 1)
        return cs, hs, gates

    def halved(w, H):
        """``w`` (., 4H) with its i, f, o columns halved (exact: a power of two)."""
        return w * sigmoid_halves(H, w.dtype)

    def lstm_forward(xproj, h0, c0, w_hh):
        if not floats(xproj, h0, c0, w_hh):
            return None
        B, T, G = xproj.shape
        H = G // 4
        seq = np.empty((2, B, T, H), dtype=xproj.dtype)   # written in place, step by step
        acts = np.multiply(np.swapaxes(xproj, 0, 1), sigmoid_halves(H, xproj.dtype))
        cs, _, gates = lstm_steps(seq, c0, acts, recurrent_product(h0, halved(w_hh, H), acts))
        return seq, (seq, gates, cs)

    def add_step(out, part, t, carry):
        """``out`` <- ``part[:, t] + carry``, where a None stands for zeros."""
        if part is None:
            out[...] = 0 if carry is None else carry
        elif carry is None:
            out[...] = part[:, t]
        else:
            np.add(carry, part[:, t], out=out)

    def lstm_steps_back(g_h, g_c, saved, c0, w_hh, dz_ring, flush=None, needs_h0c0=(True, True)):
        """The backward recursion for the output gradients ``g_h`` and ``g_c`` (B, T, H; None:
        zeros): step ``t``'s gate gradients into ``dz_ring[t % K]`` (K = ``len(dz_ring)``,
        at least 2, or all T); after step ``t0`` (a multiple of K) ``flush(t0, dz_ring[:n])``
        gets the gradients of steps ``t0 .. t0 + n - 1``, before later steps overwrite them.
        Returns the gradients of ``h0`` and ``c0`` (None where ``needs_h0c0`` says so: step
        0's are not made). A ring of a few steps stays in cache, where writing every step's
        gradients into one (T, B, 4H) array made each step's writes miss it (making the
        factors that read neither ``gh`` nor ``gc`` a block of steps at a time: +0.4-1.5 ms)."""
        seq, gates, cs = saved[:3]
        _, B, T, H = seq.shape
        G, K = 4 * H, len(dz_ring)
        w_t = recurrent_transpose(np, w_hh, T)
        tmp, dh0, tc = (np.empty((B, H), dtype=seq.dtype) for _ in range(3))
        ghs, back = gradient_ring(g_h, dz_ring, w_t, T)
        # gc and the next step's dc take turns in two buffers: without g_c, gc is that dc
        gcs = [np.zeros((B, H), dtype=seq.dtype) for _ in range(2)]
        # a step's gate gradients and d act / d z, gate-major: whole blocks, copied into dz
        dz_gates, deriv = (np.empty((4, B, H), dtype=seq.dtype) for _ in range(2))
        multiply, subtract, add, tanh = np.multiply, np.subtract, np.add, np.tanh
        deriv_i_f, deriv_g, deriv_o, dz_o = deriv[:2], deriv[2], deriv[3], dz_gates[3]
        dz_rows, dz_gates_rows = np.reshape(dz_ring, (K, B, 4, H)), dz_gates.transpose(1, 0, 2)
        dc = None
        for t, (i, f, g, o), i_f, c_t in zip(range(T - 1, -1, -1), gates[::-1],
                                             gates[::-1, :2], cs[::-1]):
            tanh(c_t, out=tc)                         # c_t: step t + 1's c_prev, in cache
            c_prev = c0 if t == 0 else cs[t - 1]
            slot = t % K
            gh = ghs[slot]
            gc = gcs[(T - 1 - t) % 2]
            if g_c is not None:
                add_step(gc, g_c, t, dc)
            subtract(1.0, i_f, out=deriv_i_f)         # sigmoid: a (1 - a)
            multiply(deriv_i_f, i_f, out=deriv_i_f)
            subtract(1.0, o, out=deriv_o)
            multiply(deriv_o, o, out=deriv_o)
            multiply(g, g, out=deriv_g)               # tanh: 1 - a^2
            subtract(1.0, deriv_g, out=deriv_g)
            multiply(gh, tc, out=dz_o)                # o's, before d act / d z
            multiply(dz_o, tc, out=tmp)               # gc += o (gh - gh tanh(c)^2): from
            subtract(gh, tmp, out=tmp)                # tanh(c) made as the forward did
            multiply(tmp, o, out=tmp)                 # (reading the saved h cost more)
            add(gc, tmp, out=gc)
            multiply(gc, g, out=dz_gates[0])
            multiply(gc, c_prev, out=dz_gates[1])
            multiply(gc, i, out=dz_gates[2])
            multiply(dz_gates, deriv, out=dz_gates)
            np.copyto(dz_rows[slot], dz_gates_rows)
            if t or needs_h0c0[1]:
                dc = multiply(gc, f, out=gcs[(T - t) % 2])
            if t:
                back(t)
            elif needs_h0c0[0]:
                stepped(dz_ring, w_t, dh0)(0)
            if flush is not None and not slot:
                flush(t, dz_ring[:min(K, T - t)])
        return (dh0 if needs_h0c0[0] else None), (dc if needs_h0c0[1] else None)

    def lstm_vjp(g, saved, xproj, h0, c0, w_hh):
        return lstm_vjp_parts(g[0], g[1], saved, h0, c0, w_hh)

    def lstm_vjp_sliced(key, values, saved, xproj, h0, c0, w_hh):
        parts = lstm_halves(key, values)
        return None if parts is None else lstm_vjp_parts(*parts, saved, h0, c0, w_hh)

    def lstm_vjp_parts(g_h, g_c, saved, h0, c0, w_hh):
        seq = saved[0]
        _, B, T, H = seq.shape          # xproj: unused (a stand-in)
        dz_all = np.empty((B, T, 4 * H), dtype=seq.dtype)
        dh, dc = lstm_steps_back(g_h, g_c, saved, c0, w_hh, np.swapaxes(dz_all, 0, 1))
        h_prev = np.concatenate([h0[:, None, :], seq[0, :, :-1]], axis=1)
        dw = matmul(h_prev.reshape(B * T, H).T, dz_all.reshape(B * T, 4 * H))
        return dz_all, dh, dc, dw

    def lstm_layer_forward(x, h0, c0, w_ih, w_hh, b):
        """The time-major rows ``xh`` (T, B, I + 1 + H) hold ``[x_t | 1 | h_{t-1}]``: one
        product of their ``[x_t | 1]`` with ``[w_ih; b]`` projects every step's input, each
        step adds ``h_{t-1} @ w_hh`` onto its own (the gemm's beta), and one product of
        ``xh`` gives the gradients of all three. (``h_t`` kept out of ``xh``, no copy after the
        scan: the forward 3-9% faster, the backward as much slower, with two products for the
        gradients or the copy made there a block at a time.)"""
        if not floats(x, h0, c0, w_ih, w_hh, b):
            return None
        B, T, I = x.shape
        if T == 1:
            return one_step_forward(x, h0, c0, w_ih, w_hh, b)
        H = h0.shape[1]
        xh = np.empty((T, B, I + 1 + H), dtype=x.dtype)
        xh[:, :, :I] = np.swapaxes(x, 0, 1)
        xh[:, :, I] = 1.0
        xh[0, :, I + 1:] = h0
        acts = np.empty((T, B, 4 * H), dtype=x.dtype)
        matmul(np.reshape(xh, (T * B, I + 1 + H))[:, :I + 1],
               halved(np.concatenate([w_ih, b[None]]), H), out=np.reshape(acts, (T * B, 4 * H)))
        seq = np.empty((2, B, T, H), dtype=x.dtype)
        cs, hs, gates = lstm_steps(seq, c0, acts, recurrent_product(h0, halved(w_hh, H), acts))
        xh[1:, :, I + 1:] = hs[:-1]
        return seq, (seq, gates, cs, xh)

    def lstm_layer_vjp(g, saved, needs, x, h0, c0, w_ih, w_hh, b):
        return lstm_layer_vjp_parts(g[0], g[1], saved, needs, h0, c0, w_ih, w_hh)

    def lstm_layer_vjp_sliced(key, values, saved, needs, x, h0, c0, w_ih, w_hh, b):
        parts = lstm_halves(key, values)
        return None if parts is None else lstm_layer_vjp_parts(*parts, saved, needs, h0, c0,
                                                               w_ih, w_hh)

    def lstm_layer_vjp_parts(g_h, g_c, saved, needs, h0, c0, w_ih, w_hh):
        """The gate gradients go through a ring of ``ring_steps`` steps: each block of them
        adds its part of the weights' gradient (one product with its rows of ``xh``) and
        writes its rows of ``dx`` while in cache."""
        xh = saved[3]
        T, B, IH = xh.shape
        if T == 1:
            return one_step_vjp(g_h, g_c, saved, needs, h0, c0, w_ih, w_hh)
        G = w_hh.shape[1]
        I = IH - 1 - G // 4
        dz_ring = new_ring(T, B, G, xh.dtype)
        dw = np.empty((IH, G), dtype=xh.dtype) if any(needs[3:]) else None
        dx_tm = np.empty((T, B, I), dtype=xh.dtype) if needs[0] else None
        w_ih_t = np.swapaxes(w_ih, 0, 1)

        def flush(t0, block):
            n = len(block)
            rows = np.reshape(block, (n * B, G))
            if dw is not None:
                add_product(dw, np.reshape(xh[t0:t0 + n], (n * B, IH)).T, rows, t0 + n == T)
            if dx_tm is not None:
                matmul(rows, w_ih_t, out=np.reshape(dx_tm[t0:t0 + n], (n * B, I)))

        dh, dc = lstm_steps_back(g_h, g_c, saved, c0, w_hh, dz_ring, flush, needs[1:3])
        dx = None if dx_tm is None else np.ascontiguousarray(np.swapaxes(dx_tm, 0, 1))
        return (dx, dh, dc,
                dw[:I] if needs[3] else None, dw[I + 1:] if needs[4] else None,
                dw[I] if needs[5] else None)

    def lstm_cell_forward(x, h0, c0, w_ih, w_hh, b):
        """``lstm_cell``: the one-step layer's on ``x[:, None]``, its states (2, B, H)."""
        if not floats(x, h0, c0, w_ih, w_hh, b):
            return None
        seq, saved = one_step_forward(x[:, None], h0, c0, w_ih, w_hh, b)
        return seq[:, :, 0], saved

    def lstm_cell_parts(g_h, g_c, saved, needs, h0, c0, w_ih, w_hh):
        dx, *others = one_step_vjp(None if g_h is None else g_h[:, None],
                                   None if g_c is None else g_c[:, None], saved, needs, h0, c0,
                                   w_ih, w_hh)
        return (None if dx is None else dx[:, 0], *others)

    def lstm_cell_vjp(g, saved, needs, x, h0, c0, w_ih, w_hh, b):
        # g: the (2, B, H) states' gradient, or the list of h's and c's (each None, an array
        # or a Scatter) where the tape recorded them as its pieces (``_record_pieces``)
        g_h, g_c = g[0], g[1]
        if g_h.__class__ is Scatter:
            g_h = g_h.dense(np)
        if g_c.__class__ is Scatter:
            g_c = g_c.dense(np)
        return lstm_cell_parts(g_h, g_c, saved, needs, h0, c0, w_ih, w_hh)

    def lstm_cell_vjp_sliced(key, values, saved, needs, x, h0, c0, w_ih, w_hh, b):
        parts = lstm_halves(key, values, 2)
        return None if parts is None else lstm_cell_parts(*parts, saved, needs, h0, c0, w_ih,
                                                          w_hh)

    # the LSTM's vjp reads only the shape and dtype of xproj (its largest input)
    return {"lstm_cell": Kernel(lstm_cell_forward, lstm_cell_vjp, saves=(2, 3, 4), needs=True,
                                vjp_sliced=lstm_cell_vjp_sliced),
            "lstm_scan": Kernel(lstm_forward, lstm_vjp, saves=(1, 2, 3),
                                vjp_sliced=lstm_vjp_sliced),
            "lstm_layer": Kernel(lstm_layer_forward, lstm_layer_vjp, saves=(2, 3, 4),
                                 needs=True, vjp_sliced=lstm_layer_vjp_sliced)}
