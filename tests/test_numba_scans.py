"""The Numba backend's fused recurrent steps (backends/numba/_rnn.py, _scans.py) and the
SIMD-friendly math they call. The kernels against the generic rules on small samples are in
test_kernel_protocol.py; here: the math's accuracy, and whole layers with awkward inputs."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

numba = pytest.importorskip("numba", reason="Numba is not installed")

from xpgrad.backends.numba import _copies, _math, _scans  # noqa: E402

DTYPES = (np.float32, np.float64)


@numba.njit(fastmath=_math.LOOP_FLAGS, error_model="numpy")
def _tanh_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = _math.tanh(x[i])


@numba.njit(fastmath=_math.LOOP_FLAGS, error_model="numpy")
def _expm1_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = _math.expm1_neg(x[i])


def _ulps(got, want, dt):
    got, want = got.astype(np.float64), want.astype(np.float64)
    return np.abs(got - want) / np.spacing(np.abs(want).astype(dt)).astype(np.float64)


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
def test_tanh_within_3_ulp_of_numpy_in_float64(dt):
    x = np.concatenate([np.linspace(-20, 20, 40001), np.geomspace(1e-30, 1, 5000),
                        -np.geomspace(1e-30, 5, 5000), [1e4, -1e4, 0.3, -0.7]]).astype(dt)
    out = np.empty_like(x)
    _tanh_loop(x, out)
    want = np.tanh(x.astype(np.float64))
    assert _ulps(out, want, dt).max() <= 3


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
def test_expm1_within_3_ulp_for_negative_arguments(dt):
    x = np.concatenate([-np.geomspace(1e-30, 800, 20000), [0.0, -87.0, -700.0]]).astype(dt)
    out = np.empty_like(x)
    _expm1_loop(x, out)
    want = np.expm1(x.astype(np.float64))
    assert _ulps(out, want, dt).max() <= 3


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
def test_tanh_special_values(dt):
    x = np.array([0.0, np.inf, -np.inf, np.nan, 1e-45 if dt == np.float32 else 5e-324], dt)
    out = np.empty_like(x)
    _tanh_loop(x, out)
    assert out[0] == 0 and out[1] == 1 and out[2] == -1 and np.isnan(out[3])
    assert out[4] == x[4]


def _lstm_grads(backend, dt, x, h0, c0, weights, g):
    lstm = xg.nn.LSTM(x.shape[2], h0.shape[1], batch_first=True, backend=backend,
                      dtype=np.dtype(dt).name)
    lstm.load_torch_state_dict(weights)
    xs = xg.asarray(x, backend=backend)
    state = (xg.asarray(h0[None], backend=backend), xg.asarray(c0[None], backend=backend))
    with xg.GradientTape() as tape:
        tape.watch(xs)
        tape.watch(state[0])
        tape.watch(state[1])
        out, (h_n, c_n) = lstm(xs, state)
        loss = xg.sum(out * xg.asarray(g, backend=backend)) + xg.sum(c_n * c_n)
    grads = tape.gradient(loss, [xs, *state, *lstm.trainable_variables])
    return [out.numpy()] + [d.numpy() for d in grads]


@pytest.mark.parametrize("H", [19, 83])
@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
def test_lstm_layer_matches_numpy_backend(dt, H):
    """Output slice, last-state slice and both states watched: every gradient the numpy
    backend's, with inputs that are views (non-contiguous) of larger arrays. Hidden 83 runs
    the gate loops' unrolled SIMD bodies (64 floats an iteration) and their remainders."""
    rng = np.random.default_rng(3)
    B, T, I = 5, 7, 6
    x = rng.normal(size=(B, 2 * T, I)).astype(dt)[:, ::2]
    h0 = rng.normal(size=(H, B)).astype(dt).T
    c0 = rng.normal(size=(B, H)).astype(dt)
    weights = {"weight_ih_l0": rng.uniform(-0.3, 0.3, (4 * H, I)),
               "weight_hh_l0": rng.uniform(-0.3, 0.3, (4 * H, H)),
               "bias_ih_l0": rng.uniform(-0.3, 0.3, 4 * H), "bias_hh_l0": np.zeros(4 * H)}
    weights = {k: v.astype(dt) for k, v in weights.items()}
    g = rng.normal(size=(B, T, H)).astype(dt)
    got = _lstm_grads("numba", dt, x, h0, c0, weights, g)
    want = _lstm_grads("numpy", dt, x, h0, c0, weights, g)
    tol = 2e-4 if dt == np.float32 else 1e-12
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_numba_lstm_matches_torch_in_float64():
    """Two stacked layers on the numba backend (the fused layer kernel, hidden 83: SIMD bodies
    and remainders) against PyTorch's ``nn.LSTM`` in float64: outputs, final states, and the
    gradients of the input, the initial states and every weight."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(17)
    B, T, I, H, L = 3, 6, 5, 83, 2
    ref = torch.nn.LSTM(I, H, L, batch_first=True).double()
    ours = xg.nn.LSTM(I, H, L, batch_first=True, backend="numba", dtype="float64")
    ours.load_torch_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = rng.normal(size=(B, T, I))
    s0 = [rng.normal(size=(L, B, H)) for _ in range(2)]
    ct = [rng.normal(size=(B, T, H)), rng.normal(size=(L, B, H)), rng.normal(size=(L, B, H))]
    xs = [xg.asarray(a, backend="numba") for a in (x, *s0)]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out, (h_n, c_n) = ours(xs[0], (xs[1], xs[2]))
        loss = sum(xg.sum(a * xg.asarray(c, backend="numba"))
                   for a, c in zip((out, h_n, c_n), ct))
    named = ours.named_variables()
    grads = tape.gradient(loss, xs + list(named.values()))

    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, *s0))
    tout, (th, tc) = ref(tx, (th0, tc0))
    sum((a * torch.tensor(c)).sum() for a, c in zip((tout, th, tc), ct)).backward()
    for a, b in zip((out, h_n, c_n), (tout, th, tc)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(grads[:3], (tx, th0, tc0)):
        np.testing.assert_allclose(a.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
    tp = dict(ref.named_parameters())
    dw = dict(zip(named, grads[3:]))
    for k in range(L):
        for ours_name, torch_name in (("w_ih", "weight_ih"), ("w_hh", "weight_hh")):
            np.testing.assert_allclose(dw[f"lstm/cell{k}/{ours_name}"].numpy(),
                                       tp[f"{torch_name}_l{k}"].grad.numpy().T,
                                       rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dw[f"lstm/cell{k}/b"].numpy(), tp[f"bias_ih_l{k}"].grad,
                                   rtol=1e-9, atol=1e-12)


def test_fused_lstm_layer_matches_finite_differences():
    """The fused layer (one product of ``[x_t | h_{t-1}]`` per step, the bias in the gate
    pass, one product for both weight gradients) in float64, every input watched."""
    from xpgrad.ops.recurrent import lstm_layer

    rng = np.random.default_rng(11)
    B, T, I, H = 2, 4, 3, 5
    shapes = [(B, T, I), (B, H), (B, H), (I, 4 * H), (H, 4 * H), (4 * H,)]
    args = [xg.asarray(rng.normal(size=s) * 0.7, backend="numba") for s in shapes]
    xg.testing.check_grads(lstm_layer, args)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_scan_broadcast_gradient_and_second_vjp(nonlinearity):
    """A broadcast output gradient, and a second vjp of one record (persistent tape) gives the
    same as the first."""
    rng = np.random.default_rng(4)
    x, h0 = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 5))
    w = rng.normal(size=(5, 5)) * 0.4
    kernel = _scans.KERNELS["rnn_scan"]
    seq, saved = kernel.forward(x, h0, w, nonlinearity)
    g = np.broadcast_to(np.float64(1.5), seq.shape)
    first = kernel.vjp(g, saved, x, h0, w, nonlinearity)
    second = kernel.vjp(np.full(seq.shape, 1.5), saved, x, h0, w, nonlinearity)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_other_dtypes_and_mixed_dtypes_decline():
    f32, f16 = np.zeros((1, 2, 4), np.float32), np.zeros((1, 2, 4), np.float16)
    lstm = _scans.KERNELS["lstm_scan"]
    assert lstm.forward(f16, f16[:, 0, :1], f16[:, 0, :1], np.zeros((1, 4), np.float16)) is None
    assert lstm.forward(f32, np.zeros((1, 1)), np.zeros((1, 1), np.float32),
                        np.zeros((1, 4), np.float32)) is None


# -- softmax cross-entropy on short rows (backends/numba/_sce_kernels.sce_labels_short) -------
@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("classes", [1, 2, 10, 32, 33, 100])
def test_short_row_softmax_ce_matches_row_kernel_and_generic(classes, dt):
    """Both sides of the SHORT_ROWS_MAX switch: loss and gradient equal the row-at-a-time
    kernel's and the generic rule's, over a ragged last tile and awkward rows (huge logits,
    a masked class, a NaN, an infinity)."""
    from xpgrad.backends.numba import _loss_kernels as loops
    from xpgrad.backends.numba import _sce_kernels as short

    rng = np.random.default_rng(classes)
    n = 2 * short.TILE + 37
    x = (rng.normal(size=(n, classes)) * 3).astype(dt)
    x[1] += 1e4
    x[2, 0] = -np.inf                     # a masked class (the whole row when classes == 1)
    x[3, -1] = np.nan
    x[4, 0] = np.inf
    labels = rng.integers(0, classes, n)
    labels[2] = classes - 1
    scale = dt(1.0 / n)
    grads, losses = [np.empty_like(x) for _ in range(2)], [np.empty(n, dt) for _ in range(2)]
    short.sce_labels_short(x, labels, grads[0], losses[0], scale)
    loops.sce_labels_block(x, labels, grads[1], losses[1], scale)
    tol = 2e-6 if dt == np.float32 else 1e-13
    np.testing.assert_allclose(grads[0], grads[1], rtol=tol, atol=tol * float(scale))
    np.testing.assert_allclose(losses[0], losses[1], rtol=tol, atol=tol)

    finite = np.isfinite(x).all(axis=1) | ((np.arange(n) == 2) & (classes > 1))
    want_loss, want_grad = _generic_sce(x[finite], labels[finite], dt)
    got_loss, got_grad = _numba_sce(x[finite], labels[finite])
    np.testing.assert_allclose(got_loss, want_loss, rtol=tol * 10)
    np.testing.assert_allclose(got_grad, want_grad, rtol=tol * 10, atol=tol / finite.sum())


def _generic_sce(x, labels, dt):
    be = xg.get_backend("numpy")
    saved, be.kernels = be.kernels, {}
    try:
        return _numba_sce(x, labels, "numpy")
    finally:
        be.kernels = saved


def _numba_sce(x, labels, backend="numba"):
    xs = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xs)
        loss = xg.losses.softmax_cross_entropy(xs, xg.asarray(labels, backend=backend))
    return loss.numpy(), tape.gradient(loss, xs).numpy()


def test_saved_activations_buffer_is_reused_only_after_release():
    """The LSTM forward's saved-activation buffer returns to the pool when its record is
    dropped, and is handed out again; a record still held keeps its own."""
    import gc

    rng = np.random.default_rng(5)
    args = (rng.normal(size=(2, 3, 8)), rng.normal(size=(2, 2)), rng.normal(size=(2, 2)),
            rng.normal(size=(2, 8)))
    kernel = _scans.KERNELS["lstm_scan"]
    # records of this shape that earlier tests left in reference cycles go back to the pool
    # now: given back by the collection below, after this one's, the next forward took theirs
    gc.collect()
    record = kernel.forward(*args)[1]
    first = id(record[1].acts)
    del record
    gc.collect()
    held = kernel.forward(*args)[1]
    assert id(held[1].acts) == first                 # reused once released
    before = held[1].acts.copy()
    other = kernel.forward(*args)[1]
    assert other[1].acts is not held[1].acts         # never while a record holds it
    np.testing.assert_array_equal(held[1].acts, before)


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("classes", [1, 3, 10, 32])
def test_short_row_softmax_ce_with_probabilities_matches_row_kernel(classes, dt):
    """Probability targets (rows summing to 1, to 0.5, a zero-weight masked class, a NaN)."""
    from xpgrad.backends.numba import _loss_kernels as loops
    from xpgrad.backends.numba import _sce_kernels as short

    rng = np.random.default_rng(classes + 10)
    n = short.TILE + 45
    x = (rng.normal(size=(n, classes)) * 3).astype(dt)
    t = rng.dirichlet(np.ones(classes), n).astype(dt)
    t[5] *= 0.5
    x[1] += 1e4
    if classes > 1:
        x[2, 0], t[2, 0] = -np.inf, 0.0
        t[2] /= t[2].sum()
    x[3, 0] = np.nan
    scale = dt(1.0 / n)
    grads, losses = [np.empty_like(x) for _ in range(2)], [np.empty(n, dt) for _ in range(2)]
    short.sce_probs_short(x, t, grads[0], losses[0], scale)
    loops.sce_probs_block(x, t, grads[1], losses[1], scale)
    tol = 1e-5 if dt == np.float32 else 1e-12
    np.testing.assert_allclose(grads[0], grads[1], rtol=tol, atol=tol * float(scale))
    np.testing.assert_allclose(losses[0], losses[1], rtol=tol, atol=tol)


def test_activation_pool_is_bounded():
    pool = _scans._Activations
    records = [pool.take((2, 3, 4 + k), np.float32) for k in range(pool.SHAPES + 3)]
    records += [pool.take((2, 3, 4), np.float32) for _ in range(pool.KEEP + 2)]
    del records
    import gc

    gc.collect()
    assert len(pool._free) <= pool.SHAPES
    assert all(len(bufs) <= pool.KEEP for bufs in pool._free.values())


class _MatmulSpy:
    """Stands for ``blas`` (the host products) in ``_scans``: records the operands of every
    ``matmul``, a scan's steps' (``stepped_matmul``) included."""

    def __init__(self):
        self.operands = []

    def __getattr__(self, name):
        return getattr(np, name)

    def matmul(self, a, b, *args, **kwargs):
        self.operands.append((a, b))
        return np.matmul(a, b, *args, **kwargs)

    def stepped_matmul(self, stack, b, out):
        return lambda t: self.matmul(stack[t], b, out=out)

    def stepped_plan(self, stack, b, out):
        return None                 # no gemm for compiled loops: each step through matmul

    def stepped_plans(self, stack, b, out, split):
        return None, ()


def _scan_calls(rng, name, order):
    """``(forward args, vjp args after (g, saved))`` of a small ``name`` scan, its weights in
    ``order`` layout; every input wants its gradient."""
    B, T, I, H = 3, 4, 5, 6
    G = H if name == "rnn_scan" else 4 * H
    h0, c0 = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    w_hh = np.asarray(rng.normal(size=(H, G)) * 0.5, order=order)
    if name == "lstm_layer":
        w_ih = np.asarray(rng.normal(size=(I, G)) * 0.5, order=order)
        args = (rng.normal(size=(B, T, I)), h0, c0, w_ih, w_hh, rng.normal(size=G))
        return args, ((True,) * 6, *args)
    xproj = rng.normal(size=(B, T, G))
    args = (xproj, h0, w_hh, "tanh") if name == "rnn_scan" else (xproj, h0, c0, w_hh)
    return args, args


@pytest.mark.parametrize("name", ["lstm_layer", "lstm_scan", "rnn_scan"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_scan_products_get_row_major_right_operands(monkeypatch, name, order):
    """Every product of a scan (forward steps, backward steps, weight and input gradients)
    gets a row-major right operand, whatever the weights' own layout (weights loaded from
    PyTorch are transposed views, column-major): OpenBLAS runs a product with a column-major
    right operand of an LSTM's shapes at 45-75% of its speed."""
    forward_args, vjp_args = _scan_calls(np.random.default_rng(8), name, order)
    spy = _MatmulSpy()
    monkeypatch.setattr(_scans, "blas", spy)
    kernel = _scans.KERNELS[name]
    seq, saved = kernel.forward(*forward_args)
    kernel.vjp(np.ones_like(seq), saved, *vjp_args)
    assert len(spy.operands) > 2 * seq.shape[1]
    assert all(right.flags.c_contiguous for _, right in spy.operands)


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", [(128, 512), (3, 37), (5, 7), (1, 16)])
def test_weight_transpose_copies_every_entry(dt, shape):
    """``_scans._transposed`` (the backward products' ``w_hh.T``): equal to NumPy's transpose
    for C-ordered, column-major and sliced weights, widths not a multiple of the loop's 16
    columns included, and C-ordered either way."""
    w = np.random.default_rng(3).normal(size=shape).astype(dt)
    for weights in (w, np.asfortranarray(w), w[:, 1:], w[::2]):
        got = _scans._transposed(weights)
        assert got.flags.c_contiguous and got.dtype == dt
        np.testing.assert_array_equal(got, weights.T)


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
def test_time_major_copy_fills_only_the_input_columns(dt):
    """``_copies.to_time_major`` writes ``x[b, t]`` into ``xh[t, b, :I]`` and leaves the
    hidden-state columns after them untouched."""
    x = np.random.default_rng(4).normal(size=(3, 5, 7)).astype(dt)
    xh = np.full((5, 3, 7 + 4), 9.0, dt)
    _copies.to_time_major(x, xh)
    np.testing.assert_array_equal(xh[:, :, :7], np.swapaxes(x, 0, 1))
    assert (xh[:, :, 7:] == 9.0).all()


