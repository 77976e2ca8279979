"""Training scripts as Horovod / PyTorch DDP users write them, with xpgrad.distributed
(tests/mpi_worker_user_scripts.py under ``mpiexec -n 2`` / ``-n 3``, and as a plain process):
each must give what one process gives on the whole global batch (float64). One launch runs
several scenarios. Skipped where mpi4py or mpiexec is missing."""
import subprocess
import sys
from pathlib import Path

import pytest

from test_distributed import _mpi_env, mpirun, needs_mpi

WORKER = str(Path(__file__).parent / "mpi_worker_user_scripts.py")
#: seconds after which a launch counts as hung: 46 s alone for 3 Numba ranks of every scenario
#: on a loaded two-core machine, over 90 s beside the rest of the suite
_HANG = 300


def _run(n, scenarios, *args, cwd=None):
    """The worker's ``scenarios`` on ``n`` ranks (n=1: a plain process, no mpiexec)."""
    if n == 1:
        return subprocess.run([sys.executable, WORKER, ",".join(scenarios), *args],
                              capture_output=True, text=True, timeout=_HANG, cwd=cwd,
                              env=_mpi_env())
    return mpirun(n, sys.executable, WORKER, ",".join(scenarios), *args, timeout=_HANG, cwd=cwd)


def _passes(n, scenarios, *args, **kw):
    res = _run(n, scenarios, *args, **kw)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    lines = res.stdout.splitlines()
    missing = [f"rank {r} ok: {c}" for r in range(n) for c in scenarios
               if f"rank {r} ok: {c.replace('_', ' ')}" not in lines]
    assert not missing, (missing, res.stderr[-3000:])
    return res


SCRIPTS = ["basics", "bad_input", "optimizers", "empty_share", "sharded_epochs",
           "unused_variable", "tbptt",
           "complex", "minimize", "variations", "buffers", "lbfgs",
           "clipped_before_reduction", "settings_differ", "tape_settings_differ"]


@needs_mpi
@pytest.mark.parametrize("n, backend", [(1, "numpy"), (2, "numpy"), (3, "numba")])
def test_user_training_scripts_match_one_process(n, backend, monkeypatch):
    monkeypatch.setenv("XPGRAD_BACKEND", backend)       # the ranks inherit the environment
    _passes(n, SCRIPTS)


@needs_mpi
@pytest.mark.parametrize("saved_on, resumed_on", [(2, 3), (3, 1)])
def test_a_checkpoint_saved_on_rank_0_resumes_on_another_number_of_ranks(tmp_path, saved_on,
                                                                          resumed_on):
    path = str(tmp_path / "run.npz")
    _passes(saved_on, ["save"], path)
    _passes(resumed_on, ["resume"], path)


#: local steps in an xg.function (mpi_user_scripts_compiled.py), and tutorials' models
#: (mpi_user_scripts_models.py)
MORE_SCRIPTS = ["clipped_before_reduction_compiled", "accumulation_compiled", "char_lm_tbptt",
                "frozen_embedding_adamw", "resume_tape"]


@needs_mpi
@pytest.mark.parametrize("n, backend", [(1, "numpy"), (2, "numpy"), (3, "numba")])
def test_more_user_scripts_match_one_process(n, backend, monkeypatch):
    monkeypatch.setenv("XPGRAD_BACKEND", backend)
    _passes(n, MORE_SCRIPTS)
