"""Scenarios of tests/mpi_worker_user_scripts.py: variations of the local step (gradient
accumulation, a frozen layer, op="sum", a persistent tape, bucket and overlap settings, a traced
step) and buffers, each against one process."""
import warnings

import numpy as np

import xpgrad as xg
from xpgrad import distributed as dist

from mpi_user_scripts_common import (BATCH, assert_same, data, expect_error, mlp, mse_step,
                                     ok, share)


def local_step(model, xs, ys, how, optimizer, **tape_options):
    """One update of ``model`` on (xs, ys): "one" a plain tape, "tape" DistributedGradientTape
    (with ``tape_options``) weighted by the local batch size."""
    variables = model.trainable_variables
    tape, loss = mse_step(model, xs, ys)
    if how == "one":
        grads = tape.gradient(loss, variables)
    else:
        grads = dist.DistributedGradientTape(tape, **tape_options).gradient(
            loss, variables, weight=len(xs))
    optimizer.apply_gradients(zip(grads, variables))


def compare(what, step, steps=2):
    """``step(model, xs, ys, how, optimizer)`` ``steps`` times on one process ("one") and on
    this rank's share ("tape"): the models must agree."""
    x, y = data()
    models = []
    for how in ("one", "tape"):
        model, optimizer = mlp(), xg.optim.SGD(0.1, momentum=0.9)
        for _ in range(steps):
            step(model, *((x, y) if how == "one" else (share(x), share(y))), how, optimizer)
        models.append(model)
    assert_same(*models, what)


def accumulated(model, xs, ys, how, optimizer):
    """Gradient accumulation: sums over two micro-batches, one reduction at the end."""
    variables, total = model.trainable_variables, None
    for rows in np.array_split(np.arange(len(xs)), 2):
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(model(xg.asarray(xs[rows])), xg.asarray(ys[rows]),
                                 reduction="sum") / 2
        grads = tape.gradient(loss, variables)
        total = grads if total is None else [a + b for a, b in zip(total, grads)]
    grads = [g / len(xs) for g in total]
    if how == "one":
        optimizer.apply_gradients(zip(grads, variables))
    else:
        dist.DistributedOptimizer(optimizer).apply_gradients(zip(grads, variables),
                                                             weight=len(xs))


def frozen_first_layer(model, xs, ys, how, optimizer):
    model.layers[0].trainable = False
    local_step(model, xs, ys, how, optimizer)


def summed(model, xs, ys, how, optimizer):
    """op="sum" of losses summed over rows, divided by the global batch size afterwards."""
    variables = model.trainable_variables
    with xg.GradientTape() as tape:
        loss = xg.losses.mse(model(xg.asarray(xs)), xg.asarray(ys), reduction="sum") / 2
    if how == "one":
        grads = tape.gradient(loss, variables)
    else:
        grads = dist.DistributedGradientTape(tape, op="sum").gradient(loss, variables)
    optimizer.apply_gradients(zip([g / BATCH for g in grads], variables))


def persistent_nested(model, xs, ys, how, optimizer):
    """A persistent tape asked twice, with sources as a nested tuple and an unconnected one."""
    variables = model.trainable_variables
    spare = xg.Variable([0.0], name="spare")
    with xg.GradientTape(persistent=True) as tape:
        loss = xg.losses.mse(model(xg.asarray(xs)), xg.asarray(ys))
    if how != "one":
        tape = dist.DistributedGradientTape(tape)
    options = {} if how == "one" else {"weight": len(xs)}
    first = tape.gradient(loss, tuple(variables) + (spare,), unconnected_gradients="zero",
                          **options)
    again = tape.gradient(loss, variables, **options)
    assert isinstance(first, tuple) and first[-1].tolist() == [0.0]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    optimizer.apply_gradients(zip(again, variables))


def scenario_variations():
    """Gradient accumulation, a frozen layer, op="sum", a persistent tape, one bucket per
    gradient, no overlap, a traced local step with the reduction outside: as one process."""
    compare("accumulation", accumulated)
    compare("frozen layer", frozen_first_layer)
    compare("op=sum", summed)
    compare("persistent tape", persistent_nested)
    compare("bucket_bytes=1", lambda *a: local_step(*a, bucket_bytes=1))
    compare("overlap=False", lambda *a: local_step(*a, overlap=False))
    compare("xg.function", traced_local_step)
    ok("variations")


