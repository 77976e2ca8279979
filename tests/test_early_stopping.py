"""xg.optim.EarlyStopping: Keras 3's EarlyStopping callback for a script's own loop. Its
decisions are checked against a transcription of Keras 3's ``on_epoch_end`` (Keras is not a
dependency) on random metric sequences; restore_best_weights against the weights kept by hand;
state_dict through a checkpoint against the uninterrupted run."""
import math

import numpy as np
import pytest

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")


class _Keras3EarlyStopping:
    """keras/src/callbacks/early_stopping.py (Keras 3.8): on_train_begin and on_epoch_end."""

    def __init__(self, mode, min_delta, patience, baseline, start_from_epoch):
        self.less = mode == "min"
        self.min_delta = -abs(min_delta) if self.less else abs(min_delta)
        self.patience, self.baseline, self.start = patience, baseline, start_from_epoch
        self.wait, self.stopped_epoch, self.best, self.best_epoch = 0, 0, None, 0

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        value = value - self.min_delta
        return value < reference if self.less else value > reference

    def on_epoch_end(self, epoch, current):
        if epoch < self.start:
            return False
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            return True
        return False


@pytest.mark.parametrize("seed", range(40))
def test_decisions_are_keras_3s(seed):
    rng = np.random.default_rng(seed)
    mode = ["min", "max"][seed % 2]
    settings = dict(min_delta=float(rng.choice([0.0, 0.01, 0.05])),
                    patience=int(rng.integers(0, 4)),
                    baseline=None if seed % 3 else float(rng.uniform(0.4, 0.6)),
                    start_from_epoch=int(rng.integers(0, 3)))
    values = np.cumsum(rng.normal(0.0, 0.05, 25)) + 0.5
    values[rng.integers(0, 25)] = np.nan                       # never an improvement
    ours = xg.optim.EarlyStopping(mode=mode, **settings)
    keras = _Keras3EarlyStopping(mode, **settings)
    for epoch, value in enumerate(values):
        stop = keras.on_epoch_end(epoch, value)
        assert ours.step(xg.asarray(value)) == stop, (epoch, settings)
        assert (ours.wait, ours.best_epoch) == (keras.wait, keras.best_epoch)
        assert ours.best == keras.best or (ours.best is None and keras.best is None) \
            or (math.isnan(ours.best) and math.isnan(keras.best))
        if stop:
            assert ours.stopped_epoch == keras.stopped_epoch == epoch
            break


def test_monitor_names_pick_the_mode_as_keras_auto():
    assert xg.optim.EarlyStopping(monitor="val_loss").mode == "min"
    assert xg.optim.EarlyStopping(monitor="val_accuracy").mode == "max"
    assert xg.optim.EarlyStopping(monitor="acc").mode == "max"
    with pytest.raises(ValueError, match="EarlyStopping: .*monitor='val_f1'.*mode='max'"):
        xg.optim.EarlyStopping(monitor="val_f1")
    assert xg.optim.EarlyStopping(monitor="val_f1", mode="max").mode == "max"


def _fit(model, early, epochs, data, opt, start=0):
    x, y, xv, yv = data
    for epoch in range(start, epochs):
        opt.minimize(lambda: xg.losses.mse(model(x), y), model)
        if early.step(xg.losses.mse(model(xv), yv)):
            return epoch
    return None


def _data():
    rng = np.random.default_rng(0)
    x, xv, w = rng.normal(size=(16, 3)), rng.normal(size=(16, 3)), rng.normal(size=(3, 1))
    return (x, x @ w + rng.normal(size=(16, 1)), xv,
            xv @ w + rng.normal(size=(16, 1)))     # learns, then overfits the noise


def test_restore_best_weights_puts_back_the_best_epoch_s():
    data = _data()
    model = xg.nn.MLP([3, 32, 1], rng=0)
    opt = xg.optim.Adam(0.002)
    early = xg.optim.EarlyStopping(model, patience=3, restore_best_weights=True)
    kept, best = {}, math.inf
    x, y, xv, yv = data
    for epoch in range(200):
        opt.minimize(lambda: xg.losses.mse(model(x), y), model)
        loss = float(xg.losses.mse(model(xv), yv))
        if loss < best:
            best, kept = loss, model.state_dict()
        if early.step(loss):
            break
    assert early.stopped_epoch == epoch and early.best_epoch < epoch
    assert early.restore() is True
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, kept[name])
    assert float(xg.losses.mse(model(xv), yv)) == best == early.best


