"""BatchNorm1d in training: an MLP with it trained by SGD equals the same torch model step by
step (weights and running statistics); an ``xg.function`` training step equals the eager one
on every replay, buffers included; ``xg.recompute_grad`` updates the statistics once; the
docs/nn.md's example runs."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn
from docs_text import text_from

BACKENDS = [b for b in ("numpy", "numba") if backend_report().get(b, {}).get("available")]
ROOT = Path(__file__).resolve().parents[1]


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _model(backend, momentum=0.1):
    c = 5
    return nn.Sequential(nn.Linear(3, c, rng=0, dtype="float64", backend=backend),
                         nn.BatchNorm1d(c, momentum=momentum, dtype="float64", backend=backend),
                         nn.Tanh(), nn.Linear(c, 2, rng=1, dtype="float64", backend=backend))


def _batches(backend, n=5, shape=(6, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [(xg.asarray(rng.normal(size=shape) * 2 + 1, backend=backend),
             xg.asarray(rng.normal(size=(shape[0], 2)), backend=backend)) for _ in range(n)]


def _sgd_step(model, opt):
    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(model(x), y)
        variables = model.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss
    return step


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_mlp_trains_as_the_same_torch_model(backend, momentum):
    torch = _torch()
    ours = _model(backend, momentum)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.BatchNorm1d(5, momentum=momentum),
                              torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    ours.load_torch_state_dict(ref.state_dict())
    topt = torch.optim.SGD(ref.parameters(), lr=0.1)
    step = _sgd_step(ours, xg.optim.SGD(0.1))
    for x, y in _batches(backend):
        loss = step(x, y)
        topt.zero_grad()
        tloss = torch.nn.functional.mse_loss(ref(torch.tensor(x.numpy())),
                                             torch.tensor(y.numpy()))
        tloss.backward()
        topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
        state = ours.torch_state_dict()
        for k, v in ref.state_dict().items():
            np.testing.assert_allclose(state[k], v.numpy(), rtol=1e-11, atol=1e-13, err_msg=k)
    ours.eval(), ref.eval()
    x = np.random.default_rng(9).normal(size=(1, 3))
    np.testing.assert_allclose(ours(xg.asarray(x, backend=backend)).numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-11)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_compiled_step_updates_the_statistics_on_every_replay(backend, momentum):
    eager_model, model = _model(backend, momentum), _model(backend, momentum)
    eager = _sgd_step(eager_model, xg.optim.SGD(0.1))
    compiled = xg.function(_sgd_step(model, xg.optim.SGD(0.1)))
    for x, y in _batches(backend, n=6):
        np.testing.assert_allclose(compiled(x, y).numpy(), eager(x, y).numpy(), rtol=1e-12)
        want, got = eager_model.state_dict(), model.state_dict()
        for k in want:                       # after every call, not only at the end
            np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-14, err_msg=k)
    assert compiled.trace_count == 1
    assert model.layers[1].num_batches_tracked.item() == 6
    model.eval(), eager_model.eval()             # the mode is guarded: eval traces again
    x = _batches(backend, n=1, seed=3)[0][0]
    predict = xg.function(lambda x: model(x))
    np.testing.assert_allclose(predict(x).numpy(), eager_model(x).numpy(), rtol=1e-12)
    assert model.layers[1].num_batches_tracked.item() == 6


def test_compiled_three_d_input_and_mode_switch():
    bn = nn.BatchNorm1d(3, dtype="float64")
    ref = nn.BatchNorm1d(3, dtype="float64")
    call = xg.function(lambda x: bn(x))
    rng = np.random.default_rng(0)
    for mode in (True, True, False, True, False):
        bn.train(mode), ref.train(mode)
        x = xg.asarray(rng.normal(size=(4, 3, 2)))
        np.testing.assert_allclose(call(x).numpy(), ref(x).numpy(), rtol=1e-12)
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(bn.state_dict()[k], v, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3 and call.trace_count == 2


def _checkpointed_step(compiled):
    rng = np.random.default_rng(0)
    w = xg.Variable(rng.normal(size=(3, 4)), name="w")
    bn = nn.BatchNorm1d(4, dtype="float64")
    block = xg.recompute_grad(lambda x: xg.tanh(bn(x @ w)))

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(block(x) ** 2)
        return tape.gradient(loss, [w, bn.weight])
    return (xg.function(step) if compiled else step), bn


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("compiled", [False, True])
def test_recompute_grad_updates_the_statistics_once(compiled):
    """The block runs again for the gradient; the statistics move once per step (PyTorch's
    checkpoint would move them twice), and the gradients are the plain ones."""
    step, bn = _checkpointed_step(compiled)
    plain_bn = nn.BatchNorm1d(4, dtype="float64")
    rng = np.random.default_rng(0)
    w = xg.Variable(rng.normal(size=(3, 4)), name="w")
    for i, x in enumerate(_batches("numpy", n=3)):
        grads = step(x[0])
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.tanh(plain_bn(x[0] @ w)) ** 2)
        want = tape.gradient(loss, [w, plain_bn.weight])
        for g, h in zip(grads, want):
            np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-12)
        assert bn.num_batches_tracked.item() == i + 1
        np.testing.assert_allclose(bn.running_mean.numpy(), plain_bn.running_mean.numpy(),
                                   rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.numpy(), plain_bn.running_var.numpy(),
                                   rtol=1e-12)


def test_checkpoint_sequential_with_batch_norm_counts_each_batch_once():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.BatchNorm1d(4), nn.ReLU(),
                          nn.Linear(4, 4, rng=1), nn.BatchNorm1d(4), nn.ReLU(),
                          nn.Linear(4, 1, rng=2))
    x = xg.asarray(np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32))
    for _ in range(2):
        with xg.GradientTape() as tape:
            loss = xg.sum(nn.checkpoint_sequential(model, 3, x))
        assert all(g is not None for g in tape.gradient(loss, model.trainable_variables))
    assert [m.num_batches_tracked.item() for m in (model.layers[1], model.layers[4])] == [2, 2]


def test_readme_batch_norm_example_runs():
    block = re.search(r"```python\n(.*?)```", text_from("An MLP with batch normalization"),
                      re.S).group(1)
    code = ("import xpgrad as xg\n" + block +
            "print(prediction.shape, model.layers[1].num_batches_tracked.item(), "
            "model.layers[1].training)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["(1,", "1)", "5", "False"]
