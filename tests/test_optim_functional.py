"""The optax-style functional form of xg.optim's optimizers (``opt.init``, ``opt.update``,
``xg.optim.apply_updates``): the stateful optimizer's numbers side by side, under
``xg.function`` too, its inputs left alone, and bad input refused naming the argument."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

# the bit-for-bit comparisons are the NumPy backend's (Numba's fused update kernels round the
# stateful step once, so there the two agree to a rounding: the last test)
pytestmark = pytest.mark.usefixtures("numpy_default")

R = np.random.default_rng(21)
X = R.normal(size=(12, 3))
Y = R.normal(size=(12, 2))
START = {"w": R.normal(size=(3, 2)), "layers": [R.normal(size=2), R.normal(size=())]}


def loss(p):
    fit = xg.mean((xg.asarray(X) @ p["w"] + p["layers"][0] * p["layers"][1] - xg.asarray(Y)) ** 2)
    return fit + 0.1 * xg.sum(p["w"] ** 4)          # curvature that differs by direction


def _params():
    return xg.tree_map(lambda a: xg.asarray(a, dtype=xg.float64), START)


def _variables():
    return xg.tree_map(lambda a: xg.Variable(a, dtype=xg.float64), START)


def _schedule():
    return xg.optim.CosineDecay(0.05, 8, alpha=0.1, warmup_target=0.2, warmup_steps=3)


#: (optimizer factory, whether its update has two stages: AdamW's decoupled weight decay)
OPTIMIZERS = {
    "sgd_nesterov_clipped": (lambda: xg.optim.SGD(_schedule(), momentum=0.9, nesterov=True,
                                                  global_clipnorm=0.5), False),
    "sgd_momentum_decay": (lambda: xg.optim.SGD(0.05, momentum=0.5, weight_decay=0.01,
                                                clipvalue=0.3), True),
    "adam_schedule_clipnorm": (lambda: xg.optim.Adam(_schedule(), clipnorm=0.4), False),
    "adam_amsgrad": (lambda: xg.optim.Adam(0.05, amsgrad=True, clipvalue=0.5), False),
    "adamw_schedule_clipped": (lambda: xg.optim.AdamW(_schedule(), weight_decay=0.1,
                                                      global_clipnorm=1.0), True),
    "rmsprop_centered_momentum": (lambda: xg.optim.RMSprop(0.01, momentum=0.5, centered=True,
                                                           global_clipnorm=0.7), False),
    "adagrad_schedule": (lambda: xg.optim.Adagrad(_schedule(), initial_accumulator_value=0.1),
                         False),
}


def _functional_run(opt, steps):
    params = _params()
    state = opt.init(params)
    for _ in range(steps):
        updates, state = opt.update(xg.grad(loss)(params), state, params)
        params = xg.optim.apply_updates(params, updates)
    return params, state


def _stateful_run(opt, steps):
    variables = _variables()
    for _ in range(steps):
        opt.minimize(lambda: loss(variables), variables)
    return variables


def _flat(tree):
    return [leaf.numpy() for leaf in xg.tree_leaves(tree)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_functional_updates_give_the_stateful_optimizers_numbers(name):
    make, two_stages = OPTIMIZERS[name]
    params, state = _functional_run(make(), 9)
    want = _stateful_run(make(), 9)
    assert int(state.count) == 9
    for got, expected in zip(_flat(params), _flat(want)):
        if two_stages:
            # param * (1 - lr * wd) - step is not param minus one rounded number
            np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1e-15)
        else:
            # param + ((param - step) - param) rounds back to param - step
            np.testing.assert_array_equal(got, expected)
    assert np.abs(_flat(params)[0] - START["w"]).max() > 1e-3       # it did train


def test_the_state_holds_the_stateful_optimizers_slots():
    opt = xg.optim.Adam(0.05)
    _, state = _functional_run(opt, 4)
    stateful = xg.optim.Adam(0.05)
    variables = _stateful_run(stateful, 4)
    named = {"w": variables["w"]}
    saved = stateful.state_dict(named)
    np.testing.assert_array_equal(state.slots["m"]["w"].numpy(), saved["w/m"].numpy())
    np.testing.assert_array_equal(state.slots["v"]["w"].numpy(), saved["w/v"].numpy())
    assert int(state.slots["step"]["w"]) == int(saved["w/step"]) == 4
    assert not opt._state and opt.iterations == 0     # the optimizer itself keeps nothing


def test_update_writes_nothing_it_was_given():
    opt = xg.optim.SGD(0.1, momentum=0.9, weight_decay=0.01)
    params = _params()
    state = opt.init(params)
    _, state = opt.update(xg.grad(loss)(params), state, params)
    before = [a.copy() for a in _flat(params) + _flat(state.slots)]
    count = int(state.count)
    opt.update(xg.grad(loss)(params), state, params)
    for a, b in zip(before, _flat(params) + _flat(state.slots)):
        np.testing.assert_array_equal(a, b)
    assert int(state.count) == count


def test_a_compiled_functional_step_replays_the_eager_steps():
    """The schedule and the bias correction follow the count each replay is given: a value
    baked in at trace time would repeat the traced step's learning rate."""
    def make():
        return xg.optim.AdamW(_schedule(), weight_decay=0.05, global_clipnorm=1.0)
    opt = make()

    @xg.function
    def step(params, state):
        value, grads = xg.value_and_grad(loss)(params)
        updates, state = opt.update(grads, state, params)
        return xg.optim.apply_updates(params, updates), state, value

    params = _params()
    state = opt.init(params)
    for _ in range(9):
        params, state, _ = step(params, state)
    assert step.trace_count == 1
    eager, eager_state = _functional_run(make(), 9)
    assert int(state.count) == int(eager_state.count) == 9
    for got, want in zip(_flat(params), _flat(eager)):
        np.testing.assert_array_equal(got, want)


