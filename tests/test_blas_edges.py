"""MKL's products as users meet them (``xpgrad.backends.blas``): layouts and sizes BLAS cannot
be handed (a leading dimension past MKL's integers, misaligned data), MKL's environment
(``MKL_INTERFACE_LAYER``), a library that loads but is not MKL, thread limits set around its
loading, a fork after it ran, the recurrent scans on both products, and a bad ``XPGRAD_BLAS``
in ``xpgrad train``."""
import ctypes.util
import mmap
import multiprocessing
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends import blas

from test_cli_bad_inputs import _cli_error

HAVE_MKL = blas._find_mkl() is not None
needs_mkl = pytest.mark.skipif(not HAVE_MKL, reason="the mkl wheel is not installed")
needs_openblas = pytest.mark.skipif(blas.numpys_openblas() is None,
                                    reason="NumPy ships no OpenBLAS here")


@pytest.fixture
def on_mkl():
    """MKL's products, with a record of the gemm calls made (m, n, k)."""
    if not HAVE_MKL:
        pytest.skip("the mkl wheel is not installed")
    previous = blas.use("mkl")
    lib = blas._library()
    calls, real = [], dict(lib.gemm)
    for dtype, fn in real.items():
        lib.gemm[dtype] = (lambda fn: lambda *args: calls.append(args[3:6]) or fn(*args))(fn)
    yield calls
    lib.gemm.update(real)
    blas.restore(previous)


def _python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


# -- layouts -----------------------------------------------------------------------------------
def _sparse_rows(tmp_path, row_stride, cols):
    """A (2, cols) float32 array whose rows lie ``row_stride`` elements apart, in a sparse file
    (no memory or disk is used for the gap); and the mapping to close."""
    path = tmp_path / "sparse.bin"
    with open(path, "wb") as f:
        f.truncate(2 * row_stride * 4)
    with open(path, "r+b") as f:
        mapped = mmap.mmap(f.fileno(), 0)
    rows = np.frombuffer(mapped, np.float32).reshape(2, row_stride)[:, :cols]
    return rows, mapped


@needs_mkl
@pytest.mark.skipif(sys.platform == "win32", reason="NTFS files are not sparse unless asked")
def test_a_leading_dimension_past_a_c_int_is_numpys_product(on_mkl, tmp_path, capfd):
    # MKL got the row stride wrapped to a negative int: "Intel oneMKL ERROR: Parameter 9 was
    # incorrect", and the product's buffer was returned unwritten (NaN here)
    x, mapped = _sparse_rows(tmp_path, 2**31 + 64, 1200)
    try:
        x[0], x[1] = 1.0, 2.0
        w = np.full((1200, 1000), 0.5, np.float32)
        out = np.full((2, 1000), np.nan, np.float32)
        np.testing.assert_array_equal(blas.matmul(x, w, out=out), np.matmul(x, w))
        c = np.zeros((2, 1000), np.float32)
        if blas.gemm_update(c, x, w, -1.0):
            np.testing.assert_array_equal(c, -np.matmul(x, w))
        assert "ERROR" not in capfd.readouterr().out
    finally:
        del x
        mapped.close()


@needs_mkl
def test_misaligned_operands_are_left_to_numpy(on_mkl):
    # bytes 1.. of a buffer: float32 values that no float32 boundary holds; BLAS kernels
    # assume at least the element's alignment
    a0 = np.random.default_rng(0).normal(size=(130, 140)).astype(np.float32)
    a = np.ndarray(a0.shape, np.float32, np.zeros(a0.nbytes + 4, np.uint8), offset=1)
    a[...] = a0
    b = np.ones((140, 150), np.float32)
    np.testing.assert_array_equal(blas.matmul(a, b), np.matmul(a0, b))
    assert on_mkl == []
    out = np.ndarray((130, 150), np.float32, np.zeros(130 * 150 * 4 + 4, np.uint8), offset=2)
    np.testing.assert_array_equal(blas.matmul(a0, b, out=out), np.matmul(a0, b))
    assert not blas.gemm_update(out, a0, b, -1.0)
    assert on_mkl == []


