"""``xg.CheckpointManager`` (``tf.train.CheckpointManager``): the last ``max_to_keep``
numbered checkpoints kept on disk, the latest restored (weights and optimizer state), a new
manager on the directory numbering on, a failed save removing nothing, bad arguments named."""
from __future__ import annotations

import os

import numpy as np
import pytest

import xpgrad as xg


def _model_and_optimizer(seed=0):
    model = xg.nn.MLP([2, 3, 1], rng=seed)
    return model, xg.optim.Adam(learning_rate=0.1)


def _step(model, optimizer):
    x = xg.asarray([[1.0, -2.0], [0.5, 0.25]])
    with xg.GradientTape() as tape:
        loss = xg.sum(model(x) ** 2)
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))


def _weights(model):
    return {name: v.numpy().copy() for name, v in model.named_variables().items()}


def test_keeps_the_last_max_to_keep_and_restores_the_latest(tmp_path):
    model, optimizer = _model_and_optimizer()
    manager = xg.CheckpointManager(tmp_path / "run", model, optimizer, max_to_keep=2)
    assert manager.checkpoints == [] and manager.latest_checkpoint is None
    saved = []
    for _ in range(4):
        _step(model, optimizer)
        saved.append(_weights(model))
        manager.save()
    names = ["ckpt-3.npz", "ckpt-4.npz"]
    assert sorted(os.listdir(tmp_path / "run")) == names
    assert manager.checkpoints == [str(tmp_path / "run" / n) for n in names]
    assert manager.latest_checkpoint == str(tmp_path / "run" / "ckpt-4.npz")
    fresh, fresh_optimizer = _model_and_optimizer(seed=1)
    assert manager.__class__(tmp_path / "run", fresh, fresh_optimizer).restore() == \
        manager.latest_checkpoint
    for name, value in _weights(fresh).items():
        np.testing.assert_array_equal(value, saved[-1][name])
    assert int(fresh_optimizer.iterations) == 4


def test_a_new_manager_numbers_on_and_rotates_what_it_finds(tmp_path):
    model, _ = _model_and_optimizer()
    (tmp_path / "ckpt-best.npz").write_bytes(b"not ours")
    (tmp_path / "other-1.npz").write_bytes(b"not ours")
    first = xg.CheckpointManager(tmp_path, model, max_to_keep=3)
    for _ in range(2):
        first.save()
    second = xg.CheckpointManager(tmp_path, model, max_to_keep=3)
    assert second.checkpoints == first.checkpoints
    assert os.path.basename(second.save()) == "ckpt-3.npz"
    assert os.path.basename(second.save(checkpoint_number=10)) == "ckpt-10.npz"
    assert sorted(os.listdir(tmp_path)) == ["ckpt-10.npz", "ckpt-2.npz", "ckpt-3.npz",
                                            "ckpt-best.npz", "other-1.npz"]


def test_two_managers_on_one_directory_number_past_each_other(tmp_path):
    """Each save looks at the directory: the second manager's first save is ckpt-2, not a
    second ckpt-1 over the first manager's (the numbering was fixed when it was made)."""
    model_a, _ = _model_and_optimizer(seed=0)
    model_b, _ = _model_and_optimizer(seed=1)
    first = xg.CheckpointManager(tmp_path, model_a, max_to_keep=2)
    second = xg.CheckpointManager(tmp_path, model_b, max_to_keep=2)
    assert os.path.basename(first.save()) == "ckpt-1.npz"
    assert os.path.basename(second.save()) == "ckpt-2.npz"
    restored, _ = _model_and_optimizer(seed=2)
    xg.load_checkpoint(tmp_path / "ckpt-1.npz", restored)
    for name, value in _weights(restored).items():
        np.testing.assert_array_equal(value, _weights(model_a)[name])
    assert os.path.basename(first.save()) == "ckpt-3.npz"       # and rotates what it finds
    assert sorted(os.listdir(tmp_path)) == ["ckpt-2.npz", "ckpt-3.npz"]
    assert first.checkpoints == second.checkpoints
    os.remove(second.latest_checkpoint)                      # removed behind its back
    assert second.restore() == str(tmp_path / "ckpt-2.npz")


