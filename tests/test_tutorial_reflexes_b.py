"""What porting nanoGPT, a VAE, a DCGAN, PyTorch's MNIST CNN and a DDP loop met
(docs/porting.md, "Porting the well-known tutorials"): names answered with xpgrad's way, and
each way computes what the original computed (against PyTorch in float64)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("owner, name, hint", [
    ("xg", "long", "xg.int64"), ("xg", "int", "xg.int32"), ("xg", "float", "xg.float32"),
    ("xg", "double", "xg.float64"),
    ("xg", "set_num_threads", "xg.threads.limit(n)"),
    ("xg", "get_num_threads", "xg.threads.limit(n)"),
    ("xg", "split", "np.split(t, t.shape[k] // size, axis=k)"),
    ("xg", "randn_like", "rng.normal(size=t.shape, dtype=t.dtype)"),
    ("random", "randn_like", "rng.normal(size=t.shape, dtype=t.dtype)"),
    ("xg", "rand_like", "rng.random(size=t.shape, dtype=t.dtype)"),
    ("xg", "bmm", "a @ b (xg.matmul"), ("xg", "mm", "a @ b (xg.matmul"),
    ("tensor", "split", "np.split(t, t.shape[k] // size, axis=k)"),
    ("tensor", "chunk", "np.split(t, n, axis=k)"),
    ("tensor", "eq", "t == other"), ("tensor", "ne", "t != other"),
    ("tensor", "lt", "t < other"), ("tensor", "le", "t <= other"),
    ("tensor", "gt", "t > other"), ("tensor", "ge", "t >= other"),
    ("tensor", "view_as", "t.reshape(other.shape)"),
    ("tensor", "normal_", "v.assign(rng.normal(mean, std, size=v.shape, dtype=v.dtype))"),
    ("tensor", "uniform_", "rng.uniform(low, high"),
    ("losses", "sigmoid_cross_entropy", "xg.losses.sigmoid_cross_entropy_with_logits(logits, "
                                        "targets)"),
])
def test_ported_names_point_at_xpgrads(owner, name, hint):
    obj = {"xg": xg, "tensor": xg.ones(2), "losses": xg.losses, "random": xg.random}[owner]
    with pytest.raises(AttributeError) as err:
        getattr(obj, name)
    assert hint in str(err.value) and repr(name) in str(err.value)
    assert not hasattr(obj, name)


def test_the_split_hint_is_torchs_split_with_its_gradient():
    """nanoGPT's ``q, k, v = self.c_attn(x).split(n_embd, dim=2)``."""
    a = RNG.normal(size=(2, 3, 12))
    x, t = xg.asarray(a), torch.tensor(a, requires_grad=True)
    weights = [1.0, -2.0, 3.0]
    (g,) = xg.grad(lambda v: sum(w * xg.sum(p ** 2) for w, p in zip(
        weights, np.split(v, v.shape[2] // 4, axis=2))), argnums=(0,))(x)
    sum(w * (p ** 2).sum() for w, p in zip(weights, t.split(4, dim=2))).backward()
    np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-15)
    for ours, theirs in zip(np.split(x, 3, axis=-1), t.detach().chunk(3, -1)):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_the_comparison_hints_count_as_torchs_accuracy_line():
    """PyTorch's MNIST: ``pred = output.argmax(dim=1, keepdim=True);
    correct += pred.eq(target.view_as(pred)).sum().item()``."""
    out, target = RNG.normal(size=(9, 4)), RNG.integers(0, 4, 9)
    pred = xg.argmax(xg.asarray(out), axis=1, keepdims=True)
    correct = xg.sum(pred == xg.asarray(target).reshape(pred.shape)).item()
    ref = torch.tensor(out).argmax(dim=1, keepdim=True)
    assert correct == ref.eq(torch.tensor(target).view_as(ref)).sum().item()


def test_the_normal_hints_draw_in_the_tensors_dtype():
    """nanoGPT's ``torch.nn.init.normal_(p, mean=0.0, std=0.02)``, the VAE's
    ``torch.randn_like(std)``."""
    v = xg.Variable(xg.zeros((400, 50)))
    rng = xg.random.default_rng(0)
    v.assign(rng.normal(0.0, 0.02, size=v.shape, dtype=v.dtype))
    assert v.dtype == xg.float32 and float(xg.std(v)) == pytest.approx(0.02, rel=0.02)
    std = xg.ones((300, 40), dtype=xg.float64)
    eps = rng.normal(size=std.shape, dtype=std.dtype)
    assert eps.dtype == xg.float64 and float(xg.std(eps)) == pytest.approx(1.0, rel=0.03)


def test_the_threads_hint_limits_blas(thread_counts_kept):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import xpgrad.threads

    limits = xpgrad.threads.limit(1)
    try:
        blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
    finally:
        limits.restore()


@pytest.mark.parametrize("make", [
    lambda groups: xg.optim.AdamW(groups),
    lambda groups: xg.optim.AdamW(groups, lr=6e-4, betas=(0.9, 0.95)),   # nanoGPT's call
    lambda groups: xg.optim.SGD(groups, lr=0.1, momentum=0.9),
])
def test_pytorch_parameter_groups_name_one_optimizer_per_group(make):
    model = xg.nn.Linear(3, 2, rng=0)
    groups = [{"params": [model.w], "weight_decay": 0.1},
              {"params": [model.b], "weight_decay": 0.0}]
    with pytest.raises(TypeError, match=r"takes no parameter groups .*one optimizer per group, "
                                        r"AdamW\(lr, weight_decay=0.1\)"):
        make(groups)


@pytest.mark.parametrize("call", [
    lambda x, y: xg.data.batches(x, y, batch_size=64),
    lambda x, y: xg.data.batches(x, y, 64),
    lambda x, y: xg.data.batches(x, y),
])
def test_batches_given_the_arrays_shows_the_index_loop(call):
    x, y = np.zeros((100, 3)), np.zeros(100)
    with pytest.raises(TypeError, match=r"takes the number of examples, not the arrays.*"
                                        r"xg.data.batches\(len\(x\), 64, rng\): xb, yb = "
                                        r"x\[idx\], y\[idx\]"):
        call(x, y)


def test_batches_takes_batch_size_and_rng_by_keyword_or_position():
    by_keyword = xg.data.batches(10, batch_size=4, rng=np.random.default_rng(0))
    by_position = xg.data.batches(10, 4, np.random.default_rng(0))
    assert [b.tolist() for b in by_keyword] == [b.tolist() for b in by_position]
    assert sorted(np.concatenate(by_keyword).tolist()) == list(range(10))
    with pytest.raises(TypeError, match="multiple values for argument 'batch_size'"):
        xg.data.batches(10, 4, batch_size=4)
    with pytest.raises(TypeError, match="multiple values for argument 'rng'"):
        xg.data.batches(10, 4, None, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"needs batch_size: xg.data.batches\(len\(x\), 32"):
        xg.data.batches(10)
    with pytest.raises(TypeError, match="takes n, batch_size and rng, got 4 positional"):
        xg.data.batches(10, 4, None, True)


def test_functional_dropout_names_rate_for_torchs_p():
    with pytest.raises(TypeError, match="unexpected keyword argument 'p'; xpgrad calls it rate="):
        xg.nn.dropout(xg.ones(4), p=0.1)
    with pytest.raises(TypeError, match="'inplace': xpgrad's layers never change their input"):
        xg.nn.dropout(xg.ones(4), 0.1, inplace=True)
    kept = xg.nn.dropout(xg.ones(10000, dtype=xg.float64), rate=0.1, rng=0).numpy()
    np.testing.assert_allclose(kept[kept != 0], 1 / 0.9, rtol=1e-15)
    assert np.mean(kept == 0) == pytest.approx(0.1, abs=0.02)


@pytest.mark.parametrize("name, hint", [
    ("init_process_group", "dist.init()"), ("destroy_process_group", "finalized"),
    ("is_initialized", "dist.size() > 1"), ("get_rank", "dist.rank()"),
    ("get_world_size", "dist.size()"), ("all_reduce", "dist.allreduce(t, op='sum')"),
    ("DistributedDataParallel", "dist.DistributedGradientTape(tape)"),
    ("DDP", "dist.broadcast_variables(model)"), ("DistributedSampler", "dist.share(idx)"),
])
def test_torch_distributed_names_point_at_xpgrads(name, hint):
    """PyTorch's DDP tutorial, ported: its names on ``xpgrad.distributed``."""
    from xpgrad import distributed as dist

    with pytest.raises(AttributeError) as err:
        getattr(dist, name)
    assert hint in str(err.value) and repr(name) in str(err.value)
    assert not hasattr(dist, name)
    with pytest.raises(AttributeError, match="'no_such_thing'$"):
        dist.no_such_thing
    for on_nn in ("parallel", "DataParallel", "DistributedDataParallel"):
        with pytest.raises(AttributeError, match="xpgrad.distributed's"):
            getattr(xg.nn, on_nn)


def test_the_hinted_world_calls_answer_as_torchs_on_one_process():
    from xpgrad import distributed as dist

    assert dist.init() is dist.init()
    assert (dist.rank(), dist.size()) == (0, 1)
    assert dist.allreduce(xg.asarray([1.0, 2.0]), op="sum").tolist() == [1.0, 2.0]
