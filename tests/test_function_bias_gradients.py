"""xg.function on NumPy: a dense layer's vjp left with the bias's gradient alone (its inputs
need none, its weights' gradient folded into SGD's gemm) replays as the rows' sum
(``jit/bias_gradients.py``); the replay equals the eager step bit for bit."""
import numpy as np
import pytest

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")


def _mlp_step(optimizer, batch):
    model = xg.nn.MLP([12, 32, 5], rng=xg.random.default_rng(0, backend="numpy"),
                      backend="numpy")
    params = model.trainable_variables
    opt = optimizer()

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return loss

    return step, params


def _compare(optimizer, batch=6):
    eager, eager_params = _mlp_step(optimizer, batch)
    step, params = _mlp_step(optimizer, batch)
    compiled = xg.function(step)
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = xg.asarray(rng.normal(size=(batch, 12)).astype(np.float32), backend="numpy")
        y = xg.asarray(rng.integers(0, 5, batch), backend="numpy")
        np.testing.assert_array_equal(compiled(x, y).numpy(), eager(x, y).numpy())
        for got, want in zip(params, eager_params):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    return compiled.programs()[0]


@pytest.mark.parametrize("batch", [6, 300])     # 300 rows: sum_rows's blocked sum
def test_sgd_steps_take_the_bias_gradients_as_sums(batch, monkeypatch):
    from xpgrad.jit import sgd_gemm

    monkeypatch.setattr(sgd_gemm, "FOLD_MEMORY_SLACK", 1 << 30)   # both weights folded
    program = _compare(lambda: xg.optim.SGD(0.1), batch)
    assert program.sgd_gemms == 2
    assert program.bias_sums == 2
    assert "sum_rows" in {getattr(v, "__name__", None) for v in program._namespace.values()}


def test_adam_steps_equal_eager_with_the_sums():
    program = _compare(lambda: xg.optim.Adam(0.01))
    assert program.sgd_gemms == 0 and program.bias_sums == 2


@pytest.mark.parametrize("needs", [[True, False, True], [False, True, True], [False, False, False]])
def test_a_vjp_giving_more_or_other_than_the_bias_stays_the_kernel(needs):
    from xpgrad.backends.numpy.kernels import _linear_vjp
    from xpgrad.jit.bias_gradients import _alone
    from xpgrad.jit.program_steps import Ref, Step

    outs = tuple(Ref(4 + k) if need else None for k, need in enumerate(needs))
    step = Step(_linear_vjp, (Ref(0), None, needs, Ref(1), Ref(2), Ref(3)), {}, outs, "kernel")
    assert not _alone(step, _linear_vjp)
    assert step.kind == "kernel" and step.fn is _linear_vjp
