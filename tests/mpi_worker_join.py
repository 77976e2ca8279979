"""Run by tests/test_distributed_join.py in tests/mpi_shared_job.py's jobs on 2 and 3 ranks
(or alone: ``mpiexec -n 2 python tests/mpi_worker_join.py CASE...``): ranks training on shards
of their own, of 7, 5 (and 6) batches (Horovod's ``x[rank::size]``), inside ``dist.join()``,
with the tape and SGD (a barrier each step) and with ``DistributedOptimizer(Adam)``, each mean
divided by every rank (``divide_by_initial_world_size``, the default: cases ``*_initial``) or
by the ranks that still had data; ``allreduce`` inside the blocks; then a call a joined rank
cannot take part in, and the same uneven loops without ``join()``. Each case prints ``rank R
CASE ...`` lines; a DistributedError is caught and printed (every rank raises it at the same
call, so the next case starts in step)."""
import sys

import numpy as np

import xpgrad as xg

dist = xg.distributed
#: the cases, run in turn in one job (tests/mpi_shared_job.py's on 2 and on 3 ranks)
CASES = {2: ("sgd", "adam", "sgd_initial", "adam_initial", "allreduce_initial",
             "allreduce_active", "joined_before_any_step", "broadcast_inside", "rules_differ",
             "no_join", "even_after_uneven"),
         3: ("sgd", "sgd_initial", "allreduce_initial", "allreduce_active")}
BATCHES = {0: 7, 1: 5, 2: 6}    # each rank's number of batches
ROWS = {0: 3, 1: 2, 2: 1}       # rows per batch on each rank (uneven too: the weights matter)


def shard(rank):
    """Rank ``rank``'s batches: (x, y) float64 arrays, the same in the test's reference."""
    rng = np.random.default_rng(10 + rank)
    return [(rng.normal(size=(ROWS[rank], 3)), rng.normal(size=(ROWS[rank], 1)))
            for _ in range(BATCHES[rank])]


def model():
    return xg.nn.Linear(3, 1, dtype=xg.float64, rng=0)


def optimizer(case):
    return xg.optim.Adam(0.05) if case.startswith("adam") else xg.optim.SGD(0.1)


def loss_of(lin, x, y):
    return xg.losses.mse(lin(xg.asarray(x)), xg.asarray(y))


def weights(lin):
    return repr([v.numpy().tolist() for v in lin.trainable_variables])


def train(case, rank, joined=True, epochs=1):
    lin, opt = model(), optimizer(case)
    wrapped = dist.DistributedOptimizer(opt) if case.startswith("adam") else None
    data = shard(rank)
    initial = case.endswith("_initial")
    for epoch in range(epochs):
        block = (dist.join(lin, opt, divide_by_initial_world_size=initial) if joined
                 else _nothing())
        with block:
            for idx in xg.data.batches(len(data), 1):
                x, y = data[idx[0]]
                step(lin, opt, wrapped, x, y)
    return lin, opt, block


def step(lin, opt, wrapped, x, y):
    """One step on this rank's batch, weighted by its rows."""
    with xg.GradientTape() as tape:
        loss = loss_of(lin, x, y)
    if wrapped is not None:
        grads = tape.gradient(loss, lin.trainable_variables)
        wrapped.apply_gradients(zip(grads, lin.trainable_variables), weight=len(x))
    else:
        grads = dist.DistributedGradientTape(tape).gradient(
            loss, lin.trainable_variables, weight=len(x))
        opt.apply_gradients(zip(grads, lin.trainable_variables))
        dist.barrier()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main(cases):
    dist.init()
    rank = dist.rank()
    for case in cases:
        try:
            if case in ("sgd", "adam", "sgd_initial", "adam_initial"):
                lin, opt, block = train(case, rank, epochs=2)
                print(f"rank {rank} {case} last_rank {block.last_rank} steps {block.steps} "
                      f"iterations {opt.iterations} weights {weights(lin)}", flush=True)
                # one more step together: the ranks' optimizers agree (their settings are
                # compared with the layout), and stay equal
                x, y = shard(0)[0]
                with xg.GradientTape() as tape:
                    loss = loss_of(lin, x, y)
                grads = dist.DistributedGradientTape(tape).gradient(
                    loss, lin.trainable_variables)
                opt.apply_gradients(zip(grads, lin.trainable_variables))
                print(f"rank {rank} {case} after weights {weights(lin)}", flush=True)
            elif case in ("allreduce_initial", "allreduce_active"):
                # at each step, every op over rank r's [r + 1, -(r + 1)] (int64: the joined
                # ranks' identity of max and min is the dtype's limit)
                mine = xg.asarray(np.array([rank + 1, -(rank + 1)], dtype=np.int64))
                results = []
                with dist.join(divide_by_initial_world_size=case == "allreduce_initial"):
                    for _ in range(BATCHES[rank]):
                        results.append([dist.allreduce(mine, op).tolist()
                                        for op in ("mean", "sum", "max", "min")])
                print(f"rank {rank} {case} results {results!r}", flush=True)
            elif case == "joined_before_any_step":     # rank 1 has no batch in the block
                lin, (x, y) = model(), shard(0)[0]
                with dist.join():
                    if rank == 0:
                        with xg.GradientTape() as tape:
                            loss = loss_of(lin, x, y)
                        grads = dist.DistributedGradientTape(tape).gradient(
                            loss, lin.trainable_variables, weight=len(x))
                        print(f"rank {rank} {case} grads "
                              f"{[g.numpy().tolist() for g in grads]!r}", flush=True)
            elif case == "broadcast_inside":
                lin = model()
                with dist.join():
                    for _ in range(BATCHES[rank]):
                        dist.broadcast_variables(lin.trainable_variables)
            elif case == "rules_differ":        # rank 0 divides by both ranks, rank 1 not
                with dist.join(divide_by_initial_world_size=rank == 0):
                    dist.barrier()
                print(f"rank {rank} rules_differ ended without an error", flush=True)
            elif case == "no_join":         # two epochs over the uneven shards
                train("sgd", rank, joined=False, epochs=2)
                print(f"rank {rank} no_join ended without an error", flush=True)
            elif case == "even_after_uneven":   # after no_join's error: an even epoch trains
                lin, opt = model(), optimizer("sgd")
                data = shard(rank)[:BATCHES[1]]
                for idx in xg.data.batches(len(data), 1):
                    step(lin, opt, None, *data[idx[0]])
                print(f"rank {rank} even_after_uneven ended without an error", flush=True)
        except dist.DistributedError as e:
            print(f"rank {rank} {case} DistributedError: {e}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
