"""The learning-rate schedules' values against an independent reference, step by step.

PyTorch (``torch.optim.lr_scheduler``, stepped once after each ``optimizer.step()``): its rate
after ``k`` calls of ``scheduler.step()`` is ``schedule(k)`` -- ``OneCycle`` against
``OneCycleLR``, ``CosineDecayRestarts`` (``m_mul=1``, integer ``t_mul``) against
``CosineAnnealingWarmRestarts``, ``PolynomialDecay`` (end rate 0) against ``PolynomialLR``,
``PiecewiseConstant`` against ``MultiStepLR``, ``LinearWarmup`` against ``LinearLR`` and
``LinearLR`` + another scheduler in a ``SequentialLR``.

Keras (TensorFlow is not installed): the formulas of Keras' documentation, written out here --
``InverseTimeDecay``, ``PolynomialDecay`` with an end rate and ``cycle``, the
``PiecewiseConstantDecay`` example, and ``CosineDecayRestarts`` with ``m_mul`` and a fractional
``t_mul`` (Keras' closed form: the restart index from a logarithm).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
LR = torch.optim.lr_scheduler
S = xg.optim.schedules


def torch_rates(lr, make, steps):
    """The rate each of ``steps`` updates uses: after 0, 1, ... ``scheduler.step()`` calls."""
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    sched = make(opt)
    rates = [opt.param_groups[0]["lr"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # SequentialLR's deprecation notes
        for _ in range(steps - 1):
            opt.step()
            sched.step()
            rates.append(opt.param_groups[0]["lr"])
    return rates


def assert_rates(schedule, expected):
    got = [schedule(k) for k in range(len(expected))]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert max(expected) > min(expected)         # the schedule moved


ONE_CYCLE = [
    dict(max_lr=0.1, total_steps=100),
    dict(max_lr=1.0, total_steps=37, pct_start=0.25, anneal_strategy="linear", div_factor=10.0,
         final_div_factor=100.0),
    dict(max_lr=0.5, total_steps=50, three_phase=True),
    dict(max_lr=0.5, total_steps=23, pct_start=0.4, anneal_strategy="linear", div_factor=5.0,
         final_div_factor=1e3, three_phase=True),
    dict(max_lr=0.2, total_steps=10, pct_start=0.05),       # the climb ends before step 0
    dict(max_lr=0.3, total_steps=15, pct_start=0.1),        # ... between steps 0 and 1
    dict(max_lr=0.3, total_steps=8, pct_start=0.5, three_phase=True),
    dict(max_lr=0.3, total_steps=2),
]


@pytest.mark.parametrize("kw", ONE_CYCLE, ids=range(len(ONE_CYCLE)))
def test_one_cycle_matches_one_cycle_lr(kw):
    total = kw["total_steps"]
    expected = torch_rates(kw["max_lr"], lambda o: LR.OneCycleLR(o, cycle_momentum=False, **kw),
                           total)
    s = S.OneCycle(**kw)
    assert_rates(s, expected)
    # past the end it holds the final rate (PyTorch raises once stepped past total_steps)
    final = kw["max_lr"] / kw.get("div_factor", 25.0) / kw.get("final_div_factor", 1e4)
    assert [s(total + k) for k in range(-1, 5)] == pytest.approx([final] * 6, rel=1e-12)


def test_one_cycle_with_a_climb_of_exactly_one_step():
    """pct_start * total_steps == 1: PyTorch's OneCycleLR divides by zero at step 0; ours
    starts at max_lr / div_factor and anneals as PyTorch does with a climb a hair longer."""
    with pytest.raises(ZeroDivisionError):
        LR.OneCycleLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), 0.4,
                      total_steps=10, pct_start=0.1, cycle_momentum=False)
    ours = S.OneCycle(0.4, total_steps=10, pct_start=0.1)
    near = torch_rates(0.4, lambda o: LR.OneCycleLR(o, 0.4, total_steps=10,
                                                    pct_start=(1 + 1e-12) / 10,
                                                    cycle_momentum=False), 10)
    assert ours(0) == pytest.approx(0.4 / 25, rel=1e-12)
    np.testing.assert_allclose([ours(k) for k in range(10)], near, rtol=1e-9)


RESTARTS = [(0.1, 5, 1, 0.0), (1.0, 3, 2, 0.1), (0.5, 4, 3, 0.05), (0.2, 1, 2, 0.0)]


@pytest.mark.parametrize("lr, first, t_mul, alpha", RESTARTS)
def test_cosine_restarts_match_cosine_annealing_warm_restarts(lr, first, t_mul, alpha):
    expected = torch_rates(lr, lambda o: LR.CosineAnnealingWarmRestarts(
        o, T_0=first, T_mult=t_mul, eta_min=alpha * lr), 80)
    assert_rates(S.CosineDecayRestarts(lr, first, t_mul=t_mul, alpha=alpha), expected)


@pytest.mark.parametrize("lr, decay_steps, power", [(0.1, 10, 1.0), (1.0, 7, 2.0),
                                                    (0.3, 12, 0.5)])
def test_polynomial_decay_to_zero_matches_polynomial_lr(lr, decay_steps, power):
    expected = torch_rates(lr, lambda o: LR.PolynomialLR(o, total_iters=decay_steps,
                                                         power=power), 2 * decay_steps)
    assert_rates(S.PolynomialDecay(lr, decay_steps, end_learning_rate=0.0, power=power),
                 expected)


def test_piecewise_constant_matches_multi_step_lr():
    milestones, gamma, lr = [3, 7, 12], 0.3, 0.5
    expected = torch_rates(lr, lambda o: LR.MultiStepLR(o, milestones, gamma), 20)
    ours = S.PiecewiseConstant([m - 1 for m in milestones],
                               [lr * gamma ** i for i in range(len(milestones) + 1)])
    assert_rates(ours, expected)


WARMED = {
    "cosine": (lambda lr: S.CosineDecay(lr, 10, alpha=0.1),
               lambda o, lr: LR.CosineAnnealingLR(o, T_max=10, eta_min=0.1 * lr), 10),
    "exponential": (lambda lr: S.ExponentialDecay(lr, 1, 0.8),
                    lambda o, lr: LR.ExponentialLR(o, 0.8), 20),
    "step": (lambda lr: S.StepDecay(lr, 3, 0.5), lambda o, lr: LR.StepLR(o, 3, 0.5), 20),
    "polynomial": (lambda lr: S.PolynomialDecay(lr, 8, 0.0, power=2.0),
                   lambda o, lr: LR.PolynomialLR(o, total_iters=8, power=2.0), 20),
}


@pytest.mark.parametrize("warmup_steps, start_factor", [(5, 0.1), (1, 0.5), (4, 1 / 3)])
@pytest.mark.parametrize("name", list(WARMED))
def test_linear_warmup_matches_linear_lr_in_a_sequential_lr(name, warmup_steps, start_factor):
    """After the milestone SequentialLR runs the second scheduler from its step 0; Cosine-
    AnnealingLR climbs back after T_max where Keras' CosineDecay stays: compared up to it."""
    ours, theirs, after = WARMED[name]
    lr = 0.2
    expected = torch_rates(lr, lambda o: LR.SequentialLR(o, [
        LR.LinearLR(o, start_factor=start_factor, total_iters=warmup_steps),
        theirs(o, lr)], milestones=[warmup_steps]), warmup_steps + after)
    assert_rates(S.LinearWarmup(ours(lr), warmup_steps, start_value=start_factor * lr),
                 expected)


