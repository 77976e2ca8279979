"""The learning-rate schedules as objects: bad arguments refused when the schedule is made
(naming the argument and the value), where they are importable from, repr, copies and pickles,
and an optimizer's ``learning_rate`` reading them at its ``iterations``."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import xpgrad as xg

S = xg.optim.schedules
NAN, INF = float("nan"), float("inf")
NEW = ["InverseTimeDecay", "PolynomialDecay", "PiecewiseConstant", "CosineDecayRestarts",
       "OneCycle", "LinearWarmup"]

BAD = [
    # (call, exception, words the message must contain)
    (lambda: S.PolynomialDecay(0.1, decay_steps=-5), ValueError, "decay_steps must be a "
     "positive integer, got -5"),
    (lambda: S.PolynomialDecay(0.1, 10, end_learning_rate=NAN), ValueError,
     "end_learning_rate must be a finite number >= 0, got nan"),
    (lambda: S.PolynomialDecay(0.1, 10, power=-1.0), ValueError, "power must be a finite "
     "number >= 0, got -1.0"),
    (lambda: S.PolynomialDecay(INF, 10), ValueError, "initial_learning_rate must be a finite"),
    (lambda: S.PolynomialDecay(0.1, 10, cycle="yes"), TypeError, "cycle must be True or False"),
    (lambda: S.InverseTimeDecay(0.1, 0, 0.5), ValueError, "decay_steps must be a positive "
     "integer, got 0"),
    (lambda: S.InverseTimeDecay(0.1, 10, -0.5), ValueError, "decay_rate must be a finite "
     "number >= 0, got -0.5"),
    (lambda: S.InverseTimeDecay(NAN, 10, 0.5), ValueError, "initial_learning_rate must be a "
     "finite number >= 0, got nan"),
    (lambda: S.PiecewiseConstant([5, 3], [1.0, 0.5, 0.1]), ValueError,
     "boundaries must be strictly increasing, got boundaries[0] = 5 and boundaries[1] = 3"),
    (lambda: S.PiecewiseConstant([5, 5], [1.0, 0.5, 0.1]), ValueError,
     "boundaries must be strictly increasing"),
    (lambda: S.PiecewiseConstant([3, 6], [1.0, 0.5]), ValueError,
     "values must have one entry more than boundaries (len(boundaries) + 1 = 3), got 2"),
    (lambda: S.PiecewiseConstant([3], [1.0, 0.5, 0.1]), ValueError, "len(boundaries) + 1 = 2"),
    (lambda: S.PiecewiseConstant([-1, 3], [1.0, 0.5, 0.1]), ValueError,
     "boundaries[0] must be an integer >= 0, got -1"),
    (lambda: S.PiecewiseConstant([2.5], [1.0, 0.5]), ValueError,
     "boundaries[0] must be an integer >= 0, got 2.5"),
    (lambda: S.PiecewiseConstant([1, 2], [0.1, INF, 0.1]), ValueError,
     "values[1] must be a finite number >= 0, got inf"),
    (lambda: S.PiecewiseConstant([1], [NAN, 0.1]), ValueError, "values[0] must be a finite"),
    (lambda: S.PiecewiseConstant(3, [0.1]), TypeError, "boundaries must be a list of numbers"),
    (lambda: S.PiecewiseConstant([1], ["fast", 0.1]), TypeError,
     "values[0] must be a real number"),
    (lambda: S.CosineDecayRestarts(0.1, first_decay_steps=-3), ValueError,
     "first_decay_steps must be a positive integer, got -3"),
    (lambda: S.CosineDecayRestarts(0.1, 10, t_mul=0.5), ValueError,
     "t_mul must be a finite number >= 1, got 0.5"),
    (lambda: S.CosineDecayRestarts(0.1, 10, m_mul=-1.0), ValueError,
     "m_mul must be a finite number >= 0, got -1.0"),
    (lambda: S.CosineDecayRestarts(0.1, 10, m_mul=INF), ValueError, "m_mul must be a finite"),
    (lambda: S.CosineDecayRestarts(0.1, 10, alpha=1.5), ValueError,
     "alpha must be a finite number in [0, 1], got 1.5"),
    (lambda: S.OneCycle(0.1, total_steps=-10), ValueError,
     "total_steps must be a positive integer, got -10"),
    (lambda: S.OneCycle(NAN, 100), ValueError, "max_lr must be a finite number >= 0, got nan"),
    (lambda: S.OneCycle(0.1, 100, pct_start=0.0), ValueError,
     "pct_start must be a finite number in (0, 1), got 0.0"),
    (lambda: S.OneCycle(0.1, 100, pct_start=1.0), ValueError, "pct_start must be a finite "
     "number in (0, 1), got 1.0"),
    (lambda: S.OneCycle(0.1, 100, pct_start=1.5), ValueError, "pct_start"),
    (lambda: S.OneCycle(0.1, 100, pct_start=NAN), ValueError, "pct_start"),
    (lambda: S.OneCycle(0.1, 100, pct_start=0.6, three_phase=True), ValueError,
     "pct_start must be <= 0.5 with three_phase=True"),
    (lambda: S.OneCycle(0.1, 100, anneal_strategy="cosine"), ValueError,
     "anneal_strategy must be one of ('cos', 'linear'), got 'cosine'"),
    (lambda: S.OneCycle(0.1, 100, anneal_strategy=np.array(["cos", "linear"])), ValueError,
     "anneal_strategy must be one of ('cos', 'linear'), got array("),
    (lambda: S.OneCycle(0.1, 100, div_factor=0.0), ValueError,
     "div_factor must be a finite number > 0, got 0.0"),
    (lambda: S.OneCycle(0.1, 100, final_div_factor=-1.0), ValueError,
     "final_div_factor must be a finite number > 0, got -1.0"),
    (lambda: S.OneCycle(0.1, 100, three_phase=1), TypeError, "three_phase must be True or"),
    (lambda: S.LinearWarmup(S.Constant(0.1), warmup_steps=-1), ValueError,
     "warmup_steps must be an integer >= 0, got -1"),
    (lambda: S.LinearWarmup(S.Constant(0.1), 5, start_value=-0.1), ValueError,
     "start_value must be a finite number >= 0, got -0.1"),
    (lambda: S.LinearWarmup(S.Constant(0.1), 5, start_value=NAN), ValueError, "start_value"),
    (lambda: S.LinearWarmup("fast", 5), TypeError,
     "schedule must be a schedule (a callable of the step) or a number, got str 'fast'"),
    (lambda: S.LinearWarmup(-0.1, 5), ValueError, "schedule must be a finite number >= 0"),
]


@pytest.mark.parametrize("call, error, words", BAD, ids=[w[:40] for _, _, w in BAD])
def test_bad_arguments_are_refused_when_made_naming_them(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


@pytest.mark.parametrize("name", NEW)
def test_importable_from_optim_and_schedules(name):
    assert getattr(xg.optim, name) is getattr(S, name)
    assert name in xg.optim.__all__ and name in S.__all__
    assert getattr(S, name).__doc__ and ">>>" in getattr(S, name).__doc__


MADE = {
    "InverseTimeDecay": lambda: S.InverseTimeDecay(0.1, 5, 0.5, staircase=True),
    "PolynomialDecay": lambda: S.PolynomialDecay(0.1, 8, 0.01, power=2.0, cycle=True),
    "PiecewiseConstant": lambda: S.PiecewiseConstant([2, 5], [0.1, 0.05, 0.01]),
    "CosineDecayRestarts": lambda: S.CosineDecayRestarts(0.1, 3, t_mul=2.0, m_mul=0.5,
                                                         alpha=0.1),
    "OneCycle": lambda: S.OneCycle(0.1, 20, pct_start=0.25, anneal_strategy="linear",
                                   three_phase=True),
    "LinearWarmup": lambda: S.LinearWarmup(S.ExponentialDecay(0.1, 2, 0.5), 3,
                                           start_value=0.01),
}


@pytest.mark.parametrize("name", NEW)
def test_repr_is_the_constructor_call_and_copies_keep_the_values(name):
    s = MADE[name]()
    again = eval(repr(s), {**{k: getattr(S, k) for k in S.__all__}})
    assert repr(again) == repr(s) and repr(s).startswith(name + "(")
    for other in (again, copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        assert [other(k) for k in range(30)] == [s(k) for k in range(30)]


def test_one_cycle_repr_shows_no_internal_state():
    assert repr(S.OneCycle(0.1, 10)) == (
        "OneCycle(max_lr=0.1, total_steps=10, pct_start=0.3, anneal_strategy='cos', "
        "div_factor=25.0, final_div_factor=10000.0, three_phase=False)")


def test_numpy_scalars_are_taken():
    s = S.PiecewiseConstant(np.array([2, 5]), np.array([0.1, 0.05, 0.01]))
    assert s.boundaries == [2, 5] and type(s.boundaries[0]) is int
    assert type(s.values[0]) is float
    assert S.OneCycle(np.float32(0.5), np.int64(10))(9) == pytest.approx(0.5 / 25 / 1e4)


@pytest.mark.parametrize("name", NEW)
def test_the_optimizer_reads_the_schedule_at_its_iterations(name):
    s = MADE[name]()
    w = xg.Variable(np.zeros(2), name="w")
    opt = xg.optim.SGD(learning_rate=s)
    for k in range(12):
        assert opt.iterations == k and opt.learning_rate == s(k)
        before = w.numpy().copy()
        opt.apply_gradients([(xg.asarray([1.0, -2.0]), w)])
        np.testing.assert_allclose(w.numpy(), before - s(k) * np.array([1.0, -2.0]),
                                   rtol=1e-15)
    assert opt.get_config()["learning_rate"] is s
    assert repr(s) in repr(opt)


def test_linear_warmup_of_a_callable_and_of_a_bad_schedule():
    s = S.LinearWarmup(lambda step: 0.5 / (1 + step), warmup_steps=2)
    assert [s(k) for k in range(5)] == [0.0, 0.25, 0.5, 0.25, 0.5 / 3]
    w = xg.Variable([1.0], name="w")
    opt = xg.optim.SGD(S.LinearWarmup(lambda step: 0.1 if step < 1 else NAN, warmup_steps=2))
    for _ in range(3):                  # the warm-up towards 0.1, then the schedule's step 0
        opt.apply_gradients([(xg.asarray([1.0]), w)])
    before = w.tolist()
    with pytest.raises(ValueError, match="returned nan at step 3"):
        opt.apply_gradients([(xg.asarray([1.0]), w)])
    assert w.tolist() == before and opt.iterations == 3
