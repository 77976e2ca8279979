"""Adamax, NAdam and RAdam as a user meets them: float32 training equal to ``torch.optim``'s
(weight decay, a schedule), a checkpoint resumed equal to an uninterrupted run, their options
checked by name, Keras' get_config / from_config, ``xg.optim.get`` and ``xpgrad train
--optimizer``. (float64 trajectories: tests/test_optim_trajectories.py; the fused kernels:
tests/test_optim_adam_variants.py.)"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

BACKENDS = ["numpy", "numba"]
RNG = np.random.default_rng(11)
X = RNG.standard_normal((8, 5)).astype(np.float32)
Y = RNG.standard_normal((8, 3)).astype(np.float32)
W0 = (RNG.standard_normal((5, 3)) * 0.5).astype(np.float32)
STEPS = 15

# xpgrad class and keywords, torch class and keywords; RAdam's beta_2 0.9: rectified from step 6
CASES = {
    "adamax": ("Adamax", dict(learning_rate=0.05, weight_decay=0.1),
               dict(lr=0.05, weight_decay=0.1)),
    "nadam": ("NAdam", dict(learning_rate=0.05, weight_decay=0.1, momentum_decay=0.02),
              dict(lr=0.05, weight_decay=0.1, momentum_decay=0.02)),
    "nadamw": ("NAdam", dict(learning_rate=0.05, weight_decay=0.2, decoupled_weight_decay=True),
               dict(lr=0.05, weight_decay=0.2, decoupled_weight_decay=True)),
    "radam": ("RAdam", dict(learning_rate=0.05, beta_2=0.9, weight_decay=0.1),
              dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.1)),
    "radamw": ("RAdam", dict(learning_rate=0.05, beta_2=0.9, weight_decay=0.2,
                             decoupled_weight_decay=True),
               dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.2, decoupled_weight_decay=True)),
}


def _xpgrad_run(opt, backend, steps=STEPS, w=None):
    w = w if w is not None else xg.Variable(W0.copy(), name="w", backend=backend)
    x, y = xg.asarray(X, backend=backend), xg.asarray(Y, backend=backend)
    out = []
    for _ in range(steps):
        opt.minimize(lambda: xg.sum((x @ w - y) ** 2), [w])
        out.append(w.numpy().copy())
    return out


def _torch_run(name, kwargs, schedule=None):
    torch = pytest.importorskip("torch")
    w = torch.tensor(W0.copy(), requires_grad=True)
    opt = getattr(torch.optim, name)([w], **kwargs)
    sched = schedule(opt) if schedule else None
    out = []
    for _ in range(STEPS):
        opt.zero_grad()
        ((torch.tensor(X) @ w - torch.tensor(Y)) ** 2).sum().backward()
        opt.step()
        if sched:
            sched.step()
        out.append(w.detach().numpy().copy())
    return out


def _assert_same(got, want):
    for k, (g, e) in enumerate(zip(got, want)):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-6, err_msg=f"after step {k + 1}")
    assert np.abs(want[-1] - W0).max() > 0.1           # the run went somewhere


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_float32_training_matches_torch(case, backend):
    name, ours, theirs = CASES[case]
    _assert_same(_xpgrad_run(getattr(xg.optim, name)(**ours), backend), _torch_run(name, theirs))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ["adamax", "nadam", "radam"])
def test_float32_with_a_schedule_matches_torch_scheduler(case, backend):
    torch = pytest.importorskip("torch")
    name, ours, theirs = CASES[case]
    ours = dict(ours, learning_rate=xg.optim.ExponentialDecay(ours["learning_rate"], 4, 0.5))
    want = _torch_run(name, theirs, lambda o: torch.optim.lr_scheduler.ExponentialLR(
        o, 0.5 ** (1 / 4)))
    _assert_same(_xpgrad_run(getattr(xg.optim, name)(**ours), backend), want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_checkpoint_resume_equals_an_uninterrupted_run(case, backend, tmp_path):
    """Seven steps, save_checkpoint, load into a fresh Variable and optimizer, eight more: the
    same weights, bit for bit, as fifteen steps in one go (RAdam crosses its switch after the
    resume; NAdam's product of the momenta is rebuilt from the saved step count)."""
    name, ours, _ = CASES[case]
    whole = _xpgrad_run(getattr(xg.optim, name)(**ours), backend)
    first_opt = getattr(xg.optim, name)(**ours)
    w = xg.Variable(W0.copy(), name="w", backend=backend)
    _xpgrad_run(first_opt, backend, steps=7, w=w)
    xg.save_checkpoint(tmp_path / "ck.npz", {"w": w}, first_opt)
    w2 = xg.Variable(np.zeros_like(W0), name="w", backend=backend)
    second_opt = getattr(xg.optim, name)(**ours)
    xg.load_checkpoint(tmp_path / "ck.npz", {"w": w2}, second_opt)
    assert second_opt.iterations == 7
    rest = _xpgrad_run(second_opt, backend, steps=STEPS - 7, w=w2)
    for k, (got, want) in enumerate(zip(rest, whole[7:])):
        np.testing.assert_array_equal(got, want, err_msg=f"step {k + 8}")


@pytest.mark.parametrize("cls", [xg.optim.NAdam, xg.optim.RAdam])
@pytest.mark.parametrize("value", [1, "yes", None])
def test_decoupled_weight_decay_must_be_a_bool(cls, value):
    with pytest.raises(TypeError, match="decoupled_weight_decay"):
        cls(decoupled_weight_decay=value)
    opt = cls()
    with pytest.raises(TypeError, match="decoupled_weight_decay"):
        opt.decoupled_weight_decay = value


@pytest.mark.parametrize("torch_name, hint", [("lr", "learning_rate="), ("betas", "beta_1="),
                                              ("eps", "epsilon=")])
def test_pytorch_argument_names_point_at_keras_ones(torch_name, hint):
    for cls in (xg.optim.Adamax, xg.optim.NAdam, xg.optim.RAdam):
        with pytest.raises(TypeError, match=f"'{torch_name}'.*{hint}"):
            cls(**{torch_name: 0.1})


def test_defaults_are_pytorch_s_and_config_round_trips():
    torch = pytest.importorskip("torch")
    w = torch.zeros(1, requires_grad=True)
    for name, extra in (("Adamax", {}), ("NAdam", {"momentum_decay": "momentum_decay"}),
                        ("RAdam", {})):
        theirs = getattr(torch.optim, name)([w]).defaults
        cfg = getattr(xg.optim, name)().get_config()
        assert cfg["learning_rate"] == theirs["lr"]
        assert (cfg["beta_1"], cfg["beta_2"]) == theirs["betas"]
        assert cfg["epsilon"] == theirs["eps"] and cfg["weight_decay"] == theirs["weight_decay"]
        for ours, key in extra.items():
            assert cfg[ours] == theirs[key]
        again = getattr(xg.optim, name).from_config(cfg).get_config()
        assert again == cfg
        assert xg.optim.get(name.lower()).get_config() == cfg


def test_xpgrad_train_takes_them(capsys):
    from xpgrad.cli import main
    from xpgrad.training import TrainConfig, train

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    usage = capsys.readouterr().out
    for name, lr in (("adamax", "0.002"), ("nadam", "0.002"), ("radam", "0.001")):
        assert name in usage.split("--optimizer {")[1].split("}")[0].split(",")
        assert f"{name} {lr}" in " ".join(usage.split())
    for name in ("adamax", "nadam", "radam"):      # RAdam's first steps are its warmup
        result = train(TrainConfig(epochs=1, hidden=(16,), max_steps=40, progress=False,
                                   optimizer=name, learning_rate=0.03), echo=None)
        losses = result.history.step_loss
        assert len(losses) == 40 and np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.5, name
