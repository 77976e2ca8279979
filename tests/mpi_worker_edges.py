"""Run by tests/test_distributed_edges.py under ``mpiexec -n N python
tests/mpi_worker_edges.py SCENARIO``: edge cases of xpgrad.distributed found in use (dtypes of
``allreduce``, frozen Variables in ``broadcast_variables``, bad pairs given to
``DistributedOptimizer`` on one rank only, ranks running different numbers of steps). Each rank
prints ``rank R ok: <check>`` per check passed (``in_turn A B ...`` runs several scenarios in
one job); a failure is an uncaught exception, which
(through xg.distributed.init's hook) aborts the job."""
import contextlib
import os
import sys
import time
import warnings

import numpy as np

import xpgrad as xg
from xpgrad import distributed as dist

#: what rank r passes to allreduce, one recipe per dtype
RECIPES = [lambda r: np.array([1, 2 + r]), lambda r: np.array([True, r == 0]),
           lambda r: np.int8([3, -r]), lambda r: np.uint8([r, 7]),
           lambda r: np.float32([0.5, r]), lambda r: np.array([1 + 2j * r])]


def ok(what):
    print(f"rank {dist.rank()} ok: {what}", flush=True)


def scenario_allreduce_dtypes():
    """allreduce(t, op) is op over a stack of the ranks' tensors: values as NumPy's, dtype as
    xg.sum / xg.mean's (a mean of integers was a crash, a sum of bools an MPI error); max and
    min keep the dtype (bools included, which MPI cannot order)."""
    r, n = dist.init().rank, dist.size()
    for recipe in RECIPES:
        every = np.stack([recipe(k) for k in range(n)])
        for op, reduce_ in (("sum", xg.sum), ("mean", xg.mean)):
            got = dist.allreduce(xg.asarray(recipe(r)), op=op)
            want = reduce_(xg.asarray(every), axis=0)
            assert got.dtype == want.dtype, (recipe(r), op, got.dtype, want.dtype)
            np.testing.assert_allclose(got.numpy(), getattr(np, op)(every, axis=0),
                                       rtol=1e-6, err_msg=f"{recipe(r)} {op}")
        for op in ("max", "min"):          # Horovod's Max and Min: the dtype kept
            if every.dtype.kind == "c":
                continue
            got = dist.allreduce(xg.asarray(recipe(r)), op=op)
            assert got.dtype == xg.asarray(every).dtype, (recipe(r), op, got.dtype)
            np.testing.assert_array_equal(got.numpy(), getattr(np, op)(every, axis=0),
                                          err_msg=f"{recipe(r)} {op}")
    ok("allreduce dtypes")


def scenario_broadcast():
    """broadcast_variables(module) gives every rank rank 0's Variables, the frozen
    (non-trainable) ones too, as DDP broadcasts buffers; a single Variable is accepted."""
    w = dist.init()
    model = xg.nn.MLP([3, 4, 2], rng=w.rank)             # different weights on every rank
    model.scale = xg.Variable(np.full(3, float(w.rank)), name="scale", trainable=False)
    alone = xg.Variable(np.arange(2.0) + w.rank, name="alone")
    dist.broadcast_variables(model)
    dist.broadcast_variables(alone)
    mine = {k: v.numpy() for k, v in model.named_variables().items()}
    root = w.comm.bcast(mine, root=0)
    assert list(mine) == list(root) and "mlp/scale" in mine, list(mine)
    for k in mine:
        np.testing.assert_array_equal(mine[k], root[k], err_msg=k)
    np.testing.assert_array_equal(alone.numpy(), np.arange(2.0))
    ok("broadcast frozen")


def scenario_optimizer_checks():
    """DistributedOptimizer answers bad pairs as the wrapped optimizer does, before reducing
    (was an AttributeError for a non-Variable, a NumPy broadcast error for a wrong shape)."""
    dist.init()
    v = xg.Variable([1.0, 2.0], name="v")
    opt = dist.DistributedOptimizer(xg.optim.SGD(0.5))
    for pairs, error, words in (([(xg.ones(3), v)], ValueError, "gradient for 'v' has shape"),
                                ([(xg.ones(2), np.ones(2))], TypeError, "updates Variables"),
                                ([xg.ones(2)], TypeError, "(gradient, variable) pairs")):
        try:
            opt.apply_gradients(pairs)
        except error as e:
            assert words in str(e), e
        else:
            raise AssertionError(f"no {error.__name__} for {pairs}")
    opt.apply_gradients([(np.array([2.0, 4.0]) * (dist.rank() + 1), v)])   # still in step
    n = dist.size()
    np.testing.assert_allclose(v.numpy(), [1.0, 2.0] - 0.5 * np.array([2.0, 4.0]) * (n + 1) / 2)
    ok("optimizer checks")


