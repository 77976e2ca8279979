"""``xg.optim.ReduceLROnPlateau`` step by step against ``torch.optim.lr_scheduler
.ReduceLROnPlateau`` on the same metric sequences (every mode, threshold mode, cooldown and
min_lr; NaN and infinite metrics included), its state surviving a save (JSON, a checkpoint's
metadata) mid-sequence, its argument checks, and a small training run it helps."""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

import xpgrad as xg
from docs_text import text_from

torch = pytest.importorskip("torch")

SEQUENCES = {
    "falls_then_flat": [1.0, 0.8, 0.7, 0.7, 0.7, 0.69995, 0.7, 0.71, 0.6, 0.6, 0.6, 0.6, 0.6,
                        0.6, 0.59, 0.6, 0.6, 0.6, 0.6, 0.6],
    "noisy": list(np.random.default_rng(0).normal(1.0, 0.05, 40).cumsum() / np.arange(1, 41)),
    "rises": [float(i) for i in range(25)],
    "negative": [-1.0, -1.00005, -1.2, -1.2, -1.1, -1.3, -1.3, -1.3, -1.3, -1.3, -1.3, -1.4],
    "nan_and_inf": [1.0, math.nan, 0.9, math.nan, math.nan, math.inf, 0.9, -math.inf, 0.5,
                    math.nan, 0.4, 0.3, math.inf, 0.2],
    "zeros": [0.0] * 12,
}
SETTINGS = [dict(mode=m, threshold_mode=t, cooldown=c, min_lr=lo, patience=p, eps=e)
            for m, t, c, lo, p, e in itertools.product(
                ("min", "max"), ("rel", "abs"), (0, 2), (0.0, 0.02), (0, 2), (1e-8,))]
SETTINGS += [dict(mode="min", threshold_mode="abs", cooldown=1, min_lr=0.0, patience=1,
                  eps=0.03, threshold=0.05),          # eps larger than a reduction: kept
             dict(mode="max", threshold_mode="rel", cooldown=0, min_lr=0.0, patience=1,
                  eps=1e-8, threshold=0.0)]


def _pair(lr=0.1, **settings):
    p = torch.nn.Parameter(torch.zeros(1))
    t_opt = torch.optim.SGD([p], lr=lr)
    ours = xg.optim.SGD(lr)
    return (xg.optim.ReduceLROnPlateau(ours, factor=0.5, **settings), ours,
            torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, factor=0.5, **settings), t_opt)


def _same(plateau, opt, t_sched, t_opt, where):
    assert opt.learning_rate == t_opt.param_groups[0]["lr"], where
    assert (plateau.best == t_sched.best or (math.isnan(plateau.best)
                                             and math.isnan(t_sched.best))), where
    assert plateau.num_bad_epochs == t_sched.num_bad_epochs, where
    assert plateau.cooldown_counter == t_sched.cooldown_counter, where
    assert plateau.last_epoch == t_sched.last_epoch, where
    assert plateau.in_cooldown == t_sched.in_cooldown, where


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
@pytest.mark.parametrize("name", list(SEQUENCES))
def test_each_step_matches_pytorch(name, settings):
    plateau, opt, t_sched, t_opt = _pair(**settings)
    rates = {opt.learning_rate}
    for i, metric in enumerate(SEQUENCES[name]):
        plateau.step(metric)
        t_sched.step(metric)
        _same(plateau, opt, t_sched, t_opt, f"{name}, step {i + 1}")
        rates.add(opt.learning_rate)
    if name == "rises" and settings["mode"] == "min":
        assert len(rates) > 1               # the comparison saw a reduction


def test_the_rate_is_lowered_after_patience_bad_epochs_and_stops_at_min_lr():
    opt = xg.optim.SGD(1.0)
    plateau = xg.optim.ReduceLROnPlateau(opt, factor=0.5, patience=2, min_lr=0.2)
    seen = []
    for metric in [1.0] + [2.0] * 9:
        plateau.step(metric)
        seen.append(opt.learning_rate)
    assert seen == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2]


@pytest.mark.parametrize("metric", [0.5, np.float32(0.5), np.float64(0.5), np.array(0.5), 1,
                                    xg.asarray(0.5), xg.asarray(np.float32(0.5)),
                                    xg.asarray(np.int64(1))],
                         ids=lambda m: f"{type(m).__name__}")
def test_metric_types(metric):
    plateau = xg.optim.ReduceLROnPlateau(xg.optim.SGD(0.1))
    plateau.step(metric)
    assert plateau.best == float(metric) and type(plateau.best) is float


@pytest.mark.parametrize("metric", ["0.5", None, [0.5], np.array([0.5, 0.4]), 1 + 2j,
                                    xg.asarray([0.5, 0.4]), True])
