"""The cupy backend. CPU part: it reports itself unavailable with the right reason. GPU part
(marked ``gpu``; skipped with the reason where no CUDA device answers): every kernel equals the
generic rule -- what the numpy backend computes -- on the same inputs, to float32 rounding; the
optimizer updates equal the generic ones; training on cupy matches numpy; 1,000 training steps
do not grow device memory."""
import sys
import types

import numpy as np
import pytest

import xpgrad as xg
from cuda_emu.reference import (OPTIM_CASES, GenericBackend, activation_inputs, assert_close,
                                ce_inputs, fused, generic, mlp_run, optim_call, optim_states,
                                pointwise_inputs)
from gpu_marks import CUPY as BE, on_gpu


# -- CPU: unavailable, and why ----------------------------------------------------------------
def _fresh_cupy_backend(clean_backends):
    clean_backends._instances.pop("cupy", None)
    clean_backends._failures.pop("cupy", None)
    with pytest.raises(xg.BackendUnavailableError) as e:
        xg.get_backend("cupy")
    return str(e.value)


def test_unavailable_without_cupy_names_the_pip_command(clean_backends, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)       # import cupy -> ImportError
    msg = _fresh_cupy_backend(clean_backends)
    assert 'pip install -e ".[cuda]"' in msg and "not installed" in msg
    assert "cupy" in xg.available_backends() and not xg.available_backends()["cupy"]["available"]


def test_unavailable_without_a_device_says_so_with_cupys_error(clean_backends, monkeypatch):
    class NoDriver(RuntimeError):
        pass

    def count():
        raise NoDriver("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.__version__ = "99.0"
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=count))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    msg = _fresh_cupy_backend(clean_backends)
    assert "no CUDA device" in msg and "cudaErrorNoDevice" in msg and "CuPy 99.0" in msg


def test_zero_devices_is_unavailable(clean_backends, monkeypatch):
    fake = types.ModuleType("cupy")
    fake.__version__ = "99.0"
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 0))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert "0 devices" in _fresh_cupy_backend(clean_backends)


def test_the_cupy_api_the_backend_uses_exists():
    """Names checked without a device: CuPy objects the launcher and backend touch."""
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
    import cupyx

    for attr in ("max_dynamic_shared_size_bytes", "shared_size_bytes", "num_regs"):
        assert hasattr(cupy.RawKernel, attr), attr
    assert hasattr(cupy.RawModule, "get_function")
    assert "name_expressions" in cupy.RawModule.__doc__ and "options" in cupy.RawModule.__doc__
    rt = cupy.cuda.runtime
    for name in ("cudaDevAttrMultiProcessorCount", "cudaDevAttrMaxSharedMemoryPerBlockOptin",
                 "cudaDevAttrMaxSharedMemoryPerMultiprocessor",
                 "cudaDevAttrReservedSharedMemoryPerBlock",
                 "cudaDevAttrMaxRegistersPerMultiprocessor", "deviceGetAttribute", "getDevice",
                 "getDeviceProperties", "getDeviceCount"):
        assert hasattr(rt, name), name
    assert hasattr(cupy.cuda.Device, "synchronize") and hasattr(cupy.cuda.Device, "mem_info")
    assert callable(cupyx.scatter_add) and callable(cupy.asnumpy)


def test_scan_kernels_call_only_functions_cupy_has():
    """The recurrent scans run NumPy-API code on CuPy arrays: every ``np.<name>`` it calls
    exists in CuPy (checked without a device)."""
    import inspect
    import re

    cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
    from xpgrad.backends.numpy import lstm_scans, lstm_step, scan_products, scan_rings, scans

    source = "".join(inspect.getsource(module)
                     for module in (scans, lstm_scans, lstm_step, scan_products, scan_rings))
    names = set(re.findall(r"\bnp\.(\w+)", source))
    assert {"matmul", "tanh", "multiply"} <= names
    assert [n for n in sorted(names) if not hasattr(cupy, n)] == []


