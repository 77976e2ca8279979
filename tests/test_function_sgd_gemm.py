"""xg.function folds a plain SGD update into the weight gradient's matrix product (one BLAS
gemm, W <- W - lr * a @ b): the fused step equals the eager one, learning-rate schedules and
``iterations`` advance, and whatever the gemm cannot take falls back to the ordinary update."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import sgd_gemm
from xpgrad.jit.sgd_gemm import gemm_update

pytest.importorskip("scipy.linalg.blas")

BACKENDS = ["numpy", "numba"]


@pytest.fixture(autouse=True)
def gemm_for_every_size(monkeypatch):
    """The small products of these tests through the gemm too (a product under
    ``blas.MIN_WORK`` multiply-adds otherwise takes NumPy's product and the ordinary update,
    as ``test_a_small_product_takes_the_ordinary_update`` checks)."""
    from xpgrad.backends import blas

    monkeypatch.setattr(blas, "MIN_WORK", 0)


def test_a_small_product_takes_the_ordinary_update(monkeypatch):
    """A 256x32 by 32x10 update took 12 us by MKL's gemm, 7 us by SciPy's, 4 us by NumPy's
    product and an update: under ``MIN_WORK`` the gemm declines, and the compiled step still
    equals the eager one."""
    from xpgrad.backends import blas

    monkeypatch.setattr(blas, "MIN_WORK", 1 << 21)
    rng = np.random.default_rng(3)
    c = rng.normal(size=(256, 10)).astype(np.float32)
    a = rng.normal(size=(256, 32)).astype(np.float32)
    b = rng.normal(size=(32, 10)).astype(np.float32)
    before = c.copy()
    assert not gemm_update(c, a, b, -1.0)
    np.testing.assert_array_equal(c, before)
    assert not blas.gemm_update(c, a, b, -1.0)
    np.testing.assert_array_equal(c, before)
    big_a, big_b = np.ones((256, 128), np.float32), np.ones((128, 128), np.float32)
    big_c = np.zeros((256, 128), np.float32)
    assert gemm_update(big_c, big_a, big_b, -1.0)       # over MIN_WORK: one gemm
    np.testing.assert_array_equal(big_c, -128.0)


def _layout(a, order):
    return np.asfortranarray(a) if order == "F" else np.ascontiguousarray(a)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("order_a", "CF")
@pytest.mark.parametrize("order_b", "CF")
def test_gemm_update_equals_the_product_in_float64(dtype, order_a, order_b):
    rng = np.random.default_rng(0)
    c = rng.normal(size=(5, 3)).astype(dtype)
    a = _layout(rng.normal(size=(5, 4)).astype(dtype), order_a)
    b = _layout(rng.normal(size=(4, 3)).astype(dtype), order_b)
    expected = c.astype(np.float64) - 0.25 * (a.astype(np.float64) @ b.astype(np.float64))
    memory = c.ctypes.data
    assert gemm_update(c, a, b, -0.25)
    assert c.ctypes.data == memory                       # written in place
    rtol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(c, expected, rtol=rtol, atol=rtol)


def test_scipys_gemm_steps_aside_while_numpys_blas_runs_several_threads():
    """SciPy's OpenBLAS is a second thread pool beside NumPy's: with two threads each, their
    spinning threads took turns at the cores, and a compiled B=128 MLP step at --threads 2
    took 10 ms instead of 0.7. The fold then leaves the product to NumPy's pool."""
    from threadpoolctl import ThreadpoolController

    from xpgrad.backends import blas
    from xpgrad.threads import _shipped_by

    sgd_gemm._gemms()                                  # SciPy's BLAS loaded
    controller = ThreadpoolController()
    numpys = _shipped_by("numpy", controller.select(user_api="blas").lib_controllers)
    if not numpys:
        pytest.skip("threadpoolctl does not see NumPy's BLAS")
    rng = np.random.default_rng(2)
    c = rng.normal(size=(4, 4)).astype(np.float32)
    a, b = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    previous = blas.use("numpy")
    try:
        with controller.select(user_api="blas").limit(limits=2):
            if numpys[0].num_threads < 2:
                pytest.skip("NumPy's BLAS runs one thread at most here")
            assert not gemm_update(c.copy(), a, b, -1.0)
        with controller.select(user_api="blas").limit(limits=1):
            assert gemm_update(c.copy(), a, b, -1.0)
    finally:
        blas.restore(previous)


