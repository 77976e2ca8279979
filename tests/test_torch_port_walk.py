"""What a PyTorch user porting a training script met (the walk of 2026-12-07), checked against
torch computed here: the ways the hints name give torch's numbers."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("numpy_default")


def _hint(owner, name):
    with pytest.raises(AttributeError) as err:
        getattr(owner, name)
    assert not hasattr(owner, name)
    return str(err.value)


def test_register_hook_and_a_custom_gradient_identity_give_torchs_hook():
    rng = np.random.default_rng(0)
    w0, x = rng.normal(size=(4, 3)), rng.normal(size=(6, 4))
    w = torch.tensor(w0, requires_grad=True)
    h = torch.tensor(x) @ w
    h.register_hook(lambda g: g * 2 + 1)
    torch.tanh(h).sum().backward()

    @xg.custom_gradient
    def hooked(t):
        return t, lambda g: g * 2 + 1

    v = xg.Variable(w0)
    with xg.GradientTape() as tape:
        loss = xg.sum(xg.tanh(hooked(xg.asarray(x) @ v)))
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), w.grad.numpy(), rtol=1e-12)
    with xg.GradientTape() as tape:
        h = xg.asarray(x) @ v
        h.register_hook(lambda g: g * 2 + 1)
        loss = xg.sum(xg.tanh(h))
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), w.grad.numpy(), rtol=1e-12)


def test_the_deprecated_backward_hook_names_the_full_one():
    assert "register_full_backward_hook(hook)" in _hint(xg.nn.Linear(2, 2, rng=0),
                                                         "register_backward_hook")


def test_add_param_group_names_one_optimizer_per_group():
    assert "an optimizer of its own" in _hint(xg.optim.SGD(0.1), "add_param_group")


def _torch_rates(make, lr, steps):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched, rates = make(opt), []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def test_the_multisteplr_hint_gives_torchs_rates():
    """``PiecewiseConstant(milestones, ...)`` is one step late at each milestone: the hint
    says ``m - 1``, and that is torch's schedule."""
    hint = _hint(xg.optim, "MultiStepLR")
    assert "[m - 1 for m in milestones]" in hint
    lr, gamma, milestones = 0.1, 0.3, [3, 7, 12]
    expected = _torch_rates(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones, gamma),
                            lr, 16)
    ours = xg.optim.PiecewiseConstant([m - 1 for m in milestones],
                                      [lr * gamma ** i for i in range(len(milestones) + 1)])
    np.testing.assert_allclose([ours(k) for k in range(16)], expected, rtol=1e-14)


def test_the_cosine_hint_says_where_torchs_schedule_differs():
    hint = _hint(xg.optim, "CosineAnnealingLR")
    assert "alpha=eta_min / lr" in hint and "rises again" in hint
    lr, eta_min, t_max = 0.1, 0.01, 8
    expected = _torch_rates(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, t_max, eta_min=eta_min), lr, 14)
    ours = [xg.optim.CosineDecay(lr, t_max, alpha=eta_min / lr)(k) for k in range(14)]
    np.testing.assert_allclose(ours[:t_max + 1], expected[:t_max + 1], rtol=1e-12)
    assert ours[t_max + 1:] == pytest.approx([eta_min] * (14 - t_max - 1))
    assert all(e > eta_min + 1e-4 for e in expected[t_max + 2:])     # torch's rises again


