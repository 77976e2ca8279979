"""Checkpoints carry random state: a run with dropout trained k steps, saved, loaded into a
fresh model built from other seeds and trained on equals the uninterrupted run bit for bit (the
modules' generators and the global seed travel in the checkpoint, not in ``state_dict``); a
checkpoint written before them still loads, and a damaged random state is refused, changing
nothing."""
import json

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]

pytestmark = pytest.mark.usefixtures("numpy_default")


class DropoutMLP(xg.nn.Module):
    """A Dropout with a generator, one made from the global seed on its first call, and the
    functional dropout, which takes the global seed's next child at every call."""

    def __init__(self, seed, n_in=6, n_hidden=16, n_out=3):
        super().__init__("dropout_mlp")
        self.first = xg.nn.Linear(n_in, n_hidden, rng=seed)
        self.given = xg.nn.Dropout(0.3, rng=xg.random.default_rng(seed + 100))
        self.unseeded = xg.nn.Dropout(0.4)
        self.second = xg.nn.Linear(n_hidden, n_out, rng=seed)

    def forward(self, x):
        h = self.unseeded(self.given(xg.relu(self.first(x))))
        return self.second(xg.nn.dropout(h, 0.25))


def _transformer(seed):       # one generator shared by its attention and its four dropouts
    return xg.nn.TransformerEncoderLayer(6, 2, dim_feedforward=8, dropout=0.3,
                                         batch_first=True, rng=seed, dtype=xg.float64)


MODELS = {"dropout_mlp": DropoutMLP, "transformer": _transformer}


def _x(name):
    shape = (8, 6) if name == "dropout_mlp" else (2, 3, 6)
    return xg.asarray(np.random.default_rng(0).normal(size=shape)).astype(
        xg.float32 if name == "dropout_mlp" else xg.float64)


def _train(model, opt, x, steps):
    for _ in range(steps):
        with xg.GradientTape() as tape:
            loss = xg.mean(model(x) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))


def _weights(model):
    return {k: np.asarray(v) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_run_split_by_a_checkpoint_equals_the_uninterrupted_run(name, backend, tmp_path):
    with xg.use_backend(backend):
        _split_and_resumed(name, backend, tmp_path)


def _split_and_resumed(name, backend, tmp_path):
    x, build = _x(name), MODELS[name]
    xg.random.seed(1)
    whole = build(0)
    opt = xg.optim.Adam(0.01)
    _train(whole, opt, x, 6)
    assert {v.backend.name for v in whole.variables} == {backend}

    xg.random.seed(1)
    part = build(0)
    opt = xg.optim.Adam(0.01)
    _train(part, opt, x, 2)
    path = tmp_path / "c.npz"
    xg.save_checkpoint(path, part, opt)
    _train(part, opt, x, 1)                   # on past the save: the file keeps step 2's state

    xg.random.seed(7)                         # another script: other seeds everywhere
    resumed = build(3)
    opt = xg.optim.Adam(0.01)
    xg.load_checkpoint(path, resumed, opt)
    _train(resumed, opt, x, 4)
    a, b = _weights(whole), _weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_the_saved_state_is_the_modules_and_the_global_seeds_not_the_state_dicts(tmp_path):
    xg.random.seed(4)
    model = DropoutMLP(0)
    model(_x("dropout_mlp"))
    path = tmp_path / "c.npz"
    xg.save_checkpoint(path, model)
    with np.load(path) as saved:
        meta = json.loads(str(saved["__xpgrad__"]))
        arrays = set(saved.files)
    assert sorted(meta["generators"]) == ["dropout_mlp/given/rng", "dropout_mlp/unseeded/rng"]
    assert meta["generators"]["dropout_mlp/given/rng"] == {
        "backend": model.given._rng.backend.name, "state": model.given._rng.get_state()}
    assert meta["random"] == xg.random.get_state() and meta["random"]["children"] > 0
    assert not any("rng" in key for key in arrays)
    assert not any("rng" in key for key in model.state_dict())


def test_an_unused_dropouts_seed_is_saved_and_put_back(tmp_path):
    path = tmp_path / "c.npz"
    xg.save_checkpoint(path, xg.nn.Sequential([xg.nn.Linear(2, 2, rng=0),
                                               xg.nn.Dropout(0.5, rng=5)]))
    fresh = xg.nn.Sequential([xg.nn.Linear(2, 2, rng=1), xg.nn.Dropout(0.5, rng=9)])
    xg.load_checkpoint(path, fresh)
    mask = fresh.layers[1](xg.ones(50)).numpy()
    assert np.array_equal(mask, xg.nn.Dropout(0.5, rng=5)(xg.ones(50)).numpy())


def test_a_checkpoint_without_random_state_still_loads(tmp_path):
    """The format of the checkpoints written before the random state was saved, by hand."""
    model = DropoutMLP(0)
    path = tmp_path / "old.npz"
    meta = {"format": 1, "optimizer": None, "metadata": None}
    np.savez(path, __xpgrad__=np.asarray(json.dumps(meta)),
             **{f"model/{k}": np.full(v.shape, 0.5, v.dtype.name)
                for k, v in model.named_variables().items()})
    xg.random.seed(2)
    before_global = xg.random.get_state()
    before = model.given._rng.get_state()
    xg.load_checkpoint(path, model)
    assert all((v.numpy() == 0.5).all() for v in model.variables)
    assert model.given._rng.get_state() == before
    assert xg.random.get_state() == before_global


@pytest.mark.parametrize("damage, said", [
    ({"dropout_mlp/given/rng": {"backend": "numpy", "state": {"bit_generator": "MT19937"}}},
     "random state"),
    ({"dropout_mlp/given/rng": {"seed": -1}}, "a seed must be an int >= 0"),
    ({"dropout_mlp/given/rng": [1, 2]}, "must be a dict"),
])
def test_a_damaged_random_state_is_refused_changing_nothing(damage, said, tmp_path):
    model = DropoutMLP(0)
    path = tmp_path / "c.npz"
    xg.save_checkpoint(path, model)
    with np.load(path) as saved:
        arrays = {k: saved[k] for k in saved.files}
    meta = json.loads(str(arrays.pop("__xpgrad__")))
    meta["generators"].update(damage)
    np.savez(path, __xpgrad__=np.asarray(json.dumps(meta)), **arrays)
    fresh = DropoutMLP(1)
    weights, state = _weights(fresh), fresh.given._rng.get_state()
    with pytest.raises(xg.CheckpointError, match=said) as raised:
        xg.load_checkpoint(path, fresh)
    assert str(path) in str(raised.value)
    assert fresh.given._rng.get_state() == state
    after = _weights(fresh)
    assert all(np.array_equal(weights[k], after[k]) for k in weights)
