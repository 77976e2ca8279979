"""Adamax, NAdam, RAdam and Lion as a user meets them: float32 training equal to
``torch.optim``'s (weight decay, a schedule), Lion (not in PyTorch; Keras and optax are not
installed here) equal to the paper's update written out in NumPy, a checkpoint resumed equal to
an uninterrupted run, Lion under ``xg.function`` equal to eager, their options checked by name,
Keras' get_config / from_config, ``xg.optim.get`` and ``xpgrad train --optimizer``. (float64
trajectories against PyTorch: tests/test_optim_trajectories.py; the fused kernels:
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


LION = ("Lion", dict(learning_rate=0.02, beta_1=0.8, weight_decay=0.5))
#: every optimizer here, for the tests that need no reference library
ALL = {**{case: (name, ours) for case, (name, ours, _) in CASES.items()}, "lion": LION}


def _xpgrad_run(opt, backend, steps=STEPS, w=None, dtype=np.float32, compiled=False):
    w = w if w is not None else xg.Variable(W0.astype(dtype), name="w", backend=backend)
    x, y = (xg.asarray(a.astype(dtype), backend=backend) for a in (X, Y))

    def step(x, y):
        opt.minimize(lambda: xg.sum((x @ w - y) ** 2), [w])

    step = xg.function(step) if compiled else step
    out = []
    for _ in range(steps):
        step(x, y)
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


def _lion_reference(learning_rate, beta_1=0.9, beta_2=0.99, weight_decay=0.0):
    """Lion as the paper writes it (Chen et al. 2023, Program 1), in float64:
    ``c = b1 m + (1 - b1) g;  w -= lr (sign(c) + wd w);  m = b2 m + (1 - b2) g``;
    ``learning_rate`` a number or a function of the step."""
    lr = learning_rate if callable(learning_rate) else (lambda t: learning_rate)
    w, m = W0.astype(np.float64), np.zeros(W0.shape)
    out = []
    for t in range(STEPS):
        g = 2 * X.T.astype(np.float64) @ (X.astype(np.float64) @ w - Y)
        c = beta_1 * m + (1 - beta_1) * g
        w = w - lr(t) * (np.sign(c) + weight_decay * w)
        m = beta_2 * m + (1 - beta_2) * g
        out.append(w)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("schedule", [False, True])
def test_lion_matches_the_paper_s_update(schedule, dtype, backend):
    kw = dict(LION[1])
    if schedule:
        want = _lion_reference(**dict(kw, learning_rate=lambda t: 0.02 * 0.5 ** (t / 4)))
        kw["learning_rate"] = xg.optim.ExponentialDecay(0.02, 4, 0.5)
    else:
        want = _lion_reference(**kw)
    got = _xpgrad_run(xg.optim.Lion(**kw), backend, dtype=dtype)
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    for k, (g, e) in enumerate(zip(got, want)):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol, err_msg=f"after step {k + 1}")
    assert np.abs(want[-1] - W0).max() > 0.1


@pytest.mark.parametrize("backend", BACKENDS)
def test_lion_under_xg_function_equals_eager(backend):
    eager = _xpgrad_run(xg.optim.Lion(**LION[1]), backend, dtype=np.float64)
    compiled = _xpgrad_run(xg.optim.Lion(**LION[1]), backend, dtype=np.float64, compiled=True)
    for g, e in zip(compiled, eager):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(ALL))
def test_checkpoint_resume_equals_an_uninterrupted_run(case, backend, tmp_path):
    """Seven steps, save_checkpoint, load into a fresh Variable and optimizer, eight more: the
    same weights, bit for bit, as fifteen steps in one go (RAdam crosses its switch after the
    resume; NAdam's product of the momenta is rebuilt from the saved step count)."""
    name, ours = ALL[case]
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


@pytest.mark.parametrize("kwargs, name", [(dict(learning_rate=-1e-4), "learning_rate"),
                                          (dict(beta_1=1.0), "beta_1"),
                                          (dict(beta_2=-0.5), "beta_2"),
                                          (dict(weight_decay=-0.1), "weight_decay")])
def test_lion_refuses_bad_hyperparameters_by_name(kwargs, name):
    with pytest.raises(ValueError, match=f"^Lion: {name} must be a finite number"):
        xg.optim.Lion(**kwargs)
    with pytest.raises(TypeError, match="'epsilon'"):       # Lion has none
        xg.optim.Lion(epsilon=1e-8)


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
    for name, lr in (("adamax", "0.002"), ("nadam", "0.002"), ("radam", "0.001"),
                     ("lion", "0.0001")):
        assert name in usage.split("--optimizer {")[1].split("}")[0].split(",")
        assert f"{name} {lr}" in " ".join(usage.split())
    # RAdam's first steps are its warmup; Lion moves every weight by lr, PyTorch's lr / 10
    for name, lr in (("adamax", 0.03), ("nadam", 0.03), ("radam", 0.03), ("lion", 0.003)):
        result = train(TrainConfig(epochs=1, hidden=(16,), max_steps=40, progress=False,
                                   optimizer=name, learning_rate=lr), echo=None)
        losses = result.history.step_loss
        assert len(losses) == 40 and np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.5, name
