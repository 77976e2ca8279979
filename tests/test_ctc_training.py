"""xg.losses.ctc in use: an LSTM trained with it learns (the loss falls), and xg.function
replays equal eager calls, also when targets or lengths change between calls."""
from __future__ import annotations

import contextlib
import re

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.jit.program import Program
from xpgrad.jit.replay_steps import RangeGuard
from docs_text import text_from

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


def _toy_batch(rng, n=8, steps=12, classes=4):
    """Sequences whose label sequence is read off the inputs: each input step is a one-hot of
    a label or of the blank (0), with noise; the target is the labels in order."""
    x = np.zeros((n, steps, classes))
    targets = np.zeros((n, 3), np.int64)
    target_lengths = rng.integers(1, 4, n)
    for i in range(n):
        labels = rng.integers(1, classes, target_lengths[i])
        targets[i, :len(labels)] = labels
        at = np.sort(rng.choice(np.arange(0, steps, 2), len(labels), replace=False))
        x[i, :, 0] = 1.0
        x[i, at, 0], x[i, at, labels] = 0.0, 1.0
    x += 0.1 * rng.standard_normal(x.shape)
    return x, targets, np.full(n, steps), target_lengths


@pytest.mark.parametrize("backend", BACKENDS)
def test_lstm_with_ctc_learns(backend):
    rng = np.random.default_rng(0)
    x, targets, il, tl = _toy_batch(rng)
    lstm = xg.nn.LSTM(4, 16, rng=0, dtype=xg.float64, backend=backend)
    head = xg.nn.Linear(16, 4, rng=1, dtype=xg.float64, backend=backend)
    opt = xg.optim.Adam(learning_rate=0.05)
    variables = lstm.trainable_variables + head.trainable_variables
    xs = xg.asarray(x, backend=backend)
    losses = []
    for _ in range(40):
        with xg.GradientTape() as tape:
            out, _ = lstm(xs)                                      # (N, T, H)
            logits = xg.moveaxis(head(out), 1, 0)                  # (T, N, C), time first
            loss = xg.losses.ctc(xg.nn.log_softmax(logits, axis=-1), targets, il, tl)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        losses.append(loss.item())
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.3 * losses[0], losses


def _step_fn(backend):
    w = xg.Variable(xg.asarray(np.random.default_rng(1).standard_normal((3, 5)),
                               backend=backend), name="w")

    def step(x, targets, il, tl):
        with xg.GradientTape() as tape:
            lp = xg.nn.log_softmax(x @ w, axis=-1)
            loss = xg.losses.ctc(lp, targets, il, tl, reduction="mean", zero_infinity=True)
        return loss, tape.gradient(loss, w)

    return step


#: target lengths per call: the same total (so concatenated targets keep their shape and the
#: program replays); the third and fifth calls' longest target is longer than the traced one's
#: (the third widens the range check of target_lengths, yet the fifth must not replay either)
TARGET_LENGTHS = ([2, 1, 1], [1, 1, 2], [3, 1, 0], [2, 2, 0], [1, 3, 0])


def _calls(backend, concatenated):
    rng = np.random.default_rng(2)
    out = []
    for k, tl in enumerate(TARGET_LENGTHS):
        tl = np.array(tl)
        x = rng.standard_normal((7, 3, 3))
        targets = rng.integers(1, 5, (3, 3))
        il = np.array([7, 6, 2 + k % 2])                 # the last sometimes infeasible
        t = (np.concatenate([targets[i, :tl[i]] for i in range(3)]) if concatenated
             else targets)
        out.append(tuple(xg.asarray(a, backend=backend) for a in (x, t, il, tl)))
    return out


@contextlib.contextmanager
def _counting(cls, name):
    """A list that gets one entry per call of ``cls.name`` while the context runs."""
    original, calls = getattr(cls, name), []

    def counted(*args, **kwargs):
        calls.append(args[1:])
        return original(*args, **kwargs)

    setattr(cls, name, counted)
    try:
        yield calls
    finally:
        setattr(cls, name, original)


@pytest.mark.parametrize("concatenated", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_function_equals_eager(backend, concatenated):
    eager = _step_fn(backend)
    compiled = xg.function(_step_fn(backend), warmup=0)
    with _counting(Program, "run_arrays") as replays, _counting(RangeGuard, "widen") as failures:
        for args in _calls(backend, concatenated):
            (a, ga), (b, gb) = eager(*args), compiled(*args)
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12)
            np.testing.assert_allclose(gb.numpy(), ga.numpy(), rtol=1e-12, atol=1e-14)
    # traced once, then replayed (or tried: a guard that fails runs the call eagerly). The
    # third and fifth calls have a longer target than traced: run eagerly, as they must be for
    # concatenated targets (padded to the traced width, they would be cut short)
    assert len(replays) == 4 and failures


@pytest.mark.usefixtures("numpy_default")
def test_function_replay_still_refuses_bad_labels():
    compiled = xg.function(_step_fn("numpy"))
    args = _calls("numpy", False)[0]
    compiled(*args)
    compiled(*args)                                       # replayed
    bad = np.asarray(args[1].numpy()).copy()
    bad[0, 0] = 0                                         # the blank
    with pytest.raises(ValueError, match="blank label 0"):
        compiled(args[0], xg.asarray(bad), args[2], args[3])


def test_readme_example_runs():
    code = re.search(r"```python\n(.*?)```",
                     text_from("`xg.losses.ctc(log_probs, targets, input_lengths"), re.S).group(1)
    scope = {}
    exec(compile(code, "docs/losses.md (ctc)", "exec"), scope)
    assert np.isfinite(scope["loss"].item()) and scope["loss"].item() > 0
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in scope["grads"])