def scenario_fewer_steps():
    """The last rank runs one step fewer (its data ran out): it ends its script while the
    others wait for it in the next gradient call, which must raise, not wait forever."""
    w = dist.init()
    v = xg.Variable(np.ones(3), name="v")
    for step in range(3 if w.rank < w.size - 1 else 2):
        with xg.GradientTape() as tape:
            loss = xg.sum(v * v)
        dist.DistributedGradientTape(tape).gradient(loss, [v])
        print(f"rank {w.rank} step {step}", flush=True)


def scenario_stuck_rank():
    """The last rank is stuck outside xpgrad.distributed (a deadlocked loader: it sleeps)
    while the others, with ``init(timeout=2)``, wait in a gradient call: they note the wait on
    stderr, naming the missing rank (and the others waiting), then raise DistributedError,
    which ends the job (it waited forever before)."""
    w = dist.init(timeout=2)
    v = xg.Variable(np.ones(3), name="v")
    for step in range(2):
        if step == 1 and w.rank == w.size - 1:
            time.sleep(120)          # the abort ends it long before
        with xg.GradientTape() as tape:
            loss = xg.sum(v * v)
        dist.DistributedGradientTape(tape).gradient(loss, [v])
        print(f"rank {w.rank} step {step}", flush=True)


def scenario_fewer_steps_sync_bn():
    """scenario_fewer_steps with a SyncBatchNorm: the others wait in its forward pass (its
    batch statistics' allreduce), which must raise too."""
    w = dist.init()
    bn = xg.nn.SyncBatchNorm(3, dtype=xg.float64)
    x = xg.asarray(np.random.default_rng(w.rank).normal(size=(4, 3)), dtype=xg.float64)
    for step in range(3 if w.rank < w.size - 1 else 2):
        with xg.GradientTape() as tape:
            loss = xg.sum(bn(x) ** 2)
        dist.DistributedGradientTape(tape).gradient(loss, bn.trainable_variables, weight=4)
        print(f"rank {w.rank} step {step}", flush=True)


def scenario_barrier_after_exit():
    w = dist.init()
    if w.rank == 0:
        dist.barrier()


def scenario_exit_1_on_the_last_rank():
    """A user's guard on one rank (a NaN loss, a missing file): ``sys.exit(1)`` there while the
    others go on to the next step's barrier."""
    w = dist.init()
    if w.rank == w.size - 1:
        sys.exit(1)     # the line the others' error names
    dist.barrier()


def scenario_bcast_object_after_exit():
    """The docs' resume recipe: the others wait for the last rank's object, which has ended."""
    w = dist.init()
    if w.rank < w.size - 1:
        w.bcast_object(None, root=w.size - 1)


def scenario_allgather_after_exit():
    w = dist.init()
    if w.rank < w.size - 1:
        w.allgather(w.rank)


def scenario_object_collectives():
    """``bcast_object`` and ``allgather`` give every rank the same copies, empty ones too."""
    w = dist.init()
    assert w.allgather({"rank": w.rank}) == [{"rank": r} for r in range(w.size)]
    assert w.allgather(None) == [None] * w.size
    for root in range(w.size):
        assert w.bcast_object(("step", root) if w.rank == root else None, root=root) == (
            "step", root)
    assert w.bcast_object(b"") == b""
    ok("object collectives")


