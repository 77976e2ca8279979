"""SyncBatchNorm: on one process it is BatchNorm1d exactly; ``mpiexec -n 2`` and ``-n 3`` run
tests/mpi_worker_sync_bn.py (outputs, input/weight/bias gradients and running statistics on
uneven shares against BatchNorm1d and torch on the whole batch in float64; the weighted mean of
DistributedGradientTape with an empty share; a short Adam run identical on every rank and equal
to one process; xg.function refused on several ranks); convert_sync_batchnorm; bad input."""
import sys

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.distributed.group import SingleWorld

from test_distributed import HERE, mpirun, needs_mpi


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_across_ranks_equals_one_process_on_the_whole_batch(n):
    res = mpirun(n, sys.executable, str(HERE / "mpi_worker_sync_bn.py"), "all", timeout=180)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    checks = ["layer matches one process and torch", "mean far from 0 kept accurate",
              "weighted gradients match one process",
              "one value per channel refused on every rank", "training matches one process",
              "xg.function refused", "process group of some ranks",
              "different layers named", "target=None refused on every rank", "numba float32", "recompute_grad",
              "DistributedOptimizer with equal shares", "second order refused",
              "DistributedOptimizer.minimize with uneven shares matches torch",
              "DistributedOptimizer.apply_gradients with uneven shares refused"]
    lines = set(res.stdout.splitlines())
    missing = [f"rank {r} ok: {c}" for r in range(n) for c in checks
               if f"rank {r} ok: {c}" not in lines]
    assert not missing, (missing, res.stderr[-3000:])


def _pair(cls_kwargs=None, c=3, seed=0, backend=None):
    rng = np.random.default_rng(seed)
    layers = [cls(c, dtype=xg.float64, backend=backend, **(cls_kwargs or {}))
              for cls in (xg.nn.BatchNorm1d, xg.nn.SyncBatchNorm)]
    w, b = rng.normal(size=c), rng.normal(size=c)
    for layer in layers:
        if layer.affine:
            layer.weight.assign(w)
            layer.bias.assign(b)
    return layers


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2)])
@pytest.mark.parametrize("options", [{}, {"momentum": None}, {"affine": False},
                                     {"track_running_stats": False}])
def test_one_process_is_batch_norm_1d_exactly(backend, shape, options):
    if backend == "numba":
        pytest.importorskip("numba")
    ref, sync = _pair(options, backend=backend)
    rng = np.random.default_rng(1)
    for step in range(2):
        x = xg.asarray(rng.normal(size=shape) + step, backend=backend)
        r = xg.asarray(rng.normal(size=shape), backend=backend)
        outs = []
        for layer in (ref, sync):
            with xg.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
                loss = xg.sum((y * r) ** 2)
            outs.append([y] + tape.gradient(loss, [x] + layer.trainable_variables))
        for a, b in zip(*outs):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(ref.variables, sync.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    ref.eval()
    sync.eval()
    x = xg.asarray(rng.normal(size=shape), backend=backend)
    np.testing.assert_array_equal(ref(x).numpy(), sync(x).numpy())


def test_one_process_gradients_match_finite_differences():
    sync = xg.nn.SyncBatchNorm(2, dtype=xg.float64)
    r = xg.asarray(np.random.default_rng(2).normal(size=(4, 2)))
    xg.testing.check_grads(lambda x: xg.sum((sync(x) * r) ** 2),
                           (np.random.default_rng(3).normal(size=(4, 2)),))


def test_one_process_compiles_like_batch_norm_1d():
    ref, sync = _pair()
    rng = np.random.default_rng(4)
    batches = [xg.asarray(rng.normal(size=(6, 3)) + i) for i in range(4)]
    results = []
    for layer in (ref, sync):
        step = xg.function(lambda x, layer=layer: xg.sum(layer(x) ** 3))
        results.append([step(x).item() for x in batches])
        assert step.trace_count == 1
    assert results[0] == results[1]
    np.testing.assert_array_equal(ref.running_var.numpy(), sync.running_var.numpy())


def test_global_moments_combine_rows_as_the_whole_batch():
    from xpgrad.distributed.sync_stats import global_moments

    x = np.random.default_rng(5).normal(size=(6, 3, 2)) + 100.0
    xp = xg.asarray(x)._backend.xp
    count, mean, var = global_moments(SingleWorld(), x, xp)
    assert count == 12
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2)), rtol=1e-15)
    np.testing.assert_allclose(var, x.var(axis=(0, 2)), rtol=1e-12)


