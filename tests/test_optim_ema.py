"""``xg.optim.ExponentialMovingAverage``: values against the closed form of the average in
float64, TensorFlow's documented ``num_updates`` formula and PyTorch's ``AveragedModel`` EMA;
the dtype kept; no tape; ``swapped()`` (also when the block raises); a compiled step with
``ema.update()`` inside equals eager on the numpy and numba backends; state and checkpoints;
bad input."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


def _values(k, shape=(3, 2), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for _ in range(k + 1)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("decay", [0.0, 0.5, 0.9, 0.999, 1.0])
def test_constant_decay_equals_the_closed_form(backend, decay):
    """average_k = d^k v_0 + (1 - d) * sum_j d^(k-j) v_j, v_0 the value when it was made."""
    values = _values(12)
    w = xg.Variable(values[0], name="w", backend=backend)
    ema = xg.optim.ExponentialMovingAverage([w], decay=decay)
    for k in range(1, len(values)):
        w.assign(values[k])
        ema.update()
        expected = decay ** k * values[0] + (1 - decay) * sum(
            decay ** (k - j) * values[j] for j in range(1, k + 1))
        np.testing.assert_allclose(ema.average(w).numpy(), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(w.numpy(), values[-1])       # the variable is untouched


@pytest.mark.parametrize("start", [0, 5, 1000])
@pytest.mark.parametrize("decay", [0.5, 0.99])
def test_num_updates_follows_tensorflows_documented_formula(start, decay):
    """TF: decay_n = min(decay, (1 + n) / (10 + n)); shadow -= (1 - decay_n) * (shadow - var),
    with n = num_updates + k at the k-th update (TF's num_updates=global_step after k steps)."""
    values = _values(15, seed=1)
    w = xg.Variable(values[0], name="w")
    ema = xg.optim.ExponentialMovingAverage({"w": w}, decay=decay, num_updates=start)
    shadow = values[0].copy()
    for k in range(1, len(values)):
        w.assign(values[k])
        ema.update()
        n = start + k
        d = min(decay, (1.0 + n) / (10.0 + n))
        shadow -= (1.0 - d) * (shadow - values[k])
        np.testing.assert_allclose(ema.average(w).numpy(), shadow, rtol=1e-15, atol=1e-16)
        assert ema.num_updates == n
    if start == 0:      # the early decays are small: the average follows the weights closely
        assert min(decay, 2 / 11) == pytest.approx(2 / 11)


def test_pytorchs_averaged_model_ema_gives_the_same_averages():
    """AveragedModel copies the parameters at its first update and lerps after; an average
    made at that point follows the same sequence."""
    torch = pytest.importorskip("torch")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    values = _values(10, seed=2)
    module = torch.nn.Linear(2, 3, bias=False).double()
    averaged = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(values[0]))
    averaged.update_parameters(module)
    w = xg.Variable(values[0], name="w")
    ema = xg.optim.ExponentialMovingAverage([w], decay=0.9)
    for value in values[1:]:
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(value))
        averaged.update_parameters(module)
        w.assign(value)
        ema.update()
        np.testing.assert_allclose(ema.average(w).numpy(),
                                   averaged.module.weight.detach().numpy(), rtol=1e-13)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("num_updates", [None, 0])
def test_the_average_keeps_the_variables_dtype(dtype, num_updates):
    rng = np.random.default_rng(3)
    raw = rng.normal(size=4) + (1j * rng.normal(size=4) if dtype.startswith("c") else 0)
    w = xg.Variable(raw.astype(dtype), name="w")
    ema = xg.optim.ExponentialMovingAverage([w], decay=0.9, num_updates=num_updates)
    w.assign((raw * 2).astype(dtype))
    ema.update()
    avg = ema.average(w)
    assert avg.dtype == w.dtype and not avg.trainable
    d = 0.9 if num_updates is None else min(0.9, 2 / 11)
    np.testing.assert_allclose(avg.numpy(), raw * (d + 2 * (1 - d)),
                               rtol=1e-6)


def test_update_is_on_no_tape():
    w = xg.Variable([1.0, 2.0], name="w")
    ema = xg.optim.ExponentialMovingAverage([w], decay=0.5)
    with xg.GradientTape(persistent=True) as tape:
        loss = xg.sum(w * w)
        ema.update()
        avg_loss = xg.sum(ema.average(w) * 1.0)
    assert tape.watched_variables() == (w,)
    assert tape.gradient(avg_loss, w) is None           # the average is not a function of w
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), [2.0, 4.0])


# -- swapping ----------------------------------------------------------------------------------
def _trained():
    w = xg.Variable([1.0, 2.0], name="w")
    b = xg.Variable([0.5], name="b")
    ema = xg.optim.ExponentialMovingAverage([w, b], decay=0.5)
    w.assign([3.0, 4.0])
    b.assign([1.5])
    ema.update()
    return w, b, ema


