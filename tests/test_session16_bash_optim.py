"""Session 16's bug bash of the new optimizer features: the schedules, the learning rate in the
optimizer's state, ReduceLROnPlateau, ExponentialMovingAverage and ``xpgrad train
--overwrite``, used together as a user would."""
import copy
import pickle

import numpy as np
import pytest

import xpgrad as xg


# -- ExponentialMovingAverage copied (deepcopy, pickle) ----------------------------------------
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_ema_averages_the_copied_variables(how):
    """Copied together with its model (``copy.deepcopy({"model": m, "ema": e})``, a pickled
    training state), the copy's averages belong to the copy's variables; the id-keyed index
    used to point at the originals, so ``average`` refused the copy's own variables."""
    model = xg.nn.MLP([2, 3, 1], rng=0)
    ema = xg.optim.ExponentialMovingAverage(model, decay=0.5, num_updates=0)
    for v in model.trainable_variables:
        v.assign(v * 2.0)
    ema.update()
    both = {"model": model, "ema": ema}
    copied = copy.deepcopy(both) if how == "deepcopy" else pickle.loads(pickle.dumps(both))
    model2, ema2 = copied["model"], copied["ema"]
    w, w2 = model.layers[0].w, model2.layers[0].w
    assert ema2.variables[0] is model2.trainable_variables[0]
    np.testing.assert_array_equal(ema2.average(w2).numpy(), ema.average(w).numpy())
    with pytest.raises(ValueError, match="not one of the variables"):
        ema2.average(w)                 # the original is not the copy's
    w2.assign(w2 * 3.0)
    ema2.update()                       # the copy moves alone
    assert ema2.num_updates == 2 and ema.num_updates == 1
    assert not np.array_equal(ema2.average(w2).numpy(), ema.average(w).numpy())
    with ema2.swapped():
        np.testing.assert_array_equal(w2.numpy(), ema2.average(w2).numpy())
    ema2.load_state_dict(ema.state_dict())
    np.testing.assert_array_equal(ema2.average(w2).numpy(), ema.average(w).numpy())


# -- an optimizer's repr -----------------------------------------------------------------------
OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Lion", "NAdam", "RAdam", "Adagrad",
              "Adadelta", "Adamax"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_repr_is_the_constructor_call_a_number_as_given(name):
    """``repr(SGD(0.1))`` showed ``learning_rate=Constant(learning_rate=0.1)``, an internal
    wrapper; it is ``learning_rate=0.1`` (PyTorch's repr shows ``lr: 0.1``), also once the rate
    was changed, and a schedule shows as itself. The repr evaluates to an equal optimizer."""
    cls = getattr(xg.optim, name)
    namespace = vars(xg.optim)
    opt = cls(0.1)
    assert f"{name}(learning_rate=0.1, " in repr(opt) and "Constant" not in repr(opt)
    opt.learning_rate = 0.05
    assert repr(opt).startswith(f"{name}(learning_rate=0.05, ")
    assert repr(eval(repr(opt), dict(namespace))) == repr(opt)
    warm = xg.optim.LinearWarmup(xg.optim.OneCycle(1.0, total_steps=10), warmup_steps=2)
    opt.learning_rate = warm
    assert repr(opt).startswith(f"{name}(learning_rate={warm!r}, ")
    assert repr(eval(repr(opt), dict(namespace))) == repr(opt)


# -- xpgrad train --logdir through a symbolic link ---------------------------------------------
TINY = ["train", "-q", "--hidden", "4", "--progress", "never", "--epochs", "1",
        "--batch-size", "256", "--max-steps", "2"]


def test_overwrite_through_a_symlinked_logdir_replaces_the_targets_logs(tmp_path):
    import json

    from xpgrad.cli import main

    real, link = tmp_path / "real", tmp_path / "link"
    assert main([*TINY, "--logdir", str(real)]) == 0
    first = json.loads((real / "history.json").read_text())["run_id"]
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(SystemExit):
        main([*TINY, "--logdir", str(link), "--seed", "3"])        # another run's logs
    assert main([*TINY, "--logdir", str(link), "--seed", "3", "--overwrite"]) == 0
    assert link.is_symlink()
    assert json.loads((real / "history.json").read_text())["run_id"] != first
    assert len(list(real.glob("events.out.tfevents.*"))) == 1


def test_a_logdir_that_is_a_dangling_symlink_is_refused_naming_it(tmp_path, capsys):
    """``os.makedirs`` on a link to nothing raised a bare 'File exists' (after the data set
    was read and the model built); the run is refused first, the link and its target named."""
    from xpgrad.cli import main

    link = tmp_path / "logs"
    link.symlink_to(tmp_path / "gone")
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main([*TINY, "--logdir", str(link)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and "gone" in err and "does not exist" in err, err
    assert link.is_symlink() and not (tmp_path / "gone").exists()
