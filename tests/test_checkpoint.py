"""Checkpoints: round trip with optimizer state, each kind of mismatch, atomic saving."""
import os

import numpy as np
import pytest

import xpgrad as xg


def _train(model, opt, steps, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = xg.asarray(rng.standard_normal((8, 4)).astype(np.float32))
        y = xg.asarray(rng.integers(0, 3, 8))
        opt.minimize(lambda: xg.losses.softmax_cross_entropy(model(x), y), model)


def test_round_trip_restores_model_and_optimizer(tmp_path):
    model, opt = xg.nn.MLP([4, 6, 3], rng=0), xg.optim.Adam(0.01)
    _train(model, opt, 3)
    path = tmp_path / "ckpt.npz"
    xg.save_checkpoint(path, model, opt)
    with np.load(path) as z:
        assert "model/mlp/linear0/w" in z.files and "optimizer/mlp/linear1/b/m" in z.files
    model2, opt2 = xg.nn.MLP([4, 6, 3], rng=1), xg.optim.Adam(0.01)
    xg.load_checkpoint(path, model2, opt2)
    assert opt2.iterations == 3
    for a, b in zip(model.variables, model2.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    _train(model, opt, 2, seed=5)          # the same next steps give the same weights
    _train(model2, opt2, 2, seed=5)
    for a, b in zip(model.variables, model2.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_model_only_and_ignoring_optimizer_entries(tmp_path):
    model, opt = xg.nn.MLP([2, 3, 1], rng=0), xg.optim.SGD(0.1, momentum=0.9)
    opt.minimize(lambda: xg.sum(model(xg.ones((1, 2)))), model)
    xg.save_checkpoint(tmp_path / "a.npz", model, opt)
    other = xg.nn.MLP([2, 3, 1], rng=9)
    xg.load_checkpoint(tmp_path / "a.npz", other)           # optimizer entries ignored
    np.testing.assert_array_equal(other.layers[0].w.numpy(), model.layers[0].w.numpy())
    xg.save_checkpoint(tmp_path / "b.npz", model)
    with pytest.raises(xg.CheckpointError, match="missing 'optimizer/iterations'"):
        xg.load_checkpoint(tmp_path / "b.npz", other, xg.optim.SGD(0.1, momentum=0.9))
    with pytest.raises(xg.CheckpointError, match="holds SGD state, not Adam"):
        xg.load_checkpoint(tmp_path / "a.npz", other, xg.optim.Adam())


def test_fresh_optimizer_state_for_untouched_variables_is_optional(tmp_path):
    model, opt = xg.nn.MLP([2, 3, 1], rng=0), xg.optim.Adam()
    xg.save_checkpoint(tmp_path / "c.npz", model, opt)      # before any step: no slots
    opt2 = xg.optim.Adam()
    xg.load_checkpoint(tmp_path / "c.npz", model, opt2)
    assert opt2.iterations == 0


def test_each_mismatch_is_named(tmp_path):
    path = tmp_path / "m.npz"
    xg.save_checkpoint(path, xg.nn.MLP([4, 5, 3], rng=0))
    cases = [
        (xg.nn.MLP([4, 5, 5, 3], rng=0), ["missing 'model/mlp/linear2/w'",
                                          "shape of 'model/mlp/linear1/w': checkpoint (5, 3), "
                                          "model (5, 5)"]),
        (xg.nn.MLP([4, 3], rng=0), ["unexpected 'model/mlp/linear1/w'",
                                    "shape of 'model/mlp/linear0/w': checkpoint (4, 5), "
                                    "model (4, 3)"]),
        (xg.nn.MLP([4, 5, 3], rng=0, dtype="float64"),
         ["dtype of 'model/mlp/linear0/w': checkpoint float32, model float64"]),
        (xg.nn.MLP([4, 5, 3], rng=0, name="net"), ["missing 'model/net/linear0/w'",
                                                   "unexpected 'model/mlp/linear0/w'"]),
    ]
    for model, expected in cases:
        before = [v.numpy().copy() for v in model.variables]
        with pytest.raises(xg.CheckpointError) as err:
            xg.load_checkpoint(path, model)
        for line in expected:
            assert line in str(err.value)
        for v, b in zip(model.variables, before):       # nothing was changed
            np.testing.assert_array_equal(v.numpy(), b)


def test_not_an_xpgrad_checkpoint(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    with pytest.raises(xg.CheckpointError, match="not an xpgrad checkpoint"):
        xg.load_checkpoint(tmp_path / "plain.npz", xg.nn.Linear(2, 1, rng=0))


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    model = xg.nn.MLP([3, 4, 2], rng=0)
    xg.save_checkpoint(path, model)
    good = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    model.layers[0].w.assign(np.zeros((3, 4)))
    with pytest.raises(OSError, match="disk full"):
        xg.save_checkpoint(path, model)
    assert path.read_bytes() == good                       # the old checkpoint survives
    assert os.listdir(tmp_path) == ["ckpt.npz"]            # no temporary file left
    with pytest.raises(OSError, match="disk full"):
        xg.save_checkpoint(tmp_path / "new.npz", model)
    assert os.listdir(tmp_path) == ["ckpt.npz"]            # no partial new file


def test_dict_and_list_of_variables(tmp_path):
    a, b = xg.Variable([1.0, 2.0], name="a"), xg.Variable([[3.0]], name="b")
    xg.save_checkpoint(tmp_path / "v.npz", [a, b])
    c, d = xg.Variable([0.0, 0.0], name="a"), xg.Variable([[0.0]], name="b")
    xg.load_checkpoint(tmp_path / "v.npz", {"a": c, "b": d})
    assert c.tolist() == [1.0, 2.0] and d.tolist() == [[3.0]]
    with pytest.raises(ValueError, match="two variables are named 'a'"):
        xg.save_checkpoint(tmp_path / "x.npz", [a, c])