def scenario_barrier_against_allreduce():
    """Rank 0 reduces then waits at the barrier, the others the other way round: a
    DistributedError on every rank naming both calls (it was MPI_ERR_TRUNCATE from Open MPI).
    Then ranks on shards of their own (x[rank::size]) of unequal lengths: rank 0 takes one step
    more per epoch and reduces its gradients while rank 1 already averages the epoch's loss,
    named as such (the message said 'different allreduce argument' with 'every rank must build
    the same model' and compared rank 0's learning rate with rank 1's loss's shape)."""
    dist.init()
    calls = [lambda: dist.allreduce(xg.asarray(np.ones(3))), dist.barrier]
    try:
        for call in calls if dist.rank() == 0 else calls[::-1]:
            call()
    except dist.DistributedError as e:
        assert ("rank 1 makes another call of xpgrad.distributed than rank 0 (rank 0 is in "
                "'allreduce()', rank 1 in 'barrier()')") in str(e), str(e)
        ok("mismatch named")
    w = xg.Variable(np.ones(2), name="w")
    opt = dist.DistributedOptimizer(xg.optim.SGD(0.1))
    rows = np.arange(5.0)[dist.rank()::dist.size()]        # 3 rows on rank 0, 2 on rank 1
    try:
        for batch in xg.data.batches(len(rows), 1):
            with xg.GradientTape() as tape:
                loss = xg.sum(w * float(rows[batch][0]))
            opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]), weight=1)
        dist.allreduce(xg.asarray(float(loss)))
    except dist.DistributedError as e:
        assert ("rank 1 makes another call of xpgrad.distributed than rank 0 (rank 0 is in "
                "'DistributedOptimizer.apply_gradients()/minimize()', rank 1 in 'allreduce()')"
                in str(e) and "dist.share(idx)" in str(e)), str(e)
        ok("uneven shards named")


def scenario_sync_bn_train_against_eval():
    """Rank 1 forgets model.train() on step 1: rank 0 reduces its batch statistics while rank
    1 checks the gradients' layout, and Open MPI fails (MPI_ERR_TRUNCATE)."""
    w = dist.init()
    model = xg.nn.Sequential([xg.nn.Linear(3, 4, rng=0, dtype=xg.float64),
                              xg.nn.SyncBatchNorm(4, dtype=xg.float64)])
    x = xg.asarray(np.random.default_rng(w.rank).normal(size=(5, 3)))
    for step in range(2):
        if step == 1 and w.rank == 1:
            model.eval()
        with xg.GradientTape() as tape:
            loss = xg.mean(model(x) ** 2)
        dist.DistributedGradientTape(tape).gradient(loss, model.trainable_variables, weight=5)


def scenario_root_ends_late():
    """Ranks may end at different times (rank 0 saving a checkpoint): no error, exit 0."""
    w = dist.init()
    dist.barrier()
    if w.rank == 0:
        time.sleep(1.5)
    ok("ended")


def scenario_notes():
    """``xpgrad train``'s notes on stderr (kernels to compile, downloads) come from rank 0
    alone, as its other output does; here the numpy backend pretends to have kernels to
    compile."""
    from xpgrad.cli import main

    dist.init()
    backend = type(xg.get_backend("numpy"))
    assert "kernels_cached" not in vars(backend), "the numpy backend has kernels now"
    backend.kernels_cached = lambda self, dtypes=None: False
    try:
        assert main(["train", "--epochs", "1", "--hidden", "8", "--no-log",
                     "--progress", "never", "--backend", "numpy"]) == 0
    finally:                                  # the shared job goes on after it
        del backend.kernels_cached
    ok("trained")


def scenario_optimizer_state_checks():
    """broadcast_optimizer_state checks its arguments and the layout on every rank before any
    collective (a list of non-Variables raised on rank 0 alone and left the others waiting in
    a broadcast forever; different variables were a KeyError on some ranks only, another kind
    of optimizer a ValueError on the others only). The root's
    learning rate comes with its state (as Horovod's broadcast_optimizer_state)."""
    w = dist.init()
    v = xg.Variable([1.0, 2.0], name="v")
    opt = xg.optim.Adam(0.1 if w.rank == 0 else 0.3)
    if w.rank == 0:                        # only rank 0 has stepped
        with xg.GradientTape() as tape:
            loss = xg.sum(v * v)
        opt.apply_gradients(zip(tape.gradient(loss, [v]), [v]))
    mine = xg.Variable([1.0, 2.0], name="v" if w.rank == 0 else "u")
    for args, error, words in (((opt, [np.ones(2)]), TypeError, "variables must be"),
                               (("adam", [v]), TypeError, "optimizer must be"),
                               ((opt, [mine]), dist.DistributedError, "different model layout"),
                               ((opt if w.rank == 0 else xg.optim.SGD(0.1), [v]),
                                dist.DistributedError, "rank 0 has 'optimizer: Adam', rank 1 "
                                                       "has 'optimizer: SGD'")):
        try:
            dist.broadcast_optimizer_state(*args)
        except error as e:
            assert words in str(e), e
        else:
            raise AssertionError(f"no {error.__name__} for {args}")
    dist.broadcast_optimizer_state(opt, [v])             # still in step
    state = {k: t.numpy() for k, t in opt.state_dict([v]).items()}
    root = w.comm.bcast(state, root=0)
    assert state["iterations"] == 1 and list(state) == list(root)
    assert opt.learning_rate == 0.1, opt.learning_rate
    for k in state:
        np.testing.assert_array_equal(state[k], root[k], err_msg=k)
    ok("optimizer state checks")


