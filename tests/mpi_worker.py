"""Run by tests/test_distributed.py under ``mpiexec -n N python tests/mpi_worker.py SCENARIO``.
Each rank checks its results and prints ``rank R ok: <check>`` per check passed; any failure is
an uncaught exception, which (through xg.distributed.init's hook) aborts the job."""
import sys

import numpy as np

import xpgrad as xg
from xpgrad import distributed as dist


def ok(what):
    print(f"rank {dist.rank()} ok: {what}", flush=True)


def close(a, b, rtol, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.abs(b).max(), 1e-300)
    err = np.abs(a - b).max() / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"


def mlp(seed, dtype=np.float64, sizes=(6, 8, 7, 3)):
    rng = np.random.default_rng(seed)
    return [xg.Variable(rng.normal(size=(m, n)).astype(dtype) / np.sqrt(m), name=f"w{i}")
            for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:]))] + \
           [xg.Variable(np.zeros(n, dtype=dtype), name=f"b{i}") for i, n in enumerate(sizes[1:])]


def forward(params, x):
    k = len(params) // 2
    h = x
    for i in range(k):
        h = h @ params[i] + params[k + i]
        if i < k - 1:
            h = xg.tanh(h)
    return h


def loss_fn(params, x, y):
    return xg.losses.softmax_cross_entropy(forward(params, x), y)


