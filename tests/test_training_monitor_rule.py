"""``xpgrad train``'s early stopping (``training/monitor.py``) is ``xg.optim.EarlyStopping``'s
rule (Keras 3's), not one of its own: over the same values it stops at the same epoch with the
same best, in the run's epochs (from 1), a first NaN being the best as in Keras."""
import math

import pytest

import xpgrad as xg
from xpgrad.training import TrainConfig
from xpgrad.training.monitor import Monitor

SEQUENCES = {
    "falls then stalls": [1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.76, 0.77],
    "within min_delta": [1.0, 0.96, 0.93, 0.99, 0.5, 0.52],
    "rises": [0.1, 0.2, 0.3, 0.4],
    "first NaN": [math.nan, 0.5, 0.4, 0.3],
}


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy"])
@pytest.mark.parametrize("patience, min_delta", [(1, 0.0), (2, 0.0), (2, 0.05)])
@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_the_cli_stops_where_xg_optim_early_stopping_does(name, patience, min_delta, monitor):
    cfg = TrainConfig(validation_split=0.1, early_stopping=patience, min_delta=min_delta,
                      monitor=monitor)
    cli = Monitor(cfg, opt=None, model=None)
    early = xg.optim.EarlyStopping(monitor=monitor, patience=patience, min_delta=min_delta)
    for epoch, value in enumerate(SEQUENCES[name], 1):
        stops = early.step(value)
        assert cli.epoch_end({monitor: value}, epoch) is stops
        assert (cli.wait, cli.best_epoch) == (early.wait, early.best_epoch + 1)
        assert cli.best == early.best or math.isnan(cli.best) and math.isnan(early.best)
        if stops:
            assert cli.stopped_epoch == early.stopped_epoch + 1 == epoch
            break
    else:
        assert cli.stopped_epoch is None
