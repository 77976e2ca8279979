"""``current_backend()`` (every creation call with no tensor input: ``xg.zeros``,
``xg.asarray`` of a list) reads ``$XPGRAD_BACKEND`` anew only when it changed: a lookup in
``os.environ`` (a missing key raises and catches a KeyError inside) cost more than the rest of
the choice. A change through ``os.environ`` (``monkeypatch.setenv``), a backend registered
again under that name, ``set_backend`` and ``use_backend`` are all seen at once."""
import os
import subprocess
import sys

import pytest

import xpgrad as xg
from xpgrad import backend as registry
from xpgrad.testing import registered_backend


@pytest.fixture
def no_selection(monkeypatch):
    """No set_backend default and no use_backend block: the environment decides."""
    monkeypatch.setattr(registry, "_global_default", None)
    monkeypatch.setattr(registry._selection, "stack", [])


def test_an_unchanged_environment_is_not_looked_up_again(no_selection, monkeypatch):
    monkeypatch.setenv("XPGRAD_BACKEND", "numpy")
    xg.zeros((4,))
    lookups = []
    real = os.environ.get
    monkeypatch.setattr(os.environ, "get", lambda *a: lookups.append(a) or real(*a),
                        raising=False)
    for _ in range(3):
        assert xg.zeros((4,)).backend.name == "numpy"
    assert lookups == []


def test_a_changed_environment_is_seen_at_once(no_selection, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.delenv("XPGRAD_BACKEND", raising=False)
    assert xg.zeros((4,)).backend.name == "numpy"
    monkeypatch.setenv("XPGRAD_BACKEND", "numba")
    assert xg.zeros((4,)).backend.name == "numba"
    monkeypatch.setenv("XPGRAD_BACKEND", "")
    assert xg.asarray([1.0]).backend.name == "numpy"
    monkeypatch.setenv("XPGRAD_BACKEND", "nope")
    with pytest.raises(xg.UnknownBackendError, match=r"\$XPGRAD_BACKEND='nope'"):
        xg.zeros((4,))
    monkeypatch.delenv("XPGRAD_BACKEND")
    assert xg.zeros((4,)).backend.name == "numpy"


def test_set_use_and_a_backend_registered_again_under_the_name(no_selection, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("XPGRAD_BACKEND", "numba")
    first = xg.zeros((4,)).backend
    with registered_backend("numba", "xpgrad.backends.numpy:NumpyBackend") as again:
        assert again is not first and xg.zeros((4,)).backend is again
    assert xg.zeros((4,)).backend is first
    with xg.use_backend("numpy"):
        assert xg.zeros((4,)).backend.name == "numpy"
    xg.set_backend("numpy")
    assert xg.zeros((4,)).backend.name == "numpy"


def test_a_subprocess_takes_the_backend_from_its_environment():
    pytest.importorskip("numba")
    root = os.path.dirname(os.path.dirname(os.path.realpath(xg.__file__)))
    env = dict(os.environ, XPGRAD_BACKEND="numba",
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", "import xpgrad as xg; "
                          "print(xg.zeros((4,)).backend.name)"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.stdout.split() == ["numba"], out.stderr
