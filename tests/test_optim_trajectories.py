"""Every optimizer option, learning-rate schedule and clipping mode against PyTorch's equivalent
(``torch.optim`` + ``torch.optim.lr_scheduler``), step by step: a small least-squares problem in
float64, 20 steps, the whole parameter trajectory compared to float rounding, on the NumPy and
Numba backends, eager and under ``xg.function`` (plain SGD there is folded into a gemm).

Names map as documented: ``learning_rate`` -> ``lr``, ``rho`` -> RMSprop's ``alpha``,
``beta_1, beta_2`` -> ``betas``, ``epsilon`` -> ``eps``. Keras' schedules are PyTorch's
schedulers stepped once per update: ``ExponentialDecay(lr, n, r)`` is ``ExponentialLR(gamma=r **
(1 / n))`` (staircase: ``StepLR(n, r)``), ``StepDecay`` is ``StepLR``, ``CosineDecay(lr, n,
alpha)`` is ``CosineAnnealingLR(T_max=n, eta_min=alpha * lr)`` up to step n (after it Keras'
stays at the floor, PyTorch's climbs back: compared up to n only).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

STEPS = 20
RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 4))
Y = RNG.standard_normal((6, 3))
W0 = RNG.standard_normal((4, 3)) * 0.5
B0 = RNG.standard_normal(3) * 0.1

# (xpgrad class, its kwargs, torch class, torch kwargs); learning rates large enough that 20
# steps move the weights far from where they started
OPTIMIZERS = {
    "sgd": ("SGD", {"learning_rate": 0.02}, "SGD", {"lr": 0.02}),
    "sgd momentum wd": ("SGD", {"learning_rate": 0.02, "momentum": 0.9, "weight_decay": 0.1},
                        "SGD", {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.1}),
    "sgd nesterov": ("SGD", {"learning_rate": 0.02, "momentum": 0.7, "nesterov": True},
                     "SGD", {"lr": 0.02, "momentum": 0.7, "nesterov": True}),
    "adagrad": ("Adagrad", {"learning_rate": 0.2, "initial_accumulator_value": 0.3,
                            "epsilon": 1e-6, "weight_decay": 0.05},
                "Adagrad", {"lr": 0.2, "initial_accumulator_value": 0.3, "eps": 1e-6,
                            "weight_decay": 0.05}),
    "adadelta": ("Adadelta", {"learning_rate": 2.0, "rho": 0.8, "epsilon": 1e-4,
                              "weight_decay": 0.05},
                 "Adadelta", {"lr": 2.0, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.05}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01, "rho": 0.9, "epsilon": 1e-5},
                "RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-5}),
    "rmsprop momentum wd": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.8,
                                        "weight_decay": 0.1},
                            "RMSprop", {"lr": 0.01, "momentum": 0.8, "weight_decay": 0.1}),
    "adam l2": ("Adam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95,
                         "epsilon": 1e-6, "weight_decay": 0.1},
                "Adam", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    "adamw": ("AdamW", {"learning_rate": 0.05, "weight_decay": 0.3},
              "AdamW", {"lr": 0.05, "weight_decay": 0.3}),
    "rmsprop centered": ("RMSprop", {"learning_rate": 0.01, "rho": 0.9, "centered": True},
                         "RMSprop", {"lr": 0.01, "alpha": 0.9, "centered": True}),
    "rmsprop centered momentum wd": (
        "RMSprop", {"learning_rate": 0.01, "momentum": 0.8, "centered": True,
                    "weight_decay": 0.1},
        "RMSprop", {"lr": 0.01, "momentum": 0.8, "centered": True, "weight_decay": 0.1}),
    "adam amsgrad": ("Adam", {"learning_rate": 0.05, "beta_2": 0.9, "amsgrad": True,
                              "weight_decay": 0.1},
                     "Adam", {"lr": 0.05, "betas": (0.9, 0.9), "amsgrad": True,
                              "weight_decay": 0.1}),
    "adamw amsgrad": ("AdamW", {"learning_rate": 0.05, "beta_2": 0.9, "amsgrad": True},
                      "AdamW", {"lr": 0.05, "betas": (0.9, 0.9), "amsgrad": True}),
    "adamax l2": ("Adamax", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95,
                             "epsilon": 1e-6, "weight_decay": 0.1},
                  "Adamax", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    "nadam l2": ("NAdam", {"learning_rate": 0.05, "beta_2": 0.95, "momentum_decay": 0.05,
                           "weight_decay": 0.1},
                 "NAdam", {"lr": 0.05, "betas": (0.9, 0.95), "momentum_decay": 0.05,
                           "weight_decay": 0.1}),
    "nadamw": ("NAdam", {"learning_rate": 0.05, "weight_decay": 0.3,
                         "decoupled_weight_decay": True},
               "NAdam", {"lr": 0.05, "weight_decay": 0.3, "decoupled_weight_decay": True}),
    # beta_2 0.9: rho_t passes 5 at step 6, so the run has both of RAdam's updates
    "radam l2": ("RAdam", {"learning_rate": 0.05, "beta_2": 0.9, "weight_decay": 0.1},
                 "RAdam", {"lr": 0.05, "betas": (0.9, 0.9), "weight_decay": 0.1}),
    "radam decoupled": ("RAdam", {"learning_rate": 0.05, "beta_2": 0.9, "weight_decay": 0.3,
                                  "decoupled_weight_decay": True},
                        "RAdam", {"lr": 0.05, "betas": (0.9, 0.9), "weight_decay": 0.3,
                                  "decoupled_weight_decay": True}),
}

# (xpgrad schedule, torch scheduler) from the initial learning rate
SCHEDULES = {
    "exponential": (lambda lr: xg.optim.ExponentialDecay(lr, 4, 0.5),
                    lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.5 ** (1 / 4))),
    "exponential staircase": (
        lambda lr: xg.optim.ExponentialDecay(lr, 3, 0.5, staircase=True),
        lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
    "step": (lambda lr: xg.optim.StepDecay(lr, 5, 0.3),
             lambda o: torch.optim.lr_scheduler.StepLR(o, 5, 0.3)),
    "cosine": (lambda lr: xg.optim.CosineDecay(lr, STEPS, alpha=0.1),
               lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, STEPS, o.defaults["lr"]
                                                                    * 0.1)),
}


def _torch_clip_global(params, c):
    """TensorFlow's clip_by_global_norm: scale c / max(norm, c) (torch's clip_grad_norm_
    divides by norm + 1e-6 instead)."""
    norm = math.sqrt(sum(float((p.grad * p.grad).sum()) for p in params))
    for p in params:
        p.grad.mul_(c / max(norm, c))


def torch_trajectory(cls, kwargs, schedule=None, clip=None, steps=STEPS):
    """``[(w, b) after each step]`` from torch.optim on the same problem, with float64 as
    torch's default dtype: its optimizers keep scalar state in it (NAdam's running product of
    the momenta is float32 otherwise; the step counts are exact either way)."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return _torch_steps(cls, kwargs, schedule, clip, steps)
    finally:
        torch.set_default_dtype(default)


