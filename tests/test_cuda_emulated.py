"""The CUDA kernels and their Python wrappers, run on the CPU through tests/cuda_emu (no GPU
needed): each against the generic rule on the same inputs, then a training run end to end.

The emulator runs the real .cu sources (one fiber per CUDA thread, real barriers and warp
shuffles); what it cannot show -- device speed, the memory model, CuPy's argument marshalling
and NVRTC's code generation -- is left to tests/test_cupy_backend.py on a GPU.
"""
import numpy as np
import pytest

import xpgrad as xg
from cuda_emu import EmuLauncher, build, build_dir, compiler, emulated_backend
from cuda_emu.reference import (OPTIM_CASES, GenericBackend, activation_inputs, assert_close,
                                ce_inputs, fused, generic, mlp_run, optim_call, optim_states,
                                pointwise_inputs)
from xpgrad.backends.cupy import activations, losses, optim

pytestmark = pytest.mark.skipif(compiler() is None, reason="no host C++ compiler for the emulator")


@pytest.fixture(scope="module")
def L():
    # sm_count=1 keeps grids small, so the grid-stride loops of 10k-element inputs go round
    return EmuLauncher(build(build_dir()), sm_count=1)


@pytest.fixture(scope="module")
def K(L):
    return {**losses.kernels(L), **activations.kernels(L)}


