"""The training scripts PyTorch and Keras users write, run with xpgrad: a run with dropout
resumed from a checkpoint bit for bit, early-stopping snapshots and roll-backs, weight-decay
groups as torch's parameter groups, a cosine schedule with warm-up. Modules, data and the
errors such scripts meet: tests/test_training_workflow_modules.py."""
from __future__ import annotations

import json

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]

X = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
Y = np.random.default_rng(1).integers(0, 3, size=40)


def _dropout_model(backend):
    rng = xg.random.default_rng(0, backend=backend)
    dropout_rng = xg.random.default_rng(7, backend=backend)
    model = xg.nn.Sequential(xg.nn.Linear(6, 16, rng=rng), xg.nn.ReLU(),
                             xg.nn.Dropout(0.3, rng=dropout_rng), xg.nn.Linear(16, 3, rng=rng))
    return model, xg.optim.Adam(xg.optim.CosineDecay(1e-2, 40)), dropout_rng


def _epoch(model, opt, order_rng):
    for start in range(0, len(X), 10):
        idx = order_rng.permutation(len(X))[start:start + 10]
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(X[idx]), Y[idx])
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_with_dropout_resumed_from_a_checkpoint_continues_exactly(backend, tmp_path):
    model, opt, _ = _dropout_model(backend)
    order = np.random.default_rng(3)
    for _ in range(4):
        _epoch(model, opt, order)
    uninterrupted = model.state_dict()

    model, opt, dropout_rng = _dropout_model(backend)
    order = np.random.default_rng(3)
    for _ in range(2):
        _epoch(model, opt, order)
    path = tmp_path / "ckpt.npz"
    xg.save_checkpoint(path, model, opt, metadata={
        "dropout_rng": dropout_rng.get_state(), "order_rng": order.bit_generator.state})

    model, opt, dropout_rng = _dropout_model(backend)       # "a new process"
    xg.load_checkpoint(path, model, opt)
    meta = xg.checkpoint_metadata(path)
    dropout_rng.set_state(meta["dropout_rng"])
    order = np.random.default_rng()
    order.bit_generator.state = meta["order_rng"]
    for _ in range(2):
        _epoch(model, opt, order)
    resumed = model.state_dict()
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_generator_state_round_trips_through_json_and_repeats_the_draws(backend):
    rng = xg.random.default_rng(5, backend=backend)
    rng.normal(size=3)
    state = json.loads(json.dumps(rng.get_state()))
    first = rng.uniform(size=4).numpy()
    other = xg.random.default_rng(0, backend=backend)
    other.set_state(state)
    np.testing.assert_array_equal(other.uniform(size=4).numpy(), first)
    rng.set_state(state)
    np.testing.assert_array_equal(rng.uniform(size=4).numpy(), first)


def test_get_state_is_a_copy():
    rng = xg.random.default_rng(0)
    state = rng.get_state()
    rng.normal(size=2)
    assert state != rng.get_state()


@pytest.mark.parametrize("bad, match", [
    (42, "state must be a dict"),
    ({"bit_generator": "MT19937", "state": {"key": [0], "pos": 0}}, "state"),
    ({"bit_generator": "PCG64"}, "state"),
])
def test_set_state_refuses_what_is_not_a_state_naming_it(bad, match):
    rng = xg.random.default_rng(0)
    before = rng.get_state()
    with pytest.raises((TypeError, ValueError), match=match):
        rng.set_state(bad)
    assert rng.get_state() == before


