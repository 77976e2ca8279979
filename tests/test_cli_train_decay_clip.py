"""`xpgrad train --weight-decay/--clip-norm`: the first update of a run against the optimizer's
formula (the gradient taken from a plain SGD run of the same seed and batch), clipping on the
averaged gradients of a data-parallel run, and every new flag's bad values refused before
training (exit 2, one line naming the flag)."""
import numpy as np
import pytest

from xpgrad.cli import main
from xpgrad.training import ConfigError, TrainConfig, prepare

from test_cli_bad_inputs import _cli_error

ONE_STEP = ["train", "-q", "--no-log", "--hidden", "8", "--batch-size", "64", "--epochs", "1",
            "--max-steps", "1"]


def _initial():
    """The run's weights before its first step (the same seed, so the same for every run)."""
    plan = prepare(TrainConfig(hidden=(8,), logdir=None, progress=False))
    return {f"model/{k}": v.numpy().astype(np.float64)
            for k, v in plan.model.named_variables().items()}


def _after_one_step(tmp_path, name, *flags):
    path = str(tmp_path / f"{name}.npz")
    assert main([*ONE_STEP, "--checkpoint", path, *flags]) == 0
    with np.load(path) as saved:
        return {k: saved[k].astype(np.float64) for k in saved.files if k.startswith("model/")}


def _gradient(tmp_path):
    """The first step's gradient: a plain SGD step of rate 1 is ``w0 - g``."""
    w0, w1 = _initial(), _after_one_step(tmp_path, "sgd1", "--optimizer", "sgd",
                                         "--learning-rate", "1")
    return {k: w0[k] - w1[k] for k in w0}


def test_sgd_adds_weight_decay_to_the_gradient(tmp_path):
    w0 = _initial()
    plain = _after_one_step(tmp_path, "plain", "--optimizer", "sgd", "--learning-rate", "0.1")
    decayed = _after_one_step(tmp_path, "decayed", "--optimizer", "sgd", "--learning-rate", "0.1",
                              "--weight-decay", "0.3")
    for k in w0:       # w - lr * (g + W * w) = (w - lr * g) - lr * W * w
        np.testing.assert_allclose(decayed[k], plain[k] - 0.1 * 0.3 * w0[k], rtol=1e-5,
                                   atol=1e-7, err_msg=k)


def test_adamw_decouples_weight_decay_and_adam_couples_it(tmp_path):
    w0, g = _initial(), _gradient(tmp_path)
    lr, wd, eps = 0.01, 0.5, 1e-8
    adamw = _after_one_step(tmp_path, "adamw", "--optimizer", "adamw", "--learning-rate",
                            str(lr), "--weight-decay", str(wd))
    adam = _after_one_step(tmp_path, "adam", "--optimizer", "adam", "--learning-rate", str(lr),
                           "--weight-decay", str(wd))
    for k in w0:
        # Adam's first step is lr * g / (|g| + eps) for the gradient it is given
        decoupled = w0[k] * (1 - lr * wd) - lr * g[k] / (np.abs(g[k]) + eps)
        coupled_g = g[k] + wd * w0[k]
        coupled = w0[k] - lr * coupled_g / (np.abs(coupled_g) + eps)
        # where |g| is near float32's rounding of w0 - g, its sign is unsure: leave those out
        sure = (np.abs(g[k]) > 1e-5) & (np.abs(coupled_g) > 1e-5)
        assert sure.mean() > 0.5, k
        np.testing.assert_allclose(adamw[k][sure], decoupled[sure], rtol=1e-5, atol=1e-6,
                                   err_msg=k)
        np.testing.assert_allclose(adam[k][sure], coupled[sure], rtol=1e-5, atol=1e-6,
                                   err_msg=k)


def test_adamw_keeps_its_default_weight_decay_and_zero_turns_it_off(tmp_path):
    w0 = _initial()
    default = _after_one_step(tmp_path, "default", "--optimizer", "adamw", "--lr", "0.1")
    off = _after_one_step(tmp_path, "off", "--optimizer", "adamw", "--lr", "0.1", "--weight-decay",
                          "0")
    for k in w0:        # PyTorch's AdamW default, 0.01
        np.testing.assert_allclose(default[k] - off[k], -0.1 * 0.01 * w0[k], rtol=1e-3,
                                   atol=3e-8, err_msg=k)    # float32 weights' rounding


