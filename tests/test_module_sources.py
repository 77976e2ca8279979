"""A model as the sources of tape.gradient (xpgrad/module_sources.py): the gradient comes back
shaped like the model, equal to xg.grad(loss)(model)'s and to PyTorch's parameter gradients
(float64), None at buffers, frozen weights and integer tensors; a model inside a list or dict
of sources, tape.watch(model) and tape.jacobian(y, model) too. Optimizer.apply(grads, model)
steps as torch.optim does; bad input is a clear error."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import xpgrad as xg
from torch_twin_models import conv_twins, first_output as _first, lstm_twins, mlp_twins

torch = pytest.importorskip("torch")

F64 = xg.float64
RNG = np.random.default_rng(5)


def _by_path(model, grads) -> dict:
    """``{named_variables path: gradient or None}`` of a model-shaped gradient."""
    found = []
    xg.tree_map(lambda p, g: found.append(g), model, grads)
    return dict(zip(model.named_variables(), found))


def _bn_model():
    return xg.nn.Sequential(xg.nn.Linear(3, 4, dtype=F64, rng=0), xg.nn.BatchNorm1d(4, dtype=F64),
                            xg.nn.Linear(4, 1, dtype=F64, rng=1))


@pytest.mark.parametrize("make", [mlp_twins, conv_twins, lstm_twins],
                         ids=["mlp", "conv", "lstm"])
def test_tape_gradient_of_a_model_is_xg_grads_and_torchs(make):
    ours, theirs, x = make(RNG)
    ours.load_torch_state_dict(theirs.state_dict())
    cot = RNG.normal(size=_first(theirs(torch.from_numpy(x))).shape)

    def loss(model):
        return xg.sum(_first(model(xg.asarray(x))) * cot)

    with xg.GradientTape() as tape:
        value = loss(ours)
    grads = tape.gradient(value, ours)
    assert type(grads) is type(ours) and grads is not ours
    functional = _by_path(ours, xg.grad(loss)(ours))
    for key, g in _by_path(ours, grads).items():
        np.testing.assert_array_equal(g.numpy(), functional[key].numpy(), err_msg=key)
    theirs.zero_grad()
    (_first(theirs(torch.from_numpy(x))) * torch.from_numpy(cot)).sum().backward()
    clone = copy.deepcopy(ours)
    clone.load_state_dict({k: g.numpy() for k, g in _by_path(ours, grads).items()})
    got = clone.torch_state_dict()
    for key, p in theirs.named_parameters():
        if key.startswith("bias_hh"):      # ours has one bias, whose gradient is bias_ih's
            continue
        np.testing.assert_allclose(got[key], p.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=key)


def test_tape_gradient_of_a_model_matches_finite_differences():
    model = xg.nn.MLP([3, 4, 2], dtype=F64, rng=0)
    x = xg.asarray(RNG.normal(size=(5, 3)))

    def loss(m):
        return xg.sum(xg.tanh(m(x)) ** 2)

    with xg.GradientTape() as tape:
        value = loss(model)
    got = xg.ravel_pytree(tape.gradient(value, model))[0].numpy()
    flat, unravel = xg.ravel_pytree(model)
    v, eps = flat.numpy(), 1e-6
    want = np.empty_like(v)
    for i in range(v.size):
        step = np.zeros_like(v)
        step[i] = eps
        want[i] = (loss(unravel(xg.asarray(v + step))).item()
                   - loss(unravel(xg.asarray(v - step))).item()) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_buffers_and_frozen_weights_get_none_as_from_xg_grad():
    model = _bn_model()
    model.layers[2].b.trainable = False
    x = xg.asarray(RNG.normal(size=(6, 3)))
    with xg.GradientTape() as tape:
        value = xg.sum(model(x) ** 2)
    by_path = _by_path(model, tape.gradient(value, model))
    assert [k for k, g in by_path.items() if g is None] == [
        "sequential/batch_norm1/running_mean", "sequential/batch_norm1/running_var",
        "sequential/batch_norm1/num_batches_tracked", "sequential/linear2/b"]
    model.train(False)          # the same statistics in both passes below
    functional = xg.grad(lambda m: xg.sum(m(x) ** 2))(model)
    with xg.GradientTape() as tape:
        value = xg.sum(model(x) ** 2)
    for (k, g), f in zip(_by_path(model, tape.gradient(value, model)).items(),
                         _by_path(model, functional).values()):
        assert (g is None) == (f is None), k
        if g is not None:
            np.testing.assert_array_equal(g.numpy(), f.numpy(), err_msg=k)


def test_a_model_inside_a_dict_or_list_of_sources_and_with_other_tensors():
    model = xg.nn.Linear(3, 2, dtype=F64, rng=0)
    x = xg.asarray(RNG.normal(size=(4, 3)))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        value = xg.sum(model(x) ** 2)
    alone = tape.gradient(value, model)
    nested = tape.gradient(value, {"model": model, "extra": [x, model.w]})
    listed = tape.gradient(value, [model, x])
    assert type(nested["model"]) is xg.nn.Linear and type(listed[0]) is xg.nn.Linear
    for g in (nested["model"].w, listed[0].w, nested["extra"][1]):
        np.testing.assert_array_equal(g.numpy(), alone.w.numpy())
    np.testing.assert_array_equal(nested["extra"][0].numpy(), listed[1].numpy())
    np.testing.assert_allclose(listed[1].numpy(), (2 * model(x).numpy()) @ model.w.numpy().T,
                               rtol=1e-12)


def test_unconnected_weights_get_zeros_with_zero_and_buffers_stay_none():
    model = xg.nn.Sequential(xg.nn.Linear(2, 2, rng=0), xg.nn.BatchNorm1d(2))
    with xg.GradientTape() as tape:
        value = xg.sum(model.layers[0](xg.ones((3, 2))))
    grads = tape.gradient(value, model, unconnected_gradients="zero")
    assert grads.layers[1].weight.tolist() == [0.0, 0.0]
    assert grads.layers[1].running_mean is None
    assert grads.layers[0].b.tolist() == [3.0, 3.0]


def test_watch_a_value_model_and_take_its_gradient_and_jacobian():
    lin = xg.nn.Linear(2, 2, dtype=F64, rng=0)
    value = xg.tree_map(lambda p: p * 1.0, lin)          # plain tensors: watched by hand
    bn = xg.nn.BatchNorm1d(2, dtype=F64)
    x = xg.asarray([[1.0, 2.0], [3.0, -1.0]], dtype=F64)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([value, bn])                           # not the integer counter
        y = bn(value(x))[0]
        total = xg.sum(y)
    assert len(tape.watched_variables()) == 2
    grads = tape.gradient(total, value)
    jac = tape.jacobian(y, value)
    assert jac.w.shape == (2, 2, 2) and jac.b.shape == (2, 2)
    np.testing.assert_allclose(grads.w.numpy(), jac.w.numpy().sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_optimizer_apply_of_a_model_shaped_gradient_steps_as_torch(opt_name):
    ours, theirs, x = mlp_twins(RNG)
    ours.load_torch_state_dict(theirs.state_dict())
    opt = getattr(xg.optim, opt_name)(0.05)
    topt = getattr(torch.optim, opt_name)(theirs.parameters(), lr=0.05)
    for _ in range(3):
        with xg.GradientTape() as tape:
            value = xg.mean(ours(xg.asarray(x)) ** 2)
        opt.apply(tape.gradient(value, ours), ours)
        topt.zero_grad()
        (theirs(torch.from_numpy(x)) ** 2).mean().backward()
        topt.step()
    got, want = ours.torch_state_dict(), theirs.state_dict()
    for key in want:
        np.testing.assert_allclose(got[key], want[key].numpy(), rtol=1e-10, err_msg=key)


def test_apply_skips_buffers_and_takes_xg_grads_gradient_and_dicts():
    """Three routes to the same steps: a tape's model-shaped gradient applied inside a dict,
    xg.grad's applied as it is, and apply_gradients over trainable_variables."""
    a, b, c = _bn_model(), _bn_model(), _bn_model()
    x = xg.asarray(RNG.normal(size=(6, 3)))
    opts = [xg.optim.SGD(0.1, momentum=0.9) for _ in range(3)]
    for _ in range(2):
        with xg.GradientTape() as tape:
            value = xg.sum(a(x) ** 2)
        assert opts[0].apply({"m": tape.gradient(value, a)}, {"m": a}) == opts[0].iterations
        opts[1].apply(xg.grad(lambda m: xg.sum(m(x) ** 2))(b), b)
        with xg.GradientTape() as tape:
            value = xg.sum(c(x) ** 2)
        opts[2].apply_gradients(zip(tape.gradient(value, c.trainable_variables),
                                    c.trainable_variables))
    for va, vb, vc in zip(a.variables, b.variables, c.variables):
        np.testing.assert_allclose(va.numpy(), vc.numpy(), rtol=1e-12, err_msg=va.name)
        np.testing.assert_allclose(vb.numpy(), vc.numpy(), rtol=1e-12, err_msg=va.name)
    assert int(a.layers[1].num_batches_tracked.item()) == 2


