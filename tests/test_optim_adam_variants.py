"""Adamax, NAdam, RAdam and Lion: their fused Numba kernels equal to the generic rules (both dtypes,
sizes from 1 to past the threading threshold, every option, RAdam on both sides of its
rectification switch), declining what they do not take; float32 trajectories equal to
``torch.optim``'s (with weight decay and a schedule); a checkpoint resumed equal to an
uninterrupted run; bad hyperparameters refused by name; ``xpgrad train --optimizer``.

float64 trajectories against PyTorch (eager, under ``xg.function``, with schedules, resumed
from ``state_dict``) are rows of tests/test_optim_trajectories.py; the edge cases (embedding
rows, skipped variables, non-finite gradients, float32 learning-rate extremes) rows of
tests/test_optim_edge_cases.py; the CUDA rules are tested on the emulator
(tests/cuda_emu/reference.py's cases) and in tests/test_kernel_protocol.py."""
import numpy as np
import pytest

pytest.importorskip("numba", reason="the numba backend needs Numba (pip install 'xpgrad[numba]')")

import xpgrad as xg  # noqa: E402
from cuda_emu.reference import assert_close  # noqa: E402
from xpgrad.backends.numba import _config  # noqa: E402
from xpgrad.ops.optim import nadam_momenta, radam_rectification  # noqa: E402
from xpgrad.primitive import PRIMITIVES  # noqa: E402

NB = xg.get_backend("numba")
BETAS = dict(lr=1e-2, beta1=0.9, beta2=0.9, eps=1e-8)     # RAdam rectified from step 6
ADAM_FAMILY = dict(BETAS, weight_decay=0.0, decoupled=False)
CASES = {   # update primitive, keywords (all but ``step``, and NAdam's ``mu_product``)
    "adamax": ("adamax_update", dict(BETAS, weight_decay=0.0)),
    "adamax l2": ("adamax_update", dict(BETAS, weight_decay=0.1)),
    "nadam": ("nadam_update", dict(ADAM_FAMILY, momentum_decay=4e-3)),
    "nadam l2": ("nadam_update", dict(ADAM_FAMILY, momentum_decay=0.05, weight_decay=0.1)),
    "nadam decoupled": ("nadam_update", dict(ADAM_FAMILY, momentum_decay=4e-3, weight_decay=0.1,
                                             decoupled=True)),
    "radam": ("radam_update", ADAM_FAMILY),
    "radam l2": ("radam_update", dict(ADAM_FAMILY, weight_decay=0.1)),
    "radam decoupled": ("radam_update", dict(ADAM_FAMILY, weight_decay=0.1, decoupled=True)),
    "lion": ("lion_update", dict(lr=1e-2, beta1=0.9, beta2=0.99, weight_decay=0.0)),
    "lion decoupled": ("lion_update", dict(lr=1e-2, beta1=0.9, beta2=0.99, weight_decay=0.1)),
}
STATES = {"lion_update": 1}      # the number of state arrays (the others: 2)
STEPS = 8
SIZES = [1, 7, 257, 1003]
BIG = _config.PAR_MIN + 3        # threaded without any patching


def _keywords(update, kw, step):
    """``kw`` for ``step``: the step count, and NAdam's product of the momenta so far."""
    if update == "lion_update":
        return kw
    kw = dict(kw, step=step)
    if update == "nadam_update":
        kw["mu_product"] = float(np.prod([nadam_momenta(kw["beta1"], kw["momentum_decay"], t)[0]
                                          for t in range(1, step + 1)]))
    return kw


def _run(update, kw, arrays, dt, fused):
    """``STEPS`` updates of ``arrays`` (param, then two states) in place, by the Numba kernel
    (asserting it ran) or the generic rule; gradients grow and shrink (Adamax's maximum keeps
    an old one at some steps, takes the new one at others)."""
    for step in range(1, STEPS + 1):
        scale = 3.0 if step == 2 else 0.2
        grad = (np.random.default_rng(step).normal(size=arrays[0].size) * scale).astype(dt)
        params = _keywords(update, kw, step)
        if fused:
            assert NB.kernels[update].forward(*arrays[:1], grad, *arrays[1:], **params) \
                is not None
        else:
            PRIMITIVES[update].forward(np, arrays[0], grad, *arrays[1:], **params)


