"""Tensor gradient hooks across processes: a Variable's hook changes the gradient before its
bucket is reduced, with ``DistributedGradientTape``'s overlap (``mpiexec -n 2``)."""
import sys
from pathlib import Path

from test_distributed import mpirun, needs_mpi

HERE = Path(__file__).resolve().parent


@needs_mpi
def test_a_variables_hook_runs_before_its_bucket_is_reduced():
    res = mpirun(2, sys.executable, str(HERE / "mpi_worker_hooks.py"))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    assert {"rank 0 ok", "rank 1 ok"} <= set(res.stdout.splitlines())
