"""Recurrent scans as primitives: one tape node runs a whole sequence, forward and backward.

``lstm_scan(xproj, h0, c0, w_hh) -> (B, T, 2H)``: ``[h_t | c_t]`` for every step, where
``xproj`` (B, T, 4H) is the input projection ``x_t @ w_ih + b`` computed for all steps at once.
Gates are in PyTorch's order (i, f, g, o)::

    z_t = xproj[:, t] + h_{t-1} @ w_hh            (w_hh: (H, 4H))
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
    c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

``rnn_scan(xproj, h0, w_hh, nonlinearity) -> (B, T, H)``:
``h_t = act(xproj[:, t] + h_{t-1} @ w_hh)`` with ``act`` tanh or relu.

Why a whole sequence per node: a per-step graph slices the (B, T, .) projection T times, and
each slice's gradient is a full (B, T, .) array -- O(T^2) work and memory in the backward pass --
besides paying the tape's per-op cost several times per step. One node keeps the tape O(1) in T.

The generic rules below are the reference (higher-order gradients, backends without the
kernel): each re-runs the backward recursion for its own argument, recomputing the gates from
the inputs. ``kernels(np)`` builds the fused first-order Kernels for a backend whose arrays
follow NumPy's API with ``out=`` (NumPy, CuPy): the forward saves the gate activations, the vjp
runs the recursion once for all inputs.

>>> import xpgrad as xg
>>> B, T, H = 2, 5, 3
>>> h0 = c0 = xg.zeros((B, H))
>>> seq = lstm_scan(xg.ones((B, T, 4 * H)), h0, c0, xg.zeros((H, 4 * H)))
>>> seq.shape
(2, 5, 6)
"""
from __future__ import annotations

from ..backend import Kernel
from ..primitive import Primitive, apply

NONLINEARITIES = ("tanh", "relu")


# -- shared pieces ------------------------------------------------------------------------------
def _sigmoid(xp, x):
    return 0.5 * xp.tanh(0.5 * x) + 0.5      # = 1 / (1 + exp(-x)), with no overflow


def _lstm_gates(xp, z, H):
    return (_sigmoid(xp, z[:, :H]), _sigmoid(xp, z[:, H:2 * H]), xp.tanh(z[:, 2 * H:3 * H]),
            _sigmoid(xp, z[:, 3 * H:]))


def _previous_h(xp, h0, seq, H):
    """(B, T, H): the state each step starts from, ``[h0, h_1, ..., h_{T-1}]``."""
    B = h0.shape[0]
    return xp.concat([xp.reshape(h0, (B, 1, H)), seq[:, :-1, :H]], axis=1)


def _weight_grad(xp, h_prev, dz):
    """``sum_t h_{t-1}^T dz_t`` as one matrix product over all (batch, step) rows."""
    B, T, H = h_prev.shape
    return xp.matmul(xp.matrix_transpose(xp.reshape(h_prev, (B * T, H))),
                     xp.reshape(dz, (B * T, dz.shape[-1])))


# -- LSTM: generic forward and rules ------------------------------------------------------------
def _lstm_forward(xp, xproj, h0, c0, w_hh):
    H = h0.shape[-1]
    h, c = h0, c0
    hs, cs = [], []
    for t in range(xproj.shape[1]):
        i, f, g, o = _lstm_gates(xp, xproj[:, t, :] + xp.matmul(h, w_hh), H)
        c = f * c + i * g
        h = o * xp.tanh(c)
        hs.append(h)
        cs.append(c)
    return xp.concat([xp.stack(hs, axis=1), xp.stack(cs, axis=1)], axis=-1)


def _lstm_backward(xp, g, seq, xproj, h0, c0, w_hh):
    """``(dxproj, dh0, dc0)`` for the output gradient ``g`` (B, T, 2H); gates recomputed."""
    T, H = xproj.shape[1], h0.shape[-1]
    w_t = xp.matrix_transpose(w_hh)
    dh = dc = None
    dzs = []
    for t in range(T - 1, -1, -1):
        h_prev = h0 if t == 0 else seq[:, t - 1, :H]
        c_prev = c0 if t == 0 else seq[:, t - 1, H:]
        i, f, gg, o = _lstm_gates(xp, xproj[:, t, :] + xp.matmul(h_prev, w_hh), H)
        tc = xp.tanh(seq[:, t, H:])
        gh = g[:, t, :H] if dh is None else g[:, t, :H] + dh
        gc = g[:, t, H:] + gh * o * (1.0 - tc * tc)
        if dc is not None:
            gc = gc + dc
        dz = xp.concat([gc * gg * i * (1.0 - i), gc * c_prev * f * (1.0 - f),
                        gc * i * (1.0 - gg * gg), gh * tc * o * (1.0 - o)], axis=1)
        dzs.append(dz)
        dh = xp.matmul(dz, w_t)
        dc = gc * f
    return xp.stack(dzs[::-1], axis=1), dh, dc


