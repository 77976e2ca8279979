"""xpgrad.distributed in one process (no MPI needed): a world of one gives the local gradients
exactly, the buckets' packing and weighting, launcher detection, engine choice, and bad input
answered by an error naming the argument."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad import distributed as dist
from xpgrad.distributed import buckets, engines, group as world
from xpgrad.distributed.group import SingleWorld


def _mlp_loss(rng):
    w = xg.Variable(rng.normal(size=(4, 3)), name="w")
    b = xg.Variable(np.zeros(3), name="b")
    x = xg.asarray(rng.normal(size=(5, 4)))
    with xg.GradientTape(persistent=True) as tape:
        loss = xg.sum(xg.tanh(x @ w + b) ** 2)
    return tape, loss, [w, b]


def test_one_process_gives_the_tapes_gradients(rng):
    tape, loss, params = _mlp_loss(rng)
    want = tape.gradient(loss, params)
    for kwargs in ({}, {"overlap": False}, {"bucket_bytes": 1}, {"op": "sum"}):
        got = dist.DistributedGradientTape(tape, **kwargs).gradient(loss, params, weight=3)
        for g, e in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_one_process_records_the_gradients_for_a_second_order():
    w = xg.Variable(np.array([1.0, 2.0]), name="w")
    with xg.GradientTape() as outer:
        with xg.GradientTape() as inner:
            loss = xg.sum(w ** 3)
        g = dist.DistributedGradientTape(inner).gradient(loss, [w])[0]
        penalty = xg.sum(g * g)
    np.testing.assert_allclose(outer.gradient(penalty, w).numpy(), 36 * w.numpy() ** 3)


def test_jacobians_are_refused_and_the_local_tape_named(rng):
    # a jacobian on the wrapper would silently be this rank's own: the error says so
    tape, loss, params = _mlp_loss(rng)
    dtape = dist.DistributedGradientTape(tape)
    for name in ("jacobian", "batch_jacobian"):
        with pytest.raises(AttributeError, match=rf"\.tape\.{name}\(.*this rank's"):
            getattr(dtape, name)
    local = dtape.tape.jacobian(loss, params[1])            # the wrapped tape still has it
    np.testing.assert_allclose(local.numpy(), tape.gradient(loss, params[1]).numpy())
    assert dtape.watched_variables() == tape.watched_variables()


def test_a_rank_with_nothing_passes_weight_zero_and_no_target(rng):
    tape, loss, params = _mlp_loss(rng)
    got = dist.DistributedGradientTape(tape).gradient(None, params, weight=0)
    assert got == [None, None]
    zeros = dist.DistributedGradientTape(tape).gradient(None, params, weight=0,
                                                        unconnected_gradients="zero")
    assert [z.shape for z in zeros] == [(4, 3), (3,)] and not any(z.numpy().any() for z in zeros)


def test_buckets_weight_the_mean_and_keep_none_for_absent_gradients():
    plan = buckets.BucketPlan([((2, 2), np.float64), ((3,), np.float32), ((1,), np.float64)],
                              bucket_bytes=16)
    # float64 bucket(s) and a float32 one, the last source first
    assert plan.where[2][0].index == 0 and plan.where[1][0].dtype == np.float32
    assert plan.where[0][0] is not plan.where[2][0]          # 16 bytes: 4 + 1 doubles split
    red = buckets.Reduction(plan, SingleWorld(), np, weight=4.0, op="mean")
    red.ready(2, np.array([2.0]))
    assert 0 in red.requests                                  # started as soon as it was full
    out = red.finish([np.ones((2, 2)), None, "unused: already ready"])
    np.testing.assert_array_equal(out[0], np.ones((2, 2)))
    assert out[1] is None and out[2].tolist() == [2.0]
    assert [len(b.entries) for b in plan.buckets] == [1, 1, 1]


def test_buckets_start_in_index_order():
    plan = buckets.BucketPlan([((1,), np.float64)] * 3, bucket_bytes=8)
    red = buckets.Reduction(plan, SingleWorld(), np)
    red.ready(0, np.ones(1))            # the last bucket is full, but the first is not
    assert not red.requests
    red.ready(2, np.ones(1))
    assert list(red.requests) == [0]
    red.ready(1, np.ones(1))
    assert list(red.requests) == [0, 1, 2]


def test_the_tape_hook_reports_a_gradient_before_the_walk_ends(rng, monkeypatch):
    tape, loss, params = _mlp_loss(rng)
    seen = []

    class Two(SingleWorld):      # the overlap path runs only on more than one process
        size = 2

        def allgather(self, obj):
            return [obj, obj]

    def ready(self, i, g, real=buckets.Reduction.ready):
        seen.append((i, len(tape._nodes)))
        real(self, i, g)

    monkeypatch.setattr(dist.gradient_tape, "check_same", lambda *a, **k: None)
    monkeypatch.setattr(buckets.Reduction, "ready", ready)
    dtape = dist.DistributedGradientTape(tape, world=Two(), bucket_bytes=1)
    want = tape.gradient(loss, params)
    got = dtape.gradient(loss, params)
    # the sum over two "ranks" of the same gradient, divided by the summed weight (the stand-in
    # world does not add): the gradient itself
    for g, e in zip(got, want):
        np.testing.assert_allclose(g.numpy(), e.numpy())
    assert sorted(i for i, _ in seen) == [0, 1]
    assert dtape.last_timing["started_in_walk"] == 2


def test_init_names_a_bad_communicator():
    pytest.importorskip("mpi4py.MPI")
    with pytest.raises(TypeError, match="init: comm must be an mpi4py communicator.*got str"):
        dist.init(comm="world")


def test_launcher_detection():
    assert world.launcher_size({"OMPI_COMM_WORLD_SIZE": "3"}) == 3
    assert world.launcher_size({"PMI_SIZE": "2"}) == 2
    assert world.launcher_size({"SLURM_NTASKS": "8"}) == 1            # sbatch, not srun
    assert world.launcher_size({"SLURM_NTASKS": "8", "SLURM_STEP_ID": "0"}) == 8
    assert world.launcher_size({}) == 1


def test_engine_choice():
    class Node(SingleWorld):
        local_size = 2
    assert engines.choose_engine(Node(), 2, True, {}) == "nccl"
    assert engines.choose_engine(Node(), 1, True, {}) == "host"      # two ranks, one GPU
    assert engines.choose_engine(Node(), 2, True, {"XPGRAD_DIST_ENGINE": "host"}) == "host"
    with pytest.raises(RuntimeError, match="2 ranks share 1 GPU"):
        engines.choose_engine(Node(), 1, True, {"XPGRAD_DIST_ENGINE": "nccl"})
    with pytest.raises(ValueError, match="XPGRAD_DIST_ENGINE"):
        engines.choose_engine(Node(), 1, True, {"XPGRAD_DIST_ENGINE": "gloo"})
    assert engines.select_device(5, 4, lambda i: None) == 1
    with pytest.raises(RuntimeError, match="no CUDA device"):
        engines.select_device(0, 0, lambda i: None)


@pytest.mark.parametrize("call, error, words", [
    (lambda t, l, p: dist.DistributedGradientTape(t).gradient(l, p, weight=-1),
     ValueError, "weight"),
    (lambda t, l, p: dist.DistributedGradientTape(t).gradient(l, p, weight="4"),
     TypeError, "weight"),
    (lambda t, l, p: dist.DistributedGradientTape(t).gradient(None, p), ValueError, "target"),
    (lambda t, l, p: dist.DistributedGradientTape(t).gradient(l, [p[0], p[0]]),
     ValueError, "twice"),
    (lambda t, l, p: dist.DistributedGradientTape(t).gradient(l, [np.ones(2)]),
     TypeError, "sources"),
    (lambda t, l, p: dist.DistributedGradientTape(t, op="max"), ValueError, "op"),
    (lambda t, l, p: dist.DistributedGradientTape(t, bucket_bytes=0), ValueError,
     "bucket_bytes"),
    (lambda t, l, p: dist.DistributedGradientTape("tape"), TypeError, "tape"),
    (lambda t, l, p: dist.DistributedOptimizer(object()), TypeError, "optimizer"),
    (lambda t, l, p: dist.DistributedGradientTape(dist.DistributedGradientTape(t)), TypeError,
     "already a DistributedGradientTape"),
    (lambda t, l, p: dist.DistributedOptimizer(dist.DistributedOptimizer(xg.optim.SGD(0.1))),
     TypeError, "already a DistributedOptimizer"),
    (lambda t, l, p: dist.DistributedOptimizer(xg.optim.SGD(0.1), bucket_bytes="1"),
     ValueError, "bucket_bytes"),
    (lambda t, l, p: dist.broadcast_variables(p, root=1), ValueError, "root"),
    (lambda t, l, p: dist.broadcast_variables([np.ones(2)]), TypeError, "variables"),
    (lambda t, l, p: dist.broadcast_optimizer_state("adam", p), TypeError, "optimizer"),
    (lambda t, l, p: dist.broadcast_optimizer_state(xg.optim.SGD(0.1), [np.ones(2)]),
     TypeError, "variables"),
    (lambda t, l, p: dist.allreduce(np.ones(2)), TypeError, "tensor"),
    (lambda t, l, p: dist.allreduce(p[0], op="prod"), ValueError, "op"),
])
def test_bad_input_names_the_argument(rng, call, error, words):
    tape, loss, params = _mlp_loss(rng)
    with pytest.raises(error, match=words):
        call(tape, loss, params)


def test_init_without_a_launcher_is_a_world_of_one(monkeypatch):
    for name in world.SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(world, "_WORLD", None)
    assert isinstance(dist.init(), SingleWorld)
    assert (dist.rank(), dist.size(), dist.local_rank()) == (0, 1, 0)
    dist.barrier()


def test_init_under_a_launcher_without_mpi4py_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setattr(world, "_WORLD", None)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"mpi4py is not installed.*\.\[mpi\]"):
        dist.init()


def test_xpgrad_train_under_a_launcher_without_mpi4py_says_what_to_install(monkeypatch, capsys):
    import sys

    from xpgrad.cli import main

    monkeypatch.setattr(world, "_WORLD", None)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs", "1", "--no-log", "--progress", "never"])
    assert e.value.code == 1
    assert 'mpi4py is not installed; pip install -e ".[mpi]"' in capsys.readouterr().err


@pytest.mark.parametrize("values", [[1, 2], [True, False], np.int8([3, -1]), [1.5, 2.0]])
def test_allreduce_in_a_world_of_one_has_the_dtype_of_a_reduction_over_ranks(values):
    # as on several ranks: xg.sum / xg.mean over a stack of the (here: one) rank's tensors
    t = xg.asarray(values)
    for op, reduce_ in (("sum", xg.sum), ("mean", xg.mean), ("max", xg.max), ("min", xg.min)):
        want = reduce_(xg.stack([t]), axis=0)
        got = dist.allreduce(t, op=op)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_distributed_optimizer_with_weight_zero_in_a_world_of_one_applies_nothing():
    # as on several ranks where every weight is 0 (and as DistributedGradientTape, which gives
    # None gradients): no gradient, so the wrapped optimizer's "No gradients provided"
    v = xg.Variable([1.0], name="v")
    opt = dist.DistributedOptimizer(xg.optim.SGD(0.5))
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply_gradients([(xg.asarray([1.0]), v)], weight=0)
    assert v.tolist() == [1.0] and opt.iterations == 0
    assert opt.apply_gradients([(xg.asarray([1.0]), v)], weight=3) == 1 and v.tolist() == [0.5]


def test_init_with_mpi4py_but_no_mpi_library_says_what_to_install(monkeypatch):
    # mpi4py's wheel without an MPI library raises RuntimeError("cannot load MPI library")
    import importlib.abc
    import sys

    mpi4py = pytest.importorskip("mpi4py")

    class NoLibrary(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "mpi4py.MPI":
                raise RuntimeError("cannot load MPI library\nlibmpi.so.40: cannot open")
            return None

    monkeypatch.setattr(world, "_WORLD", None)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    monkeypatch.delattr(mpi4py, "MPI", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoLibrary(), *sys.meta_path])
    with pytest.raises(ImportError, match=r"cannot load an MPI library \(cannot load MPI "
                                          r"library libmpi.so.40.*\.\[mpi\]"):
        dist.init()


def test_distributed_optimizer_refuses_gradients_a_distributed_gradient_tape_reduced(rng):
    # each wrapper reduces: both would sum an op="sum" (or weighted) gradient twice; refused
    # on one process too, where the result happens to be right, so the mistake shows early
    tape, loss, params = _mlp_loss(rng)
    grads = dist.DistributedGradientTape(tape, op="sum").gradient(loss, params)
    opt = dist.DistributedOptimizer(xg.optim.SGD(0.5), op="sum")
    before = [p.numpy().copy() for p in params]
    with pytest.raises(ValueError, match=r"gradient for 'w' came from DistributedGradientTape"
                                         r".*already reduced.*not both"):
        opt.apply_gradients(zip(grads, params))
    assert opt.iterations == 0 and all((p.numpy() == b).all() for p, b in zip(params, before))
    plain = tape.gradient(loss, params)              # the same loss, a plain tape: accepted
    opt.apply_gradients(zip(plain, params))
    for p, b, g in zip(params, before, plain):
        np.testing.assert_allclose(p.numpy(), b - 0.5 * g.numpy())
    opt.optimizer.apply_gradients(zip(grads, params))    # the reduced ones, unwrapped: accepted
    assert opt.iterations == 2


def test_xpgrad_train_distributed_without_a_launcher_says_it_trains_alone(monkeypatch, capsys):
    from xpgrad.cli import main

    for name in world.SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(world, "_WORLD", None)
    main(["train", "--epochs", "1", "--max-steps", "1", "--hidden", "4", "--no-log",
          "--progress", "never", "--distributed"])
    err = capsys.readouterr().err
    assert "--distributed: no launcher (mpiexec, srun) started this process" in err, err
    main(["train", "--epochs", "1", "--max-steps", "1", "--hidden", "4", "--no-log",
          "--progress", "never"])
    assert "launcher" not in capsys.readouterr().err


@pytest.mark.parametrize("batch, options, error, words", [
    (np.arange(4), {"rank": 2, "size": 2}, ValueError, r"rank must be in \[0, 1\], got 2"),
    (np.arange(4), {"rank": 0, "size": 0}, ValueError, "size must be a number of ranks"),
    (np.arange(4), {"rank": True, "size": 2}, ValueError, "rank must be"),
    (5, {}, TypeError, "batch must have a length and slices"),
    ({1, 2}, {}, TypeError, r"batch must have a length and slices .*, got set")])
def test_share_names_a_bad_argument(batch, options, error, words):
    with pytest.raises(error, match=words):
        dist.share(batch, **options)


def test_share_splits_every_batch_size_into_contiguous_nearly_equal_parts():
    for n in range(9):
        for size in range(1, 5):
            parts = [dist.share(list(range(n)), rank=r, size=size) for r in range(size)]
            assert sum(parts, []) == list(range(n))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize("tensor, op, error, words", [
    (xg.asarray([1.0]), "avg", ValueError, "op must be 'mean', 'sum', 'max' or 'min', got 'avg'"),
    (xg.asarray([1 + 2j]), "max", TypeError, "complex numbers have no order")])
def test_allreduce_names_a_bad_op(tensor, op, error, words):
    with pytest.raises(error, match=words):
        dist.allreduce(tensor, op=op)


@pytest.mark.parametrize("timeout", ["soon", 0.0, -1, float("inf"), float("nan"), True])
def test_init_names_a_bad_timeout(timeout):
    with pytest.raises(ValueError, match=r"timeout must be a finite number of seconds > 0 "
                                         r"\(or None: no limit\), got"):
        dist.init(timeout=timeout)


def test_init_takes_torchs_timedelta_timeout():
    """PyTorch's ``init_process_group(timeout=timedelta(minutes=30))``, ported as it is, was
    refused ('got datetime.timedelta(seconds=1800)'): its seconds are the timeout."""
    from datetime import timedelta

    from xpgrad.distributed.stalls import stall_settings

    assert stall_settings(timedelta(minutes=30), environ={}) == (60.0, 1800.0)
    assert stall_settings(timedelta(seconds=3), environ={}) == (1.5, 3.0)
    assert dist.init(timeout=timedelta(minutes=30)).size == 1
    with pytest.raises(ValueError, match=r"timeout must be a finite number of seconds > 0 "
                                         r"\(or None: no limit\), got datetime.timedelta"):
        dist.init(timeout=timedelta(0))


def test_stall_settings_read_the_environment_and_keep_the_note_before_the_timeout(
        monkeypatch):
    from xpgrad.distributed.stalls import StallWatch, stall_settings

    assert stall_settings(environ={}) == (60.0, None)
    assert stall_settings(10, environ={}) == (5.0, 10.0)
    assert stall_settings(environ={"XPGRAD_DIST_TIMEOUT": "300",
                                   "XPGRAD_DIST_STALL_WARNING": "20"}) == (20.0, 300.0)
    assert stall_settings(environ={"XPGRAD_DIST_STALL_WARNING": "none"}) == (None, None)
    with pytest.raises(ValueError, match="XPGRAD_DIST_TIMEOUT must be a finite number"):
        stall_settings(environ={"XPGRAD_DIST_TIMEOUT": "5 min"})
    watch = StallWatch(1, "barrier()", 1.0, 3.0)
    assert watch.check(0.5) is None and watch.check(2.0) is None and watch.warned
    assert "rank 1 has waited 4 s in barrier()" in watch.check(4.0)


def test_xpgrad_train_distributed_names_a_bad_timeout_variable(monkeypatch, capsys):
    from xpgrad.cli import main

    monkeypatch.setattr(world, "_WORLD", None)
    monkeypatch.setenv("XPGRAD_DIST_TIMEOUT", "ten minutes")
    with pytest.raises(SystemExit) as exited:
        main(["train", "--epochs", "1", "--max-steps", "1", "--no-log", "--distributed"])
    assert exited.value.code == 2
    assert ("xpgrad: error: XPGRAD_DIST_TIMEOUT must be a finite number of seconds > 0 (or "
            "None: no limit), got 'ten minutes'") in capsys.readouterr().err


@pytest.mark.parametrize("variable", ["XPGRAD_DIST_TIMEOUT", "XPGRAD_DIST_STALL_WARNING"])
def test_xpgrad_train_alone_names_a_bad_distributed_setting_too(monkeypatch, capsys, variable):
    """One process without --distributed: before 2026-12-07 a bad value went unnoticed until
    the same command ran under mpiexec."""
    from xpgrad.cli import main

    monkeypatch.setattr(world, "_WORLD", None)
    monkeypatch.setenv(variable, "ten minutes")
    with pytest.raises(SystemExit) as exited:
        main(["train", "--epochs", "1", "--max-steps", "1", "--no-log"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert (f"xpgrad: error: {variable} must be a finite number of seconds > 0 (or None: no "
            f"limit), got 'ten minutes'") in err and "Traceback" not in err, err