def _uneven_rows(a):
    """``a`` with a row stride that is not a multiple of its itemsize."""
    row = a.shape[1] * a.itemsize + 2
    out = np.ndarray(a.shape, a.dtype, np.zeros(a.shape[0] * row, np.uint8),
                     strides=(row, a.itemsize))
    out[...] = a
    return out


def _layouts(dtype=np.float64):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(130, 140)).astype(dtype), rng.normal(size=(140, 150)).astype(dtype)
    big_endian = np.dtype(dtype).newbyteorder(">")
    read_only = a.copy()
    read_only.flags.writeable = False
    return {"reversed rows": (a[::-1], b), "reversed both": (a[::-1, ::-1], b[::-1]),
            "every other column": (np.repeat(a, 2, axis=1)[:, ::2], b),
            "rows 2 bytes apart past their end": (_uneven_rows(a), b),
            "pytorch weight (w.T view)": (a, np.ascontiguousarray(b.T).T),
            "read-only": (read_only, b), "broadcast rows": (np.broadcast_to(a[:1], a.shape), b),
            "big-endian": (a.astype(big_endian), b.astype(big_endian)),
            "batch 0": (np.zeros((0, 140), dtype), b), "inner 0": (a[:, :0], b[:0]),
            "outputs 0": (a, b[:, :0])}