def _start(update, n, dt, rng):
    """A weight and states as training leaves them: ``|m|`` below Adamax's ``u`` (a running
    maximum of ``|g|``), ``m**2`` below ``v`` (far from that, ``m / u`` amplifies a rounding
    of ``g + weight_decay * w`` beyond any tolerance)."""
    m = rng.normal(size=n) * 0.1
    second = np.abs(m) if update == "adamax_update" else m * m
    start = [a.astype(dt) for a in (rng.normal(size=n), m,
                                    second + np.abs(rng.normal(size=n)) * 0.1)]
    return start[:1 + STATES.get(update, 2)]


def _compare(case, n, dt, rng):
    update, kw = CASES[case]
    start = _start(update, n, dt, rng)
    fused, generic = ([a.copy() for a in start] for _ in range(2))
    _run(update, kw, fused, dt, fused=True)
    _run(update, kw, generic, dt, fused=False)
    for i, (a, b) in enumerate(zip(fused, generic)):
        assert_close(a, b, dt, f"{case}: array {i}")
    assert np.abs(generic[0] - start[0]).max() > 1e-3      # the weights moved


def test_the_cases_cross_radam_s_rectification_switch():
    switches = [radam_rectification(BETAS["beta2"], t) is not None for t in range(1, STEPS + 1)]
    assert not switches[0] and switches[-1]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_equals_generic_rule(case, n, dt, rng):
    _compare(case, n, dt, rng)


@pytest.mark.parametrize("case", sorted(CASES))
def test_threaded_kernel_equals_generic_rule(case, rng, monkeypatch):
    monkeypatch.setattr(_config, "PAR_MIN", 0)
    monkeypatch.setattr(_config, "BLOCK", 100)
    for dt in (np.float32, np.float64):
        _compare(case, 1003, dt, rng)            # 10 blocks, the last one short


@pytest.mark.parametrize("case", ["adamax l2", "nadam decoupled", "radam l2", "lion decoupled"])
def test_kernel_past_the_threading_threshold_equals_generic_rule(case, rng):
    _compare(case, BIG, np.float32, rng)


def test_adamax_nan_propagates_into_the_infinity_norm_as_numpy_maximum():
    g = np.array([np.nan, 1.0, -2.0], np.float32)
    runs = []
    for fused in (True, False):
        p, m = np.zeros(3, np.float32), np.zeros(3, np.float32)
        u = np.array([0.0, np.nan, 5.0], np.float32)      # NaN already there: it stays
        kw = dict(CASES["adamax"][1], step=1)
        with np.errstate(invalid="ignore"):
            if fused:
                assert NB.kernels["adamax_update"].forward(p, g, m, u, **kw) is not None
            else:
                PRIMITIVES["adamax_update"].forward(np, p, g, m, u, **kw)
        runs.append((p, u))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    assert np.isnan(runs[0][1][:2]).all() and runs[0][1][2] == np.float32(5.0) * np.float32(0.9)


@pytest.mark.parametrize("case", ["adamax", "nadam", "radam", "lion"])
def test_kernels_decline_what_they_do_not_take(case):
    update, kw = CASES[case]
    kernel, kw = NB.kernels[update], _keywords(update, kw, 1)

    def arrays(dt=np.float32, shape=(4, 6)):
        return [np.zeros(shape, dt) for _ in range(2 + STATES.get(update, 2))]

    assert kernel.forward(*arrays(np.int64), **kw) is None                 # dtype
    assert kernel.forward(*arrays(np.float16), **kw) is None
    p, g, *states = arrays()
    assert kernel.forward(p[:, ::2], g[:, ::2], *(s[:, ::2] for s in states), **kw) is None
    assert kernel.forward(p, g, *states[:-1], states[-1].astype(np.float64), **kw) is None
    assert kernel.forward(p, g, *states[:-1], np.zeros((6, 4), np.float32), **kw) is None
    p.flags.writeable = False
    assert kernel.forward(p, g, *states, **kw) is None