# -- one-hot inputs (lstm_layer: the products skip x_t, the gate pass adds w_ih's hot row) ------
def _one_hot_layer_args(dt, B=3, T=5, I=7, H=4, seed=11):
    rng = np.random.default_rng(seed)
    x = np.eye(I, dtype=dt)[rng.integers(0, I, (B, T))]
    x[0, :2, :] = np.eye(I, dtype=dt)[2]                  # a repeated column
    h0, c0 = rng.normal(size=(B, H)).astype(dt), rng.normal(size=(B, H)).astype(dt)
    w_ih = np.asfortranarray(rng.normal(size=(I, 4 * H)).astype(dt))     # as loaded from torch
    w_hh = rng.normal(size=(H, 4 * H)).astype(dt) * dt(0.5)
    return x, h0, c0, w_ih, w_hh, rng.normal(size=4 * H).astype(dt)


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("needs", [(True,) * 6, (False, False, False, True, True, True),
                                   (False, True, False, True, False, False),
                                   (True, False, True, False, True, False)])
def test_one_hot_lstm_layer_matches_numpy_kernel(dt, needs):
    """One-hot inputs take their own path (no input product, a row scatter-add for w_ih's
    gradient): states and every gradient asked for equal the NumPy backend's kernel's to float
    rounding, None for the others."""
    from xpgrad.backends.numpy.scans import scan_kernels

    args = _one_hot_layer_args(dt)
    assert _scans._one_hot_ids(args[0]) is not None
    kernel, reference = _scans.KERNELS["lstm_layer"], scan_kernels(np)["lstm_layer"]
    seq, saved = kernel.forward(*args)
    want_seq, want_saved = reference.forward(*args)
    g = np.random.default_rng(12).normal(size=seq.shape).astype(dt)
    got = kernel.vjp(g, saved, needs, *args)
    want = reference.vjp(g, want_saved, (True,) * 6, *args)
    tol = 2e-5 if dt == np.float32 else 1e-12
    np.testing.assert_allclose(seq, want_seq, rtol=tol, atol=tol)
    for need, a, b in zip(needs, got, want):
        if need:
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        else:
            assert a is None


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf * 0
@pytest.mark.parametrize("where", ["w_ih", "gradient"])
def test_one_hot_lstm_layer_spreads_inf_and_nan_as_the_product_does(where):
    """An inf in ``w_ih`` (forward) or a NaN in the outputs' gradient (backward) reaches every
    row a dense product would reach (0 * inf is NaN): the one-hot path gives way to the product
    there, and the values, NaNs included, equal the NumPy backend's kernel's."""
    from xpgrad.backends.numpy.scans import scan_kernels

    args = list(_one_hot_layer_args(np.float64))
    kernel, reference = _scans.KERNELS["lstm_layer"], scan_kernels(np)["lstm_layer"]
    if where == "w_ih":
        args[3] = args[3].copy()
        args[3][5, 3] = np.inf
    seq, saved = kernel.forward(*args)
    want_seq, want_saved = reference.forward(*args)
    g = np.random.default_rng(13).normal(size=seq.shape)
    if where == "gradient":
        g[0, 1, 2, 0] = np.nan
    got = kernel.vjp(g, saved, (True,) * 6, *args)
    want = reference.vjp(g, want_saved, (True,) * 6, *args)
    np.testing.assert_allclose(seq, want_seq, rtol=1e-12, atol=1e-12)
    assert np.isnan(got[3]).sum() > 1            # not only the hot rows
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_one_hot_ids_only_for_rows_of_one_1_and_zeros():
    x = np.zeros((2, 3, 4), np.float32)
    x[:, :, 1] = 1
    x[1, 2, 1], x[1, 2, 3] = -0.0, 1
    ids = _scans._one_hot_ids(x)
    assert ids.shape == (3, 2) and ids.tolist() == [[1, 1], [1, 1], [1, 3]]
    for b, t, j, v in [(0, 1, 2, 1.0), (1, 0, 0, 2.0), (0, 2, 3, np.nan), (1, 1, 1, 0.0),
                       (0, 0, 0, 1e-30)]:
        bad = x.copy()
        bad[b, t, j] = v
        assert _scans._one_hot_ids(bad) is None, (b, t, j, v)
    assert _scans._one_hot_ids(np.zeros((2, 0, 4), np.float32)) is None