def _lstm_dxproj(xp, g, ans, xproj, h0, c0, w_hh):
    return _lstm_backward(xp, g, ans, xproj, h0, c0, w_hh)[0]


def _lstm_dh0(xp, g, ans, xproj, h0, c0, w_hh):
    return _lstm_backward(xp, g, ans, xproj, h0, c0, w_hh)[1]


def _lstm_dc0(xp, g, ans, xproj, h0, c0, w_hh):
    return _lstm_backward(xp, g, ans, xproj, h0, c0, w_hh)[2]


def _lstm_dw(xp, g, ans, xproj, h0, c0, w_hh):
    dz = _lstm_backward(xp, g, ans, xproj, h0, c0, w_hh)[0]
    return _weight_grad(xp, _previous_h(xp, h0, ans, h0.shape[-1]), dz)


_lstm_scan = Primitive("lstm_scan", _lstm_forward, _lstm_dxproj, _lstm_dh0, _lstm_dc0, _lstm_dw)


# -- Elman RNN: generic forward and rules -------------------------------------------------------
def _act(xp, a, nonlinearity):
    return xp.tanh(a) if nonlinearity == "tanh" else xp.maximum(a, 0.0)


def _act_grad(xp, gh, h, nonlinearity):
    """The gradient through the nonlinearity, from its output ``h``."""
    if nonlinearity == "tanh":
        return gh * (1.0 - h * h)
    return xp.where(h > 0, gh, 0.0)


def _rnn_forward(xp, xproj, h0, w_hh, nonlinearity):
    h = h0
    hs = []
    for t in range(xproj.shape[1]):
        h = _act(xp, xproj[:, t, :] + xp.matmul(h, w_hh), nonlinearity)
        hs.append(h)
    return xp.stack(hs, axis=1)


def _rnn_backward(xp, g, seq, w_hh, nonlinearity):
    """``(da, dh0)``: the gradient of the pre-activations (B, T, H) and of ``h0``."""
    w_t = xp.matrix_transpose(w_hh)
    dh = None
    das = []
    for t in range(seq.shape[1] - 1, -1, -1):
        gh = g[:, t, :] if dh is None else g[:, t, :] + dh
        da = _act_grad(xp, gh, seq[:, t, :], nonlinearity)
        das.append(da)
        dh = xp.matmul(da, w_t)
    return xp.stack(das[::-1], axis=1), dh


def _rnn_dxproj(xp, g, ans, xproj, h0, w_hh, nonlinearity):
    return _rnn_backward(xp, g, ans, w_hh, nonlinearity)[0]


def _rnn_dh0(xp, g, ans, xproj, h0, w_hh, nonlinearity):
    return _rnn_backward(xp, g, ans, w_hh, nonlinearity)[1]


def _rnn_dw(xp, g, ans, xproj, h0, w_hh, nonlinearity):
    da = _rnn_backward(xp, g, ans, w_hh, nonlinearity)[0]
    H = h0.shape[-1]
    B = h0.shape[0]
    h_prev = xp.concat([xp.reshape(h0, (B, 1, H)), ans[:, :-1, :]], axis=1)
    return _weight_grad(xp, h_prev, da)


_rnn_scan = Primitive("rnn_scan", _rnn_forward, _rnn_dxproj, _rnn_dh0, _rnn_dw)


# -- public functions ---------------------------------------------------------------------------
def _check(name, xproj, states, w_hh, gates):
    from ..ops._define import as_tensor

    xproj, w_hh = as_tensor(xproj), as_tensor(w_hh)
    states = [as_tensor(s) for s in states]
    if xproj.ndim != 3:
        raise ValueError(f"{name}: xproj must be (batch, time, {gates}*hidden), got shape "
                         f"{xproj.shape}")
    B, T, G = xproj.shape
    H = states[0].shape[-1] if states[0].ndim == 2 else -1
    if T < 1:
        raise ValueError(f"{name}: the sequence is empty (time axis of length 0)")
    for s, what in zip(states, ("h0", "c0")):
        if s.shape != (B, H):
            raise ValueError(f"{name}: {what} must be (batch, hidden) = ({B}, hidden), got "
                             f"shape {s.shape}")
    if G != gates * H or w_hh.shape != (H, G):
        raise ValueError(f"{name}: with hidden size {H}, xproj's last axis must be {gates * H} "
                         f"and w_hh must be ({H}, {gates * H}); got {G} and {w_hh.shape}")
    dtypes = {t.dtype for t in (xproj, w_hh, *states)}
    if len(dtypes) != 1 or not next(iter(dtypes)).is_floating:
        raise TypeError(f"{name}: inputs must share one floating dtype, got "
                        f"{sorted(str(d) for d in dtypes)}")
    return xproj, states, w_hh


