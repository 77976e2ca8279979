"""Run by tests/test_distributed_user_scripts.py under ``mpiexec -n N python
tests/mpi_worker_user_scripts.py SCENARIO`` (or plain ``python``: one process): training scripts
as users of Horovod / PyTorch DDP write them with xpgrad.distributed, each checked against one
process training on the whole global batch, in float64. Each rank prints ``rank R ok: <check>``
per check passed; a failure is an uncaught exception, which (through ``init``'s hook) ends the
job."""
import sys

import numpy as np

import xpgrad as xg
from xpgrad import distributed as dist
from xpgrad.distributed import launcher_size

from mpi_user_scripts_common import (BATCH, assert_same, data, expect_error, mlp, mse_step, ok,
                                     share)
from mpi_user_scripts_variations import (  # noqa: F401
    scenario_buffers, scenario_clipped_before_reduction, scenario_lbfgs, scenario_settings_differ,
    scenario_tape_settings_differ, scenario_variations)
from mpi_user_scripts_compiled import (  # noqa: F401
    scenario_accumulation_compiled, scenario_clipped_before_reduction_compiled)
from mpi_user_scripts_models import (  # noqa: F401
    scenario_char_lm_tbptt, scenario_frozen_embedding_adamw, scenario_resume_tape)


def train(make_optimizer, how, steps=3, clip=None, batch=BATCH, start=None):
    """``steps`` updates of an MLP on the global batch: ``how`` "one" (one process, the whole
    batch), "tape" (DistributedGradientTape) or "optimizer" (DistributedOptimizer), each rank
    on its share, starting from rank-dependent weights that ``broadcast_variables`` replaces;
    ``clip`` clips by global norm after the reduction. ``start`` (a checkpoint's path): rank 0
    resumes from it, then gives its weights and optimizer state to the others; returns the
    model and the optimizer."""
    x, y = data(batch)
    model = mlp(0 if how == "one" else dist.rank())
    optimizer = make_optimizer()
    if how == "optimizer":
        optimizer = dist.DistributedOptimizer(optimizer)
    if start is not None and dist.rank() == 0:
        xg.load_checkpoint(start, model, optimizer)
    if how != "one":
        x, y = share(x), share(y)
        dist.broadcast_variables(model)
    if start is not None:
        dist.broadcast_optimizer_state(optimizer, model)
    for _ in range(steps):
        variables = model.trainable_variables
        tape, loss = mse_step(model, x, y)
        if how == "optimizer":
            grads = tape.gradient(loss, variables) if loss is not None else [None] * 4
            optimizer.apply_gradients(zip(grads, variables), weight=len(x))
            continue
        if how == "tape":
            grads = dist.DistributedGradientTape(tape).gradient(loss, variables, weight=len(x))
        else:
            grads = tape.gradient(loss, variables)
        if clip is not None:
            grads, _ = xg.optim.clip_global_norm(grads, clip)
        optimizer.apply_gradients(zip(grads, variables))
    return model, optimizer


OPTIMIZERS = {
    "SGD with momentum, weight decay": lambda: xg.optim.SGD(0.1, momentum=0.9,
                                                            weight_decay=0.01),
    "Adam": lambda: xg.optim.Adam(0.01),
    "RMSprop with momentum": lambda: xg.optim.RMSprop(0.01, momentum=0.5),
    "a learning-rate schedule": lambda: xg.optim.SGD(
        xg.optim.schedules.ExponentialDecay(0.1, 1, 0.5)),
    "AdamW, global_clipnorm": lambda: xg.optim.AdamW(0.01, global_clipnorm=0.1),
}


def scenario_optimizers():
    """Each optimizer, through the tape and through DistributedOptimizer, matches one process;
    clipping by global norm after the reduction too."""
    for name, make in OPTIMIZERS.items():
        reference = train(make, "one")[0]
        for how in ("tape", "optimizer"):
            assert_same(reference, train(make, how)[0], f"{name} ({how})")
    make = OPTIMIZERS["SGD with momentum, weight decay"]
    assert_same(train(make, "one", clip=0.05)[0], train(make, "tape", clip=0.05)[0], "clip")
    ok("optimizers")