def _misaligned(a):
    """A C-contiguous copy of ``a`` that starts 4 bytes past a 16-byte boundary."""
    buf = np.empty(a.size + 4, a.dtype)
    off = (-(buf.ctypes.data % 16) // a.itemsize + 1) % 4 if a.itemsize == 4 else 1
    out = buf[off:off + a.size].reshape(a.shape)
    out[...] = a
    assert out.flags.c_contiguous and out.ctypes.data % 16 != 0
    return out


def test_the_shared_build_folder_keeps_other_sources_builds_in_use(tmp_path):
    """The build folder is shared by every checkout on the machine: a build of other sources
    that a run used within the day stays (deleting it made that run rebuild, or fail to load
    the library it had just been handed); one unused for longer, and a failed build's .cpp,
    go."""
    import os
    import time

    import cuda_emu

    lib = tmp_path / "xpgrad_emu_new.so"
    in_use, unused, leftover = (tmp_path / name for name in (
        "xpgrad_emu_other.so", "xpgrad_emu_old.so", "xpgrad_emu_123.cpp"))
    for path in (lib, in_use, unused, leftover):
        path.write_bytes(b"")
    long_ago = time.time() - cuda_emu.STALE_SECONDS - 60
    for path in (unused, leftover, lib):
        os.utime(path, (long_ago, long_ago))
    (tmp_path / "unrelated.so").write_bytes(b"")
    assert cuda_emu.remove_stale(lib) == ["xpgrad_emu_123.cpp", "xpgrad_emu_old.so"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "unrelated.so", "xpgrad_emu_new.so", "xpgrad_emu_other.so"]


# -- the emulator itself -------------------------------------------------------------------------
@pytest.mark.parametrize("grid,block", [(1, 32), (3, 64), (2, 1024)])
def test_emulated_threads_exchange_through_shuffles_and_shared_memory(L, grid, block):
    """cuda_emu/selftest.h: thread t of block b holds t + 1 + 4096 b, reads lane t^1's value by
    a shuffle and thread (block - 1 - t)'s from shared memory after __syncthreads -- every
    block, every thread, up to 1024 (the emulator runs them as fibers that yield at each
    barrier)."""
    out = np.zeros(grid * block, np.float32)
    L._launch("selftest", "emu_selftest_exchange", grid, block, [out], 0)
    t, b = np.arange(block), 4096 * np.arange(grid)[:, None]
    np.testing.assert_array_equal(out.reshape(grid, block), (t ^ 1) + 1 + (block - t) + 2 * b)


def test_a_deadlocked_launch_fails_with_the_kernels_name_instead_of_hanging(L):
    out = np.zeros(32, np.float32)
    with pytest.raises(RuntimeError, match="emu_selftest_deadlock: every running thread waits"):
        L._launch("selftest", "emu_selftest_deadlock", 1, 32, [out], 0)
    L._launch("selftest", "emu_selftest_exchange", 1, 32, [out], 0)      # and it still runs
    assert out[0] == 2 + 32


# -- softmax cross-entropy ------------------------------------------------------------------------
CE_CASES = [   # (rows, classes, labels, dtype, big logits); rows fit in shared memory unless noted
    (4, 1, "int64", np.float32, False),          # one class: loss 0, gradient 0
    (6, 10, "int64", np.float32, False),
    (5, 37, "int32", np.float32, True),          # odd C: scalar path; +-1e4 logits
    (5, 37, "probs", np.float64, True),
    (3, 4096, "probs", np.float32, False),       # vector path
    (3, 2048, "int32", np.float64, True),
    (2, 100_000, "int64", np.float32, False),    # 100k classes: first ~19k cached, rest re-read
    (2, 100_003, "probs", np.float32, True),     # ... odd: scalar path
]


@pytest.mark.parametrize("n,c,labels,dtype,big", CE_CASES)
def test_softmax_ce_matches_generic_rule(K, L, rng, n, c, labels, dtype, big):
    x, y = ce_inputs(rng, n, c, dtype, labels, big)
    reductions = ("mean", "sum", "none") if c < 50_000 else ("mean",)
    for reduction in reductions:
        params = {"reduction": reduction}
        out, g, grads = fused(K["softmax_cross_entropy"], (x, y), params)
        ref_out, ref_g = generic("softmax_cross_entropy", (x, y), params)
        assert out.dtype == dtype and out.shape == ref_out.shape
        assert_close(out, ref_out, dtype, f"loss {reduction}")
        assert_close(g, ref_g, dtype, f"gradient {reduction}")
        assert grads[1] is (NotImplemented if labels == "probs" else None)
    name, grid, block, smem = L.launches[-1]
    per_col = np.dtype(dtype).itemsize * (2 if labels == "probs" else 1)
    assert grid == n and block % 32 == 0 and smem % per_col == 0
    assert smem == min(c * per_col, L.smem_budget("softmax_ce", name, losses.CE_BLOCKS_PER_SM)
                       // per_col // (16 // np.dtype(dtype).itemsize)
                       * (16 // np.dtype(dtype).itemsize) * per_col)


@pytest.mark.parametrize("blocks_per_sm,cache", [(1, True), (4, True), (2, False)])
def test_softmax_ce_other_shared_memory_plans(K, L, rng, monkeypatch, blocks_per_sm, cache):
    monkeypatch.setattr(losses, "CE_BLOCKS_PER_SM", blocks_per_sm)
    monkeypatch.setattr(losses, "CE_CACHE_ROWS", cache)
    x, y = ce_inputs(rng, 2, 12_000, np.float32, "int64")
    out, g, _ = fused(K["softmax_cross_entropy"], (x, y), {"reduction": "sum"})
    ref_out, ref_g = generic("softmax_cross_entropy", (x, y), {"reduction": "sum"})
    assert_close(out, ref_out, np.float32)
    assert_close(g, ref_g, np.float32)
    smem = L.launches[-1][3]
    assert smem == (0 if not cache else 48_000 if blocks_per_sm == 1 else
                    (160 * 1024 // 4 - 1024 - 2048) // 16 * 16)


@pytest.mark.parametrize("regs,blocks", [(62, 1), (31, 2), (16, 2)])
def test_softmax_ce_shared_memory_follows_register_residency(K, L, rng, monkeypatch, regs,
                                                             blocks):
    """A kernel whose registers let fewer than CE_BLOCKS_PER_SM blocks reside per SM (float64
    CE on sm_90 uses 62 per thread) gets the shared memory of that many blocks."""
    monkeypatch.setattr(losses, "CE_BLOCKS_PER_SM", 2)
    monkeypatch.setattr(L, "num_regs", lambda module, name: regs, raising=False)
    x, y = ce_inputs(rng, 2, 60_000, np.float64, "int64")        # 1024 threads, partly cached
    out, g, _ = fused(K["softmax_cross_entropy"], (x, y), {"reduction": "sum"})
    ref_out, ref_g = generic("softmax_cross_entropy", (x, y), {"reduction": "sum"})
    assert_close(out, ref_out, np.float64)
    assert_close(g, ref_g, np.float64)
    name, _, block, smem = L.launches[-1]
    assert block == 1024
    assert smem == L.smem_budget("softmax_ce", name, blocks) // 16 * 16


def test_softmax_ce_output_gradient_is_applied(K, rng):
    x, y = ce_inputs(rng, 5, 7, np.float32)
    for reduction, g in (("mean", np.float32(2.5)), ("none", rng.random(5).astype(np.float32))):
        g = np.asarray(g)
        _, dx, _ = fused(K["softmax_cross_entropy"], (x, y), {"reduction": reduction}, g)
        _, ref = generic("softmax_cross_entropy", (x, y), {"reduction": reduction}, g)
        assert_close(dx, ref, np.float32)


def test_softmax_ce_misaligned_rows_take_the_scalar_path(K, rng):
    x, y = ce_inputs(rng, 3, 64, np.float32, "probs")
    xm, ym = _misaligned(x), _misaligned(y)
    out, g, _ = fused(K["softmax_cross_entropy"], (xm, ym), {"reduction": "none"})
    ref_out, ref_g = generic("softmax_cross_entropy", (x, y), {"reduction": "none"})
    assert_close(out, ref_out, np.float32)
    assert_close(g, ref_g, np.float32)


def test_softmax_ce_label_out_of_range_gives_nan_row_not_a_wild_read(K, rng):
    x, y = ce_inputs(rng, 3, 8, np.float32)
    y[1] = 8
    out, g, _ = fused(K["softmax_cross_entropy"], (x, y), {"reduction": "none"})
    assert np.isnan(out[1]) and np.isnan(g[1]).all()
    assert np.isfinite(out[[0, 2]]).all() and np.isfinite(g[[0, 2]]).all()


def test_softmax_ce_falls_back_for_what_it_does_not_cover(K, L, rng):
    x, y = ce_inputs(rng, 4, 6, np.float32)
    before = len(L.launches)
    k = K["softmax_cross_entropy"]
    assert k.forward(np.asfortranarray(x), y, reduction="mean") is None        # layout
    assert k.forward(x[:, ::2], y, reduction="mean") is None                    # strided
    assert k.forward(x.astype(np.float16), y, reduction="mean") is None        # dtype
    assert k.forward(x, y.astype(np.uint8), reduction="mean") is None          # label dtype
    assert k.forward(x, y.astype(np.float32), reduction="mean") is None        # float labels (N,)
    assert k.forward(x, y, reduction="mean", axis=0) is None                   # unknown param
    assert len(L.launches) == before


# -- elementwise losses -------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["sigmoid_mse", "sigmoid_cross_entropy_with_logits", "mse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 10_007])
def test_pointwise_loss_matches_generic_rule(K, rng, op, dtype, n):
    x, t = pointwise_inputs(rng, n, dtype, op)
    for reduction in ("mean", "sum", "none"):
        params = {"reduction": reduction}
        out, g, grads = fused(K[op], (x, t), params)
        ref_out, ref_g = generic(op, (x, t), params)
        assert out.dtype == dtype and out.shape == ref_out.shape
        assert_close(out, ref_out, dtype, f"{op} loss {reduction}")
        assert_close(g, ref_g, dtype, f"{op} gradient {reduction}")
        assert grads[1] is NotImplemented


def test_pointwise_loss_misaligned_and_fallbacks(K, L, rng):
    x, t = pointwise_inputs(rng, 1001, np.float32, "sigmoid_mse")
    out, g, _ = fused(K["sigmoid_mse"], (_misaligned(x), _misaligned(t)), {"reduction": "sum"})
    ref_out, ref_g = generic("sigmoid_mse", (x, t), {"reduction": "sum"})
    assert_close(out, ref_out, np.float32)
    assert_close(g, ref_g, np.float32)
    before = len(L.launches)
    k = K["sigmoid_mse"]
    assert k.forward(x, t.astype(np.float64), reduction="mean") is None
    assert k.forward(x[::2], t[::2], reduction="mean") is None
    assert k.forward(x, t[:10], reduction="mean") is None
    assert k.forward(x, 0.5, reduction="mean") is None
    assert len(L.launches) == before


# -- activations --------------------------------------------------------------------------------
ACTIVATION_PARAMS = {"leaky_relu": {"negative_slope": 0.2}}


@pytest.mark.parametrize("prim", ["sigmoid", "tanh", "relu", "leaky_relu", "softplus"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [7, 5001])
def test_activation_matches_generic_rule(K, rng, prim, dtype, n):
    x = activation_inputs(rng, n, dtype)
    params = ACTIVATION_PARAMS.get(prim, {})
    g = rng.normal(size=n).astype(dtype)
    y, dx, _ = fused(K[prim], (x,), params, g)
    ref_y, ref_dx = generic(prim, (x,), params, g)
    assert y.dtype == dtype
    assert_close(y, ref_y, dtype, f"{prim} forward")
    assert_close(dx, ref_dx, dtype, f"{prim} backward")


def test_activation_nan_passes_through(K):
    x = np.array([np.nan, 1.0, -1.0, np.nan], np.float32)
    for prim in ("sigmoid", "tanh", "relu", "leaky_relu", "softplus"):
        y, _ = K[prim].forward(x, **ACTIVATION_PARAMS.get(prim, {}))
        assert np.isnan(y[[0, 3]]).all() and np.isfinite(y[[1, 2]]).all(), prim


def test_activation_backward_leaves_broadcast_gradients_to_the_rule(K, L):
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    y, saved = K["sigmoid"].forward(x)
    g = np.broadcast_to(np.float32(1.0), x.shape)
    assert K["sigmoid"].vjp(g, saved, x) == (NotImplemented,)
    assert K["relu"].forward(x.T) is None


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [3, 70])
def test_dense_layer_with_its_activation_matches_generic_rule(K, rng, act, dtype, rows):
    """``linear_<act>``: cuBLAS's product (NumPy's here), one launch for the bias and the
    activation, and backward ``activation_bwd`` on the output, against the primitive's generic
    forward and joint rule, for each set of wanted gradients; a broadcast seed is left to the
    rule."""
    import array_api_compat.numpy as npx
    from xpgrad.primitive import PRIMITIVES

    x = (rng.normal(size=(rows, 9)) * 2).astype(dtype)
    w, b = rng.normal(size=(9, 13)).astype(dtype), rng.normal(size=13).astype(dtype)
    x[0, :3] = [0.0, -0.0, 50.0]
    prim, kernel = PRIMITIVES[f"linear_{act}"], K[f"linear_{act}"]
    y, saved = kernel.forward(x, w, b)
    want = prim.forward(npx, x, w, b)
    assert y.dtype == dtype
    assert_close(y, want, dtype, f"linear_{act} forward")
    g = rng.normal(size=y.shape).astype(dtype)
    for needs in ((True, True, True), (False, True, True), (True, False, False)):
        got = kernel.vjp(g, saved, needs, x, w, b)
        for i, (gi, ri) in enumerate(zip(got, prim.vjp(npx, g, want, needs, (x, w, b), {}))):
            assert (gi is None) == (ri is None)
            if ri is not None:
                assert_close(gi, ri, dtype, f"linear_{act} gradient {i}")
    seed = np.broadcast_to(dtype(1.0), y.shape)
    assert kernel.vjp(seed, saved, (True, True, True), x, w, b) == (NotImplemented,) * 3
    assert kernel.forward(x, w.astype(np.float64 if dtype == np.float32 else np.float32),
                          b) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_match_generic_rule(K, L, dtype):
    """NaN into ReLU's backward (the gradient passes), infinite logits into the sigmoid
    cross-entropy (its limit, not inf - inf) and gradients whose square overflows into Adam
    (the step stays lr): the kernels give the generic rule's numbers (tests/
    test_edge_numerics_torch.py checks those against PyTorch)."""
    inf = np.inf
    x = np.array([np.nan, -1.0, 0.0, 2.0, inf, -inf, 3.0], dtype)
    _, dx, _ = fused(K["relu"], (x,), {}, np.full_like(x, 3.0))
    np.testing.assert_array_equal(dx, generic("relu", (x,), {}, np.full_like(x, 3.0))[1])
    logits = np.array([inf, inf, inf, -inf, -inf, -inf, 1.0, np.nan], dtype)
    t = np.array([0.0, 1.0, 0.5, 0.0, 1.0, 0.5, 0.5, 0.5], dtype)
    for reduction in ("none", "sum"):
        out, g, _ = fused(K["sigmoid_cross_entropy_with_logits"], (logits, t),
                          {"reduction": reduction})
        with np.errstate(invalid="ignore"):
            ref_out, ref_g = generic("sigmoid_cross_entropy_with_logits", (logits, t),
                                     {"reduction": reduction})
        # (assert_close scales its absolute tolerance by the largest value: inf here)
        np.testing.assert_allclose(out, ref_out, rtol=1e-5, err_msg=f"loss {reduction}")
        np.testing.assert_allclose(g, ref_g, rtol=1e-5, err_msg=f"gradient {reduction}")
        assert np.isinf(out).any() if reduction == "none" else np.isnan(out)
    big = 1e20 if dtype == np.float32 else 1e155
    grads = np.array([big, -big, 1.0, np.nan], dtype)
    adam = dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False)
    runs = []
    for be in (GenericBackend(), emulated_backend(L)):
        p, states = np.zeros(4, dtype), [np.zeros(4, dtype), np.zeros(4, dtype)]
        with np.errstate(over="ignore"):
            optim_call(be, "adam_update", adam, 2, p, grads.copy(), states, 1)
        runs.append(p)
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-6)
    np.testing.assert_allclose(runs[0][:3], [-0.1, 0.1, -0.1], rtol=1e-6)


# -- optimizer updates --------------------------------------------------------------------------
@pytest.mark.parametrize("rule,method,kwargs,n_states", OPTIM_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(OPTIM_CASES)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_update_matches_generic(L, rng, rule, method, kwargs, n_states, dtype):
    fused_be = emulated_backend(L)
    n = 1003
    p0 = rng.normal(size=n).astype(dtype)
    states0 = optim_states(rng, method, n_states, n, dtype)
    runs = {}
    for label, be, prep in (("generic", GenericBackend(), np.array),
                            ("fused", fused_be, np.array), ("misaligned", fused_be, _misaligned)):
        p = prep(p0)
        states = [prep(s) for s in states0]
        before = len(L.launches)
        for step in range(1, 4):
            grad = prep(np.random.default_rng(step).normal(size=n).astype(dtype))
            optim_call(be, method, kwargs, n_states, p, grad, states, step)
        if label != "generic":
            assert len(L.launches) == before + 3, "the fused update did not run"
        runs[label] = [p] + states
    for label in ("fused", "misaligned"):
        for a, b in zip(runs[label], runs["generic"]):
            assert_close(a, b, dtype, f"{rule} {label}")


def test_optimizer_update_falls_back_for_strided_params(L, rng):
    be = emulated_backend(L)
    p = rng.normal(size=20).astype(np.float32)
    expect = p.copy()
    sgd = dict(lr=0.5, momentum=0.0, nesterov=False, weight_decay=0.0)
    optim_call(GenericBackend(), "sgd_update", sgd, 0, expect[::2], np.ones(10, np.float32), [], 1)
    before = len(L.launches)
    optim_call(be, "sgd_update", sgd, 0, p[::2], np.ones(10, np.float32), [], 1)
    assert len(L.launches) == before
    np.testing.assert_array_equal(p, expect)
    assert not optim.update(L, "sgd", p, p, None, None, (np.ones(1), 0.0, 0.0), 0)


# -- end to end ---------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer,options", [
    ("sgd", {}), ("adam", {}), ("rmsprop", {}), ("adam", {"amsgrad": True}),
    ("rmsprop", {"centered": True, "momentum": 0.5}), ("adamax", {"weight_decay": 0.01}),
    ("nadam", {"decoupled_weight_decay": True, "weight_decay": 0.01}),
    ("radam", {"beta_2": 0.9}), ("lion", {"weight_decay": 0.1})])  # radam: rectified at 6
def test_mlp_training_on_emulated_kernels_matches_numpy(L, clean_backends, optimizer, options):
    xg.register_backend("cuda_emulated", lambda: emulated_backend(L))
    before = len(L.launches)
    got, got_w = mlp_run("cuda_emulated", optimizer, steps=6, options=options)
    want, want_w = mlp_run("numpy", optimizer, steps=6, options=options)
    used = {name.split("<")[0] for name, *_ in L.launches[before:]}
    # the MLP's hidden layer with its ReLU: one bias_activation_fwd launch (linear_relu)
    assert {"softmax_ce_labels", "bias_activation_fwd", "activation_bwd", "optim_update"} <= used
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got[-1] < got[0]
    for a, b in zip(got_w, want_w):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