def scenario_traced():
    """A reduction inside xg.function cannot be replayed: the trace raises TraceError saying
    what to do (was a TypeError from deep inside), and on_trace_error="eager" runs it eagerly,
    reduced on every call."""
    w = dist.init()
    v = xg.Variable([1.0, 2.0], name="v")
    x = xg.asarray([w.rank + 1.0, w.rank + 1.0])
    want = 2 * v.numpy() * np.mean(np.arange(1, w.size + 1))

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(v * v * x)
        return dist.DistributedGradientTape(tape).gradient(loss, [v])[0]

    strict = xg.function(step)
    np.testing.assert_allclose(strict(x).numpy(), want)       # the first call runs eagerly
    try:
        strict(x)
    except xg.jit.TraceError as e:
        assert "cannot record a reduction across ranks" in str(e) and \
            "mpi_worker_edges.py" in str(e), e
    else:
        raise AssertionError("a reduction was traced")
    lenient = xg.function(step, on_trace_error="eager")
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            np.testing.assert_allclose(lenient(x).numpy(), want)
    ok("traced")


def scenario_double_reduction():
    """Gradients of a DistributedGradientTape given to a DistributedOptimizer would be reduced
    twice (a sum over ranks summed again): refused on every rank, before any reduction; a
    plain tape's gradients go through it, and the ranks are still in step."""
    w = dist.init()
    v = xg.Variable([1.0, 2.0], name="v")
    opt = dist.DistributedOptimizer(xg.optim.SGD(0.5), op="sum")
    with xg.GradientTape() as tape:
        loss = xg.sum(v * v) * (w.rank + 1)
    grads = dist.DistributedGradientTape(tape, op="sum").gradient(loss, [v])
    try:
        opt.apply_gradients(zip(grads, [v]))
    except ValueError as e:
        assert "already reduced" in str(e) and "not both" in str(e), e
    else:
        raise AssertionError("gradients reduced twice")
    assert v.tolist() == [1.0, 2.0] and opt.iterations == 0
    with xg.GradientTape() as tape:
        loss = xg.sum(v * v) * (w.rank + 1)
    opt.apply_gradients(zip(tape.gradient(loss, [v]), [v]))
    ranks = np.arange(1, w.size + 1)          # d/dv of sum_r (r + 1) v.v = 2 v sum_r (r + 1)
    np.testing.assert_allclose(v.numpy(), np.array([1.0, 2.0]) * (1 - 0.5 * 2 * ranks.sum()))
    ok("double reduction refused")


def scenario_plans_cached():
    """The bucket plan of a layout is built once, not on every step: DataParallel.reduce
    (xpgrad train --compile), DistributedOptimizer and a new DistributedGradientTape each step,
    three steps each; the reduced values are the weighted mean over ranks."""
    from xpgrad.distributed import buckets

    built = []
    real = buckets.BucketPlan.__init__

    def counting(self, *args, **kwargs):
        built.append(args[0])
        real(self, *args, **kwargs)

    buckets.BucketPlan.__init__ = counting
    try:
        _plans_cached(built)
    finally:                                  # the shared job's later scenarios build plans
        buckets.BucketPlan.__init__ = real
    ok("plans cached")


