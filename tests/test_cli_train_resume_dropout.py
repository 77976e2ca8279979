"""`xpgrad train` of a model with dropout, split by --max-steps (mid-epoch, evaluated at the
split) and resumed, ends with the uninterrupted run's weights bit for bit: the checkpoint
carries the dropout generators and the run's global seed, and evaluation draws no masks."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.cli import main
from xpgrad.models import MODELS, ModelSpec

pytestmark = pytest.mark.usefixtures("numpy_default")


def _build(dataset, hidden, rng, backend):
    """A Dropout sharing the weights' generator, and one whose generator the run's global
    seed makes on its first call."""
    return xg.nn.Sequential([
        xg.nn.Linear(dataset.n_features, hidden[0], rng=rng, backend=backend), xg.nn.ReLU(),
        xg.nn.Dropout(0.3, rng=rng), xg.nn.Dropout(0.2),
        xg.nn.Linear(hidden[0], dataset.n_classes, rng=rng, backend=backend)])


def _arrays(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files if not k.startswith("__")}


@pytest.mark.parametrize("compiled", [[], ["--compile"]])
def test_a_run_with_dropout_split_and_resumed_equals_the_uninterrupted_one(compiled, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setitem(MODELS, "dropout_mlp", ModelSpec("dropout_mlp", _build, "test"))
    run = ["train", "-q", "--no-log", "--model", "dropout_mlp", "--hidden", "16",
           "--batch-size", "256", "--epochs", "3", *compiled]
    whole, part = str(tmp_path / "whole.npz"), str(tmp_path / "part.npz")
    assert main([*run, "--checkpoint", whole]) == 0
    assert main([*run, "--checkpoint", part, "--max-steps", "7"]) == 0   # mid-epoch 2
    assert main(["train", "-q", "--no-log", "--resume", part]) == 0
    a, b = _arrays(whole), _arrays(part)
    assert sorted(a) == sorted(b)
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_evaluation_is_in_inference_mode_and_puts_each_modules_mode_back():
    from types import SimpleNamespace

    from xpgrad.training.results import evaluate

    model = _build(SimpleNamespace(n_features=5, n_classes=3), [8], xg.random.default_rng(0),
                   "numpy")
    model.layers[3].eval()                    # one module left in eval mode by its user
    modes = [m.training for _, m in model.named_modules()]
    state = model.layers[2]._rng.get_state()
    x = np.random.default_rng(1).normal(size=(40, 5)).astype(np.float32)
    y = np.arange(40) % 3
    assert evaluate(model, x, y, "numpy") == evaluate(model, x, y, "numpy")
    assert model.layers[2]._rng.get_state() == state            # no mask drawn
    assert [m.training for _, m in model.named_modules()] == modes
