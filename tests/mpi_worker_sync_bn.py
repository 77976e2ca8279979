"""Run by tests/test_sync_batch_norm.py under ``mpiexec -n N python tests/mpi_worker_sync_bn.py
SCENARIO``: SyncBatchNorm on N ranks, each holding a contiguous (uneven) share of a global
batch, against BatchNorm1d and torch.nn.BatchNorm1d on the whole batch in one process, in
float64. Each rank prints ``rank R ok: <check>`` per check passed; a failure is an uncaught
exception, which aborts the job."""
import sys

import numpy as np
import torch

import xpgrad as xg
from xpgrad import distributed as dist

from mpi_worker import close, ok, split


def near(a, b, tol, what):
    """``close`` with errors measured against max(|b|, 1): a gradient that is 0 in exact
    arithmetic (a bias before a batch normalization) is rounding noise on both sides."""
    err = np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(b).max(), 1.0)
    assert err <= tol, f"{what}: error {err:.3g} > {tol:g}"


def same_on_every_rank(array, what):
    every = dist.world().allgather(np.asarray(array).tobytes())
    assert all(b == every[0] for b in every), f"{what} differs between ranks"


def make_bn(cls, c, seed=7, **kw):
    bn = cls(c, dtype=xg.float64, **kw)
    rng = np.random.default_rng(seed)
    if bn.affine:
        bn.weight.assign(rng.normal(size=c) + 1.0)
        bn.bias.assign(rng.normal(size=c))
    if bn.track_running_stats:
        bn.running_mean.assign(rng.normal(size=c))
        bn.running_var.assign(rng.uniform(0.5, 2.0, size=c))
    return bn


def torch_bn(bn, x, r1, r2, steps=1):
    """torch.nn.BatchNorm1d (BatchNorm2d for a 4-D ``x``) with ``bn``'s state, trained on the
    whole batch ``x``: output, the gradients of sum((y * r1)**2 + y * r2) for x, weight, bias,
    and the running stats."""
    cls = torch.nn.BatchNorm2d if x.ndim == 4 else torch.nn.BatchNorm1d
    t = cls(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
            dtype=torch.float64)
    t.load_state_dict({k: torch.as_tensor(v) for k, v in bn.torch_state_dict().items()})
    tx = torch.tensor(x, requires_grad=True)
    y = t(tx)
    ((y * torch.as_tensor(r1)) ** 2 + y * torch.as_tensor(r2)).sum().backward()
    return (y.detach().numpy(), tx.grad.numpy(), t.weight.grad.numpy(), t.bias.grad.numpy(),
            t.running_mean.numpy(), t.running_var.numpy())


def objective(y, r1, r2):
    return xg.sum((y * r1) ** 2 + y * r2)


