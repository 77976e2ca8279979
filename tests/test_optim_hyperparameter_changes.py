"""Hyperparameters changed between updates, as a PyTorch user changes ``param_groups`` (momentum
warm-up, OneCycle's momentum and beta cycling, a weight-decay schedule) or a Keras user sets
``opt.momentum``: the next update uses the new value, as torch.optim does, on both backends and
under ``xg.function``; a bad value is refused when it is set, naming it."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

W0 = np.array([[1.0, -2.0], [0.5, 3.0]])
STEPS = 8


def _grad(k):
    return np.array([[1.0, 0.5], [-0.25, 2.0]]) * np.cos(k) + 0.1 * W0


def _ours(opt, changes, backend, compiled):
    w = xg.Variable(W0.copy(), backend=backend)

    def step(g):
        opt.apply_gradients([(g, w)])
    run = xg.function(step) if compiled else step
    out = []
    for k in range(STEPS):
        for name, value in changes.get(k, {}).items():
            setattr(opt, name, value)
        run(xg.asarray(_grad(k), backend=backend))
        out.append(w.numpy().copy())
    return out


def _theirs(opt_cls, kwargs, changes):
    w = torch.tensor(W0.copy(), requires_grad=True)
    opt = opt_cls([w], **kwargs)
    out = []
    for k in range(STEPS):
        for name, value in changes.get(k, {}).items():
            if name == "zero buffer":
                opt.state[w][value].zero_()
            else:
                opt.param_groups[0][name] = value
        w.grad = torch.tensor(_grad(k))
        opt.step()
        out.append(w.detach().numpy().copy())
    return out


# (ours, our changes, torch class, torch kwargs, torch changes). A momentum switched on starts
# its buffer at 0 (torch's SGD: at the gradient, the same). Torch's RMSprop cannot switch its
# momentum on (KeyError 'momentum_buffer'); one of 1e-300 from the start is the same numbers as
# none (1e-300 * b vanishes beside the step), and its buffer is zeroed at the switch.
CASES = {
    "sgd momentum switched on": (
        lambda: xg.optim.SGD(0.1), {3: {"momentum": 0.9}},
        torch.optim.SGD, {"lr": 0.1}, {3: {"momentum": 0.9}}),
    "sgd momentum cycled": (
        lambda: xg.optim.SGD(0.1, momentum=0.95), {2: {"momentum": 0.85}, 5: {"momentum": 0.0}},
        torch.optim.SGD, {"lr": 0.1, "momentum": 0.95},
        {2: {"momentum": 0.85}, 5: {"momentum": 0.0}}),
    "rmsprop momentum switched on": (
        lambda: xg.optim.RMSprop(0.01), {3: {"momentum": 0.8}},
        torch.optim.RMSprop, {"lr": 0.01, "momentum": 1e-300},
        {3: {"momentum": 0.8, "zero buffer": "momentum_buffer"}}),
    "adam betas and weight decay": (
        lambda: xg.optim.Adam(0.05), {2: {"beta_1": 0.8, "weight_decay": 0.1},
                                      4: {"beta_2": 0.9}},
        torch.optim.Adam, {"lr": 0.05}, {2: {"betas": (0.8, 0.999), "weight_decay": 0.1},
                                         4: {"betas": (0.8, 0.9)}}),
}


@pytest.mark.parametrize("backend, compiled", [("numpy", False), ("numba", False),
                                               ("numpy", True)])
@pytest.mark.parametrize("case", list(CASES))
def test_a_changed_hyperparameter_acts_from_the_next_update_as_in_torch(case, backend,
                                                                        compiled):
    make, changes, their_cls, their_kwargs, their_changes = CASES[case]
    got = _ours(make(), changes, backend, compiled)
    expected = _theirs(their_cls, their_kwargs, their_changes)
    for k, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14, err_msg=f"after step {k + 1}")


SET_BAD = [
    (lambda: xg.optim.SGD(0.1, momentum=0.9), "momentum", 1.5, ValueError),
    (lambda: xg.optim.SGD(0.1, momentum=0.9), "momentum", "0.9", TypeError),
    (lambda: xg.optim.SGD(0.1, momentum=0.9), "nesterov", "yes", TypeError),
    (lambda: xg.optim.SGD(0.1), "weight_decay", -0.1, ValueError),
    (lambda: xg.optim.Adam(0.1), "beta_1", 1.0, ValueError),
    (lambda: xg.optim.Adam(0.1), "beta_2", float("nan"), ValueError),
    (lambda: xg.optim.Adam(0.1), "epsilon", 0.0, ValueError),
    (lambda: xg.optim.RMSprop(0.1), "rho", -0.5, ValueError),
    (lambda: xg.optim.RMSprop(0.1), "centered", 1, TypeError),
    (lambda: xg.optim.AdamW(0.1), "amsgrad", "True", TypeError),
    (lambda: xg.optim.Adadelta(), "rho", None, TypeError),
    (lambda: xg.optim.Adagrad(0.1), "initial_accumulator_value", -1.0, ValueError),
    (lambda: xg.optim.SGD(0.1), "clipnorm", 0.0, ValueError),
    (lambda: xg.optim.SGD(0.1, clipvalue=1.0), "global_clipnorm", 1.0, ValueError),
]


@pytest.mark.parametrize("make, name, value, error", SET_BAD,
                         ids=[f"{c[1]}={c[2]!r}" for c in SET_BAD])
def test_a_bad_value_set_on_the_optimizer_is_refused_naming_it(make, name, value, error):
    """As the constructor refuses it: before, ``opt.momentum = 1.5`` was kept and the updates
    diverged (or failed in the middle of a step)."""
    opt = make()
    before = getattr(opt, name)
    with pytest.raises(error, match=name):
        setattr(opt, name, value)
    assert getattr(opt, name) == before


def test_good_values_set_are_kept_as_floats_and_shown_by_get_config():
    opt = xg.optim.SGD(0.1, momentum=0.9, clipnorm=1.0)
    opt.momentum = np.float32(0.5)
    opt.clipnorm = None
    opt.clipvalue = 2
    assert type(opt.momentum) is float and opt.momentum == 0.5
    config = opt.get_config()
    assert config["momentum"] == 0.5 and config["clipnorm"] is None
    assert config["clipvalue"] == 2.0
