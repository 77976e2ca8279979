"""The Elman RNN's and GRU's layer kernels (``rnn_layer``, ``gru_layer``: the input projection
and the scan, ``xpgrad/ops/projected_scans.py``) for any module with NumPy's API and ``out=``,
built on the scans' steps of ``gated_scans.py``.

The forward projects every step's input with one product of the time-major rows ``[x_t | 1]``
and ``[w_ih; b]`` straight into the scan's pre-activations, so no (B, T, G) projection is made
apart; the backward's ring of gate gradients gives each block of steps' part of ``[dw_ih; db]``
(one product with the block's rows ``[x_t | 1]``, copied from ``x`` a block at a time) and its
rows of ``dx``, so no (B, T, G) gradient of the projection is made either. The Elman RNN's
``vjp_in_place`` (an output gradient nothing else holds, a loss's) writes its pre-activation
gradients over that gradient instead, as Numba's kernel, and needs no ring at all. The GRU
saves its gates ``[r | z]`` alone (its n projection, made apart, is gone after the forward):
the backward makes each block of steps' n again from the block's rows ``[x_t | 1]``, which it
copies for the input gradients anyway (saved gates of 2H floats a step, not 3H).

>>> import numpy as np
>>> from xpgrad.backends.numpy.scans import scan_kernels
>>> kern = scan_kernels(np)["rnn_layer"]
>>> seq, saved = kern.forward(np.ones((2, 3, 1)), np.zeros((2, 4)), np.ones((1, 4)),
...                           np.zeros((4, 4)), np.zeros(4), "relu")
>>> seq[0, 0].tolist()
[1.0, 1.0, 1.0, 1.0]
"""
from __future__ import annotations

from xpgrad.backend import Kernel

from .gated_step import gru_one_step, rnn_one_step


def hidden_weight_grad_for(np, matmul, add_product):
    """``hidden_weight_grad(da, seq, h0)``: an Elman RNN's ``dw_hh``, ``sum_t h_{t-1}^T da_t``,
    from its pre-activation gradients ``da`` and states ``seq`` (B, T, H, both C-ordered):
    ``h0``'s product with step 0's rows, then one product of the states' rows with the next
    rows of ``da``, whose step-0 rows (another batch row's) it zeroes, so ``da`` is spent.
    Where a batch row's last state (no step's ``h_{t-1}``) is inf or NaN, its zero row would
    give NaN: then one product per batch row, as the generic rule and PyTorch, which never
    multiply it.

    >>> import numpy as np
    >>> from xpgrad.backends.numpy.scan_products import add_product_for
    >>> grad = hidden_weight_grad_for(np, np.matmul, add_product_for(np))
    >>> seq = np.array([[[1.0], [np.inf]], [[2.0], [3.0]]])
    >>> grad(np.ones((2, 2, 1)), seq, np.ones((2, 1))).tolist()
    [[5.0]]
    """

    def hidden_weight_grad(da, seq, h0):
        B, T, H = seq.shape
        dw = matmul(np.swapaxes(h0, 0, 1), da[:, 0]) if T else np.zeros((H, H), seq.dtype)
        if T < 2:
            return dw
        if bool(np.isfinite(seq[:-1, -1]).all()):
            da[1:, 0] = 0
            add_product(dw, np.reshape(seq, (B * T, H))[:-1].T,
                        np.reshape(da, (B * T, H))[1:], False)
        else:
            for b in range(B):
                add_product(dw, seq[b, :-1].T, da[b, 1:], False)
        return dw
    return hidden_weight_grad


