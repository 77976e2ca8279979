"""pyproject.toml lists its packages by hand: every package directory must be in the list, or a
non-editable install (``pip install .``, a wheel) silently lacks it and ``import xpgrad`` fails
where it imports that package."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_package_directory_is_listed_in_pyproject():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    dirs = {package: ROOT / path for package, path in setuptools["package-dir"].items()}
    found = set()
    for package in ("xpgrad", "xpgrad.backends"):
        top = dirs[package]
        for init in top.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(top).parts
            name = ".".join((package,) + rel)
            if name.startswith("xpgrad.backends.") and package == "xpgrad":
                continue            # the symlink of a development checkout
            found.add(name)
    assert "xpgrad.nn.init" in found, found
    assert found - listed == set(), "package directories missing from pyproject.toml"
