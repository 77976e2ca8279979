"""Truncated BPTT: the windows, the gradients against an independent truncated reference, the
tape's size bounded by k2 (not by the sequence length), errors, and the examples built on it."""
import weakref

import numpy as np
import pytest

import xpgrad as xg
from xpgrad import nn
from xpgrad.nn.tbptt import tbptt_train, windows
from xpgrad.tape_recording import node_inputs

from conftest import load_example as load


class Head(nn.Module):
    """LSTM + linear read-out: ``model(x, state) -> (predictions, state)``."""

    def __init__(self, n_in=2, hidden=3, n_out=2, dtype="float64"):
        super().__init__("head")
        self.lstm = nn.LSTM(n_in, hidden, rng=0, dtype=dtype)
        self.out = nn.Linear(hidden, n_out, rng=1, dtype=dtype)

    def forward(self, x, state=None):
        h, state = self.lstm(x, state)
        return self.out(h), state


class Recorder:
    """A stand-in optimizer that records the gradients and changes nothing (lr = 0)."""

    def __init__(self):
        self.grads = []

    def apply_gradients(self, pairs):
        self.grads.append([g.numpy() for g, _ in pairs])


def mse(out, target):
    return xg.losses.mse(out, target)


def data(rng, B=2, N=12, n_in=2, n_out=2):
    return (xg.asarray(rng.standard_normal((B, N, n_in))),
            xg.asarray(rng.standard_normal((B, N, n_out))))


def test_windows_cover_every_step_once():
    assert windows(6, 3, 3) == [(0, 0, 3, 3), (3, 3, 6, 6)]
    assert windows(7, 2, 4) == [(0, 0, 2, 0), (0, 2, 4, 2), (2, 4, 6, 4), (4, 6, 7, 7)]
    assert windows(7, 3, 3) == [(0, 0, 3, 3), (3, 3, 6, 6), (6, 6, 7, 7)]
    for n, k1, k2 in [(10, 3, 3), (10, 3, 5), (11, 2, 7), (5, 5, 9), (1, 1, 1)]:
        ws = windows(n, k1, k2)
        assert [s for _, s, e, _ in ws for s in range(s, e)] == list(range(n))
        for (w0, start, end, nxt), following in zip(ws, ws[1:] + [None]):
            # a window: its block and at most k2 - k1 steps before it
            assert end - w0 <= k2 and start - w0 <= k2 - k1 and w0 <= nxt <= end
            if following is not None:
                assert following[0] == nxt       # the next window starts where we kept the state


@pytest.mark.parametrize("k1, k2", [(3, 3), (2, 3), (2, 5), (4, 4), (12, 12)])
def test_gradients_equal_an_independent_truncated_reference(k1, k2, rng):
    """With lr = 0 the states of the full sequence are fixed, so update j's gradient must be that
    of loss(block j) run from the exact state at step w0, cut with stop_gradient there."""
    model = Head()
    x, y = data(rng)
    variables = model.trainable_variables
    rec = Recorder()
    result = tbptt_train(model, mse, rec, x, y, k1, k2)
    n = x.shape[1]
    assert result.updates == len(rec.grads) == len(result.losses) == -(-n // k1)
    for (w0, start, end, _), got in zip(windows(n, k1, k2), rec.grads):
        state = None
        if w0 > 0:
            state = tuple(xg.stop_gradient(s) for s in model(x[:, :w0])[1])
        with xg.GradientTape() as tape:
            out, _ = model(x[:, w0:end], state)
            loss = mse(out[:, start - w0:], y[:, start:end])
        want = tape.gradient(loss, variables)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-10, atol=1e-13)
    full_state = model(x)[1]
    np.testing.assert_allclose(result.state[1].numpy(), full_state[1].numpy(), rtol=1e-12)


