"""The cupy backend where this machine can run it, and the mark for the tests that need it
(run by tools/gpu_check.sh where a GPU is lent)."""
import pytest

import xpgrad as xg


def _cupy_backend():
    try:
        return xg.get_backend("cupy"), None
    except xg.BackendUnavailableError as e:
        return None, str(e)


#: the cupy backend, or None; and why not
CUPY, CUPY_WHY_NOT = _cupy_backend()


def on_gpu(test):
    """Mark ``test`` as a GPU test, skipped with the reason where the backend is unavailable."""
    return pytest.mark.gpu(pytest.mark.skipif(CUPY is None, reason=CUPY_WHY_NOT or "")(test))


def cupy_param(*values):
    """``values`` (default ``"cupy"``) as a ``pytest.param`` marked as ``on_gpu`` marks a test:
    a parametrized test's cupy case, which ``-m gpu`` (tools/gpu_check.sh) selects from among
    its host cases."""
    return pytest.param(*(values or ("cupy",)), marks=[pytest.mark.gpu, pytest.mark.skipif(
        CUPY is None, reason=CUPY_WHY_NOT or "")])