def scenario_layer():
    """Outputs, input/weight/bias gradients and running statistics on uneven shares, 2-D and
    3-D inputs (BatchNorm1d), 4-D (BatchNorm2d), against one process (xpgrad and torch) on
    the whole batch."""
    w = dist.init()
    r, n = w.rank, w.size
    for shape in ((3 * n + 2, 4), (2 * n + 1, 3, 5), (2 * n + 1, 2, 3, 2)):
        rng = np.random.default_rng(sum(shape))
        x = rng.normal(size=shape) * 3.0 + 10.0         # a mean far from 0
        r1, r2 = rng.normal(size=shape), rng.normal(size=shape)
        c = shape[1]
        ref_cls = xg.nn.BatchNorm2d if len(shape) == 4 else xg.nn.BatchNorm1d
        ref_bn = make_bn(ref_cls, c)
        xt = xg.asarray(x)
        with xg.GradientTape() as tape:
            tape.watch(xt)
            y_ref = ref_bn(xt)
            loss = objective(y_ref, xg.asarray(r1), xg.asarray(r2))
        ref = tape.gradient(loss, [xt, ref_bn.weight, ref_bn.bias])
        t_out = torch_bn(make_bn(ref_cls, c), x, r1, r2)

        sync = make_bn(xg.nn.SyncBatchNorm, c)
        sl = split(shape[0], n, r)
        xs = xg.asarray(x[sl])
        with xg.GradientTape() as tape:
            tape.watch(xs)
            y = sync(xs)
            loss = objective(y, xg.asarray(r1[sl]), xg.asarray(r2[sl]))
        # the objective is the sum of the ranks' losses: dx is this rank's rows of the
        # whole batch's gradient; weight's and bias's summed over the ranks
        dx, dw, db = tape.gradient(loss, [xs, sync.weight, sync.bias])
        dw, db = (dist.allreduce(g, op="sum") for g in (dw, db))
        close(y.numpy(), y_ref.numpy()[sl], 1e-13, "output")
        close(y.numpy(), t_out[0][sl], 1e-13, "output against torch")
        close(dx.numpy(), ref[0].numpy()[sl], 1e-11, "input gradient")
        close(dx.numpy(), t_out[1][sl], 1e-11, "input gradient against torch")
        for g, e, te, what in ((dw, ref[1], t_out[2], "weight"), (db, ref[2], t_out[3], "bias")):
            close(g.numpy(), e.numpy(), 1e-12, f"{what} gradient")
            close(g.numpy(), te, 1e-12, f"{what} gradient against torch")
        for v, e, te in ((sync.running_mean, ref_bn.running_mean, t_out[4]),
                         (sync.running_var, ref_bn.running_var, t_out[5])):
            close(v.numpy(), e.numpy(), 1e-13, v.name)
            close(v.numpy(), te, 1e-13, f"{v.name} against torch")
            same_on_every_rank(v.numpy(), v.name)
        assert sync.num_batches_tracked.item() == 1
        # evaluation mode: the running statistics, no collective (rank 0 alone calls it)
        sync.eval()
        ref_bn.eval()
        if r == 0:
            close(sync(xg.asarray(x)).numpy(), ref_bn(xg.asarray(x)).numpy(), 1e-13, "eval")
        sync.train()
    ok("layer matches one process and torch")

    # a channel whose mean is 1e6 times its spread: sums of x and x**2 would cancel to
    # rounding noise (about 1e-4 relative in float64); the (count, mean, M2) rows do not
    x = 1e4 + np.random.default_rng(1).normal(size=(4 * n + 1, 2)) * 1e-2
    ref_bn, sync = make_bn(xg.nn.BatchNorm1d, 2), make_bn(xg.nn.SyncBatchNorm, 2)
    y_ref = ref_bn(xg.asarray(x))
    sl = split(len(x), n, r)
    close(sync(xg.asarray(x[sl])).numpy(), y_ref.numpy()[sl], 1e-9, "output, mean >> spread")
    close(sync.running_var.numpy(), ref_bn.running_var.numpy(), 1e-12, "running_var, mean >> "
          "spread")
    ok("mean far from 0 kept accurate")


def weighted_model(cls, seed=3):
    rng = np.random.default_rng(seed)
    lin = xg.nn.Linear(5, 4, dtype=xg.float64, rng=xg.random.default_rng(seed))
    bn = make_bn(cls, 4, seed=seed, momentum=None)
    head = xg.Variable(rng.normal(size=(4, 3)), name="head")
    return lin, bn, head


def mean_loss(model, x, y):
    lin, bn, head = model
    return xg.losses.softmax_cross_entropy(xg.tanh(bn(lin(x))) @ head, y)


def variables(model):
    lin, bn, head = model
    return lin.trainable_variables + bn.trainable_variables + [head]


