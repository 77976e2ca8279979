"""Training a model as a pytree (equinox's way): xg.grad of loss(model, x) w.r.t. the model
against torch.func's functional_call route and finite differences (float64); buffers and
integer tensors get None; an SGD step by xg.tree_map and the functional optimizers against
the stateful ones; xg.vmap over a stacked ensemble; xg.function taking and returning a model.
The structure itself: test_module_pytree.py."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import xpgrad as xg
from torch_twin_models import conv_twins, first_output as _first, lstm_twins, mlp_twins

torch = pytest.importorskip("torch")

F64 = xg.float64
RNG = np.random.default_rng(11)


def _by_path(model, grads) -> dict:
    """``{path: gradient or None}`` of a model-shaped gradient, by ``model``'s paths (pairing
    leaves by place through xg.tree_map)."""
    found = []
    xg.tree_map(lambda p, g: found.append(g), model, grads)
    return dict(zip(model.named_variables(), found))


def _torch_layout(model, grads) -> dict:
    """A model-shaped gradient in torch's keys and layouts (the layers' own conversions)."""
    clone = copy.deepcopy(model)
    clone.load_state_dict({k: g.numpy() for k, g in _by_path(model, grads).items()
                           if g is not None}, strict=False)
    return clone.torch_state_dict()


@pytest.mark.parametrize("make", [mlp_twins, conv_twins, lstm_twins],
                         ids=["mlp", "conv", "lstm"])
def test_the_gradient_of_a_model_matches_torch_func(make):
    ours, theirs, x = make(RNG)
    ours.load_torch_state_dict(theirs.state_dict())
    cot = RNG.normal(size=_first(theirs(torch.from_numpy(x))).shape)

    def loss(model, x):
        return xg.sum(_first(model(x)) * cot)

    value, grads = xg.value_and_grad(loss)(ours, xg.asarray(x))
    assert type(grads) is type(ours)
    params = {k: v.detach().clone() for k, v in theirs.named_parameters()}
    want = torch.func.grad(lambda p: (_first(torch.func.functional_call(
        theirs, p, (torch.from_numpy(x),))) * torch.from_numpy(cot)).sum())(params)
    np.testing.assert_allclose(value.item(), (_first(theirs(torch.from_numpy(x))).detach()
                                              .numpy() * cot).sum(), rtol=1e-12)
    got = _torch_layout(ours, grads)
    for key, g in want.items():
        if key.startswith("bias_hh"):      # ours has one bias, whose gradient is bias_ih's
            key, g = key.replace("hh", "ih"), want[key.replace("hh", "ih")]
        np.testing.assert_allclose(got[key], g.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


def test_the_gradient_of_a_model_matches_finite_differences():
    model = xg.nn.MLP([3, 4, 2], dtype=F64, rng=0)
    x = xg.asarray(RNG.normal(size=(5, 3)))

    def loss(m, x):
        return xg.sum(xg.tanh(m(x)) ** 2)

    flat, unravel = xg.ravel_pytree(model)
    got = xg.ravel_pytree(xg.grad(loss)(model, x))[0].numpy()
    v, eps = flat.numpy(), 1e-6
    want = np.empty_like(v)
    for i in range(v.size):
        step = np.zeros_like(v)
        step[i] = eps
        want[i] = (loss(unravel(xg.asarray(v + step)), x).item()
                   - loss(unravel(xg.asarray(v - step)), x).item()) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_buffers_get_none_and_update_in_place_as_through_torch_func(training):
    ours = xg.nn.Sequential(xg.nn.Linear(3, 4, dtype=F64, rng=0), xg.nn.BatchNorm1d(4, dtype=F64))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).double()
    theirs[1].running_mean.normal_()
    ours.load_torch_state_dict(theirs.state_dict())
    ours.train(training), theirs.train(training)
    x, cot = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 4))
    grads = xg.grad(lambda m: xg.sum(m(xg.asarray(x)) * cot))(ours)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in
              theirs.named_parameters()}
    buffers = dict(theirs.named_buffers())          # torch updates them in place in training
    out = torch.func.functional_call(theirs, (params, buffers), (torch.from_numpy(x),))
    want = dict(zip(params, torch.autograd.grad((out * torch.from_numpy(cot)).sum(),
                                                list(params.values()))))
    by_path = _by_path(ours, grads)
    assert [k for k, g in by_path.items() if g is None] == [
        "sequential/batch_norm1/running_mean", "sequential/batch_norm1/running_var",
        "sequential/batch_norm1/num_batches_tracked"]
    got = _torch_layout(ours, grads)
    for key, g in want.items():
        np.testing.assert_allclose(got[key], g.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)
    # the statistics moved (in training) as torch's buffers did, in the model's own Variables
    now = ours.torch_state_dict()
    for key, b in buffers.items():
        np.testing.assert_allclose(now[f"1.{key.split('.')[-1]}"], b.numpy(), rtol=1e-12)


def test_a_frozen_layer_gets_none():
    model = xg.nn.MLP([3, 4, 1], dtype=F64, rng=0)
    model.layers[0].trainable = False
    grads = xg.grad(lambda m: xg.sum(m(xg.ones((2, 3), dtype=F64)) ** 2))(model)
    assert [g is None for g in _by_path(model, grads).values()] == [True, True, False, False]


def test_an_sgd_step_by_tree_map_is_the_sgd_optimizers_step():
    model = xg.nn.Sequential(xg.nn.Linear(3, 4, dtype=F64, rng=0), xg.nn.BatchNorm1d(4, dtype=F64),
                             xg.nn.Linear(4, 1, dtype=F64, rng=1))
    twin = copy.deepcopy(model)
    opt = xg.optim.SGD(learning_rate=0.1)
    x, y = xg.asarray(RNG.normal(size=(8, 3))), xg.asarray(RNG.normal(size=(8, 1)))

    def loss(m, x, y):
        return xg.mean((m(x) - y) ** 2)

    for _ in range(3):
        grads = xg.grad(loss)(model, x, y)
        model = xg.tree_map(lambda p, g: p if g is None else p - 0.1 * g, model, grads)
        with xg.GradientTape() as tape:
            value = loss(twin, x, y)
        opt.apply_gradients(zip(tape.gradient(value, twin.trainable_variables),
                                twin.trainable_variables))
    for got, want in zip(xg.tree_leaves(model), twin.variables):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13, atol=1e-15)
    assert model.layers[1].num_batches_tracked.item() == 3


def test_the_functional_adam_on_a_model_is_the_stateful_adam():
    model = xg.nn.Sequential(xg.nn.Linear(3, 4, dtype=F64, rng=0), xg.nn.BatchNorm1d(4, dtype=F64),
                             xg.nn.Linear(4, 1, dtype=F64, rng=1))
    twin = copy.deepcopy(model)
    opt, stateful = xg.optim.Adam(0.05), xg.optim.Adam(0.05)
    state = opt.init(model)
    assert state.slots["m"].layers[1].running_mean is None        # buffers: no state
    x = xg.asarray(RNG.normal(size=(8, 3)))

    def loss(m, x):
        return xg.sum(m(x) ** 2)

    for _ in range(3):
        updates, state = opt.update(xg.grad(loss)(model, x), state, model)
        model = xg.optim.apply_updates(model, updates)
        with xg.GradientTape() as tape:
            value = loss(twin, x)
        stateful.apply_gradients(zip(tape.gradient(value, twin.trainable_variables),
                                     twin.trainable_variables))
    for got, want in zip(xg.tree_leaves(model), twin.variables):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)


def test_vmap_over_a_stacked_ensemble_matches_each_model_and_torch():
    models = [xg.nn.MLP([3, 4, 2], dtype=F64, rng=seed) for seed in range(4)]
    stacked = xg.tree_map(lambda *ps: xg.stack(ps), *models)
    assert xg.tree_leaves(stacked)[0].shape == (4, 3, 4)
    x = xg.asarray(RNG.normal(size=(5, 3)))
    out = xg.vmap(lambda m, x: m(x), in_axes=(0, None))(stacked, x)
    for i, m in enumerate(models):
        np.testing.assert_allclose(out[i].numpy(), m(x).numpy(), rtol=1e-12)
    theirs = [torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                                  torch.nn.Linear(4, 2)).double() for _ in models]
    for t, m in zip(theirs, models):
        t.load_state_dict({k: torch.from_numpy(v) for k, v in m.torch_state_dict().items()})
    params, buffers = torch.func.stack_module_state(theirs)
    base = copy.deepcopy(theirs[0]).to("meta")
    want = torch.vmap(lambda p, b, x: torch.func.functional_call(base, (p, b), (x,)),
                      in_dims=(0, 0, None))(params, buffers, torch.from_numpy(x.numpy()))
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-12)

    def loss(m, x):
        return xg.sum(m(x) ** 2)

    per_model = xg.vmap(xg.grad(loss), in_axes=(0, None))(stacked, x)
    for i, m in enumerate(models):
        for got, want in zip(xg.tree_leaves(per_model), xg.tree_leaves(xg.grad(loss)(m, x))):
            np.testing.assert_allclose(got[i].numpy(), want.numpy(), rtol=1e-12)


def test_vmap_over_models_of_unequal_sizes_names_the_leaf():
    stacked = xg.tree_map(lambda *ps: xg.stack(ps), *[xg.nn.Linear(2, 1, rng=i)
                                                       for i in range(3)])
    bad = xg.tree_map(lambda p: p[:2] if p.ndim == 2 else p, stacked)
    with pytest.raises(ValueError, match=r"argument \[0\]\.w has size 3 along axis 0, "
                                         r"argument \[0\]\.b has size 2"):
        xg.vmap(lambda m, x: m(x), in_axes=(0, None))(bad, xg.ones((1, 2)))


def test_xg_function_takes_and_returns_a_model_and_replays_as_jax_jit():
    model = xg.nn.MLP([3, 4, 1], dtype=F64, rng=0)
    x = xg.asarray(RNG.normal(size=(5, 3)))
    runs = []

    def loss(m, x):
        return xg.sum(m(x) ** 2)

    def step(m, x):
        runs.append(1)
        value, grads = xg.value_and_grad(loss)(m, x)
        return value, xg.tree_map(lambda p, g: p - 0.01 * g, m, grads)

    traced, eager = xg.function(step), step
    m_traced = m_eager = xg.tree_map(lambda p: p * 1.0, model)   # plain tensors: a value
    for _ in range(6):
        v_traced, m_traced = traced(m_traced, x)
        v_eager, m_eager = eager(m_eager, x)
        np.testing.assert_allclose(v_traced.item(), v_eager.item(), rtol=1e-12)
    assert len(runs) - 6 <= 2            # each step a new model, one structure: no retrace
    for a, b in zip(xg.tree_leaves(m_traced), xg.tree_leaves(m_eager)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    before = len(runs)
    traced(m_traced.eval(), x)           # another structure (the training flag): a new trace
    assert len(runs) > before


def test_grad_refuses_a_module_with_a_non_tensor_in_a_differentiated_dict():
    model = xg.nn.Linear(2, 1, rng=0)
    with pytest.raises(TypeError, match=r"argument 0\['bad'\] .* is differentiated"):
        xg.grad(lambda p: xg.sum(p["m"](xg.ones((1, 2)))))({"m": model, "bad": "text"})


def test_the_docs_example_trains_a_model_and_runs_an_ensemble():
    import re

    from docs_text import text_from

    text = text_from("A Module is a pytree too")
    (code,) = re.findall(r"```python\n(.*?)```", text[:text.index("\n```\n") + 5], re.S)
    scope = {"xg": xg}
    exec(code, scope)                                    # noqa: S102 (the docs' own example)
    first = xg.nn.MLP([3, 16, 1], rng=0)
    x, y = scope["x"], scope["y"]
    assert scope["loss"](scope["model"], x, y).item() < scope["loss"](first, x, y).item()
    assert type(scope["model"]) is xg.nn.MLP and scope["outs"].shape == (4, 8, 1)
    for i, m in enumerate(scope["models"]):
        np.testing.assert_allclose(scope["outs"][i].numpy(), m(x).numpy(), rtol=1e-6)


def _close_trees(a, b, rtol=1e-12):
    pairs = []
    xg.tree_map(lambda p, q: pairs.append((p, q)), a, b)
    assert pairs
    for p, q in pairs:
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=rtol, atol=1e-14)


def test_the_other_transforms_take_a_model_as_grad_does():
    model = xg.nn.MLP([3, 4, 2], dtype=F64, rng=0)
    x = xg.asarray(RNG.normal(size=(5, 3)))

    def loss(m):
        return xg.sum(xg.tanh(m(x)) ** 2)

    grads = xg.grad(loss)(model)
    remat = xg.grad(lambda m: xg.sum(xg.tanh(xg.recompute_grad(lambda m, x: m(x))(m, x)) ** 2))
    _close_trees(remat(model), grads)
    _, vjp_fn = xg.vjp(loss, model)
    _close_trees(vjp_fn(xg.asarray(1.0, dtype=F64))[0], grads)
    tangent = xg.tree_map(lambda p: xg.asarray(RNG.normal(size=p.shape)), model)
    _, directional = xg.jvp(loss, (model,), (tangent,))
    want = sum(xg.sum(g * t).item() for g, t in zip(xg.tree_leaves(grads),
                                                   xg.tree_leaves(tangent)))
    np.testing.assert_allclose(directional.item(), want, rtol=1e-10)
    jac = xg.jacobian(lambda m: m(x)[0])(model)
    for k in range(2):
        row = xg.tree_map(lambda j: j[k], jac)
        _close_trees(row, xg.grad(lambda m: m(x)[0, k])(model))

    doubled = xg.custom_vjp(lambda m, x: m(x))
    doubled.defvjp(lambda m, x: (m(x), (m, x)),
                   lambda res, ct: (xg.tree_map(lambda g: 2.0 * g, xg.vjp(
                       lambda m: m(res[1]), res[0])[1](ct)[0]), xg.zeros_like(res[1])))
    _close_trees(xg.grad(lambda m: xg.sum(doubled(m, x)))(model),
                 xg.tree_map(lambda g: 2.0 * g, xg.grad(lambda m: xg.sum(m(x)))(model)))
