"""A checkpoint's metadata takes the numbers a training loop has at hand: NumPy scalars
(np.float32 from a float32 mean, np.int64 from a counter array) and 0-d Tensors (a
validation loss), stored as the Python numbers they equal, as json would store float and int;
non-finite floats (an ``EarlyStopping(baseline=float("inf"))``) as ``{"__float__": "inf"}``,
read back as the floats (before 2026-12-07 refused, so such an EarlyStopping's state could not
be saved). Other objects stay refused, naming the key that holds them."""
import re

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


def test_other_objects_stay_refused_naming_the_key(tmp_path):
    model = xg.nn.Linear(2, 1, rng=0)
    with pytest.raises(TypeError, match=r"metadata must be JSON-serializable .*'weights'.*"
                                        r"Tensor of shape \(2,\)"):
        xg.save_checkpoint(tmp_path / "c.npz", model, metadata={"weights": xg.ones(2)})
    with pytest.raises(TypeError, match="metadata must be JSON-serializable .*'bad'.*object"):
        xg.save_checkpoint(tmp_path / "c.npz", model, metadata={"ok": 1, "bad": object()})
    assert not (tmp_path / "c.npz").exists()


def test_non_finite_floats_round_trip_as_strict_json(tmp_path):
    model = xg.nn.Linear(2, 1, rng=0)
    meta = {"baseline": float("inf"), "best": -np.inf, "val": np.float32("nan"),
            "history": [1.0, float("-inf")], "nested": {"x": xg.asarray(np.inf)}}
    xg.save_checkpoint(tmp_path / "c.npz", model, metadata=meta)
    loaded = xg.checkpoint_metadata(tmp_path / "c.npz")
    assert loaded["baseline"] == np.inf and loaded["best"] == -np.inf
    assert np.isnan(loaded["val"]) and type(loaded["val"]) is float
    assert loaded["history"] == [1.0, -np.inf] and loaded["nested"] == {"x": np.inf}
    with np.load(tmp_path / "c.npz") as data:      # strict JSON: no Infinity / NaN tokens
        raw = str(data["__xpgrad__"])
    assert "Infinity" not in raw and "NaN" not in raw, raw


@pytest.mark.parametrize("meta", [{"tag": {"__float__": "inf"}},
                                  {"runs": [1.0, {"__float__": "nan"}]},
                                  {"ok": {"__float__": "inf", "other": 1},
                                   "fine": {"__float__": "a string"}}])
def test_a_dict_in_the_non_finite_floats_form_round_trips_or_is_refused(tmp_path, meta):
    """A dict of the user's that is exactly ``{"__float__": "inf"}`` loaded back as the
    float inf; it is refused, naming its key, and any other dict round trips."""
    import json

    model = xg.nn.Linear(2, 1, rng=0)
    reserved = [path for path, value in (("metadata['tag']", meta.get("tag")),
                                         ("metadata['runs'][1]", (meta.get("runs") or
                                                                  [None, None])[1]))
                if isinstance(value, dict)]
    if reserved:
        with pytest.raises(TypeError, match=re.escape(reserved[0]) + ".*rename its key"):
            xg.save_checkpoint(tmp_path / "c.npz", model, metadata=meta)
        assert not (tmp_path / "c.npz").exists()
        return
    xg.save_checkpoint(tmp_path / "c.npz", model, metadata=meta)
    assert xg.checkpoint_metadata(tmp_path / "c.npz") == json.loads(json.dumps(meta)) == meta
