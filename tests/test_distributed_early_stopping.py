"""``EarlyStopping`` and ``ReduceLROnPlateau`` in a data-parallel script whose ranks each step
them with their own shard's validation loss (different values): the ranks must take the same
decisions, those of one process stepped with the ranks' mean (Horovod's
``MetricAverageCallback``), instead of one rank leaving the loop while the others wait for it
(a DistributedError naming the ended script) or their learning rates parting."""
import sys
from pathlib import Path

import numpy as np
import pytest

import xpgrad as xg
from mpi_shared_job import shared_stdout
from mpi_worker_early_stopping import VALUES
from test_distributed import mpirun, needs_mpi

WORKER = Path(__file__).parent / "mpi_worker_early_stopping.py"


def _mean_per_epoch():
    return list(np.mean([VALUES[0], VALUES[1]], axis=0))


def _one_process(scenario):
    """The stopped epoch and learning rate of one process stepped with the ranks' means."""
    opt = xg.optim.SGD(0.1)
    early = xg.optim.EarlyStopping(patience=1)
    plateau = xg.optim.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    for value in _mean_per_epoch():
        if scenario == "plateau":
            plateau.step(value)
        elif early.step(value):
            break
    return (early.stopped_epoch if scenario == "early" else None), opt.learning_rate


@needs_mpi
@pytest.mark.parametrize("scenario", ["early", "plateau"])
def test_ranks_stepping_with_their_own_validation_loss_decide_together(scenario):
    job = shared_stdout(2, "early_stopping")      # "early" then "plateau" in one launch
    lines = sorted(line for line in job if line.startswith(("rank 0 ", "rank 1 ")) and
                   line.split(" ", 3)[2] == scenario and " stopped " in line)
    assert len(lines) == 2, (scenario, job[-40:])
    assert lines[0].split(" ", 2)[2] == lines[1].split(" ", 2)[2], lines    # same decisions
    stopped, lr = _one_process(scenario)
    assert lines[0].startswith(f"rank 0 {scenario} stopped {stopped} lr {lr!r} "), \
        (lines, stopped, lr)


def test_alone_the_ranks_would_decide_differently():
    """The worker's values would part the ranks: the test above can fail."""
    stops = []
    for rank in (0, 1):
        early = xg.optim.EarlyStopping(patience=1)
        stops.append(next(e for e, v in enumerate(VALUES[rank]) if early.step(v)))
    assert stops[0] != stops[1] and _one_process("early")[0] not in stops


@needs_mpi
def test_a_rank_stepping_early_stopping_alone_is_named_instead_of_a_hang():
    res = mpirun(2, sys.executable, str(WORKER), "rank_0_alone", timeout=120)
    assert res.returncode != 0
    errors = [line for line in res.stderr.splitlines() if "DistributedError: " in line]
    # both ranks raise; the first to abort the job may kill the other before it printed (seen
    # once beside the rest of the suite): one rank's line is enough
    assert errors and {line.split("]")[0] for line in errors} <= {"[rank 0", "[rank 1"}, \
        res.stderr[-3000:]
    assert all("'EarlyStopping.step()'" in line for line in errors), errors


@needs_mpi
def test_xpgrad_train_early_stopping_and_plateau_on_3_ranks_follow_one_process(tmp_path,
                                                                              monkeypatch):
    """The CLI's validation metrics are reduced over the ranks before its EarlyStopping and
    ReduceLROnPlateau see them: the 3-rank run stops after the same epoch, with the same rates,
    as one process (digits: stopped after epoch 3 of 8, the rate cut after it)."""
    import json

    from xpgrad.cli import main

    args = ["train", "--epochs", "8", "--batch-size", "200", "--hidden", "8", "--progress",
            "never", "--validation-split", "0.2", "--early-stopping", "1", "--lr-schedule",
            "plateau", "--lr-patience", "0", "--learning-rate", "0.3"]
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--logdir", "one", "--checkpoint", "one.npz"]) == 0
    res = mpirun(3, sys.executable, "-m", "xpgrad.cli", *args, "--logdir", "many",
                 "--checkpoint", "many.npz", timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    one, many = (json.loads((tmp_path / run / "history.json").read_text())
                 for run in ("one", "many"))
    assert many["early_stopping"]["stopped_epoch"] == one["early_stopping"]["stopped_epoch"] < 8
    assert many["early_stopping"]["best_epoch"] == one["early_stopping"]["best_epoch"]
    assert many["learning_rate"] == one["learning_rate"]
    assert len(set(one["learning_rate"])) > 1           # the plateau lowered the rate
