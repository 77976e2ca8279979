"""``xg.function`` on a function whose tensors all come from its closure (no tensor
arguments): it must trace on the backend those tensors live on. Before, it traced on the
current backend (numpy by default), recorded nothing of the numba work, and baked the first
call's gradient into the program: every replay applied that same stale gradient."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import TraceError

X0 = np.random.default_rng(0).standard_normal((5, 2)) * 4.0
W0 = np.array([[0.5, -1.5, 2.0], [3.0, 0.25, -0.75]])


def _training(make_opt, backend, compiled, steps=4):
    opt = make_opt()
    w = xg.Variable(W0.copy(), backend=backend)
    x = xg.asarray(X0, backend=backend)

    def step():
        with xg.GradientTape() as tape:
            loss = xg.sum((x @ w) ** 2)
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return loss

    run = xg.function(step) if compiled else step
    history = []
    for _ in range(steps):
        loss = run()
        history.append((loss.item(), w.numpy()))
    return history, run


@pytest.mark.parametrize("make_opt", [lambda: xg.optim.SGD(0.01),
                                      lambda: xg.optim.Adam(0.05)], ids=["SGD", "Adam"])
def test_closure_tensors_on_numba_replay_as_eager(make_opt):
    eager, _ = _training(make_opt, "numba", compiled=False)
    compiled, run = _training(make_opt, "numba", compiled=True)
    for (le, we), (lc, wc) in zip(eager, compiled):
        assert lc == pytest.approx(le, rel=1e-12)
        np.testing.assert_allclose(wc, we, rtol=1e-12)
    assert run.trace_count == 1
    program = next(iter(run._programs.values()))
    assert program.be.name == "numba"


def test_the_current_backend_still_serves_functions_that_make_their_own_tensors():
    @xg.function
    def make():
        return xg.sum(xg.arange(4.0) ** 2)

    assert [make().item() for _ in range(3)] == [14.0, 14.0, 14.0]
    assert make().backend.name == xg.current_backend().name


@pytest.mark.usefixtures("numpy_default")
def test_tensor_arguments_on_one_backend_and_work_on_another_is_refused():
    w = xg.Variable(W0.copy(), backend="numba")

    @xg.function(warmup=0)
    def scaled(s):
        return xg.sum(w) * 2.0 + s.shape[0]

    with pytest.raises(TraceError, match="'numba'.*'numpy'|'numpy'.*'numba'"):
        scaled(xg.asarray([1.0, 2.0]))


def test_a_function_computing_on_two_backends_is_refused_once_not_retraced_forever():
    a = xg.Variable(np.ones(3), backend="numba")
    b = xg.Variable(np.ones(3), backend="numpy")

    @xg.function(warmup=0)
    def both():
        return xg.sum(a), xg.sum(b)

    with pytest.raises(TraceError, match="one backend"):
        both()
