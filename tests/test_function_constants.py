"""xg.function folds the arrays a program makes from shapes alone (the gradient's seed
``ones_like(loss)``, reshaped and broadcast): made once when the program is built, never when
a later step could write into them or they leave the function."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit.constants import Constant, FreshConstant

BACKENDS = ["numpy", "numba"]


def _replayed(fn, *args, calls=4):
    compiled = xg.function(fn)
    for _ in range(calls):
        out = compiled(*args)
    return compiled.programs()[0], out


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_gradient_seed_is_folded_and_the_gradient_equals_eager(backend):
    x = xg.asarray(np.linspace(-1, 1, 5).astype(np.float32), backend=backend)

    def grad(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.sum(xg.sin(x) * x)
        return tape.gradient(y, x)

    program, got = _replayed(grad, x)
    assert program.constants_folded >= 1
    assert any(isinstance(c, Constant) for c in program.constants.values())
    np.testing.assert_allclose(got.numpy(), grad(x).numpy(), rtol=1e-6)


def test_a_made_array_that_leaves_the_function_is_made_on_every_call():
    x = xg.asarray(np.zeros(3, np.float32))
    program, first = _replayed(lambda x: xg.ones_like(x), x)
    second = xg.function(lambda x: xg.ones_like(x))
    assert program.constants_folded == 0
    assert not np.shares_memory(first.numpy(), program.run((x,), {}).numpy())
    assert second(x).tolist() == [1.0, 1.0, 1.0]


def test_a_seed_passed_to_a_kernel_is_not_folded():
    # a backend kernel may write into its inputs (the softmax-CE gradient takes the seed)
    w = xg.Variable(np.ones((3, 2), np.float32))
    x = xg.asarray(np.ones((4, 3), np.float32))
    y = xg.asarray(np.array([0, 1, 1, 0]))

    def grad(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(x @ w, y)
        return tape.gradient(loss, [w])[0]

    program, got = _replayed(grad, x, y)
    assert program.constants_folded == 0
    assert not any(isinstance(c, Constant) for c in program.constants.values())
    np.testing.assert_allclose(got.numpy(), grad(x, y).numpy(), rtol=1e-6)


def _sce_grad_program(backend):
    w = xg.Variable(np.linspace(-1, 1, 6).reshape(3, 2).astype(np.float32), backend=backend)
    x = xg.asarray(np.linspace(0, 2, 12).reshape(4, 3).astype(np.float32), backend=backend)
    y = xg.asarray(np.array([0, 1, 1, 0]), backend=backend)

    def grad(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(x @ w, y)
        return tape.gradient(loss, [w])[0]

    program, got = _replayed(grad, x, y)
    return program, got, (w, x, y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_seed_a_kernel_may_write_into_is_a_fresh_copy_on_every_call(backend, monkeypatch):
    torch = pytest.importorskip("torch")
    # each backend's loss would take its gradient with the forward, seed and all
    # (jit/loss_gradient.py)
    monkeypatch.setattr("xpgrad.jit.program.fold_loss_gradient", lambda program, escaping: 0)
    monkeypatch.setattr("xpgrad.jit.program.fold_numpy_loss_gradient",
                        lambda program, escaping: 0)
    program, got, (w, x, y) = _sce_grad_program(backend)
    assert "ones_like" not in " ".join(map(repr, program.constants.values()))
    copies = [c for c in program.constants.values() if isinstance(c, FreshConstant)]
    assert len(copies) == 1 and program.constants_copied == 1
    first, second = copies[0](), copies[0]()
    assert first.tolist() == 1.0 and not np.shares_memory(first, second)
    tw = torch.tensor(w.numpy(), requires_grad=True)
    torch.nn.functional.cross_entropy(torch.tensor(x.numpy()) @ tw,
                                      torch.tensor(y.numpy())).backward()
    for _ in range(2):       # a kernel scaling its seed in place must not reach the next call
        np.testing.assert_allclose(program.run((x, y), {}).numpy(), tw.grad.numpy(),
                                   rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_a_fresh_copy_is_a_new_writable_array_each_call():
    copy = FreshConstant(np.ones((2, 3), np.float32))
    a, b = copy(), copy()
    a += 1
    assert b.tolist() == [[1.0] * 3] * 2 and copy().tolist() == [[1.0] * 3] * 2