def test_gemm_update_declines_what_blas_cannot_take_in_place():
    rng = np.random.default_rng(1)
    c = rng.normal(size=(4, 4)).astype(np.float32)
    a, b = np.ones((4, 2), np.float32), np.ones((2, 4), np.float32)
    cases = [(np.asfortranarray(c), a, b),                # c not C-ordered
             (c.astype(np.int64), a.astype(np.int64), b.astype(np.int64)),
             (c, a.astype(np.float64), b),               # mixed dtypes
             (c, np.ones((4, 4), np.float32)[:, ::2], b),   # a neither C- nor F-ordered
             (c, c[:, :2], b)]                           # a is part of c
    for args in cases:
        before = args[0].copy()
        assert not gemm_update(*args, -1.0)
        np.testing.assert_array_equal(args[0], before)


def _mlp(backend, optimizer, seed=0, sizes=(7, 9, 4)):
    rng = np.random.default_rng(seed)
    ws = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        ws.append(xg.Variable((rng.normal(size=(a, b)) * 0.5).astype(np.float32), name=f"w{i}",
                              backend=backend))
        ws.append(xg.Variable(rng.normal(size=b).astype(np.float32), name=f"b{i}",
                              backend=backend))
    opt = optimizer()

    def step(x, y):
        with xg.GradientTape() as tape:
            h = xg.nn.relu(x @ ws[0] + ws[1])
            loss = xg.losses.softmax_cross_entropy(h @ ws[2] + ws[3], y)
        opt.apply_gradients(zip(tape.gradient(loss, ws), ws))
        return loss

    return step, ws, opt


def _batches(backend, n=6, batch=5, features=7, classes=4):
    rng = np.random.default_rng(3)
    return [(xg.asarray(rng.normal(size=(batch, features)).astype(np.float32), backend=backend),
             xg.asarray(rng.integers(0, classes, size=batch), backend=backend))
            for _ in range(n)]


