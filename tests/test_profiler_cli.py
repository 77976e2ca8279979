"""``xpgrad train --profile PATH``: the trace of a short run, the table on stderr, the default
of 20 steps, and a path that cannot be written refused before training."""
from __future__ import annotations

import json

import pytest

from xpgrad.cli import main
from xpgrad.cli_profile import PROFILE_STEPS


def _steps(out):
    line = next(line for line in out.splitlines() if line.startswith("held-out"))
    return int(line.split(" after ")[1].split()[0])


def test_profile_writes_the_trace_of_twenty_steps_and_prints_the_table(tmp_path, capsys):
    path = tmp_path / "trace.json"
    assert main(["train", "--hidden", "8", "--no-log", "--progress", "never",
                 "--profile", str(path)]) == 0
    captured = capsys.readouterr()
    assert _steps(captured.out) == PROFILE_STEPS == 20
    assert "Self total" in captured.err and f"wrote the profile's trace to {path}" in captured.err
    spans = [e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"]
    updates = [e for e in spans if e["name"].endswith(".apply_gradients")]
    assert len(updates) == PROFILE_STEPS
    assert any(e["cat"] == "backward" and e["args"].get("input_shapes") for e in spans)


def test_profile_keeps_a_given_max_steps(tmp_path, capsys):
    path = tmp_path / "trace.json"
    assert main(["train", "--hidden", "8", "--no-log", "--progress", "never", "--max-steps",
                 "3", "--profile", str(path)]) == 0
    assert _steps(capsys.readouterr().out) == 3
    spans = json.loads(path.read_text())["traceEvents"]
    assert sum(e["name"].endswith(".apply_gradients") for e in spans) == 3


@pytest.mark.parametrize("given, message", [("", "--profile is empty"),
                                            ("{tmp}/missing/t.json", "does not exist"),
                                            ("{tmp}", "is a folder")])
def test_a_profile_path_that_cannot_be_written_is_refused(tmp_path, capsys, given, message):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--no-log", "--profile", given.format(tmp=tmp_path)])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
