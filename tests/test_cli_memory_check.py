"""`xpgrad train` estimates the model's and one step's memory before building it: a --hidden
or --batch-size the machine cannot hold is one line and exit 2 naming the flag and the
estimate, where the run used to swap until it was killed."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.cli import main
from xpgrad.data import load_digits
from xpgrad.models import MODELS
from xpgrad.training import ConfigError, TrainConfig
from xpgrad.training import memory_check
from xpgrad.training.memory_check import check_fits_memory

GIB = 2 ** 30


@pytest.mark.parametrize("model, hidden", [("mlp", (32, 16)), ("cnn", (4, 6)),
                                           ("lstm", (8, 5)), ("gru", (7,))])
def test_the_parameter_estimate_counts_the_built_models_weights(model, hidden):
    digits = load_digits()
    built = MODELS[model].build(digits, list(hidden), xg.random.default_rng(0), "numpy")
    count = sum(v.size for v in built.trainable_variables)
    estimate, activations = MODELS[model].sizes(digits, hidden, 32)
    assert estimate == pytest.approx(count, rel=0.05)
    assert activations > 0 and MODELS[model].sizes(digits, hidden, 64)[1] == 2 * activations


@pytest.mark.parametrize("argv, flag", [
    (["--model", "cnn", "--hidden", "9999999"], "hidden (--hidden) 9999999: the cnn model"),
    (["--model", "lstm", "--hidden", "400000"], "hidden (--hidden) 400000: the lstm model"),
    (["--hidden", "1024,1024", "--batch-size", "1000"],
     "batch_size (--batch-size) 1000: the mlp model"),
])
def test_a_run_too_large_for_the_memory_is_one_line_and_exit_2(argv, flag, tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(memory_check, "physical_memory", lambda: GIB // 32)
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--no-log", "--epochs", "1000", *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"xpgrad: error: {flag}") and "0.0312 GiB of memory" in err, err


def test_the_batch_size_it_suggests_fits_and_one_more_row_does_not():
    digits = load_digits()
    config = TrainConfig(hidden=(1024, 1024), batch_size=1000)
    with pytest.raises(ConfigError, match=r"choose --batch-size (\d+) or less$") as caught:
        check_fits_memory(config, digits, total=GIB // 32)
    rows = int(caught.value.args[0].rsplit("--batch-size ", 1)[1].split()[0])
    assert 0 < rows < 1000
    check_fits_memory(TrainConfig(hidden=(1024, 1024), batch_size=rows), digits, total=GIB // 32)
    with pytest.raises(ConfigError):
        check_fits_memory(TrainConfig(hidden=(1024, 1024), batch_size=rows + 1), digits,
                          total=GIB // 32)


def test_where_the_memory_is_unknown_nothing_is_checked(monkeypatch):
    monkeypatch.setattr(memory_check, "physical_memory", lambda: None)
    check_fits_memory(TrainConfig(model="cnn", hidden=(9999999,)), load_digits())
