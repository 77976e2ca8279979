"""Recurrent scans as primitives: one tape node runs a whole sequence, forward and backward.

The LSTM primitives (``lstm_scan``, ``lstm_layer``) output the states of every step as one
(2, B, T, H) array: ``h_t`` in ``[0]``, ``c_t`` in ``[1]``, each half contiguous, so the layer's
output ``states[0]`` is a view that the next operation reads without a copy, and its gradient
reaches the primitive as that half alone (a ``Scatter``), which the kernels' ``vjp_sliced``
takes without making the zero half. The public functions ``lstm_scan(xproj, h0, c0, w_hh)``
and ``lstm_layer`` return ``[h_t | c_t]`` (B, T, 2H), where ``xproj`` (B, T, 4H) is the input
projection ``x_t @ w_ih + b`` computed for all steps at once; ``lstm_states`` and
``lstm_layer_states`` the (2, B, T, H) array. Gates are in PyTorch's order (i, f, g, o)::

    z_t = xproj[:, t] + h_{t-1} @ w_hh            (w_hh: (H, 4H))
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
    c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

``rnn_scan(xproj, h0, w_hh, nonlinearity) -> (B, T, H)``:
``h_t = act(xproj[:, t] + h_{t-1} @ w_hh)`` with ``act`` tanh or relu.

``gru_scan(xproj, h0, w_hh, b_hn) -> (B, T, H)``: PyTorch's GRU, gates (r, z, n), the reset
gate applied after the hidden product (``gru_scan``'s docstring has the equations).

Why a whole sequence per node: a per-step graph slices the (B, T, .) projection T times, and
each slice's gradient is a full (B, T, .) array -- O(T^2) work and memory in the backward pass --
besides paying the tape's per-op cost several times per step. One node keeps the tape O(1) in T.

Every public function refuses an empty time axis (as PyTorch's layers do), so the primitives'
generic rules and kernels are written for T >= 1 only. The generic rules below are the
reference (higher-order gradients, backends without the kernel): one joint rule per scan
runs the backward recursion once for every input that wants a gradient, recomputing the gates
from the inputs. The fused first-order kernels, for arrays that
follow NumPy's API with ``out=`` (NumPy, Numba, CuPy), are in ``backends/numpy/scans.py``: their
forward saves the gate activations.

>>> import xpgrad as xg
>>> B, T, H = 2, 5, 3
>>> h0 = c0 = xg.zeros((B, H))
>>> seq = lstm_scan(xg.ones((B, T, 4 * H)), h0, c0, xg.zeros((H, 4 * H)))
>>> seq.shape, lstm_states(xg.ones((B, T, 4 * H)), h0, c0, xg.zeros((H, 4 * H))).shape
((2, 5, 6), (2, 2, 5, 3))
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from . import formulas
from ._define import as_tensor
from .joining import concat

NONLINEARITIES = ("tanh", "relu")


# -- shared pieces ------------------------------------------------------------------------------
def _lstm_gates(xp, z, H):
    sigmoid = formulas.sigmoid
    return (sigmoid(xp, z[:, :H]), sigmoid(xp, z[:, H:2 * H]), xp.tanh(z[:, 2 * H:3 * H]),
            sigmoid(xp, z[:, 3 * H:]))


def _previous_h(xp, h0, hs, H):
    """(B, T, H): the state each step starts from, ``[h0, h_1, ..., h_{T-1}]``, from the
    states ``hs`` (B, T, H)."""
    B = h0.shape[0]
    return xp.concat([xp.reshape(h0, (B, 1, H)), hs[:, :-1, :]], axis=1)


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
    return xp.stack([xp.stack(hs, axis=1), xp.stack(cs, axis=1)])


def _lstm_backward(xp, g, seq, xproj, h0, c0, w_hh):
    """``(dxproj, dh0, dc0)`` for the output gradient ``g`` (2, B, T, H); gates recomputed."""
    T, H = xproj.shape[1], h0.shape[-1]
    w_t = xp.matrix_transpose(w_hh)
    hs, cs, g_h, g_c = seq[0, ...], seq[1, ...], g[0, ...], g[1, ...]
    dh = dc = None
    dzs = []
    for t in range(T - 1, -1, -1):
        h_prev = h0 if t == 0 else hs[:, t - 1, :]
        c_prev = c0 if t == 0 else cs[:, t - 1, :]
        i, f, gg, o = _lstm_gates(xp, xproj[:, t, :] + xp.matmul(h_prev, w_hh), H)
        tc = xp.tanh(cs[:, t, :])
        gh = g_h[:, t, :] if dh is None else g_h[:, t, :] + dh
        gc = g_c[:, t, :] + gh * o * (1.0 - tc * tc)
        if dc is not None:
            gc = gc + dc
        dz = xp.concat([gc * gg * i * (1.0 - i), gc * c_prev * f * (1.0 - f),
                        gc * i * (1.0 - gg * gg), gh * tc * o * (1.0 - o)], axis=1)
        dzs.append(dz)
        dh = xp.matmul(dz, w_t)
        dc = gc * f
    return xp.stack(dzs[::-1], axis=1), dh, dc


def _lstm_vjp(xp, g, ans, needs, xproj, h0, c0, w_hh):
    """The joint rule: one backward recursion for every input that wants its gradient."""
    dz, dh0, dc0 = _lstm_backward(xp, g, ans, xproj, h0, c0, w_hh)
    dw = _weight_grad(xp, _previous_h(xp, h0, ans[0, ...], h0.shape[-1]), dz) if needs[3] else None
    return dz, dh0, dc0, dw


_lstm_scan = Primitive("lstm_scan", _lstm_forward, joint=_lstm_vjp)


# -- LSTM layer: the input projection and the scan as one primitive -----------------------------
def _project(xp, x, w_ih, b):
    B, T, I = x.shape
    return xp.reshape(xp.matmul(xp.reshape(x, (B * T, I)), w_ih) + b, (B, T, w_ih.shape[1]))


def projection_grads(xp, dxproj, x, w_ih, need_dx, need_dw_ih, need_db):
    """``(dx, dw_ih, db)`` of ``x @ w_ih + b`` for its gradient ``dxproj`` (B, T, G), None
    where not needed."""
    B, T, I = x.shape
    rows = xp.reshape(dxproj, (B * T, dxproj.shape[-1]))
    dx = xp.reshape(xp.matmul(rows, xp.matrix_transpose(w_ih)), (B, T, I)) if need_dx else None
    dw_ih = (xp.matmul(xp.matrix_transpose(xp.reshape(x, (B * T, I))), rows) if need_dw_ih
             else None)
    db = xp.sum(rows, axis=0) if need_db else None
    return dx, dw_ih, db


def _lstm_layer_forward(xp, x, h0, c0, w_ih, w_hh, b):
    return _lstm_forward(xp, _project(xp, x, w_ih, b), h0, c0, w_hh)


def _lstm_layer_vjp(xp, g, ans, needs, x, h0, c0, w_ih, w_hh, b):
    """The joint rule: ``lstm_scan``'s, then the projection's gradients from ``dz``."""
    xproj = _project(xp, x, w_ih, b)
    dz, dh0, dc0, dw_hh = _lstm_vjp(xp, g, ans, (True, needs[1], needs[2], needs[4]), xproj,
                                    h0, c0, w_hh)
    dx, dw_ih, db = projection_grads(xp, dz, x, w_ih, needs[0], needs[3], needs[5])
    return dx, dh0, dc0, dw_ih, dw_hh, db


_lstm_layer = Primitive("lstm_layer", _lstm_layer_forward, joint=_lstm_layer_vjp)


# -- Elman RNN: generic forward and rules -------------------------------------------------------
def _act(xp, a, nonlinearity):
    return xp.tanh(a) if nonlinearity == "tanh" else xp.maximum(a, 0.0)


def _act_grad(xp, gh, h, nonlinearity):
    """The gradient through the nonlinearity, from its output ``h``."""
    if nonlinearity == "tanh":
        return gh * (1.0 - h * h)
    return xp.where(h <= 0, 0.0, gh)      # a NaN state passes its gradient, as PyTorch's


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


def _rnn_vjp(xp, g, ans, needs, xproj, h0, w_hh, nonlinearity):
    """The joint rule: one backward recursion for every input that wants its gradient."""
    da, dh0 = _rnn_backward(xp, g, ans, w_hh, nonlinearity)
    dw = _weight_grad(xp, _previous_h(xp, h0, ans, h0.shape[-1]), da) if needs[2] else None
    return da, dh0, dw


_rnn_scan = Primitive("rnn_scan", _rnn_forward, joint=_rnn_vjp)


# -- GRU: generic forward and rules ------------------------------------------------------------
def _gru_step(xp, x_t, h, w_hh, b_hn):
    """One step's ``(r, z, hn, n)`` from the input projection ``x_t`` (B, 3H) and ``h``:
    ``hn = (h @ w_hh)_n + b_hn``, the reset gate applied after the hidden product."""
    H = h.shape[-1]
    sigmoid = formulas.sigmoid
    a = xp.matmul(h, w_hh)
    r = sigmoid(xp, x_t[:, :H] + a[:, :H])
    z = sigmoid(xp, x_t[:, H:2 * H] + a[:, H:2 * H])
    hn = a[:, 2 * H:] + b_hn
    return r, z, hn, xp.tanh(x_t[:, 2 * H:] + r * hn)


def _gru_forward(xp, xproj, h0, w_hh, b_hn):
    h = h0
    hs = []
    for t in range(xproj.shape[1]):
        _, z, _, n = _gru_step(xp, xproj[:, t, :], h, w_hh, b_hn)
        h = n + z * (h - n)                     # (1 - z) * n + z * h
        hs.append(h)
    return xp.stack(hs, axis=1)


def _gru_vjp(xp, g, ans, needs, xproj, h0, w_hh, b_hn):
    """The joint rule: one backward recursion (gates recomputed) for every input; ``da`` is the
    gradient of the hidden product ``h_{t-1} @ w_hh``, which differs from the projection's
    ``dx`` in its n block (``r * dn``)."""
    T, H = xproj.shape[1], h0.shape[-1]
    w_t = xp.matrix_transpose(w_hh)
    dh = None
    dxs, das = [], []
    for t in range(T - 1, -1, -1):
        h_prev = h0 if t == 0 else ans[:, t - 1, :]
        r, z, hn, n = _gru_step(xp, xproj[:, t, :], h_prev, w_hh, b_hn)
        gh = g[:, t, :] if dh is None else g[:, t, :] + dh
        dn = gh * (1.0 - z) * (1.0 - n * n)
        dz = gh * (h_prev - n) * z * (1.0 - z)
        dr = dn * hn * r * (1.0 - r)
        dxs.append(xp.concat([dr, dz, dn], axis=1))
        da = xp.concat([dr, dz, dn * r], axis=1)
        das.append(da)
        dh = gh * z + xp.matmul(da, w_t)
    da = xp.stack(das[::-1], axis=1)
    dw = _weight_grad(xp, _previous_h(xp, h0, ans, H), da) if needs[2] else None
    db = xp.sum(xp.reshape(da[:, :, 2 * H:], (-1, H)), axis=0) if needs[3] else None
    return xp.stack(dxs[::-1], axis=1), dh, dw, db


_gru_scan = Primitive("gru_scan", _gru_forward, joint=_gru_vjp)


# -- public functions ---------------------------------------------------------------------------
def _check(name, xproj, states, w_hh, gates, more=()):
    """The inputs as tensors, after checking their shapes (``xproj``: a tensor, or its shape
    when a layer projects the input itself) and that they share one floating dtype with
    ``more``."""
    if not isinstance(xproj, tuple):
        xproj = as_tensor(xproj, name, "xproj")
    states = [as_tensor(s, name, what) for s, what in zip(states, ("h0", "c0"))]
    w_hh = as_tensor(w_hh, name, "w_hh")
    shape = xproj if isinstance(xproj, tuple) else xproj.shape
    if len(shape) != 3:
        raise ValueError(f"{name}: xproj must be (batch, time, {gates}*hidden), got shape "
                         f"{shape}")
    B, T, G = shape
    H = states[0].shape[-1] if states[0].ndim == 2 else -1
    if T < 1:
        raise ValueError(f"{name}: the sequence is empty (time axis of length 0)")
    for s, what in zip(states, ("h0", "c0")):
        if s.shape != (B, H):
            raise ValueError(f"{name}: {what} must be (batch, hidden) = ({B}, hidden), got "
                             f"shape {s.shape}")
    if G != gates * H or w_hh.shape != (H, G):
        axis = "w_ih's last axis" if isinstance(xproj, tuple) else "xproj's last axis"
        raise ValueError(f"{name}: with hidden size {H}, {axis} must be {gates * H} "
                         f"and w_hh must be ({H}, {gates * H}); got {G} and {w_hh.shape}")
    if not isinstance(xproj, tuple):
        more = (xproj, *more)
    dtypes = {t.dtype for t in (*more, w_hh, *states)}
    if len(dtypes) != 1 or not next(iter(dtypes)).is_floating:
        raise TypeError(f"{name}: inputs must share one floating dtype, got "
                        f"{sorted(str(d) for d in dtypes)}")
    return xproj, states, w_hh


def _concat_states(states):
    """``[h_t | c_t]`` (B, T, 2H) from the (2, B, T, H) states."""
    return concat([states[0], states[1]], axis=-1)


def lstm_states(xproj, h0, c0, w_hh):
    """``lstm_scan``'s states as one (2, B, T, H) array: ``h_t`` in ``[0]``, ``c_t`` in
    ``[1]`` (the primitive's own output; the module docstring says why this layout).

    >>> import xpgrad as xg
    >>> states = lstm_states(xg.zeros((1, 4, 8)), xg.zeros((1, 2)), xg.ones((1, 2)),
    ...                      xg.zeros((2, 8)))
    >>> states.shape, states[1, 0, 0].tolist()   # c_1 = sigmoid(0) * c_0
    ((2, 1, 4, 2), [0.5, 0.5])
    """
    xproj, (h0, c0), w_hh = _check("lstm_scan", xproj, (h0, c0), w_hh, 4)
    return apply(_lstm_scan, xproj, h0, c0, w_hh)


def lstm_scan(xproj, h0, c0, w_hh):
    """Run an LSTM over a precomputed input projection; returns ``[h_t | c_t]`` (B, T, 2H).

    >>> import xpgrad as xg
    >>> seq = lstm_scan(xg.zeros((1, 4, 8)), xg.zeros((1, 2)), xg.ones((1, 2)), xg.zeros((2, 8)))
    >>> seq[0, :, 2:].tolist()[0]   # c_1 = sigmoid(0) * c_0
    [0.5, 0.5]
    """
    return _concat_states(lstm_states(xproj, h0, c0, w_hh))


def lstm_layer_states(x, h0, c0, w_ih, w_hh, b):
    """``lstm_layer``'s states as one (2, B, T, H) array: ``h_t`` in ``[0]``, ``c_t`` in
    ``[1]`` (the primitive's own output; ``xg.nn.LSTM`` reads its ``[0]``).

    One tape node for the whole layer lets a backend fuse the projection into the scan (Numba:
    one product of ``[x_t | h_{t-1}]`` with the stacked weights per step, the bias added in the
    gate pass, one product for both weight gradients).

    >>> import xpgrad as xg
    >>> x, h0 = xg.ones((1, 4, 3)), xg.zeros((1, 2))
    >>> states = lstm_layer_states(x, h0, xg.ones((1, 2)), xg.zeros((3, 8)), xg.zeros((2, 8)),
    ...                            xg.zeros(8))
    >>> states[1, 0, 0].tolist()   # c_1 = sigmoid(0) * c_0
    [0.5, 0.5]
    """
    x = as_tensor(x, "lstm_layer", "x")
    h0, c0 = as_tensor(h0, "lstm_layer", "h0"), as_tensor(c0, "lstm_layer", "c0")
    w_ih, b = as_tensor(w_ih, "lstm_layer", "w_ih"), as_tensor(b, "lstm_layer", "b")
    if x.ndim != 3:
        raise ValueError(f"lstm_layer: x must be (batch, time, input_size), got shape {x.shape}")
    G = w_ih.shape[-1] if w_ih.ndim == 2 else -1
    if w_ih.shape != (x.shape[2], G) or b.shape != (G,):
        raise ValueError(f"lstm_layer: w_ih must be (input_size, 4*hidden) = ({x.shape[2]}, "
                         f"4*hidden) and b (4*hidden,); got {w_ih.shape} and {b.shape}")
    _, (h0, c0), w_hh = _check("lstm_layer", (x.shape[0], x.shape[1], G), (h0, c0), w_hh, 4,
                               more=(x, w_ih, b))
    return apply(_lstm_layer, x, h0, c0, w_ih, w_hh, b)


def lstm_layer(x, h0, c0, w_ih, w_hh, b):
    """``lstm_scan(x @ w_ih + b, h0, c0, w_hh)`` with the projection and the scan as one
    primitive (``lstm_layer_states``): (B, T, I) -> ``[h_t | c_t]`` (B, T, 2H).

    >>> import xpgrad as xg
    >>> x, h0 = xg.ones((1, 4, 3)), xg.zeros((1, 2))
    >>> seq = lstm_layer(x, h0, xg.ones((1, 2)), xg.zeros((3, 8)), xg.zeros((2, 8)), xg.zeros(8))
    >>> seq[0, :, 2:].tolist()[0]   # c_1 = sigmoid(0) * c_0
    [0.5, 0.5]
    """
    return _concat_states(lstm_layer_states(x, h0, c0, w_ih, w_hh, b))


def rnn_scan(xproj, h0, w_hh, nonlinearity="tanh"):
    """Run an Elman RNN over a precomputed input projection; returns ``h_t`` (B, T, H).

    >>> import xpgrad as xg
    >>> rnn_scan(xg.ones((2, 3, 4)), xg.zeros((2, 4)), xg.zeros((4, 4)), "relu")[0, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"rnn_scan: nonlinearity must be one of {NONLINEARITIES}, got "
                         f"{nonlinearity!r}")
    xproj, (h0,), w_hh = _check("rnn_scan", xproj, (h0,), w_hh, 1)
    return apply(_rnn_scan, xproj, h0, w_hh, nonlinearity=nonlinearity)


def gru_scan(xproj, h0, w_hh, b_hn):
    """Run a GRU (PyTorch's equations and gate order r, z, n) over a precomputed input
    projection ``xproj = x @ w_ih + b`` (B, T, 3H); returns ``h_t`` (B, T, H)::

        a = h_{t-1} @ w_hh                        (w_hh: (H, 3H))
        r = sigmoid(xproj_r + a_r);   z = sigmoid(xproj_z + a_z)
        n = tanh(xproj_n + r * (a_n + b_hn));   h_t = (1 - z) * n + z * h_{t-1}

    ``b_hn`` (H,) is the hidden side's n bias, which cannot be folded into ``b`` (the reset
    gate multiplies it).

    >>> import xpgrad as xg
    >>> h = gru_scan(xg.zeros((1, 3, 6)), xg.ones((1, 2)), xg.zeros((2, 6)), xg.zeros(2))
    >>> h[0, 0].tolist()         # z = sigmoid(0), n = tanh(0): h_1 = h_0 / 2
    [0.5, 0.5]
    """
    b_hn = as_tensor(b_hn, "gru_scan", "b_hn")
    xproj, (h0,), w_hh = _check("gru_scan", xproj, (h0,), w_hh, 3, more=(b_hn,))
    if b_hn.shape != (h0.shape[-1],):
        raise ValueError(f"gru_scan: b_hn must be (hidden,) = ({h0.shape[-1]},), got shape "
                         f"{b_hn.shape}")
    return apply(_gru_scan, xproj, h0, w_hh, b_hn)


__all__: list = []   # exposed through xg.nn (lstm_scan, rnn_scan, gru_scan)
