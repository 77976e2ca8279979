"""The Numba optimizer kernels against the generic updates (the numpy backend) on gradients at
float32's extremes: where ``g * g`` overflows (|g| > 1.8e19) the generic ``(c * g) * g`` does
not, and the kernels must round and overflow as it does, never turn a finite update into NaN."""
import numpy as np
import pytest

pytest.importorskip("numba")
import xpgrad as xg  # noqa: E402

GRAD = np.array([1e20, -1e20, 1e30, -1e30, 3e19, 1e-30, 0.0, 1.0, -3.0, 1e19], np.float32)
OPTIMIZERS = {
    "rmsprop": lambda: xg.optim.RMSprop(learning_rate=0.1),
    "rmsprop_momentum": lambda: xg.optim.RMSprop(learning_rate=0.1, momentum=0.9),
    "adadelta": lambda: xg.optim.Adadelta(learning_rate=1.0),
    "adam": lambda: xg.optim.Adam(learning_rate=0.1),
    "adagrad": lambda: xg.optim.Adagrad(learning_rate=0.1),
    "adam_amsgrad": lambda: xg.optim.Adam(learning_rate=0.1, amsgrad=True),
    "rmsprop_centered": lambda: xg.optim.RMSprop(learning_rate=0.1, centered=True,
                                                 momentum=0.9),
    "adamax": lambda: xg.optim.Adamax(learning_rate=0.1, weight_decay=0.1),
    "nadam": lambda: xg.optim.NAdam(learning_rate=0.1),
    "nadamw": lambda: xg.optim.NAdam(learning_rate=0.1, weight_decay=0.1,
                                     decoupled_weight_decay=True),
    "radam": lambda: xg.optim.RAdam(learning_rate=0.1),      # 3 steps: before the switch
    "lion": lambda: xg.optim.Lion(learning_rate=0.1, weight_decay=0.1),
}


def _train(backend, make, threaded, monkeypatch):
    if threaded:
        from xpgrad.backends.numba import _config

        monkeypatch.setattr(_config, "PAR_MIN", 0)
        monkeypatch.setattr(_config, "BLOCK", 4)
    v = xg.Variable(xg.asarray(np.linspace(-1, 1, GRAD.size, dtype=np.float32),
                               backend=backend), name="v")
    opt = make()
    for step in range(3):
        opt.apply_gradients([(xg.asarray(GRAD * (step + 1), backend=backend), v)])
    return v.numpy()


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_updates_at_float32_extremes_match_the_generic_ones(name, threaded, monkeypatch):
    with np.errstate(over="ignore", invalid="ignore"):
        got = _train("numba", OPTIMIZERS[name], threaded, monkeypatch)
        want = _train("numpy", OPTIMIZERS[name], False, monkeypatch)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_rmsprop_and_adadelta_at_extremes_match_pytorch():
    torch = pytest.importorskip("torch")
    for ours, theirs in ((lambda: xg.optim.RMSprop(learning_rate=0.1), torch.optim.RMSprop),
                         (lambda: xg.optim.Adadelta(learning_rate=1.0), torch.optim.Adadelta)):
        lr = 1.0 if theirs is torch.optim.Adadelta else 0.1
        w = torch.tensor(np.linspace(-1, 1, GRAD.size, dtype=np.float32), requires_grad=True)
        opt = theirs([w], lr=lr)             # the same defaults (rho/alpha, epsilon)
        for step in range(3):
            w.grad = torch.tensor(GRAD * (step + 1))
            opt.step()
        np.testing.assert_allclose(_train("numba", ours, False, None), w.detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
