"""Empty inputs (a size-0 axis) through the public functions whose numpy kernels take a row's
minimum or maximum (``_exponentials`` in ``backends/numpy/kernel_common.py``, the index checks
of ``backends/numpy/scatter.py``, the list lengths of ``backends/numpy/margin.py``): NumPy's
``min``/``max`` of an empty array raise, so each kernel must hand empty inputs to the generic
rule. The same for the activations whose numpy kernels test each block's least and largest
value (``backends/numpy/activations.py``, ``gelu.py``), with a tape and without one. Values
and gradients against PyTorch."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.usefixtures("numpy_default")

EMPTY_ROWS = [(0, 3), (2, 0, 3), (0,)]


def _value_and_grad(f, x):
    x = xg.Variable(xg.asarray(x))
    with xg.GradientTape() as tape:
        y = f(x)
        total = xg.sum(y * y)
    return y, tape.gradient(total, x)


def _torch_value_and_grad(f, x):
    x = torch.tensor(x, requires_grad=True)
    y = f(x)
    (y * y).sum().backward()
    return y.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("shape", EMPTY_ROWS + [(3, 0)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_empty_rows(name, shape):
    x = np.zeros(shape)
    ours = _value_and_grad(lambda t: getattr(xg.nn, name)(t, axis=-1), x)
    theirs = _torch_value_and_grad(lambda t: getattr(F, name)(t, dim=-1), x)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and a.dtype == xg.float64


@pytest.mark.parametrize("reduction", ["sum", "none", "mean"])
def test_cross_entropy_of_no_rows(reduction):
    logits, labels = np.zeros((0, 4)), np.zeros(0, np.int64)
    ours = _value_and_grad(lambda t: xg.losses.softmax_cross_entropy(
        t, xg.asarray(labels), reduction=reduction), logits)
    theirs = _torch_value_and_grad(lambda t: F.cross_entropy(
        t, torch.tensor(labels), reduction=reduction), logits)
    np.testing.assert_array_equal(np.asarray(ours[0]), theirs[0])     # mean: NaN, as torch
    assert ours[1].shape == (0, 4)


def test_multilabel_margin_of_no_rows():
    x, y = np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    loss, grad = _value_and_grad(
        lambda t: xg.losses.multilabel_margin(t, xg.asarray(y), reduction="sum"), x)
    # a sum over no rows (PyTorch 2.13's CPU loss returns uninitialized memory here)
    assert loss.item() == 0.0 and grad.shape == (0, 3)


@pytest.mark.parametrize("target_shape, ids", [((4, 3), []), ((4, 0), [0, 0, 3])],
                         ids=["no-ids", "empty-rows"])
def test_adding_rows_with_nothing_to_add(target_shape, ids):
    ids = np.asarray(ids, np.int64)
    values = np.ones((ids.size,) + target_shape[1:])
    got = xg.zeros(target_shape, dtype=xg.float64).at[xg.asarray(ids)].add(xg.asarray(values))
    want = torch.zeros(target_shape, dtype=torch.float64).index_add(
        0, torch.tensor(ids), torch.tensor(values))
    np.testing.assert_array_equal(np.asarray(got), want.numpy())


def test_gathered_rows_of_an_empty_axis_send_back_empty_gradients():
    x = np.zeros((4, 0))
    ids = [1, 1, 0]
    ours = _value_and_grad(lambda t: t[xg.asarray(ids)], x)
    theirs = _torch_value_and_grad(lambda t: t[torch.tensor(ids)], x)
    assert ours[0].shape == theirs[0].shape and ours[1].shape == theirs[1].shape == (4, 0)


ACTIVATIONS = {"gelu(tanh)": (lambda t: xg.nn.gelu(t, approximate="tanh"),
                              lambda t: F.gelu(t, approximate="tanh")),
               "gelu": (xg.nn.gelu, F.gelu), "silu": (xg.nn.silu, F.silu)}


@pytest.mark.parametrize("shape", EMPTY_ROWS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_of_empty_arrays(name, dtype, shape):
    ours, theirs = ACTIVATIONS[name]
    x = np.zeros(shape, dtype)
    untaped = ours(xg.asarray(x))
    taped, grad = _value_and_grad(ours, x)
    want, want_grad = _torch_value_and_grad(theirs, x)
    for got, expected in [(untaped, want), (taped, want), (grad, want_grad)]:
        assert got.shape == expected.shape and str(got.dtype) == str(expected.dtype)
