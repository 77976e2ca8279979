"""Edge cases of xpgrad.distributed across processes (``mpiexec -n 2``/``-n 3`` running
tests/mpi_worker_edges.py): dtypes of ``allreduce``, frozen Variables broadcast, bad input on
one rank, ranks that run different numbers of steps. Skipped where mpi4py or mpiexec is
missing."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpi_shared_job import IN_ONE_JOB, shared_job, shared_stdout
from test_distributed import mpirun, needs_mpi

WORKER = str(Path(__file__).parent / "mpi_worker_edges.py")


def _checks_pass(n, scenario, *checks):
    """Every rank printed ``rank R ok: CHECK`` for each check, in the shared job of n ranks
    (tests/mpi_shared_job.py) where the scenario runs there, else in a job of its own."""
    if scenario in IN_ONE_JOB.get(n, ()):
        lines, stderr = shared_stdout(n, scenario), shared_job(n).stderr
    else:
        res = mpirun(n, sys.executable, WORKER, scenario, timeout=60)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
        lines, stderr = res.stdout.splitlines(), res.stderr
    missing = [f"rank {r} ok: {c}" for r in range(n) for c in checks
               if f"rank {r} ok: {c}" not in lines]
    assert not missing, (scenario, missing, stderr[-3000:])


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_allreduce_of_ints_and_bools_reduces_like_numpy(n):
    _checks_pass(n, "allreduce_dtypes", "allreduce dtypes")


@needs_mpi
def test_broadcast_variables_of_a_module_includes_its_frozen_variables():
    _checks_pass(2, "broadcast", "broadcast frozen")


@needs_mpi
def test_distributed_optimizer_checks_pairs_like_the_wrapped_optimizer():
    _checks_pass(2, "optimizer_checks", "optimizer checks")


@needs_mpi
@pytest.mark.parametrize("n, scenario, waits_in", [
    (3, "fewer_steps", "DistributedGradientTape.gradient()"),
    (2, "fewer_steps_sync_bn", "SyncBatchNorm's batch statistics"),
    (2, "barrier_after_exit", "barrier()"),
    (2, "bcast_object_after_exit", "bcast_object(root=1)"),
    (3, "allgather_after_exit", "allgather()")])
def test_a_rank_that_ends_early_is_named_instead_of_a_hang(n, scenario, waits_in):
    # Horovod raises on the ranks left waiting; without the notice they waited forever. With 3
    # ranks, ranks 0 and 1 both wait and both raise, and the first to abort the job kills the
    # other, maybe before it printed: either may be the one that names rank 2
    res = mpirun(n, sys.executable, WORKER, scenario, timeout=60)
    assert res.returncode != 0, res.stdout[-2000:]
    last = n - 1
    named = [r for r in range(last)
             if f"rank {last} has ended its script while rank {r} waits for it in {waits_in}"
             in res.stderr]
    assert named, res.stderr[-3000:]
    assert f"rank {last} step 2" not in res.stdout


@needs_mpi
def test_a_rank_stuck_outside_the_collectives_ends_the_job_after_the_timeout():
    # PyTorch's process-group timeout, Horovod's stall check: rank 2 sleeps where ranks 0 and
    # 1 wait in a gradient call with init(timeout=2); the job ends in seconds, not at _HANG,
    # and the note names the missing rank (a roll call among the waiting ranks)
    start = time.monotonic()
    res = mpirun(3, sys.executable, WORKER, "stuck_rank", timeout=100)
    took = time.monotonic() - start
    assert res.returncode != 0, res.stdout[-2000:]
    roll = (r"\(rank {} waits in DistributedGradientTape.gradient\(\) too; rank 2 has not "
            r"answered: it is in no call of xpgrad.distributed\)")
    notes = [re.search(rf"\[rank {r}\] xpgrad.distributed: waiting \d+ s so far in "
                       rf"DistributedGradientTape.gradient\(\) for the other ranks "
                       + roll.format(1 - r), res.stderr) for r in (0, 1)]
    # the first of ranks 0 and 1 past its timeout ends the job
    errors = [re.search(rf"DistributedError: rank {r} has waited \d+ s in "
                        rf"DistributedGradientTape.gradient\(\) for the other ranks "
                        + roll.format(1 - r) + ", more than its timeout of 2 s", res.stderr)
              for r in (0, 1)]
    assert any(notes) and any(errors), res.stderr[-3000:]
    assert "rank 0 step 0" in res.stdout and "rank 0 step 1" not in res.stdout
    assert took < 90, took      # the sleeping rank alone would hold the job for 120 s


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_a_rank_s_sys_exit_is_named_with_its_place_by_the_ranks_left(n):
    # they said only "rank 1 has ended its script": not that it called sys.exit(1), nor where
    res = mpirun(n, sys.executable, WORKER, "exit_1_on_the_last_rank", timeout=60)
    assert res.returncode != 0, res.stdout[-2000:]
    line = next(k for k, text in enumerate(Path(WORKER).read_text().splitlines(), 1)
                if "the line the others' error names" in text)
    said = (f"rank {n - 1} has ended its script while rank 0 waits for it in barrier(): rank "
            f"{n - 1} called sys.exit(1) at mpi_worker_edges.py:{line} (its output above may say"
            f" why)")
    named = [r for r in range(n - 1) if said.replace("rank 0 waits", f"rank {r} waits")
             in res.stderr]
    assert named, res.stderr[-3000:]


@needs_mpi
def test_object_collectives_give_every_rank_the_same_objects():
    _checks_pass(3, "object_collectives", "object collectives")


@needs_mpi
def test_a_barrier_facing_another_collective_names_both_calls():
    _checks_pass(2, "barrier_against_allreduce", "mismatch named", "uneven shards named")


@needs_mpi
def test_an_mpi_error_from_mismatched_calls_says_what_the_rank_was_doing():
    res = mpirun(2, sys.executable, WORKER, "sync_bn_train_against_eval", timeout=60)
    assert res.returncode != 0, res.stdout[-2000:]
    assert "the ranks made different calls of xpgrad.distributed here" in res.stderr, \
        res.stderr[-3000:]
    assert "MPI_ERR_TRUNCATE" in res.stderr and "train() mode" in res.stderr, res.stderr[-3000:]


@needs_mpi
def test_ranks_may_end_at_different_times():
    _checks_pass(2, "root_ends_late", "ended")


@needs_mpi
def test_a_nan_loss_under_mpi_ends_every_rank_together_with_one_message(tmp_path):
    # the loss is reduced, so every rank stops at the same step: no rank aborts the job (which
    # could kill rank 0 while it writes its logs), and rank 0 alone reports the error
    res = mpirun(2, sys.executable, "-m", "xpgrad.cli", "train", "--epochs", "2",
                 "--batch-size", "100", "--hidden", "16", "--optimizer", "sgd",
                 "--learning-rate", "1e9", "--logdir", "logs", "--checkpoint", "c.npz",
                 "--progress", "never", timeout=90, cwd=tmp_path)
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-3000:]
    assert res.stderr.count("xpgrad: error: the training loss became nan") == 1, res.stderr
    assert "MPI_ABORT" not in res.stderr and "aborting all" not in res.stderr, res.stderr
    assert (tmp_path / "logs" / "history.json").exists()


@needs_mpi
def test_only_rank_0_checks_and_makes_the_logdir(tmp_path):
    """Ranks in their own directories (no shared file system): rank 1's 'logs' is a file and
    its default logdir is never made; rank 0 writes its logs."""
    root, other = tmp_path / "root", tmp_path / "other"
    root.mkdir()
    other.mkdir()
    (other / "logs").write_text("not a directory")
    train = [sys.executable, "-m", "xpgrad.cli", "train", "--epochs", "1", "--hidden", "8",
             "--progress", "never"]
    for extra in (["--logdir", "logs"], []):
        res = mpirun(1, "--wdir", str(root), *train, *extra, ":", "-n", "1", "--wdir", str(other),
                     *train, *extra, timeout=120)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert (root / "logs" / "history.json").exists() and any((root / "runs").iterdir())
    assert sorted(p.name for p in other.iterdir()) == ["logs"]


@needs_mpi
def test_xpgrad_train_notes_come_from_rank_0_alone():
    _checks_pass(2, "notes", "trained")
    stderr = shared_job(2).stderr       # no other scenario of the shared job compiles kernels
    assert stderr.count("compiles its kernels on first use") == 1, stderr[-3000:]


@needs_mpi
def test_broadcast_optimizer_state_checks_its_arguments_on_every_rank():
    _checks_pass(2, "optimizer_state_checks", "optimizer state checks")


@needs_mpi
@pytest.mark.parametrize("n, batch_size", [(2, 100), (3, 359)])
def test_xpgrad_train_compile_on_n_ranks_reproduces_one_process(tmp_path, monkeypatch, capsys,
                                                                n, batch_size):
    """--compile on several ranks: each replays its traced forward and backward, then the
    gradients are averaged; the run follows the single-process one with the same global batch
    (it ran eagerly before). Batch 100 on 2 ranks: shares of 50, the epoch's last batch of 37
    split 19 + 18 (a second trace); batch 359 on 3 ranks: the last batch has one example, so
    two ranks have an empty share."""
    from test_distributed import _assert_same_checkpoints, _train_args

    from xpgrad.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(_train_args("one", batch_size, "--compile")) == 0
    capsys.readouterr()
    res = mpirun(n, sys.executable, "-m", "xpgrad.cli",
                 *_train_args("many", batch_size, "--compile"), timeout=90, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert "not used on several ranks" not in res.stdout, res.stdout
    _assert_same_checkpoints(tmp_path / "one.npz", tmp_path / "many.npz",
                             2 * -(-1437 // batch_size))


@needs_mpi
def test_a_reduction_inside_xg_function_raises_a_trace_error_or_runs_eagerly():
    _checks_pass(2, "traced", "traced")


@needs_mpi
def test_a_launcher_of_another_mpi_is_an_error_not_n_runs_of_one(tmp_path):
    # PMI_SIZE as MPICH's mpiexec sets it, while mpi4py's MPI (Open MPI) sees a singleton:
    # every process would train alone, writing the same checkpoint
    import os
    import subprocess

    from test_distributed import _mpi_env

    env = dict(_mpi_env(), PMI_SIZE="2")
    res = subprocess.run([sys.executable, "-m", "xpgrad.cli", "train", "--epochs", "1",
                          "--no-log", "--progress", "never"], capture_output=True, text=True,
                         timeout=90, env=env, cwd=tmp_path)
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    assert "the launcher started 2 processes, but MPI sees a world of one" in res.stderr
    assert res.stderr.count("\n") == 1 and not os.listdir(tmp_path), res.stderr


@needs_mpi
def test_gradients_reduced_by_the_tape_are_refused_by_distributed_optimizer():
    _checks_pass(2, "double_reduction", "double reduction refused")


@needs_mpi
def test_a_bucket_plan_is_built_once_across_steps():
    _checks_pass(2, "plans_cached", "plans cached")


def _served_mnist(tmp_path):
    from test_data import _fake_mnist

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _fake_mnist(mirror, n_train=40, n_test=20)
    return mirror


def _errors(stderr):
    return [line for line in stderr.splitlines() if line.startswith("xpgrad: error:")]


PREPARATION_ERRORS = [
    (["--epochs", "0"], "argument --epochs: must be an integer > 0"),      # argparse
    (["--resume", "missing.npz"], "missing.npz"),                         # rank 0 reads it
    (["--dataset", "mnist", "--data-dir", "no-such-dir"], "'no-such-dir' does not exist"),
    (["--logdir", "taken"], "is a file, not a directory"),                # every rank
]
DIFFERENT_SETTINGS = [
    ("--seed", ("1", "2"), "--seed: rank 0 has 1, rank 1 has 2"),
    ("--hidden", ("16", "32"), "--hidden: rank 0 has [16], rank 1 has [32]")]
REFUSED_COMMAND_LINES = [
    (1, ["--epochs", "-1"], "[rank 1] argument --epochs: must be an integer > 0, got -1"),
    (1, ["--bogus"], "[rank 1] unrecognized arguments: --bogus"),
    (0, ["--epochs", "-1"], "argument --epochs: must be an integer > 0, got -1")]
#: the worker's scenario_train: flags after "@R" are rank R's alone (as an MPMD launch)
_ONE_EPOCH = ("train", "--epochs", "1", "--no-log", "--progress", "never")


def _preparation_case(flags):
    return ("train", "--progress", "never", *flags)


def _settings_case(flag, values):
    return (*_ONE_EPOCH, "@0", flag, values[0], "@1", flag, values[1])


#: ``xpgrad train`` failing on some rank, each case ending with every rank's SystemExit at the
#: same step: run in turn in one job (the worker's scenario_failures), each case's output in
#: files of its own. The evaluate case first: after the optimizer case, a new run in the same
#: processes finds the ranks' counts of passes over their batches differing. Command lines
#: that argparse refuses launch alone: their agreement reads the process's own command line
#: (main(argv) in the worker printed the error on both ranks, or waited forever)
FAILURE_CASES = [("fails_in", "evaluate", "bug", "1"), ("write_fails", "checkpoint"),
                 ("write_fails", "events"), ("write_fails", "history"),
                 ("fails_in", "backward", "bug", "1"), ("fails_in", "forward", "memory", "-1"),
                 ("write_fails", "history", "--optimizer", "sgd", "--learning-rate", "1e9"),
                 *(_preparation_case(flags) for flags, _ in PREPARATION_ERRORS[1:]),
                 *(_settings_case(flag, values) for flag, values, _ in DIFFERENT_SETTINGS),
                 ("fails_in", "optimizer", "memory", "0")]


@pytest.fixture(scope="module")
def failures_job(tmp_path_factory):
    """The job of FAILURE_CASES on 2 ranks: its folder and its result."""
    cwd = tmp_path_factory.mktemp("failures")
    for k in range(len(FAILURE_CASES)):
        (cwd / f"case{k}").mkdir()
        (cwd / f"case{k}" / "taken").write_text("")     # a file where --logdir taken wants one
    try:
        res = mpirun(2, sys.executable, WORKER, "failures",
                     *(",".join(c) for c in FAILURE_CASES), timeout=300, cwd=cwd)
    except subprocess.TimeoutExpired as e:      # each test says which case hung
        res = subprocess.CompletedProcess(e.cmd, "timed out", (e.stdout or b"").decode(),
                                          (e.stderr or b"").decode())
    return cwd, res


def _failure_output(failures_job, *case, status=1):
    """Case ``case``'s stdout and stderr (rank 0's then rank 1's), after checking that the job
    went through every case without aborting and that each rank ended the case with
    ``status`` (a SystemExit out of xpgrad train's main)."""
    cwd, res = failures_job
    begun = [line.split(" begins ", 1)[1] for line in res.stdout.splitlines() if " begins " in
             line]
    assert res.returncode == 0, (f"the failures job ended with {res.returncode} in case "
                                 f"{begun[-1] if begun else None} (this test reads {case})",
                                 res.stdout[-2000:], res.stderr[-3000:])
    assert "MPI_ABORT" not in res.stderr and "aborting all" not in res.stderr, res.stderr
    folder = cwd / f"case{FAILURE_CASES.index(case)}"
    out, err = ("".join((folder / f"rank{r}.{ext}").read_text() for r in (0, 1))
                for ext in ("out", "err"))
    assert f"rank 0 exits with {status}" in out and f"rank 1 exits with {status}" in out, \
        (case, out)
    return out, err


@needs_mpi
def test_xpgrad_train_downloads_once_on_rank_0_while_the_others_wait(tmp_path, monkeypatch):
    monkeypatch.setenv("XPGRAD_DATA_DIR", str(tmp_path / "cache"))
    res = mpirun(2, sys.executable, WORKER, "download", str(_served_mnist(tmp_path)),
                 timeout=90, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    lines = res.stdout.splitlines()
    assert "rank 0 ok: trained" in lines and "rank 1 ok: trained" in lines, res.stdout
    fetched = sorted(line for line in lines if " fetched " in line)
    assert fetched == sorted(f"rank 0 fetched {stem}.gz" for stem in (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte")), res.stdout
    assert sorted(os.listdir(tmp_path / "cache" / "mnist")) == sorted(
        os.listdir(tmp_path / "mirror"))              # no partial files left by a second rank


@needs_mpi
def test_a_failed_download_under_mpi_is_one_error_and_status_1_on_every_rank(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("XPGRAD_DATA_DIR", str(tmp_path / "cache"))
    res = mpirun(2, sys.executable, WORKER, "download", str(_served_mnist(tmp_path)),
                 (tmp_path / "nothing").as_uri() + "/", timeout=90, cwd=tmp_path)
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-3000:]
    errors = _errors(res.stderr)
    assert len(errors) == 1 and "could not download MNIST file" in errors[0], \
        res.stderr
    assert "rank 1 fetched" not in res.stdout             # rank 0 tried; rank 1 waited
    assert "MPI_ABORT" not in res.stderr and "aborting all" not in res.stderr, res.stderr


@needs_mpi
@pytest.mark.parametrize("flags, words", PREPARATION_ERRORS)
def test_a_preparation_error_under_mpi_is_one_message_and_status_2_on_every_rank(
        tmp_path, failures_job, flags, words):
    case = _preparation_case(flags)
    if case in FAILURE_CASES:
        out, err = _failure_output(failures_job, *case, status=2)
    else:                           # argparse's: a command line of its own
        res = mpirun(2, sys.executable, "-m", "xpgrad.cli", *case, timeout=90, cwd=tmp_path)
        assert res.returncode == 2, res.stdout[-2000:] + res.stderr[-3000:]
        assert "MPI_ABORT" not in res.stderr and "aborting all" not in res.stderr, res.stderr
        err = res.stderr
    errors = _errors(err)
    assert len(errors) == 1 and words in errors[0], err


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_an_error_on_some_ranks_is_raised_on_every_rank(n):
    _checks_pass(n, "raise_together", "raise together")


@needs_mpi
@pytest.mark.parametrize("where", ["checkpoint", "events", "history"])
def test_a_failed_write_on_rank_0_during_training_is_one_message_and_status_1_everywhere(
        failures_job, where):
    # rank 0 alone writes logs and checkpoints: its error reaches the other ranks with the
    # next step's metrics (or at the end of the run), and no rank aborts the job
    out, err = _failure_output(failures_job, "write_fails", where)
    errors = _errors(err)
    assert len(errors) == 1 and f"No space left on device: 'the {where} file'" in errors[0], \
        err


@needs_mpi
@pytest.mark.parametrize("where, kind, rank", [
    ("forward", "memory", 1), ("backward", "bug", 1), ("optimizer", "memory", 0),
    ("evaluate", "bug", 1), ("forward", "memory", -1)])         # -1: on every rank
def test_an_error_on_one_rank_during_training_is_one_message_and_status_1_everywhere(
        tmp_path, failures_job, where, kind, rank):
    # was: the failed rank's traceback and MPI_Abort (the others killed, or left waiting in a
    # collective); now the failed rank joins the step's collectives with a flag, every rank
    # raises its error at the same point, and rank 0 reports it once, naming the rank
    case = ("fails_in", where, kind, str(rank))
    if case in FAILURE_CASES:
        out, err = _failure_output(failures_job, *case)
    else:                           # a job of its own: the status the processes exit with
        res = mpirun(2, sys.executable, WORKER, *case, timeout=90, cwd=tmp_path)
        assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-3000:]
        assert "MPI_ABORT" not in res.stderr and "aborting all" not in res.stderr, res.stderr
        out, err = res.stdout, res.stderr
        assert "rank 0 exits with 1" in out and "rank 1 exits with 1" in out, out
    errors = _errors(err)
    assert len(errors) == 1, err
    words = "out of memory while training" if kind == "memory" else \
        "RuntimeError: injected bug"
    assert words in errors[0] and (f"[rank {rank}]" in errors[0]) == (rank > 0), errors
    assert ("[rank 1] Traceback" in err) == (kind == "bug"), err    # a bug: where
    assert "Warning" not in err, err
    if where == "evaluate":         # no epoch line with the healthy rank's share alone
        assert "test acc" not in out, out


@needs_mpi
def test_a_failed_backward_pass_on_one_rank_is_raised_on_every_rank():
    _checks_pass(2, "backward_fails", "backward fails")


@needs_mpi
def test_a_nan_loss_whose_logs_cannot_be_written_under_mpi_names_both(failures_job):
    # was: the NaN loss alone; rank 0's failed write of history.json was dropped
    out, err = _failure_output(failures_job, "write_fails", "history", "--optimizer", "sgd",
                               "--learning-rate", "1e9")
    errors = _errors(err)
    assert len(errors) == 1 and "the training loss became nan" in errors[0] and \
        "the logs were not written either (OSError: [Errno 28] No space left on device: " \
        "'the history file')" in errors[0], err


@needs_mpi
@pytest.mark.parametrize("flag, values, shown", DIFFERENT_SETTINGS)
def test_ranks_started_with_different_train_settings_are_refused(failures_job, flag, values,
                                                                 shown):
    # was: rank 0's settings silently used on every rank (an MPMD launch giving each rank its
    # own --seed, or its own model); now one message and status 2 on every rank
    out, err = _failure_output(failures_job, *_settings_case(flag, values), status=2)
    errors = _errors(err)
    assert len(errors) == 1 and "rank 1 was started with other settings than rank 0" in \
        errors[0] and shown in errors[0], err
    assert "epoch" not in out, out


@needs_mpi
@pytest.mark.parametrize("bad_rank, extra, shown", REFUSED_COMMAND_LINES)
def test_a_command_line_refused_on_one_rank_ends_every_rank(tmp_path, bad_rank, extra, shown):
    # was: the rank that could not read its command line waited in the agreement on it, the
    # others in the comparison of settings, forever (two collectives that never matched)
    def command(bad):
        return [sys.executable, "-m", "xpgrad.cli", "train", "--epochs", "1", "--no-log",
                "--progress", "never", *(extra if bad else [])]

    res = mpirun(1, *command(bad_rank == 0), ":", "-n", "1", *command(bad_rank == 1),
                 timeout=90, cwd=tmp_path)
    assert res.returncode == 2, res.stdout[-2000:] + res.stderr[-3000:]
    errors = _errors(res.stderr)
    assert len(errors) == 1 and shown in errors[0], res.stderr
    assert "epoch" not in res.stdout, res.stdout


@needs_mpi
def test_a_rank_whose_copy_of_the_data_differs_is_named(tmp_path):
    # each rank reads --data-dir on its own machine; a copy that differs (one label here) was
    # trained on without a word, every rank indexing its share into its own arrays
    import gzip
    import shutil

    for rank in (0, 1):
        (tmp_path / f"r{rank}").mkdir()
        shutil.copytree(_served_mnist(tmp_path / f"r{rank}"), tmp_path / f"r{rank}" / "d")
    labels = tmp_path / "r1" / "d" / "train-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(labels.read_bytes()))
    data[8 + 5] = (data[8 + 5] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(data)))

    def command(rank):
        return ["-wdir", str(tmp_path / f"r{rank}"), sys.executable, "-m", "xpgrad.cli", "train",
                "--dataset", "mnist", "--data-dir", "d", "--epochs", "1", "--no-log",
                "--progress", "never"]

    res = mpirun(1, *command(0), ":", "-n", "1", *command(1), timeout=90)
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-3000:]
    errors = _errors(res.stderr)
    assert len(errors) == 1 and "rank 1 holds a different data set than rank 0" in errors[0] \
        and "y_train" in errors[0], res.stderr
    assert "MPI_ABORT" not in res.stderr and "aborting all" not in res.stderr, res.stderr


@needs_mpi
def test_a_second_ctrl_c_at_one_rank_ends_the_job_instead_of_a_hang(tmp_path):
    # a KeyboardInterrupt (the second SIGINT) on rank 1 mid-step: it printed "interrupted" and
    # exited 130, while rank 0 waited for it in the step's reduction forever; "stop now" leaves
    # no step to agree on, so the rank ends the job, as the excepthook does for a crash
    res = mpirun(2, sys.executable, WORKER, "fails_in", "forward", "interrupt", "1",
                 timeout=60, cwd=tmp_path)
    assert res.returncode != 0, res.stdout[-2000:]
    assert "xpgrad: interrupted" in res.stderr and \
        "[rank 1] xpgrad.distributed: exiting with status 130; aborting all 2 ranks" in \
        res.stderr, res.stderr[-3000:]
