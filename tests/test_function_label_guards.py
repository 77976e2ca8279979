"""xg.function on numba: where the softmax cross-entropy kernel is all that reads the integer
labels, it checks them (declining at one outside ``[0, classes)``) instead of a range guard of
their own (``jit/label_guards.py``). Labels the trace did not see but the loss takes replay
as eager; a bad label fails the replay before anything changed, and the eager call raises."""
import numpy as np
import pytest

import xpgrad as xg

pytest.importorskip("numba")

CLASSES = 4


def _step(backend, extra=None, update_first=False):
    rng = np.random.default_rng(0)
    w = xg.Variable(rng.normal(size=(5, CLASSES)), backend=backend)
    b = xg.Variable(rng.normal(size=CLASSES), backend=backend)
    opt = xg.optim.SGD(0.1)

    def step(x, y):
        if update_first:            # a state change before the loss: the guard stays
            opt.apply_gradients([(xg.ones_like(b), b)])
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(xg.nn.linear(x, w, b), y)
        opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
        out = (loss,)
        if extra == "one_hot":      # the labels read by another step too: the guard stays
            out += (xg.one_hot(y, CLASSES),)
        return out

    return step, [w, b], opt


def _batch(backend, labels, seed=1):
    x = np.random.default_rng(seed).normal(size=(len(labels), 5))
    return xg.asarray(x, backend=backend), xg.asarray(np.array(labels), backend=backend)


def _program(run):
    return run.programs()[0]


def test_the_kernel_checks_the_labels_instead_of_a_guard():
    eager, eager_vars, eager_opt = _step("numba")
    step, variables, opt = _step("numba")
    run = xg.function(step)
    calls = [[0, 1, 2, 1], [0, 1, 2, 1], [3, 0, 3, 2], [1, 1, 0, 0]]   # 3: never traced
    for k, labels in enumerate(calls):
        x, y = _batch("numba", labels, seed=k)
        got, want = run(x, y), eager(x, y)
        np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-12)
    for a, e in zip(variables, eager_vars):
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-12)
    assert opt.iterations == eager_opt.iterations == len(calls)
    program = _program(run)
    assert program.label_guards == 1
    assert not any(type(v).__name__ == "RangeGuard" for v in program._namespace.values())
    assert len(run.programs()) == 1


@pytest.mark.parametrize("bad", [CLASSES, -1, 10**6])
def test_a_bad_label_fails_the_replay_and_the_eager_call_raises(bad):
    step, variables, opt = _step("numba")
    run = xg.function(step)
    for _ in range(3):
        run(*_batch("numba", [0, 1, 2, 3]))
    assert _program(run).label_guards == 1
    before = [v.numpy().copy() for v in variables]
    iterations = opt.iterations
    with pytest.raises(IndexError, match=f"label {bad} is out of range for {CLASSES} classes"):
        run(*_batch("numba", [0, bad, 1, 2]))
    for v, old in zip(variables, before):           # nothing updated
        np.testing.assert_array_equal(v.numpy(), old)
    assert opt.iterations == iterations
    got = run(*_batch("numba", [1, 2, 3, 0]))       # and the program still replays
    assert np.isfinite(got[0].numpy())


@pytest.mark.parametrize("case", ["numpy backend", "labels read elsewhere", "update first"])
def test_the_guard_stays_where_the_kernel_cannot_stand_in(case):
    backend = "numpy" if case == "numpy backend" else "numba"
    step, _, _ = _step(backend, extra="one_hot" if case == "labels read elsewhere" else None,
                       update_first=case == "update first")
    run = xg.function(step)
    for _ in range(3):
        run(*_batch(backend, [0, 1, 2, 1]))
    program = _program(run)
    assert program.label_guards == 0
    assert any(type(v).__name__ == "RangeGuard" for v in program._namespace.values())
    with pytest.raises(IndexError, match=f"label {CLASSES} is out of range"):
        run(*_batch(backend, [0, CLASSES, 1, 2]))
