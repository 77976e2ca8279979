"""The ``xpgrad`` console script: Ctrl-C while the package is still being imported (the first
~0.6 s of every command) ends it with ``xpgrad: interrupted`` and status 130, as a Ctrl-C later
does, never with a traceback. The script is run as pip's generated one runs it: ``from MODULE
import FUNC; sys.exit(FUNC())``, with MODULE:FUNC read from pyproject.toml. The interrupt comes
at a fixed point of the import, not after a sleep: an import hook sends this process SIGINT
(or raises KeyboardInterrupt) when the package's import reaches ``xpgrad.tensor``."""
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MODULE, FUNC = PYPROJECT["project"]["scripts"]["xpgrad"].split(":")

#: what pip's console script does, after an import hook that interrupts the package's import
SCRIPT = """\
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)   # a terminal's: a background job
class Interrupt:                                            # (CI, `cmd &`) inherits it ignored
    def find_spec(self, name, path=None, target=None):
        if name == "xpgrad.tensor":            # halfway through xpgrad/__init__.py
            sys.meta_path.remove(self)
            if {how!r} == "signal":
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise KeyboardInterrupt
        return None
if {how!r} != "none":
    sys.meta_path.insert(0, Interrupt())
sys.argv = ["xpgrad", *{argv!r}]
from {module} import {func}
sys.exit({func}())
"""


def _run(how, *argv):
    code = SCRIPT.format(how=how, argv=list(argv), module=MODULE, func=FUNC)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("how", ["signal", "raise"])
@pytest.mark.parametrize("argv", [["info"], ["train", "--epochs", "1"], []])
def test_ctrl_c_while_the_package_imports_is_one_line_and_status_130(how, argv):
    run = _run(how, *argv)
    assert run.returncode == 130, run.stderr
    assert run.stderr == "xpgrad: interrupted\n"
    assert run.stdout == ""


def test_the_launcher_runs_the_command():
    run = _run("none", "--version")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"xpgrad {PYPROJECT['project']['version']}"
    bad = _run("none", "train", "--epochs", "0")
    assert bad.returncode == 2 and bad.stderr.startswith("xpgrad: error: argument --epochs")


def test_importing_the_launcher_does_not_import_the_package():
    """Else the package's import would run before the launcher's try, as it did when the
    entry point was xpgrad.cli:main (a module of the package runs xpgrad/__init__.py first)."""
    code = (f"import sys, {MODULE}; print(sorted(m for m in sys.modules "
            f"if m == 'xpgrad' or m.startswith('xpgrad.')))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    assert "." not in MODULE


def test_the_launcher_module_ships_in_the_distribution():
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert MODULE in setuptools.get("py-modules", []), "a wheel would lack the launcher"
    assert (ROOT / f"{MODULE}.py").is_file()


def test_python_dash_m_runs_the_command():
    """``python -m xpgrad`` is the console script: the same output and exit statuses."""
    version = subprocess.run([sys.executable, "-m", "xpgrad", "--version"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("xpgrad ")
    bad = subprocess.run([sys.executable, "-m", "xpgrad", "train", "--batch-size", "0"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "xpgrad: error: argument --batch-size: must be an integer > 0, got 0" in bad.stderr
