"""Scenarios of tests/mpi_worker_user_scripts.py whose local step is an ``xg.function``: what a
compiled step's replays hand to ``xpgrad.distributed`` must be judged as the eager step's."""
import warnings

import numpy as np

import xpgrad as xg
from xpgrad import distributed as dist

from mpi_user_scripts_common import assert_same, data, mlp, ok, share


def _clipped_gradients_of(model):
    """A DDP port's local step: each rank clips its own gradients (``clip_grad_norm_``)."""
    def clipped_gradients(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(model(x), y)
        grads, _ = xg.optim.clip_global_norm(tape.gradient(loss, model.trainable_variables),
                                             0.05)
        return grads
    return clipped_gradients


def scenario_clipped_before_reduction_compiled():
    """Per-rank clipping inside an ``xg.function`` step, then ``DistributedOptimizer``: the
    replays' gradients lost the clipping's mark, so a compiled step trained apart from one
    process without the warning the eager step gives. Now it warns at every step as eager
    does, and the weights are the eager step's, the same on every rank."""
    x, y = data()
    xs, ys = xg.asarray(share(x)), xg.asarray(share(y))
    models = []
    for compile in (False, True):
        model = mlp()
        optimizer = dist.DistributedOptimizer(xg.optim.SGD(0.1))
        step = _clipped_gradients_of(model)
        if compile:
            step = xg.function(step)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(3):
                optimizer.apply_gradients(zip(step(xs, ys), model.trainable_variables),
                                          weight=len(xs))
        words = [str(w.message) for w in caught if "before the reduction" in str(w.message)]
        assert len(words) == (3 if dist.size() > 1 else 0), (compile, words)
        models.append(model)
    assert_same(*models, "compiled step as the eager one")
    every = dist.world().allgather([v.numpy() for v in models[1].variables])
    for theirs in every[1:]:
        for mine, other in zip(every[0], theirs):
            np.testing.assert_array_equal(mine, other)
    ok("clipped before reduction compiled")


def scenario_accumulation_compiled():
    """Gradient accumulation as DDP users write it (``no_sync`` for the micro-batches, one
    reduction at the end): an ``xg.function`` gives each micro-batch's summed-loss
    gradients, added up over the rank's micro-batches (uneven: 1 or 2 rows), divided by the
    rank's rows, then one ``DistributedOptimizer.apply_gradients(weight=rows)`` with SGD
    momentum: as one process on the global batch, every step."""
    x, y = data()
    models = []
    for how in ("one", "optimizer"):
        model, optimizer = mlp(), xg.optim.SGD(0.1, momentum=0.9)
        if how == "optimizer":
            optimizer = dist.DistributedOptimizer(optimizer)
        xs, ys = (x, y) if how == "one" else (share(x), share(y))

        @xg.function
        def summed_gradients(xb, yb):
            with xg.GradientTape() as tape:
                loss = xg.losses.mse(model(xb), yb, reduction="sum") / 2
            return tape.gradient(loss, model.trainable_variables)

        for _ in range(3):
            total = None
            for rows in np.array_split(np.arange(len(xs)), 2):
                grads = summed_gradients(xg.asarray(xs[rows]), xg.asarray(ys[rows]))
                total = grads if total is None else [a + b for a, b in zip(total, grads)]
            pairs = zip([g / len(xs) for g in total], model.trainable_variables)
            if how == "one":
                optimizer.apply_gradients(pairs)
            else:
                optimizer.apply_gradients(pairs, weight=len(xs))
        models.append(model)
    assert_same(*models, "accumulated compiled micro-batches")
    ok("accumulation compiled")