def scenario_weighted():
    """The documented pattern -- a mean loss per rank, DistributedGradientTape(op="mean") with
    weight = the local batch size -- on uneven shares and with a rank holding none (it passes
    its loss with weight=0): the gradients of the global batch's mean loss. Then op="sum" of
    losses summed over rows, and global counts of 1 (ValueError on every rank)."""
    w = dist.init()
    r, n = w.rank, w.size
    rng = np.random.default_rng(11)
    for total in (4 * n + 1, n - 1 if n > 2 else 3):
        x, y = rng.normal(size=(total, 5)) + 2.0, rng.integers(0, 3, size=total)
        ref_model = weighted_model(xg.nn.BatchNorm1d)
        with xg.GradientTape() as tape:
            loss = mean_loss(ref_model, xg.asarray(x), xg.asarray(y))
        ref = tape.gradient(loss, variables(ref_model))
        model = weighted_model(xg.nn.SyncBatchNorm)
        sl = split(total, n, r)
        rows = sl.stop - sl.start
        with xg.GradientTape() as tape:
            loss = mean_loss(model, xg.asarray(x[sl]), xg.asarray(y[sl]))
        grads = dist.DistributedGradientTape(tape).gradient(loss, variables(model),
                                                            weight=rows)
        for g, e, v in zip(grads, ref, variables(model)):
            near(g.numpy(), e.numpy(), 1e-12, f"{v.name} gradient ({total} rows)")
        close(model[1].running_var.numpy(), ref_model[1].running_var.numpy(), 1e-13,
              "running_var, momentum=None")
        # op="sum" of losses summed over the rows: the gradient of the summed loss
        with xg.GradientTape() as tape:
            loss = mean_loss(model, xg.asarray(x[sl]), xg.asarray(y[sl])) * rows
        grads = dist.DistributedGradientTape(tape, op="sum").gradient(loss, variables(model))
        for g, e, v in zip(grads, ref, variables(model)):
            near(g.numpy(), e.numpy() * total, 1e-12, f"{v.name} summed gradient")
    ok("weighted gradients match one process")

    bn = xg.nn.SyncBatchNorm(2, dtype=xg.float64)
    x = np.ones((1 if r == 0 else 0, 2))
    try:
        bn(xg.asarray(x))
    except ValueError as e:
        assert "more than 1 value per channel" in str(e) and f"{n} ranks" in str(e), str(e)
    else:
        raise AssertionError("no ValueError for one value per channel over the ranks")
    assert bn.num_batches_tracked.item() == 0
    out = bn(xg.asarray(np.ones((1, 2)) * r))      # one row per rank: fine together
    close(out.numpy(), np.full((1, 2), (r - (n - 1) / 2) / np.sqrt(
        np.var(np.arange(n)) + 1e-5)), 1e-12, "one row per rank")
    ok("one value per channel refused on every rank")


def torch_mean_loss_grads(model, x, y):
    """The gradients of the mean softmax cross-entropy of ``weighted_model`` on the whole batch
    ``x``, ``y``, by torch (torch.nn.Linear and BatchNorm1d with the model's values)."""
    lin, bn, head = model
    tl = torch.nn.Linear(5, 4, dtype=torch.float64)
    tl.load_state_dict({k: torch.as_tensor(v) for k, v in lin.torch_state_dict().items()})
    tbn = torch.nn.BatchNorm1d(4, momentum=None, dtype=torch.float64)
    tbn.load_state_dict({k: torch.as_tensor(v) for k, v in bn.torch_state_dict().items()})
    th = torch.tensor(head.numpy(), requires_grad=True)
    logits = torch.tanh(tbn(tl(torch.as_tensor(x)))) @ th
    torch.nn.functional.cross_entropy(logits, torch.as_tensor(y)).backward()
    return [tl.weight.grad.numpy().T, tl.bias.grad.numpy(), tbn.weight.grad.numpy(),
            tbn.bias.grad.numpy(), th.grad.numpy()]