def _train_both(backend, optimizer, after_trace=None, batch=5):
    eager, eager_ws, eager_opt = _mlp(backend, optimizer)
    step, ws, opt = _mlp(backend, optimizer)
    compiled = xg.function(step)
    for k, (x, y) in enumerate(_batches(backend, batch=batch)):
        if k == 2 and after_trace is not None:
            after_trace(ws, eager_ws)
        np.testing.assert_allclose(compiled(x, y).numpy(), eager(x, y).numpy(), rtol=1e-6,
                                   atol=1e-7)
    for a, b in zip(ws, eager_ws):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    assert opt.iterations == eager_opt.iterations == 6
    return compiled.programs()[0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("learning_rate", [0.1, lambda step: 0.2 / (1 + step)],
                         ids=["constant", "schedule"])
def test_fused_sgd_step_equals_eager(backend, learning_rate):
    program = _train_both(backend, lambda: xg.optim.SGD(learning_rate))
    assert program.sgd_gemms == 2                        # both weight matrices


def test_a_large_batch_keeps_the_gradient(monkeypatch):
    """Folded, ``x.T`` and ``g`` stay alive until the update instead of the gradient: where
    they outweigh it by more than the slack (a large batch), the step's peak memory would grow
    with every layer, so the product is not folded. With no slack, 5 rows are enough: 7x5 +
    5x9 numbers against the 7x9 gradient, 9x5 + 5x4 against 9x4."""
    monkeypatch.setattr(sgd_gemm, "FOLD_MEMORY_SLACK", 0)
    assert _train_both("numpy", lambda: xg.optim.SGD(0.1)).sgd_gemms == 0
    assert _train_both("numpy", lambda: xg.optim.SGD(0.1), batch=2).sgd_gemms == 2


@pytest.mark.parametrize("optimizer", [lambda: xg.optim.SGD(0.1, momentum=0.9),
                                       lambda: xg.optim.SGD(0.1, weight_decay=0.01),
                                       lambda: xg.optim.SGD(0.1, global_clipnorm=1.0),
                                       lambda: xg.optim.SGD(0.1, maximize=True),
                                       lambda: xg.optim.Adam(0.01)],
                         ids=["momentum", "weight_decay", "clipnorm", "maximize", "adam"])
def test_other_updates_are_not_folded(optimizer):
    program = _train_both("numpy", optimizer)
    assert program.sgd_gemms == 0


def _without_scipy(monkeypatch):
    monkeypatch.setattr(sgd_gemm, "_gemms", lambda: None)
    monkeypatch.setattr(sgd_gemm, "_scipy_installed", lambda: False)


def test_without_scipy_or_a_direct_gemm_the_step_is_the_ordinary_one(monkeypatch):
    from xpgrad.backends import blas

    _without_scipy(monkeypatch)
    previous = blas.use("numpy")
    try:
        assert _train_both("numpy", lambda: xg.optim.SGD(0.1)).sgd_gemms == 0
    finally:
        blas.restore(previous)


def test_without_scipy_the_direct_gemm_runs_the_folded_update(monkeypatch):
    from xpgrad.backends import blas

    if blas._library() is None:
        pytest.skip("no direct gemm (XPGRAD_BLAS=numpy)")
    _without_scipy(monkeypatch)
    assert _train_both("numpy", lambda: xg.optim.SGD(0.1)).sgd_gemms == 2


_FIRST_TRACE = """
import sys
import numpy as np
import xpgrad as xg
from xpgrad.backends import blas

rng = np.random.default_rng(0)
ws = [xg.Variable(rng.normal(size=s).astype(np.float32)) for s in ((64, 128), (128,), (128, 10))]
opt = xg.optim.SGD(0.1)

@xg.function
def step(x, y):
    with xg.GradientTape() as tape:
        loss = xg.losses.softmax_cross_entropy(xg.nn.relu(x @ ws[0] + ws[1]) @ ws[2], y)
    opt.apply_gradients(zip(tape.gradient(loss, ws), ws))
    return loss

x, y = xg.asarray(rng.normal(size=(32, 64)).astype(np.float32)), xg.asarray(rng.integers(0, 10, 32))
for _ in range(3):
    step(x, y)
print(blas._library() is not None, step.programs()[0].sgd_gemms, "scipy.linalg" in sys.modules)
"""


def test_the_first_trace_of_a_plain_sgd_step_leaves_scipy_linalg_unimported():
    """Where the host products' direct gemm runs the folded updates, neither the trace nor
    the replays import ``scipy.linalg`` (0.27 s of a first call): a fresh process."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, XPGRAD_BACKEND="numpy")   # Numba itself imports scipy.linalg
    out = subprocess.run([sys.executable, "-c", _FIRST_TRACE], capture_output=True, text=True,
                         check=True, env=env).stdout.split()
    if out[0] != "True":
        pytest.skip("no direct gemm (XPGRAD_BLAS=numpy): SciPy's runs the folded update")
    assert out[1:] == ["2", "False"]            # both weight matrices folded, no scipy.linalg


def test_a_weight_replaced_by_a_fortran_array_falls_back_to_the_product():
    def to_fortran(ws, eager_ws):
        for v in (ws[0], eager_ws[0]):
            v._data = np.asfortranarray(v._data)
    _train_both("numpy", lambda: xg.optim.SGD(0.1), after_trace=to_fortran)


def test_a_gradient_used_elsewhere_is_not_folded():
    w = xg.Variable(np.full((3, 2), 0.5, np.float32), name="w")
    opt = xg.optim.SGD(0.1)

    @xg.function
    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum((x @ w) ** 2)
        (g,) = tape.gradient(loss, [w])
        opt.apply_gradients([(g, w)])
        return g                                         # the gradient leaves the function

    x = xg.asarray(np.ones((4, 3), np.float32))
    for _ in range(3):
        step(x)
    assert step.programs()[0].sgd_gemms == 0


def test_a_gradient_given_as_a_constant_keeps_the_generic_step():
    def make():
        w = xg.Variable(np.full((3, 2), 0.5, np.float32), name="w")
        b = xg.Variable(np.float32(0.0), name="b")
        opt = xg.optim.SGD(0.1)

        def step(x):
            with xg.GradientTape() as tape:
                loss = xg.sum((x @ w) ** 2)
            (g,) = tape.gradient(loss, [w])
            opt.apply_gradients([(g, w), (0.5, b)])      # b's gradient: a Python number
            return loss
        return step, w, b

    x = xg.asarray(np.ones((4, 3), np.float32))
    (eager, *expected), (step, *got) = make(), make()
    compiled = xg.function(step)
    for _ in range(4):
        eager(x)
        compiled(x)
    assert compiled.programs()[0].sgd_gemms == 0
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-6)


_THREADS_RUN = """
import json
from threadpoolctl import threadpool_info
from xpgrad import threads
from xpgrad.jit import sgd_gemm

before = [lib["filepath"] for lib in threadpool_info() if lib["user_api"] == "blas"]
threads.limit(1)
from scipy.linalg import blas   # loaded after the limit, as Numba's first compile loads it
assert sgd_gemm._gemms() is not None
print(json.dumps({"before": before, "blas": [[lib["filepath"], lib["num_threads"]]
                  for lib in threadpool_info() if lib["user_api"] == "blas"]}))
"""


def test_scipys_blas_loaded_for_the_gemm_keeps_the_thread_limit():
    """SciPy's gemm runs on SciPy's own OpenBLAS, loaded (by Numba's first compile, or the
    first fused step) after ``xpgrad train --threads 1`` / ``xpgrad bench`` limited NumPy's: it
    gets the same one thread, not a pool of every CPU spinning against the interpreter (a B=32
    MLP step took 3-20x as long with it)."""
    import json
    import os
    import subprocess
    import sys

    from xpgrad.threads import available_cpus

    if available_cpus() < 2:
        pytest.skip("one CPU: every BLAS runs one thread by default")
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", _THREADS_RUN], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.splitlines()[-1])
    loaded_late = [row for row in report["blas"] if row[0] not in report["before"]]
    if not loaded_late:
        pytest.skip("SciPy shares NumPy's BLAS here: nothing is loaded late")
    assert all(n == 1 for _, n in report["blas"]), report


@pytest.mark.parametrize("setting", [("weight_decay", 0.05), ("global_clipnorm", 0.1),
                                     ("maximize", True)])
def test_a_setting_changed_after_the_trace_is_applied_as_in_eager(setting):
    """Weight decay, clipping or ``maximize`` set on the optimizer after the trace folded its
    plain update: the replay applies them (``plain_settings`` read at each replay), as the
    eager step does (it was silently plain SGD). (Momentum set later is ignored by both, as in
    Keras: its velocity slots are made on the first step.)"""
    name, value = setting
    eager, eager_ws, eager_opt = _mlp("numpy", lambda: xg.optim.SGD(0.1))
    step, ws, opt = _mlp("numpy", lambda: xg.optim.SGD(0.1))
    compiled = xg.function(step)
    for k, (x, y) in enumerate(_batches("numpy")):
        if k == 3:
            assert compiled.programs()[0].sgd_gemms == 2
            setattr(opt, name, value)
            setattr(eager_opt, name, value)
        np.testing.assert_allclose(compiled(x, y).numpy(), eager(x, y).numpy(), rtol=1e-6,
                                   atol=1e-7)
    for a, b in zip(ws, eager_ws):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    assert opt.iterations == eager_opt.iterations == 6


def test_gemm_update_writes_back_what_blas_computed_on_a_copy(monkeypatch):
    from xpgrad.jit import sgd_gemm

    real = sgd_gemm._gemms()

    def on_a_copy(alpha, a, b, beta, c, *rest):
        return real[c.dtype](alpha, a, b, beta, c.copy(order="F"), *rest)

    monkeypatch.setattr(sgd_gemm, "_gemms", lambda: {np.dtype("float64"): on_a_copy})
    rng = np.random.default_rng(2)
    c, a, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    expected = c - 0.5 * (a @ b)
    assert gemm_update(c, a, b, -0.5)
    np.testing.assert_allclose(c, expected, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel_declines", [False, True])
def test_the_unfolded_updates_run_the_backends_sgd_kernel_as_eager_does(backend, monkeypatch,
                                                                        kernel_declines):
    """The fused step updates the variables it does not fold (the biases) through the
    backend's ``sgd_update`` kernel directly, or ``SGD._update`` where there is none or it
    declines: float64 weights and biases equal the eager step's to 1e-12 over six steps."""
    be = xg.get_backend(backend)
    kernel = be.kernels.get("sgd_update") if be.kernels else None
    calls = []
    if kernel is not None:
        from xpgrad.backend import Kernel

        def counted(*args, **params):
            calls.append(args[0].shape)
            return None if kernel_declines else kernel.forward(*args, **params)
        monkeypatch.setitem(be.kernels, "sgd_update", Kernel(counted, kernel.vjp))

    def make():
        rng = np.random.default_rng(0)
        ws = [xg.Variable(rng.normal(size=s), backend=backend) for s in ((7, 9), (9,),
                                                                          (9, 4), (4,))]
        opt = xg.optim.SGD(0.1)

        def step(x, y):
            with xg.GradientTape() as tape:
                h = xg.nn.relu(xg.nn.linear(x, ws[0], ws[1]))
                loss = xg.losses.softmax_cross_entropy(xg.nn.linear(h, ws[2], ws[3]), y)
            opt.apply_gradients(zip(tape.gradient(loss, ws), ws))
            return loss
        return step, ws

    eager, eager_ws = make()
    step, ws = make()
    compiled = xg.function(step)
    rng = np.random.default_rng(1)
    for _ in range(6):
        x = xg.asarray(rng.normal(size=(5, 7)), backend=backend)
        y = xg.asarray(rng.integers(0, 4, 5), backend=backend)
        np.testing.assert_allclose(compiled(x, y).numpy(), eager(x, y).numpy(), rtol=1e-12)
    for a, b in zip(ws, eager_ws):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)
    assert compiled.programs()[0].sgd_gemms == 2
    if kernel is not None:      # eager and compiled both asked the kernel for every update
        assert (9,) in calls and (4,) in calls


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_factor_viewing_an_updated_variable_is_not_folded(backend):
    """w2's gradient of sum(w1 @ w2) is w1.T @ g: folded, its gemm would read w1 after w1's
    own update (the eager step takes every gradient before any update)."""
    def make():
        rng = np.random.default_rng(0)
        ws = [xg.Variable(rng.normal(size=(6, 6)), backend=backend) for _ in range(2)]
        opt = xg.optim.SGD(0.1)

        def step():
            with xg.GradientTape() as tape:
                loss = xg.sum(ws[0] @ ws[1])
            opt.apply_gradients(zip(tape.gradient(loss, ws), ws))
            return loss
        return step, ws

    (eager, eager_ws), (step, ws) = make(), make()
    compiled = xg.function(step)
    for _ in range(4):
        np.testing.assert_allclose(compiled().numpy(), eager().numpy(), rtol=1e-12)
    for a, b in zip(ws, eager_ws):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    assert compiled.programs()[0].sgd_gemms == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_product_small_when_traced_takes_numpys_product_without_trying_the_gemm(
        backend, monkeypatch):
    from xpgrad.backends import blas

    monkeypatch.setattr(blas, "MIN_WORK", 1 << 21)
    tried = []
    real = sgd_gemm.gemm_update
    monkeypatch.setattr(sgd_gemm, "gemm_update", lambda *a: tried.append(a) or real(*a))
    program = _train_both(backend, lambda: xg.optim.SGD(0.1))
    assert program.sgd_gemms == 2
    (step,) = [v for v in program._namespace.values() if type(v) is sgd_gemm.FusedSGDStep]
    assert step.small == (True, False, True, False)
    assert tried == []


