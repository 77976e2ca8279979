"""Training with the new learning-rate schedules: a small MLP trained eagerly and under
``xg.function`` ends with the same weights (each replayed update reads the schedule at the
optimizer's ``iterations``); a checkpoint saved mid-run resumes at the right rate; and whole
trajectories match ``torch.optim`` stepped with the equivalent ``torch.optim.lr_scheduler``
(the least-squares problem of ``test_optim_trajectories``)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from test_optim_trajectories import (OPTIMIZERS, STEPS, Problem, assert_same_trajectory,
                                     torch_trajectory)

torch = pytest.importorskip("torch")
S = xg.optim.schedules
LR = torch.optim.lr_scheduler

# each changes the rate within the first dozen steps
SCHEDULES = {
    "inverse-time": lambda: S.InverseTimeDecay(0.2, 2, 0.7, staircase=True),
    "polynomial": lambda: S.PolynomialDecay(0.2, 5, 0.01, power=2.0, cycle=True),
    "piecewise": lambda: S.PiecewiseConstant([2, 6], [0.2, 0.05, 0.3]),
    "restarts": lambda: S.CosineDecayRestarts(0.2, 3, t_mul=2.0, m_mul=0.5, alpha=0.1),
    "one-cycle": lambda: S.OneCycle(0.3, 12, pct_start=0.25, three_phase=True),
    "warmup": lambda: S.LinearWarmup(S.CosineDecay(0.2, 6, alpha=0.1), 4, start_value=0.02),
}
OPTIMIZER = {"sgd": lambda s: xg.optim.SGD(s),
             "sgd-momentum": lambda s: xg.optim.SGD(s, momentum=0.9, nesterov=True),
             "adam": lambda s: xg.optim.Adam(s, weight_decay=0.01)}
STEPS_RUN = 12
BATCH = np.random.default_rng(3)
XS = BATCH.standard_normal((STEPS_RUN, 16, 4))
YS = BATCH.integers(0, 3, size=(STEPS_RUN, 16))


def _model(backend, seed=0):
    return xg.nn.MLP([4, 8, 3], activation="tanh", rng=seed, dtype=xg.float64,
                     backend=backend)


def _train(model, opt, backend, compiled, steps):
    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    run = xg.function(step) if compiled else step
    rates = []
    for k in steps:
        rates.append(opt.learning_rate)
        run(xg.asarray(XS[k], backend=backend), xg.asarray(YS[k], backend=backend))
    if compiled:
        assert len(run.programs()) == 1          # traced once, the other calls replayed
    return rates, [v.numpy().copy() for v in model.trainable_variables]


def _same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("opt_name", list(OPTIMIZER))
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_compiled_training_equals_eager(name, opt_name, backend):
    make, schedule = OPTIMIZER[opt_name], SCHEDULES[name]
    eager_rates, eager = _train(_model(backend), make(schedule()), backend, False,
                                range(STEPS_RUN))
    opt = make(schedule())
    rates, compiled = _train(_model(backend), opt, backend, True, range(STEPS_RUN))
    assert rates == eager_rates == [schedule()(k) for k in range(STEPS_RUN)]
    assert opt.iterations == STEPS_RUN
    _same(compiled, eager)
    # the schedule mattered: its first rate held for the whole run ends elsewhere
    _, held = _train(_model(backend), make(eager_rates[0]), backend, False, range(STEPS_RUN))
    assert max(np.abs(h - e).max() for h, e in zip(held, eager)) > 1e-6


@pytest.mark.parametrize("backend, compiled", [("numpy", False), ("numba", True)])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_a_checkpoint_resumes_at_the_right_rate(name, backend, compiled, tmp_path):
    """Five steps, a checkpoint, a fresh model and optimizer (same schedule) loading it, seven
    more: the twelve steps of one uninterrupted run."""
    schedule = SCHEDULES[name]
    _, whole = _train(_model(backend), xg.optim.Adam(schedule()), backend, compiled,
                      range(STEPS_RUN))
    model, opt = _model(backend), xg.optim.Adam(schedule())
    _train(model, opt, backend, compiled, range(5))
    xg.save_checkpoint(tmp_path / "run.npz", model, opt)
    model, opt = _model(backend, seed=9), xg.optim.Adam(schedule())
    xg.load_checkpoint(tmp_path / "run.npz", model, opt)
    assert opt.iterations == 5 and opt.learning_rate == schedule()(5)
    rates, resumed = _train(model, opt, backend, compiled, range(5, STEPS_RUN))
    assert rates == [schedule()(k) for k in range(5, STEPS_RUN)]
    _same(resumed, whole)


# (xpgrad schedule, torch scheduler), for a run of STEPS updates
VERSUS_TORCH = {
    "one-cycle": (lambda lr: S.OneCycle(0.05, STEPS, pct_start=0.3),
                  lambda o: LR.OneCycleLR(o, 0.05, total_steps=STEPS, pct_start=0.3,
                                          cycle_momentum=False)),
    "one-cycle linear three-phase": (
        lambda lr: S.OneCycle(0.05, STEPS, pct_start=0.2, anneal_strategy="linear",
                              div_factor=10.0, three_phase=True),
        lambda o: LR.OneCycleLR(o, 0.05, total_steps=STEPS, pct_start=0.2,
                                anneal_strategy="linear", div_factor=10.0, three_phase=True,
                                cycle_momentum=False)),
    "restarts": (lambda lr: S.CosineDecayRestarts(lr, 3, t_mul=2.0, alpha=0.1),
                 lambda o: LR.CosineAnnealingWarmRestarts(o, 3, 2, eta_min=0.1 *
                                                          o.defaults["lr"])),
    "polynomial": (lambda lr: S.PolynomialDecay(lr, 15, 0.0, power=2.0),
                   lambda o: LR.PolynomialLR(o, total_iters=15, power=2.0)),
    "piecewise": (lambda lr: S.PiecewiseConstant([4, 9], [lr, 0.5 * lr, 0.25 * lr]),
                  lambda o: LR.MultiStepLR(o, [5, 10], 0.5)),
    "warmup exponential": (
        lambda lr: S.LinearWarmup(S.ExponentialDecay(lr, 1, 0.9), 5, start_value=0.2 * lr),
        lambda o: LR.SequentialLR(o, [LR.LinearLR(o, 0.2, total_iters=5),
                                      LR.ExponentialLR(o, 0.9)], milestones=[5])),
}


@pytest.mark.filterwarnings("ignore::UserWarning")   # SequentialLR's own notes
@pytest.mark.parametrize("backend, compiled", [("numpy", False), ("numpy", True),
                                               ("numba", True)])
@pytest.mark.parametrize("case", ["sgd", "sgd momentum wd", "adam l2"])
@pytest.mark.parametrize("schedule", list(VERSUS_TORCH))
def test_trajectory_matches_torch_with_its_scheduler(schedule, case, backend, compiled):
    ours, kwargs, theirs, torch_kwargs = OPTIMIZERS[case]
    make, make_torch = VERSUS_TORCH[schedule]
    kwargs = {**kwargs, "learning_rate": make(kwargs["learning_rate"])}
    got = Problem(getattr(xg.optim, ours)(**kwargs), backend, compiled).run(STEPS)
    assert_same_trajectory(got, torch_trajectory(theirs, torch_kwargs, schedule=make_torch))
