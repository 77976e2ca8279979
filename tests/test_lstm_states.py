"""The LSTM's states as one (2, B, T, H) array and the slice gradients its kernels take unmade
(``Kernel.vjp_sliced``): the layer's outputs are a contiguous view, an output gradient that
reaches the states through ``states[0]`` alone goes to ``vjp_sliced`` without the zero half,
and every path (sliced, full, declined, generic, replayed by ``xg.function``) gives the same
gradients as PyTorch and finite differences."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn
from xpgrad.accumulate import Scatter
from xpgrad.ops.recurrent import lstm_layer_states, lstm_states

NUMPY = xg.get_backend("numpy")


def _backends():
    out = ["numpy"]
    row = backend_report().get("numba", {"available": False})
    if row["available"]:
        out.append("numba")
    return out


BACKENDS = _backends()


class _Calls:
    """Wraps a backend's ``lstm_layer`` kernel, counting how its vjps are called."""

    def __init__(self, kernel, decline=False):
        self.kernel, self.decline, self.keys, self.full = kernel, decline, [], 0

    def vjp(self, *args, **params):
        self.full += 1
        return self.kernel.vjp(*args, **params)

    def vjp_sliced(self, key, *args, **params):
        self.keys.append(key)
        return None if self.decline else self.kernel.vjp_sliced(key, *args, **params)

    def install(self, backend, monkeypatch):
        k = self.kernel
        monkeypatch.setitem(backend.kernels, "lstm_layer", xg.Kernel(
            k.forward, self.vjp, saves=k.saves, needs=k.needs, vjp_sliced=self.vjp_sliced))
        return self


def _mse_step(lstm, x, y):
    """The outputs and the gradients of ``mse(lstm(x)[0], y)`` for the input and weights."""
    with xg.GradientTape() as tape:
        tape.watch(x)
        out, _ = lstm(x)
        loss = xg.losses.mse(out, y)
    return out, tape.gradient(loss, [x] + lstm.trainable_variables)


