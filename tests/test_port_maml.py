"""MAML (Finn et al.) on sine-wave regression ported from PyTorch to xpgrad: three inner SGD
steps per task whose gradients are themselves differentiated (second order: torch's
``create_graph=True``), an outer Adam step on the meta-loss. From the same weights, float64,
the meta-losses and weights equal torch's to ~1e-13 step by step, written with nested tapes and
``xg.nn.functional_call`` (eager and under ``xg.function``) and with ``xg.grad`` over a dict of
parameters; the meta-gradient matches finite differences."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

TASKS, SHOTS, INNER, INNER_LR, STEPS = 3, 8, 3, 0.05, 3


def _batches():
    """``STEPS`` meta-batches of (support x, support y, query x, query y), each (TASKS, SHOTS, 1):
    sines of random amplitude and phase."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(STEPS):
        amplitude = rng.uniform(0.5, 3, (TASKS, 1, 1))
        phase = rng.uniform(0, np.pi, (TASKS, 1, 1))
        x = rng.uniform(-5, 5, (2, TASKS, SHOTS, 1))
        y = amplitude * np.sin(x + phase)
        out.append((x[0], y[0], x[1], y[1]))
    return out


def _torch_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(1, 20), torch.nn.ReLU(), torch.nn.Linear(20, 20),
                               torch.nn.ReLU(), torch.nn.Linear(20, 1)).double()


def _torch_forward(p, x):
    """The net with the parameters of ``p`` (torch.func.functional_call's job, without its
    first call's second of set-up)."""
    h = torch.relu(x @ p["0.weight"].T + p["0.bias"])
    h = torch.relu(h @ p["2.weight"].T + p["2.bias"])
    return h @ p["4.weight"].T + p["4.bias"]


def _torch_meta_loss(net, xs, ys, xq, yq):
    total = 0
    for t in range(TASKS):
        fast = dict(net.named_parameters())
        for _ in range(INNER):
            loss = ((_torch_forward(fast, xs[t]) - ys[t]) ** 2).mean()
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=True)
            fast = {k: v - INNER_LR * g for (k, v), g in zip(fast.items(), grads)}
        total = total + ((_torch_forward(fast, xq[t]) - yq[t]) ** 2).mean()
    return total / TASKS


def _net(state):
    kw = {"rng": 0, "dtype": "float64"}
    net = xg.nn.Sequential(xg.nn.Linear(1, 20, **kw), xg.nn.ReLU(), xg.nn.Linear(20, 20, **kw),
                           xg.nn.ReLU(), xg.nn.Linear(20, 1, **kw))
    net.load_torch_state_dict(state)
    return net


def _meta_step(net, opt):
    """One outer step with nested tapes; the inner steps are arithmetic on the dict that
    ``functional_call`` reads."""
    def step(xs, ys, xq, yq):
        with xg.GradientTape() as outer:
            total = 0
            for t in range(TASKS):
                fast = dict(net.named_variables())
                for _ in range(INNER):
                    with xg.GradientTape() as inner:
                        inner.watch(list(fast.values()))
                        loss = xg.mean((xg.nn.functional_call(net, fast, (xs[t],)) - ys[t]) ** 2)
                    grads = inner.gradient(loss, list(fast.values()))
                    fast = {k: v - INNER_LR * g for (k, v), g in zip(fast.items(), grads)}
                total = total + xg.mean((xg.nn.functional_call(net, fast, (xq[t],)) - yq[t]) ** 2)
            meta_loss = total / TASKS
        variables = net.trainable_variables
        opt.apply_gradients(zip(outer.gradient(meta_loss, variables), variables))
        return meta_loss
    return step


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xg.function"])
def test_maml_meta_training_matches_torch(compiled):
    ref = _torch_net()
    net = _net(ref.state_dict())
    step = _meta_step(net, xg.optim.Adam(1e-3))
    step = xg.function(step) if compiled else step
    opt_t = torch.optim.Adam(ref.parameters(), lr=1e-3)
    for batch in _batches():
        loss = step(*[xg.asarray(a) for a in batch])
        opt_t.zero_grad()
        tloss = _torch_meta_loss(ref, *[torch.tensor(a) for a in batch])
        tloss.backward()
        opt_t.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-13)
    want = {k: v.numpy() for k, v in ref.state_dict().items()}
    for key, value in net.torch_state_dict().items():
        np.testing.assert_allclose(value, want[key], rtol=1e-11, atol=1e-13, err_msg=key)
    if compiled:
        assert step.trace_count == 1


def _functional_meta_loss(params, xs, ys, xq, yq):
    """The same meta-loss in JAX's style: ``xg.grad`` of the inner loss over a dict of
    arrays, and a tree_map for the inner step."""
    def forward(p, x):
        h = xg.nn.relu(x @ p["w0"] + p["b0"])
        h = xg.nn.relu(h @ p["w1"] + p["b1"])
        return h @ p["w2"] + p["b2"]

    def task_loss(p, x, y):
        return xg.mean((forward(p, x) - y) ** 2)

    total = 0
    for t in range(TASKS):
        fast = params
        for _ in range(INNER):
            grads = xg.grad(task_loss)(fast, xs[t], ys[t])
            fast = xg.tree_map(lambda p, g: p - INNER_LR * g, fast, grads)
        total = total + task_loss(fast, xq[t], yq[t])
    return total / TASKS


def _params_from_torch(ref):
    layers = [ref[0], ref[2], ref[4]]
    params = {}
    for i, layer in enumerate(layers):
        params[f"w{i}"] = layer.weight.detach().numpy().T.copy()
        params[f"b{i}"] = layer.bias.detach().numpy().copy()
    return params


def test_maml_meta_gradient_with_xg_grad_matches_torch_and_finite_differences():
    ref = _torch_net()
    batch = _batches()[0]
    tloss = _torch_meta_loss(ref, *[torch.tensor(a) for a in batch])
    tgrads = torch.autograd.grad(tloss, list(ref.parameters()))
    params = {k: xg.asarray(v) for k, v in _params_from_torch(ref).items()}
    inputs = [xg.asarray(a) for a in batch]
    value, grads = xg.value_and_grad(_functional_meta_loss)(params, *inputs)
    assert value.item() == pytest.approx(tloss.item(), rel=1e-13)
    for (key, g), want in zip(grads.items(), tgrads):
        want = want.numpy().T if key.startswith("w") else want.numpy()
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-10, atol=1e-13, err_msg=key)
    # the second-order terms matter: a first-order MAML gradient (inner gradients cut) differs
    first_order = xg.grad(lambda p: _first_order_meta_loss(p, *inputs))(params)
    assert np.abs(first_order["w1"].numpy() - grads["w1"].numpy()).max() > 1e-4
    xg.testing.check_grads(lambda b2: _functional_meta_loss({**params, "b2": b2}, *inputs),
                           [params["b2"]])


def _first_order_meta_loss(params, xs, ys, xq, yq):
    def forward(p, x):
        h = xg.nn.relu(x @ p["w0"] + p["b0"])
        h = xg.nn.relu(h @ p["w1"] + p["b1"])
        return h @ p["w2"] + p["b2"]

    total = 0
    for t in range(TASKS):
        fast = params
        for _ in range(INNER):
            grads = xg.grad(lambda p: xg.mean((forward(p, xs[t]) - ys[t]) ** 2))(fast)
            fast = xg.tree_map(lambda p, g: p - INNER_LR * xg.stop_gradient(g), fast, grads)
        total = total + xg.mean((forward(fast, xq[t]) - yq[t]) ** 2)
    return total / TASKS
