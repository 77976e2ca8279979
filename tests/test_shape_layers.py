"""``xg.nn.Identity``, ``Flatten`` and ``Unflatten`` against PyTorch's layers: same output
shapes and values, gradients through them (float64, finite differences and torch), usable in a
Sequential under ``xg.function``, and bad axes or sizes refused naming the argument."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


@pytest.mark.parametrize("start, end", [(1, -1), (0, -1), (0, 1), (1, 2), (-2, -1), (2, 2),
                                        (-3, 1), (3, 3)])
def test_flatten_matches_torch(start, end):
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    ours = xg.nn.Flatten(start, end)(xg.asarray(x))
    theirs = torch.nn.Flatten(start, end)(torch.from_numpy(x))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_flatten_of_a_0d_and_1d_input_as_torch():
    assert xg.nn.Flatten(0)(xg.asarray(3.0)).shape == \
        tuple(torch.nn.Flatten(0)(torch.tensor(3.0)).shape) == (1,)
    assert xg.nn.Flatten(0)(xg.ones(4)).shape == (4,)


@pytest.mark.parametrize("axis, sizes", [(1, (3, 4)), (1, (-1, 2)), (-1, (5, 1)), (0, (1, 2)),
                                         (2, (5,))])
def test_unflatten_matches_torch(axis, sizes):
    x = np.random.default_rng(1).normal(size=(2, 12, 5))
    ours = xg.nn.Unflatten(axis, sizes)(xg.asarray(x))
    theirs = torch.nn.Unflatten(axis, sizes)(torch.from_numpy(x))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_identity_returns_its_input_and_ignores_arguments_as_torch():
    x = xg.ones((2, 3))
    layer = xg.nn.Identity(54, unused_argument1=0.1, unused_argument2=False)
    assert layer(x) is x
    assert layer.variables == []


def test_gradients_through_flatten_and_unflatten_match_torch_and_finite_differences():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(3, 2, 4)), rng.normal(size=(8, 4, 2))

    def f(x):
        y = xg.nn.Flatten()(x) @ xg.asarray(w.reshape(8, 8))
        return xg.sum(xg.nn.Unflatten(1, (4, 2))(y) ** 2 * xg.asarray(np.arange(8.0).reshape(4, 2)))

    xg.testing.check_grads(f, (xg.asarray(x),))
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.Flatten()(tx) @ torch.from_numpy(w.reshape(8, 8))
    (torch.nn.Unflatten(1, (4, 2))(ty) ** 2 * torch.arange(8.0, dtype=torch.float64)
     .reshape(4, 2)).sum().backward()
    np.testing.assert_allclose(xg.grad(f)(xg.asarray(x)).numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sequential_with_flatten_trains_compiled_as_eager(backend):
    def build():
        return xg.nn.Sequential(xg.nn.Flatten(), xg.nn.Linear(6, 2, rng=0, backend=backend),
                                xg.nn.Identity(), xg.nn.Unflatten(1, (2, 1)), xg.nn.Flatten())

    x = xg.asarray(np.random.default_rng(3).normal(size=(4, 2, 3)).astype(np.float32),
                   backend=backend)
    results = []
    for compiled in (False, True):
        model, opt = build(), xg.optim.SGD(0.1)

        def step(x):
            with xg.GradientTape() as tape:
                loss = xg.mean(model(x) ** 2)
            opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                    model.trainable_variables))
            return loss

        fn = xg.function(step) if compiled else step
        results.append([float(fn(x)) for _ in range(4)])
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6)
    assert results[0][-1] < results[0][0]


@pytest.mark.parametrize("make, error, text", [
    (lambda: xg.nn.Flatten(1.5), TypeError, "start_axis must be an int"),
    (lambda: xg.nn.Flatten(1, True), TypeError, "end_axis must be an int"),
    (lambda: xg.nn.Flatten(start_dim=1), TypeError, "xpgrad calls it start_axis="),
    (lambda: xg.nn.Unflatten(1, 6), TypeError, "unflattened_size must be a non-empty tuple"),
    (lambda: xg.nn.Unflatten(1, ()), TypeError, "unflattened_size must be a non-empty tuple"),
    (lambda: xg.nn.Unflatten(1, (2, 0)), ValueError, "unflattened_size must hold positive"),
    (lambda: xg.nn.Unflatten(1, (-1, -1)), ValueError, "at most one -1"),
    (lambda: xg.nn.Unflatten(1, (2, 2.0)), TypeError, "unflattened_size must be an int"),
    (lambda: xg.nn.Unflatten("1", (2, 3)), TypeError, "axis must be an int"),
])
def test_bad_arguments_name_the_argument(make, error, text):
    with pytest.raises(error, match=text):
        make()


@pytest.mark.parametrize("layer, shape, text", [
    (xg.nn.Flatten(3), (2, 3), "start_axis 3 is out of range for an input with 2 dimensions"),
    (xg.nn.Flatten(0, -4), (2, 3), "end_axis -4 is out of range"),
    (xg.nn.Flatten(2, 1), (2, 3, 4), "start_axis 2 comes after end_axis 1"),
    (xg.nn.Unflatten(2, (2, 3)), (2, 6), "axis 2 is out of range"),
    (xg.nn.Unflatten(1, (4, 2)), (2, 6), r"unflattened_size \(4, 2\) does not fit axis 1 of "
                                         "length 6"),
    (xg.nn.Unflatten(1, (4, -1)), (2, 6), "does not fit"),
])
def test_bad_input_for_the_layer_is_a_value_error_naming_the_argument(layer, shape, text):
    with pytest.raises(ValueError, match=text):
        layer(xg.ones(shape))


def test_reprs_show_the_arguments():
    assert repr(xg.nn.Flatten()) == "Flatten(name='flatten', start_axis=1, end_axis=-1)"
    assert repr(xg.nn.Unflatten(1, [2, 3])) == \
        "Unflatten(name='unflatten', axis=1, unflattened_size=(2, 3))"