def scenario_optimizer_weights():
    """DistributedOptimizer with uneven shares (weight = the local batch size, a rank with
    none): ``minimize`` weighs SyncBatchNorm's backward sums as the reduction weighs the
    gradients, so one SGD step of rate 1 moves every variable by minus torch's gradient of the
    global batch's mean loss; ``apply_gradients`` of a plain tape's gradients, whose backward
    sums weighed the ranks alike, is refused on every rank, naming what to use instead."""
    w = dist.init()
    r, n = w.rank, w.size
    rng = np.random.default_rng(13)
    for total in (4 * n + 1, n - 1 if n > 2 else 3):
        x, y = rng.normal(size=(total, 5)) + 2.0, rng.integers(0, 3, size=total)
        expected = torch_mean_loss_grads(weighted_model(xg.nn.BatchNorm1d), x, y)
        model = weighted_model(xg.nn.SyncBatchNorm)
        before = [v.numpy().copy() for v in variables(model)]
        sl = split(total, n, r)
        xs, ys = xg.asarray(x[sl]), xg.asarray(y[sl])
        opt = dist.DistributedOptimizer(xg.optim.SGD(1.0))
        opt.minimize(lambda: mean_loss(model, xs, ys), variables(model),
                     weight=sl.stop - sl.start)
        for b, v, e in zip(before, variables(model), expected):
            near(b - v.numpy(), e, 1e-12,
                 f"{v.name} step of minimize ({total} rows)")
    ok("DistributedOptimizer.minimize with uneven shares matches torch")

    model = weighted_model(xg.nn.SyncBatchNorm)
    sl = split(4 * n + 1, n, r)
    x, y = rng.normal(size=(4 * n + 1, 5)), rng.integers(0, 3, size=4 * n + 1)
    with xg.GradientTape() as tape:
        loss = mean_loss(model, xg.asarray(x[sl]), xg.asarray(y[sl]))
    pairs = list(zip(tape.gradient(loss, variables(model)), variables(model)))
    opt = dist.DistributedOptimizer(xg.optim.SGD(1.0))
    try:
        opt.apply_gradients(pairs, weight=sl.stop - sl.start)
    except ValueError as e:
        assert "SyncBatchNorm" in str(e) and "minimize" in str(e) and \
            "DistributedGradientTape" in str(e), str(e)
    else:
        raise AssertionError("uneven weights through SyncBatchNorm's backward not refused")
    ok("DistributedOptimizer.apply_gradients with uneven shares refused")


def train_step(model, opt, x, y):
    """One step of softmax cross-entropy on ``x``, ``y`` (NumPy): the single-process
    reference, or a rank's share under a DistributedOptimizer."""
    with xg.GradientTape() as tape:
        loss = xg.losses.softmax_cross_entropy(model(xg.asarray(x)), xg.asarray(y))
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                            model.trainable_variables))


def scenario_training():
    """Adam on a model converted with convert_sync_batchnorm, the global batch split unevenly:
    weights and running statistics identical on every rank and equal to one process on the
    global batch; then an xg.function step refused with TraceError on every rank."""
    w = dist.init()
    r, n = w.rank, w.size

    def build():
        # no bias before the normalization: its gradient is 0 up to rounding, which Adam
        # would turn into steps of the learning rate's size
        return xg.nn.Sequential(xg.nn.Linear(5, 6, bias=False, dtype=xg.float64, rng=0),
                                xg.nn.BatchNorm1d(6, dtype=xg.float64), xg.nn.Tanh(),
                                xg.nn.Linear(6, 3, dtype=xg.float64, rng=1))

    ref_model, model = build(), xg.nn.SyncBatchNorm.convert_sync_batchnorm(build())
    assert isinstance(model.layers[1], xg.nn.SyncBatchNorm)
    ref_opt, opt = xg.optim.Adam(1e-2), xg.optim.Adam(1e-2)
    rng = np.random.default_rng(5)
    total = 3 * n + 1
    for step in range(6):
        x, y = rng.normal(size=(total, 5)) + step, rng.integers(0, 3, size=total)
        train_step(ref_model, ref_opt, x, y)
        sl = split(total, n, r)
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(xg.asarray(x[sl])),
                                                   xg.asarray(y[sl]))
        grads = dist.DistributedGradientTape(tape).gradient(
            loss, model.trainable_variables, weight=sl.stop - sl.start)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    ref_state, state = ref_model.state_dict(), model.state_dict()
    assert sorted(ref_state) == sorted(state), (sorted(ref_state), sorted(state))
    for k in state:
        close(state[k], ref_state[k], 1e-10, f"trained {k}")
        same_on_every_rank(state[k], k)
    ok("training matches one process")

    step = xg.function(lambda x: xg.sum(model(x)))
    xb = xg.asarray(rng.normal(size=(3, 5)))
    step(xb)                        # the warm-up call runs eagerly (the collective with it)
    try:
        step(xb)                    # the trace
    except xg.jit.TraceError as e:
        assert "across ranks" in str(e), str(e)
    else:
        raise AssertionError("xg.function recorded SyncBatchNorm on several ranks")
    ok("xg.function refused")


