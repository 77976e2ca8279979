"""The host backends' products (``xpgrad.backends.blas``): MKL's gemm where the ``mkl`` wheel
is installed, NumPy's matmul otherwise; both give NumPy's products to float rounding, in every
layout, and a training step is the same on either."""
import os
import subprocess
import sys

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backend import Kernel
from xpgrad.backends import blas

HAVE_MKL = blas._find_mkl() is not None
HAVE_OPENBLAS = blas.numpys_openblas() is not None
#: the libraries called directly, each skipped where it is missing
DIRECT = [pytest.param("mkl", marks=pytest.mark.skipif(
              not HAVE_MKL, reason="the mkl wheel is not installed (pip install \"xpgrad[mkl]\")")),
          pytest.param("openblas", marks=pytest.mark.skipif(
              not HAVE_OPENBLAS, reason="NumPy ships no OpenBLAS here"))]
MODES = ["numpy", *DIRECT]


@pytest.fixture(params=MODES)
def mode(request):
    previous = blas.use(request.param)
    yield request.param
    blas.restore(previous)


def _layout(a, how):
    """``a``'s values in another memory layout BLAS reads in place."""
    if how == "C":
        return np.ascontiguousarray(a)
    if how == "F":
        return np.asfortranarray(a)
    padded = np.zeros((a.shape[0], a.shape[1] + 3), a.dtype)   # rows with a gap after them
    padded[:, :a.shape[1]] = a
    return padded[:, :a.shape[1]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("left", ["C", "F", "rows"])
@pytest.mark.parametrize("right", ["C", "F", "rows"])
@pytest.mark.parametrize("shape", [(3, 4, 5), (70, 300, 130)])   # under and over MIN_WORK
def test_matmul_is_numpys_product_in_every_layout(mode, dtype, left, right, shape):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a0, b0 = rng.normal(size=(m, k)).astype(dtype), rng.normal(size=(k, n)).astype(dtype)
    a, b = _layout(a0, left), _layout(b0, right)
    want = a0.astype(np.float64) @ b0.astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    got = blas.matmul(a, b)
    assert got.dtype == dtype and got.shape == (m, n)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    out = np.full((m, n), np.nan, dtype)
    assert blas.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.abs(want).max())
    # a product into its own new array skips the checks of ``out``: the same gemm, bit for bit
    np.testing.assert_array_equal(got, out)


