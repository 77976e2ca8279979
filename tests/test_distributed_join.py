"""``dist.join()``: ranks training on shards of their own of 7, 5 (and 6) batches (of 3, 2 and
1 rows) for 2 epochs, under ``mpiexec -n 2`` and ``-n 3`` (tests/mpi_worker_join.py's cases, in
tests/mpi_shared_job.py's jobs): inside ``join()`` every rank ends with the same weights, those
of one process that takes at each step the rows the ranks still had, divided by every rank's
rows (``divide_by_initial_world_size``, the default, as PyTorch's DDP.join and Horovod divide)
or by the rows of the ranks that still had data; ``allreduce`` inside the blocks divides a mean
by the same rule; a call a joined rank cannot take part in, ranks whose rules differ, and the
same uneven epochs without ``join()`` raise a DistributedError on every rank, no hang."""
import ast

import numpy as np
import pytest

import xpgrad as xg
from mpi_shared_job import shared_stdout
from mpi_worker_join import BATCHES, ROWS, loss_of, model, optimizer, shard
from test_distributed import needs_mpi


def _job(n=2):
    return shared_stdout(n, "join")


def _line(rank, case, key, n=2):
    prefix = f"rank {rank} {case} {key}"
    found = [line for line in _job(n) if line.startswith(prefix)]
    assert len(found) == 1, (prefix, _job(n))
    return found[0]


def _weights(line):
    return [np.asarray(w) for w in ast.literal_eval(line.split(" weights ", 1)[1])]


def _one_process(case, n=2, epochs=2):
    """One process, each step on the rows the ranks still had at that step, the mean over
    those rows times their share of all ranks' rows with ``*_initial`` (a joined rank counts
    with its rows); then one step on rank 0's first batch (the worker's step after join)."""
    lin, opt = model(), optimizer(case)
    shards = [shard(r) for r in range(n)]
    every_row = sum(ROWS[r] for r in range(n))
    for _ in range(epochs):
        for k in range(max(BATCHES[r] for r in range(n))):
            rows = [s[k] for s in shards if k < len(s)]
            x, y = (np.concatenate([r[i] for r in rows]) for i in (0, 1))
            with xg.GradientTape() as tape:
                loss = loss_of(lin, x, y)
                if case.endswith("_initial"):
                    loss = loss * (len(x) / every_row)
            opt.apply_gradients(zip(tape.gradient(loss, lin.trainable_variables),
                                    lin.trainable_variables))
    joined = [v.numpy().copy() for v in lin.trainable_variables]
    x, y = shards[0][0]
    with xg.GradientTape() as tape:
        loss = loss_of(lin, x, y)
    opt.apply_gradients(zip(tape.gradient(loss, lin.trainable_variables),
                            lin.trainable_variables))
    return joined, [v.numpy() for v in lin.trainable_variables]


@needs_mpi
@pytest.mark.parametrize("n, case", [(2, "sgd"), (2, "adam"), (2, "sgd_initial"),
                                     (2, "adam_initial"), (3, "sgd"), (3, "sgd_initial")])
def test_ranks_with_uneven_shards_inside_join_end_with_one_process_s_weights(n, case):
    lines = [_line(r, case, "last_rank", n) for r in range(n)]
    steps = [BATCHES[r] for r in range(n)]
    assert all(f" last_rank 0 steps {steps} iterations 14 " in line for line in lines), lines
    ranks = [_weights(line) for line in lines]
    for other in ranks[1:]:
        for a, b in zip(ranks[0], other):
            np.testing.assert_array_equal(a, b)         # the same weights on every rank
    joined, after = _one_process(case, n)
    for got, want in zip(ranks[0], joined):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # a step together after the join: the optimizers' states (Adam's moments, the step count)
    # were taken from the last rank too, so the ranks still follow one process
    for r in range(n):
        for got, want in zip(_weights(_line(r, case, "after", n)), after):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_the_two_rules_give_different_weights():
    """The references above can tell the rules apart: dividing by every rank's rows at the
    steps only some ranks had data moves the weights."""
    for n in (2, 3):
        active, _ = _one_process("sgd", n)
        initial, _ = _one_process("sgd_initial", n)
        assert max(np.abs(a - b).max() for a, b in zip(active, initial)) > 1e-3


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("case", ["allreduce_initial", "allreduce_active"])
def test_allreduce_inside_join_reduces_over_the_ranks_still_calling(n, case):
    """Rank r reduces [r + 1, -(r + 1)] (int64) at each of its steps: a joined rank adds
    nothing to the sum, max and min, and a mean divides by every rank (the default) or by
    the ranks still calling."""
    for r in range(n):
        got = ast.literal_eval(_line(r, case, "results", n).split(" results ", 1)[1])
        assert len(got) == BATCHES[r]
        for k, step in enumerate(got):
            values = [q + 1 for q in range(n) if BATCHES[q] > k]
            divisor = n if case == "allreduce_initial" else len(values)
            mean, total, high, low = step
            np.testing.assert_allclose(mean, [sum(values) / divisor, -sum(values) / divisor],
                                       rtol=1e-7)
            assert total == [sum(values), -sum(values)]
            assert high == [max(values), -min(values)]
            assert low == [min(values), -max(values)]


