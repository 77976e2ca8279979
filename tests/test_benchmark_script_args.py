"""The standalone scripts in benchmarks/ refuse bad arguments the way ``xpgrad`` does: argparse's
usage and one message naming the flag, exit status 2, before any timing starts -- not a
traceback from inside a timing loop (``--repeats 0`` was ``statistics.median`` of nothing), a
negative batch reaching NumPy, or an unknown name a KeyError. The types are ``xpgrad train``'s
own (xpgrad/cli_types.py)."""
import os
from pathlib import Path

import pytest

from script_runs import run_lines

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"

CASES = [
    ("blas_products.py", ["--repeats", "x"], "argument --repeats: expected an integer, got 'x'"),
    ("gemm_floor.py", ["--batches", "32", "0"], "argument --batches: must be an integer > 0, got 0"),
    ("mlp_step.py", ["--batch", "-5"], "argument --batch: must be an integer > 0, got -5"),
    ("axis_sums.py", ["--rounds", "0"], "argument --rounds: must be an integer > 0, got 0"),
    ("mlp_step.py", ["--backend", "nosuch"], "argument --backend: unknown backend 'nosuch'"),
    ("ode_fit.py", ["--backend", "nosuch"], "argument --backend: unknown backend 'nosuch'"),
    ("mlp_step.py", ["--threads", "0"], "argument --threads: must be an integer >= 1, got 0"),
    ("operator_mlp.py", ["--batches", "32", "-1"], "argument --batches: must be an integer > 0"),
    ("numba_kernels.py", ["--only", "sce,bogus"],
     "argument --only: unknown name(s) 'bogus' in 'sce,bogus'; choose from sce,smse,mlp"),
    ("numba_kernels.py", ["--libs", "jax"], "argument --libs: unknown name(s) 'jax'"),
    ("recurrent_steps.py", ["--backends", "numpy,nosuch"],
     "argument --backends: unknown backend 'nosuch'"),
    ("recurrent_steps.py", ["--rounds", "two"], "argument --rounds: expected an integer, got 'two'"),
    ("ctc_loss.py", ["--shape", "10", "2", "1", "3"], "C (classes) must be >= 2"),
    ("ctc_loss.py", ["--shape", "5", "2", "4", "8"], "S (target length) must be at most T"),
    ("distributed_scaling.py", ["--warmup", "-1"], "argument --warmup: must be an integer >= 0"),
    ("conv1d.py", ["--scale", "0"], "argument --scale: must be a finite number > 0, got 0"),
    ("lstm_phases.py", ["--hidden", "0"], "argument --hidden: must be an integer > 0, got 0"),
    ("lstm_numpy_phases.py", ["--batch", "0"], "argument --batch: must be an integer > 0, got 0"),
    ("mlp_phases.py", ["--steps", "0"], "argument --steps: must be an integer > 0, got 0"),
    ("module_pytree.py", ["--rounds", "0"], "argument --rounds: must be an integer > 0, got 0"),
    ("module_pytree.py", ["fast"], "argument mode: invalid choice: 'fast'"),
    ("train_wall_time.py", ["--before", "/no/such/tree"],
     "argument --before: '/no/such/tree' is not a directory"),
    ("fused_kernels.py", ["--repeats", "1", "--number", "1", "--shape", "4", "3", "--only",
                          "nosuchcase"], "argument --only: 'nosuchcase' is in no case's name"),
    ("vmap_per_sample.py", ["--batches", "64", "0"],
     "argument --batches: must be an integer > 0, got 0"),
    ("vmap_per_sample.py", ["--sizes", "20-64"],
     "argument --sizes: must be three integers > 0 as INPUTS-HIDDEN-CLASSES (784-256-10), "
     "got '20-64'"),
    ("vmap_gradient_penalty.py", ["--sizes", "32"],
     "argument --sizes: must be two integers > 0 as INPUTS-HIDDEN (32-64), got '32'"),
    ("trace_long_programs.py", ["--repeat", "0"],
     "argument --repeat: must be an integer > 0, got 0"),
    ("trace_long_programs.py", ["--profile", "lj"], "argument --profile: invalid choice: 'lj'"),
    ("first_call_latency.py", ["--repeat", "0"],
     "argument --repeat: must be an integer > 0, got 0"),
    ("first_call_latency.py", ["--only", "gru"], "argument --only: invalid choice: 'gru'"),
    ("step_memory.py", ["--repeats", "0"], "argument --repeats: must be an integer > 0, got 0"),
    ("step_memory.py", ["--only", "lstm", "mlp"], "argument --only: invalid choice: 'mlp'"),
    ("tape_overhead.py", ["ratios", "--only", "chain", "lstm"],
     "argument --only: 'lstm' names no row; the rows are 'chain 100'"),
    ("step_memory.py", ["time", "--batch", "0"], "argument --batch: must be an integer > 0, got 0"),
    ("step_memory.py", ["speed"], "argument mode: invalid choice: 'speed'"),
]


@pytest.fixture(scope="module")
def refused():
    """Every command line of CASES run in one process (one start instead of 20): its results."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    runs = run_lines([(BENCH / script, args) for script, args, _ in CASES], env=env,
                     timeout=600)
    return {(script, tuple(args)): run for (script, args, _), run in zip(CASES, runs)}


@pytest.mark.parametrize("script, args, message", CASES,
                         ids=[f"{s[:-3]}-{' '.join(a)}" for s, a, _ in CASES])
def test_a_bad_argument_is_one_message_and_status_2(script, args, message, refused):
    run = refused[script, tuple(args)]
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 2, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{script}: error: "), run.stderr
    assert message in last, run.stderr