def test_distributed_optimizer_apply_on_one_process_is_the_optimizers():
    a, b = xg.nn.Linear(2, 1, rng=0), xg.nn.Linear(2, 1, rng=0)
    grads = xg.tree_map(lambda p: xg.ones_like(p) * 0.5, a)
    xg.optim.Adam(0.1).apply(grads, a)
    xg.distributed.DistributedOptimizer(xg.optim.Adam(0.1)).apply(grads, b)
    for va, vb in zip(a.variables, b.variables):
        np.testing.assert_array_equal(va.numpy(), vb.numpy())


def test_a_traced_step_over_the_model_replays_as_eager():
    def run(traced):
        model = _bn_model()
        opt = xg.optim.Adam(0.05)

        def step(x):
            with xg.GradientTape() as tape:
                value = xg.mean(model(x) ** 2)
            opt.apply(tape.gradient(value, model), model)
            return value

        fn = xg.function(step) if traced else step
        x = xg.asarray(np.random.default_rng(1).normal(size=(6, 3)))
        losses = [fn(x).item() for _ in range(5)]
        return losses, [v.numpy() for v in model.variables], fn

    eager, eager_vars, _ = run(False)
    traced, traced_vars, fn = run(True)
    np.testing.assert_allclose(traced, eager, rtol=1e-12)
    for a, b in zip(traced_vars, eager_vars):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert fn.trace_count == 1