def test_a_metric_that_is_not_a_real_number_is_refused(metric):
    plateau = xg.optim.ReduceLROnPlateau(xg.optim.SGD(0.1))
    with pytest.raises(TypeError, match="metric"):
        plateau.step(metric)
    assert plateau.last_epoch == 0


def test_nan_metrics_are_bad_epochs_as_in_pytorch():
    plateau, opt, t_sched, t_opt = _pair(patience=1)
    for metric in (1.0, math.nan, math.nan):
        plateau.step(metric)
        t_sched.step(metric)
    assert plateau.best == t_sched.best == 1.0
    assert opt.learning_rate == t_opt.param_groups[0]["lr"] == 0.05


# -- arguments ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key, value", [
    ("factor", 1.0), ("factor", 1.5), ("factor", -0.1), ("factor", math.nan),
    ("patience", -1), ("patience", 1.5), ("cooldown", -1), ("threshold", -1e-4),
    ("min_lr", -0.1), ("eps", -1.0), ("mode", "minimum"), ("mode", "MIN"),
    ("threshold_mode", "relative")])
def test_bad_arguments_raise_value_error_naming_them(key, value):
    with pytest.raises(ValueError, match=key):
        xg.optim.ReduceLROnPlateau(xg.optim.SGD(0.1), **{key: value})
    plateau = xg.optim.ReduceLROnPlateau(xg.optim.SGD(0.1))
    with pytest.raises(ValueError, match=key):
        setattr(plateau, key, value)                 # set later: checked the same way


def test_pytorch_refuses_the_same_factor_and_mode_with_value_error():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for kwargs in ({"factor": 1.0}, {"mode": "minimum"}, {"threshold_mode": "relative"}):
        with pytest.raises(ValueError):
            torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)


def test_a_schedule_learning_rate_is_refused():
    opt = xg.optim.SGD(xg.optim.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(ValueError, match="schedule"):
        xg.optim.ReduceLROnPlateau(opt)
    opt = xg.optim.SGD(0.1)
    plateau = xg.optim.ReduceLROnPlateau(opt, patience=0)
    opt.learning_rate = lambda step: 0.1                # switched to a schedule since
    plateau.step(1.0)
    with pytest.raises(ValueError, match="schedule"):
        plateau.step(2.0)


def test_not_an_optimizer_is_a_type_error():
    with pytest.raises(TypeError, match="Optimizer"):
        xg.optim.ReduceLROnPlateau(0.1)
    with pytest.raises(TypeError, match="Optimizer"):
        xg.optim.ReduceLROnPlateau(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))],
                                                   lr=0.1))


def test_a_distributed_optimizer_has_its_wrapped_optimizers_rate_lowered():
    inner = xg.optim.Adam(0.01)
    plateau = xg.optim.ReduceLROnPlateau(xg.distributed.DistributedOptimizer(inner),
                                         patience=0)
    for metric in (1.0, 1.0):
        plateau.step(metric)
    assert inner.learning_rate == pytest.approx(0.001)


# -- state -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("cut", [0, 3, 7, 11])
def test_resuming_from_json_state_mid_sequence_equals_an_uninterrupted_run(mode, cut):
    metrics = SEQUENCES["nan_and_inf"] + SEQUENCES["falls_then_flat"]
    settings = dict(mode=mode, factor=0.5, patience=1, cooldown=2, threshold=0.01)
    w = [xg.Variable([1.0], name="w")]
    whole_opt = xg.optim.SGD(0.1)
    whole = xg.optim.ReduceLROnPlateau(whole_opt, **settings)
    opt = xg.optim.SGD(0.1)
    first = xg.optim.ReduceLROnPlateau(opt, **settings)
    for metric in metrics[:cut]:
        first.step(metric)
        whole.step(metric)
    text = json.dumps({"plateau": first.state_dict(), "opt": opt.state_dict(w)["learning_rate"]
                       .item()}, allow_nan=False)          # what a checkpoint's metadata takes
    saved = json.loads(text)
    opt2 = xg.optim.SGD(saved["opt"])
    resumed = xg.optim.ReduceLROnPlateau(opt2, mode=mode)    # its settings come from the state
    resumed.load_state_dict(saved["plateau"])
    for metric in metrics[cut:]:
        resumed.step(metric)
        whole.step(metric)
        assert opt2.learning_rate == whole_opt.learning_rate
        assert resumed.state_dict() == whole.state_dict()


