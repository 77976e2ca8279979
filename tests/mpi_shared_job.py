"""One ``mpiexec`` launch per number of ranks, shared by the distributed test files: the
scenarios that end with every rank in step and leave nothing patched run in turn in one job of
tests/mpi_worker_edges.py (``in_turn``), and each test reads its own lines of that job's
output. A launch costs every rank its imports (8-17 s of a 2-core suite); scenarios that need a
job of their own (a rank that aborts the job, a stall timeout, an exit status) launch alone."""
import functools
import sys
from pathlib import Path

from test_distributed import mpirun

WORKER = str(Path(__file__).parent / "mpi_worker_edges.py")

#: the scenarios of the shared job on n ranks, in the order they run: join late (its uneven
#: shards leave each rank's count of steps behind, which a later check of the ranks' steps
#: reads), root_ends_late last (its ranks end at different times). barrier_against_allreduce
#: runs alone: its uneven shards would leave join's ranks a count of steps that differs
IN_ONE_JOB = {2: ("allreduce_dtypes", "broadcast", "optimizer_checks", "optimizer_state_checks",
                  "traced", "double_reduction", "raise_together", "backward_fails",
                  "plans_cached", "hooks", "early_stopping", "notes", "join", "root_ends_late"),
              3: ("allreduce_dtypes", "object_collectives", "raise_together", "join")}


@functools.cache
def shared_job(n):
    """The ``mpiexec -n n`` run of IN_ONE_JOB[n] (launched once, on first use).

    >>> shared_job(2).returncode  # doctest: +SKIP
    0
    """
    return mpirun(n, sys.executable, WORKER, "in_turn", *IN_ONE_JOB[n], timeout=300)


def shared_stdout(n, scenario):
    """The shared job's stdout lines, after checking that it ended well; a failed job names the
    scenario it failed in, and the one asking.

    >>> shared_stdout(2, "hooks")  # doctest: +SKIP
    ['rank 0 begins allreduce_dtypes', ...]
    """
    assert scenario in IN_ONE_JOB[n], f"{scenario!r} is not in the shared job on {n} ranks"
    res = shared_job(n)
    lines = res.stdout.splitlines()
    begun = [line.split(" begins ", 1)[1] for line in lines if " begins " in line]
    assert res.returncode == 0, (
        f"the shared job on {n} ranks ended with status {res.returncode} in scenario "
        f"{begun[-1] if begun else None!r} (this test reads {scenario!r})\n"
        + res.stdout[-2000:] + res.stderr[-4000:])
    return lines
