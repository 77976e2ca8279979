"""``xg.grad(loss)(model, ...)`` with the model the one differentiated argument takes one pass
(``differentiated_arguments.prepare_module``): the model's aliased copy and the gradient's
module are made from one checked walk, the gradient's tensors filled in after the backward.
The gradient stays what the tape gives, PyTorch's and finite differences'; the cached choice of
which tensors are differentiated follows ``trainable`` flags and a changed model."""
import numpy as np
import pytest

import xpgrad as xg


def _loss(m, x, y):
    return xg.mean((m(x) - y) ** 2)


def _data(rng=0):
    g = np.random.default_rng(rng)
    return xg.asarray(g.standard_normal((6, 3))), xg.asarray(g.standard_normal((6, 2)))


def _mlp():
    return xg.nn.MLP([3, 5, 2], rng=0, dtype=xg.float64)


def test_the_gradient_is_the_tapes_pytorchs_and_finite_differences():
    torch = pytest.importorskip("torch")
    model, (x, y) = _mlp(), _data()
    for _ in range(3):                   # the walk cached, then reused
        grads = xg.grad(_loss)(model, x, y)
    with xg.GradientTape() as tape:
        value = _loss(model, x, y)
    taped = tape.gradient(value, model)
    assert type(grads) is xg.nn.MLP and grads is not model
    for ours, theirs in zip(xg.tree_leaves(grads), xg.tree_leaves(taped)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-13)

    weights = [torch.tensor(v.numpy(), requires_grad=True) for v in model.trainable_variables]
    h = torch.relu(torch.tensor(x.numpy()) @ weights[0] + weights[1])
    torch.mean((h @ weights[2] + weights[3] - torch.tensor(y.numpy())) ** 2).backward()
    for ours, w in zip(xg.tree_leaves(grads), weights):
        np.testing.assert_allclose(ours.numpy(), w.grad.numpy(), rtol=1e-12)

    w, eps = model.layers[0].w, 1e-6
    base = w.numpy()
    step = np.zeros_like(base)
    step[1, 2] = eps
    w.assign(base + step)
    up = _loss(model, x, y).item()
    w.assign(base - step)
    down = _loss(model, x, y).item()
    w.assign(base)
    np.testing.assert_allclose(grads.layers[0].w.numpy()[1, 2], (up - down) / (2 * eps),
                               rtol=1e-6)


def test_trainable_flags_changed_between_calls_are_followed():
    model, (x, y) = _mlp(), _data()
    first = xg.grad(_loss)(model, x, y)
    model.layers[1].b.trainable = False
    frozen = xg.grad(_loss)(model, x, y)
    assert frozen.layers[1].b is None and frozen.layers[1].w is not None
    model.layers[1].b.trainable = True
    model.layers[0].trainable = False                 # a module's flag: the walk sees it
    again = xg.grad(_loss)(model, x, y)
    assert again.layers[0].w is None and again.layers[0].b is None
    np.testing.assert_allclose(again.layers[1].b.numpy(), first.layers[1].b.numpy())


def test_a_model_changed_between_calls_gets_the_gradient_of_its_new_structure():
    model, (x, y) = xg.nn.Sequential(xg.nn.Linear(3, 2, rng=0, dtype=xg.float64)), _data()
    assert len(xg.tree_leaves(xg.grad(_loss)(model, x, y))) == 2
    model.append(xg.nn.Linear(2, 2, rng=1, dtype=xg.float64))
    grads = xg.grad(_loss)(model, x, y)
    with xg.GradientTape() as tape:
        value = _loss(model, x, y)
    taped = tape.gradient(value, model)
    assert len(xg.tree_leaves(grads)) == 4
    for ours, theirs in zip(xg.tree_leaves(grads), xg.tree_leaves(taped)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-13)


def test_buffers_get_none_and_keep_their_training_updates():
    model = xg.nn.Sequential(xg.nn.Linear(3, 2, rng=0, dtype=xg.float64),
                             xg.nn.BatchNorm1d(2, dtype=xg.float64))
    x, y = _data()
    before = model.layers[1].running_mean.numpy().copy()
    grads = xg.grad(_loss)(model, x, y)
    assert grads.layers[1].running_mean is None and grads.layers[1].weight is not None
    assert not np.array_equal(model.layers[1].running_mean.numpy(), before)


def test_the_model_f_kept_is_not_the_gradient():
    model, (x, y) = _mlp(), _data()
    (value, kept), grads = xg.value_and_grad(lambda m, x, y: (_loss(m, x, y), m),
                                             has_aux=True)(model, x, y)
    assert kept is not grads and kept is not model
    np.testing.assert_array_equal(kept.layers[0].w.numpy(), model.layers[0].w.numpy())
    assert not np.array_equal(grads.layers[0].w.numpy(), model.layers[0].w.numpy())


def test_a_closure_reaching_the_same_weights_gives_the_partial_derivative():
    model, (x, y) = _mlp(), _data()
    grads = xg.grad(lambda m, x, y: _loss(m, x, y) + 0.0 * xg.sum(model(x)))(model, x, y)
    partial = xg.grad(_loss)(model, x, y)
    for a, b in zip(xg.tree_leaves(grads), xg.tree_leaves(partial)):
        np.testing.assert_allclose(a.numpy(), b.numpy())
    doubled = xg.grad(lambda m, x, y: _loss(m, x, y) + _loss(model, x, y))(model, x, y)
    for a, b in zip(xg.tree_leaves(doubled), xg.tree_leaves(partial)):
        np.testing.assert_allclose(a.numpy(), b.numpy())     # the closure's is no part of it


def test_under_an_outer_tape_the_gradient_is_differentiated_again():
    model, (x, y) = _mlp(), _data()
    with xg.GradientTape() as outer:
        grads = xg.grad(_loss)(model, x, y)
        penalty = sum(xg.sum(g * g) for g in xg.tree_leaves(grads))
    second = outer.gradient(penalty, model.layers[1].b)
    eps, b = 1e-6, model.layers[1].b
    base = b.numpy()

    def at(value):
        b.assign(value)
        return sum(float(xg.sum(g * g)) for g in xg.tree_leaves(xg.grad(_loss)(model, x, y)))

    numeric = [(at(base + eps * e) - at(base - eps * e)) / (2 * eps) for e in np.eye(2)]
    b.assign(base)
    np.testing.assert_allclose(second.numpy(), numeric, rtol=1e-5)


def test_bad_input_keeps_its_errors():
    model, (x, y) = _mlp(), _data()
    with pytest.raises(TypeError, match="scalar output, got \\(6, 2\\)"):
        xg.grad(lambda m, x: m(x))(model, x)
    with pytest.raises(ValueError, match="argnums 3 is out of range for 3"):
        xg.grad(_loss, argnums=3)(model, x, y)
    with pytest.raises(TypeError, match="argument 1 .* is differentiated"):
        xg.grad(_loss, argnums=(0, 1))(model, "x", y)
