"""PyTorch's examples/mnist ``Net`` (Conv2d(1, 32, 3) -> relu -> Conv2d(32, 64, 3) -> relu ->
max_pool2d(2) -> dropout -> flatten -> Linear(9216, 128) -> relu -> dropout -> Linear(128, 10)
-> log_softmax; nll loss; Adadelta lr=1.0 with StepLR(step_size=1, gamma=0.7) per epoch)
ported to xpgrad layer for layer: from the same initial weights (load_torch_state_dict) on the
same synthetic 28x28 float64 batches, dropout off in both (eval mode), the losses agree to
~1e-10 and the weights to ~1e-9 after a few steps, eager on numpy and compiled (xg.function)
on numba."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from docs_text import text_from

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
nn, F = torch.nn, torch.nn.functional

BATCHES, EPOCHS, BATCH = 2, 2, 8           # StepLR steps once per epoch: every BATCHES steps


class TorchNet(nn.Module):
    """examples/mnist/main.py's Net, as it is there."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


class Net(xg.nn.Module):
    """The same network of xg.nn layers (the same attribute names: the same state-dict keys)."""

    def __init__(self, backend):
        super().__init__("net")
        rng = xg.random.default_rng(0)
        kw = {"rng": rng, "dtype": "float64", "backend": backend}
        self.conv1 = xg.nn.Conv2d(1, 32, 3, 1, **kw)
        self.conv2 = xg.nn.Conv2d(32, 64, 3, 1, **kw)
        self.dropout1 = xg.nn.Dropout(0.25, rng=rng)
        self.dropout2 = xg.nn.Dropout(0.5, rng=rng)
        self.fc1 = xg.nn.Linear(9216, 128, **kw)
        self.fc2 = xg.nn.Linear(128, 10, **kw)

    def forward(self, x):
        x = xg.nn.relu(self.conv2(xg.nn.relu(self.conv1(x))))
        x = self.dropout1(xg.nn.max_pool2d(x, 2))
        x = self.dropout2(xg.nn.relu(self.fc1(xg.reshape(x, (x.shape[0], -1)))))
        return xg.nn.log_softmax(self.fc2(x), axis=1)


def _batches():
    rng = np.random.default_rng(0)
    return [(rng.random((BATCH, 1, 28, 28)), rng.integers(0, 10, BATCH))
            for _ in range(BATCHES)]


@pytest.mark.parametrize("backend, compiled", [("numpy", False), ("numba", True)])
def test_mnist_net_trains_as_torchs(backend, compiled):
    if backend not in backend_report() or \
            not backend_report()[backend]["available"]:
        pytest.skip(f"backend {backend} is not available")
    torch.manual_seed(0)
    ref = TorchNet().double()
    ours = Net(backend)
    ours.load_torch_state_dict(ref.state_dict())
    start = {k: v.clone().numpy() for k, v in ref.state_dict().items()}
    ref.eval()
    ours.eval()
    opt_t = torch.optim.Adadelta(ref.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt_t, step_size=1, gamma=0.7)
    opt = xg.optim.Adadelta(xg.optim.StepDecay(1.0, step_size=BATCHES, gamma=0.7))

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.nll(ours(x), y)
        opt.apply_gradients(zip(tape.gradient(loss, ours.trainable_variables),
                                ours.trainable_variables))
        return loss

    run = xg.function(step) if compiled else step
    data = _batches()
    for _ in range(EPOCHS):
        for x, y in data:
            loss = run(xg.asarray(x, backend=backend), xg.asarray(y, backend=backend))
            opt_t.zero_grad()
            tloss = F.nll_loss(ref(torch.tensor(x)), torch.tensor(y))
            tloss.backward()
            opt_t.step()
            assert loss.item() == pytest.approx(tloss.item(), rel=1e-10, abs=1e-12)
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.7 ** EPOCHS)
    want = ref.state_dict()
    got = ours.torch_state_dict()
    assert sorted(got) == sorted(want)
    for key, value in got.items():
        np.testing.assert_allclose(value, want[key].numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=key)
    for key, value in got.items():                   # and they moved
        assert np.abs(value - start[key]).max() > 1e-3, key


def test_readme_conv2d_example_runs():
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    block = re.findall(r"```python\n(.*?)```", text_from("**Convolution and pooling.**"),
                       re.S)[1]
    code = "import xpgrad as xg\n" + block + "print(log_probs.shape, net.torch_state_dict()" \
                                             "['6.weight'].shape)\n"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=root)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["(4,", "10)", "(128,", "9216)"]