def scenario_empty_share():
    """A rank whose share is empty passes None gradients and weight=0 to DistributedOptimizer
    (as to the tape): it still joins the reduction, and the result is one process's."""
    make = OPTIMIZERS["SGD with momentum, weight decay"]
    reference = train(make, "one", batch=2)[0]
    for how in ("tape", "optimizer"):
        assert_same(reference, train(make, how, batch=2)[0], f"batch of 2 ({how})")
    ok("empty share")


def scenario_sharded_epochs():
    """Two epochs of shuffled global batches of 4 from 13 rows (a last batch of one: an empty
    share on all but one rank), each rank on ``dist.share`` of each, with Adam: as one
    process. An empty share passes None gradients with weight=0."""
    x, y = data(13)
    models = []
    for how in ("one", "optimizer"):
        model, optimizer = mlp(), xg.optim.Adam(0.01)
        if how == "optimizer":
            optimizer = dist.DistributedOptimizer(optimizer)
        for epoch in range(2):
            for idx in xg.data.batches(len(x), 4, rng=np.random.default_rng(epoch)):
                mine = idx if how == "one" else dist.share(idx)
                tape, loss = mse_step(model, x[mine], y[mine])
                variables = model.trainable_variables
                grads = tape.gradient(loss, variables) if len(mine) else [None] * 4
                options = {} if how == "one" else {"weight": len(mine)}
                optimizer.apply_gradients(zip(grads, variables), **options)
        models.append(model)
    assert_same(*models, "dist.share of shuffled global batches")
    ok("sharded epochs")


def scenario_unused_variable():
    """A variable the loss does not use has a None gradient on every rank: DistributedOptimizer
    passes it on as None (the wrapped optimizer skips it), as the plain optimizer does."""
    used, unused = xg.Variable([1.0, 2.0], name="used"), xg.Variable([5.0], name="unused")
    optimizer = dist.DistributedOptimizer(xg.optim.SGD(0.5))
    with xg.GradientTape() as tape:
        loss = xg.sum(used * used) * (dist.rank() + 1)
    grads = tape.gradient(loss, [used, unused])
    assert grads[1] is None
    optimizer.apply_gradients(zip(grads, [used, unused]))
    mean_factor = (dist.size() + 1) / 2
    np.testing.assert_allclose(used.numpy(), [1.0, 2.0] - 0.5 * mean_factor * np.array([2, 4.0]))
    np.testing.assert_allclose(unused.numpy(), [5.0])
    ok("unused variable")


def scenario_minimize():
    """``DistributedOptimizer(opt).minimize(loss_fn, variables)`` (Keras' one-call step)
    reduces the gradients too (it trained each rank alone, through the wrapped optimizer's
    minimize); with ``weight`` the local batch size, as one process on the global batch."""
    x, y = data()
    models = []
    for how in ("one", "optimizer"):
        xs, ys = (x, y) if how == "one" else (share(x), share(y))
        model = mlp()
        optimizer = xg.optim.Adam(0.01)
        if how == "optimizer":
            optimizer = dist.DistributedOptimizer(optimizer)
        for _ in range(2):
            def loss_fn():
                return xg.losses.mse(model(xg.asarray(xs)), xg.asarray(ys))
            if how == "one":
                optimizer.minimize(loss_fn, model)
            else:
                optimizer.minimize(loss_fn, model, weight=len(xs))
        models.append(model)
    assert_same(*models, "minimize")
    ok("minimize")


def scenario_save():
    """Two steps with DistributedOptimizer(Adam), then rank 0 saves the model and the optimizer
    (the wrapper, as Horovod users pass it) to argv[2], with the steps done as metadata."""
    model, optimizer = train(OPTIMIZERS["Adam"], "optimizer", steps=2)
    if dist.rank() == 0:
        xg.save_checkpoint(sys.argv[2], model, optimizer, metadata={"steps": 2})
    ok("save")


