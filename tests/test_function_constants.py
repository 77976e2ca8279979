"""xg.function folds the arrays a program makes from shapes alone (the gradient's seed
``ones_like(loss)``, reshaped and broadcast): made once when the program is built, never when
a later step could write into them or they leave the function."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit.constants import Constant

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
