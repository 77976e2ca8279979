"""A Conv1d -> ReLU -> MaxPool1d -> Linear model trains (eager and under xg.function), step for
step as the same torch model; docs/convolution.md's example and benchmarks/conv1d.py run."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from docs_text import text_from

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["numpy"] + (["numba"] if backend_report().get(
    "numba", {"available": False})["available"] else [])


def _task(n=64, length=16, seed=0):
    """Sequences of 2 channels; the class is whether a bump sits in the first or second half."""
    rng = np.random.default_rng(seed)
    x = 0.3 * rng.standard_normal((n, 2, length))
    y = rng.integers(0, 2, n)
    where = rng.integers(0, length // 2 - 2, n) + y * (length // 2)
    x[np.arange(n), 0, where] += 2.0
    x[np.arange(n), 1, where + 1] -= 2.0
    return x, y


def _model(dtype="float32", backend=None):
    rng = xg.random.default_rng(0)
    return xg.nn.Sequential(
        xg.nn.Conv1d(2, 6, 3, padding=1, rng=rng, dtype=dtype, backend=backend), xg.nn.ReLU(),
        xg.nn.MaxPool1d(2), xg.nn.Conv1d(6, 4, 3, stride=2, padding="valid", rng=rng,
                                        dtype=dtype, backend=backend),
        xg.nn.AvgPool1d(3), xg.nn.Flatten(), xg.nn.Linear(4, 2, rng=rng, dtype=dtype,
                                                             backend=backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("compiled", [False, True])
def test_tiny_conv_model_trains(backend, compiled):
    x, y = _task()
    xt, yt = xg.asarray(x.astype(np.float32), backend=backend), xg.asarray(y, backend=backend)
    model = _model(backend=backend)
    opt = xg.optim.Adam(0.03)

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
        return loss

    run = xg.function(step) if compiled else step
    losses = [run(xt, yt).item() for _ in range(40)]
    assert losses[-1] < 0.25 * losses[0], losses
    accuracy = (np.argmax(model(xt).numpy(), axis=1) == y).mean()
    assert accuracy > 0.9


def test_training_matches_torch_step_for_step():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
    nn = torch.nn
    ref = nn.Sequential(nn.Conv1d(2, 6, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                        nn.Conv1d(6, 4, 3, stride=2, padding="valid"), nn.AvgPool1d(3),
                        nn.Flatten(), nn.Linear(4, 2)).double()
    ours = _model("float64")
    ours.load_torch_state_dict(ref.state_dict())
    x, y = _task(16)
    opt = xg.optim.SGD(0.5)       # torch's step by hand: torch.optim's first step takes ~2 s
    for _ in range(4):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(ours(xg.asarray(x)), xg.asarray(y))
        opt.apply_gradients(zip(tape.gradient(loss, ours.trainable_variables),
                                ours.trainable_variables))
        ref.zero_grad()
        tloss = nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        with torch.no_grad():
            for p in ref.parameters():
                p -= 0.5 * p.grad
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    for key, value in ours.torch_state_dict().items():
        np.testing.assert_allclose(value, ref.state_dict()[key].numpy(), rtol=1e-11,
                                   atol=1e-12, err_msg=key)


def test_readme_convolution_example_runs():
    block = re.search(r"```python\n(.*?)```", text_from("**Convolution and pooling.**"),
                      re.S).group(1)
    code = "import xpgrad as xg\n" + block + "print(logits.shape, conv.weight.shape)\n"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["(8,", "3)", "(16,", "4,", "5)"]


def test_benchmark_script_runs_and_checks_against_torch(monkeypatch):
    # imported, it must leave the thread settings alone: NUMBA_NUM_THREADS changed after
    # Numba's threads started makes Numba raise in any later test of this process
    pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
    import os

    before = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                             "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import conv1d as bench
    rows = bench.main(["--repeats", "1", "--rounds", "1", "--scale", "0.03", "--dtype",
                       "float64"])
    assert [name for name, _ in rows] == [name for name, _, _ in bench.WORKLOADS]
    assert all(times["torch"] > 0 and times["numpy"] > 0 for _, times in rows)
    assert {k: os.environ.get(k) for k in before} == before