def lstm_scan(xproj, h0, c0, w_hh):
    """Run an LSTM over a precomputed input projection; returns ``[h_t | c_t]`` (B, T, 2H).

    >>> import xpgrad as xg
    >>> seq = lstm_scan(xg.zeros((1, 4, 8)), xg.zeros((1, 2)), xg.ones((1, 2)), xg.zeros((2, 8)))
    >>> seq[0, :, 2:].tolist()[0]   # c_1 = sigmoid(0) * c_0
    [0.5, 0.5]
    """
    xproj, (h0, c0), w_hh = _check("lstm_scan", xproj, (h0, c0), w_hh, 4)
    return apply(_lstm_scan, xproj, h0, c0, w_hh)


def rnn_scan(xproj, h0, w_hh, nonlinearity="tanh"):
    """Run an Elman RNN over a precomputed input projection; returns ``h_t`` (B, T, H).

    >>> import xpgrad as xg
    >>> rnn_scan(xg.ones((2, 3, 4)), xg.zeros((2, 4)), xg.zeros((4, 4)), "relu")[0, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    xproj, (h0,), w_hh = _check("rnn_scan", xproj, (h0,), w_hh, 1)
    return apply(_rnn_scan, xproj, h0, w_hh, nonlinearity=nonlinearity)


# -- fused first-order kernels (NumPy's API with out=; numpy itself, CuPy alike) ----------------
def kernels(np, lstm_cell_backward=None) -> dict:
    """``{"lstm_scan": Kernel, "rnn_scan": Kernel}`` for arrays of the NumPy-API module ``np``.

    ``lstm_cell_backward(g_h, g_c, dh, dc, a, tc, h, c_prev, dz)``, if given, replaces the
    NumPy calls of one backward step (a backend's fused loop): it writes the gate gradients into
    ``dz`` (B, 4H) and the gradient for c_{t-1} into ``dc`` (in place), from the step's output
    gradients ``g_h``/``g_c``, the gradients ``dh``/``dc`` from step t+1, the activations ``a``,
    ``tc = tanh(c_t)``, ``h_t`` and ``c_{t-1}``.

    The forward writes each step's ``h`` and ``c`` straight into the output (``out=``) and saves
    the gate activations and ``tanh(c)``; the vjp runs the backward recursion once for all
    inputs, writing each step's gradient into place. The same function as the generic rules
    (the tests compare them); float32 and float64 only (None: the generic rule runs).
    """
    def floats(*arrays):
        dt = arrays[0].dtype
        return all(a.dtype == dt for a in arrays) and (dt == np.float32 or dt == np.float64)

    def lstm_forward(xproj, h0, c0, w_hh):
        if not floats(xproj, h0, c0, w_hh):
            return None
        B, T, G = xproj.shape
        H = G // 4
        # sigmoid(z) = (tanh(z / 2) + 1) / 2: halve the i, f, o columns of z, one tanh for all
        half = np.full((G,), 0.5, dtype=xproj.dtype)
        half[2 * H:3 * H] = 1.0
        shift = half.copy()
        shift[2 * H:3 * H] = 0.0
        seq = np.empty((B, T, 2 * H), dtype=xproj.dtype)   # written in place, step by step
        acts, tcs = [], []
        ig = np.empty((B, H), dtype=xproj.dtype)
        h, c = h0, c0
        for t in range(T):
            a = np.matmul(h, w_hh)
            a += xproj[:, t, :]
            a *= half
            np.tanh(a, out=a)
            a *= half
            a += shift                                # [i | f | g | o] activations
            c_t = seq[:, t, H:]
            np.multiply(a[:, H:2 * H], c, out=c_t)
            np.multiply(a[:, :H], a[:, 2 * H:3 * H], out=ig)
            c_t += ig
            tc = np.tanh(c_t)
            h = np.multiply(a[:, 3 * H:], tc, out=seq[:, t, :H])
            c = c_t
            acts.append(a)
            tcs.append(tc)
        return seq, (seq, acts, tcs)

    def lstm_vjp(g, saved, xproj, h0, c0, w_hh):
        seq, acts, tcs = saved
        B, T, G = xproj.shape
        H = G // 4
        # d act / d z from the activations a: sigmoid a - a^2 (i, f, o), tanh 1 - a^2 (g)
        lin = np.ones((G,), dtype=xproj.dtype)
        lin[2 * H:3 * H] = 0.0
        const = 1.0 - lin
        w_t = np.ascontiguousarray(np.swapaxes(w_hh, 0, 1))   # BLAS: faster than the view
        dz_all = np.empty((B, T, G), dtype=xproj.dtype)
        gh, gc, tmp = (np.empty((B, H), dtype=xproj.dtype) for _ in range(3))
        deriv = np.empty((B, G), dtype=xproj.dtype)
        dh = dc = None
        if lstm_cell_backward is not None:
            dh, dc = np.zeros_like(h0), np.zeros_like(c0)
        for t in range(T - 1, -1, -1):
            a, tc = acts[t], tcs[t]
            c_prev = c0 if t == 0 else seq[:, t - 1, H:]
            dz = dz_all[:, t, :]
            if lstm_cell_backward is not None:
                lstm_cell_backward(g[:, t, :H], g[:, t, H:], dh, dc, a, tc, seq[:, t, :H],
                                   c_prev, dz)
                dh = np.matmul(dz, w_t)
                continue
            if dh is None:
                gh[...] = g[:, t, :H]
                gc[...] = g[:, t, H:]
            else:
                np.add(dh, g[:, t, :H], out=gh)
                np.add(dc, g[:, t, H:], out=gc)
            np.multiply(seq[:, t, :H], tc, out=tmp)   # gc += gh * o * (1 - tanh(c)^2),
            np.subtract(a[:, 3 * H:], tmp, out=tmp)  # where o tanh(c)^2 = h tanh(c)
            tmp *= gh
            gc += tmp
            np.multiply(gc, a[:, 2 * H:3 * H], out=dz[:, :H])
            np.multiply(gc, c_prev, out=dz[:, H:2 * H])
            np.multiply(gc, a[:, :H], out=dz[:, 2 * H:3 * H])
            np.multiply(gh, tc, out=dz[:, 3 * H:])
            np.subtract(lin, a, out=deriv)
            deriv *= a
            deriv += const
            dz *= deriv
            dh = np.matmul(dz, w_t)
            dc = np.multiply(gc, a[:, H:2 * H], out=dc)
        h_prev = np.concatenate([h0[:, None, :], seq[:, :-1, :H]], axis=1)
        dw = np.matmul(h_prev.reshape(B * T, H).T, dz_all.reshape(B * T, G))
        return dz_all, dh, dc.copy(), dw

    def rnn_forward(xproj, h0, w_hh, nonlinearity):
        if not floats(xproj, h0, w_hh):
            return None
        seq = np.empty(xproj.shape, dtype=xproj.dtype)
        h = h0
        for t in range(seq.shape[1]):
            a = np.matmul(h, w_hh)
            a += xproj[:, t, :]
            h = seq[:, t, :]
            if nonlinearity == "tanh":
                np.tanh(a, out=h)
            else:
                np.maximum(a, 0.0, out=h)
        return seq, seq

    def rnn_vjp(g, seq, xproj, h0, w_hh, nonlinearity):
        B, T, H = seq.shape
        w_t = np.ascontiguousarray(np.swapaxes(w_hh, 0, 1))
        da_all = np.empty((B, T, H), dtype=seq.dtype)
        dh = None
        for t in range(T - 1, -1, -1):
            da = da_all[:, t, :]
            h = seq[:, t, :]
            if dh is None:
                da[...] = g[:, t, :]
            else:
                np.add(dh, g[:, t, :], out=da)
            if nonlinearity == "tanh":
                da *= 1.0 - h * h
            else:
                da *= h > 0
            dh = np.matmul(da, w_t)
        h_prev = np.concatenate([h0[:, None, :], seq[:, :-1, :]], axis=1)
        dw = np.matmul(h_prev.reshape(B * T, H).T, da_all.reshape(B * T, H))
        return da_all, dh, dw

    return {"lstm_scan": Kernel(lstm_forward, lstm_vjp),
            "rnn_scan": Kernel(rnn_forward, rnn_vjp)}


__all__ = ["lstm_scan", "rnn_scan", "kernels", "NONLINEARITIES"]