def _plans_cached(built):
    from xpgrad.distributed.training import DataParallel

    w = dist.init()
    params = [xg.Variable(np.ones((3, 2)), name="w"), xg.Variable(np.zeros(2), name="b")]
    c = float(w.rank + 1)                     # this rank's gradient: c everywhere, weight c
    ranks = np.arange(1, w.size + 1.0)
    want = (ranks ** 2).sum() / ranks.sum()   # the mean of the ranks' c weighted by c
    dp = DataParallel(w)
    opt = dist.DistributedOptimizer(xg.optim.SGD(1.0))
    for step in range(3):
        local = [xg.asarray(np.full(p.shape, c)) for p in params]
        for g in dp.reduce(local, params, c):
            np.testing.assert_allclose(g.numpy(), want)
        before = [p.numpy().copy() for p in params]
        opt.apply_gradients(zip(local, params), weight=c)
        for p, b in zip(params, before):
            np.testing.assert_allclose(p.numpy(), b - want)
        with xg.GradientTape() as tape:
            loss = sum(xg.sum(p) for p in params) * c
        for g in dist.DistributedGradientTape(tape).gradient(loss, params, weight=c):
            np.testing.assert_allclose(g.numpy(), want)
    assert len(built) == 1, f"{len(built)} bucket plans built for one layout"


def scenario_download():
    """``xpgrad train --dataset mnist`` on every rank, the files served from the directory
    argv[2] (file:// URLs) into an empty cache: rank 0 downloads them, the others wait and
    read its files (each rank prints what it fetched)."""
    import hashlib
    import pathlib

    from xpgrad import data
    from xpgrad.cli import main
    from xpgrad.data import downloads

    mirror = pathlib.Path(sys.argv[2])
    sha = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in mirror.glob("*.gz")}
    data.SOURCES["mnist"] = data.Source("MNIST", (mirror.as_uri() + "/",), sha)
    if len(sys.argv) > 3:                     # nothing served there: every download fails
        data.SOURCES["mnist"] = data.Source("MNIST", (sys.argv[3],), sha)
    real = downloads._urlopen

    def fetch(url, timeout):
        print(f"rank {dist.rank()} fetched {url.rsplit('/', 1)[1]}", flush=True)
        return real(url, timeout)

    downloads._urlopen = fetch
    assert main(["train", "--dataset", "mnist", "--epochs", "1", "--hidden", "8",
                 "--batch-size", "16", "--no-log", "--progress", "never"]) == 0
    ok("trained")


class Unpicklable(Exception):
    def __init__(self, text, extra):          # pickling calls Unpicklable(text): a TypeError
        super().__init__(text)


def scenario_raise_together():
    """An error on one rank is raised on every rank, with the rank it arose on; one that
    cannot be pickled arrives as a DistributedError with its text; the lowest failing rank's
    error wins; the ranks stay in step afterwards."""
    from xpgrad.data import DataError
    from xpgrad.distributed.agreement import raise_together, run_together

    w = dist.init()
    last = w.size - 1
    cases = [(lambda r: DataError(f"missing on rank {r}") if r >= 1 else None, DataError,
              "missing on rank 1", 1),
             (lambda r: Unpicklable("odd", 1) if r == last else None, dist.DistributedError,
              "Unpicklable: odd", last)]
    for make, error, text, where in cases:
        try:
            raise_together(w, make(w.rank), "the test")
        except error as e:
            assert str(e) == text and e.failed_rank == where, (e, e.failed_rank)
        else:
            raise AssertionError(f"no {error.__name__} on rank {w.rank}")
    assert run_together(w, lambda: w.rank * 2, "the test") == w.rank * 2
    ok("raise together")