def test_cuda_launcher_against_a_fake_cupy():
    """CudaLauncher's bookkeeping: one module compile, the dynamic shared-memory attribute set
    for the CE kernels only and on each device's own copy, limits read per device, CuPy's launch
    convention, cached static sizes and register counts."""
    from xpgrad.backends.cupy import _sources as S
    from xpgrad.backends.cupy._launch import CudaLauncher

    calls = []
    current = [0]          # the fake's current device

    class Kernel:
        shared_size_bytes = 528
        num_regs = 62

        def __init__(self):
            self.attr = {}     # device -> max dynamic shared memory (CUDA sets it per device)

        @property
        def max_dynamic_shared_size_bytes(self):
            return self.attr.get(current[0], 48 * 1024)

        @max_dynamic_shared_size_bytes.setter
        def max_dynamic_shared_size_bytes(self, value):
            self.attr[current[0]] = value

        def __call__(self, grid, block, args, shared_mem=0):
            calls.append((current[0], grid, block, args, shared_mem))

    class RawModule:
        built = []

        def __init__(self, code, options, name_expressions):
            assert "XPGRAD_COMMON_CUH" in code and options == S.OPTIONS
            self.names = name_expressions
            RawModule.built.append(self)

        def get_function(self, name):
            assert name in self.names
            return Kernel()

    attrs = {0: {1: 132, 2: 227 * 1024, 3: 228 * 1024, 4: 1024, 5: 65536},   # an H100
             1: {1: 80, 2: 99 * 1024, 3: 100 * 1024, 4: 1024, 5: 65536}}     # an RTX 40xx
    runtime = types.SimpleNamespace(
        cudaDevAttrMultiProcessorCount=1, cudaDevAttrMaxSharedMemoryPerBlockOptin=2,
        cudaDevAttrMaxSharedMemoryPerMultiprocessor=3, cudaDevAttrReservedSharedMemoryPerBlock=4,
        cudaDevAttrMaxRegistersPerMultiprocessor=5, getDevice=lambda: current[0],
        deviceGetAttribute=lambda attr, dev: attrs[dev][attr])
    fake = types.SimpleNamespace(RawModule=RawModule, cuda=types.SimpleNamespace(runtime=runtime))
    L = CudaLauncher(fake)
    ce = S.MODULES["softmax_ce"][0]
    assert L.sm_count == 132 and L.smem_budget("softmax_ce", ce, 2) == 115184
    assert L.blocks_per_sm("softmax_ce", ce, 1024, 2) == 1      # 62 registers x 1024 threads
    assert L.blocks_per_sm("softmax_ce", ce, 512, 2) == 2
    L.kernel("softmax_ce", ce)(8192, 1024, ("args",), 115184)
    assert L._raw("softmax_ce", ce).max_dynamic_shared_size_bytes == 227 * 1024 - 528
    L.kernel("optim", S.MODULES["optim"][0])(3, 256, ("a",))
    assert L._raw("optim", S.MODULES["optim"][0]).max_dynamic_shared_size_bytes == 48 * 1024

    current[0] = 1                               # with cupy.cuda.Device(1): ...
    assert L.sm_count == 80 and L.smem_optin == 99 * 1024
    assert L._raw("softmax_ce", ce).max_dynamic_shared_size_bytes == 48 * 1024   # not set yet
    L.kernel("softmax_ce", ce)(16, 1024, ("args",), 50000)
    assert L._raw("softmax_ce", ce).max_dynamic_shared_size_bytes == 99 * 1024 - 528
    current[0] = 0
    assert L._raw("softmax_ce", ce).max_dynamic_shared_size_bytes == 227 * 1024 - 528

    assert calls == [(0, (8192,), (1024,), ("args",), 115184), (0, (3,), (256,), ("a",), 0),
                     (1, (16,), (1024,), ("args",), 50000)]
    L.kernel("softmax_ce", S.MODULES["softmax_ce"][1])
    assert len(RawModule.built) == 2             # one compile per module, whatever the device


@pytest.mark.skipif(BE is not None, reason="a CUDA device is available here")
def test_this_machine_reports_why_cupy_is_unavailable():
    report = xg.available_backends()["cupy"]
    assert report["available"] is False
    assert ("no CUDA device" in report["reason"]) or ("not installed" in report["reason"])


# -- GPU: kernels against the generic rule ----------------------------------------------------
def _dev(*arrays):
    import cupy

    return tuple(cupy.asarray(a) for a in arrays)


def _host(a):
    import cupy

    return cupy.asnumpy(a) if isinstance(a, cupy.ndarray) else np.asarray(a)


CE_CASES = [(4, 1, "int64", False), (64, 10, "int64", False), (33, 37, "int32", True),
            (16, 1000, "probs", True), (8, 32000, "int64", False), (8, 32000, "probs", False),
            (3, 100_000, "int64", True), (3, 100_003, "probs", False)]