def traced_local_step(model, xs, ys, how, optimizer):
    """xg.function around the local gradients (traced once), the reduction outside it."""
    if not hasattr(model, "_grads"):
        def grads_of(x, y):
            with xg.GradientTape() as tape:
                loss = xg.losses.mse(model(x), y)
            return tape.gradient(loss, model.trainable_variables)
        model.__dict__["_grads"] = xg.function(grads_of)
    grads = model._grads(xg.asarray(xs), xg.asarray(ys))
    pairs = zip(grads, model.trainable_variables)
    if how == "one":
        optimizer.apply_gradients(pairs)
    else:
        dist.DistributedOptimizer(optimizer).apply_gradients(pairs, weight=len(xs))


class RunningMean(xg.nn.Module):
    """A layer with a buffer, as BatchNorm's running statistics: a frozen Variable updated
    from each batch (here: from this rank's share, as in a DDP script)."""

    def __init__(self):
        super().__init__()
        self.mean = xg.Variable(np.zeros(3), name="mean", trainable=False)
        self.rows = 0

    def forward(self, x):
        total = self.mean * self.rows + xg.sum(x, axis=0)
        self.rows += x.shape[0]
        self.mean.assign(total / max(self.rows, 1))
        return x - self.mean


def scenario_buffers():
    """Buffers are not reduced with the gradients; the docs' two recipes: DDP's default (rank
    0's buffers broadcast) and exact statistics over the global batch (summed over ranks)."""
    x, _ = data()
    reference, layer = RunningMean(), RunningMean()
    reference(xg.asarray(x))
    layer(xg.asarray(share(x)))
    local_rows = len(share(x))
    layer.mean.assign(dist.allreduce(layer.mean * local_rows, op="sum") / BATCH)
    np.testing.assert_allclose(layer.mean.numpy(), reference.mean.numpy(), rtol=1e-12)
    dist.broadcast_variables([v for v in layer.variables if not v.trainable], root=0)
    np.testing.assert_allclose(layer.mean.numpy(), reference.mean.numpy(), rtol=1e-12)
    ok("buffers")


def scenario_lbfgs():
    """``DistributedOptimizer(LBFGS).minimize(loss_fn, variables, weight=rows)`` (PyTorch's
    ``step(closure)``) on uneven shares and an empty one: every evaluation of its iterations
    and line search takes the loss and gradient of the global batch, as one process does (it
    raised a TypeError telling the user to call the very ``minimize`` they had called)."""
    x, y = data(batch=4 if dist.size() < 3 else 2)
    models = []
    for how in ("one", "optimizer"):
        model, optimizer = mlp(), xg.optim.LBFGS(0.5, max_iter=4, line_search_fn="strong_wolfe")
        xs, ys, options = x, y, {}
        if how == "optimizer":
            optimizer = dist.DistributedOptimizer(optimizer)
            xs, ys = share(x), share(y)
            options = {"weight": len(xs)}
        for _ in range(2):
            optimizer.minimize(lambda: xg.losses.mse(model(xg.asarray(xs)), xg.asarray(ys)),
                               model.trainable_variables, **options)
        models.append(model)
    assert_same(*models, "LBFGS")
    ok("lbfgs")


