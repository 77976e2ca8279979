"""Keras' per-variable gradient clipping on every optimizer: ``clipnorm`` (each gradient
scaled by ``c / max(norm, c)``, TensorFlow's ``clip_by_norm``) and ``clipvalue`` (each entry
clipped to [-v, v]), against PyTorch applying the same clipping per parameter before the same
optimizer's step (``clip_grad_value_``; ``clip_grad_norm_`` adds 1e-6 to the norm, so the
norm's scale is written out), eager and under ``xg.function``."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

W0 = np.array([[0.5, -1.5, 2.0], [3.0, 0.25, -0.75]])
B0 = np.array([0.1, -0.2, 0.3])
X0 = np.random.default_rng(0).standard_normal((5, 2)) * 4.0


def _xpgrad_run(opt, steps, compiled, backend):
    w = xg.Variable(W0.copy(), backend=backend)
    b = xg.Variable(B0.copy(), backend=backend)
    x = xg.asarray(X0, backend=backend)

    def step():
        with xg.GradientTape() as tape:
            loss = xg.sum((x @ w + b) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
    run = xg.function(step) if compiled else step
    for _ in range(steps):
        run()
    return w.numpy(), b.numpy()


def _clip_norm(p, c):
    with torch.no_grad():
        p.grad.mul_(c / max(float(p.grad.norm()), c))


def _torch_run(make_opt, clip, steps):
    w = torch.tensor(W0.copy(), requires_grad=True)
    b = torch.tensor(B0.copy(), requires_grad=True)
    opt = make_opt([w, b])
    for _ in range(steps):
        opt.zero_grad()
        ((torch.tensor(X0) @ w + b) ** 2).sum().backward()
        for p in (w, b):
            clip(p)
        opt.step()
    return w.detach().numpy(), b.detach().numpy()


CASES = {
    "SGD clipnorm": (lambda: xg.optim.SGD(0.01, clipnorm=1.5),
                     lambda ps: torch.optim.SGD(ps, lr=0.01),
                     lambda p: _clip_norm(p, 1.5)),
    "SGD clipvalue": (lambda: xg.optim.SGD(0.01, momentum=0.9, clipvalue=2.0),
                      lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
                      lambda p: torch.nn.utils.clip_grad_value_([p], 2.0)),
    "Adam clipnorm": (lambda: xg.optim.Adam(0.05, clipnorm=0.5),
                      lambda ps: torch.optim.Adam(ps, lr=0.05, eps=1e-8),
                      lambda p: _clip_norm(p, 0.5)),
    "RMSprop clipvalue": (lambda: xg.optim.RMSprop(0.01, clipvalue=0.3),
                          lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-7),
                          lambda p: torch.nn.utils.clip_grad_value_([p], 0.3)),
}


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xg.function"])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("case", list(CASES))
def test_clipping_matches_pytorch(case, backend, compiled):
    make, make_torch, clip = CASES[case]
    if case.startswith("RMSprop"):
        rho, eps = make().rho, make().epsilon          # torch's names for the same numbers
        make_torch = lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=rho, eps=eps)
    got = _xpgrad_run(make(), 4, compiled, backend)
    expected = _torch_run(make_torch, clip, 4)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_the_gradients_really_were_large_enough_to_clip():
    """Otherwise the comparison above would hold without any clipping."""
    x = xg.asarray(X0)
    w = xg.Variable(W0.copy())
    with xg.GradientTape() as tape:
        loss = xg.sum((x @ w) ** 2)
    g = tape.gradient(loss, w).numpy()
    assert np.linalg.norm(g) > 1.5 and np.abs(g).max() > 2.0


def test_one_clipping_option_at_a_time_and_positive_values():
    with pytest.raises(ValueError, match="only one of clipnorm, clipvalue and global_clipnorm"):
        xg.optim.SGD(0.1, clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="only one of clipnorm, clipvalue and global_clipnorm"):
        xg.optim.Adam(0.1, clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="clipvalue"):
        xg.optim.SGD(0.1, clipvalue=0.0)
    with pytest.raises(ValueError, match="clipnorm"):
        xg.optim.SGD(0.1, clipnorm=-1.0)
    cfg = xg.optim.SGD(0.1, clipvalue=0.5).get_config()
    assert cfg["clipvalue"] == 0.5 and cfg["clipnorm"] is None


@pytest.mark.parametrize("clip", [dict(clipnorm=0.5), dict(clipvalue=0.05)], ids=str)
def test_a_compiled_mlp_step_on_numba_keeps_the_clipping(clip):
    """The compiled step folds plain SGD's ``W -= lr * x.T @ g`` into one gemm; clipping
    changes the gradient first, so the fold must not apply (it dropped the clipping)."""
    rng = np.random.default_rng(4)
    x = xg.asarray(rng.standard_normal((16, 8)).astype(np.float32), backend="numba")
    y = xg.asarray(rng.integers(0, 3, 16), backend="numba")
    results = []
    for compiled in (False, True):
        model = xg.nn.MLP([8, 6, 3], rng=1, backend="numba")
        opt = xg.optim.SGD(0.5, **clip)

        def step(x, y):
            with xg.GradientTape() as tape:
                loss = xg.losses.softmax_cross_entropy(model(x), y)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
        run = xg.function(step) if compiled else step
        for _ in range(4):
            run(x, y)
        results.append([v.numpy() for v in model.trainable_variables])
    for eager, compiled in zip(*results):
        np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-6)