def test_linear_warmup_of_a_constant_matches_linear_lr():
    expected = torch_rates(0.3, lambda o: LR.LinearLR(o, start_factor=0.25, total_iters=6), 12)
    assert_rates(S.LinearWarmup(0.3, 6, start_value=0.075), expected)
    assert_rates(S.LinearWarmup(S.Constant(0.3), 6, start_value=0.075), expected)


def test_linear_warmup_of_a_cosine_decay_is_keras_cosine_decay_s_warmup():
    ours = S.LinearWarmup(S.CosineDecay(0.4, 12, alpha=0.2), 5, start_value=0.05)
    keras = S.CosineDecay(0.05, 12, alpha=0.2, warmup_target=0.4, warmup_steps=5)
    np.testing.assert_allclose([ours(k) for k in range(25)], [keras(k) for k in range(25)],
                               rtol=1e-15)


# -- Keras' documented formulas ---------------------------------------------------------------
def keras_inverse_time(initial, decay_steps, decay_rate, staircase, step):
    p = math.floor(step / decay_steps) if staircase else step / decay_steps
    return initial / (1 + decay_rate * p)


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay_is_keras_formula(staircase):
    expected = [keras_inverse_time(0.1, 3, 0.5, staircase, k) for k in range(30)]
    assert_rates(S.InverseTimeDecay(0.1, 3, 0.5, staircase=staircase), expected)