def split(n, size, rank):
    """Contiguous shares of n examples; the first n % size ranks get one more."""
    bounds = np.linspace(0, n, size + 1).round().astype(int)
    counts = [n // size + (r < n % size) for r in range(size)]
    start = sum(counts[:rank])
    return slice(start, start + counts[rank])


def data(n, dtype=np.float64):
    rng = np.random.default_rng(123)
    return rng.normal(size=(n, 6)).astype(dtype), rng.integers(0, 3, size=n)


def local_grads(params, x, y, sl, overlap, bucket_bytes):
    xb, yb = x[sl], y[sl]
    n = len(yb)
    with xg.GradientTape() as tape:
        loss = loss_fn(params, xg.asarray(xb), xg.asarray(yb)) if n else None
    dtape = dist.DistributedGradientTape(tape, overlap=overlap, bucket_bytes=bucket_bytes)
    grads = dtape.gradient(loss, params, weight=n)
    return grads, dtape


def scenario_api():
    w = dist.init()
    r, n = w.rank, w.size
    assert (dist.rank(), dist.size()) == (r, n) and 0 <= dist.local_rank() < n
    ok("rank/size")

    t = xg.asarray(np.arange(4.0) + r)
    close(dist.allreduce(t, op="sum").numpy(), n * np.arange(4.0) + n * (n - 1) / 2, 0, "sum")
    close(dist.allreduce(t).numpy(), np.arange(4.0) + (n - 1) / 2, 1e-15, "mean")
    ok("allreduce")

    params = mlp(seed=r)                       # different on every rank ...
    dist.broadcast_variables(params)           # ... until rank 0's are broadcast
    for p, q in zip(params, mlp(seed=0)):
        close(p.numpy(), q.numpy(), 0, f"broadcast {p.name}")
    ok("broadcast_variables")

    # gradients over uneven shares (the last global batch leaves a rank with none) equal the
    # single-process gradient of the whole batch, for several bucket sizes, with and without
    # overlap
    x, y = data(5 * n + 1)
    for total in (len(y), n - 1):             # n - 1 examples: one rank gets an empty batch
        xs, ys = x[:total], y[:total]
        with xg.GradientTape() as tape:
            ref_loss = loss_fn(params, xg.asarray(xs), xg.asarray(ys))
        ref = tape.gradient(ref_loss, params)
        for overlap in (True, False):
            for bucket_bytes in (1, 200, 1 << 20):
                grads, dtape = local_grads(params, xs, ys, split(total, n, r), overlap,
                                           bucket_bytes)
                for g, e, p in zip(grads, ref, params):
                    close(g.numpy(), e.numpy(), 1e-12, f"gradient {p.name}")
                if overlap and bucket_bytes == 1 and total > n:
                    assert dtape.last_timing["started_in_walk"] >= len(params) - 1, \
                        dtape.last_timing
    ok("DistributedGradientTape matches one process")

    # None gradients: a variable only rank 0 uses, and one nobody uses
    extra = xg.Variable(np.array([1.0, 2.0]), name="extra")
    unused = xg.Variable(np.array([3.0]), name="unused")
    with xg.GradientTape() as tape:
        loss = xg.sum(params[0]) + (xg.sum(extra * extra) if r == 0 else 0.0)
    g = dist.DistributedGradientTape(tape).gradient(loss, [params[0], extra, unused])
    close(g[1].numpy(), np.array([2.0, 4.0]) / n, 1e-15, "a gradient only rank 0 has")
    assert g[2] is None, "a gradient no rank has is None"
    ok("None gradients")

    # the same through DistributedOptimizer, then 5 Adam steps against one process
    ref_params, dist_params = mlp(seed=0), mlp(seed=0)
    ref_opt = xg.optim.Adam(1e-2)
    opt = dist.DistributedOptimizer(xg.optim.Adam(1e-2))
    total = 3 * n + 2
    for step in range(5):
        xs, ys = data(total)
        xs = xs + step
        with xg.GradientTape() as tape:
            loss = loss_fn(ref_params, xg.asarray(xs), xg.asarray(ys))
        ref_opt.apply_gradients(zip(tape.gradient(loss, ref_params), ref_params))
        sl = split(total, n, r)
        with xg.GradientTape() as tape:
            loss = loss_fn(dist_params, xg.asarray(xs[sl]), xg.asarray(ys[sl]))
        opt.apply_gradients(zip(tape.gradient(loss, dist_params), dist_params),
                            weight=len(ys[sl]))
    for p, q in zip(dist_params, ref_params):
        close(p.numpy(), q.numpy(), 1e-10, f"trained {p.name}")
    ok("DistributedOptimizer training matches one process")

    # optimizer state from rank 0
    fresh = xg.optim.Adam(1e-2)
    if r == 0:
        fresh.load_state_dict(opt.state_dict(dist_params), dist_params)
    dist.broadcast_optimizer_state(fresh, dist_params)
    want = opt.state_dict(dist_params)
    got = fresh.state_dict(dist_params)
    assert sorted(got) == sorted(want)
    for k in want:
        close(got[k].numpy(), want[k].numpy(), 0, f"optimizer state {k}")
    ok("broadcast_optimizer_state")

    # a rank with another layout is named, on every rank
    bad = mlp(seed=0, sizes=(6, 8, 7, 4 if r == n - 1 else 3))
    try:
        dist.broadcast_variables(bad)
    except dist.DistributedError as e:
        assert f"rank {n - 1} holds a different model layout" in str(e), str(e)
        assert "w2" in str(e), str(e)
    else:
        raise AssertionError("no DistributedError for a different layout")
    ok("layout mismatch named")


def scenario_abort():
    dist.init()
    if dist.rank() == 1:
        raise ValueError("boom on rank 1")
    dist.barrier()              # the others would wait here forever without the abort
    print("the barrier returned, which it must not", flush=True)


class DeviceArray:
    """A stand-in for a CuPy array: data reachable only through ``get`` and ``set``."""

    def __init__(self, host):
        self._host = np.array(host)
        self.dtype, self.size = self._host.dtype, self._host.size

    def get(self):
        return self._host.copy()

    def set(self, host):
        self._host[...] = host


class FakeNccl:
    """A stand-in for cupy.cuda.nccl whose communicator reduces host memory (found by its
    address, as NCCL finds device memory) through MPI."""

    NCCL_SUM, NCCL_MAX, NCCL_MIN = 0, 1, 2
    NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64, NCCL_INT32, NCCL_INT64 = range(10, 15)
    TYPES = {10: np.float16, 11: np.float32, 12: np.float64, 13: np.int32, 14: np.int64}

    def __init__(self, world):
        self.world = world
        test = self

        class NcclCommunicator:
            def __init__(self, ndev, uid, rank):
                assert (ndev, rank) == (world.size, world.rank)
                self.uid = uid
                test.comm = self

            def _view(self, ptr, count, dtype):
                import ctypes
                nbytes = count * np.dtype(test.TYPES[dtype]).itemsize
                raw = (ctypes.c_char * nbytes).from_address(ptr)
                return np.frombuffer(raw, dtype=test.TYPES[dtype])

            def allReduce(self, send, recv, count, dtype, op, stream):
                assert send == recv and stream == 7
                world.allreduce_(self._view(recv, count, dtype),
                                 {0: "sum", 1: "max", 2: "min"}[op])

            def bcast(self, ptr, count, dtype, root, stream):
                world.bcast_(self._view(ptr, count, dtype), root)

        self.NcclCommunicator = NcclCommunicator

    def get_unique_id(self):
        return tuple(np.random.default_rng().integers(0, 255, size=8).tolist())


def scenario_engines():
    from xpgrad.distributed.engines import HostStagedEngine, NcclEngine

    w = dist.init()
    r, n = w.rank, w.size
    staged = HostStagedEngine(w, to_host=lambda a: a.get(), copy_in=lambda a, h: a.set(h))
    a = DeviceArray(np.arange(3.0) + r)
    staged.allreduce_(a)
    close(a.get(), n * np.arange(3.0) + n * (n - 1) / 2, 0, "host-staged allreduce")
    b = DeviceArray(np.full(2, r + 1.0, dtype=np.float32))
    request = staged.iallreduce_(b)
    staged.progress([request])
    request.wait()
    close(b.get(), np.full(2, n * (n + 1) / 2), 0, "host-staged iallreduce")
    c = DeviceArray(np.full(2, float(r)))
    staged.bcast_(c, root=n - 1)
    close(c.get(), np.full(2, n - 1.0), 0, "host-staged bcast")
    ok("host-staged engine")

    fake = FakeNccl(w)
    engine = NcclEngine(w, fake, stream_ptr=lambda: 7, pointer=lambda arr: arr.ctypes.data)
    uids = w.allgather(fake.comm.uid)
    assert all(u == uids[0] for u in uids), f"ranks built NCCL with different ids: {uids}"
    for dtype in (np.float32, np.float64, np.int64):
        x = np.arange(5, dtype=dtype) * (r + 1)
        engine.iallreduce_(x).wait()
        close(x, np.arange(5) * n * (n + 1) / 2, 0, f"nccl allreduce {dtype.__name__}")
    m = np.array([float(r)])
    engine.allreduce_(m, op="max")
    close(m, [n - 1.0], 0, "nccl max")
    z = np.full(3, float(r))
    engine.bcast_(z, root=0)
    close(z, np.zeros(3), 0, "nccl bcast")
    try:
        engine.allreduce_(np.zeros(2, dtype=np.uint8))
    except TypeError as e:
        assert "uint8" in str(e)
    else:
        raise AssertionError("NCCL took a uint8 buffer")
    ok("nccl engine")

    import types
    from xpgrad.distributed import group

    used = []
    fake_cupy = types.ModuleType("cupy")
    fake_cupy.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 2),
        Device=lambda i: types.SimpleNamespace(use=lambda: used.append(i)))
    sys.modules["cupy"] = fake_cupy
    try:
        group.init(comm=w.comm, gpu=True)
    finally:
        del sys.modules["cupy"]
    assert used == [w.local_rank % 2], used
    ok("gpu from local rank")


