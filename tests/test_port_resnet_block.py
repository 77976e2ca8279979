"""A small ResNet of two basic blocks (torchvision's ``BasicBlock``: Conv2d 3x3 without bias ->
BatchNorm2d -> ReLU -> Conv2d 3x3 -> BatchNorm2d, + the shortcut -> ReLU; the first block with
stride 2 and a 1x1-conv + BatchNorm2d downsample, the second with the identity), then
AdaptiveAvgPool2d(1) -> flatten -> Linear, ported to xpgrad layer for layer: from the same
weights (load_torch_state_dict) on the same synthetic (4, 3, 16, 16) float64 batches, SGD with
momentum and weight decay, in training mode, the losses agree to ~1e-10 and every weight and
batch-norm running statistic (num_batches_tracked too) to ~1e-9, then eval mode's outputs;
eager on numpy, and on numba an ``xg.function`` step equal to the eager one. docs/convolution.md's
"CNN blocks" example and benchmarks/cnn_blocks.py run."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from docs_text import text_from

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
nn, F = torch.nn, torch.nn.functional

STEPS, BATCH, CLASSES = 4, 4, 5
ROOT = Path(__file__).resolve().parents[1]


class TorchBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock, as it is there (no groups, no dilation)."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + identity)


class TorchNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = TorchBlock(3, 8, stride=2)
        self.layer2 = TorchBlock(8, 8)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, CLASSES)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.layer2(self.layer1(x))), 1))


class Block(xg.nn.Module):
    """The same block of xg.nn layers (the same attribute names: the same state-dict keys)."""

    def __init__(self, cin, cout, stride, kw, name):
        super().__init__(name)
        bn = {k: v for k, v in kw.items() if k != "rng"}
        self.conv1 = xg.nn.Conv2d(cin, cout, 3, stride, padding=1, bias=False, **kw)
        self.bn1 = xg.nn.BatchNorm2d(cout, **bn)
        self.conv2 = xg.nn.Conv2d(cout, cout, 3, 1, padding=1, bias=False, **kw)
        self.bn2 = xg.nn.BatchNorm2d(cout, **bn)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = xg.nn.Sequential(
                xg.nn.Conv2d(cin, cout, 1, stride, bias=False, **kw), xg.nn.BatchNorm2d(cout, **bn))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = xg.nn.relu(self.bn1(self.conv1(x)))
        return xg.nn.relu(self.bn2(self.conv2(out)) + identity)


class Net(xg.nn.Module):
    def __init__(self, backend):
        super().__init__("net")
        kw = {"rng": xg.random.default_rng(0), "dtype": "float64", "backend": backend}
        self.layer1 = Block(3, 8, 2, kw, "layer1")
        self.layer2 = Block(8, 8, 1, kw, "layer2")
        self.avgpool = xg.nn.AdaptiveAvgPool2d(1)
        self.fc = xg.nn.Linear(8, CLASSES, **kw)

    def forward(self, x):
        y = self.avgpool(self.layer2(self.layer1(x)))
        return self.fc(xg.reshape(y, (y.shape[0], -1)))


def _available(backend):
    if not backend_report().get(backend, {}).get("available"):
        pytest.skip(f"backend {backend} is not available")


def _batches():
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(BATCH, 3, 16, 16)) * 2.0 + 0.5, rng.integers(0, CLASSES, BATCH))
            for _ in range(STEPS)]


def _ours(backend, state, compiled):
    """The xpgrad twin loaded with ``state`` and its (compiled) SGD training step."""
    model = Net(backend)
    model.load_torch_state_dict(state)
    opt = xg.optim.SGD(0.05, momentum=0.9, weight_decay=1e-3)

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        variables = model.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return model, (xg.function(step) if compiled else step)


def _same(got, want, rtol, what):
    assert sorted(got) == sorted(want), what
    for key, value in got.items():
        np.testing.assert_allclose(value, want[key], rtol=rtol, atol=1e-11,
                                   err_msg=f"{what}: {key}")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_resnet_blocks_train_as_torchs(backend):
    _available(backend)
    torch.manual_seed(0)
    ref = TorchNet().double()
    start = {k: v.clone().numpy() for k, v in ref.state_dict().items()}
    # numpy: eager against torch; numba: compiled against torch and against eager
    runs = {"eager": _ours(backend, ref.state_dict(), compiled=False)}
    if backend == "numba":
        runs["compiled"] = _ours(backend, ref.state_dict(), compiled=True)
    opt_t = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    for x, y in _batches():
        losses = {k: step(xg.asarray(x, backend=backend), xg.asarray(y, backend=backend))
                  for k, (_, step) in runs.items()}
        opt_t.zero_grad()
        tloss = F.cross_entropy(ref(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        opt_t.step()
        for loss in losses.values():
            assert loss.item() == pytest.approx(tloss.item(), rel=1e-10, abs=1e-12)
        if "compiled" in losses:
            assert losses["compiled"].item() == pytest.approx(losses["eager"].item(), rel=1e-13)
    want = {k: v.numpy() for k, v in ref.state_dict().items()}
    for name, (model, step) in runs.items():
        got = model.torch_state_dict()
        _same(got, want, 1e-9, f"{name} against torch")
        assert got["layer1.bn1.num_batches_tracked"] == STEPS
    if "compiled" in runs:
        assert runs["compiled"][1].trace_count == 1
        _same(runs["compiled"][0].torch_state_dict(), runs["eager"][0].torch_state_dict(),
              1e-12, "compiled against eager")
    for key in ("layer1.conv1.weight", "layer2.bn2.running_var", "fc.bias"):   # they moved
        assert np.abs(want[key] - start[key]).max() > 1e-3, key
    ref.eval()
    x = np.random.default_rng(5).normal(size=(2, 3, 16, 16))
    expect = ref(torch.tensor(x)).detach().numpy()
    for model, _ in runs.values():
        model.eval()
        np.testing.assert_allclose(model(xg.asarray(x, backend=backend)).numpy(), expect,
                                   rtol=1e-9, atol=1e-11)


def test_readme_cnn_blocks_example_runs():
    block = re.search(r"```python\n(.*?)```", text_from("**CNN blocks.**"), re.S).group(1)
    code = ("import xpgrad as xg\n" + block + "print(logits.shape, model.layers[1].training, "
            "model.layers[1].num_batches_tracked.item())\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["(8,", "10)", "False", "1"]


def test_benchmark_script_runs_and_checks_against_torch(monkeypatch):
    import os

    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    before = {k: os.environ.get(k) for k in names}
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import cnn_blocks as bench
    rows = bench.main(["--repeats", "1", "--rounds", "1", "--scale", "0.05", "--dtype",
                       "float64"])
    assert [name for name, _ in rows] == [name for name, _ in bench.WORKLOADS]
    assert all(times["torch"] > 0 and times["numpy"] > 0 for _, times in rows)
    assert {k: os.environ.get(k) for k in names} == before