def test_apply_updates_keeps_each_params_dtype_and_tree():
    params = {"a": xg.asarray([1.0, 2.0], dtype=xg.float32), "b": (xg.asarray(0.5),)}
    updates = {"a": xg.asarray([0.25, -0.5], dtype=xg.float64), "b": (xg.asarray(0.25),)}
    new = xg.optim.apply_updates(params, updates)
    assert new["a"].dtype == xg.float32 and isinstance(new["b"], tuple)
    assert new["a"].tolist() == [1.25, 1.5] and new["b"][0].item() == 0.75


def test_apply_updates_is_differentiable():
    """Recorded like any sum (a meta-learning step differentiates through it)."""
    def after_step(lr):
        params = {"w": xg.asarray([1.0, -2.0], dtype=xg.float64)}
        g = xg.grad(lambda p: xg.sum(p["w"] ** 2))(params)
        return xg.sum(xg.optim.apply_updates(params, {"w": -lr * g["w"]})["w"] ** 2)
    # sum((w - 2 lr w)^2) = (1 - 2 lr)^2 * 5: derivative -20 (1 - 2 lr)
    assert xg.grad(after_step)(xg.asarray(0.1, dtype=xg.float64)).item() == pytest.approx(-16.0)


# -- bad input -------------------------------------------------------------------------------------

def _adam_setup():
    opt = xg.optim.Adam(0.1)
    params = _params()
    return opt, params, opt.init(params), xg.grad(loss)(params)


def test_grads_of_another_tree_are_refused_naming_the_place():
    opt, params, state, grads = _adam_setup()
    with pytest.raises(ValueError, match=r"params is a dict with keys \['layers', 'w'\] where "
                                         r"grads is a dict with keys \['w'\]"):
        opt.update({"w": grads["w"]}, state, params)


def test_a_state_for_other_params_is_refused():
    opt, params, state, grads = _adam_setup()
    other = opt.init({"w": xg.zeros((3, 2), dtype=xg.float64)})
    with pytest.raises(ValueError, match=r"state.slots\['m'\] is a dict with keys \['w'\]"):
        opt.update(grads, other, params)
    wrong_shape = opt.init({"w": xg.zeros((2, 3), dtype=xg.float64),
                            "layers": [xg.zeros(2, dtype=xg.float64),
                                       xg.zeros((), dtype=xg.float64)]})
    with pytest.raises(ValueError, match=r"state.slots\['m'\]\['w'\] has shape \(2, 3\)"):
        opt.update(grads, wrong_shape, params)


