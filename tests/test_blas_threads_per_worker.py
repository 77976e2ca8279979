"""conftest.py's ``blas_threads_per_worker``: in an xdist worker every BLAS the tests use runs
on the worker's share of the cores, SciPy's own (loaded by ``import scipy.linalg``, often after
the session starts) as NumPy's."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

_SCRIPT = """\
import sys
sys.path.insert(0, {tests!r})
from conftest import blas_threads_per_worker
share = blas_threads_per_worker()
import scipy.linalg
from threadpoolctl import threadpool_info
print(share, sorted({{lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}}))
"""


def test_every_blas_a_worker_loads_later_gets_the_workers_share():
    pytest.importorskip("scipy.linalg")
    cores = os.cpu_count() or 1
    if cores < 2:
        pytest.skip("one core: every BLAS runs one thread anyway")
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env.update(PYTEST_XDIST_WORKER="gw0", PYTEST_XDIST_WORKER_COUNT=str(cores))
    run = subprocess.run([sys.executable, "-c", _SCRIPT.format(tests=str(TESTS))], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1", "[1]"], run.stdout
