"""xg.function on NumPy: a softmax cross-entropy differentiated from the seed 1 replays as one
step giving the loss and the logits' gradient, or the gradient alone where nothing reads the
loss (``jit/loss_gradient.py``, ``fold_numpy_loss_gradient``); the replay equals the eager
step bit for bit, and a bad label still raises."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.loss_kernels import _sce_forward, sce_gradient_only
from xpgrad.jit.loss_gradient import NumpyLossWithGradient

from loss_gradient_steps import sce_training_step

pytestmark = pytest.mark.usefixtures("numpy_default")


def _batches(dtype, scale=1.0, n=4, rows=6):
    rng = np.random.default_rng(1)
    return [(xg.asarray((scale * rng.normal(size=(rows, 5))).astype(dtype), backend="numpy"),
             xg.asarray(rng.integers(0, 4, rows), backend="numpy")) for _ in range(n)]


def _training_step(dtype, reduction, returns_loss):
    return sce_training_step("numpy", reduction, dtype=dtype, returns_loss=returns_loss)


def _compare(dtype, reduction, returns_loss, scale=1.0):
    """Eager and compiled copies on the same batches; the compiled program."""
    eager, eager_vars = _training_step(dtype, reduction, returns_loss)
    step, variables = _training_step(dtype, reduction, returns_loss)
    compiled = xg.function(step)
    for x, y in _batches(dtype, scale):
        got, want = compiled(x, y), eager(x, y)
        if returns_loss:
            np.testing.assert_array_equal(got.numpy(), want.numpy())
        for v, eager_v in zip(variables, eager_vars):
            np.testing.assert_array_equal(v.numpy(), eager_v.numpy())
    return compiled.programs()[0]


def _folded(program):
    return [v for v in program._namespace.values() if type(v) is NumpyLossWithGradient]


@pytest.mark.parametrize("scale", [1.0, 100.0])       # 100: logits past the unshifted window
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("returns_loss", [True, False])
def test_the_replay_equals_eager_with_the_vjp_folded(returns_loss, reduction, dtype, scale):
    program = _compare(dtype, reduction, returns_loss, scale)
    assert program.loss_gradients == 1
    folded, = _folded(program)
    assert folded.loss_read is returns_loss
    assert "_sce_vjp" not in {getattr(v, "__name__", None) for v in program._namespace.values()}
    assert "FreshConstant" not in {type(v).__name__ for v in program._namespace.values()}


def test_per_row_losses_keep_their_vjp():
    program = _compare("float32", "none", True)
    assert program.loss_gradients == 0 and not _folded(program)


def test_a_bad_label_still_raises_after_the_fold():
    step, variables = _training_step("float32", "mean", False)
    compiled = xg.function(step)
    for x, y in _batches("float32"):
        compiled(x, y)
    assert _folded(compiled.programs()[0])
    before = [v.numpy().copy() for v in variables]
    x, _ = _batches("float32", n=1)[0]
    with pytest.raises(IndexError):
        compiled(x, xg.asarray(np.array([0, 1, 7, 2, 3, 0]), backend="numpy"))
    for v, old in zip(variables, before):
        np.testing.assert_array_equal(v.numpy(), old)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_gradient_alone_is_the_forwards_gradient(dtype, reduction):
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(7, 10)).astype(dtype)
    labels = rng.integers(0, 10, 7)
    alone = sce_gradient_only(logits, labels, reduction)
    if dtype == "float64":            # shifted rows: the whole forward runs
        assert alone is None
        return
    np.testing.assert_array_equal(alone, _sce_forward(logits, labels, reduction)[1])


def test_the_gradient_alone_declines_what_needs_the_whole_forward():
    logits = np.zeros((3, 4), np.float32)
    assert sce_gradient_only(logits + 100.0, np.array([0, 1, 2]), "mean") is None
    assert sce_gradient_only(logits, np.full((3, 4), 0.25, np.float32), "mean") is None
    assert sce_gradient_only(logits[:0], np.array([], np.int64), "mean") is None
