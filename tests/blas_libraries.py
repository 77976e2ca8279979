"""The BLAS libraries the Numba scans' compiled loops call directly, each skipped where it is
missing, and the ``library`` fixture that runs a test under each one. A test module imports
them: ``from blas_libraries import DIRECT, library  # noqa: F401``."""
import pytest

from xpgrad.backends import blas

DIRECT = [pytest.param(name, marks=pytest.mark.skipif(missing, reason=f"no {name} here"))
          for name, missing in (("openblas", blas.numpys_openblas() is None),
                                ("mkl", blas._find_mkl() is None))]


@pytest.fixture(params=DIRECT)
def library(request):
    previous = blas.use(request.param)
    yield request.param
    blas.restore(previous)