def scenario_write_fails():
    """``xpgrad train`` on every rank while rank 0's write named by argv[2] fails with "no
    space left" (a checkpoint mid-run, the event files at the first epoch's end, history.json
    at the end of the run), with ``xpgrad train``'s flags argv[3:] added; each rank prints the
    status it exits with."""
    import errno

    from xpgrad import checkpoint, report
    from xpgrad.cli import main
    from xpgrad.training import run_files

    where = sys.argv[2]
    target = {"checkpoint": (checkpoint, "save_checkpoint"),
              "events": (report.RunWriter, "flush"),
              "history": (run_files, "_write_json")}[where]
    real, calls = getattr(*target), []

    def full(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2 or where != "checkpoint":
            raise OSError(errno.ENOSPC, "No space left on device", f"the {where} file")
        return real(*args, **kwargs)

    w = dist.init()
    flags = ["train", "--epochs", "2", "--hidden", "8", "--batch-size", "200",
             "--logdir", "logs", "--progress", "never"]
    if where == "checkpoint":
        flags += ["--checkpoint", "c.npz", "--checkpoint-every", "2"]
    flags += sys.argv[3:]
    try:
        with _patched(target, full if w.rank == 0 else None):
            main(flags)
    except SystemExit as e:
        print(f"rank {w.rank} exits with {e.code}", flush=True)
        raise
    print(f"rank {w.rank} exits with 0", flush=True)


@contextlib.contextmanager
def _patched(target, replacement):
    """``setattr(*target, replacement)`` (nothing when None) for the block, then undone: the
    failure cases run in turn in one job (scenario_failures)."""
    owner, name = target
    had = name in vars(owner)
    real = vars(owner).get(name)
    if replacement is not None:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        if had:
            setattr(owner, name, real)
        elif replacement is not None:
            delattr(owner, name)


def scenario_backward_fails():
    """Rank 1's backward pass fails (MemoryError) before any bucket started, then halfway
    through the walk (one gradient per bucket, some already reducing): every rank raises the
    MemoryError from the same ``gradient`` call, naming rank 1, and the ranks are still in step
    (the next call gives the mean of the ranks' gradients)."""
    from xpgrad.distributed import gradient_tape

    w = dist.init()
    model = xg.nn.MLP([3, 4, 4, 2], rng=0)
    params = model.trainable_variables
    x = xg.asarray(np.ones((2, 3), dtype=np.float32) * (w.rank + 1))
    real_hook = gradient_tape._overlap_hook

    def failing_hook(tape, sources, reduction):
        hook = real_hook(tape, sources, reduction)

        def walk(pos, grads):
            hook(pos, grads)
            if w.rank == 1 and (reduction.requests or failure == "at once"):
                assert reduction._next < len(reduction.plan.buckets)    # some not started
                raise MemoryError("injected")
        return walk

    def step():
        with xg.GradientTape() as tape:
            loss = xg.sum(model(x) ** 2)
        return dist.DistributedGradientTape(tape, bucket_bytes=8).gradient(loss, params)

    for failure in ("at once", "halfway"):
        gradient_tape._overlap_hook = failing_hook
        try:
            step()
        except MemoryError as e:
            assert str(e) == "injected" and e.failed_rank == 1, (e, e.failed_rank)
        else:
            raise AssertionError(f"no MemoryError on rank {w.rank} ({failure})")
        gradient_tape._overlap_hook = real_hook
        every = w.comm.allgather([g.numpy() for g in _local_gradients(model, x, params)])
        for got, *theirs in zip(step(), *every):
            np.testing.assert_allclose(got.numpy(), np.mean(theirs, axis=0), rtol=1e-6)
    ok("backward fails")


def _local_gradients(model, x, params):
    with xg.GradientTape() as tape:
        loss = xg.sum(model(x) ** 2)
    return tape.gradient(loss, params)


def scenario_fails_in():
    """``xpgrad train`` on every rank while rank argv[4] meets an error (argv[3]: "memory", a
    MemoryError, or "bug", a RuntimeError) at its third forward pass, backward pass or
    optimizer step, or at its first evaluation (argv[2]); each rank prints the status it exits
    with. argv[3] "interrupt": a KeyboardInterrupt (a second Ctrl-C at that rank)."""
    from xpgrad.cli import main
    from xpgrad.training import results

    where, kind, on_rank = sys.argv[2], sys.argv[3], int(sys.argv[4])
    target = {"forward": (xg.losses, "softmax_cross_entropy"),
              "backward": (xg.GradientTape, "gradient"),
              "optimizer": (xg.optim.SGD, "apply_gradients"),
              "evaluate": (results, "evaluate")}[where]
    real, calls = getattr(*target), []

    def faulty(*args, **kwargs):
        if where != "forward" or "reduction" not in kwargs:     # not the evaluation's loss
            calls.append(1)
        if len(calls) == (1 if where == "evaluate" else 3):
            raise {"memory": MemoryError("injected"), "bug": RuntimeError("injected bug"),
                   "interrupt": KeyboardInterrupt()}[kind]
        return real(*args, **kwargs)

    w = dist.init()
    def train():
        with _patched(target, faulty if w.rank == on_rank or on_rank == -1 else None):  # -1: all
            return main(["train", "--epochs", "2", "--hidden", "8", "--batch-size", "200",
                         "--optimizer", "sgd", "--logdir", "logs", "--checkpoint", "c.npz",
                         "--progress", "never"])

    _exit_as(w, train)


def _exit_as(w, run):
    """Exit with ``run()``'s status (an ``xpgrad`` command's), or its SystemExit, rank ``w.rank``
    printing the status it exits with first."""
    try:
        status = run()
    except SystemExit as e:
        print(f"rank {w.rank} exits with {e.code}", flush=True)
        raise
    print(f"rank {w.rank} exits with {status}", flush=True)
    sys.exit(status)


def scenario_train():
    """``xpgrad train`` with the flags argv[2:] on every rank, those after ``@R`` (up to the
    next ``@``) on rank R alone, as an MPMD launch (``mpiexec -n 1 A : -n 1 B``) gives each
    rank a command line of its own; each rank prints the status it exits with."""
    from xpgrad.cli import main

    w = dist.init()
    flags, mine = [], True
    for token in sys.argv[2:]:
        if token.startswith("@"):
            mine = token == f"@{w.rank}"
        elif mine:
            flags.append(token)
    _exit_as(w, lambda: main(["train", *flags]))


def scenario_failures():
    """``failures CASE...``: write_fails, fails_in and train cases (CASE: a scenario and its
    arguments joined by commas, as ``fails_in,forward,memory,1``) in turn in this one job, each in a
    directory ``case<K>`` of its own (K counts from 0) that receives each rank's stdout and
    stderr (``rank<R>.out``, ``rank<R>.err``), with Python's record of the warnings already
    shown cleared; a ``rank R begins CASE`` line on the job's stdout before each case. Every
    case ends with each rank raising SystemExit at the same step, so the next starts in step."""
    w = dist.init()
    top = os.getcwd()
    for k, case in enumerate(sys.argv[2:]):
        name, *args = case.split(",")
        folder = os.path.join(top, f"case{k}")
        os.makedirs(folder, exist_ok=True)
        print(f"rank {w.rank} begins {case}", flush=True)
        dist.barrier()
        sys.argv[2:] = args
        os.chdir(folder)
        try:
            with _output_to(folder, w.rank), warnings.catch_warnings():
                globals()[f"scenario_{name}"]()
        except SystemExit:
            pass
        finally:
            os.chdir(top)


@contextlib.contextmanager
def _output_to(folder, rank):
    """This process's stdout and stderr (file descriptors 1 and 2) into ``folder`` for the
    block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.path.join(folder, f"rank{rank}.out"), "w") as out, \
            open(os.path.join(folder, f"rank{rank}.err"), "w") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def scenario_hooks():
    """tests/mpi_worker_hooks.py's check, run in the shared job (tests/mpi_shared_job.py)."""
    import mpi_worker_hooks

    mpi_worker_hooks.main()


def scenario_early_stopping():
    """tests/mpi_worker_early_stopping.py's "early" then "plateau", in the shared job."""
    import mpi_worker_early_stopping

    for scenario in ("early", "plateau"):
        mpi_worker_early_stopping.main(scenario)


def scenario_join():
    """tests/mpi_worker_join.py's cases for this number of ranks, in the shared job (each ends
    with the ranks in step)."""
    import mpi_worker_join

    mpi_worker_join.main(mpi_worker_join.CASES[dist.size()])


def main():
    """``SCENARIO [ARG...]``, or ``in_turn SCENARIO...``: those scenarios one after another in
    one job (those that take no arguments and leave the ranks in step), each announced by a
    ``rank R begins SCENARIO`` line so that a failed job names the scenario it failed in."""
    names = sys.argv[2:] if sys.argv[1] == "in_turn" else sys.argv[1:2]
    for name in names:
        if sys.argv[1] == "in_turn":
            print(f"rank {dist.init().rank} begins {name}", flush=True)
        globals()[f"scenario_{name}"]()


if __name__ == "__main__":
    main()
