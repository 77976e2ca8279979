import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # read by SciPy at import (tests/test_third_party.py)

import importlib.util  # noqa: E402

import numpy as np
import pytest

import xpgrad as xg

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load_example(name):
    """The module ``examples/<name>.py``, imported from its path."""
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def f64(a):
    return xg.asarray(np.asarray(a, dtype=np.float64))


@pytest.fixture
def clean_backends(monkeypatch):
    """Undo every change a test makes to the backend registry, selection and XPGRAD_BACKEND."""
    from xpgrad import backend as B

    for attr in ("_factories", "_instances", "_failures"):
        monkeypatch.setattr(B, attr, dict(getattr(B, attr)))
    monkeypatch.setattr(B, "_entry_points_loaded", B._entry_points_loaded)
    monkeypatch.setattr(B, "_global_default", B._global_default)
    monkeypatch.delenv("XPGRAD_BACKEND", raising=False)
    stack = list(B._selection.stack)
    yield B
    B._selection.stack[:] = stack