@pytest.mark.parametrize("n", [7, 8, 9])
def test_k2_equal_to_k1_is_the_loop_over_detached_blocks(n, rng):
    """docs/recurrent.md's claim: tbptt_train is the hand-written loop (each block of k1 steps run
    from the previous block's detached state, then one update) with the same losses and
    weights, a last shorter block included (it ran k2 steps from an earlier state)."""
    x, y = data(rng, N=n, n_in=1, n_out=4)

    def fresh():
        return xg.nn.LSTM(1, 4, rng=0, dtype=xg.float64), xg.optim.SGD(learning_rate=0.5)

    lstm, opt = fresh()
    result = tbptt_train(lstm, mse, opt, x, y, k1=3)
    hand_lstm, hand_opt = fresh()
    variables = hand_lstm.trainable_variables
    state, losses = None, []
    for a in range(0, n, 3):
        with xg.GradientTape() as tape:
            out, new_state = hand_lstm(x[:, a:a + 3], state)
            loss = mse(out, y[:, a:a + 3])
        hand_opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        losses.append(float(loss))
        state = xg.nn.detach(new_state)
    assert result.losses == losses
    for a, b in zip(lstm.trainable_variables, variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(result.state[0].numpy(), state[0].numpy())


def test_one_window_is_full_bptt_and_sgd_really_updates(rng):
    model = Head()
    x, y = data(rng, N=6)
    before = [v.numpy().copy() for v in model.trainable_variables]
    with xg.GradientTape() as tape:
        loss = mse(model(x)[0], y)
    want = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    result = tbptt_train(model, mse, xg.optim.SGD(learning_rate=0.5), x, y, k1=6)
    assert result.losses == [pytest.approx(float(loss))]
    for v, b, g in zip(model.trainable_variables, before, want):
        np.testing.assert_allclose(v.numpy(), b - 0.5 * g, rtol=1e-12)


def _tape_stats(monkeypatch):
    """Patch GradientTape.gradient to record, per update: the tape's nodes, the bytes of the
    arrays its nodes hold (their residuals: inputs, outputs, kernels' saved arrays; a view counts
    its own size), how many outputs and saved arrays of earlier tapes are still alive, and how
    many earlier tapes."""
    stats = []
    earlier = []
    tapes = []
    original = xg.GradientTape.gradient

    def arrays(obj):
        if isinstance(obj, xg.Tensor):
            yield obj._data
        elif isinstance(obj, (tuple, list)):
            for o in obj:
                yield from arrays(o)
        elif hasattr(obj, "nbytes"):
            yield obj

    def gradient(self, target, sources, *a, **k):
        seen, total = set(), 0
        made = []      # arrays this tape's steps computed (the inputs include the weights)
        for node in self._nodes:       # tape._record's layout: residuals, output, kernel's
            res, ans, saved = node_inputs(node), node[5], node[6]
            made.extend(arrays([ans, saved]))
            for arr in arrays([res, ans, saved]):
                if id(arr) not in seen:
                    seen.add(id(arr))
                    total += arr.nbytes
        alive = sum(r() is not None for r in earlier)
        stats.append((len(self._nodes), total, alive, sum(t() is not None for t in tapes)))
        earlier.extend(weakref.ref(arr) for arr in made if isinstance(arr, np.ndarray))
        tapes.append(weakref.ref(self))
        return original(self, target, sources, *a, **k)

    monkeypatch.setattr(xg.GradientTape, "gradient", gradient)
    return stats


@pytest.mark.parametrize("k1, k2", [(10, 10), (10, 25)])
def test_tape_memory_is_bounded_by_k2_not_by_the_sequence_length(k1, k2, rng, monkeypatch):
    per_length = {}
    for n in (100, 1000):
        stats = _tape_stats(monkeypatch)
        model = Head(dtype="float32")
        x, y = (xg.astype(t, "float32") for t in data(rng, B=4, N=n))
        tbptt_train(model, mse, xg.optim.SGD(learning_rate=0.01), x, y, k1, k2)
        monkeypatch.undo()
        assert len(stats) == n // k1
        steady = stats[k2 // k1:-1]     # after the first, shorter windows; the last has no split
        assert len({s[:2] for s in steady}) == 1, steady[:3]
        assert max(s[3] for s in stats) == 0            # no earlier tape survives, and of
        assert max(s[2] for s in stats) <= 2            # their arrays only the state h, c
        per_length[n] = steady[0]
    assert per_length[100] == per_length[1000]
    nodes, nbytes, _, _ = per_length[100]
    # the saved activations of k2 steps dominate: 4 x (batch 4, 4 gates x 3 hidden) floats/step
    assert nbytes >= k2 * 4 * 12 * 4


def test_tape_grows_with_k2(rng, monkeypatch):
    sizes = []
    for k2 in (5, 20):
        stats = _tape_stats(monkeypatch)
        x, y = (xg.astype(t, "float32") for t in data(rng, B=4, N=40))
        tbptt_train(Head(dtype="float32"), mse, xg.optim.SGD(learning_rate=0.01), x, y, 5, k2)
        monkeypatch.undo()
        sizes.append(stats[-1][1])
    assert sizes[1] > 2 * sizes[0]


def test_state_in_and_clipping_and_callback(rng):
    model = Head()
    x, y = data(rng, N=8)
    seen = []
    first = tbptt_train(model, mse, Recorder(), x[:, :4], y[:, :4], 2)
    second = tbptt_train(model, mse, Recorder(), x[:, 4:], y[:, 4:], 2, state=first.state,
                         callback=lambda i, loss: seen.append((i, loss)))
    np.testing.assert_allclose(second.state[0].numpy(), model(x)[1][0].numpy(), rtol=1e-12)
    assert [i for i, _ in seen] == [0, 1] and [v for _, v in seen] == second.losses
    rec = Recorder()
    tbptt_train(model, mse, rec, x, y * 1e3, 4, max_grad_norm=1e-3)
    for grads in rec.grads:
        assert np.sqrt(sum((g ** 2).sum() for g in grads)) == pytest.approx(1e-3)


def test_errors_are_clear(rng):
    model = Head()
    x, y = data(rng)
    with pytest.raises(ValueError, match="k2=2 < k1=3 is not supported"):
        tbptt_train(model, mse, Recorder(), x, y, 3, 2)
    with pytest.raises(ValueError, match="k1 must be a positive int, got 0"):
        tbptt_train(model, mse, Recorder(), x, y, 0)
    with pytest.raises(ValueError, match=r"must agree on \(batch, time\)"):
        tbptt_train(model, mse, Recorder(), x, y[:, :5], 3)
    with pytest.raises(ValueError, match="inputs must be a batch-first Tensor"):
        tbptt_train(model, mse, Recorder(), x[0, 0], y, 3)
    with pytest.raises(TypeError, match=r"tbptt_train: state .*must be a Tensor"):
        tbptt_train(model, mse, Recorder(), x, y, 3, state={"h": 1})


# -- the examples ---------------------------------------------------------------------------------


def test_char_lm_learns_on_a_tiny_budget():
    result = load("char_lm").run(chars=3000, epochs=4, batch_size=8, seq_len=25, hidden=48,
                                 learning_rate=0.02, sample_chars=40, seed=0)
    losses = result["loss"]
    assert np.log(result["vocab_size"]) == pytest.approx(losses[0], rel=0.1)   # uniform start
    assert np.mean(losses[-5:]) < 0.8 * losses[0], losses
    assert len(result["sample"]) == 40 and set(result["sample"]) <= set(result["vocab"])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_char_lm_compiled_follows_the_eager_run(backend, monkeypatch):
    """``--compile``: each update replayed by ``xg.function`` gives the eager run's losses
    (gradient clipping and Adam included) and the same sample."""
    if backend == "numba":
        pytest.importorskip("numba")
    import xpgrad.nn.tbptt as tbptt_module

    functions, compiled = [], tbptt_module._compiled
    monkeypatch.setattr(tbptt_module, "_compiled",
                        lambda *args: functions.append(compiled(*args)) or functions[-1])
    runs = [load("char_lm").run(chars=1500, steps=6, batch_size=4, seq_len=20, hidden=24,
                                learning_rate=0.02, sample_chars=20, seed=1, backend=backend,
                                compile=compile) for compile in (False, True)]
    eager, replayed = (r["loss"] for r in runs)
    assert len(eager) == len(replayed) == 6
    np.testing.assert_allclose(replayed, eager, rtol=1e-5)
    assert eager[-1] < eager[0]
    assert runs[0]["sample"] == runs[1]["sample"]
    assert len(functions) == 1 and functions[0].programs()      # traced once, then replayed


def test_sine_prediction_learns_on_a_tiny_budget():
    result = load("sine").run(steps=60, hidden=16, seed=0)
    losses = result["loss"]
    assert np.mean(losses[-5:]) < 0.2 * np.mean(losses[:5]), losses
    assert result["test_mse"] < result["persistence_mse"]


def test_xpgrad_train_model_lstm():
    from xpgrad.training import TrainConfig, train

    result = train(TrainConfig(model="lstm", epochs=2, hidden=(32,), logdir=None,
                               progress=False, seed=0), echo=None)
    assert result.history.train_loss[-1] < result.history.train_loss[0]
    assert result.test_accuracy > 0.3          # 10 classes: chance is 0.1


@pytest.mark.parametrize("backend, compile", [("numpy", False), ("numba", True)])
def test_xpgrad_train_model_gru(backend, compile):
    """``--model gru``: learns, and the compiled numba run follows the eager numpy one."""
    from xpgrad.training import TrainConfig, train

    runs = [train(TrainConfig(model="gru", epochs=2, hidden=(32,), logdir=None, progress=False,
                              seed=0, **cfg), echo=None)
            for cfg in ({}, {"backend": backend, "compile": compile})]
    result = runs[1]
    assert result.history.train_loss[-1] < result.history.train_loss[0]
    assert result.test_accuracy > 0.3
    np.testing.assert_allclose(runs[1].history.train_loss, runs[0].history.train_loss,
                               rtol=1e-4)


@pytest.mark.parametrize("compile", [False, True])
def test_a_non_scalar_loss_is_refused_before_any_update(compile):
    lstm = xg.nn.LSTM(3, 4, rng=0)
    before = [v.numpy().copy() for v in lstm.trainable_variables]
    with pytest.raises(TypeError, match=r"loss_fn must return a scalar .* shape \(2, 3, 4\)"):
        xg.nn.tbptt_train(lstm, lambda out, y: (out - y) ** 2, xg.optim.SGD(0.1),
                          xg.ones((2, 10, 3)), xg.zeros((2, 10, 4)), k1=3, compile=compile)
    assert all(np.array_equal(v.numpy(), b) for v, b in zip(lstm.trainable_variables, before))


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_a_model_returning_one_tensor_is_named(batch):
    lstm = xg.nn.LSTM(3, 4, rng=0)
    with pytest.raises(TypeError, match=r"model must return \(outputs, new_state\).*got a Tensor"):
        xg.nn.tbptt_train(lambda x, s: lstm(x)[0], xg.losses.mse, xg.optim.SGD(0.1),
                          xg.ones((batch, 10, 3)), xg.zeros((batch, 10, 4)), k1=3,
                          variables=lstm.trainable_variables)