@needs_mpi
def test_a_rank_joined_before_any_reduction_counts_as_one_rank_of_the_callers_weight():
    """Rank 1 leaves its block before any reduction while rank 0 reduces with weight=3 (its
    rows): the mean divides by 3 + 3, both ranks counted alike, as PyTorch's division by the
    world size (rank 0's gradient / 2). Before 2026-12-08 the joined rank counted with weight
    1 (3 / 4 of rank 0's gradient)."""
    lin, (x, y) = model(), shard(0)[0]
    with xg.GradientTape() as tape:
        loss = loss_of(lin, x, y)
    alone = [g.numpy() / 2 for g in tape.gradient(loss, lin.trainable_variables)]
    line = _line(0, "joined_before_any_step", "grads")
    got = ast.literal_eval(line.split(" grads ", 1)[1])
    for g, want in zip(got, alone):
        np.testing.assert_allclose(g, want, rtol=1e-12)


@needs_mpi
def test_a_call_a_joined_rank_cannot_take_part_in_is_an_error_on_every_rank():
    for r in (0, 1):
        line = _line(r, "broadcast_inside", "DistributedError")
        assert "rank 1 has left its dist.join() block" in line, line
        assert "'broadcast_variables()'" in line, line


@needs_mpi
def test_ranks_dividing_by_different_rules_are_told_on_every_rank():
    for r in (0, 1):
        line = _line(r, "rules_differ", "DistributedError")
        assert "divide_by_initial_world_size: [True, False]" in line, line


@needs_mpi
def test_uneven_epochs_without_join_are_named_with_the_step_counts_and_the_fix():
    for r in (0, 1):
        line = _line(r, "no_join", "DistributedError")
        assert ("rank 1 has ended its pass over its batches (xg.data.batches) after 5 steps "
                "while rank 0 is at step 6 of its pass") in line, line
        assert "dist.join(model, optimizer)" in line, line
    assert not [line for line in _job() if "no_join ended without an error" in line]


@needs_mpi
def test_an_even_run_after_an_uneven_one_in_the_same_process_is_not_named_uneven():
    # the passes the failed run left counted (rank 1 one more) are forgotten as it raises
    for r in (0, 1):
        _line(r, "even_after_uneven", "ended without an error")
    assert not [line for line in _job() if "even_after_uneven DistributedError" in line]


def test_join_on_one_process_trains_as_without_it():
    lin, opt = model(), optimizer("adam")
    x, y = shard(0)[0]
    with xg.distributed.join(lin, opt) as joined:
        for _ in range(2):
            with xg.GradientTape() as tape:
                loss = loss_of(lin, x, y)
            grads = xg.distributed.DistributedGradientTape(tape).gradient(
                loss, lin.trainable_variables)
            opt.apply_gradients(zip(grads, lin.trainable_variables))
    ref, ref_opt = model(), optimizer("adam")
    for _ in range(2):
        with xg.GradientTape() as tape:
            loss = loss_of(ref, x, y)
        ref_opt.apply_gradients(zip(tape.gradient(loss, ref.trainable_variables),
                                    ref.trainable_variables))
    assert joined.last_rank == 0 and joined.steps == [2]
    for a, b in zip(lin.trainable_variables, ref.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_join_refuses_bad_arguments_naming_them():
    lin = model()
    with pytest.raises(ValueError, match="join: optimizer needs variables"):
        xg.distributed.join(optimizer=optimizer("sgd"))
    with pytest.raises(TypeError, match="join: optimizer must be an xg.optim optimizer, got "
                                        "str"):
        xg.distributed.join(lin, "adam")
    with pytest.raises(TypeError, match="join: divide_by_initial_world_size must be True or "
                                        "False, got 1"):
        xg.distributed.join(lin, divide_by_initial_world_size=1)
    with xg.distributed.join(lin):
        with pytest.raises(RuntimeError, match="already inside a dist.join"):
            with xg.distributed.join(lin):
                pass


def test_batches_is_still_a_list_and_its_passes_count_only_with_reductions():
    from xpgrad.batch_passes import state

    b = xg.data.batches(5, 2)
    assert isinstance(b, list) and [i.tolist() for i in b] == [[0, 1], [2, 3], [4]]
    before = state()["passes"]
    for _ in xg.data.batches(4, 2):
        pass                        # no gradient reduction: not a training pass
    assert state()["passes"] == before
