"""xpgrad.distributed across processes: ``mpiexec -n 2`` and ``-n 3`` run tests/mpi_worker.py
(the API, gradients and training against one process in float64, None gradients, empty local
batches, the layout check, the device engines with stand-ins for CuPy/NCCL) and ``xpgrad train``
(against the single-process run, float32); one rank's uncaught exception must end the whole job.
Skipped, with the reason, where mpi4py or mpiexec is missing (``pip install -e ".[mpi]"``)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpgrad as xg

HERE = Path(__file__).parent
ROOT = HERE.parent
MPIEXEC = shutil.which("mpiexec")
try:
    import mpi4py  # noqa: F401
    WHY_NOT = None if MPIEXEC else "no mpiexec on PATH (pip install -e \".[mpi]\")"
except ImportError:
    WHY_NOT = "mpi4py is not installed (pip install -e \".[mpi]\")"

needs_mpi = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


def mpirun(n, *argv, timeout=90, cwd=None):
    """``mpiexec -n n argv`` with what Open MPI needs in CI: running as root allowed (containers)
    and more ranks than cores (2-core runners)."""
    # a waiting rank yields its core instead of spinning: ranks outnumber a CI runner's cores
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_mpi_yield_when_idle="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(
                   [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                  if p]))
    return subprocess.run([MPIEXEC, "--oversubscribe", "-n", str(n), *argv], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_api_gradients_training_and_engines_across_ranks(n):
    res = mpirun(n, sys.executable, str(HERE / "mpi_worker.py"), "all")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    checks = ["rank/size", "allreduce", "broadcast_variables",
              "DistributedGradientTape matches one process", "None gradients",
              "DistributedOptimizer training matches one process", "broadcast_optimizer_state",
              "layout mismatch named", "host-staged engine", "nccl engine",
              "gpu from local rank"]
    lines = set(res.stdout.splitlines())
    missing = [f"rank {r} ok: {c}" for r in range(n) for c in checks
               if f"rank {r} ok: {c}" not in lines]
    assert not missing, (missing, res.stderr[-3000:])


@needs_mpi
def test_an_uncaught_exception_on_one_rank_ends_the_job():
    # without the abort, ranks 0 and 2 would wait in a barrier until the timeout
    res = mpirun(3, sys.executable, str(HERE / "mpi_worker.py"), "abort", timeout=60)
    assert res.returncode != 0
    assert "[rank 1] ValueError: boom on rank 1" in res.stderr, res.stderr[-3000:]
    assert "aborting all 3 ranks" in res.stderr
    assert "barrier returned" not in res.stdout


@needs_mpi
def test_xpgrad_exiting_with_an_error_on_one_rank_ends_the_job():
    res = mpirun(2, sys.executable, str(HERE / "mpi_worker.py"), "exit", timeout=60)
    assert res.returncode != 0
    assert "/no/such/dir" in res.stderr and "[rank 1]" in res.stderr, res.stderr[-3000:]
    assert "aborting all 2 ranks" in res.stderr
    assert "barrier returned" not in res.stdout


def _run_train(tmp_path, name, n, batch_size):
    args = ["train", "--epochs", "2", "--batch-size", str(batch_size), "--hidden", "16",
            "--no-log", "--checkpoint", str(tmp_path / f"{name}.npz"), "--progress", "never"]
    if n == 1:
        from xpgrad.cli import main

        assert main(args) == 0
        return None
    res = mpirun(n, sys.executable, "-m", "xpgrad.cli", *args, "--distributed",
                 cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    return res.stdout


@needs_mpi
@pytest.mark.parametrize("n, batch_size", [(2, 100), (3, 359)])
def test_xpgrad_train_on_n_ranks_reproduces_one_process(tmp_path, capsys, n, batch_size):
    # 1437 digits: batch 100 ends an epoch with 37 (19 + 18 on two ranks), batch 359 with one
    # example (two of three ranks get none)
    _run_train(tmp_path, "one", 1, batch_size)
    alone = capsys.readouterr().out
    stdout = _run_train(tmp_path, "many", n, batch_size)
    assert stdout.count("held-out accuracy") == 1, stdout     # rank 0 alone prints
    steps = 2 * -(-1437 // batch_size)
    assert f"after {steps} steps" in stdout and f"after {steps} steps" in alone
    # the epochs' mean losses and accuracies (printed to 4 digits) are the same
    epochs = [[w for w in line.split() if not w.startswith("(")]
              for out in (alone, stdout) for line in out.splitlines()
              if line.startswith("epoch")]
    assert len(epochs) == 4 and epochs[:2] == epochs[2:], epochs
    a, b = np.load(tmp_path / "one.npz"), np.load(tmp_path / "many.npz")
    assert sorted(a.files) == sorted(b.files)
    assert int(b["optimizer/iterations"]) == steps
    for k in a.files:           # the weights and Adam's moments after every step
        if a[k].dtype.kind == "f":
            np.testing.assert_allclose(b[k], a[k], rtol=1e-4, atol=1e-7, err_msg=k)