def layer_kernels(np, matmul, floats, new_ring, add_product, steps):
    """``{"rnn_layer": Kernel, "gru_layer": Kernel, "rnn_cell": Kernel, "gru_cell": Kernel}``
    for the module ``np``, from
    ``scan_kernels``'s ``matmul``, ``floats``, ``new_ring`` and ``add_product`` and the steps of
    ``gated_kernels`` (``steps``: its ``rnn_steps``, ``gru_steps`` and their backwards, and
    ``relu``, ``relu_gradient``). The cells, and the layers of one step, run ``gated_step.py``'s
    closed forms."""
    gru_cell_forward, gru_cell_vjp = gru_one_step(np, matmul)
    rnn_cell_forward, rnn_cell_vjp = rnn_one_step(np, matmul, steps["relu"],
                                                  steps["relu_gradient"])

    def one_step_layer(cell_forward, cell_vjp):
        """A layer's forward and vjp at T = 1 (``x`` (B, 1, I), ``seq`` (B, 1, H)) from its
        cell's; the vjp passes any arguments after ``h0`` on (the RNN's ``in_place``)."""
        def forward(x, h0, *rest):
            h, saved = cell_forward(x[:, 0], h0, *rest)
            seq = h[:, None]
            return seq, (seq, *saved[1:])

        def vjp(g, saved, needs, x, h0, *rest):
            dx, *others = cell_vjp(g[:, 0], (saved[0][:, 0], *saved[1:]), needs, x[:, 0], h0,
                                   *rest)
            return (None if dx is None else dx[:, None], *others)
        return forward, vjp
    gru_step_forward, gru_step_vjp = one_step_layer(gru_cell_forward, gru_cell_vjp)
    rnn_step_forward, rnn_step_vjp = one_step_layer(rnn_cell_forward, rnn_cell_vjp)

    def projected(x, w_ih, b, scale=None, widths=None):
        """The time-major pre-activations (T, B, G) ``x_t @ w_ih + b`` (its columns times
        ``scale`` (G,) where given) by one product of the rows ``[x_t | 1]``; given
        ``widths``, a list of its pieces of those many consecutive columns, one product each."""
        B, T, I = x.shape
        xt = np.empty((T, B, I + 1), dtype=x.dtype)
        xt[:, :, :I] = np.swapaxes(x, 0, 1)
        xt[:, :, I] = 1.0
        weights = np.concatenate([w_ih, b[None]])
        if scale is not None:
            weights *= scale
        pieces, start = [], 0
        for width in widths or (w_ih.shape[1],):
            piece = np.empty((T, B, width), dtype=x.dtype)
            matmul(np.reshape(xt, (T * B, I + 1)),
                   np.ascontiguousarray(weights[:, start:start + width]),
                   out=np.reshape(piece, (T * B, width)))
            pieces.append(piece)
            start += width
        return pieces if widths else pieces[0]

    def input_rows(x, K):
        """``fill(t0, n)``: steps ``t0 .. t0 + n - 1`` of ``x`` copied time-major into the
        rows (n * B, I + 1) of a buffer of K steps, before their column of ones (the bias's)."""
        B, T, I = x.shape
        rows = np.empty((K, B, I + 1), dtype=x.dtype)
        rows[:, :, I] = 1.0

        def fill(t0, n):
            rows[:n, :, :I] = np.swapaxes(x[:, t0:t0 + n], 0, 1)
            return np.reshape(rows[:n], (n * B, I + 1))
        return fill

    def input_grads(x, needs):
        """``(add, result)``: ``add(t0, n, x_rows, parts)`` adds steps ``t0 .. t0 + n - 1``'s
        part of ``[dw_ih; db]`` (its product with the block's rows ``x_rows`` (n * B, I + 1))
        and writes their rows of ``dx``, where ``parts`` are ``(rows (n * B, g), w_t (g, I))``,
        the block's projection gradient in pieces of consecutive columns; ``result()`` gives
        ``(dx, dw_ih, db)``, each None where ``needs`` does not want it."""
        B, T, I = x.shape
        dx_tm = np.empty((T, B, I), dtype=x.dtype) if needs[0] else None
        wants_dw = needs[2] or needs[4]
        dwb = []                                  # [dw_ih; db] by the parts' columns

        def add(t0, n, x_rows, parts):
            last = t0 + n == T                    # the backward's first block
            if wants_dw:
                if last:
                    dwb[:] = [np.empty((I + 1, rows.shape[1]), dtype=x.dtype)
                              for rows, _ in parts]
                for out, (rows, _) in zip(dwb, parts):
                    add_product(out, x_rows.T, rows, last)
            if dx_tm is not None:
                out = np.reshape(dx_tm[t0:t0 + n], (n * B, I))
                for j, (rows, w_t) in enumerate(parts):
                    add_product(out, rows, w_t, j == 0)

        def result():
            dx = None if dx_tm is None else np.ascontiguousarray(np.swapaxes(dx_tm, 0, 1))
            whole = np.concatenate(dwb, axis=1) if wants_dw else None
            return (dx, whole[:I] if needs[2] else None, whole[I] if needs[4] else None)
        return add, result

    def rnn_layer_forward(x, h0, w_ih, w_hh, b, nonlinearity):
        if not floats(x, h0, w_ih, w_hh, b):
            return None
        if x.shape[1] == 1:
            return rnn_step_forward(x, h0, w_ih, w_hh, b, nonlinearity)
        seq = steps["rnn_steps"](projected(x, w_ih, b), h0, w_hh, nonlinearity)
        return seq, (seq,)

    def rnn_layer_vjp(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity):
        (seq,) = saved
        B, T, H = seq.shape
        if T == 1:
            return rnn_step_vjp(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity)
        I = x.shape[2]
        # a step's H of the rings' 3H (da, gh, states) and its rows of x
        da_ring = new_ring(T, B, H, seq.dtype, 3 * H + I + 1)
        fill = input_rows(x, len(da_ring))
        w_ih_t = np.ascontiguousarray(np.swapaxes(w_ih, 0, 1))
        add, result = input_grads(x, needs)

        def flush(t0, block):
            n = len(block)
            add(t0, n, fill(t0, n), [(np.reshape(block, (n * B, H)), w_ih_t)])
        dh0, dw_hh = steps["rnn_steps_back"](g, seq, h0, w_hh, nonlinearity, da_ring, flush)
        dx, dw_ih, db = result()
        return dx, dh0, dw_ih, dw_hh if needs[3] else None, db

    hidden_weight_grad = hidden_weight_grad_for(np, matmul, add_product)

    def rnn_layer_vjp_in_place(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity):
        """The pre-activation gradients written over ``g`` (``steps``'
        ``rnn_steps_back_in_place``), then ``dx``, ``dw_ih``, ``db`` and ``dw_hh`` from its rows
        by one product (or sum) each; the ring's ``rnn_layer_vjp`` where ``g`` is not a
        C-ordered writeable array of the output's shape and dtype."""
        (seq,) = saved
        if g.shape != seq.shape or g.dtype != seq.dtype or not g.flags.c_contiguous \
                or not getattr(g.flags, "writeable", True):       # CuPy's have no such flag
            return rnn_layer_vjp(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity)
        if seq.shape[1] == 1:
            return rnn_step_vjp(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity, True)
        B, T, H = seq.shape
        I = x.shape[2]
        dh0 = steps["rnn_steps_back_in_place"](g, seq, w_hh, nonlinearity)
        rows = np.reshape(g, (B * T, H))
        dx = np.reshape(matmul(rows, np.swapaxes(w_ih, 0, 1)), (B, T, I)) if needs[0] else None
        dw_ih = matmul(np.reshape(x, (B * T, I)).T, rows) if needs[2] else None
        db = rows.sum(axis=0) if needs[4] else None
        dw_hh = hidden_weight_grad(g, seq, h0) if needs[3] else None       # the last: it zeroes
        return dx, dh0, dw_ih, dw_hh, db

    def gru_layer_forward(x, h0, w_ih, w_hh, b, b_hn):
        if not floats(x, h0, w_ih, w_hh, b, b_hn):
            return None
        if x.shape[1] == 1:
            return gru_step_forward(x, h0, w_ih, w_hh, b, b_hn)
        H = h0.shape[1]
        scale = np.ones(3 * H, dtype=x.dtype)
        scale[:2 * H] = 0.5                   # the r and z columns halved (gated_scans' gru)
        rz, xn = projected(x, w_ih, b, scale, (2 * H, H))
        seq = steps["gru_steps"](rz, h0, w_hh, b_hn, xn)
        return seq, (seq, rz)              # n: made again by the backward, a block at a time

    def gru_layer_vjp(g, saved, needs, x, h0, w_ih, w_hh, b, b_hn):
        seq = saved[0]
        B, T, H = seq.shape
        if T == 1:
            return gru_step_vjp(g, saved, needs, x, h0, w_ih, w_hh, b, b_hn)
        I = x.shape[2]
        # [dr | dz | dn r] and n, then dn: a step's 4H of the rings' 7H (gh's, the states',
        # hn's) and x's rows, counted as 8H: fewer steps (3 at B=64, H=128, I=64 for 4), a
        # lower peak of the training step (-0.23 MiB) for 1-3 % of its time
        da_ring = new_ring(T, B, 3 * H, seq.dtype, 8 * H + I + 1)
        K = len(da_ring)
        dn_ring = np.empty((K, B, H), dtype=seq.dtype)
        fill = input_rows(x, K)
        w_n = np.concatenate([w_ih[:, 2 * H:], b[None, 2 * H:]])
        x_rows = []                               # the block's, for its n and then flush

        def gates(t0, n, hns):
            """The block's ``[r | z]`` and its n made again, ``tanh(x_n + r hn)`` (the
            forward's operations), into the dn ring (each step's dn is written over its n),
            with the block's slots of ``da_ring`` as the workspace."""
            x_rows[:] = [fill(t0, n)]
            r = saved[1][t0:t0 + n, :, :H]
            ns = dn_ring[:n]
            matmul(x_rows[0], w_n, out=np.reshape(ns, (n * B, H)))
            ns += np.multiply(r, hns, out=da_ring[:n, :, :H])
            return saved[1][t0:t0 + n], np.tanh(ns, out=ns)
        w_ih_t = np.swapaxes(w_ih, 0, 1)
        w_rz_t, w_n_t = ((np.ascontiguousarray(w_ih_t[:2 * H]), np.ascontiguousarray(
            w_ih_t[2 * H:])) if needs[0] else (None, None))      # dx's alone
        add, result = input_grads(x, needs)

        def flush(t0, block):
            n = len(block)
            rz = np.reshape(block, (n * B, 3 * H))[:, :2 * H]
            dn = np.reshape(dn_ring[:n], (n * B, H))
            add(t0, n, x_rows[0], [(rz, w_rz_t), (dn, w_n_t)])
        dh0, dw_hh, db_hn = steps["gru_steps_back"](g, saved, h0, w_hh, b_hn, da_ring,
                                                    lambda t, slot: dn_ring[slot], flush, gates)
        dx, dw_ih, db = result()
        return (dx, dh0, dw_ih, dw_hh if needs[3] else None, db,
                db_hn if needs[5] else None)

    def gru_cell(x, h0, w_ih, w_hh, b, b_hn):
        return gru_cell_forward(x, h0, w_ih, w_hh, b, b_hn) if floats(
            x, h0, w_ih, w_hh, b, b_hn) else None

    def rnn_cell(x, h0, w_ih, w_hh, b, nonlinearity):
        return rnn_cell_forward(x, h0, w_ih, w_hh, b, nonlinearity) if floats(
            x, h0, w_ih, w_hh, b) else None

    def rnn_cell_vjp_in_place(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity):
        in_place = (g.shape == saved[0].shape and g.dtype == saved[0].dtype
                    and g.flags.c_contiguous and getattr(g.flags, "writeable", True))
        return rnn_cell_vjp(g, saved, needs, x, h0, w_ih, w_hh, b, nonlinearity, in_place)

    # the vjps read x (its rows, a block at a time), h0, the weights and b_hn; the GRU's b
    # too (its n made again), the Elman RNN's never b; the cells' neither b nor b_hn
    return {"rnn_cell": Kernel(rnn_cell, rnn_cell_vjp, saves=(0, 1, 2, 3), needs=True,
                               vjp_in_place=rnn_cell_vjp_in_place),
            "gru_cell": Kernel(gru_cell, gru_cell_vjp, saves=(0, 1, 2, 3), needs=True),
            "rnn_layer": Kernel(rnn_layer_forward, rnn_layer_vjp, saves=(0, 1, 2, 3),
                                needs=True, vjp_in_place=rnn_layer_vjp_in_place),
            "gru_layer": Kernel(gru_layer_forward, gru_layer_vjp, saves=(0, 1, 2, 3, 4, 5),
                                needs=True)}