def test_a_custom_modules_variables_and_adam_state_as_torchs_named_parameters():
    """A module holding Variables of its own (torch's nn.Parameter attributes) names them
    after torch's named_parameters(), and Adam's state saved from its trainable_variables
    mid-run and loaded into a fresh optimizer gives torch's weights."""
    rng = np.random.default_rng(1)
    scale0, shift0, x = rng.normal(size=3), rng.normal(size=3), rng.normal(size=(5, 3))

    class Affine(xg.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = xg.Variable(scale0)
            self.shift = xg.Variable(shift0)

        def forward(self, z):
            return xg.sum(xg.tanh(z * self.scale + self.shift) ** 2)

    tparams = [torch.nn.Parameter(torch.tensor(a)) for a in (scale0, shift0)]
    topt = torch.optim.Adam(tparams, lr=0.1, amsgrad=True)
    model = Affine()
    assert [v.name.split("/")[-1] for v in model.trainable_variables] == ["scale", "shift"]
    opt = xg.optim.Adam(0.1, amsgrad=True)
    for step in range(6):
        topt.zero_grad()
        torch.sum(torch.tanh(torch.tensor(x) * tparams[0] + tparams[1]) ** 2).backward()
        topt.step()
        if step == 3:
            state = opt.state_dict(model.trainable_variables)
            opt = xg.optim.Adam(0.1, amsgrad=True)
            opt.load_state_dict(state, model.trainable_variables)
        opt.minimize(lambda: model(xg.asarray(x)), model.trainable_variables)
    for v, p in zip(model.trainable_variables, tparams):
        np.testing.assert_allclose(v.numpy(), p.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("ours, theirs, options", [
    ("kaiming_uniform", "kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal", "kaiming_normal_", {"a": 0.3}),
    ("kaiming_normal", "kaiming_normal_", {"nonlinearity": "tanh", "mode": "fan_in"}),
    ("xavier_uniform", "xavier_uniform_", {"gain": 2.0}),
    ("xavier_normal", "xavier_normal_", {"gain": 0.5}),
])
def test_torch_init_keywords_name_the_initializer_with_torchs_distribution(ours, theirs,
                                                                            options):
    """``kaiming_uniform(rng, shape, mode="fan_out")`` was 'unexpected keyword argument';
    the hint's ``variance_scaling`` draws torch's distribution: the same bound or standard
    deviation for torch's (out, in) weight and xpgrad's (in, out) one."""
    with pytest.raises(TypeError) as err:
        getattr(xg.nn.init, ours)(0, (300, 200), **options)
    call = str(err.value).split(" is ", 1)[1].split(", called as")[0]
    assert call.startswith("xg.nn.init.variance_scaling(")
    init = eval(call, {"xg": xg})
    w_ours = init(xg.random.default_rng(0), (300, 200), xg.float64).numpy()
    torch.manual_seed(0)
    w_torch = getattr(torch.nn.init, theirs)(torch.empty(200, 300, dtype=torch.float64),
                                             **options).numpy()
    assert w_ours.std() == pytest.approx(w_torch.std(), rel=0.02)
    if "uniform" in ours:
        assert abs(w_ours).max() == pytest.approx(abs(w_torch).max(), rel=1e-3)


def test_a_generator_keyword_on_an_initializer_names_rng():
    with pytest.raises(TypeError, match="first argument, rng"):
        xg.nn.init.xavier_uniform(0, (3, 4), generator=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'frob'$"):
        xg.nn.init.he_normal(0, (3, 4), frob=1)


def test_drop_last_names_drop_remainder_and_the_loop_gives_torchs_weights():
    """A DataLoader(shuffle=True, drop_last=True) loop: ``drop_last=`` names
    ``drop_remainder=`` (it named rng before), and the loop on those batches gives torch's
    AdamW + StepLR weights on the same batches."""
    with pytest.raises(TypeError, match="drop_remainder=True"):
        xg.data.batches(23, 5, drop_last=True)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(23, 4)), rng.normal(size=(23, 2))
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
                                 torch.nn.Linear(8, 2)).double()
    model = xg.nn.Sequential(xg.nn.Linear(4, 8, dtype="float64", rng=0), xg.nn.Tanh(),
                             xg.nn.Linear(8, 2, dtype="float64", rng=0))
    model.load_torch_state_dict(tmodel.state_dict())
    topt = torch.optim.AdamW(tmodel.parameters(), lr=0.05)
    tsched = torch.optim.lr_scheduler.StepLR(topt, 3, 0.5)
    opt = xg.optim.AdamW(xg.optim.StepDecay(0.05, 3, 0.5))
    order = np.random.default_rng(7)
    for _ in range(3):
        epoch = list(xg.data.batches(23, 5, order, drop_remainder=True))
        assert [len(idx) for idx in epoch] == [5] * 4
        for idx in epoch:
            topt.zero_grad()
            ((tmodel(torch.tensor(x[idx])) - torch.tensor(y[idx])) ** 2).mean().backward()
            topt.step()
            tsched.step()
            opt.minimize(lambda: xg.mean((model(xg.asarray(x[idx])) - xg.asarray(y[idx])) ** 2),
                         model.trainable_variables)
    ours = model.torch_state_dict()
    for key, value in tmodel.state_dict().items():
        np.testing.assert_allclose(ours[key], value.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("three_phase, strategy", [(False, "cos"), (True, "linear")])
def test_onecycle_with_torchs_cycled_momentum(optimizer, three_phase, strategy):
    """torch's OneCycleLR also cycles the momentum (cycle_momentum=True, its default), which
    OneCycle alone left out: the weights differed silently. ``s.momentum(opt.iterations)`` set
    before each update gives torch's weights; the rates alone give cycle_momentum=False's."""
    rng = np.random.default_rng(3)
    w0, x, y = rng.normal(size=(4, 2)), rng.normal(size=(16, 4)), rng.normal(size=(16, 2))
    steps = 20
    sched = xg.optim.OneCycle(0.2, steps, three_phase=three_phase, anneal_strategy=strategy)

    def torch_weights(cycle_momentum):
        w = torch.nn.Parameter(torch.tensor(w0))
        opt = (torch.optim.SGD([w], lr=0.1, momentum=0.9) if optimizer == "SGD" else
               torch.optim.Adam([w], lr=0.1))
        lr_sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, 0.2, total_steps=steps, three_phase=three_phase, anneal_strategy=strategy,
            cycle_momentum=cycle_momentum)
        for _ in range(steps):
            opt.zero_grad()
            torch.mean((torch.tensor(x) @ w - torch.tensor(y)) ** 2).backward()
            opt.step()
            lr_sched.step()
        return w.detach().numpy()

    def our_weights(cycle_momentum):
        w = xg.Variable(w0)
        opt = (xg.optim.SGD(sched, momentum=0.9) if optimizer == "SGD" else
               xg.optim.Adam(sched))
        for _ in range(steps):
            if cycle_momentum:
                setattr(opt, "momentum" if optimizer == "SGD" else "beta_1",
                        sched.momentum(opt.iterations))
            opt.minimize(lambda: xg.mean((xg.asarray(x) @ w - xg.asarray(y)) ** 2), [w])
        return w.numpy()

    for cycle in (True, False):
        np.testing.assert_allclose(our_weights(cycle), torch_weights(cycle), rtol=1e-10,
                                   atol=1e-12)
    assert not np.allclose(torch_weights(True), torch_weights(False), rtol=1e-6)
    assert "s.momentum(opt.iterations)" in _hint(xg.optim, "OneCycleLR")


@pytest.mark.parametrize("call", [lambda opt: opt.state_dict(),
                                  lambda opt: opt.load_state_dict({})])
def test_torchs_argumentless_optimizer_state_dict_names_the_variables(call):
    """torch's ``opt.state_dict()`` was Python's 'missing 1 required positional argument'."""
    with pytest.raises(TypeError, match=r"needs the variables .*model\) or a dict"):
        call(xg.optim.SGD(0.1, momentum=0.9))


def test_adagrads_lr_decay_names_the_schedule_that_gives_torchs_weights():
    with pytest.raises(TypeError) as err:
        xg.optim.Adagrad(0.1, lr_decay=0.05)
    schedule = str(err.value).split("the schedule Adagrad(")[1][:-1]
    assert schedule == "xg.optim.InverseTimeDecay(lr, 1, d)"
    rng = np.random.default_rng(4)
    w0, x, y = rng.normal(size=(4, 2)), rng.normal(size=(16, 4)), rng.normal(size=(16, 2))
    w = torch.nn.Parameter(torch.tensor(w0))
    topt = torch.optim.Adagrad([w], lr=0.1, lr_decay=0.05, weight_decay=0.1)
    v = xg.Variable(w0)
    opt = xg.optim.Adagrad(xg.optim.InverseTimeDecay(0.1, 1, 0.05), weight_decay=0.1)
    for _ in range(12):
        topt.zero_grad()
        torch.mean((torch.tensor(x) @ w - torch.tensor(y)) ** 2).backward()
        topt.step()
        opt.minimize(lambda: xg.mean((xg.asarray(x) @ v - xg.asarray(y)) ** 2), [v])
    np.testing.assert_allclose(v.numpy(), w.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("nonlinearity", [
    "linear", "identity", "sigmoid", "tanh", "relu", "selu", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "gelu"])
def test_every_nonlinearity_torchs_calculate_gain_takes_names_its_gain_squared(nonlinearity):
    """The conv_transpose names were a ValueError ('not one of torch's calculate_gain
    names') where torch's kaiming_normal_ takes them (gain 1), and 'identity', which torch
    refuses, was named as a torch call; a name torch refuses is a ValueError naming it."""
    try:
        gain = torch.nn.init.calculate_gain(nonlinearity)
    except ValueError:
        with pytest.raises(ValueError, match=f"nonlinearity='{nonlinearity}'"):
            xg.nn.init.he_normal(0, (3, 4), nonlinearity=nonlinearity)
        return
    with pytest.raises(TypeError) as err:
        xg.nn.init.he_normal(0, (3, 4), nonlinearity=nonlinearity, mode="fan_out")
    call = str(err.value).split(" is ", 1)[1].split(", called as")[0]
    scale = float(call.split("(", 1)[1].split(",")[0])
    assert scale == pytest.approx(gain ** 2, rel=1e-12)


def test_a_kaiming_mode_torch_refuses_is_a_value_error_naming_mode():
    with pytest.raises(ValueError, match="fan_in"):          # torch's own refusal
        torch.nn.init.kaiming_normal_(torch.empty(3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match=r"mode='fan_avg' is not one of torch's "
                                         r"kaiming_uniform_ modes: \['fan_in', 'fan_out'\]"):
        xg.nn.init.he_uniform(0, (3, 4), mode="fan_avg")
