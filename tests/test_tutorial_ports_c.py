"""More ported programs (docs/porting.md, "Porting the well-known tutorials"), against PyTorch
in float64: a physics-informed network whose loss holds the network's second derivative in its
input, written TensorFlow's way (nested tapes) and JAX's (``grad`` of ``grad`` mapped by
``vmap``, compiled by ``xg.function``), and PyTorch's CNN classifier (``Conv2d``, ``max_pool2d``,
``BatchNorm2d``, dropout, train and eval modes, channels first)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")
F64 = xg.float64


def _pinn_params(seed=0, width=12):
    rng = np.random.default_rng(seed)
    shapes = [(1, width), (width,), (width, width), (width,), (width, 1), (1,)]
    return [rng.normal(size=s) * (0.8 if len(s) == 2 else 0.1) for s in shapes]


def _mlp(params, x, tanh):
    h = x
    for i in range(0, len(params) - 2, 2):
        h = tanh(h @ params[i] + params[i + 1])
    return h @ params[-2] + params[-1]


def _torch_pinn_loss(arrays, xs):
    """``u'' = -pi^2 sin(pi x)`` on [0, 1] with ``u(0) = u(1) = 0``: torch.autograd.grad with
    create_graph=True, twice."""
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    x = torch.tensor(xs[:, None], requires_grad=True)
    u = _mlp(params, x, torch.tanh)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x, create_graph=True)
    residual = d2u + math.pi ** 2 * torch.sin(math.pi * x)
    ends = _mlp(params, torch.tensor([[0.0], [1.0]], dtype=torch.float64), torch.tanh)
    loss = (residual ** 2).mean() + (ends ** 2).mean()
    return loss.item(), [g.numpy() for g in torch.autograd.grad(loss, params)]


def test_pinn_loss_gradients_tf_and_jax_style_are_torchs(one_thread):
    arrays, xs = _pinn_params(), np.linspace(0.0, 1.0, 9)
    ref_loss, ref_grads = _torch_pinn_loss(arrays, xs)
    ends = xg.asarray([[0.0], [1.0]])

    variables = [xg.Variable(a) for a in arrays]
    x = xg.asarray(xs[:, None])
    with xg.GradientTape() as tape:                       # TensorFlow's way
        with xg.GradientTape() as outer:
            outer.watch(x)
            with xg.GradientTape() as inner:
                inner.watch(x)
                u = _mlp(variables, x, xg.tanh)
            du = inner.gradient(u, x)
        d2u = outer.gradient(du, x)
        residual = d2u + math.pi ** 2 * xg.sin(math.pi * x)
        loss = xg.mean(residual ** 2) + xg.mean(_mlp(variables, ends, xg.tanh) ** 2)
    assert loss.item() == pytest.approx(ref_loss, rel=1e-13)
    for g, ref in zip(tape.gradient(loss, variables), ref_grads):
        np.testing.assert_allclose(g.numpy(), ref, rtol=1e-11, atol=1e-13)

    def u_of(params, xi):                                 # JAX's way: a scalar function
        return _mlp(params, xg.reshape(xi, (1, 1)), xg.tanh)[0, 0]

    u_xx = xg.grad(xg.grad(u_of, argnums=1), argnums=1)

    def pinn_loss(params, points):
        residual = (xg.vmap(u_xx, in_axes=(None, 0))(params, points)
                    + math.pi ** 2 * xg.sin(math.pi * points))
        return xg.mean(residual ** 2) + xg.mean(_mlp(params, ends, xg.tanh) ** 2)

    step = xg.function(xg.value_and_grad(pinn_loss))
    params = [xg.asarray(a) for a in arrays]
    for _ in range(2):
        value, grads = step(params, xg.asarray(xs))
        assert value.item() == pytest.approx(ref_loss, rel=1e-13)
        for g, ref in zip(grads, ref_grads):
            np.testing.assert_allclose(g.numpy(), ref, rtol=1e-11, atol=1e-13)
    assert step.trace_count == 1


def test_pinn_trains_to_the_solution(one_thread):
    params = [xg.asarray(a) for a in _pinn_params(1)]
    xs, ends = xg.asarray(np.linspace(0.0, 1.0, 16)), xg.asarray([[0.0], [1.0]])
    u_xx = xg.grad(xg.grad(lambda p, xi: _mlp(p, xg.reshape(xi, (1, 1)), xg.tanh)[0, 0],
                           argnums=1), argnums=1)

    def pinn_loss(p):
        residual = xg.vmap(u_xx, in_axes=(None, 0))(p, xs) + math.pi ** 2 * xg.sin(math.pi * xs)
        return xg.mean(residual ** 2) + xg.mean(_mlp(p, ends, xg.tanh) ** 2)

    step, opt = xg.function(xg.value_and_grad(pinn_loss)), xg.optim.Adam(1e-2)
    state = opt.init(params)
    for _ in range(600):
        _, grads = step(params)
        updates, state = opt.update(grads, state, params)
        params = xg.optim.apply_updates(params, updates)
    grid = np.linspace(0.0, 1.0, 50)[:, None]
    error = np.max(np.abs(_mlp(params, xg.asarray(grid), xg.tanh).numpy() - np.sin(np.pi * grid)))
    assert error < 0.05                  # from about 1 (u = 0 against sin(pi x) of height 1)


def _bar_images(rng, n):
    """1x12x12 images: a horizontal bar (class 0), a vertical one (1) or the diagonal (2)."""
    x, y = rng.normal(0.0, 0.3, size=(n, 1, 12, 12)), rng.integers(0, 3, n)
    for i, label in enumerate(y):
        at = rng.integers(2, 10)
        if label == 0:
            x[i, 0, at, :] += 1
        elif label == 1:
            x[i, 0, :, at] += 1
        else:
            x[i, 0, np.arange(12), np.arange(12)] += 1
    return x, y


class Cnn(xg.nn.Module):
    def __init__(self, rng, dtype=F64):
        super().__init__()
        self.conv1 = xg.nn.Conv2d(1, 4, 3, padding=1, rng=rng, dtype=dtype)
        self.bn1 = xg.nn.BatchNorm2d(4, dtype=dtype)
        self.conv2 = xg.nn.Conv2d(4, 8, 3, padding=1, rng=rng, dtype=dtype)
        self.bn2 = xg.nn.BatchNorm2d(8, dtype=dtype)
        self.dropout = xg.nn.Dropout(0.25, rng=rng)
        self.fc1 = xg.nn.Linear(8 * 3 * 3, 16, rng=rng, dtype=dtype)
        self.fc2 = xg.nn.Linear(16, 3, rng=rng, dtype=dtype)

    def forward(self, x):
        x = xg.nn.max_pool2d(xg.nn.relu(self.bn1(self.conv1(x))), 2)
        x = xg.nn.max_pool2d(xg.nn.relu(self.bn2(self.conv2(x))), 2)
        x = self.dropout(x.reshape(x.shape[0], -1))
        return self.fc2(xg.nn.relu(self.fc1(x)))


class TorchCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4)
        self.conv2, self.bn2 = torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.BatchNorm2d(8)
        self.dropout = torch.nn.Dropout(0.25)
        self.fc1, self.fc2 = torch.nn.Linear(8 * 3 * 3, 16), torch.nn.Linear(16, 3)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn2(self.conv2(x))), 2)
        x = self.dropout(torch.flatten(x, 1))
        return self.fc2(torch.relu(self.fc1(x)))


def test_cnn_trains_in_train_mode_and_predicts_in_eval_mode_as_torchs(one_thread):
    """Batch statistics in train mode, running statistics in eval mode; dropout is put in eval
    mode alone for the comparison (torch's masks are torch's), as ``model.dropout.eval()``."""
    model = Cnn(xg.random.default_rng(0))
    ref = TorchCnn().double()
    ref.load_state_dict({k: torch.as_tensor(np.asarray(v))
                         for k, v in model.torch_state_dict().items()})
    opt, ref_opt = xg.optim.SGD(0.05, momentum=0.9), torch.optim.SGD(ref.parameters(), lr=0.05,
                                                                      momentum=0.9)
    x, y = _bar_images(np.random.default_rng(0), 96)
    for module in (model, ref):
        module.train()
        module.dropout.eval()
    for idx in xg.data.batches(len(x), 32, rng=np.random.default_rng(0)):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(xg.asarray(x[idx])), xg.asarray(y[idx]))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
        ref_loss = torch.nn.functional.cross_entropy(ref(torch.tensor(x[idx])),
                                                     torch.tensor(y[idx]))
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_opt.step()
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-11)
    model.eval()
    ref.eval()
    with torch.no_grad():
        np.testing.assert_allclose(model(xg.asarray(x)).numpy(), ref(torch.tensor(x)).numpy(),
                                   rtol=1e-9, atol=1e-11)


def test_cnn_with_dropout_learns_the_bars(one_thread):
    data = np.random.default_rng(1)
    (x, y), (x_test, y_test) = _bar_images(data, 384), _bar_images(data, 192)
    model, opt = Cnn(xg.random.default_rng(1), dtype=xg.float32), xg.optim.SGD(0.05, momentum=0.9)
    for epoch in range(3):
        model.train()
        for idx in xg.data.batches(len(x), 64, rng=np.random.default_rng(epoch)):
            with xg.GradientTape() as tape:
                loss = xg.losses.softmax_cross_entropy(model(xg.asarray(x[idx], dtype=xg.float32)),
                                                       xg.asarray(y[idx]))
            opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                    model.trainable_variables))
    model.eval()
    predicted = xg.argmax(model(xg.asarray(x_test, dtype=xg.float32)), axis=1).numpy()
    assert np.mean(predicted == y_test) > 0.9                           # chance: 1/3