@on_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,c,labels,big", CE_CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_ce_kernel_matches_numpy(n, c, labels, big, dtype, reduction, rng):
    x, y = ce_inputs(rng, n, c, dtype, labels, big)
    params = {"reduction": reduction}
    out, g, _ = fused(BE.kernels["softmax_cross_entropy"], _dev(x, y), params, to_host=_host)
    ref_out, ref_g = generic("softmax_cross_entropy", (x, y), params)
    assert_close(out, ref_out, dtype, "loss")
    assert_close(g, ref_g, dtype, "gradient")


@on_gpu
@pytest.mark.parametrize("op", ["sigmoid_mse", "sigmoid_cross_entropy_with_logits", "mse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 1_000_003])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_loss_kernel_matches_numpy(op, dtype, n, reduction, rng):
    x, t = pointwise_inputs(rng, n, dtype, op)
    params = {"reduction": reduction}
    out, g, _ = fused(BE.kernels[op], _dev(x, t), params, to_host=_host)
    ref_out, ref_g = generic(op, (x, t), params)
    assert_close(out, ref_out, dtype, "loss")
    assert_close(g, ref_g, dtype, "gradient")


@on_gpu
@pytest.mark.parametrize("prim", ["sigmoid", "tanh", "relu", "leaky_relu", "softplus"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [7, 1_000_003])
def test_activation_kernel_matches_numpy(prim, dtype, n, rng):
    x = activation_inputs(rng, n, dtype)
    g = rng.normal(size=n).astype(dtype)
    params = {"negative_slope": 0.2} if prim == "leaky_relu" else {}
    y, dx, _ = fused(BE.kernels[prim], _dev(x), params, _dev(g)[0], to_host=_host)
    ref_y, ref_dx = generic(prim, (x,), params, g)
    assert_close(y, ref_y, dtype, "forward")
    assert_close(dx, ref_dx, dtype, "backward")


@on_gpu
@pytest.mark.parametrize("rule,method,kwargs,n_states", OPTIM_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(OPTIM_CASES)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_update_matches_generic(rule, method, kwargs, n_states, dtype, rng):
    n = 100_003
    p0 = rng.normal(size=n).astype(dtype)
    s0 = optim_states(rng, method, n_states, n, dtype)
    p, states = p0.copy(), [s.copy() for s in s0]
    dp, *dstates = _dev(p0, *s0)
    for step in range(1, 6):
        grad = np.random.default_rng(step).normal(size=n).astype(dtype)
        optim_call(GenericBackend(), method, kwargs, n_states, p, grad, states, step)
        optim_call(BE, method, kwargs, n_states, dp, _dev(grad)[0], dstates, step)
    for a, b in zip([dp] + dstates, [p] + states):
        assert_close(_host(a), b, dtype, rule)


# -- GPU: through the public API --------------------------------------------------------------
@on_gpu
def test_public_losses_and_gradients_match_numpy_incl_strided_logits(rng):
    x, y = ce_inputs(rng, 32, 20, np.float32)
    for strided in (False, True):
        res = {}
        for be in ("numpy", "cupy"):
            xl = xg.asarray(x, backend=be)
            if strided:
                xl = xl[:, ::2]     # a strided view: the kernels fall back to the generic rules
            labels = xg.asarray(y % xl.shape[1], backend=be)
            with xg.GradientTape() as tape:
                tape.watch(xl)
                h = xg.nn.sigmoid(xl) * xg.nn.relu(xl) + xg.tanh(xl)
                loss = xg.losses.softmax_cross_entropy(h, labels)
            res[be] = (loss.item(), tape.gradient(loss, xl).numpy())
        assert_close(res["cupy"][0], res["numpy"][0], np.float32)
        assert_close(res["cupy"][1], res["numpy"][1], np.float32)


@on_gpu
def test_transfers_mixing_rng_sync_and_describe():
    a = xg.asarray([[1.0, 2.0], [3.0, 4.0]], backend="cupy")
    assert a.backend.name == "cupy" and a.to("numpy").tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert a.to("numpy").to("cupy").numpy().tolist() == a.numpy().tolist()
    with pytest.raises(xg.MixedBackendError, match=r"\.to\("):
        a + xg.asarray([1.0, 1.0], backend="numpy")
    r_cupy = xg.random.default_rng(3, backend="cupy").normal(size=(4, 5)).numpy()
    r_numpy = xg.random.default_rng(3, backend="numpy").normal(size=(4, 5)).numpy()
    np.testing.assert_array_equal(r_cupy, r_numpy)
    BE.synchronize()
    info = BE.describe()
    assert info["device"] and info["compute_capability"] and info["memory_total_gib"] > 0


@on_gpu
def test_random_seed_gives_cupy_the_numpy_backends_draws():
    """``xg.random.seed``: unseeded layer inits, dropout and ``default_rng()`` on cupy draw
    what the numpy backend draws after the same seed (one host generator, copied over)."""
    draws = {}
    for be in ("numpy", "cupy"):
        xg.random.seed(11)
        try:
            x = xg.ones((4, 5), backend=be)
            draws[be] = [xg.nn.Linear(3, 2, backend=be).w, xg.nn.dropout(x, 0.5),
                         xg.nn.Dropout(0.3)(x), xg.random.default_rng(backend=be).normal(size=6)]
        finally:
            xg.random.seed(None)
        assert {d.backend.name for d in draws[be]} == {be}
    for a, b in zip(draws["numpy"], draws["cupy"], strict=True):
        np.testing.assert_array_equal(b.numpy(), a.numpy())


@on_gpu
def test_index_add_accumulates_repeated_indices():
    x = xg.asarray(np.arange(5.0, dtype=np.float32), backend="cupy")
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(x[xg.asarray([0, 0, 3], backend="cupy")])
    assert tape.gradient(y, x).tolist() == [2.0, 0.0, 0.0, 1.0, 0.0]


@on_gpu
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta"])
def test_mlp_training_on_cupy_matches_numpy(optimizer):
    got, got_w = mlp_run("cupy", optimizer, steps=20)
    want, want_w = mlp_run("numpy", optimizer, steps=20)
    np.testing.assert_allclose(got, want, rtol=1e-4)
    for a, b in zip(got_w, want_w):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@on_gpu
@pytest.mark.parametrize("layer", ["LSTM", "RNN", "GRU"])
def test_recurrent_layers_on_cupy_match_numpy(layer, rng):
    """The fused scan kernels (xpgrad.backends.numpy.scans on CuPy arrays): outputs and every
    gradient equal the numpy backend's on the same weights."""
    assert {"lstm_scan", "rnn_scan", "gru_scan"} <= set(BE.kernels)
    x0 = rng.normal(size=(4, 7, 3))
    results = []
    for be in ("numpy", "cupy"):
        net = getattr(xg.nn, layer)(3, 5, num_layers=2, dtype="float64",
                                    rng=xg.random.default_rng(0, backend=be), backend=be)
        x = xg.asarray(x0, backend=be)
        with xg.GradientTape() as tape:
            tape.watch(x)
            out, _ = net(x)
            loss = xg.sum(out * out)
        grads = tape.gradient(loss, [x, *net.trainable_variables])
        results.append([out.numpy()] + [g.numpy() for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@on_gpu
def test_embedding_and_layer_norm_on_cupy_match_numpy(rng):
    """Embedding's scatter-add gradient (cupyx.scatter_add, repeated ids) and LayerNorm's
    generic rule on CuPy arrays: the numpy backend's numbers."""
    ids0 = rng.integers(0, 9, size=(6, 5))
    results = []
    for be in ("numpy", "cupy"):
        emb = xg.nn.Embedding(9, 4, padding_idx=2, dtype="float64",
                              rng=xg.random.default_rng(0, backend=be), backend=be)
        norm = xg.nn.LayerNorm(4, dtype="float64", backend=be)
        with xg.GradientTape() as tape:
            out = norm(emb(xg.asarray(ids0, backend=be)))
            loss = xg.sum(out * out * out)
        grads = tape.gradient(loss, emb.trainable_variables + norm.trainable_variables)
        results.append([out.numpy()] + [g.numpy() for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@on_gpu
def test_no_device_memory_growth_over_1000_training_steps():
    import cupy

    pool = cupy.get_default_memory_pool()
    rng = np.random.default_rng(0)
    x = xg.asarray(rng.normal(size=(256, 64)).astype(np.float32), backend="cupy")
    y = xg.asarray(rng.integers(0, 10, 256), backend="cupy")
    model = xg.nn.MLP([64, 128, 10], rng=xg.random.default_rng(0, backend="cupy"))
    opt = xg.optim.Adam(learning_rate=1e-3)
    used, held = [], []
    for _ in range(1000):
        opt.minimize(lambda: xg.losses.softmax_cross_entropy(model(x), y), model)
        BE.synchronize()
        used.append(pool.used_bytes())      # live arrays: a leak shows here
        held.append(pool.total_bytes())     # what the pool holds from the device: its growth
    assert max(used[500:]) <= max(used[20:120]), (used[20], used[120], used[-1])
    assert max(held[500:]) <= max(held[20:120]), (held[20], held[120], held[-1])