def _groups(model):
    """PyTorch's two parameter groups: weights decay, biases (1-d) do not."""
    return ([v for v in model.trainable_variables if v.ndim > 1],
            [v for v in model.trainable_variables if v.ndim <= 1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_optimizer_per_group_is_torch_param_groups_and_resumes_from_two_files(backend,
                                                                                  tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
                              torch.nn.Linear(8, 3)).double()
    model = xg.nn.MLP([4, 8, 3], activation="tanh", rng=0, dtype=xg.float64, backend=backend)
    model.load_torch_state_dict(net.state_dict())
    decay, no_decay = _groups(model)
    opts = [xg.optim.AdamW(1e-2, weight_decay=0.1), xg.optim.AdamW(1e-2, weight_decay=0.0)]
    topt = torch.optim.AdamW([
        {"params": [p for p in net.parameters() if p.ndim > 1], "weight_decay": 0.1},
        {"params": [p for p in net.parameters() if p.ndim <= 1], "weight_decay": 0.0}], lr=1e-2)
    x, y = X[:, :4].astype(np.float64), Y

    def step(model, opts, groups):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        grads = dict(zip(map(id, model.trainable_variables),
                         tape.gradient(loss, model.trainable_variables)))
        for opt, group in zip(opts, groups):
            opt.apply_gradients([(grads[id(v)], v) for v in group])

    for i in range(6):
        topt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()
        step(model, opts, (decay, no_decay))
        if i == 2:
            for k, opt in enumerate(opts):
                xg.save_checkpoint(tmp_path / f"group{k}.npz", model, opt)
    ours = model.torch_state_dict()
    for key, value in net.state_dict().items():
        np.testing.assert_allclose(ours[key], value.detach().numpy(), rtol=1e-10, atol=1e-12)

    resumed = xg.nn.MLP([4, 8, 3], activation="tanh", rng=5, dtype=xg.float64, backend=backend)
    ropts = [xg.optim.AdamW(1e-2, weight_decay=0.1), xg.optim.AdamW(1e-2, weight_decay=0.0)]
    for k, opt in enumerate(ropts):
        xg.load_checkpoint(tmp_path / f"group{k}.npz", resumed, opt)
    for _ in range(3):
        step(resumed, ropts, _groups(resumed))
    for key, value in resumed.state_dict().items():
        np.testing.assert_array_equal(value, model.state_dict()[key], err_msg=key)


@pytest.mark.parametrize("name", ["param_groups", "exclude_from_weight_decay"])
def test_a_user_reaching_for_parameter_groups_is_told_about_one_optimizer_per_group(name):
    with pytest.raises(AttributeError, match="one optimizer per group"):
        getattr(xg.optim.AdamW(1e-3), name)


@pytest.mark.parametrize("initial, target, alpha", [(0.0, 0.1, 0.0), (1e-3, 0.05, 0.1)])
def test_cosine_decay_with_warmup_is_torchs_linear_warmup_then_cosine(initial, target, alpha):
    torch = pytest.importorskip("torch")
    warmup, decay = 5, 20
    schedule = xg.optim.CosineDecay(initial, decay, alpha=alpha, warmup_target=target,
                                    warmup_steps=warmup)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=target)
    chain = torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=max(initial / target, 1e-12),
                                          end_factor=1.0, total_iters=warmup),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=decay, eta_min=alpha * target)],
        milestones=[warmup])
    for step in range(warmup + decay + 1):
        assert schedule(step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
        opt.step()
        chain.step()
    assert schedule(warmup + decay + 50) == pytest.approx(alpha * target, abs=1e-15)


def test_cosine_decay_warmup_arguments_are_checked_by_name():
    with pytest.raises(ValueError, match="warmup_steps"):
        xg.optim.CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=-1)
    with pytest.raises(ValueError, match="warmup_target"):
        xg.optim.CosineDecay(0.0, 10, warmup_target=float("nan"), warmup_steps=3)
    with pytest.raises(ValueError, match="warmup_target"):
        xg.optim.CosineDecay(0.0, 10, warmup_steps=3)        # warming up to what?
    plain = xg.optim.CosineDecay(0.1, 10)
    assert [plain(s) for s in range(12)] == [
        xg.optim.CosineDecay(0.1, 10, warmup_target=None, warmup_steps=0)(s) for s in range(12)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make_opt", [lambda: xg.optim.Adam(1e-2),
                                      lambda: xg.optim.SGD(0.1, momentum=0.9),
                                      lambda: xg.optim.RMSprop(1e-2, momentum=0.5)],
                         ids=["adam", "sgd", "rmsprop"])
def test_rolling_back_to_a_snapshot_repeats_the_same_steps(backend, make_opt):
    model = xg.nn.MLP([6, 8, 3], rng=xg.random.default_rng(0, backend=backend),
                      backend=backend)
    opt = make_opt()
    x, y = xg.asarray(X, backend=backend), xg.asarray(Y, backend=backend)

    def steps(n):
        for _ in range(n):
            opt.minimize(lambda: xg.losses.softmax_cross_entropy(model(x), y), model)
        return model.state_dict()

    steps(3)
    weights, state = model.state_dict(), opt.state_dict(model)
    first = steps(3)
    model.load_state_dict(weights)
    opt.load_state_dict(state, model)
    again = steps(3)
    for key in first:
        np.testing.assert_array_equal(again[key], first[key], err_msg=key)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_compiled_step_with_dropout_rolled_back_repeats_its_losses(backend):
    model, opt, dropout_rng = _dropout_model(backend)
    x, y = xg.asarray(X, backend=backend), xg.asarray(Y, backend=backend)

    @xg.function
    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    for _ in range(3):
        step(x, y)
    snapshot = model.state_dict(), opt.state_dict(model), dropout_rng.get_state()
    first = [float(step(x, y)) for _ in range(3)]
    model.load_state_dict(snapshot[0])
    opt.load_state_dict(snapshot[1], model)
    dropout_rng.set_state(snapshot[2])
    assert [float(step(x, y)) for _ in range(3)] == first


def test_a_buffer_written_before_the_update_in_a_compiled_step_is_written_on_replays():
    w = xg.Variable(np.ones(3, np.float32), name="w")
    count = xg.Variable(xg.zeros((), dtype=xg.int64), trainable=False, name="count")
    opt = xg.optim.SGD(0.1)

    @xg.function
    def step(x):
        with xg.GradientTape() as tape:
            count.assign_add(1)               # a running statistic, as a BatchNorm's
            loss = xg.sum(w * x)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        return loss

    for _ in range(5):
        step(xg.asarray(np.ones(3, np.float32)))
    assert count.item() == 5