def test_a_state_of_another_dtype_or_backend_is_refused_not_rounded_or_crashed():
    # a float32 state with float64 params rounded the new moments to float32 silently (and a
    # float64 state with float32 params came back float64); a real state with complex grads
    # and no params crashed in NumPy's broadcasting (the real pairs are twice as long)
    opt = xg.optim.Adam(0.1)
    wide = {"w": xg.ones(2, dtype=xg.float64)}
    narrow_state = opt.init({"w": xg.zeros(2, dtype=xg.float32)})
    with pytest.raises(TypeError, match=r"state.slots\['m'\]\['w'\] has dtype float32, "
                                        r"params\['w'\] float64"):
        opt.update(wide, narrow_state, wide)
    with pytest.raises(TypeError, match=r"dtype float64, params\['w'\] float32"):
        opt.update({"w": xg.ones(2)}, opt.init(wide), {"w": xg.ones(2)})
    with pytest.raises(TypeError, match=r"dtype float64, grads\['w'\] complex64"):
        opt.update({"w": xg.asarray([1 + 1j, 2j])}, opt.init(wide))
    # a state on another backend was used as is (the new moments moved to the grads' backend)
    on_numba = {"w": xg.ones(2, dtype=xg.float64, backend="numba")}
    with pytest.raises(ValueError, match=r"state.slots\['m'\]\['w'\] is on 'numpy', "
                                         r"params\['w'\] on 'numba': move the state"):
        opt.update(on_numba, opt.init(wide), on_numba)
    moved = xg.tree_map(lambda t: t.to("numba"), opt.init(wide))
    assert (opt.update(on_numba, moved, on_numba)[0]["w"].tolist()
            == opt.update(wide, opt.init(wide), wide)[0]["w"].tolist())
    grads32 = {"w": xg.ones(2, dtype=xg.float32)}       # a float32 grad of float64 params: fine
    updates, state = opt.update(grads32, opt.init(wide), wide)
    assert updates["w"].dtype == state.slots["m"]["w"].dtype == xg.float64


def test_complex_params_follow_torchs_adam_and_a_complex_update_of_a_real_param_is_refused():
    torch = pytest.importorskip("torch")
    start = np.array([1 + 2j, -0.5 + 0.25j])
    params, opt = [xg.asarray(start)], xg.optim.Adam(0.1)
    state = opt.init(params)
    theirs = torch.tensor(start, requires_grad=True)
    torch_opt = torch.optim.Adam([theirs], lr=0.1)
    for _ in range(3):
        grads = xg.grad(lambda q: xg.sum(xg.abs(q[0]) ** 2))(params)
        updates, state = opt.update(grads, state, params)
        params = xg.optim.apply_updates(params, updates)
        torch_opt.zero_grad()
        (theirs.abs() ** 2).sum().backward()
        torch_opt.step()
    np.testing.assert_allclose(np.asarray(params[0]), theirs.detach().numpy(), rtol=1e-12)
    # the cast to the param's dtype dropped the imaginary part: zeros stayed zeros
    with pytest.raises(TypeError, match=r"updates\['w'\] is complex \(complex64\) for the "
                                        r"real params\['w'\] \(float32\)"):
        xg.optim.apply_updates({"w": xg.zeros(2)}, {"w": xg.asarray([1j, 1j])})


def test_an_update_a_tape_would_differentiate_is_refused_not_a_constant():
    # MAML's outer gradient through opt.update took the update for a constant: grad(outer)
    # gave 4 p'^3 where it is 4 p'^3 (1 - 12 lr p^2), with no error
    torch = pytest.importorskip("torch")
    opt, lr = xg.optim.SGD(0.01), 0.01
    params = {"w": xg.asarray([1.0, -2.0], dtype=xg.float64)}

    def quartic(p):
        return xg.sum(p["w"] ** 4)

    def outer(p):
        updates, _ = opt.update(xg.grad(quartic)(p), opt.init(p), p)
        return quartic(xg.optim.apply_updates(p, updates))

    with pytest.raises(TypeError, match=r"SGD.update: a recording tape differentiates "
                                        r"grads\['w'\], but update is not differentiable"):
        xg.grad(outer)(params)
    with xg.GradientTape() as tape:
        tape.watch(params["w"])
        with pytest.raises(TypeError, match=r"differentiates params\['w'\]"):
            opt.update({"w": xg.ones(2, dtype=xg.float64)}, opt.init(params), params)
    by_hand = xg.grad(lambda p: quartic(xg.tree_map(lambda w, g: w - lr * g, p,
                                                      xg.grad(quartic)(p))))(params)["w"]
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    inner, = torch.autograd.grad((w ** 4).sum(), w, create_graph=True)
    ((w - lr * inner) ** 4).sum().backward()
    np.testing.assert_allclose(np.asarray(by_hand), w.grad.numpy(), rtol=1e-13)
    moved = np.array([1.0, -2.0]) - lr * 4 * np.array([1.0, -2.0]) ** 3
    closed = 4 * moved ** 3 * (1 - 12 * lr * np.array([1.0, -2.0]) ** 2)
    np.testing.assert_allclose(np.asarray(by_hand), closed, rtol=1e-13)
    updates, _ = opt.update(xg.grad(quartic)(params), opt.init(params), params)   # no tape: runs
    np.testing.assert_allclose(np.asarray(updates["w"]), moved - [1.0, -2.0], rtol=1e-15)