def keras_polynomial(initial, decay_steps, end, power, cycle, step):
    if cycle:
        decay_steps = decay_steps * (1 if step == 0 else math.ceil(step / decay_steps))
    else:
        step = min(step, decay_steps)
    return (initial - end) * (1 - step / decay_steps) ** power + end


@pytest.mark.parametrize("cycle", [False, True])
@pytest.mark.parametrize("end, power", [(1e-4, 1.0), (0.02, 2.0), (0.3, 0.5)])
def test_polynomial_decay_is_keras_formula(end, power, cycle):
    expected = [keras_polynomial(0.1, 6, end, power, cycle, k) for k in range(40)]
    assert_rates(S.PolynomialDecay(0.1, 6, end_learning_rate=end, power=power, cycle=cycle),
                 expected)


def test_piecewise_constant_is_keras_documentation_example():
    """Keras: boundaries [100000, 110000], values [1.0, 0.5, 0.1] -- "1.0 for the first
    100001 steps, 0.5 for the next 10000 steps, and 0.1 for any additional steps"."""
    s = S.PiecewiseConstant([100000, 110000], [1.0, 0.5, 0.1])
    rates = np.array([s(k) for k in range(130000)])
    assert (rates[:100001] == 1.0).all()
    assert (rates[100001:110001] == 0.5).all()
    assert (rates[110001:] == 0.1).all()


def keras_cosine_restarts(initial, first, t_mul, m_mul, alpha, step):
    """Keras' CosineDecayRestarts.__call__, in float64."""
    fraction = step / first
    if t_mul == 1.0:
        i = math.floor(fraction)
        fraction -= i
    else:
        i = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
        done = (1.0 - t_mul ** i) / (1.0 - t_mul)
        fraction = (fraction - done) / t_mul ** i
    cosine = 0.5 * m_mul ** i * (1.0 + math.cos(math.pi * fraction))
    return initial * ((1 - alpha) * cosine + alpha)


@pytest.mark.parametrize("first, t_mul, m_mul, alpha", [(4, 1.0, 0.5, 0.1), (4, 1.5, 0.8, 0.0),
                                                        (3, 2.0, 0.7, 0.05),
                                                        (5, 2.5, 1.0, 0.2)])
def test_cosine_restarts_is_keras_formula(first, t_mul, m_mul, alpha):
    expected = [keras_cosine_restarts(0.3, first, t_mul, m_mul, alpha, k) for k in range(120)]
    assert_rates(S.CosineDecayRestarts(0.3, first, t_mul=t_mul, m_mul=m_mul, alpha=alpha),
                 expected)


def test_cosine_restarts_restart_where_keras_logarithm_rounds_down():
    """first_decay_steps=11, t_mul=3: the fifth restart is at step 11 * (3**5 - 1) / 2 = 1331,
    where Keras' log(1 + 2 * 1331 / 11) / log(3) rounds to just under 5: its float64 formula
    gives the fourth period's end (alpha * lr), PyTorch and ours the top of the fifth."""
    expected = torch_rates(1.0, lambda o: LR.CosineAnnealingWarmRestarts(o, 11, 3), 1340)
    ours = S.CosineDecayRestarts(1.0, 11, t_mul=3.0)
    assert_rates(ours, expected)
    assert ours(1331) == 1.0 and ours(1330) < 1e-4
    assert keras_cosine_restarts(1.0, 11, 3.0, 1.0, 0.0, 1331) < 1e-12


def test_cosine_restarts_restart_at_a_fractional_t_mul_s_whole_bound():
    """first_decay_steps=30, t_mul=1.1: the second restart is at 30 + 33 = 63, which float64
    computes as 63.00000000000004 (Keras' logarithm gets it right there)."""
    s = S.CosineDecayRestarts(1.0, 30, t_mul=1.1, m_mul=0.5)
    assert s(63) == 0.25 and s(62) < 0.25 * 1e-2 and s(30) == 0.5
    assert s(63) == keras_cosine_restarts(1.0, 30, 1.1, 0.5, 0.0, 63)