def scenario_group():
    """process_group=an mpi4py communicator of some ranks (split by rank parity): each group
    normalizes over its own ranks' rows."""
    w = dist.init()
    r, n = w.rank, w.size
    comm = w.comm.Split(color=r % 2, key=r)
    members = [q for q in range(n) if q % 2 == r % 2]
    x = np.random.default_rng(9).normal(size=(2 * n + 1, 3))
    rows = [x[split(len(x), n, q)] for q in members]
    ref_bn, sync = make_bn(xg.nn.BatchNorm1d, 3), make_bn(xg.nn.SyncBatchNorm, 3,
                                                           process_group=comm)
    assert sync.process_group.size == len(members)
    y_ref = ref_bn(xg.asarray(np.concatenate(rows))).numpy()
    mine = members.index(r)
    start = sum(len(a) for a in rows[:mine])
    close(sync(xg.asarray(rows[mine])).numpy(), y_ref[start:start + len(rows[mine])], 1e-13,
          "output over the group")
    close(sync.running_var.numpy(), ref_bn.running_var.numpy(), 1e-13, "running_var, group")
    ok("process group of some ranks")


def scenario_mismatch():
    """Ranks holding the layer with different channels or dtypes: DistributedError on every
    rank at its first training call, naming the rank (their buffers differ in size)."""
    w = dist.init()
    r, n = w.rank, w.size
    for c, dtype in ((3 if r == n - 1 else 2, xg.float64),
                     (2, xg.float32 if r == n - 1 else xg.float64)):
        bn = xg.nn.SyncBatchNorm(c, dtype=dtype)
        try:
            bn(xg.ones((2, c), dtype=dtype))
        except dist.DistributedError as e:
            assert f"rank {n - 1} holds a different SyncBatchNorm layer" in str(e), str(e)
        else:
            raise AssertionError("no DistributedError for different layers")
    ok("different layers named")


def scenario_no_target():
    """A rank with an empty share passing target=None on a tape that recorded SyncBatchNorm
    (whose backward pass the others wait in): DistributedError on every rank, not a hang."""
    w = dist.init()
    r = w.rank
    for dtype in (xg.float64, xg.float32):
        bn = xg.nn.SyncBatchNorm(3, affine=False, dtype=dtype)
        weight = xg.Variable([[1.0, -2.0, 0.5]], name="W", dtype=dtype)
        x = np.random.default_rng(0).standard_normal((0 if r == 0 else 6, 1))
        with xg.GradientTape() as tape:
            h = bn(xg.asarray(x, dtype=dtype) @ weight)
            loss = xg.mean(xg.sum(h * h * h, axis=1)) if len(x) else None
        try:
            dist.DistributedGradientTape(tape).gradient(loss, [weight], weight=len(x))
        except dist.DistributedError as e:
            assert "target=None on a tape that recorded SyncBatchNorm" in str(e), str(e)
        else:
            raise AssertionError("target=None beside SyncBatchNorm was not refused")
    ok("target=None refused on every rank")


