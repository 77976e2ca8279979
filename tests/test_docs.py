"""The documentation runs: every docstring example of the package (doctest), and the code of
README's "Extending xpgrad" section, in a fresh process so its primitives and backends do not
leak into the other tests."""
from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import xpgrad
import xpgrad.backends

README = Path(__file__).parents[1] / "README.md"
# the Numba modules' doctests run in test_numba_backend.py; the CuPy ones need a device
SKIP = ("xpgrad.backends.numba", "xpgrad.backends.cupy")
# the backends are a package of their own directory (pyproject's package-dir), which a walk of
# xpgrad's directory does not reach in an installed checkout
MODULES = sorted({m.name for package in (xpgrad, xpgrad.backends)
                  for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
                  if not m.name.startswith(SKIP)} | {"xpgrad.backends"})


# the examples show what a user who names no backend sees: numpy, whatever $XPGRAD_BACKEND says
@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


def _section(title):
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_readme_extending_section_runs():
    blocks = re.findall(r"```python\n(.*?)```", _section("Extending xpgrad"), re.S)
    assert len(blocks) >= 4, "the section lost its examples"
    res = subprocess.run([sys.executable, "-c", "\n".join(blocks)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    printed = res.stdout.splitlines()
    assert printed[0].startswith("Tensor(") and "backend=fastnumpy" in printed[0]
    assert printed[1:] == ["[0.5, -1.5]", "strict"]
