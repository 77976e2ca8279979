"""``xpgrad train`` resumed mid-epoch reports what the uninterrupted run reports: the split
epoch's loss and accuracy over all its examples (the checkpoint carries the running sums of the
part done), and the run's step count in its summary. It reported the resumed part only (the
digits' epoch 3: loss 0.3079 against 0.3199) and this run's steps (80 of 180). A checkpoint
saved before the sums still loads, with the old report and a note saying why."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from xpgrad.checkpoint import _META, checkpoint_metadata
from xpgrad.cli import main

RUN = ["train", "--hidden", "8", "--progress", "never", "--no-log", "--epochs", "3",
       "--batch-size", "128"]                    # 12 steps an epoch on the 1437 digits
EPOCH_LINE = re.compile(r"^epoch +(\d+) +loss (\S+) +acc (\S+)", re.M)
SUMMARY = re.compile(r"after (\d+) steps(?: \((\d+) in this run\))? in")


def _whole_and_split(tmp_path, capsys, cut_steps):
    path = str(tmp_path / "c.npz")
    assert main(RUN) == 0
    whole = capsys.readouterr().out
    assert main([*RUN, "--checkpoint", path, "--max-steps", str(cut_steps)]) == 0
    first = capsys.readouterr().out
    return path, whole, first


def _resumed(path, capsys):
    assert main(["train", "--resume", path, "--no-log", "--progress", "never"]) == 0
    return capsys.readouterr().out


def test_a_resumed_split_epoch_reports_the_uninterrupted_runs_loss_and_steps(tmp_path,
                                                                             capsys):
    path, whole, first = _whole_and_split(tmp_path, capsys, 17)      # 5 steps into epoch 2
    sums = checkpoint_metadata(path)["epoch_sums"]
    assert sums[2] == 5 * 128 and 0 < sums[1] <= sums[2] and sums[0] > 0
    resumed = _resumed(path, capsys)
    assert EPOCH_LINE.findall(resumed) == EPOCH_LINE.findall(whole)[1:]
    assert "after resuming" not in resumed and "partial" not in resumed
    assert SUMMARY.search(whole).groups() == ("36", None)
    assert SUMMARY.search(first).groups() == ("17", None)
    assert SUMMARY.search(resumed).groups() == ("36", "19")


def test_a_run_cut_twice_in_one_epoch_still_counts_all_of_it(tmp_path, capsys):
    path, whole, _ = _whole_and_split(tmp_path, capsys, 14)
    assert main(["train", "--resume", path, "--no-log", "--max-steps", "3"]) == 0  # 14 -> 17
    middle = capsys.readouterr().out
    assert "epoch   2" in middle and "(partial: 640/1437 examples)" in middle
    assert checkpoint_metadata(path)["epoch_sums"][2] == 5 * 128
    assert EPOCH_LINE.findall(_resumed(path, capsys)) == EPOCH_LINE.findall(whole)[1:]


def _drop_epoch_sums(path):
    """The checkpoint as one written before ``epoch_sums`` was saved."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays[_META]))
    del meta["metadata"]["epoch_sums"]
    arrays[_META] = np.asarray(json.dumps(meta))
    np.savez(path, **arrays)


def test_an_older_checkpoint_without_the_sums_reports_the_resumed_part_and_says_so(tmp_path,
                                                                                  capsys):
    path, whole, _ = _whole_and_split(tmp_path, capsys, 15)
    _drop_epoch_sums(path)
    assert main(["train", "--resume", path, "--no-log", "--max-steps", "2"]) == 0  # 15 -> 17
    # the sums of examples 1-384 were not known: a checkpoint still in epoch 2 saves none
    assert "epoch_sums" not in checkpoint_metadata(path)
    assert "(partial: examples 385-640 of 1437, after resuming from a checkpoint without " \
           "the sums of examples 1-384)" in capsys.readouterr().out
    resumed = _resumed(path, capsys)
    assert "(partial: examples 641-1437 of 1437, after resuming from a checkpoint without the " \
           "sums of examples 1-640)" in resumed
    ours, theirs = EPOCH_LINE.findall(resumed), EPOCH_LINE.findall(whole)
    assert ours[0][0] == "2" and ours[0][1:] != theirs[1][1:]       # epoch 2: its part only
    assert ours[1:] == theirs[2:]                                   # then whole epochs alike
    assert SUMMARY.search(resumed).groups() == ("36", "19")


def test_damaged_epoch_sums_are_named(tmp_path, capsys):
    path, _, _ = _whole_and_split(tmp_path, capsys, 17)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays[_META]))
    meta["metadata"]["epoch_sums"] = [1.0, "x", 640]
    arrays[_META] = np.asarray(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(SystemExit) as stop:
        main(["train", "--resume", path, "--no-log"])
    assert stop.value.code == 2
    assert "'epoch_sums'" in capsys.readouterr().err