def _torch_steps(cls, kwargs, schedule, clip, steps):
    w = torch.tensor(W0.copy(), requires_grad=True)
    b = torch.tensor(B0.copy(), requires_grad=True)
    opt = getattr(torch.optim, cls)([w, b], **kwargs)
    sched = schedule(opt) if schedule else None
    out = []
    for _ in range(steps):
        opt.zero_grad()
        ((torch.tensor(X) @ w + b - torch.tensor(Y)) ** 2).sum().backward()
        if clip:
            clip([w, b])
        opt.step()
        if sched:
            sched.step()
        out.append((w.detach().numpy().copy(), b.detach().numpy().copy()))
    return out


class Problem:
    """The same least-squares problem in xpgrad, one ``step()`` per update. The data are
    arguments, so that under ``xg.function`` plain SGD's update of ``w`` is folded into the
    gradient's product (a constant operand is not folded)."""

    def __init__(self, opt, backend, compiled):
        self.opt = opt
        self.w = xg.Variable(W0.copy(), name="w", backend=backend)
        self.b = xg.Variable(B0.copy(), name="b", backend=backend)
        self.data = (xg.asarray(X, backend=backend), xg.asarray(Y, backend=backend))
        self.step = xg.function(self._step) if compiled else self._step

    def _step(self, x, y):
        with xg.GradientTape() as tape:
            loss = xg.sum((x @ self.w + self.b - y) ** 2)
        self.opt.apply_gradients(zip(tape.gradient(loss, [self.w, self.b]), [self.w, self.b]))

    def run(self, steps):
        out = []
        for _ in range(steps):
            self.step(*self.data)
            out.append((self.w.numpy().copy(), self.b.numpy().copy()))
        if hasattr(self.step, "programs"):      # compiled: the replays ran
            (program,) = self.step.programs()
            plain = type(self.opt) is xg.optim.SGD and not (self.opt.momentum
                                                            or self.opt.weight_decay)
            assert program.sgd_gemms == (1 if plain and self.opt.global_clipnorm is None
                                         else 0)
        return out


