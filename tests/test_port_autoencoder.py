"""A mini U-Net (Conv2d + GroupNorm + ReLU, MaxPool2d, a ConvTranspose2d up path with a concat
skip, an Upsample(bilinear) side path, ReflectionPad2d + Conv2d at the end) ported from
PyTorch to xpgrad layer for layer: from the same weights (load_torch_state_dict) on the same
synthetic (2, 1, 16, 16) float64 batches, a few Adam steps of an MSE reconstruction loss, the
losses agree to ~1e-10 and every weight to ~1e-9; eager on numpy, and on numba an
``xg.function`` step equal to the eager one."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from docs_text import text_from

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
nn, F = torch.nn, torch.nn.functional

STEPS = 3


class TorchUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv2d(1, 4, 3, padding=1)
        self.norm1 = nn.GroupNorm(2, 4)
        self.enc2 = nn.Conv2d(4, 8, 3, padding=1)
        self.norm2 = nn.GroupNorm(4, 8)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.dec = nn.Conv2d(8, 4, 3, padding=1)
        self.norm3 = nn.GroupNorm(2, 4)
        self.side = nn.Conv2d(8, 1, 1)
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear")
        self.pad = nn.ReflectionPad2d(1)
        self.head = nn.Conv2d(4, 1, 3)

    def forward(self, x):
        e1 = F.relu(self.norm1(self.enc1(x)))                          # (N, 4, 16, 16)
        e2 = F.relu(self.norm2(self.enc2(F.max_pool2d(e1, 2))))        # (N, 8, 8, 8)
        d = torch.cat([self.up(e2), e1], dim=1)                        # (N, 8, 16, 16)
        d = F.relu(self.norm3(self.dec(d)))
        return self.head(self.pad(d)) + self.upsample(self.side(e2))


class UNet(xg.nn.Module):
    """The same network of xg.nn layers (the same attribute names: the same state-dict keys)."""

    def __init__(self, backend):
        super().__init__("unet")
        kw = {"rng": 0, "dtype": "float64", "backend": backend}
        norm = {"dtype": "float64", "backend": backend}
        self.enc1 = xg.nn.Conv2d(1, 4, 3, padding=1, **kw)
        self.norm1 = xg.nn.GroupNorm(2, 4, **norm)
        self.enc2 = xg.nn.Conv2d(4, 8, 3, padding=1, **kw)
        self.norm2 = xg.nn.GroupNorm(4, 8, **norm)
        self.up = xg.nn.ConvTranspose2d(8, 4, 2, stride=2, **kw)
        self.dec = xg.nn.Conv2d(8, 4, 3, padding=1, **kw)
        self.norm3 = xg.nn.GroupNorm(2, 4, **norm)
        self.side = xg.nn.Conv2d(8, 1, 1, **kw)
        self.upsample = xg.nn.Upsample(scale_factor=2, mode="bilinear")
        self.pad = xg.nn.ReflectionPad2d(1)
        self.head = xg.nn.Conv2d(4, 1, 3, **kw)

    def forward(self, x):
        e1 = xg.nn.relu(self.norm1(self.enc1(x)))
        e2 = xg.nn.relu(self.norm2(self.enc2(xg.nn.max_pool2d(e1, 2))))
        d = xg.concat([self.up(e2), e1], axis=1)
        d = xg.nn.relu(self.norm3(self.dec(d)))
        return self.head(self.pad(d)) + self.upsample(self.side(e2))


def _ours(backend, state, compiled):
    model = UNet(backend)
    model.load_torch_state_dict(state)
    opt = xg.optim.Adam(1e-2)

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.mean((model(x) - x) ** 2)
        variables = model.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return model, (xg.function(step) if compiled else step)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_unet_trains_as_torchs(backend):
    if not backend_report().get(backend, {}).get("available"):
        pytest.skip(f"backend {backend} is not available")
    torch.manual_seed(0)
    ref = TorchUNet().double()
    with torch.no_grad():                                   # GroupNorm's affine off 1 and 0
        for norm in (ref.norm1, ref.norm2, ref.norm3):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    start = {k: v.clone().numpy() for k, v in ref.state_dict().items()}
    runs = {"eager": _ours(backend, ref.state_dict(), compiled=False)}
    if backend == "numba":
        runs["compiled"] = _ours(backend, ref.state_dict(), compiled=True)
    opt_t = torch.optim.Adam(ref.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(STEPS):
        x = rng.normal(size=(2, 1, 16, 16))
        losses = {k: step(xg.asarray(x, backend=backend)) for k, (_, step) in runs.items()}
        opt_t.zero_grad()
        tx = torch.tensor(x)
        tloss = ((ref(tx) - tx) ** 2).mean()
        tloss.backward()
        opt_t.step()
        for loss in losses.values():
            assert loss.item() == pytest.approx(tloss.item(), rel=1e-10, abs=1e-12)
        if "compiled" in losses:
            assert losses["compiled"].item() == pytest.approx(losses["eager"].item(), rel=1e-13)
    want = {k: v.numpy() for k, v in ref.state_dict().items()}
    for name, (model, _) in runs.items():
        got = model.torch_state_dict()
        assert sorted(got) == sorted(want)
        for key, value in got.items():
            np.testing.assert_allclose(value, want[key], rtol=1e-9, atol=1e-11,
                                       err_msg=f"{name}: {key}")
    if "compiled" in runs:
        assert runs["compiled"][1].trace_count == 1
        eager = runs["eager"][0].torch_state_dict()
        for key, value in runs["compiled"][0].torch_state_dict().items():
            np.testing.assert_allclose(value, eager[key], rtol=1e-12, atol=1e-13, err_msg=key)
    for key in ("up.weight", "norm2.bias", "head.bias"):                # they moved
        assert np.abs(want[key] - start[key]).max() > 1e-3, key


def test_readme_upsampling_example_runs():
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    block = re.search(r"```python\n(.*?)```",
                      text_from("**Upsampling and transposed convolution.**"), re.S).group(1)
    code = "import xpgrad as xg\n" + block + "print(h.shape, y.shape, out.shape)\n"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=root)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split("\n")[0] == "(2, 8, 8, 8) (2, 8, 16, 16) (2, 1, 16, 16)"


def test_benchmark_script_runs_and_checks_against_torch(monkeypatch):
    import os
    from pathlib import Path

    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    before = {k: os.environ.get(k) for k in names}
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import upconv as bench
    rows = bench.main(["--repeats", "1", "--rounds", "1", "--scale", "0.05", "--dtype",
                       "float64"])
    assert [name for name, _ in rows] == [w[0] for w in bench.WORKLOADS]
    assert all(times["torch"] > 0 and times["numpy"] > 0 for _, times in rows)
    assert {k: os.environ.get(k) for k in names} == before
