"""A model holding a random generator as a pytree (xpgrad/nn/module_rebuild.py): a copy made by
xg.tree_map or xg.grad draws from the original's generator, so a model-in/model-out step draws
new numbers each call, as the stateful tape path does, and xg.function keys the model the same
at every call (it traces once) and its replay advances the user's generator as eager calls do.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import xpgrad as xg

F64 = xg.float64


def _model(gen):
    return xg.nn.Sequential(xg.nn.Linear(4, 8, dtype=F64, rng=0), xg.nn.Dropout(0.5, rng=gen),
                            xg.nn.Linear(8, 1, dtype=F64, rng=1))


def _loss(m, x, y):
    return xg.mean((m(x) - y) ** 2)


def _data():
    rng = np.random.default_rng(3)
    return xg.asarray(rng.normal(size=(6, 4))), xg.asarray(rng.normal(size=(6, 1)))


def _tape_route(steps):
    """The stateful route: a model of Variables, a tape and SGD."""
    gen = xg.random.default_rng(0)
    model, (x, y), opt = _model(gen), _data(), xg.optim.SGD(0.1)
    losses = []
    for _ in range(steps):
        with xg.GradientTape() as tape:
            value = _loss(model, x, y)
        opt.apply(tape.gradient(value, model), model)
        losses.append(value.item())
    return losses, gen


def _value_route(steps, traced):
    """The model-in/model-out route (equinox's): xg.grad and xg.tree_map, maybe traced."""
    gen = xg.random.default_rng(0)
    model, (x, y) = _model(gen), _data()

    def step(m, x, y):
        value, grads = xg.value_and_grad(_loss)(m, x, y)
        return xg.tree_map(lambda p, g: p if g is None else p - 0.1 * g, m, grads), value

    fn = xg.function(step) if traced else step
    losses = []
    for _ in range(steps):
        model, value = fn(model, x, y)
        losses.append(value.item())
    return losses, gen, fn


def test_model_in_model_out_steps_draw_as_the_tape_path_and_replay_as_eager():
    tape_losses, tape_gen = _tape_route(6)
    eager_losses, eager_gen, _ = _value_route(6, traced=False)
    traced_losses, traced_gen, fn = _value_route(6, traced=True)
    np.testing.assert_allclose(eager_losses, tape_losses, rtol=1e-12)
    np.testing.assert_allclose(traced_losses, eager_losses, rtol=1e-12)
    # two signatures: the first call's model of Variables, then the copies (values), whose
    # key is the same at every call (a generator of their own made a new one each call)
    assert fn.trace_count == 1 and fn.signature_count == 2
    # the user's generator advanced by the same draws in all three
    after = [g.uniform(size=3).tolist() for g in (tape_gen, eager_gen, traced_gen)]
    assert after[0] == after[1] == after[2]
    assert after[0] != xg.random.default_rng(0).uniform(size=3).tolist()


def test_each_step_draws_a_new_mask():
    gen = xg.random.default_rng(0)
    model = _model(gen)
    x = xg.ones((64, 4), dtype=F64)
    masks = []
    for _ in range(2):
        hidden = model.layers[1](model.layers[0](x))
        masks.append(hidden.numpy() == 0)
        model = xg.tree_map(lambda p: p * 1.0, model)        # a copy: the same stream
    assert masks[0].any() and (masks[0] != masks[1]).any()


class _Noisy(xg.nn.Module):
    """Adds NumPy-drawn noise (a user's module holding NumPy's generator)."""

    def __init__(self, rng):
        super().__init__()
        self.w = xg.Variable(np.ones(2))
        self.rng = rng

    def forward(self, x):
        return x * self.w + self.rng.normal(size=2)


@pytest.mark.parametrize("make", [lambda: np.random.default_rng(0),
                                  lambda: np.random.RandomState(0),
                                  lambda: xg.random.default_rng(0)],
                         ids=["numpy_generator", "random_state", "xpgrad_generator"])
def test_a_copy_shares_the_generator_and_a_deep_copy_has_its_own(make):
    model = _Noisy(make())
    new = xg.tree_map(lambda p: p * 2.0, model)
    assert new.rng is model.rng
    assert copy.deepcopy(model).rng is not model.rng
    assert xg.grad(lambda m: xg.sum(m(xg.ones(2))))(model).rng is model.rng
