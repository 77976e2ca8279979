"""Tensor gradient hooks across processes: a Variable's hook changes the gradient before its
bucket is reduced, with ``DistributedGradientTape``'s overlap (tests/mpi_worker_hooks.py in
tests/mpi_shared_job.py's job on 2 ranks)."""
from mpi_shared_job import shared_stdout
from test_distributed import needs_mpi


@needs_mpi
def test_a_variables_hook_runs_before_its_bucket_is_reduced():
    lines = shared_stdout(2, "hooks")
    assert {"rank 0 ok: hooks", "rank 1 ok: hooks"} <= set(lines), lines[-40:]