def scenario_clipped_before_reduction():
    """A DDP port clipping each rank's gradients (``clip_global_norm``, torch's
    ``clip_grad_norm_``) before ``DistributedOptimizer`` reduces them clips by this rank's norm,
    not the global batch's: it trains apart from one process without a word. On several ranks
    it now warns, naming the two ways that clip the reduced gradients; the recipe it names
    (``reduce_gradients``, then clip) matches one process and does not warn."""
    x, y = data()
    models = []
    for how in ("one", "clip after", "clip before"):
        model, optimizer = mlp(), xg.optim.SGD(0.1)
        xs, ys = (x, y) if how == "one" else (share(x), share(y))
        if how != "one":
            optimizer = dist.DistributedOptimizer(optimizer)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(2):
                variables = model.trainable_variables
                tape, loss = mse_step(model, xs, ys)
                pairs = list(zip(tape.gradient(loss, variables), variables))
                if how == "clip before":
                    clipped, _ = xg.optim.clip_global_norm([g for g, _ in pairs], 0.05)
                    optimizer.apply_gradients(zip(clipped, variables), weight=len(xs))
                    continue
                if how == "clip after":
                    pairs = optimizer.reduce_gradients(pairs, weight=len(xs))
                clipped, _ = xg.optim.clip_global_norm([g for g, _ in pairs], 0.05)
                (optimizer if how == "one" else optimizer.optimizer).apply_gradients(
                    zip(clipped, variables))
        words = [str(w.message) for w in caught if "before the reduction" in str(w.message)]
        assert len(words) == (2 if how == "clip before" and dist.size() > 1 else 0), (how, words)
        assert not words or "reduce_gradients" in words[0] and "global_clipnorm" in words[0]
        models.append(model)
    assert_same(models[0], models[1], "clipped after the reduction")
    ok("clipped before reduction")


def scenario_settings_differ():
    """Ranks whose wrapped optimizers disagree on the learning rate (a plateau scheduler
    stepped with each rank's own loss) or on the step count (rank 0 resumed a checkpoint and
    ``broadcast_optimizer_state`` was forgotten: Adam's bias correction differs) applied the
    same reduced gradients differently: the ranks' weights drifted apart without a word. Now
    ``DistributedOptimizer`` raises a DistributedError on every rank naming what differs."""
    x, y = data()
    xs, ys = share(x), share(y)
    for what, words, spoil in (
            ("learning rate", "learning rate", lambda opt: setattr(opt, "learning_rate", 0.05)),
            ("step count", "broadcast_optimizer_state",
             lambda opt: setattr(opt, "iterations", 2))):
        model = mlp()
        optimizer = dist.DistributedOptimizer(xg.optim.Adam(0.1))
        if dist.rank() == dist.size() - 1 and dist.size() > 1:
            spoil(optimizer.optimizer)
        variables = model.trainable_variables
        tape, loss = mse_step(model, xs, ys)
        pairs = list(zip(tape.gradient(loss, variables) if len(xs) else [None] * 4, variables))
        if dist.size() == 1:
            optimizer.apply_gradients(pairs, weight=len(xs))
            continue
        expect_error(lambda: optimizer.apply_gradients(pairs, weight=len(xs)),
                     dist.DistributedError, words)
        np.testing.assert_array_equal(model.variables[0].numpy(), mlp().variables[0].numpy(),
                                      err_msg=f"{what}: applied before the error")
    ok("settings differ")


def scenario_tape_settings_differ():
    """Horovod's tape style: ``DistributedGradientTape`` gradients applied by each rank's plain
    optimizer. Ranks whose optimizers disagree on the learning rate or the step count applied
    the same reduced gradients differently, without a word (``DistributedOptimizer`` checked,
    the tape sees no optimizer). Now the optimizer notes its settings as it applies the tape's
    gradients, and the tape's next ``gradient`` call raises a DistributedError on every rank
    naming them; ranks that agree train as one process."""
    x, y = data()
    xs, ys = share(x), share(y)
    for what, words, spoil in (
            ("learning rate", "learning rate 0.05", lambda opt: setattr(opt, "learning_rate",
                                                                        0.05)),
            ("step count", "broadcast_optimizer_state",
             lambda opt: setattr(opt, "iterations", 2)),
            ("nothing", None, lambda opt: None)):
        model, optimizer = mlp(), xg.optim.Adam(0.1)
        if dist.rank() == dist.size() - 1:
            spoil(optimizer)
        variables = model.trainable_variables

        def step():
            tape, loss = mse_step(model, xs, ys)
            grads = dist.DistributedGradientTape(tape).gradient(loss, variables, weight=len(xs))
            optimizer.apply_gradients(zip(grads, variables))

        step()
        if words is None or dist.size() == 1:
            step()
            continue
        expect_error(step, dist.DistributedError, words)
    compare("agreeing optimizers", local_step, steps=3)
    ok("tape settings differ")