@pytest.mark.parametrize("mode", ["numpy", pytest.param("mkl", marks=needs_mkl),
                                  pytest.param("openblas", marks=needs_openblas)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(_layouts()))
def test_every_layout_and_size_is_numpys_product(mode, dtype, name):
    a, b = _layouts(dtype)[name]
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    previous = blas.use(mode)
    try:
        got = blas.matmul(a, b)
        out = np.full(want.shape, np.nan, dtype)
        assert blas.matmul(a, b, out=out) is out
    finally:
        blas.restore(previous)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for result in (got, out):
        assert result.shape == want.shape
        np.testing.assert_allclose(result, want, rtol=tol, atol=tol * np.abs(want).max(initial=1))


# -- MKL's environment and loading -------------------------------------------------------------
@needs_mkl
@pytest.mark.parametrize("layer", ["ILP64", "GNU,ILP64"])
def test_mkl_interface_layer_ilp64_in_the_environment(layer):
    # MKL read 64-bit integers where ctypes passed 32-bit ones: a segmentation fault
    code = ("import numpy as np; from xpgrad.backends import blas\n"
            "rng = np.random.default_rng(0)\n"
            "a, b = rng.normal(size=(200, 300)), rng.normal(size=(300, 400))\n"
            "print(blas.describe().split()[0], np.abs(blas.matmul(a, b) - a @ b).max() < 1e-9)")
    run = _python(code, XPGRAD_BLAS="mkl", MKL_INTERFACE_LAYER=layer)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["mkl", "True"]


@needs_mkl
def test_mkl_already_set_to_ilp64_by_another_library_is_called_with_64_bit_integers():
    code = ("import ctypes, numpy as np; from xpgrad.backends import blas\n"
            "ctypes.CDLL(blas._find_mkl()).MKL_Set_Interface_Layer(1)\n"
            "a, b = np.ones((200, 300), np.float32), np.ones((300, 400), np.float32)\n"
            "print(blas.describe().split()[0], (blas.matmul(a, b) == 300).all())")
    run = _python(code, XPGRAD_BLAS="mkl")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["mkl", "True"]


def _not_mkl():
    path = ctypes.util.find_library("m") or ctypes.util.find_library("c")
    if path is None:
        pytest.skip("no C math library to stand in for a broken MKL")
    return path


@pytest.mark.parametrize("openblas", [True, False])
def test_a_library_that_is_not_mkl_leaves_auto_on_numpys_blas(monkeypatch, openblas):
    # a stale or foreign libmkl_rt without cblas_sgemm: AttributeError from every product
    monkeypatch.setattr(blas, "_find_mkl", _not_mkl)
    monkeypatch.setattr(blas, "mkl_preferred", lambda: True)        # as on an Intel CPU
    if not openblas:
        monkeypatch.setattr(blas, "numpys_openblas", lambda: None)
    elif blas.numpys_openblas() is None:
        pytest.skip("NumPy ships no OpenBLAS here")
    monkeypatch.setattr(blas, "_STATE", {})
    monkeypatch.setenv("XPGRAD_BLAS", "auto")
    a = np.ones((300, 300))
    np.testing.assert_array_equal(blas.matmul(a, a), np.full((300, 300), 300.0))
    assert blas.describe().split()[0] == ("openblas" if openblas else "numpy")


def test_xpgrad_blas_mkl_with_a_library_that_is_not_mkl_says_so_in_one_line(monkeypatch):
    monkeypatch.setattr(blas, "_find_mkl", _not_mkl)
    monkeypatch.setattr(blas, "_STATE", {})
    monkeypatch.setenv("XPGRAD_BLAS", "mkl")
    with pytest.raises(RuntimeError, match="XPGRAD_BLAS=mkl but .* is not a usable MKL") as e:
        blas.describe()
    assert "\n" not in str(e.value)


def test_a_bad_xpgrad_blas_is_not_blamed_on_the_layers_inputs(monkeypatch):
    # was "linear: bad inputs of shapes (2, 3), (3, 4), (4,): XPGRAD_BLAS must be ..."
    monkeypatch.setattr(blas, "_STATE", {})
    monkeypatch.setenv("XPGRAD_BLAS", "atlas")
    with pytest.raises(ValueError,
                       match="^XPGRAD_BLAS must be one of auto, mkl, openblas, numpy"):
        xg.nn.linear(xg.ones((2, 3)), xg.ones((3, 4)), xg.ones(4))


# -- xpgrad train --------------------------------------------------------------------------------
def _train_error(capsys):
    return _cli_error(["train", "--epochs", "1", "--max-steps", "1", "--no-log", "--quiet"],
                      capsys)


@pytest.mark.parametrize("value, library, words", [
    ("openblass", None,
     "XPGRAD_BLAS must be one of auto, mkl, openblas, numpy, got 'openblass'"),
    ("mkl", None, "XPGRAD_BLAS=mkl but MKL is not installed"),
    ("mkl", "not a library", "XPGRAD_BLAS=mkl but {path} does not load: ")])
def test_train_with_a_bad_xpgrad_blas_exits_2_before_training(monkeypatch, capsys, tmp_path,
                                                              value, library, words):
    path = None
    if library is not None:
        path = tmp_path / "libmkl_rt.so.3"
        path.write_text(library)
        words = words.format(path=path)
    monkeypatch.setattr(blas, "_STATE", {})
    monkeypatch.setattr(blas, "_find_mkl", lambda: path and str(path))
    monkeypatch.setenv("XPGRAD_BLAS", value)
    err = _train_error(capsys)              # was a traceback from the first layer, exit 1
    assert err.startswith("xpgrad: error: ") and words in err


# -- threads and processes -----------------------------------------------------------------------
_COUNT = ("from threadpoolctl import threadpool_info\n"
          "def mkl(): return [i['num_threads'] for i in threadpool_info()"
          " if i['internal_api'] == 'mkl']\n")


@needs_mkl
def test_mkl_loaded_inside_a_thread_limit_gets_its_count_back():
    free = _python(_COUNT + "from xpgrad.backends import blas; blas.describe(); print(mkl())",
                   XPGRAD_BLAS="mkl")
    limited = _python(_COUNT + "from xpgrad.threads import limit; from xpgrad.backends import blas\n"
                      "with limit(1):\n    blas.describe(); print(mkl())\nprint(mkl())",
                      XPGRAD_BLAS="mkl")
    assert free.returncode == 0 and limited.returncode == 0, free.stderr + limited.stderr
    assert limited.stdout.split() == ["[1]", free.stdout.strip()]    # stayed at 1


_FORK_AFTER_MKL = """
import multiprocessing, numpy as np
from threadpoolctl import ThreadpoolController
from xpgrad.backends import blas

def product(a):
    return blas.matmul(a, a)

if __name__ == "__main__":
    blas.use("mkl")
    a = np.random.default_rng(2).normal(size=(300, 300)).astype(np.float32)
    with ThreadpoolController().select(internal_api="mkl").limit(limits=2):
        want = blas.matmul(a, a)              # MKL's OpenMP threads started, then a fork
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.map_async(product, [a, a]).get(timeout=60)
    assert all(np.array_equal(got, want) for got in results)
    print("same")
"""


@needs_mkl
def test_a_fork_after_mkl_ran_computes_the_same_products(tmp_path):
    """In a process of its own: forking a process that has other libraries' threads running
    (PyTorch's, JAX's, the suite's) can hang whatever MKL does, so the check is of MKL alone."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    script = tmp_path / "fork_after_mkl.py"
    script.write_text(_FORK_AFTER_MKL)
    # scikit-learn's import sets KMP_INIT_AT_FORK=FALSE in os.environ: after a test of this
    # worker imported it, the child inherited it, its Intel OpenMP runtime skipped its at-fork
    # reset and the forked workers' products hung (the pool's 60 s ran out)
    env = {k: v for k, v in os.environ.items() if k != "KMP_INIT_AT_FORK"}
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "same"


# -- recurrent scans ---------------------------------------------------------------------------
def _scan_gradients(kind, backend, compiled):
    rng = np.random.default_rng(3)
    layer = getattr(xg.nn, kind)(8, 192, rng=0, backend=backend)
    x = xg.asarray(rng.normal(size=(64, 2, 8)).astype(np.float32), backend=backend)
    r = xg.asarray(rng.normal(size=(64, 2, 192)).astype(np.float32), backend=backend)

    def grads(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(layer(x)[0] * r)
        return tape.gradient(loss, [x, *layer.trainable_variables])

    if compiled:
        grads = xg.function(grads, warmup=0)
        grads(x)
    return [g.numpy() for g in grads(x)]


@needs_mkl
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_scan_gradients_are_the_same_on_mkl_and_numpy(backend, kind, compiled):
    if backend == "numba":
        pytest.importorskip("numba")
    runs = {}
    for name in ("numpy", "mkl"):
        previous = blas.use(name)
        try:
            runs[name] = _scan_gradients(kind, backend, compiled)
        finally:
            blas.restore(previous)
    for a, b in zip(runs["numpy"], runs["mkl"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(a).max())


# -- switching -----------------------------------------------------------------------------------
def test_use_numpy_works_whatever_xpgrad_blas_says(monkeypatch):
    monkeypatch.setattr(blas, "_STATE", {})
    monkeypatch.setenv("XPGRAD_BLAS", "atlas")
    previous = blas.use("numpy")                     # raised the bad XPGRAD_BLAS
    assert blas.describe() == "numpy"
    blas.restore(previous)
    with pytest.raises(ValueError, match="XPGRAD_BLAS must be one of"):
        blas.describe()



@needs_mkl
def test_mkl_num_threads_in_the_environment_is_kept():
    # MKL took OpenBLAS's count on loading, whatever MKL_NUM_THREADS said
    run = _python(_COUNT + "from xpgrad.backends import blas; blas.describe(); print(mkl())",
                  XPGRAD_BLAS="mkl", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="2")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[1]"


@needs_mkl
def test_two_ranks_train_the_same_on_mkl_and_numpy(tmp_path):
    import shutil

    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("no mpiexec on PATH (pip install -e \".[mpi]\")")
    pytest.importorskip("mpi4py")
    argv = [mpiexec, "--oversubscribe", "-n", "2", sys.executable, "-m", "xpgrad.cli", "train",
            "--epochs", "1", "--max-steps", "2", "--batch-size", "256", "--hidden", "256",
            "--no-log", "--progress", "never", "--threads", "2"]   # (128, 64) @ (64, 256): MKL's
    from test_distributed import SINGLE_HOST_MPI

    env = {**SINGLE_HOST_MPI, **os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1",
           "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_mpi_yield_when_idle": "1",
           "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.dirname(xg.__file__)),
                                          os.environ.get("PYTHONPATH", "")])}
    lines = {}
    for name in ("mkl", "numpy"):
        run = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                             env={**env, "XPGRAD_BLAS": name})
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        lines[name] = re.sub(r"\(?\d+\.\d+ s\)?", "", run.stdout)   # timings
    assert lines["mkl"] == lines["numpy"] and "held-out" in lines["mkl"], lines


def test_bench_with_a_bad_xpgrad_blas_exits_2_before_timing(monkeypatch, capsys):
    from xpgrad.cli import main

    monkeypatch.setattr(blas, "_STATE", {})
    monkeypatch.setenv("XPGRAD_BLAS", "fast")
    try:                                     # timed every case, then a traceback, exit 1
        code = main(["bench", "--quick", "--only", "loss", "--backend", "numpy", "--peers"])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "XPGRAD_BLAS must be one of auto, mkl, openblas, numpy, got 'fast'" in err


# -- gemm plans: a layout's checks made once -----------------------------------------------------
@needs_mkl
def test_a_planned_layout_still_checks_every_calls_addresses_and_output():
    """A product's layout is checked once (``blas._PLANS``); the addresses are not part of it:
    misaligned operands, or a read-only or overlapping output, of a layout already planned go
    to NumPy, and the products stay NumPy's."""
    previous = blas.use("mkl")
    lib = blas._library()
    calls, real = [], dict(lib.gemm)
    try:
        rng = np.random.default_rng(0)
        a0 = rng.normal(size=(130, 140)).astype(np.float32)
        b = rng.normal(size=(140, 150)).astype(np.float32)
        want = np.matmul(a0, b)
        np.testing.assert_allclose(blas.matmul(a0, b), want, rtol=1e-4, atol=1e-3)  # planned
        for dtype, fn in real.items():
            lib.gemm[dtype] = (lambda fn: lambda *args: calls.append(args[3:6]) or fn(*args))(fn)
        np.testing.assert_allclose(blas.matmul(a0, b), want, rtol=1e-4, atol=1e-3)
        assert calls == [(130, 150, 140)]       # a new gemm function: planned for it anew
        shifted = np.ndarray(a0.shape, np.float32, np.zeros(a0.nbytes + 4, np.uint8), offset=1)
        shifted[...] = a0
        assert shifted.strides == a0.strides
        np.testing.assert_array_equal(blas.matmul(shifted, b), np.matmul(a0, b))
        read_only = np.zeros((130, 150), np.float32)
        read_only.flags.writeable = False
        assert not blas._gemm(lib, a0, b, read_only, 1.0, 0.0)
        square = np.ones((140, 140), np.float32)
        assert not blas._gemm(lib, square, square, square, 1.0, 0.0)   # out is an operand
        assert calls == [(130, 150, 140)]
    finally:
        lib.gemm.update(real)
        blas.restore(previous)


@needs_mkl
def test_the_plans_stay_few(monkeypatch):
    monkeypatch.setattr(blas, "_PLANS_MAX", 4)
    monkeypatch.setattr(blas, "_PLANS", {})
    previous = blas.use("mkl")
    try:
        b = np.ones((140, 150), np.float32)
        for rows in range(100, 110):
            np.testing.assert_array_equal(blas.matmul(np.ones((rows, 140), np.float32), b),
                                          np.full((rows, 150), 140.0, np.float32))
            assert len(blas._PLANS) <= 4
    finally:
        blas.restore(previous)