def test_swapped_puts_the_averages_in_and_the_trained_values_back():
    w, b, ema = _trained()
    with ema.swapped() as same:
        assert same is ema
        assert w.tolist() == [2.0, 3.0] and b.tolist() == [1.0]
        w.assign([9.0, 9.0])                      # written inside: dropped
    assert w.tolist() == [3.0, 4.0] and b.tolist() == [1.5]
    assert ema.average(w).tolist() == [2.0, 3.0]  # the averages are not changed by the swap


def test_swapped_restores_when_the_block_raises():
    w, b, ema = _trained()
    with pytest.raises(KeyError):
        with ema.swapped():
            assert w.tolist() == [2.0, 3.0]
            raise KeyError("evaluation failed")
    assert w.tolist() == [3.0, 4.0] and b.tolist() == [1.5]
    with ema.swapped():                           # usable again
        assert b.tolist() == [1.0]


def test_nested_swap_and_update_inside_are_refused():
    w, b, ema = _trained()
    with ema.swapped():
        with pytest.raises(RuntimeError, match="already swapped"):
            with ema.swapped():
                pass
        with pytest.raises(RuntimeError, match="update"):
            ema.update()
        assert w.tolist() == [2.0, 3.0]
    assert w.tolist() == [3.0, 4.0]


def test_an_evaluation_between_steps_leaves_training_as_without_it():
    def run(evaluate):
        rng = np.random.default_rng(4)
        w = xg.Variable(rng.normal(size=(3, 2)), name="w")
        opt = xg.optim.Adam(0.1)
        ema = xg.optim.ExponentialMovingAverage([w], decay=0.8)
        x = xg.asarray(rng.normal(size=(5, 3)))
        evals = []
        for _ in range(5):
            opt.minimize(lambda: xg.sum((x @ w) ** 2), [w])
            ema.update()
            if evaluate:
                with ema.swapped():
                    evals.append(xg.sum((x @ w) ** 2).item())
        return w.numpy(), ema.average(w).numpy(), evals

    w1, avg1, evals = run(True)
    w2, avg2, _ = run(False)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(avg1, avg2)
    assert len(evals) == 5


# -- compiled ----------------------------------------------------------------------------------
def _setup(backend, compiled, num_updates, optimizer="adam"):
    rng = np.random.default_rng(5)
    model = xg.nn.MLP([4, 6, 3], rng=0, backend=backend)
    opt = xg.optim.Adam(0.05) if optimizer == "adam" else xg.optim.SGD(0.05)   # SGD: a gemm where
    # the host allows (docs/function.md), which the averages then read
    ema = xg.optim.ExponentialMovingAverage(model, decay=0.9, num_updates=num_updates)
    variables = model.trainable_variables

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.mean((model(x) - y) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        ema.update()
        return loss

    def evaluate(x):
        return model(x)

    batches = [(xg.asarray(rng.normal(size=(5, 4)).astype(np.float32), backend=backend),
                xg.asarray(rng.normal(size=(5, 3)).astype(np.float32), backend=backend))
               for _ in range(6)]
    wrap = xg.function if compiled else (lambda f: f)
    return wrap(step), wrap(evaluate), model, ema, batches


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("num_updates", [None, 0])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_compiled_step_with_update_inside_equals_eager(backend, num_updates, optimizer):
    step, evaluate, model, ema, batches = _setup(backend, True, num_updates, optimizer)
    e_step, e_evaluate, e_model, e_ema, _ = _setup(backend, False, num_updates, optimizer)
    for x, y in batches:
        np.testing.assert_allclose(step(x, y).numpy(), e_step(x, y).numpy(), rtol=1e-5)
    assert step.trace_count == 1                       # calls 3 to 6 were replays
    assert ema.num_updates == e_ema.num_updates == (None if num_updates is None else 6)
    for v, e_v in zip(model.trainable_variables, e_model.trainable_variables):
        np.testing.assert_allclose(ema.average(v).numpy(), e_ema.average(e_v).numpy(),
                                   rtol=1e-5, atol=1e-7)
        assert not np.allclose(ema.average(v).numpy(), v.numpy())
    x = batches[0][0]
    for _ in range(3):                   # a compiled evaluation reads the swapped-in averages
        with ema.swapped(), e_ema.swapped():
            np.testing.assert_allclose(evaluate(x).numpy(), e_evaluate(x).numpy(), rtol=1e-5)
    assert evaluate.trace_count == 1
    with e_ema.swapped():
        averaged = e_evaluate(x).numpy()
    np.testing.assert_allclose(evaluate(x).numpy(), e_evaluate(x).numpy(), rtol=1e-5)
    assert not np.allclose(evaluate(x).numpy(), averaged)   # back to the trained weights


def test_a_new_decay_under_xg_function_is_used():
    w = xg.Variable([0.0], dtype=xg.float64)
    ema = xg.optim.ExponentialMovingAverage([w], decay=0.9)

    @xg.function
    def step():
        w.assign(w + 1.0)
        ema.update()

    for _ in range(3):
        step()
    ema.decay = 0.0                     # the average is the variable from here on
    step()
    assert ema.average(w).tolist() == w.tolist() == [4.0]

