"""xg.function on numba: a softmax cross-entropy differentiated from the constant seed 1
replays as one step giving the loss and the logits' gradient (``jit/loss_gradient.py``): the
seed and the vjp steps are dropped, the replay equals the eager step, and the fold is skipped
where the seed is not ones or the saved gradient is needed elsewhere."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit.constants import Constant, FreshConstant
from xpgrad.jit.loss_gradient import LossWithGradient, PreparedLossWithGradient, _ones_seed
from xpgrad.jit.program_steps import Ref, Step

from loss_gradient_steps import linear_model, sce_training_step

pytest.importorskip("numba")


def _batches(n=5, dtype="float64", rows=6):
    rng = np.random.default_rng(1)
    return [(xg.asarray(rng.normal(size=(rows, 5)).astype(dtype), backend="numba"),
             xg.asarray(rng.integers(0, 4, rows), backend="numba")) for _ in range(n)]


def _model(dtype="float64"):
    return linear_model("numba", dtype)


def _training_step(reduction="mean", zero_seed=False, dtype="float64"):
    return sce_training_step("numba", reduction, zero_seed, dtype)


def _compare(make, dtype="float64"):
    """Run eager and compiled copies on the same batches; the compiled program."""
    eager, eager_vars = make()
    step, variables = make()
    compiled = xg.function(step)
    for x, y in _batches(dtype=dtype):
        np.testing.assert_array_equal(compiled(x, y).numpy(), eager(x, y).numpy())
    for got, want in zip(variables, eager_vars):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    return compiled.programs()[0]


def _folded_steps(program):
    return [v for v in program._namespace.values()
            if type(v) in (LossWithGradient, PreparedLossWithGradient)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_the_forward_gives_the_gradient_and_the_replay_equals_eager(dtype, reduction):
    program = _compare(lambda: _training_step(reduction, dtype=dtype), dtype)
    assert program.loss_gradients == 1
    assert [type(s) for s in _folded_steps(program)] == [PreparedLossWithGradient]
    assert "reduction=" not in program.source            # bound in the prepared forward
    names = {type(v).__name__ for v in program._namespace.values()}
    assert "FreshConstant" not in names                  # the seed is gone
    assert "sce_vjp" not in program.source and "sce_vjp" not in {
        getattr(v, "__name__", None) for v in program._namespace.values()}


def test_a_seed_other_than_one_keeps_the_vjp():
    program = _compare(lambda: _training_step(zero_seed=True))     # a seed made in the call
    assert program.loss_gradients == 0
    assert not _folded_steps(program)


def test_only_a_folded_constant_of_ones_is_taken_for_the_seed():
    def seed(fn):
        return Step(fn, (), {}, Ref(0), "call")

    assert _ones_seed(seed(FreshConstant(np.ones((), np.float32))))
    assert _ones_seed(seed(Constant(np.ones(3))))
    assert not _ones_seed(seed(FreshConstant(np.full((), 2.0))))
    assert not _ones_seed(seed(Constant(np.array([1.0, 0.5]))))
    assert not _ones_seed(seed(Constant(np.ones(2, np.int64))))
    assert not _ones_seed(seed(np.ones_like))


def test_a_gradient_taken_twice_keeps_the_vjp():
    """Two gradients of one loss: the saved gradient is read by two vjps (the second
    recomputes it), so neither takes the forward's buffer by the fold."""
    def make():
        w, b = _model()

        def step(x, y):
            with xg.GradientTape(persistent=True) as tape:
                loss = xg.losses.softmax_cross_entropy(xg.nn.linear(x, w, b), y)
            gw, = tape.gradient(loss, [w])
            gb, = tape.gradient(loss, [b])
            return loss, gw, gb
        return step, [w, b]

    eager, _ = make()
    step, _ = make()
    compiled = xg.function(step)
    for x, y in _batches():
        for got, want in zip(compiled(x, y), eager(x, y)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert compiled.programs()[0].loss_gradients == 0


def test_a_bad_label_still_raises_after_the_fold():
    step, variables = _training_step()
    compiled = xg.function(step)
    for x, y in _batches(3):
        compiled(x, y)
    assert compiled.programs()[0].loss_gradients == 1
    before = [v.numpy().copy() for v in variables]
    x, _ = _batches(1)[0]
    bad = xg.asarray(np.array([0, 1, 7, 2, 3, 0]), backend="numba")
    with pytest.raises(IndexError, match="label 7 is out of range for 4 classes"):
        compiled(x, bad)
    for v, old in zip(variables, before):
        np.testing.assert_array_equal(v.numpy(), old)


def test_a_declining_forward_declines_the_step():
    assert LossWithGradient(lambda *a, **k: None)(1, 2, reduction="mean") is None


def test_labels_the_prepared_forward_would_convert_take_the_general_forward():
    """int32 labels (converted to intp by the general forward) are not prepared for: the
    fold keeps ``LossWithGradient``, and the replay still equals eager."""
    w, b = _model()
    eager_w, eager_b = _model()
    opt, eager_opt = xg.optim.SGD(0.1), xg.optim.SGD(0.1)

    def make(w, b, opt):
        def step(x, y):
            with xg.GradientTape() as tape:
                loss = xg.losses.softmax_cross_entropy(xg.nn.linear(x, w, b), y)
            opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
            return loss
        return step

    compiled, eager = xg.function(make(w, b, opt)), make(eager_w, eager_b, eager_opt)
    for x, y in _batches():
        y = xg.asarray(y.numpy().astype(np.int32), backend="numba")
        np.testing.assert_array_equal(compiled(x, y).numpy(), eager(x, y).numpy())
    np.testing.assert_array_equal(w.numpy(), eager_w.numpy())
    program = compiled.programs()[0]
    assert program.loss_gradients == 1
    assert [type(s) for s in _folded_steps(program)] == [LossWithGradient]


def test_a_prepared_forward_declining_fails_the_label_guard_or_declines():
    def declining(logits, labels):
        return None

    assert PreparedLossWithGradient(lambda *a, **k: None, declining)(1, 2) is None