def test_the_state_travels_in_a_checkpoint(tmp_path):
    path = tmp_path / "c.npz"
    w = xg.Variable([1.0, 2.0], name="w")
    opt = xg.optim.Adam(0.01)
    plateau = xg.optim.ReduceLROnPlateau(opt, patience=1, cooldown=3)
    for metric in (3.0, 3.0, 3.0, 2.0):
        plateau.step(metric)
    xg.save_checkpoint(path, [w], opt, metadata={"plateau": plateau.state_dict()})
    opt2 = xg.optim.Adam(0.01)
    xg.load_checkpoint(path, [w], opt2)
    again = xg.optim.ReduceLROnPlateau(opt2)
    again.load_state_dict(xg.checkpoint_metadata(path)["plateau"])
    assert opt2.learning_rate == opt.learning_rate == pytest.approx(0.001)
    assert again.state_dict() == plateau.state_dict()
    assert (again.patience, again.cooldown, again.cooldown_counter) == (1, 3, 2)


def test_a_fresh_state_encodes_infinity_for_json():
    for mode, best in (("min", "inf"), ("max", "-inf")):
        state = xg.optim.ReduceLROnPlateau(xg.optim.SGD(0.1), mode=mode).state_dict()
        assert state["best"] == best
        json.dumps(state, allow_nan=False)
        again = xg.optim.ReduceLROnPlateau(xg.optim.SGD(0.1))
        again.load_state_dict(state)
        assert again.best == float(best) and again.mode == mode


@pytest.mark.parametrize("change, error", [
    (lambda s: s.pop("best"), "missing"), (lambda s: s.update(extra=1), "extra"),
    (lambda s: s.update(best="nan"), "best"), (lambda s: s.update(num_bad_epochs=-1),
                                                "num_bad_epochs"),
    (lambda s: s.update(factor=2.0), "factor"), (lambda s: s.update(mode="up"), "mode")])
def test_a_bad_state_is_refused_and_changes_nothing(change, error):
    plateau = xg.optim.ReduceLROnPlateau(xg.optim.SGD(0.1), patience=1)
    for metric in (1.0, 2.0):
        plateau.step(metric)
    before = plateau.state_dict()
    state = dict(before, best=0.5, num_bad_epochs=0, patience=5)
    change(state)
    with pytest.raises((ValueError, TypeError), match=error):
        plateau.load_state_dict(state)
    assert plateau.state_dict() == before


# -- training ----------------------------------------------------------------------------------
def _fit(use_plateau):
    """Noisy least squares by minibatch SGD at a rate whose noise floor is high; the
    validation loss stalls, and lowering the rate takes it below that floor."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8))
    y = x @ rng.normal(size=8) + 0.1 * rng.normal(size=256)
    xv = rng.normal(size=(256, 8))
    yv = xv @ np.linalg.lstsq(x, y, rcond=None)[0]
    w = xg.Variable(np.zeros(8), name="w")
    opt = xg.optim.SGD(0.2)
    plateau = xg.optim.ReduceLROnPlateau(opt, factor=0.3, patience=1) if use_plateau else None
    order = np.random.default_rng(1)
    for _ in range(30):
        for idx in order.permutation(256).reshape(-1, 8):
            xb, yb = xg.asarray(x[idx]), xg.asarray(y[idx])
            opt.minimize(lambda: xg.mean((xb @ w - yb) ** 2), [w])
        val = xg.mean((xg.asarray(xv) @ w - xg.asarray(yv)) ** 2)
        if plateau is not None:
            plateau.step(val)
    return val.item(), opt.learning_rate


def test_a_training_run_where_it_lowers_the_rate_and_the_loss():
    loss, rate = _fit(True)
    flat_loss, flat_rate = _fit(False)
    assert flat_rate == 0.2 and rate < 0.2 * 0.3
    assert loss < flat_loss / 10


def test_the_readme_example_runs_and_lowers_the_rate():
    """docs/training.md's optimizer paragraph names both and shows them in a loop: it runs, the
    validation loss (of the averaged weights, on held-out points the model overfits) stalls
    and the rate is lowered, and after the loop the model holds its trained weights."""
    import re

    text = text_from("`ReduceLROnPlateau(opt")
    section = text[:text.index("\n```\n", text.index("```python")) + 5]
    assert "ExponentialMovingAverage(" in section and "swapped()" in section
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    scope = {}
    exec(code, scope)                                   # noqa: S102 (the docs' own example)
    opt, plateau, ema, model = (scope[k] for k in ("opt", "plateau", "ema", "model"))
    assert plateau.last_epoch == 30 and opt.learning_rate < 0.1
    assert plateau.best <= scope["val_loss"].item()
    w = model.layers[0].w
    assert not np.allclose(ema.average(w).numpy(), w.numpy())
    with ema.swapped():
        np.testing.assert_array_equal(w.numpy(), ema.average(w).numpy())