@pytest.mark.parametrize("change", ["schedule", "rate"])
def test_the_constant_rate_fast_path_reads_each_change(change):
    """The step reads a constant rate straight from its schedule; a schedule or a new rate
    set later goes as in eager."""
    def make():
        return xg.optim.SGD(0.1)

    eager, eager_ws, eager_opt = _mlp("numpy", make)
    step, ws, opt = _mlp("numpy", make)
    compiled = xg.function(step)
    for k, (x, y) in enumerate(_batches("numpy")):
        if k == 3:
            value = {"schedule": lambda i: 0.05 / (1 + i), "rate": 0.02}[change]
            opt.learning_rate = value
            eager_opt.learning_rate = value
        np.testing.assert_allclose(compiled(x, y).numpy(), eager(x, y).numpy(), rtol=1e-6,
                                   atol=1e-7)
    for a, b in zip(ws, eager_ws):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    assert opt.iterations == eager_opt.iterations == 6
    assert compiled.programs()[0].sgd_gemms == 2


def test_a_rate_over_float32s_largest_is_refused_by_the_fast_step():
    step, ws, opt = _mlp("numpy", lambda: xg.optim.SGD(0.1))
    compiled = xg.function(step)
    batches = _batches("numpy")
    for x, y in batches[:3]:
        compiled(x, y)
    opt.learning_rate = 1e39
    before = [w.numpy().copy() for w in ws]
    with pytest.raises(ValueError, match="larger than float32 can hold"):
        compiled(*batches[3])
    for w, old in zip(ws, before):
        np.testing.assert_array_equal(w.numpy(), old)
    assert opt.iterations == 3


def test_an_optimizer_with_its_own_setattr_is_not_folded():
    class Watched(xg.optim.SGD):
        def __setattr__(self, name, value):
            super().__setattr__(name, value)

    program = _train_both("numpy", lambda: Watched(0.1))
    assert program.sgd_gemms == 0
