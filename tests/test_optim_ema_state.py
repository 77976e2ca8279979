"""``xg.optim.ExponentialMovingAverage``: state_dict / load_state_dict and checkpoints (a resumed
run continues as an uninterrupted one), and its argument checks."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report


def _run(model, opt, ema, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = xg.asarray(rng.normal(size=(4, 2)))
        opt.minimize(lambda: xg.sum(model(x) ** 2), model)
        ema.update()


def _make(rng=0, num_updates=0):
    model = xg.nn.MLP([2, 3, 1], rng=rng, dtype=xg.float64)
    return model, xg.optim.Adam(0.05), xg.optim.ExponentialMovingAverage(
        model, decay=0.95, num_updates=num_updates)


def _averages(model, ema):
    return [ema.average(v).numpy() for v in model.trainable_variables]


@pytest.mark.parametrize("num_updates", [None, 0, 7])
def test_a_checkpointed_run_resumes_as_an_uninterrupted_one(tmp_path, num_updates):
    path = tmp_path / "c.npz"
    whole = _make(num_updates=num_updates)
    _run(*whole, 3, seed=1)
    _run(*whole, 4, seed=2)

    first = _make(num_updates=num_updates)
    _run(*first, 3, seed=1)
    model, opt, ema = first
    xg.save_checkpoint(path, {**model.named_variables(), **ema.named_variables()}, opt)
    resumed = _make(rng=5, num_updates=num_updates)
    model2, opt2, ema2 = resumed
    xg.load_checkpoint(path, {**model2.named_variables(), **ema2.named_variables()}, opt2)
    assert ema2.num_updates == ema.num_updates
    _run(*resumed, 4, seed=2)
    for got, want in zip(_averages(model2, ema2), _averages(whole[0], whole[2])):
        np.testing.assert_array_equal(got, want)
    assert ema2.num_updates == whole[2].num_updates == (None if num_updates is None
                                                        else num_updates + 7)


def test_state_dict_round_trip_and_copies():
    model, opt, ema = _make()
    _run(model, opt, ema, 2, seed=3)
    state = ema.state_dict()
    assert sorted(state) == sorted([*model.named_variables(), "num_updates"])
    assert state["num_updates"].item() == 2
    before = {k: v.numpy() for k, v in state.items()}
    _run(model, opt, ema, 2, seed=4)                   # the state is a snapshot
    assert all(np.array_equal(state[k].numpy(), before[k]) for k in state)
    fresh = _make(rng=9)
    fresh[2].load_state_dict({k: v.numpy() for k, v in state.items()})  # arrays are taken
    for got, want in zip(_averages(fresh[0], fresh[2]), before.values()):
        np.testing.assert_array_equal(got, want)
    assert fresh[2].num_updates == 2


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("mlp/linear0/w"), "missing 'mlp/linear0/w'"),
    (lambda s: s.update(other=np.zeros(1)), "unexpected 'other'"),
    (lambda s: s.update({"mlp/linear0/w": np.zeros((3, 2))}), "shape of 'mlp/linear0/w'"),
    (lambda s: s.update({"mlp/linear1/b": np.array([1j])}), "dtype of 'mlp/linear1/b'"),
    (lambda s: s.update(num_updates=-1), "num_updates"),
    (lambda s: s.update(num_updates=1.5), "num_updates")])
def test_a_state_that_does_not_fit_changes_nothing(change, message):
    model, opt, ema = _make()
    _run(model, opt, ema, 2, seed=3)
    state = {k: v.numpy() + 1.0 for k, v in ema.state_dict().items()}
    change(state)
    before = _averages(model, ema)
    with pytest.raises(ValueError, match=message):
        ema.load_state_dict(state)
    for got, want in zip(_averages(model, ema), before):
        np.testing.assert_array_equal(got, want)
    assert ema.num_updates == 2
    with pytest.raises(TypeError, match="dict"):
        ema.load_state_dict([1.0])


def test_variables_named_alike_need_a_dict_for_their_state():
    a, b = xg.Variable([1.0]), xg.Variable([2.0])          # both named "Variable"
    ema = xg.optim.ExponentialMovingAverage([a, b])
    ema.update()                                            # averaging needs no names
    with pytest.raises(ValueError, match="named 'Variable'"):
        ema.state_dict()
    named = xg.optim.ExponentialMovingAverage({"a": a, "b": b}, name="avg")
    assert sorted(named.named_variables()) == ["avg/a", "avg/b"]


def test_a_module_gives_its_trainable_variables():
    model = xg.nn.MLP([2, 3, 1], rng=0)
    model.layers[0].trainable = False
    ema = xg.optim.ExponentialMovingAverage(model)
    assert ema.variables == model.trainable_variables
    assert sorted(ema.state_dict()) == ["mlp/linear1/b", "mlp/linear1/w"]


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("decay", [-0.1, 1.0001, math.nan, math.inf])
def test_decay_outside_the_unit_interval_is_refused(decay):
    w = xg.Variable([1.0])
    with pytest.raises(ValueError, match=r"decay must be a finite number in \[0, 1\]"):
        xg.optim.ExponentialMovingAverage([w], decay=decay)
    ema = xg.optim.ExponentialMovingAverage([w])
    with pytest.raises(ValueError, match="decay"):
        ema.decay = decay
    assert ema.decay == 0.999


@pytest.mark.parametrize("decay", ["0.9", None, [0.9], True])
def test_decay_that_is_not_a_number_is_a_type_error(decay):
    with pytest.raises(TypeError, match="decay"):
        xg.optim.ExponentialMovingAverage([xg.Variable([1.0])], decay=decay)


@pytest.mark.parametrize("variables, error, message", [
    ([xg.asarray([1.0])], TypeError, "averages Variables; got a Tensor"),
    ([np.ones(2)], TypeError, "got a ndarray"),
    ({"w": 1.0}, TypeError, "got a float"),
    (xg.asarray([1.0]), TypeError, "got a Tensor"),
    (3.0, TypeError, "must be a Module, a dict"),
    ("w", TypeError, "must be a Module, a dict"),
    ([], ValueError, "at least one variable"),
    ([xg.Variable(np.arange(3), name="n")], TypeError, "'n' has dtype int64"),
])
def test_what_is_not_floating_variables_is_refused(variables, error, message):
    with pytest.raises(error, match=message):
        xg.optim.ExponentialMovingAverage(variables)


@pytest.mark.usefixtures("numpy_default")
def test_other_bad_arguments():
    w = xg.Variable([1.0], name="w")
    with pytest.raises(ValueError, match="appears twice"):
        xg.optim.ExponentialMovingAverage([w, w])
    for bad, error in ((-1, ValueError), (1.5, ValueError), (True, TypeError),
                       ("0", TypeError)):
        with pytest.raises(error, match="num_updates"):
            xg.optim.ExponentialMovingAverage([w], num_updates=bad)
    with pytest.raises(ValueError, match="named 'num_updates'"):
        xg.optim.ExponentialMovingAverage({"num_updates": w}, num_updates=0)
    with pytest.raises(TypeError, match="name"):
        xg.optim.ExponentialMovingAverage([w], name="")
    ema = xg.optim.ExponentialMovingAverage(w)               # one Variable is a list of one
    with pytest.raises(ValueError, match="'v' is not one of the variables"):
        ema.average(xg.Variable([1.0], name="v"))
    assert ema.average(w).tolist() == [1.0] and ema.num_updates is None
    if "numba" in backend_report():
        other = xg.Variable([1.0], name="o", backend="numba")
        with pytest.raises(ValueError, match="one backend"):
            xg.optim.ExponentialMovingAverage([w, other], num_updates=0)