def test_a_folder_or_a_zero_padded_name_is_not_a_checkpoint(tmp_path):
    """Only files named as the manager writes them are its checkpoints (a folder's name is
    still a number to save past): rotation used to remove a user's ckpt-007.npz and crash
    with IsADirectoryError on a folder named ckpt-3.npz."""
    model, _ = _model_and_optimizer()
    (tmp_path / "ckpt-3.npz").mkdir()
    (tmp_path / "ckpt-007.npz").write_bytes(b"the user's")
    manager = xg.CheckpointManager(tmp_path, model, max_to_keep=1)
    assert manager.checkpoints == []
    assert [os.path.basename(manager.save()) for _ in range(2)] == ["ckpt-4.npz", "ckpt-5.npz"]
    assert sorted(os.listdir(tmp_path)) == ["ckpt-007.npz", "ckpt-3.npz", "ckpt-5.npz"]
    assert (tmp_path / "ckpt-3.npz").is_dir() and manager.checkpoints == [
        str(tmp_path / "ckpt-5.npz")]


def test_max_to_keep_none_keeps_all_and_metadata_travels(tmp_path):
    model, _ = _model_and_optimizer()
    manager = xg.CheckpointManager(tmp_path, model, max_to_keep=None, checkpoint_name="step")
    for epoch in range(6):
        manager.save(metadata={"epoch": epoch})
    assert len(manager.checkpoints) == len(os.listdir(tmp_path)) == 6
    assert xg.checkpoint_metadata(manager.latest_checkpoint) == {"epoch": 5}


def test_restore_without_a_checkpoint_changes_nothing(tmp_path):
    model, _ = _model_and_optimizer()
    before = _weights(model)
    assert xg.CheckpointManager(tmp_path / "none", model).restore() is None
    for name, value in _weights(model).items():
        np.testing.assert_array_equal(value, before[name])
    assert not os.path.exists(tmp_path / "none")       # created by the first save only


def test_a_failed_save_removes_no_checkpoint(tmp_path):
    model, _ = _model_and_optimizer()
    manager = xg.CheckpointManager(tmp_path, model, max_to_keep=1)
    manager.save()
    with pytest.raises(TypeError, match="metadata must be JSON-serializable"):
        manager.save(metadata={"bad": object()})
    assert os.listdir(tmp_path) == ["ckpt-1.npz"]
    assert manager.checkpoints == [str(tmp_path / "ckpt-1.npz")]


@pytest.mark.parametrize("kwargs, error, words", [
    ({"max_to_keep": 0}, ValueError, r"max_to_keep must be a positive int or None \(keep every checkpoint\), got 0"),
    ({"max_to_keep": True}, ValueError, "max_to_keep must be a positive int"),
    ({"max_to_keep": "3"}, ValueError, "max_to_keep must be a positive int"),
    ({"checkpoint_name": "a/b"}, ValueError, "checkpoint_name must be a non-empty file name"),
    ({"checkpoint_name": ""}, ValueError, "checkpoint_name must be a non-empty file name"),
    ({"optimizer": "adam"}, TypeError, "optimizer"),
])
def test_bad_arguments_are_named(tmp_path, kwargs, error, words):
    model, _ = _model_and_optimizer()
    with pytest.raises(error, match=words):
        xg.CheckpointManager(tmp_path, model, **kwargs)


def test_bad_directory_model_and_number_are_named(tmp_path):
    model, _ = _model_and_optimizer()
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(xg.CheckpointError, match="directory .*file' is a file, not a "
                                                 "directory"):
        xg.CheckpointManager(tmp_path / "file", model)
    with pytest.raises(TypeError, match="directory must be a str or os.PathLike, got int"):
        xg.CheckpointManager(3, model)
    with pytest.raises(xg.CheckpointError, match="CheckpointManager: directory is empty; give "
                                                 "the folder"):
        xg.CheckpointManager("", model)           # (it asked for "the checkpoint's file name")
    with pytest.raises(TypeError):
        xg.CheckpointManager(tmp_path, 3.0)
    manager = xg.CheckpointManager(tmp_path, model)
    manager.save()
    with pytest.raises(ValueError, match="checkpoint_number 1 is not past the latest "
                                         "checkpoint's, 1"):
        manager.save(checkpoint_number=1)
    with pytest.raises(TypeError, match="checkpoint_number must be an int, got str"):
        manager.save(checkpoint_number="2")