def scenario_resume():
    """Rank 0 loads argv[2] (saved on another number of ranks) and reads its metadata, gives
    both to the others (the file may be on rank 0's machine only), and all take the steps left
    of four: the same as four steps of one process."""
    metadata = xg.checkpoint_metadata(sys.argv[2]) if dist.rank() == 0 else None
    metadata = dist.world().bcast_object(metadata, root=0)
    steps_left = 4 - metadata["steps"]
    model, optimizer = train(OPTIMIZERS["Adam"], "optimizer", steps=steps_left,
                             start=sys.argv[2])
    reference, reference_optimizer = train(OPTIMIZERS["Adam"], "one", steps=4)
    assert optimizer.iterations == reference_optimizer.iterations == 4
    assert_same(reference, model, "resumed")
    ok("resume")


def scenario_tbptt():
    """``tbptt_train`` of an LSTM with DistributedOptimizer, on uneven shares (it weighs each
    rank by its rows), eager and compiled, clipping by global norm or not, matches one process:
    the clipping applies to the reduced gradients, as on one process."""
    x, y = data(7, shape=(8, 3), out=(8, 2), seed=1)
    for clip in (None, 0.01):
        for compile in (False, True):
            models = []
            for how in ("one", "optimizer"):
                model = xg.nn.LSTM(3, 2, rng=0, dtype=xg.float64)
                optimizer = xg.optim.Adam(0.01)
                xs, ys = (x, y) if how == "one" else (share(x), share(y))
                if how == "optimizer":
                    optimizer = dist.DistributedOptimizer(optimizer)
                state = None
                for chunk in (slice(0, 4), slice(4, 8)):    # a long sequence, in two calls
                    state = xg.nn.tbptt_train(
                        model, xg.losses.mse, optimizer, xg.asarray(xs[:, chunk]),
                        xg.asarray(ys[:, chunk]), 2, max_grad_norm=clip, compile=compile,
                        state=state).state
                models.append(model)
            assert_same(*models, f"tbptt, max_grad_norm={clip}, compile={compile}")
    x, y = data(shape=(4, 3), out=(4, 2), seed=2)        # uneven shares: the tape's weight
    models = []
    for how in ("one", "tape"):
        model, optimizer = xg.nn.LSTM(3, 2, rng=0, dtype=xg.float64), xg.optim.Adam(0.01)
        xs, ys = (x, y) if how == "one" else (share(x), share(y))
        for _ in range(2):
            with xg.GradientTape() as tape:
                loss = xg.losses.mse(model(xg.asarray(xs))[0], xg.asarray(ys))
            if how == "tape":
                tape = dist.DistributedGradientTape(tape)
            options = {"weight": len(xs)} if how == "tape" else {}
            grads = tape.gradient(loss, model.trainable_variables, **options)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        models.append(model)
    assert_same(*models, "LSTM, full backpropagation through time, uneven shares")
    ok("tbptt")


def scenario_basics():
    """rank()/size() before init() (they start it), init() twice, barrier, allreduce of 0-d,
    integer and boolean tensors; a Python number or NumPy array is a TypeError naming it."""
    import os

    assert xg.asarray(1.0)._backend.name == os.environ.get("XPGRAD_BACKEND", "numpy")
    launcher = int(os.environ.get("OMPI_COMM_WORLD_RANK", 0)), launcher_size()
    assert (dist.rank(), dist.size()) == launcher, ((dist.rank(), dist.size()), launcher)
    assert dist.init() is dist.init() is dist.world()
    dist.barrier()
    r, n = dist.rank(), dist.size()
    total = dist.allreduce(xg.asarray(float(r), dtype=xg.float64), op="sum")
    assert total.shape == () and float(total) == n * (n - 1) / 2, total
    counts = dist.allreduce(xg.asarray([r, 1]), op="sum")
    assert counts.dtype == xg.int64 and counts.tolist() == [n * (n - 1) / 2, n], counts
    np.testing.assert_allclose(dist.allreduce(xg.asarray([True, r == 0])).numpy(), [1, 1 / n],
                               rtol=1e-6)
    for value in (3.0, np.ones(2)):
        expect_error(lambda: dist.allreduce(value), TypeError, "wrap it with xg.asarray")
    ok("basics")