def _loss_on(model):
    with xg.GradientTape() as tape:
        value = xg.sum(model(xg.ones((2, 3))))
    return tape, value


@pytest.mark.parametrize("module, match", [
    (xg.nn.ReLU(), r"sources: this ReLU has nothing to differentiate: it holds no tensors"),
    (xg.nn.BatchNorm1d(3, affine=False), r"this BatchNorm1d has nothing to differentiate: its "
                                          r"tensors are buffers"),
])
def test_a_module_with_nothing_to_differentiate_is_a_value_error(module, match):
    tape, value = _loss_on(xg.nn.Linear(3, 3, rng=0))
    with pytest.raises(ValueError, match=match):
        tape.gradient(value, module)


def test_a_frozen_model_is_a_value_error_naming_its_place():
    model = xg.nn.Sequential(xg.nn.Linear(3, 3, rng=0), xg.nn.Linear(3, 1, rng=1))
    model.layers[0].trainable = False
    tape, value = _loss_on(model)
    with pytest.raises(ValueError, match=r"sources\['a'\]: this Linear has nothing to "
                                         r"differentiate: it is frozen \(trainable = False\)"):
        tape.gradient(value, {"a": model.layers[0], "b": model.layers[1]})


def test_bad_sources_and_bad_apply_arguments_are_errors_naming_them():
    model = xg.nn.Linear(3, 1, rng=0)
    tape, value = _loss_on(model)
    with pytest.raises(TypeError, match=r"sources must be Tensors or Modules, got NoneType at "
                                        r"sources\[1\]"):
        tape.gradient(value, [model, None])
    tape, value = _loss_on(model)
    skeleton = xg.pytree.rebuild(model, [xg.pytree.Placeholder(), xg.pytree.Placeholder()])
    with pytest.raises(TypeError, match=r"sources.w is a Placeholder"):
        tape.gradient(value, skeleton)
    tape, value = _loss_on(model)
    grads = tape.gradient(value, model)
    opt = xg.optim.SGD(0.1)
    with pytest.raises(TypeError, match=r"opt.apply\(grads, model\)"):
        opt.apply_gradients(grads)
    with pytest.raises(ValueError, match=r"grads is a MLP module where variables is a Linear "
                                         r"module"):
        opt.apply(xg.tree_map(lambda p: p, xg.nn.MLP([3, 1], rng=0)), model)
    with pytest.raises(ValueError, match=r"grads is a list where variables is a Linear"):
        opt.apply([grads.w, grads.b], model)
    with pytest.raises(TypeError, match=r"variables.w is a plain Tensor: this Linear was "
                                        r"rebuilt from a pytree's leaves"):
        opt.apply(grads, xg.tree_map(lambda p: p * 1.0, model))
    before = model.w.numpy().copy()
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply(xg.tree_map(lambda p: None, grads), model)
    np.testing.assert_array_equal(model.w.numpy(), before)
    with pytest.raises(AttributeError, match=r"opt.apply\(tape.gradient\(loss, model\), model\)"):
        opt.step()


def test_a_distributed_tape_on_one_process_gives_the_tapes_model_shaped_gradient():
    model = _bn_model()
    x = xg.asarray(RNG.normal(size=(6, 3)))
    model.train(False)
    grads = []
    for distributed in (False, True):
        with xg.GradientTape() as tape:
            value = xg.sum(model(x) ** 2)
        source = xg.distributed.DistributedGradientTape(tape) if distributed else tape
        grads.append(_by_path(model, source.gradient(value, model)))
    for (k, a), b in zip(grads[0].items(), grads[1].values()):
        assert (a is None) == (b is None), k
        if a is not None:
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    with xg.GradientTape() as tape:
        value = xg.sum(model(x) ** 2)
    with pytest.raises(ValueError, match=r"sources\[0\]\.layers\[0\]\.w and sources\[1\]"):
        xg.distributed.DistributedGradientTape(tape).gradient(value, [model,
                                                                      model.layers[0].w])
