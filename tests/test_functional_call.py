"""xg.nn.functional_call and stack_module_state against torch.func's on the same weights
(float64): outputs and gradients of an MLP, a conv net, an LSTM and BatchNorm in both modes;
finite differences to second order; MAML's gradient through an inner step; per-example
gradients by vmap against a loop; an ensemble by vmap against each model alone; xg.function.
The module left as it was and the bad input: test_functional_call_safety.py."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import xpgrad as xg
from torch_twin_models import conv_twins, first_output as _first, lstm_twins, mlp_twins

torch = pytest.importorskip("torch")

F64 = xg.float64
RNG = np.random.default_rng(7)


def _fresh_weights(theirs):
    """New random values (not the modules' own) for torch's parameters, by torch's keys."""
    return {k: torch.from_numpy(RNG.normal(size=tuple(v.shape)))
            for k, v in theirs.named_parameters()}


def _ours_from_torch(ours, state):
    """``state`` (torch's keys and layouts) as ``{path: Tensor}`` for ``ours``."""
    clone = copy.deepcopy(ours)
    clone.load_torch_state_dict({k: v.detach().numpy() for k, v in state.items()},
                                strict=False)
    return {k: xg.asarray(v.numpy()) for k, v in clone.named_variables().items()}


def _torch_layout(ours, grads):
    """Our gradients ``{path: Tensor}`` as torch's ``{key: array}`` (the layers' conversions)."""
    clone = copy.deepcopy(ours)
    clone.load_state_dict({k: v.numpy() for k, v in grads.items()}, strict=False)
    return clone.torch_state_dict()


def _assigned(model, params):
    """A copy of ``model`` whose own Variables hold ``params``: what a call should compute."""
    clone = copy.deepcopy(model)
    own = clone.named_variables()
    for k, v in params.items():
        own[k].assign(v)
    return clone


def _own_gradients(model, loss_of_output, *args):
    """The gradients of ``loss_of_output(model(*args))`` w.r.t. the model's own Variables."""
    with xg.GradientTape() as tape:
        loss = loss_of_output(model(*args))
    own = model.named_variables()
    return dict(zip(own, tape.gradient(loss, list(own.values()))))


@pytest.mark.parametrize("make", [mlp_twins, conv_twins, lstm_twins],
                         ids=["mlp", "conv", "lstm"])
def test_outputs_and_gradients_match_torch_func(make):
    ours, theirs, x = make(RNG)
    ours.load_torch_state_dict(theirs.state_dict())
    own_before = _first(ours(xg.asarray(x))).numpy()
    weights = _fresh_weights(theirs)
    params = _ours_from_torch(ours, weights)
    cot = RNG.normal(size=_first(theirs(torch.from_numpy(x))).shape)

    def loss(p):
        return xg.sum(_first(xg.nn.functional_call(ours, p, (xg.asarray(x),))) * cot)

    value, grads = xg.value_and_grad(loss)(params)
    leaves = {k: v.clone().requires_grad_(True) for k, v in weights.items()}
    out = _first(torch.func.functional_call(theirs, leaves, (torch.from_numpy(x),)))
    want = (out * torch.from_numpy(cot)).sum()
    want_grads = dict(zip(leaves, torch.autograd.grad(want, list(leaves.values()))))
    np.testing.assert_allclose(value.item(), want.item(), rtol=1e-12)
    got = _torch_layout(ours, grads)
    for key, g in want_grads.items():
        if key.startswith("bias_hh"):      # ours has one bias, whose gradient is bias_ih's
            np.testing.assert_allclose(got[key.replace("hh", "ih")], g.numpy(), rtol=1e-10)
            continue
        np.testing.assert_allclose(got[key], g.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)
    np.testing.assert_array_equal(_first(ours(xg.asarray(x))).numpy(), own_before)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_matches_torch_func_with_its_buffers(training):
    ours, theirs = xg.nn.BatchNorm1d(3, dtype=F64), torch.nn.BatchNorm1d(3).double()
    ours.train(training), theirs.train(training)
    x = RNG.normal(size=(6, 3))
    weight, bias, mean, var = (RNG.normal(size=3) for _ in range(4))
    var = np.abs(var) + 0.5
    # a passed buffer that the forward updates must be a Variable (torch updates the tensor)
    stats = (xg.Variable(mean), xg.Variable(var)) if training else (xg.asarray(mean),
                                                                    xg.asarray(var))
    params = {"batch_norm/weight": xg.asarray(weight), "batch_norm/bias": xg.asarray(bias)}
    buffers = {"batch_norm/running_mean": stats[0], "batch_norm/running_var": stats[1]}
    cot = RNG.normal(size=(6, 3))
    value, grads = xg.value_and_grad(lambda p: xg.sum(
        xg.nn.functional_call(ours, (p, buffers), (xg.asarray(x),)) * cot))(params)

    leaves = [torch.tensor(a, requires_grad=True) for a in (weight, bias)]
    torch_buffers = [torch.tensor(mean), torch.tensor(var)]
    out = torch.func.functional_call(theirs, dict(zip(
        ["weight", "bias", "running_mean", "running_var"], leaves + torch_buffers)),
        (torch.from_numpy(x),))
    want = (out * torch.from_numpy(cot)).sum()
    gw, gb = torch.autograd.grad(want, leaves)
    np.testing.assert_allclose(value.item(), want.item(), rtol=1e-12)
    np.testing.assert_allclose(grads["batch_norm/weight"].numpy(), gw.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads["batch_norm/bias"].numpy(), gb.numpy(), rtol=1e-10)
    for mine, theirs_buffer in zip(stats, torch_buffers):    # updated in place in training only
        np.testing.assert_allclose(mine.numpy(), theirs_buffer.numpy(), rtol=1e-12)
    assert np.allclose(stats[0].numpy(), mean) != training
    # the module's own statistics are untouched; its counter moved as torch's did
    np.testing.assert_array_equal(ours.running_mean.numpy(), theirs.running_mean.numpy())
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item()


def test_finite_differences_to_second_order():
    ours = xg.nn.Sequential([xg.nn.Linear(3, 4, dtype=F64, rng=0), xg.nn.Tanh(),
                             xg.nn.Linear(4, 1, dtype=F64, rng=1)])
    x = xg.asarray(RNG.normal(size=(5, 3)))
    w0, b1 = (xg.asarray(RNG.normal(size=s)) for s in ((3, 4), (1,)))
    passed = {"sequential/linear0/w": w0, "sequential/linear2/b": b1}
    np.testing.assert_allclose(xg.nn.functional_call(ours, passed, (x,)).numpy(),
                               _assigned(ours, passed)(x).numpy(), rtol=1e-12)
    xg.testing.check_grads(lambda w, b: xg.nn.functional_call(
        ours, {"sequential/linear0/w": w, "sequential/linear2/b": b}, (x,)), [w0, b1], order=2)


def test_maml_gradient_through_an_inner_step_matches_torch_func():
    ours, theirs, _ = mlp_twins(RNG)
    x1, x2 = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    weights = _fresh_weights(theirs)
    params = _ours_from_torch(ours, weights)
    lr = 0.3

    def loss(p, x):
        return xg.mean(xg.nn.functional_call(ours, p, (xg.asarray(x),)) ** 2)

    def outer(p):
        inner = xg.grad(loss)(p, x1)
        return loss({k: p[k] - lr * inner[k] for k in p}, x2)

    def torch_loss(p, x):
        return (torch.func.functional_call(theirs, p, (torch.from_numpy(x),)) ** 2).mean()

    def torch_outer(p):
        inner = torch.func.grad(torch_loss)(p, x1)
        return torch_loss({k: p[k] - lr * inner[k] for k in p}, x2)

    got = _torch_layout(ours, xg.grad(outer)(params))
    want = torch.func.grad(torch_outer)(weights)
    for key, g in want.items():
        np.testing.assert_allclose(got[key], g.numpy(), rtol=1e-10, atol=1e-13, err_msg=key)


def _cross_entropy(model):
    def loss(p, x, y):
        logits = xg.nn.functional_call(model, p, (x,))
        return xg.losses.softmax_cross_entropy(logits, y)
    return loss


def test_per_example_gradients_by_vmap_match_a_loop():
    ours, _, x = mlp_twins(RNG)
    y = xg.asarray(RNG.integers(0, 2, size=4))
    x = xg.asarray(x)
    params = {k: xg.asarray(RNG.normal(size=v.shape)) for k, v in ours.named_variables().items()}
    loss = _cross_entropy(ours)
    per_example = xg.vmap(xg.grad(loss), in_axes=(None, 0, 0))(params, x[:, None], y[:, None])
    holding = _assigned(ours, params)
    for i in range(4):
        one = _own_gradients(holding, lambda out: xg.losses.softmax_cross_entropy(
            out, y[i:i + 1]), x[i:i + 1])
        for k in params:
            np.testing.assert_allclose(per_example[k].numpy()[i], one[k].numpy(), rtol=1e-12,
                                       atol=1e-15, err_msg=k)


def test_an_ensemble_by_vmap_over_stacked_state_matches_each_model_alone():
    models = [xg.nn.MLP([3, 6, 2], activation="tanh", dtype=F64, rng=seed)
              for seed in range(3)]
    params, buffers = xg.nn.stack_module_state(models)
    assert buffers == {} and all(isinstance(v, xg.Variable) for v in params.values())
    x = xg.asarray(RNG.normal(size=(5, 3)))
    y = xg.asarray(RNG.integers(0, 2, size=5))
    loss = _cross_entropy(models[0])
    out = xg.vmap(lambda p, x: xg.nn.functional_call(models[0], p, (x,)),
                  in_axes=(0, None))(params, x)
    grads = xg.vmap(xg.grad(loss), in_axes=(0, None, None))(params, x, y)
    with xg.GradientTape() as tape:          # the stacked Variables train as one
        total = xg.sum(xg.vmap(loss, in_axes=(0, None, None))(params, x, y))
    summed = tape.gradient(total, list(params.values()))
    for i, model in enumerate(models):
        np.testing.assert_allclose(out.numpy()[i], model(x).numpy(), rtol=1e-12)
        with xg.GradientTape() as tape:
            alone = xg.losses.softmax_cross_entropy(model(x), y)
        own = model.named_variables()
        wants = tape.gradient(alone, list(own.values()))
        for path, want, g, s in zip(own, wants, grads.values(), summed):
            np.testing.assert_allclose(g.numpy()[i], want.numpy(), rtol=1e-12, err_msg=path)
            np.testing.assert_allclose(s.numpy()[i], want.numpy(), rtol=1e-12, err_msg=path)
    params["mlp/linear0/w"].assign(xg.zeros(params["mlp/linear0/w"].shape, dtype=F64))
    assert np.abs(models[0].layers[0].w.numpy()).max() > 0       # copies, not the models'


def test_stacked_buffers_run_a_batch_norm_ensemble_in_eval_mode():
    models = [xg.nn.Sequential([xg.nn.Linear(3, 4, dtype=F64, rng=s),
                                xg.nn.BatchNorm1d(4, dtype=F64)]) for s in range(3)]
    for s, m in enumerate(models):
        m.layers[1].running_mean.assign(RNG.normal(size=4))
        m.eval()
    params, buffers = xg.nn.stack_module_state(models)
    assert sorted(buffers) == ["sequential/batch_norm1/num_batches_tracked",
                               "sequential/batch_norm1/running_mean",
                               "sequential/batch_norm1/running_var"]
    x = xg.asarray(RNG.normal(size=(5, 3)))
    out = xg.vmap(lambda p, b, x: xg.nn.functional_call(models[0], (p, b), (x,)),
                  in_axes=(0, 0, None))(params, buffers, x)
    for i, model in enumerate(models):
        np.testing.assert_allclose(out.numpy()[i], model(x).numpy(), rtol=1e-12)


def test_xg_function_traces_the_call_and_replays_it_with_other_tensors():
    ours, _, x = mlp_twins(RNG)
    x = xg.asarray(x)
    step = xg.function(lambda p, x: xg.grad(lambda p: xg.sum(
        xg.nn.functional_call(ours, p, (x,)) ** 2))(p))
    own = ours(x).numpy()
    for _ in range(3):
        params = {k: xg.asarray(RNG.normal(size=v.shape))
                  for k, v in ours.named_variables().items()}
        eager = _own_gradients(_assigned(ours, params), lambda out: xg.sum(out ** 2), x)
        traced = step(params, x)
        for k in params:
            np.testing.assert_allclose(traced[k].numpy(), eager[k].numpy(), rtol=1e-12)
    np.testing.assert_array_equal(ours(x).numpy(), own)


def test_a_gradient_tape_watching_the_passed_tensors():
    ours, _, x = mlp_twins(RNG)
    x = xg.asarray(x)
    params = {k: xg.asarray(v.numpy() * 2) for k, v in ours.named_variables().items()}
    with xg.GradientTape() as tape:
        tape.watch(list(params.values()))
        loss = xg.sum(xg.nn.functional_call(ours, params, x) ** 2)     # one argument alone
    got = tape.gradient(loss, list(params.values()))
    want = _own_gradients(_assigned(ours, params), lambda out: xg.sum(out ** 2), x)
    for g, w in zip(got, want.values()):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12)