@pytest.mark.parametrize("case", ["int", "complex", "batched", "mixed dtypes", "out overlaps"])
def test_what_blas_cannot_take_is_numpys_matmul(mode, case):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(130, 140)), rng.normal(size=(140, 150))
    if case == "out overlaps":
        big = rng.normal(size=(140, 150))
        a, b = big[:130, :140], big
        want = np.matmul(a, b)
        np.testing.assert_allclose(blas.matmul(a, b, out=big[:130]), want, rtol=1e-12)
        return
    if case == "int":
        a, b = (a * 10).astype(np.int64), (b * 10).astype(np.int64)
    elif case == "complex":
        a, b = a + 1j * a, b - 2j * b
    elif case == "batched":
        a, b = np.stack([a, a]), np.stack([b, b])
    else:
        a = a.astype(np.float32)
    np.testing.assert_allclose(blas.matmul(a, b), np.matmul(a, b), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stack_layout", ["steps first", "steps second"])
@pytest.mark.parametrize("right", ["C", "F", "rows"])
@pytest.mark.parametrize("shape", [(3, 4, 5), (64, 96, 400)])   # under and over MIN_WORK
def test_stepped_matmul_is_each_steps_product(mode, dtype, stack_layout, right, shape):
    """A scan's per-step product, planned once: ``step(t)`` writes ``stack[t] @ b``, for a
    stack whose steps are its first axis in memory (``dz[t]``) or a time-major view of a
    batch-major array (``swapaxes(seq, 0, 1)[t]``)."""
    m, k, n = shape
    rng = np.random.default_rng(2)
    steps = 6
    if stack_layout == "steps first":
        stack = rng.normal(size=(steps, m, k)).astype(dtype)
    else:
        stack = np.swapaxes(rng.normal(size=(m, steps, k)).astype(dtype), 0, 1)
    b0 = rng.normal(size=(k, n)).astype(dtype)
    b = _layout(b0, right)
    out = np.full((m, n), np.nan, dtype)
    step = blas.stepped_matmul(stack, b, out)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for t in [3, 0, 5, 1]:
        want = stack[t].astype(np.float64) @ b0.astype(np.float64)
        assert step(t) is None
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.abs(want).max())
    if step.__name__ == "step":                  # MKL's, on bare addresses: no step outside
        for t in (-1, steps):
            with pytest.raises(IndexError, match=f"step {t} of a stack of {steps}"):
                step(t)
    assert (step.__name__ == "step") == (mode != "numpy" and shape != (3, 4, 5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stack_layout", ["steps first", "steps second"])
@pytest.mark.parametrize("shape", [(3, 4, 5), (64, 96, 400)])   # under and over MIN_WORK
def test_stepped_update_adds_each_steps_product_to_its_own_result(mode, dtype, stack_layout,
                                                                  shape):
    """``step(t)`` adds ``stack[t] @ b`` to ``outs[t]`` and leaves the other results alone."""
    m, k, n = shape
    rng = np.random.default_rng(5)
    steps = 5
    stack = rng.normal(size=(steps, m, k)).astype(dtype)
    if stack_layout == "steps second":
        stack = np.swapaxes(np.ascontiguousarray(np.swapaxes(stack, 0, 1)), 0, 1)
    b = _layout(rng.normal(size=(k, n)).astype(dtype), "rows")
    outs0 = rng.normal(size=(steps, m, n)).astype(dtype)
    outs = outs0.copy()
    step = blas.stepped_update(stack, b, outs)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for t in [3, 0, 4]:
        assert step(t) is None
    for t in range(steps):
        want = outs0[t].astype(np.float64)
        if t in (3, 0, 4):
            want = want + stack[t].astype(np.float64) @ b.astype(np.float64)
        np.testing.assert_allclose(outs[t], want, rtol=tol, atol=tol * np.abs(want).max())
    if step.__name__ == "step":
        with pytest.raises(IndexError, match=f"step {steps} of a stack of {steps}"):
            step(steps)
    assert (step.__name__ == "step") == (mode != "numpy" and shape != (3, 4, 5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("split, shape", [("columns", (64, 128, 512)), ("depth", (64, 512, 128))])
def test_stepped_update_in_blocks_adds_what_one_product_adds(monkeypatch, mode, dtype, split,
                                                             shape):
    """``split``: each step's product as the blocks of ``stepped_plans`` (here under whatever
    kernels the library runs), one gemm call each, adding onto ``outs[t]`` what one product
    adds; the stack a time-major view of a batch-major array, as an LSTM's states are."""
    from xpgrad.backends import blas_steps

    lib = blas._library()
    monkeypatch.setattr(blas_steps, "BLOCKED_CORES", (getattr(lib, "core", None),))
    m, k, n = shape
    rng = np.random.default_rng(8)
    steps = 4
    stack = np.swapaxes(rng.normal(size=(m, steps, k)).astype(dtype), 0, 1)
    b = rng.normal(size=(k, n)).astype(dtype)
    outs0 = rng.normal(size=(steps, m, n)).astype(dtype)
    outs = outs0.copy()
    step = blas.stepped_update(stack, b, outs, split=split)
    for t in [2, 0]:
        assert step(t) is None
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for t in range(steps):
        want = outs0[t].astype(np.float64)
        if t in (2, 0):
            want = want + stack[t].astype(np.float64) @ b.astype(np.float64)
        np.testing.assert_allclose(outs[t], want, rtol=tol, atol=tol * np.abs(want).max())
    if lib is not None:                         # a direct gemm: 8 blocks, one call each
        assert step.__qualname__.startswith("_blocked_update")
        plans, _ = blas.stepped_plans(stack, b, outs[0], split)
        assert plans[:, 4:7].tolist() == [[m, 64, k] if split == "columns" else [m, n, 64]] * 8
        with pytest.raises(IndexError, match=f"step {steps} of a stack of {steps}"):
            step(steps)


def test_stepped_update_without_blocking_kernels_runs_one_product(monkeypatch, mode):
    """Where ``block_width`` splits nothing (other kernels, or a product under
    ``SMALL_WORK``), ``split`` changes nothing: one product per step, as without it."""
    from xpgrad.backends import blas_steps

    monkeypatch.setattr(blas_steps, "BLOCKED_CORES", ())
    rng = np.random.default_rng(9)
    stack, b = rng.normal(size=(3, 64, 128)), rng.normal(size=(128, 512))
    outs = np.zeros((3, 64, 512))
    step = blas.stepped_update(stack, b, outs, split="columns")
    assert step.__name__ == ("generic" if mode == "numpy" else "step")
    assert "_blocked_update" not in step.__qualname__
    step(1)
    np.testing.assert_allclose(outs[1], stack[1] @ b, rtol=1e-12)


def test_stepped_update_with_results_overlapping_the_stack_takes_numpys_way(mode):
    """Results that share memory with the stack beyond the first (``outs[1]`` is
    ``stack[0]`` here) are never handed to MKL as bare addresses; NumPy's step reads each
    ``stack[t]`` as it is then."""
    rng = np.random.default_rng(6)
    buf = rng.normal(size=(6, 64, 400))         # over MIN_WORK: MKL's, were they apart
    b = rng.normal(size=(400, 400)) / 20
    stack, outs = buf[1:], buf[:5]
    want = buf.copy()
    step = blas.stepped_update(stack, b, outs)
    assert step.__name__ == "generic"
    for t in range(5):
        step(t)
        want[t] += want[t + 1] @ b
    np.testing.assert_allclose(buf, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


def test_stepped_matmul_holds_its_arrays(mode):
    """The planned step keeps the arrays whose addresses it gives MKL: a caller that keeps only
    the step still gets each step's product (it read freed memory, or crashed, before)."""
    import gc
    import weakref

    rng = np.random.default_rng(3)
    stack0, b0 = rng.normal(size=(4, 64, 96)), rng.normal(size=(96, 400))
    stack, b, out = stack0.copy(), b0.copy(), np.empty((64, 400))
    alive = [weakref.ref(a) for a in (stack, b, out)]
    step = blas.stepped_matmul(stack, b, out)
    del stack, b, out
    gc.collect()
    assert all(ref() is not None for ref in alive)
    junk = [np.full((64, 400), 7.0) for _ in range(8)]       # memory a freed array would reuse
    step(2)
    np.testing.assert_allclose(alive[2](), stack0[2] @ b0, rtol=1e-12)
    del step, junk
    gc.collect()
    assert all(ref() is None for ref in alive)


@pytest.mark.parametrize("library", DIRECT)
def test_the_direct_gemm_runs_the_large_products_and_numpy_the_small_ones(monkeypatch, library):
    previous = blas.use(library)
    try:
        lib = blas._library()
        calls = []
        real = lib.gemm[np.dtype(np.float32)]
        monkeypatch.setitem(lib.gemm, np.dtype(np.float32),
                            lambda *args: calls.append(args[3:6]) or real(*args))
        ones = np.ones
        blas.matmul(ones((4, 8), np.float32), ones((8, 2), np.float32))
        assert calls == []
        blas.matmul(ones((32, 784), np.float32), ones((784, 256), np.float32))
        assert calls == [(32, 256, 784)]
    finally:
        blas.restore(previous)


@pytest.mark.parametrize("library", DIRECT)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_update_adds_the_scaled_product_in_place(dtype, library):
    previous = blas.use(library)
    try:
        rng = np.random.default_rng(2)
        x, g = rng.normal(size=(64, 300)).astype(dtype), rng.normal(size=(64, 200)).astype(dtype)
        w0 = rng.normal(size=(300, 200)).astype(dtype)
        w = w0.copy()
        assert blas.gemm_update(w, x.T, g, -0.5)
        want = w0.astype(np.float64) - 0.5 * (x.T.astype(np.float64) @ g)
        tol = 1e-4 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(w, want, rtol=tol, atol=tol * np.abs(want).max())
        # a target BLAS cannot write in place is left alone
        assert not blas.gemm_update(np.asfortranarray(w), x.T, g, -0.5)
        assert not blas.gemm_update(w, x.T, g.astype(np.float16), -0.5)
    finally:
        blas.restore(previous)
    previous = blas.use("numpy")
    try:
        assert not blas.gemm_update(w, x.T, g, -0.5)       # NumPy's: SciPy's gemm takes it
    finally:
        blas.restore(previous)


def _mlp_weights_after_steps(compiled, batch=40):
    rng = np.random.default_rng(3)
    model = xg.nn.MLP([300, 160, 10], backend="numba")
    for v in model.trainable_variables:
        v.assign(rng.normal(size=v.shape).astype(np.float32) * 0.05)
    opt = xg.optim.SGD(learning_rate=0.1)
    x = xg.asarray(rng.normal(size=(batch, 300)).astype(np.float32), backend="numba")
    y = xg.asarray(rng.integers(0, 10, batch), backend="numba")

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
        return loss

    if compiled:
        step = xg.function(step, warmup=0)
    for _ in range(3):
        step(x, y)
    return [v.numpy() for v in model.trainable_variables]


@pytest.mark.parametrize("library", DIRECT)
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_training_step_is_the_same_on_a_direct_gemm_and_numpy(compiled, library):
    pytest.importorskip("numba")
    runs = {}
    for name in ("numpy", library):
        previous = blas.use(name)
        try:
            runs[name] = _mlp_weights_after_steps(compiled)
        finally:
            blas.restore(previous)
    for a, b in zip(runs["numpy"], runs[library]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def _python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_a_bad_xpgrad_blas_names_the_variable_and_the_choices():
    run = _python("from xpgrad.backends import blas; blas.describe()", XPGRAD_BLAS="openblass")
    assert run.returncode != 0
    assert "XPGRAD_BLAS must be one of auto, mkl, openblas, numpy, got 'openblass'" in run.stderr


def test_xpgrad_blas_numpy_keeps_numpys_products():
    run = _python("from xpgrad.backends import blas; print(blas.describe())", XPGRAD_BLAS="numpy")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "numpy"


def test_xpgrad_blas_mkl_without_mkl_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("XPGRAD_BLAS", "mkl")
    monkeypatch.setattr(blas, "_find_mkl", lambda: None)
    monkeypatch.setattr(blas, "_STATE", {})
    with pytest.raises(RuntimeError, match=r"pip install \"xpgrad\[mkl\]\""):
        blas.describe()
    with pytest.raises(ValueError, match="one of 'mkl', 'openblas', 'numpy', got 'atlas'"):
        blas.use("atlas")


@pytest.mark.parametrize("intel", [True, False])
def test_auto_takes_mkl_on_intel_and_numpys_openblas_elsewhere(monkeypatch, intel):
    # on an AMD CPU MKL runs its AVX2 code: NumPy's OpenBLAS was 14-18% faster on a Zen 5
    if not (HAVE_MKL and HAVE_OPENBLAS):
        pytest.skip("needs both the mkl wheel and NumPy's OpenBLAS")
    monkeypatch.setattr(blas, "mkl_preferred", lambda: intel)
    monkeypatch.setattr(blas, "_STATE", {})
    monkeypatch.setenv("XPGRAD_BLAS", "auto")
    assert blas.describe().split()[0] == ("mkl" if intel else "openblas")


def test_xpgrad_blas_openblas_without_numpys_openblas_says_why(monkeypatch):
    monkeypatch.setenv("XPGRAD_BLAS", "openblas")
    monkeypatch.setattr(blas, "numpys_openblas", lambda: None)
    monkeypatch.setattr(blas, "_STATE", {})
    with pytest.raises(RuntimeError, match="XPGRAD_BLAS=openblas but NumPy .* ships no OpenBLAS"):
        blas.describe()


@pytest.mark.skipif(not HAVE_MKL, reason="the mkl wheel is not installed")
def test_mkl_loaded_after_a_thread_limit_takes_that_limit():
    code = ("from xpgrad.threads import limit; limit(1)\n"
            "import numpy as np; from xpgrad.backends import blas\n"
            "blas.matmul(np.ones((200, 200)), np.ones((200, 200)))\n"
            "from threadpoolctl import threadpool_info\n"
            "print([i['num_threads'] for i in threadpool_info() if i['internal_api'] == 'mkl'])")
    run = _python(code, XPGRAD_BLAS="mkl", MKL_NUM_THREADS="")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[1]"


def test_traced_generic_needs_the_needs_protocol():
    with pytest.raises(ValueError, match="traced_generic=.*needs needs=True"):
        Kernel(lambda x: None, lambda g, saved, x: (g,), traced_generic=(0,))


def test_xpgrad_info_says_what_the_products_run_on():
    run = subprocess.run([sys.executable, "-m", "xpgrad.cli", "info"], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "XPGRAD_BLAS": "numpy"})
    assert run.returncode == 0, run.stderr
    assert "matrix products: numpy (XPGRAD_BLAS=numpy)" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "xpgrad.cli", "info"], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "XPGRAD_BLAS": "fast"})
    assert bad.returncode == 0 and "Traceback" not in bad.stderr, bad.stderr
    assert "matrix products: unavailable: XPGRAD_BLAS must be one of" in bad.stdout


def test_the_newest_runtime_library_is_chosen_by_its_version_number(tmp_path, monkeypatch):
    """``libmkl_rt.so.10`` is newer than ``libmkl_rt.so.2`` (a sort by text put ``.2`` last)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    for version in ("2", "10", "9"):
        (lib / f"libmkl_rt.so.{version}").write_bytes(b"")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    assert blas._find_mkl() == str(lib / "libmkl_rt.so.10")


@pytest.mark.skipif(not (HAVE_MKL or HAVE_OPENBLAS), reason="no BLAS to call directly")
def test_the_products_benchmark_times_every_library(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "blas_products.py"
    spec = importlib.util.spec_from_file_location("blas_products", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    previous = blas.use("numpy")
    try:
        assert module.main(["--repeats", "1"]) == 0
    finally:
        blas.restore(previous)
    libraries = 1 + HAVE_OPENBLAS + HAVE_MKL
    out = capsys.readouterr().out
    assert ("openblas" in out.splitlines()[1]) == HAVE_OPENBLAS
    rows = [line for line in out.splitlines() if line.endswith("x")]
    assert len(rows) == len(module.SHAPES)
    for row in rows:                        # a time per library, a ratio per direct one, all > 0
        numbers = [float(word.rstrip("usx")) for word in row.split()[-(2 * libraries - 1):]]
        assert all(n > 0 for n in numbers), row
