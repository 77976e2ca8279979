"""curves.png drawn by a helper process (``xpgrad.curves_process``): the same picture as drawn
in-process, a fallback to this process when the helper fails, and ``xpgrad train`` leaving
matplotlib out of its own process."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from xpgrad.curves_process import CurvesProcess  # noqa: E402
from xpgrad.report import plot_history  # noqa: E402

HISTORY = {"epoch": [1, 2, 3], "train_loss": [1.0, 0.5, float("nan")],
           "test_loss": [1.1, 0.7, 0.6], "train_accuracy": [0.6, 0.8, 0.9],
           "test_accuracy": [0.55, 0.75, 0.8]}


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_helper_draws_what_this_process_draws(tmp_path):
    helper = CurvesProcess()
    path = helper.draw(HISTORY, tmp_path / "helper.png", title="mlp on digits")
    assert not helper.drew_here, helper.reason
    assert path == tmp_path / "helper.png"                   # the path as given
    here = plot_history(HISTORY, tmp_path / "here.png", title="mlp on digits")
    np.testing.assert_array_equal(_pixels(path), _pixels(here))


def test_falls_back_to_this_process_when_the_helper_dies(tmp_path):
    helper = CurvesProcess()
    helper._proc.kill()
    path = helper.draw(HISTORY, tmp_path / "c.png")
    assert helper.drew_here and "failed" in helper.reason
    np.testing.assert_array_equal(_pixels(path), _pixels(plot_history(HISTORY, tmp_path / "h.png")))


def test_a_helper_let_go_exits_without_drawing():
    helper = CurvesProcess()
    proc = helper._proc
    helper.close()
    assert proc.wait(timeout=120) == 0
    assert helper._proc is None


_TRAIN = """
import json, os, sys
from xpgrad import curves_process
from xpgrad.cli import main
curves_process.spare_cpu = lambda: sys.argv[2] == "spare"
assert main(["train", "--epochs", "2", "--hidden", "8", "--logdir", sys.argv[1],
             "--progress", "never"]) == 0
print(json.dumps({"matplotlib": "matplotlib" in sys.modules,
                  "png": open(os.path.join(sys.argv[1], "curves.png"), "rb").read(4).hex()}))
"""


@pytest.mark.parametrize("cpu", ["spare", "busy"])
def test_xpgrad_train_draws_its_curves_in_the_helper_given_a_spare_cpu(tmp_path, cpu):
    out = subprocess.run([sys.executable, "-c", _TRAIN, str(tmp_path / "run"), cpu],
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, XPGRAD_BACKEND="numpy"))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.splitlines()[-1])
    assert report == {"matplotlib": cpu == "busy", "png": "89504e47"}


def test_spare_cpu_compares_the_load_with_the_cpus(monkeypatch):
    from xpgrad import curves_process, threads

    monkeypatch.setattr(threads, "available_cpus", lambda: 4)
    for load, spare in ((0.2, True), (3.0, True), (3.5, False), (9.0, False)):
        monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
        assert curves_process.spare_cpu() is spare, load
    monkeypatch.delattr(os, "getloadavg")
    assert curves_process.spare_cpu() is True