def scenario_bad_input():
    """Bad arguments are errors naming them, raised on every rank (so a script may even catch
    them and go on): wrong op, weight negative / NaN / a 1-d tensor, bucket_bytes 0 or
    negative, a source that is not a Tensor, ranks that disagree on op."""
    v = xg.Variable([1.0, 2.0], name="v")

    def tape(**options):
        with xg.GradientTape() as t:
            loss = xg.sum(v * v)
        return dist.DistributedGradientTape(t, **options), loss

    expect_error(lambda: tape(op="avg"), ValueError, "op must be 'mean' or 'sum'")
    for weight, error in ((-1.0, ValueError), (float("nan"), ValueError),
                          (xg.asarray([2.0]), TypeError)):
        expect_error(lambda: tape()[0].gradient(tape()[1], [v], weight=weight), error,
                     "weight must be a")
        expect_error(lambda: dist.DistributedOptimizer(xg.optim.SGD(0.1)).apply_gradients(
            [(xg.ones(2), v)], weight=weight), error, "weight must be a")
    for size in (0, -5):
        expect_error(lambda: tape(bucket_bytes=size), ValueError, "bucket_bytes must be")
        expect_error(lambda: dist.DistributedOptimizer(xg.optim.SGD(0.1), bucket_bytes=size),
                     ValueError, "bucket_bytes must be")
    expect_error(lambda: tape()[0].gradient(tape()[1], [np.ones(2)]), TypeError,
                 "sources must be Tensors")
    last = dist.rank() == dist.size() - 1
    op = "sum" if last and dist.size() > 1 else "mean"
    if dist.size() > 1:
        expect_error(lambda: tape(op=op)[0].gradient(tape()[1], [v]), dist.DistributedError,
                     "op='sum'")
        expect_error(lambda: dist.DistributedOptimizer(xg.optim.SGD(0.1), op=op)
                     .apply_gradients([(xg.ones(2), v)]), dist.DistributedError, "op='sum'")
    ok("bad input")


def scenario_complex():
    """A complex parameter (with a real one: two buckets) trains as on one process, with no
    warning (reading the buckets' weight and flag slots warned ComplexWarning every step)."""
    import warnings

    x, y = data()
    models = []
    for how in ("one", "tape"):
        xs, ys = (x, y) if how == "one" else (share(x), share(y))
        z = xg.Variable(np.array([1 + 2j, -0.5j, 0.3]), name="z")
        bias = xg.Variable(np.array([0.1, 0.2]), name="bias")
        optimizer = xg.optim.SGD(0.05, momentum=0.9)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for _ in range(2):
                with xg.GradientTape() as tape:
                    out = xg.real(xg.asarray(xs) @ z)[:, None] + bias
                    loss = xg.losses.mse(out, xg.asarray(ys)) if len(xs) else None
                if how == "one":
                    grads = tape.gradient(loss, [z, bias])
                else:
                    grads = dist.DistributedGradientTape(tape).gradient(loss, [z, bias],
                                                                        weight=len(xs))
                optimizer.apply_gradients(zip(grads, [z, bias]))
        models.append(xg.nn.Sequential())
        models[-1].z, models[-1].bias = z, bias
    assert_same(*models, "complex")
    ok("complex")


def main():
    for name in sys.argv[1].split(","):
        globals()[f"scenario_{name}"]()


if __name__ == "__main__":
    main()
