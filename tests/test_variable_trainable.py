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