def _data(backend, B=3, T=6, I=4, H=5, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = xg.asarray(rng.standard_normal((B, T, I)).astype(dtype), backend=backend)
    y = xg.asarray(rng.standard_normal((B, T, H)).astype(dtype), backend=backend)
    return x, y


@pytest.mark.parametrize("backend", BACKENDS)
def test_lstm_outputs_are_a_contiguous_view_of_the_states(backend):
    lstm = nn.LSTM(4, 5, 2, rng=0, backend=backend)
    x, _ = _data(backend, dtype=np.float32)
    out, (h, c) = lstm(x)
    assert out._data.flags.c_contiguous and out._data.base is not None
    np.testing.assert_array_equal(h.numpy()[-1], out.numpy()[:, -1])
    states = lstm.layers[0].states(x, h[0], c[0])
    assert states.shape == (2, 3, 6, 5)
    seq = lstm.layers[0].scan(x, h[0], c[0])           # the public [h | c] layout, unchanged
    np.testing.assert_array_equal(seq.numpy(), np.concatenate(states.numpy(), axis=-1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_output_gradient_reaches_the_kernel_as_the_h_half_alone(backend, monkeypatch):
    be = xg.get_backend(backend)
    calls = _Calls(be.kernels["lstm_layer"]).install(be, monkeypatch)
    lstm = nn.LSTM(4, 5, 2, rng=0, dtype="float64", backend=backend)
    x, y = _data(backend)
    _, sliced = _mse_step(lstm, x, y)
    assert calls.full == 0 and len(calls.keys) == 2          # one per layer
    assert all(key[0] == 0 for key in calls.keys)

    declined = _Calls(calls.kernel, decline=True).install(be, monkeypatch)
    _, full = _mse_step(lstm, x, y)
    assert declined.full == 2 and len(declined.keys) == 2
    monkeypatch.setattr(be, "kernels", {})                  # the generic rules
    _, generic = _mse_step(lstm, x, y)
    for a, b, g in zip(sliced, full, generic):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(a.numpy(), g.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sliced_gradients_match_torch(backend):
    """The loss reads only the outputs: the kernels' sliced backward, against PyTorch."""
    torch = pytest.importorskip("torch")
    B, T, I, H = 3, 7, 4, 5
    ref = torch.nn.LSTM(I, H, 2, batch_first=True).double()
    ours = nn.LSTM(I, H, 2, batch_first=True, rng=0, dtype="float64", backend=backend)
    ours.load_torch_state_dict(ref.state_dict())
    x, y = _data(backend, B, T, I, H, seed=1)
    _, grads = _mse_step(ours, x, y)

    tx = torch.tensor(x.numpy(), requires_grad=True)
    torch.nn.functional.mse_loss(ref(tx)[0], torch.tensor(y.numpy())).backward()
    np.testing.assert_allclose(grads[0].numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    tp = dict(ref.named_parameters())
    named = dict(zip(ours.named_variables(), grads[1:]))
    for k in range(2):
        cell = f"lstm/cell{k}"
        np.testing.assert_allclose(named[f"{cell}/w_ih"].numpy(), tp[f"weight_ih_l{k}"].grad.T,
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(named[f"{cell}/w_hh"].numpy(), tp[f"weight_hh_l{k}"].grad.T,
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(named[f"{cell}/b"].numpy(), tp[f"bias_ih_l{k}"].grad,
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("half", [0, 1])
def test_one_half_of_the_states_matches_finite_differences(backend, half):
    rng = np.random.default_rng(2)
    B, T, I, H = 2, 4, 3, 3
    args = [xg.asarray(rng.standard_normal(s) * sc, backend=backend) for s, sc in (
        ((B, T, I), 1.0), ((B, H), 1.0), ((B, H), 1.0), ((I, 4 * H), 0.5), ((H, 4 * H), 0.5),
        ((4 * H,), 1.0))]
    xg.testing.check_grads(lambda *a: lstm_layer_states(*a)[half], args)
    xproj = xg.asarray(rng.standard_normal((B, T, 4 * H)), backend=backend)
    xg.testing.check_grads(lambda x, h, c, w: lstm_states(x, h, c, w)[half],
                           [xproj] + args[1:3] + [args[4]])


def _kernels():
    from xpgrad.backends.numpy.scans import scan_kernels

    out = [("numpy", scan_kernels(np))]
    if "numba" in BACKENDS:
        from xpgrad.backends.numba import _scans

        out.append(("numba", _scans.KERNELS))
    return out


@pytest.mark.parametrize("source, kernels", _kernels(), ids=[s for s, _ in _kernels()])
@pytest.mark.parametrize("name", ["lstm_scan", "lstm_layer"])
@pytest.mark.parametrize("key", [(0, Ellipsis), (1, Ellipsis), (-2,), (1, slice(None))])
@pytest.mark.parametrize("T", [5, 1])                   # 1: LSTMCell's one-step kernels
def test_vjp_sliced_equals_vjp_of_the_full_gradient(source, kernels, name, key, T):
    rng = np.random.default_rng(3)
    B, I, H = 2, 3, 4
    h0, c0, w_hh = rng.standard_normal((B, H)), rng.standard_normal((B, H)), \
        rng.standard_normal((H, 4 * H)) * 0.5
    if name == "lstm_scan":
        args = [rng.standard_normal((B, T, 4 * H)), h0, c0, w_hh]
        pre = []
    else:
        args = [rng.standard_normal((B, T, I)), h0, c0, rng.standard_normal((I, 4 * H)) * 0.5,
                w_hh, rng.standard_normal(4 * H)]
        pre = [[True] * 6]
    kernel = kernels[name]
    out, saved = kernel.forward(*args)
    values = rng.standard_normal((B, T, H))
    full = Scatter(out.shape, key, values, None).dense(np)
    expected = kernel.vjp(full, saved, *pre, *args)
    got = kernel.vjp_sliced(key, values, saved, *pre, *args)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("key", [(0, 1), (slice(0, 1),), (0, slice(1, None))])
def test_vjp_sliced_declines_other_slices(key):
    kernel = NUMPY.kernels["lstm_layer"]
    rng = np.random.default_rng(4)
    args = [rng.standard_normal(s) for s in ((2, 3, 2), (2, 2), (2, 2), (2, 8), (2, 8), (8,))]
    out, saved = kernel.forward(*args)
    values = np.ones(out[key].shape)
    assert kernel.vjp_sliced(key, values, saved, [True] * 6, *args) is None


def test_a_sliced_gradient_kept_unmade_is_made_where_a_rule_needs_it():
    """The tape keeps a slice's gradient unmade only until a second one comes or a node
    without ``vjp_sliced`` reads it; a source's gradient is always made."""
    x = xg.asarray(np.arange(6.0).reshape(2, 3))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * 2.0                # its gradient arrives as one Scatter: made for multiply
        z = xg.sum(y[0] * y[0])
        w = z + xg.sum(y[1:] * 3.0)   # a second slice: both added into one buffer
    np.testing.assert_allclose(tape.gradient(z, x).numpy(), [[0, 8, 16], [0, 0, 0]])
    np.testing.assert_allclose(tape.gradient(w, x).numpy(), [[0, 8, 16], [6, 6, 6]])
    np.testing.assert_allclose(tape.gradient(z, y).numpy(), [[0, 4, 8], [0, 0, 0]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_step_replays_the_sliced_backward(backend, monkeypatch):
    be = xg.get_backend(backend)
    calls = _Calls(be.kernels["lstm_layer"]).install(be, monkeypatch)
    x, y = _data(backend, dtype=np.float32)
    runs = []
    for compiled in (False, True):
        lstm = nn.LSTM(4, 5, rng=0, backend=backend)
        opt = xg.optim.SGD(0.1)

        def step(x, y, lstm=lstm, opt=opt):
            with xg.GradientTape() as tape:
                out, _ = lstm(x)
                loss = xg.losses.mse(out, y)
            opt.apply_gradients(zip(tape.gradient(loss, lstm.trainable_variables),
                                    lstm.trainable_variables))
            return loss

        step = xg.function(step) if compiled else step
        before = len(calls.keys)
        losses = [float(step(x, y)) for _ in range(4)]
        runs.append((losses, [v.numpy() for v in lstm.trainable_variables]))
        assert len(calls.keys) - before == 4 and calls.full == 0
    (eager, eager_w), (replayed, replayed_w) = runs
    np.testing.assert_allclose(replayed, eager, rtol=1e-6)
    for a, b in zip(replayed_w, eager_w):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_numba_backward_pass_has_one_signature_for_sliced_and_full_gradients(monkeypatch):
    """The gradient halves reach the Numba loop with one type whichever path made them, so the
    warmup's compile covers both (a second signature would compile in the middle of training)."""
    if "numba" not in BACKENDS:
        pytest.skip("numba is not available")
    import numba

    from xpgrad.backends.numba import _rnn

    from xpgrad.backends import blas

    # the halves' places: the whole compiled loop where a direct gemm takes the steps'
    # products, else the step's loop, called per step from Python (patching the step that the
    # whole loop compiles in would break its compilation)
    name, first = ("lstm_backward_steps", 2) if blas._library() is not None else \
        ("lstm_cell_backward", 0)
    loop, seen = getattr(_rnn, name), set()

    def recording(*args):
        seen.add((numba.typeof(args[first]), numba.typeof(args[first + 1])))
        return loop(*args)

    monkeypatch.setattr(_rnn, name, recording)
    lstm = nn.LSTM(3, 4, rng=0, backend="numba")
    x = xg.asarray(np.ones((2, 5, 3), np.float32), backend="numba")
    for with_c in (False, True):          # the h half alone (sliced), then both (full)
        with xg.GradientTape() as tape:
            out, (_, c) = lstm(x)
            loss = xg.sum(out * out) + (xg.sum(c * c) if with_c else 0.0)
        tape.gradient(loss, lstm.trainable_variables)
    assert len(seen) == 1, seen
