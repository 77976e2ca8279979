"""The ``backend`` fixture of the cupy-against-numpy tests of new public paths
(tests/test_cupy_special_functions.py, tests/test_cupy_training_features.py): ``cupy`` (marked
gpu, so ``tools/gpu_check.sh`` runs it on a device and skips it elsewhere) and, on any machine,
array-api-strict standing in for it: the generic formulas the cupy backend runs, on arrays that
are not NumPy's, against the numpy backend (whose SciPy kernels and fused updates they are
compared with), so the test code cannot rot without a device."""
from __future__ import annotations

import numpy as np
import pytest

from xpgrad.testing import StrictBackend, registered_backend

from gpu_marks import cupy_param

#: dtype -> (rtol, atol) of a backend against numpy: tests/test_cupy_api_paths.py's float32
#: bound, and tests/strict_checks.py's bound for another backend in float64 (its own libm and
#: summation order)
TOLERANCE = {"float64": (1e-8, 1e-10), "float32": (1e-4, 1e-4)}


@pytest.fixture(params=[pytest.param("strict", id="strict-stand-in"), cupy_param()])
def backend(request):
    """The name of the backend compared with numpy (registered for the test where it is
    array-api-strict; skipped with the reason where that package is missing)."""
    if request.param != "strict":
        yield request.param
        return
    pytest.importorskip("array_api_strict")
    with registered_backend("strict", StrictBackend):
        yield "strict"


def assert_close(got, want, dtype, what):
    """Each array of ``got`` within ``TOLERANCE[dtype]`` of ``want``'s (NumPy arrays)."""
    rtol, atol = TOLERANCE[dtype]
    assert len(got) == len(want), what
    for index, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{what}, result {index}")
