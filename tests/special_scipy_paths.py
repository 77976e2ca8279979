"""The ``path`` fixture of the xg.special tests whose functions have a SciPy kernel on the NumPy
backend: each test runs once through SciPy's kernel and once through the generic formulas (every
other backend's, and the NumPy backend's where SciPy is not installed). A test module imports it:
``from special_scipy_paths import path  # noqa: F401``."""
import pytest

from xpgrad.backends.numpy import special_scipy


@pytest.fixture(params=["scipy", "generic"])
def path(request, monkeypatch):
    """``"generic"``: the NumPy backend's SciPy kernels decline, as where SciPy is not
    installed, so the generic formulas run."""
    monkeypatch.setattr(special_scipy, "_SCIPY",
                        None if request.param == "scipy" else special_scipy._MISSING)
    return request.param