def test_clip_norm_scales_the_gradient_to_the_global_norm(tmp_path):
    w0, g = _initial(), _gradient(tmp_path)
    norm = np.sqrt(sum((v ** 2).sum() for v in g.values()))
    assert norm > 0.05
    clipped = _after_one_step(tmp_path, "clipped", "--optimizer", "sgd", "--learning-rate", "1",
                              "--clip-norm", "0.05")
    step = {k: w0[k] - clipped[k] for k in w0}
    assert np.sqrt(sum((v ** 2).sum() for v in step.values())) == pytest.approx(0.05, rel=1e-4)
    for k in w0:                        # the same direction, scaled by 0.05 / norm
        np.testing.assert_allclose(step[k], g[k] * (0.05 / norm), rtol=1e-3, atol=1e-7,
                                   err_msg=k)
    # a bound above the norm changes nothing
    loose = _after_one_step(tmp_path, "loose", "--optimizer", "sgd", "--learning-rate", "1",
                            "--clip-norm", str(2 * norm))
    for k in w0:
        np.testing.assert_allclose(w0[k] - loose[k], g[k], rtol=1e-6, atol=1e-7, err_msg=k)


@pytest.mark.parametrize("argv, words", [
    (["--lr-schedule", "poly"], "argument --lr-schedule: invalid choice: 'poly'"),
    (["--warmup-steps", "-1"], "argument --warmup-steps: must be an integer >= 0, got -1"),
    (["--warmup-steps", "2.5"], "argument --warmup-steps: expected an integer, got '2.5'"),
    (["--warmup-steps", "45", "--batch-size", "32"],
     "warmup_steps (--warmup-steps) 45 is not shorter than the run's 45 steps"),
    (["--lr-schedule", "onecycle", "--warmup-steps", "3"],
     "--warmup-steps) 3 does not apply to --lr-schedule onecycle"),
    (["--lr-schedule", "step", "--lr-gamma", "0"], "argument --lr-gamma/--lr-decay-rate: must "
                                                   "be a finite number > 0, got 0"),
    (["--lr-schedule", "step", "--lr-decay-rate", "nan"], "argument --lr-gamma/--lr-decay-rate"),
    (["--lr-schedule", "step", "--lr-step-size", "0"], "argument --lr-step-size: must be an "
                                                       "integer > 0, got 0"),
    (["--lr-schedule", "cosine", "--lr-gamma", "0.5"],
     "--lr-gamma applies to --lr-schedule step, exponential or plateau, but the schedule "
     "is 'cosine'"),
    (["--lr-gamma", "0.5"], "but the schedule is 'constant'"),
    (["--lr-schedule", "exponential", "--lr-step-size", "2"],
     "--lr-step-size applies to --lr-schedule step, but the schedule is 'exponential'"),
    (["--weight-decay", "-0.1"], "argument --weight-decay: must be a finite number >= 0"),
    (["--weight-decay", "inf"], "argument --weight-decay: must be a finite number >= 0"),
    (["--clip-norm", "0"], "argument --clip-norm: must be a finite number > 0, got 0"),
    (["--clip-norm", "x"], "argument --clip-norm: expected a number, got 'x'"),
])
def test_bad_values_exit_2_naming_the_flag_before_training(argv, words, capsys):
    err = _cli_error(["train", "--no-log", "--epochs", "1", *argv], capsys)
    assert words in err
    assert "held-out" not in capsys.readouterr().out


def test_a_resumed_run_refuses_a_parameter_its_saved_schedule_does_not_use(tmp_path, capsys):
    path = str(tmp_path / "c.npz")
    assert main([*ONE_STEP, "--checkpoint", path, "--lr-schedule", "cosine"]) == 0
    err = _cli_error(["train", "--no-log", "--resume", path, "--epochs", "1", "--lr-step-size",
                      "1"], capsys)
    assert "--lr-step-size applies to --lr-schedule step, but the schedule is 'cosine'" in err


def test_an_optimizer_without_weight_decay_refuses_the_flag(monkeypatch, capsys):
    import xpgrad as xg
    from xpgrad import models

    class Plain(xg.optim.Optimizer):          # a user's optimizer: no weight_decay argument
        def __init__(self, learning_rate):
            super().__init__(learning_rate)

        def _update(self, be, param, grad, state, lr):
            param -= lr * grad

    monkeypatch.setitem(models.OPTIMIZERS, "plain",
                        models.OptimizerSpec("plain", Plain, 0.1, "a user's"))
    err = _cli_error(["train", "--no-log", "--epochs", "1", "--optimizer", "plain",
                      "--weight-decay", "0.01"], capsys)
    assert err == ("xpgrad: error: weight_decay (--weight-decay) 0.01: the optimizer 'plain' "
                   "(Plain) takes no weight_decay argument; drop the flag or choose another "
                   "--optimizer")
    # without the flag it trains, and records no weight decay
    assert main(["train", "-q", "--no-log", "--epochs", "1", "--max-steps", "1", "--optimizer",
                 "plain", "--hidden", "8"]) == 0