class _Holder(xg.nn.Module):
    def __init__(self):
        super().__init__("holder")
        self.bn = xg.nn.BatchNorm1d(2, momentum=0.3, name="first")
        self.blocks = [xg.nn.Linear(2, 2, rng=0), {"norm": xg.nn.BatchNorm1d(2, eps=1e-3)}]
        self.pair = (self.bn, xg.nn.LayerNorm(2))      # the same layer twice
        self._private = xg.nn.BatchNorm1d(2)           # not part of the module tree

    def forward(self, x):
        return self.blocks[1]["norm"](self.bn(x))


def test_convert_sync_batchnorm_replaces_every_batch_norm_keeping_its_variables():
    model = _Holder()
    model.bn.eval()
    before = {k: v for k, v in model.named_variables().items()}
    state = model.state_dict()
    out = xg.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert out is model
    assert type(model.bn) is xg.nn.SyncBatchNorm
    assert type(model.blocks[1]["norm"]) is xg.nn.SyncBatchNorm
    assert model.pair[0] is model.bn and type(model.pair) is tuple
    assert type(model.pair[1]) is xg.nn.LayerNorm
    assert type(model._private) is xg.nn.BatchNorm1d
    assert (model.bn.name, model.bn.momentum, model.bn.training) == ("first", 0.3, False)
    assert model.blocks[1]["norm"].eps == 1e-3 and model.blocks[1]["norm"].training
    after = model.named_variables()
    assert list(after) == list(before)
    assert all(after[k] is before[k] for k in before)       # the same Variables
    assert sorted(model.state_dict()) == sorted(state)
    assert model.bn.process_group is None


def test_convert_sync_batchnorm_of_a_batch_norm_and_with_a_group():
    bn = xg.nn.BatchNorm1d(3, affine=False)
    group = SingleWorld()
    sync = xg.nn.SyncBatchNorm.convert_sync_batchnorm(bn, process_group=group)
    assert type(sync) is xg.nn.SyncBatchNorm and sync is not bn
    assert sync.running_mean is bn.running_mean and sync.weight is None
    assert sync.process_group is group
    again = xg.nn.SyncBatchNorm.convert_sync_batchnorm(sync)
    assert again is sync and again.process_group is group
    seq = xg.nn.SyncBatchNorm.convert_sync_batchnorm(xg.nn.Sequential(bn, xg.nn.Tanh()))
    assert type(seq.layers[0]) is xg.nn.SyncBatchNorm
    assert "process_group=SingleWorld()" in repr(sync)


def test_bad_input():
    with pytest.raises(TypeError, match="process_group must be None"):
        xg.nn.SyncBatchNorm(3, process_group="world")
    with pytest.raises(TypeError, match="convert_sync_batchnorm: module must be an xg.nn.Mod"):
        xg.nn.SyncBatchNorm.convert_sync_batchnorm([xg.nn.BatchNorm1d(2)])
    with pytest.raises(TypeError, match="convert_sync_batchnorm: process_group must be None"):
        xg.nn.SyncBatchNorm.convert_sync_batchnorm(xg.nn.BatchNorm1d(2), process_group=3)
    with pytest.raises(ValueError, match="num_features"):
        xg.nn.SyncBatchNorm(-1)         # (0 is accepted, as BatchNorm1d(0))
    with pytest.raises(ValueError, match="momentum"):
        xg.nn.SyncBatchNorm(2, momentum=2.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'group'"):
        xg.nn.SyncBatchNorm(2, group=None)
    sync = xg.nn.SyncBatchNorm(3)
    with pytest.raises(ValueError, match="SyncBatchNorm: the input has 2 channels"):
        sync(xg.ones((4, 2)))
    with pytest.raises(ValueError, match="SyncBatchNorm: expected an \\(N, C, ...\\) input"):
        sync(xg.ones((4,)))
    with pytest.raises(TypeError, match="SyncBatchNorm has float32 weights"):
        sync(xg.ones((4, 3), dtype=xg.float64))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        sync(xg.ones((1, 3)))