def scenario_more():
    """float32 on the numba backend; a block under xg.recompute_grad (the statistics gathered
    again for the gradient, the running statistics updated once); DistributedOptimizer with
    equal shares (its gradients come from a plain tape: the plain sums)."""
    w = dist.init()
    r, n = w.rank, w.size
    rng = np.random.default_rng(21)
    x = rng.normal(size=(3 * n + 2, 4)) * 2.0 + 1.0
    r1, r2 = rng.normal(size=x.shape), rng.normal(size=x.shape)
    sl = split(len(x), n, r)
    results = []
    for cls, rows in ((xg.nn.BatchNorm1d, slice(None)), (xg.nn.SyncBatchNorm, sl)):
        bn = cls(4, backend="numba")
        xs = xg.asarray(x[rows], dtype=xg.float32, backend="numba")
        with xg.GradientTape() as tape:
            tape.watch(xs)
            y = bn(xs)
            loss = objective(y, xg.asarray(r1[rows], dtype=xg.float32, backend="numba"),
                             xg.asarray(r2[rows], dtype=xg.float32, backend="numba"))
        results.append([y.numpy(), *[g.numpy() for g in tape.gradient(loss, [xs, bn.weight])],
                        bn.running_var.numpy()])
    (y_ref, dx_ref, dw_ref, rv_ref), (y, dx, dw, rv) = results
    dw = dist.allreduce(xg.asarray(dw), op="sum").numpy()
    for a, b, what in ((y, y_ref[sl], "output"), (dx, dx_ref[sl], "input gradient"),
                       (dw, dw_ref, "weight gradient"), (rv, rv_ref, "running_var")):
        assert a.dtype == np.float32, (what, a.dtype)
        close(a, b, 1e-5, f"numba float32 {what}")
    ok("numba float32")

    def build(cls):
        return xg.nn.Sequential(xg.nn.Linear(4, 5, bias=False, dtype=xg.float64, rng=2),
                                cls(5, dtype=xg.float64), xg.nn.Tanh(),
                                xg.nn.Linear(5, 2, dtype=xg.float64, rng=3))

    y = rng.integers(0, 2, size=len(x))
    ref_model, model = build(xg.nn.BatchNorm1d), build(xg.nn.SyncBatchNorm)
    with xg.GradientTape() as tape:
        loss = xg.losses.softmax_cross_entropy(ref_model(xg.asarray(x)), xg.asarray(y))
    ref = tape.gradient(loss, ref_model.trainable_variables)
    block = xg.recompute_grad(model)
    with xg.GradientTape() as tape:
        loss = xg.losses.softmax_cross_entropy(block(xg.asarray(x[sl])), xg.asarray(y[sl]))
    grads = dist.DistributedGradientTape(tape).gradient(loss, model.trainable_variables,
                                                        weight=sl.stop - sl.start)
    for g, e, v in zip(grads, ref, model.trainable_variables):
        near(g.numpy(), e.numpy(), 1e-12, f"{v.name} gradient under recompute_grad")
    bn, ref_bn = model.layers[1], ref_model.layers[1]
    assert bn.num_batches_tracked.item() == 1
    close(bn.running_var.numpy(), ref_bn.running_var.numpy(), 1e-13, "running_var, recompute")
    ok("recompute_grad")

    total = 2 * n
    ref_model, model = build(xg.nn.BatchNorm1d), build(xg.nn.SyncBatchNorm)
    ref_opt, opt = xg.optim.SGD(0.1), dist.DistributedOptimizer(xg.optim.SGD(0.1))
    for step in range(3):
        xb, yb = rng.normal(size=(total, 4)) + step, rng.integers(0, 2, size=total)
        train_step(ref_model, ref_opt, xb, yb)
        mine = slice(2 * r, 2 * r + 2)
        train_step(model, opt, xb[mine], yb[mine])      # DistributedOptimizer reduces
    for v, e in zip(model.variables, ref_model.variables):     # names differ by the class
        close(v.numpy(), e.numpy(), 1e-11, f"DistributedOptimizer {v.name}")
    ok("DistributedOptimizer with equal shares")

    bn = xg.nn.SyncBatchNorm(2, dtype=xg.float64)
    xs = xg.asarray(rng.normal(size=(3, 2)))
    try:
        with xg.GradientTape() as outer:
            outer.watch(xs)
            with xg.GradientTape() as inner:
                inner.watch(xs)
                loss = xg.sum(bn(xs) ** 3)
            inner.gradient(loss, xs)
    except NotImplementedError as e:
        assert "higher-order" in str(e), str(e)
    else:
        raise AssertionError("a second-order gradient went through SyncBatchNorm")
    ok("second order refused")


def scenario_all():
    scenario_layer()
    scenario_weighted()
    scenario_training()
    scenario_group()
    scenario_mismatch()
    scenario_no_target()
    scenario_more()
    scenario_optimizer_weights()


if __name__ == "__main__":
    globals()[f"scenario_{sys.argv[1]}"]()
