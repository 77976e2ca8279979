"""SGD's ``dampening=`` and ``maximize=`` and the adaptive optimizers' ``maximize=`` against
torch.optim, step by step in float64 (the gradient depends on the weights, so a wrong step
shows in every later one)."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("numpy_default")

RNG = np.random.default_rng(3)
W0, A, B = RNG.normal(size=(3, 4)), RNG.uniform(0.5, 2.0, size=(3, 4)), RNG.normal(size=(3, 4))


def _gradient(w):
    """Of sum(A * sin(w) + B * w**2): not linear, so the path matters."""
    return A * np.cos(w) + 2 * B * w


def _torch_path(make, steps=6):
    p = torch.nn.Parameter(torch.tensor(W0))
    opt = make([p])
    path = []
    for _ in range(steps):
        p.grad = torch.tensor(_gradient(p.detach().numpy()))
        opt.step()
        path.append(p.detach().numpy().copy())
    return path


def _xpgrad_path(opt, steps=6):
    w = xg.Variable(W0)
    path = []
    for _ in range(steps):
        opt.apply_gradients([(xg.asarray(_gradient(w.numpy())), w)])
        path.append(w.numpy().copy())
    return path


CASES = {
    "sgd-dampening": (lambda: xg.optim.SGD(0.05, momentum=0.9, dampening=0.3),
                      lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.3)),
    "sgd-dampening-maximize-decay": (
        lambda: xg.optim.SGD(0.05, momentum=0.8, dampening=0.5, maximize=True,
                             weight_decay=0.1),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.5, maximize=True,
                                  weight_decay=0.1)),
    "sgd-maximize": (lambda: xg.optim.SGD(0.05, maximize=True),
                     lambda p: torch.optim.SGD(p, lr=0.05, maximize=True)),
    "sgd-nesterov-maximize": (
        lambda: xg.optim.SGD(0.05, momentum=0.9, nesterov=True, maximize=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    "adam-maximize": (lambda: xg.optim.Adam(0.05, maximize=True, weight_decay=0.1),
                      lambda p: torch.optim.Adam(p, lr=0.05, maximize=True, weight_decay=0.1)),
    "adam-amsgrad-maximize": (
        lambda: xg.optim.Adam(0.05, amsgrad=True, maximize=True),
        lambda p: torch.optim.Adam(p, lr=0.05, amsgrad=True, maximize=True)),
    "adamw-maximize": (lambda: xg.optim.AdamW(0.05, maximize=True),
                       lambda p: torch.optim.AdamW(p, lr=0.05, maximize=True)),
    "rmsprop-maximize": (
        lambda: xg.optim.RMSprop(0.01, momentum=0.5, maximize=True, weight_decay=0.1),
        lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, maximize=True,
                                      weight_decay=0.1)),
    "rmsprop-centered-maximize": (
        lambda: xg.optim.RMSprop(0.01, centered=True, maximize=True),
        lambda p: torch.optim.RMSprop(p, lr=0.01, centered=True, maximize=True)),
    "adagrad-maximize": (lambda: xg.optim.Adagrad(0.1, maximize=True, weight_decay=0.1),
                         lambda p: torch.optim.Adagrad(p, lr=0.1, maximize=True,
                                                       weight_decay=0.1)),
    "adadelta-maximize": (lambda: xg.optim.Adadelta(1.0, maximize=True),
                          lambda p: torch.optim.Adadelta(p, lr=1.0, maximize=True)),
    # torch's Adamax, NAdam and RAdam take maximize too (xpgrad's refused it)
    "adamax-maximize": (lambda: xg.optim.Adamax(0.05, maximize=True, weight_decay=0.1),
                        lambda p: torch.optim.Adamax(p, lr=0.05, maximize=True,
                                                     weight_decay=0.1)),
    "nadam-maximize": (lambda: xg.optim.NAdam(0.05, maximize=True, weight_decay=0.1),
                       lambda p: torch.optim.NAdam(p, lr=0.05, maximize=True, weight_decay=0.1)),
    "nadam-decoupled-maximize": (
        lambda: xg.optim.NAdam(0.05, maximize=True, weight_decay=0.1,
                               decoupled_weight_decay=True),
        lambda p: torch.optim.NAdam(p, lr=0.05, maximize=True, weight_decay=0.1,
                                    decoupled_weight_decay=True)),
    "radam-maximize": (lambda: xg.optim.RAdam(0.05, maximize=True, weight_decay=0.1),
                       lambda p: torch.optim.RAdam(p, lr=0.05, maximize=True, weight_decay=0.1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_step_is_torchs(case):
    ours, theirs = CASES[case]
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)      # NAdam's product of momenta: float32 else
    try:
        expected = _torch_path(theirs)
    finally:
        torch.set_default_dtype(default)
    for k, (a, b) in enumerate(zip(_xpgrad_path(ours()), expected, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {k + 1}")


def test_maximize_and_dampening_change_the_path():
    """Each option is read: without it the weights differ."""
    for on, off in ((xg.optim.SGD(0.05, maximize=True), xg.optim.SGD(0.05)),
                    (xg.optim.SGD(0.05, momentum=0.9, dampening=0.3),
                     xg.optim.SGD(0.05, momentum=0.9)),
                    (xg.optim.Adam(0.05, maximize=True), xg.optim.Adam(0.05))):
        assert not np.allclose(_xpgrad_path(on)[-1], _xpgrad_path(off)[-1])


@pytest.mark.parametrize("maximize", [False, True])
def test_a_taped_and_traced_plain_sgd_step_is_torchs(maximize):
    """A tape's weight gradient (deferred for plain SGD) and ``xg.function``'s replay (which
    folds plain SGD into the gradient's gemm, at this size) with ``maximize``."""
    x0 = RNG.normal(size=(256, 128))
    lin = torch.nn.Linear(128, 64, bias=False, dtype=torch.float64)
    topt = torch.optim.SGD(lin.parameters(), lr=0.1, maximize=maximize)
    w = xg.Variable(lin.weight.detach().numpy().T.copy())
    opt = xg.optim.SGD(0.1, maximize=maximize)

    @xg.function
    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.tanh(x @ w))
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return loss

    for _ in range(4):      # warm-up, trace, replays
        step(xg.asarray(x0))
        topt.zero_grad()
        torch.tanh(lin(torch.tensor(x0))).sum().backward()
        topt.step()
        np.testing.assert_allclose(w.numpy(), lin.weight.detach().numpy().T, rtol=1e-10,
                                   atol=1e-12)