def test_another_optimizers_state_or_a_plain_dict_is_refused():
    opt, params, _, grads = _adam_setup()
    sgd_state = xg.optim.SGD(0.1, momentum=0.9).init(params)
    with pytest.raises(ValueError, match=r"state.slots has \['velocity'\], but Adam keeps "
                                         r"\['m', 'v'\]: was the state made by another"):
        opt.update(grads, sgd_state, params)
    with pytest.raises(TypeError, match="state must be what opt.init.params. returned"):
        opt.update(grads, {"count": 0}, params)


def test_bad_leaves_and_missing_params_are_refused():
    opt = xg.optim.AdamW(0.1)
    with pytest.raises(TypeError, match=r"params\['n'\] has dtype int64"):
        opt.init({"n": xg.asarray([1, 2])})
    with pytest.raises(TypeError, match=r"params\['w'\] is a float; params is a tree of Tensors"):
        opt.init({"w": 1.0})
    with pytest.raises(ValueError, match="params has no leaves"):
        opt.init({})
    params = {"w": xg.ones(2)}
    with pytest.raises(ValueError, match="weight_decay=0.01 reads the params; pass them"):
        opt.update({"w": xg.ones(2)}, opt.init(params))
    with pytest.raises(ValueError, match=r"grads\['w'\] has shape \(3,\)"):
        opt.update({"w": xg.ones(3)}, opt.init(params), params)


def test_apply_updates_refuses_other_shapes_and_trees():
    with pytest.raises(ValueError, match=r"updates\['w'\] has shape \(1,\), params\['w'\] \(3,\)"):
        xg.optim.apply_updates({"w": xg.ones(3)}, {"w": xg.ones(1)})
    with pytest.raises(ValueError, match="updates is a list of 1 where params is a dict"):
        xg.optim.apply_updates({"w": xg.ones(3)}, [xg.ones(3)])


def test_lbfgs_has_no_functional_form():
    """(Modules are pytrees now: tests/test_module_pytree_training.py updates them.)"""
    with pytest.raises(TypeError, match="LBFGS has no functional init/update"):
        xg.optim.LBFGS().init({"w": xg.ones(2)})


@pytest.mark.parametrize("with_params", [True, False])
def test_steps_of_any_size_give_the_stateful_numbers_to_the_bit(with_params):
    """Weights and steps over twenty binary orders of magnitude, either way round; without
    params (optax's ``opt.update(grads, state)``) the update is computed from zeros."""
    size = 20000
    magnitudes = 2.0 ** R.uniform(-10, 10, size=(2, size)) * R.choice([-1, 1], size=(2, size))
    params = {"w": xg.asarray(magnitudes[0], dtype=xg.float64)}
    grads = {"w": xg.asarray(magnitudes[1], dtype=xg.float64)}
    opt = xg.optim.SGD(0.7, momentum=0.9)
    updates, _ = opt.update(grads, opt.init(params), params if with_params else None)
    got = xg.optim.apply_updates(params, updates)["w"].numpy()
    w = xg.Variable(magnitudes[0])
    xg.optim.SGD(0.7, momentum=0.9).apply_gradients([(grads["w"], w)])
    np.testing.assert_array_equal(got, w.numpy())


@pytest.mark.parametrize("name", ["sgd_nesterov_clipped", "adam_schedule_clipnorm",
                                  "rmsprop_centered_momentum"])
def test_on_numba_the_functional_numbers_are_the_stateful_ones_to_a_rounding(name):
    pytest.importorskip("numba")
    make, _ = OPTIMIZERS[name]
    with xg.use_backend("numba"):
        params, state = _functional_run(make(), 9)
        want = _stateful_run(make(), 9)
    assert all(t.backend.name == "numba" for t in xg.tree_leaves(params))
    for got, expected in zip(_flat(params), _flat(want)):
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)
