"""``dist.join()``: 2 ranks training on shards of their own of 7 and 5 batches (of 3 and 2 rows)
for 2 epochs, under ``mpiexec -n 2`` (one launch of tests/mpi_worker_join.py for every case):
inside ``join()`` both ranks end with the same weights, those of one process that takes at each
step the rows the ranks still had (the mean over the ranks that had data: a rank that has run
out counts for nothing), with SGD and with Adam; a call a joined rank cannot take part in, and
the same uneven epochs without ``join()``, raise a DistributedError on every rank, no hang."""
import ast

import numpy as np
import pytest

import xpgrad as xg
from mpi_shared_job import shared_stdout
from mpi_worker_join import BATCHES, loss_of, model, optimizer, shard
from test_distributed import needs_mpi


def _job():
    return shared_stdout(2, "join")


def _line(rank, case, key):
    prefix = f"rank {rank} {case} {key}"
    found = [line for line in _job() if line.startswith(prefix)]
    assert len(found) == 1, (prefix, _job())
    return found[0]


def _weights(line):
    return [np.asarray(w) for w in ast.literal_eval(line.split(" weights ", 1)[1])]


def _one_process(case, epochs=2):
    """One process, each step on the rows the ranks still had at that step; then one step on
    rank 0's first batch (the worker's step after join)."""
    lin, opt = model(), optimizer(case)
    shards = shard(0), shard(1)
    for _ in range(epochs):
        for k in range(max(BATCHES.values())):
            rows = [s[k] for s in shards if k < len(s)]
            x, y = (np.concatenate([r[i] for r in rows]) for i in (0, 1))
            with xg.GradientTape() as tape:
                loss = loss_of(lin, x, y)
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
@pytest.mark.parametrize("case", ["sgd", "adam"])
def test_ranks_with_uneven_shards_inside_join_end_with_one_process_s_weights(case):
    lines = [_line(r, case, "last_rank") for r in (0, 1)]
    assert all(f" last_rank 0 steps [{BATCHES[0]}, {BATCHES[1]}] iterations 14 " in line
               for line in lines), lines
    ranks = [_weights(line) for line in lines]
    for a, b in zip(*ranks):
        np.testing.assert_array_equal(a, b)         # the same weights on both ranks
    joined, after = _one_process(case)
    for got, want in zip(ranks[0], joined):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # a step together after the join: the optimizers' states (Adam's moments, the step count)
    # were taken from the last rank too, so the ranks still follow one process
    for r in (0, 1):
        for got, want in zip(_weights(_line(r, case, "after")), after):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_counting_a_joined_rank_in_the_mean_would_give_other_weights():
    """The reference above can tell the rule apart: dividing by both ranks' rows at the steps
    only rank 0 had data (DDP's default, divide_by_initial_world_size) moves the weights."""
    joined, _ = _one_process("sgd")
    lin, opt = model(), optimizer("sgd")
    shards = shard(0), shard(1)
    for _ in range(2):
        for k in range(BATCHES[0]):
            rows = [s[k] for s in shards if k < len(s)]
            x, y = (np.concatenate([r[i] for r in rows]) for i in (0, 1))
            with xg.GradientTape() as tape:
                loss = loss_of(lin, x, y) * (len(x) / 5)       # over 5 rows, always
            opt.apply_gradients(zip(tape.gradient(loss, lin.trainable_variables),
                                    lin.trainable_variables))
    assert max(np.abs(a - b.numpy()).max() for a, b in
               zip(joined, lin.trainable_variables)) > 1e-3


@needs_mpi
def test_a_call_a_joined_rank_cannot_take_part_in_is_an_error_on_every_rank():
    for r in (0, 1):
        line = _line(r, "allreduce_inside", "DistributedError")
        assert "rank 1 has left its dist.join() block" in line and "'allreduce()'" in line, \
            line


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