def test_dampening_survives_a_state_dict_round_trip():
    variables = [xg.Variable(W0, name="w")]
    opt = xg.optim.SGD(0.05, momentum=0.9, dampening=0.3)
    for _ in range(2):
        opt.apply_gradients([(xg.asarray(_gradient(variables[0].numpy())), variables[0])])
    saved = opt.state_dict(variables)
    again = xg.optim.SGD(0.05, momentum=0.9, dampening=0.3)
    again.load_state_dict(saved, variables)
    for _ in range(3):
        again.apply_gradients([(xg.asarray(_gradient(variables[0].numpy())), variables[0])])
    np.testing.assert_allclose(variables[0].numpy(), _torch_path(CASES["sgd-dampening"][1],
                                                                 steps=5)[-1], rtol=1e-12)


def test_bad_dampening_and_maximize_are_named():
    with pytest.raises(ValueError, match="dampening"):
        xg.optim.SGD(0.1, momentum=0.9, dampening=1.5)
    with pytest.raises(ValueError, match="nesterov.*dampening"):
        xg.optim.SGD(0.1, momentum=0.9, nesterov=True, dampening=0.1)
    for make in (xg.optim.SGD, xg.optim.Adam, xg.optim.AdamW, xg.optim.RMSprop,
                 xg.optim.Adagrad, xg.optim.Adadelta, xg.optim.Adamax, xg.optim.NAdam,
                 xg.optim.RAdam):
        with pytest.raises(TypeError, match="maximize"):
            make(0.1, maximize="yes")


@pytest.mark.parametrize("make", [
    lambda: xg.optim.SGD(0.05, momentum=0.9, maximize=True),
    lambda: xg.optim.SGD(0.05, momentum=0.9, dampening=0.4, weight_decay=0.1),
    lambda: xg.optim.Adam(0.05, maximize=True),
    lambda: xg.optim.RMSprop(0.01, momentum=0.5, maximize=True),
    lambda: xg.optim.Adagrad(0.1, maximize=True)])
def test_each_backend_steps_as_numpy(make, host_backend):
    """A weight large enough for the fused kernels (float32, 300 x 300)."""
    rng = np.random.default_rng(4)
    w0, grads = rng.normal(size=(300, 300)), rng.normal(size=(3, 300, 300))
    ends = []
    for be in ("numpy", host_backend):
        w = xg.Variable(xg.asarray(w0.astype(np.float32), backend=be))
        opt = make()
        for g in grads:
            opt.apply_gradients([(xg.asarray(g.astype(np.float32), backend=be), w)])
        ends.append(w.numpy())
    np.testing.assert_allclose(ends[1], ends[0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(ends[0], w0, atol=1e-3)