def test_state_through_a_checkpoint_resumes_the_same_decisions(tmp_path):
    data = _data()

    def build():
        model = xg.nn.MLP([3, 32, 1], rng=0)
        return model, xg.optim.Adam(0.002), xg.optim.EarlyStopping(
            model, patience=3, restore_best_weights=True)

    model, opt, early = build()
    stopped = _fit(model, early, 200, data, opt)
    early.restore()
    model2, opt2, early2 = build()
    assert stopped > 20
    assert _fit(model2, early2, 10, data, opt2) is None
    path = tmp_path / "ckpt.npz"
    xg.save_checkpoint(path, model2, opt2, metadata={"early": early2.state_dict()},
                       extra=early2.best_weights_extra())
    model3, opt3, early3 = build()
    xg.load_checkpoint(path, model3, opt3)
    early3.load_state_dict(xg.checkpoint_metadata(path)["early"], xg.checkpoint_extra(path))
    assert _fit(model3, early3, 200, data, opt3, start=10) == stopped
    early3.restore()
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(model3.state_dict()[name], value)


def test_bad_settings_and_values_name_the_argument():
    with pytest.raises(ValueError, match="EarlyStopping: patience must be an integer >= 0"):
        xg.optim.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="EarlyStopping: min_delta must be"):
        xg.optim.EarlyStopping(min_delta=float("nan"))
    with pytest.raises(ValueError, match="EarlyStopping: mode must be one of"):
        xg.optim.EarlyStopping(mode="lowest")
    with pytest.raises(ValueError, match="EarlyStopping: restore_best_weights=True needs the "
                                         "model"):
        xg.optim.EarlyStopping(restore_best_weights=True)
    with pytest.raises(TypeError, match="EarlyStopping.step: value must be a real number"):
        xg.optim.EarlyStopping().step("0.5")
    with pytest.raises(TypeError, match="EarlyStopping: model must be an xg.nn.Module"):
        xg.optim.EarlyStopping([1.0])


@pytest.mark.parametrize("monitor, keras_mode", [("val_loss", "min"), ("val_accuracy", "max")])
def test_mode_auto_set_later_reads_the_monitor_as_the_constructor_does(monitor, keras_mode):
    """``early.mode = "auto"`` (or a state with mode "auto") was kept as the string "auto",
    which is_improvement took for "max": a falling val_loss never improved and it stopped at
    once. Keras reads "auto" from the monitor's name, whenever it is set."""
    values = [1.0, 0.8, 0.6, 0.7, 0.5, 0.4] if keras_mode == "min" else \
        [0.1, 0.3, 0.5, 0.4, 0.6, 0.7]
    later = xg.optim.EarlyStopping(monitor=monitor, mode="max" if keras_mode == "min" else
                                   "min", patience=1)
    later.mode = "auto"
    loaded = xg.optim.EarlyStopping(monitor="val_other_loss", mode="min", patience=1)
    state = dict(xg.optim.EarlyStopping(monitor=monitor, patience=1).state_dict(), mode="auto")
    loaded.load_state_dict(state)
    keras = _Keras3EarlyStopping(keras_mode, 0.0, 1, None, 0)
    assert later.mode == loaded.mode == keras_mode and loaded.monitor == monitor
    for epoch, value in enumerate(values):
        want = keras.on_epoch_end(epoch, value)
        assert later.step(value) == loaded.step(value) == want
        assert later.best == loaded.best == keras.best


def test_a_state_with_a_bad_monitor_is_refused_naming_it():
    early = xg.optim.EarlyStopping(patience=1)
    state = dict(early.state_dict(), monitor=5)
    with pytest.raises(TypeError, match="EarlyStopping.load_state_dict: monitor must be a "
                                        "metric's name"):
        early.load_state_dict(state)
    assert early.monitor == "val_loss"


@pytest.mark.parametrize("mode, baseline, values", [
    ("min", float("inf"), [3.0, 2.0, 2.5, 2.4, 2.6, 1.0, 1.5, 1.6, 1.7, 1.8]),
    ("max", float("-inf"), [0.1, 0.3, 0.2, 0.2, 0.25, 0.4, 0.3, 0.3, 0.3, 0.3]),
    ("min", 1.5, [float("nan"), float("nan"), 2.0, float("inf"), 1.0, 1.2, 1.3, 1.4, 2.0, 2.0]),
    ("min", None, [float("-inf"), 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])])
@pytest.mark.parametrize("cut", [1, 2, 4])
def test_non_finite_baseline_and_best_go_through_a_checkpoint(tmp_path, mode, baseline, values,
                                                              cut):
    """baseline=inf and an inf or NaN best: saved (before 2026-12-07 save_checkpoint refused
    the state's inf) and resumed to the uninterrupted run's decisions and counters."""
    def build():
        return xg.optim.EarlyStopping(mode=mode, patience=3, baseline=baseline)

    whole = build()
    decisions = [whole.step(v) for v in values]
    first = build()
    resumed = [first.step(v) for v in values[:cut]]
    path = tmp_path / "ckpt.npz"
    xg.save_checkpoint(path, xg.nn.Linear(1, 1, rng=0), metadata={"early": first.state_dict()})
    second = build()
    second.load_state_dict(xg.checkpoint_metadata(path)["early"])
    resumed += [second.step(v) for v in values[cut:]]
    assert resumed == decisions
    assert str(second.state_dict()) == str(whole.state_dict())    # nan == nan as text
