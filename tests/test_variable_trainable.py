"""``Variable.trainable`` is settable (Keras 3's ``variable.trainable``, PyTorch's
``p.requires_grad_(False)``): one weight of a module frozen leaves ``trainable_variables``
and the tapes' automatic watch, and an xg.function keeps a program per setting."""
import numpy as np
import pytest

import xpgrad as xg


def test_freezing_one_bias_trains_the_rest():
    lin = xg.nn.Linear(2, 3, rng=0)
    lin.b.trainable = False
    assert [v.name for v in lin.trainable_variables] == ["linear/w"]
    with xg.GradientTape() as tape:
        loss = xg.sum(lin(xg.ones((4, 2))) ** 2)
    assert tape.gradient(loss, [lin.b]) == [None]           # not watched by itself
    lin.b.trainable = True
    assert [v.name for v in lin.trainable_variables] == ["linear/w", "linear/b"]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_compiled_step_follows_the_setting(backend):
    lin = xg.nn.Linear(2, 3, rng=0, backend=backend)
    opt = xg.optim.SGD(0.1)

    def train(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(lin(x) ** 2)
        variables = lin.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))

    compiled = xg.function(train)
    x = xg.ones((4, 2), backend=backend)
    moved = []
    for i in range(8):
        lin.b.trainable = not 3 <= i < 6
        before = lin.b.numpy()
        compiled(x)
        moved.append(not np.array_equal(before, lin.b.numpy()))
    assert moved == [True, True, True, False, False, False, True, True]
    assert compiled.trace_count == 2


def test_bad_settings_are_refused():
    v = xg.Variable([1, 2], trainable=False)
    with pytest.raises(TypeError, match="int64 and cannot be trainable"):
        v.trainable = True
    with pytest.raises(TypeError, match="trainable must be True or False"):
        xg.Variable([1.0]).trainable = "no"


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_compiled_step_follows_the_setting_of_variables_listed_before_the_loop(backend):
    # the tape leaves an untrainable Variable unwatched, so its gradient is None and the
    # eager update skips it; a replay traced while it trained must not go on updating it
    def run(compiled):
        lin = xg.nn.Linear(2, 3, rng=0, backend=backend)
        opt = xg.optim.SGD(0.1, momentum=0.5)
        variables = lin.trainable_variables                 # listed once, as docs/training.md says

        def train(x):
            with xg.GradientTape() as tape:
                loss = xg.sum(lin(x) ** 2)
            grads = tape.gradient(loss, variables)
            opt.apply_gradients((g, v) for g, v in zip(grads, variables) if g is not None)
            return loss

        step = xg.function(train) if compiled else train
        x = xg.asarray(np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2), backend=backend)
        losses, biases = [], []
        for i in range(9):
            lin.b.trainable = not 3 <= i < 6
            losses.append(float(step(x).numpy()))
            biases.append(lin.b.numpy())
        return losses, biases, step

    eager_losses, eager_biases, _ = run(False)
    losses, biases, compiled = run(True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    np.testing.assert_allclose(biases, eager_biases, rtol=1e-6, atol=1e-7)
    assert compiled.trace_count == 2
