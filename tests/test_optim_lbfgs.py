"""``xg.optim.LBFGS``'s API: the closure as ``minimize``'s loss function, several variables of
different shapes flattened into one vector, float32 and float64, NumPy and Numba, the state
round trip (``state_dict`` / ``load_state_dict`` and a checkpoint), and the errors naming what
it refuses. (Against ``torch.optim.LBFGS``: ``test_optim_lbfgs_torch.py``.)"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

RNG = np.random.default_rng(11)
A = RNG.standard_normal((5, 3))
TARGET = RNG.standard_normal((5, 2))


def problem(dtype="float64", backend="numpy"):
    """A least-squares fit with a (3, 2) weight and a (2,) bias plus a quartic term (so the
    Hessian is not constant): ``(variables, loss_fn)``."""
    w = xg.Variable(np.zeros((3, 2)), dtype=dtype, name="w", backend=backend)
    b = xg.Variable(np.ones(2), dtype=dtype, name="b", backend=backend)
    a = xg.asarray(A, dtype=dtype, backend=backend)
    y = xg.asarray(TARGET, dtype=dtype, backend=backend)

    def loss_fn():
        r = a @ w + b - y
        return xg.mean(r * r) + 0.1 * xg.sum(w ** 4)

    return [w, b], loss_fn


def values(variables):
    return [v.numpy() for v in variables]


def gradient(variables, loss_fn):
    with xg.GradientTape() as tape:
        loss = loss_fn()
    return np.concatenate([g.numpy().ravel() for g in tape.gradient(loss, variables)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_converges_to_a_zero_gradient(dtype, line_search_fn):
    variables, loss_fn = problem(dtype)
    # (tolerance_change 0: by default a step stops once the loss changes by less than 1e-9,
    # here at gradients near 1e-5)
    opt = xg.optim.LBFGS(line_search_fn=line_search_fn, tolerance_change=0.0)
    first = opt.minimize(loss_fn, variables)
    for _ in range(5):
        opt.minimize(loss_fn, variables)
    assert first.dtype.name == dtype and variables[0].dtype.name == dtype
    tol = 1e-3 if dtype == "float32" else 1e-7
    assert np.abs(gradient(variables, loss_fn)).max() < tol
    assert loss_fn().item() < first.item()
    assert opt.iterations == 6 and opt._lbfgs["n_iter"] > 6


def test_numba_backend_takes_the_numpy_backends_steps():
    if "numba" not in backend_report():
        pytest.skip("numba is not installed")
    runs = []
    for backend in ("numpy", "numba"):
        variables, loss_fn = problem("float64", backend)
        opt = xg.optim.LBFGS(line_search_fn="strong_wolfe", max_iter=4)
        steps = []
        for _ in range(4):
            steps.append((opt.minimize(loss_fn, variables).item(), values(variables)))
        assert variables[0].backend.name == backend
        runs.append(steps)
    for (loss, vs), (loss2, vs2) in zip(*runs):
        assert loss == pytest.approx(loss2, rel=1e-13)
        for v, v2 in zip(vs, vs2):
            np.testing.assert_allclose(v2, v, rtol=1e-12, atol=1e-14)


def test_a_float32_run_follows_the_float64_run():
    runs = []
    for dtype in ("float64", "float32"):
        variables, loss_fn = problem(dtype)
        opt = xg.optim.LBFGS(max_iter=3, learning_rate=0.5)
        for _ in range(3):
            opt.minimize(loss_fn, variables)
        runs.append(values(variables))
    for v64, v32 in zip(*runs):
        np.testing.assert_allclose(v32, v64, rtol=1e-4, atol=1e-5)


@pytest.mark.usefixtures("numpy_default")
def test_variables_none_binds_what_the_loss_reads_and_an_unread_one_stays():
    variables, loss_fn = problem()
    opt = xg.optim.LBFGS(max_iter=2)
    opt.minimize(loss_fn)
    assert [v.name for v in opt._params] == ["w", "b"]
    # a variable the loss does not read has gradient 0 (torch's grad None): it does not move
    unread = xg.Variable([3.0, 4.0], dtype="float64", name="unread")
    w, b = variables
    before = w.numpy()
    xg.optim.LBFGS(max_iter=2).minimize(loss_fn, [w, b, unread])
    assert unread.tolist() == [3.0, 4.0] and not np.array_equal(w.numpy(), before)


def test_minimize_returns_the_first_loss_and_stops_at_a_minimum():
    w = xg.Variable([0.0, 0.0], dtype="float64")
    opt = xg.optim.LBFGS()
    loss = opt.minimize(lambda: xg.sum(w * w), [w])     # gradient 0: nothing to do
    assert loss.item() == 0.0 and w.tolist() == [0.0, 0.0]
    assert opt._lbfgs == {"func_evals": 1, "n_iter": 0} and opt.iterations == 1


def test_max_eval_defaults_to_five_quarters_of_max_iter_and_bounds_the_evaluations():
    assert xg.optim.LBFGS().max_eval == 25
    assert xg.optim.LBFGS(max_iter=7).max_eval == 8
    variables, loss_fn = problem()
    calls = []

    def counted():
        calls.append(1)
        return loss_fn()

    opt = xg.optim.LBFGS(max_iter=50, max_eval=6, line_search_fn="strong_wolfe",
                         tolerance_grad=0.0, tolerance_change=0.0)
    opt.minimize(counted, variables)
    assert len(calls) == opt._lbfgs["func_evals"] <= 6 + 25    # the search may finish its own
    opt = xg.optim.LBFGS(max_iter=3, tolerance_grad=0.0, tolerance_change=0.0)
    calls.clear()
    opt.minimize(counted, variables)
    assert len(calls) == 3          # fixed steps: no evaluation after the last iteration


# -- state ------------------------------------------------------------------------------------
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_state_round_trip_continues_exactly(line_search_fn, dtype):
    variables, loss_fn = problem(dtype)
    opt = xg.optim.LBFGS(max_iter=3, history_size=4, line_search_fn=line_search_fn)
    for _ in range(3):                 # 9 iterations: the history of 4 is full and shifting
        opt.minimize(loss_fn, variables)
    state = {k: v.numpy().copy() for k, v in opt.state_dict(variables).items()}
    assert state["w/old_dirs"].shape == (4, 3, 2) and state["b/ro"].shape == (4,)
    assert int(state["w/history"]) == 4 and int(state["b/position"]) == 1
    assert set(state) == set(opt.expected_state(variables))
    for k, (shape, dt) in opt.expected_state(variables).items():
        assert (state[k].shape, state[k].dtype.name) == (tuple(shape), dt), k

    twins, twin_loss = problem(dtype)
    for t, v in zip(twins, variables):
        t.assign(v.numpy())
    other = xg.optim.LBFGS(max_iter=3, history_size=4, line_search_fn=line_search_fn)
    other.load_state_dict(state, twins)
    assert other.iterations == 3
    for _ in range(2):
        a = opt.minimize(loss_fn, variables).item()
        b = other.minimize(twin_loss, twins).item()
        assert a == b
        for v, t in zip(variables, twins):
            np.testing.assert_array_equal(t.numpy(), v.numpy())
    assert other._lbfgs["func_evals"] == opt._lbfgs["func_evals"]


def test_a_fresh_optimizer_saves_only_its_step_count_and_rate():
    variables, _ = problem()
    assert set(xg.optim.LBFGS(0.5).state_dict(variables)) == {"iterations", "learning_rate"}


def test_checkpoint_holds_the_state(tmp_path):
    variables, loss_fn = problem()
    model = {v.name: v for v in variables}
    opt = xg.optim.LBFGS(max_iter=4, history_size=5)
    opt.minimize(loss_fn, variables)
    path = tmp_path / "c.npz"
    xg.save_checkpoint(path, model, opt)
    opt.minimize(loss_fn, variables)
    expected = values(variables)

    twins, twin_loss = problem()
    other = xg.optim.LBFGS(max_iter=4, history_size=5)
    xg.load_checkpoint(path, {v.name: v for v in twins}, other)
    other.minimize(twin_loss, twins)
    for v, e in zip(twins, expected):
        np.testing.assert_array_equal(v.numpy(), e)
    # a fresh optimizer's checkpoint loads too (no state yet)
    xg.save_checkpoint(path, model, xg.optim.LBFGS())
    xg.load_checkpoint(path, model, xg.optim.LBFGS())


def test_load_state_dict_refuses_a_state_that_does_not_fit_and_changes_nothing():
    variables, loss_fn = problem()
    opt = xg.optim.LBFGS(max_iter=3, history_size=4)
    opt.minimize(loss_fn, variables)
    state = {k: v.numpy() for k, v in opt.state_dict(variables).items()}
    other = xg.optim.LBFGS(max_iter=3, history_size=6)
    with pytest.raises(ValueError, match=r"shape of 'w/old_dirs'.*history_size 6"):
        other.load_state_dict(state, variables)
    assert other._lbfgs == {} and other._params is None and other.iterations == 0
    same = xg.optim.LBFGS(max_iter=3, history_size=4)
    with pytest.raises(ValueError, match="missing 'b/d'"):
        same.load_state_dict({k: v for k, v in state.items() if k != "b/d"}, variables)
    with pytest.raises(ValueError, match="unexpected 'w/velocity'"):
        same.load_state_dict({**state, "w/velocity": np.zeros((3, 2))}, variables)
    with pytest.raises(ValueError, match="'b/n_iter' is 99"):
        same.load_state_dict({**state, "b/n_iter": 99}, variables)
    with pytest.raises(ValueError, match="'w/n_iter' must be a count"):
        same.load_state_dict({**state, "w/n_iter": -1}, variables)
    with pytest.raises(TypeError, match="state must be a dict"):
        same.load_state_dict([1, 2], variables)
    with pytest.raises(ValueError, match=r"\['w'\] are not among the variables given"):
        opt.state_dict([variables[1]])


@pytest.mark.usefixtures("numpy_default")
def test_copies_keep_their_own_history():
    variables, loss_fn = problem()
    opt = xg.optim.LBFGS(max_iter=3)
    opt.minimize(loss_fn, variables)
    copied_vars, copied = copy.deepcopy((variables, opt))
    assert copied._params[0] is copied_vars[0]

    def copied_loss():
        a = xg.asarray(A, dtype="float64")
        r = a @ copied_vars[0] + copied_vars[1] - xg.asarray(TARGET, dtype="float64")
        return xg.mean(r * r) + 0.1 * xg.sum(copied_vars[0] ** 4)

    opt.minimize(loss_fn, variables)
    copied.minimize(copied_loss, copied_vars)
    for v, c in zip(variables, copied_vars):
        np.testing.assert_array_equal(c.numpy(), v.numpy())


# -- names, config, registration ---------------------------------------------------------------
def test_registered_by_name_with_torchs_defaults():
    opt = xg.optim.get("LBFGS", learning_rate=0.5)
    assert isinstance(opt, xg.optim.LBFGS) and xg.optim.OPTIMIZERS["lbfgs"] is xg.optim.LBFGS
    assert "LBFGS" in xg.optim.__all__
    cfg = xg.optim.LBFGS().get_config()
    assert {k: cfg[k] for k in ("learning_rate", "max_iter", "max_eval", "tolerance_grad",
                                "tolerance_change", "history_size", "line_search_fn")} == {
        "learning_rate": 1.0, "max_iter": 20, "max_eval": 25, "tolerance_grad": 1e-7,
        "tolerance_change": 1e-9, "history_size": 100, "line_search_fn": None}
    assert "weight_decay" not in cfg and "clipnorm" not in cfg
    again = xg.optim.LBFGS.from_config(xg.optim.LBFGS(0.3, max_iter=5,
                                                      line_search_fn="strong_wolfe").get_config())
    assert (again.learning_rate, again.max_iter, again.max_eval, again.line_search_fn) == (
        0.3, 5, 6, "strong_wolfe")
    assert repr(again).startswith("LBFGS(learning_rate=0.3, ")


def test_a_schedule_gives_each_step_its_rate():
    w = xg.Variable([4.0], dtype="float64")
    opt = xg.optim.LBFGS(learning_rate=lambda step: [0.0, 1.0][step], max_iter=1)
    opt.minimize(lambda: xg.sum(w * w), [w])
    assert w.tolist() == [4.0]                  # rate 0 at step 0
    opt.minimize(lambda: xg.sum(w * w), [w])
    assert w.tolist() != [4.0]


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, words", [
    ({"learning_rate": -1.0}, ValueError, "learning_rate"),
    ({"max_iter": 0}, ValueError, "max_iter must be a positive integer, got 0"),
    ({"max_iter": 2.5}, ValueError, "max_iter must be a positive integer, got 2.5"),
    ({"max_eval": 0}, ValueError, "max_eval must be a positive integer"),
    ({"history_size": 0}, ValueError, "history_size must be a positive integer"),
    ({"tolerance_grad": -1e-7}, ValueError, "tolerance_grad must be a finite number >= 0"),
    ({"tolerance_change": float("nan")}, ValueError, "tolerance_change must be a finite"),
    ({"line_search_fn": "armijo"}, ValueError, "line_search_fn must be None or 'strong_wolfe'"),
    ({"weight_decay": 0.1}, TypeError, "unexpected keyword argument 'weight_decay'"),
    ({"clipnorm": 1.0}, TypeError, "unexpected keyword argument 'clipnorm'"),
    ({"lr": 1.0}, TypeError, "learning_rate="),
    ({"momentum": 0.9}, TypeError, "unexpected keyword argument 'momentum'"),
    ({"max_iter": "20"}, TypeError, "max_iter must be a real number"),
])
def test_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        xg.optim.LBFGS(**kwargs)


def test_pytorchs_params_first_names_minimize_not_apply_gradients():
    # the optimizers' shared message sent LBFGS users to apply_gradients, which LBFGS refuses
    variables, loss_fn = problem()
    model = xg.nn.Linear(2, 1, rng=0)
    for args, kwargs in (((variables,), {}), ((model,), {}), ((variables,), {"lr": 1.0})):
        with pytest.raises(TypeError, match=r"LBFGS takes no model or variables .*"
                                            r"opt.minimize\(loss_fn, variables\)"):
            xg.optim.LBFGS(*args, **kwargs)
    opt = xg.optim.LBFGS(learning_rate=1.0)              # what the message says, done
    first = opt.minimize(loss_fn, variables)
    assert loss_fn().item() < first.item()


def test_hyperparameters_set_later_are_checked():
    opt = xg.optim.LBFGS()
    with pytest.raises(ValueError, match="LBFGS: history_size must be a positive integer"):
        opt.history_size = -3
    with pytest.raises(ValueError, match="clipvalue is not an option of LBFGS"):
        opt.clipvalue = 0.5
    opt.max_iter = 3
    assert opt.max_iter == 3


def test_what_lbfgs_cannot_do_is_refused_clearly():
    variables, loss_fn = problem()
    opt = xg.optim.LBFGS()
    with pytest.raises(TypeError, match="cannot apply gradients computed elsewhere.*minimize"):
        opt.apply_gradients([(xg.asarray(np.ones((3, 2))), variables[0])])
    with pytest.raises(AttributeError, match=r"step\(closure\) is opt.minimize"):
        opt.step(loss_fn)
    with pytest.raises(TypeError, match="takes the loss function .*got NoneType"):
        opt.minimize(None, variables)
    with pytest.raises(TypeError, match="unexpected keyword argument 'tape'"):
        opt.minimize(loss_fn, variables, tape=None)
    z = xg.Variable([1 + 1j], name="z")
    with pytest.raises(TypeError, match="complex variable 'z'"):
        opt.minimize(lambda: xg.sum(xg.abs(z)), [z])
    with pytest.raises(ValueError, match="share one backend and dtype.*'v' is float32"):
        u = xg.Variable([1.0], dtype="float64", name="u")
        v = xg.Variable([1.0], dtype="float32", name="v")
        opt.minimize(lambda: xg.sum(u * u) + xg.sum(v * v), [u, v])
    with pytest.raises(ValueError, match="loss_fn must return the loss as a Tensor of one "
                                         r"element, got Tensor of shape \(2,\)"):
        opt.minimize(lambda: variables[1] * 2.0, variables)
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.minimize(lambda: xg.asarray(1.0, dtype="float64"), variables)
    assert opt._params is None          # nothing was bound by the refused calls


def test_other_variables_than_the_bound_ones_are_refused():
    variables, loss_fn = problem()
    opt = xg.optim.LBFGS(max_iter=2)
    opt.minimize(loss_fn, variables)
    with pytest.raises(ValueError, match=r"one list of variables .* optimizes \['w', 'b'\], "
                                         r"now given \['b', 'w'\]"):
        opt.minimize(loss_fn, variables[::-1])
    with pytest.raises(ValueError, match="parameter group"):
        opt.minimize(loss_fn, variables[:1])
