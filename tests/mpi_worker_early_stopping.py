"""Run by tests/test_distributed_early_stopping.py under ``mpiexec -n 2`` ("early" and
"plateau" in tests/mpi_shared_job.py's job): a Horovod-style loop whose ranks each compute a
validation loss on their own shard (the values differ) and step ``EarlyStopping`` or
``ReduceLROnPlateau`` with it. Prints one ``rank R SCENARIO stopped ...`` line per rank."""
import sys

import numpy as np

import xpgrad as xg

dist = xg.distributed
#: each rank's validation loss per epoch: alone, rank 0 would stop after epoch 2, rank 1 after 1
VALUES = {0: [1.0, 0.9, 0.95, 0.97, 0.99, 1.0], 1: [1.0, 1.05, 0.8, 0.7, 0.75, 0.8]}


def main(scenario):
    dist.init()
    rank = dist.rank()
    w = xg.Variable(np.ones(3), name="w")
    opt = dist.DistributedOptimizer(xg.optim.SGD(0.1))
    early = xg.optim.EarlyStopping(patience=1) if scenario != "plateau" else None
    plateau = xg.optim.ReduceLROnPlateau(opt, factor=0.5, patience=0) \
        if scenario == "plateau" else None
    for value in VALUES[rank]:
        with xg.GradientTape() as tape:
            loss = xg.sum(w * w)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        val_loss = xg.asarray(value, dtype=xg.float64)     # this rank's shard's loss
        if plateau is not None:
            plateau.step(val_loss)
        if scenario == "rank_0_alone":      # the other rank goes on to the next step
            if rank == 0:
                early.step(val_loss)
        elif early is not None and early.step(val_loss):
            break
    stopped = None if early is None else early.stopped_epoch
    print(f"rank {rank} {scenario} stopped {stopped} lr {opt.learning_rate!r} "
          f"w {w.numpy().tolist()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