def assert_same_trajectory(got, expected):
    assert len(got) == len(expected)
    for k, (g, e) in enumerate(zip(got, expected)):
        for gi, ei in zip(g, e):
            np.testing.assert_allclose(gi, ei, rtol=1e-11, atol=1e-12,
                                       err_msg=f"after step {k + 1}")
    # the run really moved the weights (a comparison of two standing-still runs checks nothing)
    assert np.abs(expected[-1][0] - W0).max() > 1e-2


MODES = pytest.mark.parametrize("backend, compiled", [
    ("numpy", False), ("numpy", True), ("numba", False), ("numba", True)],
    ids=["numpy", "numpy-function", "numba", "numba-function"])


@MODES
@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_trajectory_matches_torch_optim(case, backend, compiled):
    ours, kwargs, theirs, torch_kwargs = OPTIMIZERS[case]
    got = Problem(getattr(xg.optim, ours)(**kwargs), backend, compiled).run(STEPS)
    assert_same_trajectory(got, torch_trajectory(theirs, torch_kwargs))


@MODES
@pytest.mark.parametrize("case", ["sgd", "sgd momentum wd", "adam l2", "adamax l2", "nadam l2",
                                  "radam l2"])
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_schedules_match_torch_lr_schedulers(schedule, case, backend, compiled):
    ours, kwargs, theirs, torch_kwargs = OPTIMIZERS[case]
    make, make_torch = SCHEDULES[schedule]
    kwargs = {**kwargs, "learning_rate": make(kwargs["learning_rate"])}
    got = Problem(getattr(xg.optim, ours)(**kwargs), backend, compiled).run(STEPS)
    assert_same_trajectory(got, torch_trajectory(theirs, torch_kwargs, schedule=make_torch))


@MODES
@pytest.mark.parametrize("case", ["sgd", "rmsprop momentum wd", "adam l2"])
def test_global_clipnorm_matches_clipping_all_gradients_together(case, backend, compiled):
    ours, kwargs, theirs, torch_kwargs = OPTIMIZERS[case]
    got = Problem(getattr(xg.optim, ours)(**kwargs, global_clipnorm=2.0), backend,
                  compiled).run(STEPS)
    expected = torch_trajectory(theirs, torch_kwargs, clip=lambda ps: _torch_clip_global(ps, 2.0))
    assert_same_trajectory(got, expected)
    unclipped = torch_trajectory(theirs, torch_kwargs)
    assert np.abs(unclipped[-1][0] - expected[-1][0]).max() > 1e-3     # the clip acted


@pytest.mark.parametrize("backend, compiled", [("numpy", False), ("numba", True)])
@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_state_dict_saved_mid_run_continues_the_trajectory(case, backend, compiled):
    """Ten steps, the state into a fresh optimizer (and fresh Variables holding the weights),
    ten more: the same twenty steps as one uninterrupted PyTorch run."""
    ours, kwargs, theirs, torch_kwargs = OPTIMIZERS[case]
    schedule = xg.optim.ExponentialDecay(kwargs["learning_rate"], 4, 0.5)
    kwargs = {**kwargs, "learning_rate": schedule}
    first = Problem(getattr(xg.optim, ours)(**kwargs), backend, compiled)
    got = first.run(STEPS // 2)
    state = {k: v.numpy().copy() for k, v in first.opt.state_dict([first.w, first.b]).items()}
    second = Problem(getattr(xg.optim, ours)(**kwargs), backend, compiled)
    second.w.assign(first.w.numpy())
    second.b.assign(first.b.numpy())
    second.opt.load_state_dict(state, [second.w, second.b])
    got += second.run(STEPS - STEPS // 2)
    expected = torch_trajectory(theirs, torch_kwargs, schedule=SCHEDULES["exponential"][1])
    assert_same_trajectory(got, expected)