def scenario_exit():
    from xpgrad.cli import main

    dist.init()
    if dist.rank() == 1:        # the data set is missing on one node only: exit status 2 there
        from xpgrad.data import DataError
        from xpgrad.training import plan

        def missing(*args, **kwargs):
            raise DataError("the digits data are missing on this node")

        plan.load_dataset = missing
    main(["train", "--no-log", "--progress", "never"])
    dist.barrier()
    print("the barrier returned, which it must not", flush=True)


def scenario_cupy():
    """On a GPU: the cupy backend's reduced gradients and 3 Adam steps equal one process on
    numpy (float64), through the engine XPGRAD_DIST_ENGINE names (host-staged when the ranks
    share one GPU)."""
    w = dist.init(gpu=True)
    r, n = w.rank, w.size
    cp_params = [xg.Variable(p.numpy(), name=p.name, backend="cupy") for p in mlp(seed=0)]
    np_params = mlp(seed=0)
    opt, ref_opt = xg.optim.Adam(1e-2), xg.optim.Adam(1e-2)
    total = 4 * n + 1
    for step in range(3):
        x, y = data(total)
        x = x + step
        with xg.GradientTape() as tape:
            loss = loss_fn(np_params, xg.asarray(x), xg.asarray(y))
        ref = tape.gradient(loss, np_params)
        ref_opt.apply_gradients(zip(ref, np_params))
        sl = split(total, n, r)
        with xg.GradientTape() as tape:
            loss = loss_fn(cp_params, xg.asarray(x[sl], backend="cupy"),
                           xg.asarray(y[sl], backend="cupy"))
        grads = dist.DistributedGradientTape(tape, bucket_bytes=256).gradient(
            loss, cp_params, weight=len(y[sl]))
        for g, e, p in zip(grads, ref, np_params):
            close(g.numpy(), e.numpy(), 1e-10, f"cupy gradient {p.name}")
        opt.apply_gradients(zip(grads, cp_params))
    for p, q in zip(cp_params, np_params):
        close(p.numpy(), q.numpy(), 1e-10, f"cupy trained {p.name}")
    ok(f"cupy {dist.engines.engine_for(w, cp_params[0]._data).name}")


def scenario_nested():
    """DistributedGradientTape.gradient with a dict of nested lists and tuples of sources and a
    nested target: the reduced gradients in the sources' structure, equal to the flat call and
    to one process over the whole batch."""
    dist.init()
    r, n = dist.rank(), dist.size()
    params = mlp(seed=0)
    x, y = data(4 * n + 1)
    with xg.GradientTape() as tape:
        ref = tape.gradient(loss_fn(params, xg.asarray(x), xg.asarray(y)), params)
    sl = split(len(y), n, r)
    with xg.GradientTape(persistent=True) as tape:
        loss = loss_fn(params, xg.asarray(x[sl]), xg.asarray(y[sl]))
    tree = {"weights": params[:3], "biases": (params[3], [params[4], params[5]])}
    dtape = dist.DistributedGradientTape(tape, bucket_bytes=200)
    flat = dtape.gradient(loss, params, weight=len(y[sl]))
    got = dtape.gradient({"loss": [loss]}, tree, weight=len(y[sl]))
    assert type(got["weights"]) is list and type(got["biases"][1]) is list, got
    leaves = got["weights"] + [got["biases"][0]] + got["biases"][1]
    for g, f, e, p in zip(leaves, flat, ref, params):
        close(g.numpy(), f.numpy(), 0, f"nested {p.name} against the flat call")
        close(g.numpy(), e.numpy(), 1e-12, f"nested {p.name} against one process")
    ok("nested sources")


def scenario_all():
    scenario_api()
    scenario_engines()


if __name__ == "__main__":
    globals()[f"scenario_{sys.argv[1]}"]()