@pytest.mark.parametrize("field, value, words", [
    ("lr_schedule", "poly", "unknown lr_schedule (--lr-schedule) 'poly'; choose one of"),
    ("weight_decay", "0.1", "weight_decay (--weight-decay) must be a number, got '0.1'"),
    ("clip_norm", -1.0, "clip_norm (--clip-norm) must be a finite number > 0, got -1.0"),
    ("lr_gamma", float("inf"), "lr_gamma (--lr-gamma) must be a finite number > 0, got inf"),
    ("warmup_steps", 1.5, "warmup_steps (--warmup-steps) must be an integer >= 0, got 1.5"),
    ("lr_step_size", 0, "lr_step_size (--lr-step-size) must be an integer >= 1, got 0"),
])
def test_the_api_checks_the_same_settings(field, value, words):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**{field: value}).resolved()
    assert words in str(e.value)


@pytest.mark.parametrize("compiled", [(), ("--compile",)], ids=["eager", "compile"])
def test_clip_norm_acts_on_the_averaged_gradients_of_a_data_parallel_run(tmp_path, capsys,
                                                                         monkeypatch, compiled):
    from test_distributed import (WHY_NOT, _assert_same_checkpoints, _run_distributed,
                                  _train_args)

    if WHY_NOT:
        pytest.skip(WHY_NOT)
    monkeypatch.chdir(tmp_path)
    # a bound far below the gradients' norm: every step is clipped, and clipping each rank's
    # half of the batch before the average would give other steps than one process
    flags = ("--clip-norm", "0.02", "--optimizer", "sgd", "--max-steps", "12",
             "--lr-schedule", "cosine", "--warmup-steps", "3", "--weight-decay", "0.01",
             *compiled)
    assert main(_train_args("one", 100, *flags)) == 0
    _run_distributed(tmp_path, 2, _train_args("many", 100, *flags))
    _assert_same_checkpoints(tmp_path / "one.npz", tmp_path / "many.npz", 12)


def test_weight_decay_and_clip_norm_may_change_on_resume(tmp_path):
    import shutil

    first = str(tmp_path / "first.npz")
    assert main([*ONE_STEP, "--checkpoint", first, "--optimizer", "sgd", "--lr", "0.1"]) == 0
    with np.load(first) as saved:
        w = {k: saved[k].astype(np.float64) for k in saved.files if k.startswith("model/")}
    after = {}
    for name, flags in (("as_saved", []), ("decayed", ["--weight-decay", "0.3"]),
                        ("clipped", ["--clip-norm", "0.001"])):
        path = str(tmp_path / f"{name}.npz")
        shutil.copy(first, path)
        assert main(["train", "-q", "--no-log", "--resume", path, "--max-steps", "1",
                     *flags]) == 0
        with np.load(path) as saved:
            after[name] = {k: saved[k].astype(np.float64) for k in w}
    for k in w:
        np.testing.assert_allclose(after["decayed"][k], after["as_saved"][k] - 0.1 * 0.3 * w[k],
                                   rtol=1e-5, atol=1e-7, err_msg=k)
    step = np.sqrt(sum(((w[k] - after["clipped"][k]) ** 2).sum() for k in w))
    assert step == pytest.approx(0.1 * 0.001, rel=1e-3)


@pytest.mark.parametrize("off", ["none", "off", "None"])
def test_clip_norm_none_switches_clipping_off_on_resume(tmp_path, off):
    import shutil

    from xpgrad.checkpoint import checkpoint_metadata

    first = str(tmp_path / "first.npz")
    assert main([*ONE_STEP, "--checkpoint", first, "--optimizer", "sgd", "--lr", "0.1",
                 "--clip-norm", "0.001"]) == 0
    after = {}
    # a clip norm no gradient reaches is the unclipped continuation
    for name, flags in (("off", ["--clip-norm", off]), ("unclipped", ["--clip-norm", "1e30"]),
                        ("kept", [])):
        path = str(tmp_path / f"{name}.npz")
        shutil.copy(first, path)
        assert main(["train", "-q", "--no-log", "--resume", path, "--max-steps", "1",
                     *flags]) == 0
        with np.load(path) as saved:
            after[name] = {k: saved[k] for k in saved.files if k.startswith("model/")}
    assert checkpoint_metadata(str(tmp_path / "off.npz"))["config"]["clip_norm"] is None
    for k in after["off"]:
        np.testing.assert_array_equal(after["off"][k], after["unclipped"][k], err_msg=k)
    assert any(not np.array_equal(after["off"][k], after["kept"][k]) for k in after["off"])
