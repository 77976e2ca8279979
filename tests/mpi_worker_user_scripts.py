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

#: the global batch: uneven shares on 2 and 3 ranks
BATCH = 7


def ok(what):
    print(f"rank {dist.rank()} ok: {what}", flush=True)


def data(batch=BATCH, shape=(3,), out=(2,), seed=0):
    """The global batch (x, y), the same on every rank."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, *shape)), rng.normal(size=(batch, *out))


def share(array):
    """This rank's contiguous share of ``array`` (its first axis)."""
    bounds = np.linspace(0, len(array), dist.size() + 1).astype(int)
    return array[bounds[dist.rank()]:bounds[dist.rank() + 1]]


def mlp(seed=0):
    return xg.nn.MLP([3, 5, 2], rng=seed, dtype=xg.float64)


def assert_same(reference, model, what, rtol=1e-10):
    for (name, want), got in zip(reference.named_variables().items(), model.variables):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol, atol=1e-13,
                                   err_msg=f"{what}: {name}")


def mse_step(model, x, y):
    """A tape holding the mean squared error of ``model`` on (x, y); None loss for no rows."""
    with xg.GradientTape() as tape:
        loss = xg.losses.mse(model(xg.asarray(x)), xg.asarray(y)) if len(x) else None
    return tape, loss


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


def scenario_save():
    """Two steps with DistributedOptimizer(Adam), then rank 0 saves the model and the optimizer
    (the wrapper, as Horovod users pass it) to argv[2]."""
    model, optimizer = train(OPTIMIZERS["Adam"], "optimizer", steps=2)
    if dist.rank() == 0:
        xg.save_checkpoint(sys.argv[2], model, optimizer)
    ok("save")


def scenario_resume():
    """Rank 0 loads argv[2] (saved on another number of ranks), gives it to the others, and all
    take two more steps: the same as four steps of one process."""
    model, optimizer = train(OPTIMIZERS["Adam"], "optimizer", steps=2, start=sys.argv[2])
    reference, reference_optimizer = train(OPTIMIZERS["Adam"], "one", steps=4)
    assert optimizer.iterations == reference_optimizer.iterations == 4
    assert_same(reference, model, "resumed")
    ok("resume")


def scenario_tbptt():
    """``tbptt_train`` of an LSTM with DistributedOptimizer (equal shares: tbptt_train takes no
    weight), eager and compiled, clipping by global norm or not, matches one process: the
    clipping applies to the reduced gradients, as on one process."""
    x, y = data(6, shape=(8, 3), out=(8, 2), seed=1)
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
        expect_error(lambda: dist.allreduce(value), TypeError, "tensor must be an xg Tensor")
    ok("basics")


def expect_error(action, error, words):
    """``action()`` must raise ``error`` with ``words`` in its message (on every rank alike,
    so the ranks stay in step)."""
    try:
        action()
    except error as e:
        assert words in str(e), (words, str(e))
    else:
        raise AssertionError(f"no {error.__name__} ({words})")


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
