"""A checkpoint's metadata takes the numbers a training loop has at hand: NumPy scalars
(np.float32 from a float32 mean, np.int64 from a counter array) and 0-d Tensors (a
validation loss), stored as the Python numbers they equal, as json would store float and int.
Other objects stay refused, naming the key that holds them."""
import numpy as np
import pytest

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")


def test_numpy_scalars_and_0d_tensors_are_stored_as_their_numbers(tmp_path):
    model = xg.nn.Linear(2, 1, rng=0)
    val_loss = xg.mean(xg.asarray([0.25, 0.5], dtype=xg.float32))
    meta = {"val_loss": val_loss, "best": np.float32(0.1), "epoch": np.int64(3),
            "stopped": np.bool_(False), "history": [np.float32(1.5), np.int32(2)]}
    xg.save_checkpoint(tmp_path / "c.npz", model, metadata=meta)
    loaded = xg.checkpoint_metadata(tmp_path / "c.npz")
    assert loaded == {"val_loss": 0.375, "best": float(np.float32(0.1)), "epoch": 3,
                      "stopped": False, "history": [1.5, 2]}
    assert type(loaded["epoch"]) is int and type(loaded["stopped"]) is bool


def test_other_objects_and_non_finite_numbers_stay_refused_naming_the_key(tmp_path):
    model = xg.nn.Linear(2, 1, rng=0)
    with pytest.raises(TypeError, match=r"metadata must be JSON-serializable .*'weights'.*"
                                        r"Tensor of shape \(2,\)"):
        xg.save_checkpoint(tmp_path / "c.npz", model, metadata={"weights": xg.ones(2)})
    with pytest.raises(TypeError, match="metadata must be JSON-serializable .*'val'.*float32"):
        xg.save_checkpoint(tmp_path / "c.npz", model, metadata={"val": np.float32("nan")})
    with pytest.raises(TypeError, match="metadata must be JSON-serializable .*'bad'.*object"):
        xg.save_checkpoint(tmp_path / "c.npz", model, metadata={"ok": 1, "bad": object()})
    assert not (tmp_path / "c.npz").exists()
