"""Fusion on the numba backend: random elementwise programs (operands of the full shape, bias
rows, columns, one element, Python numbers; comparisons and where) fused into Numba loops equal
the eager result to float rounding, values and gradients; the kernels' disk cache."""
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import xpgrad as xg

pytest.importorskip("numba")

UNARY = {"tanh": xg.tanh, "exp": lambda a: xg.exp(a * 0.1), "sin": xg.sin,
         "sigmoid": xg.nn.sigmoid, "relu": xg.nn.relu, "square": lambda a: a * a,
         "neg": lambda a: -a, "affine": lambda a: a * 0.3 + 0.7,
         "where": lambda a: xg.where(a > 0.2, a, a * 0.5), "softplus": xg.nn.softplus}
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "max": xg.maximum, "div": lambda a, b: a / (b * b + 1.0)}
SHAPES = {"full": (5, 7), "row": (7,), "column": (5, 1), "one": ()}

programs = st.lists(st.one_of(
    st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), st.just(None)),
    st.tuples(st.just("b"), st.sampled_from(sorted(BINARY)), st.sampled_from(sorted(SHAPES)))),
    min_size=2, max_size=10)


def _run(ops, dtype, backend="numba"):
    rng = np.random.default_rng(0)
    params = {k: xg.Variable(rng.normal(size=s).astype(dtype), name=k, backend=backend)
              for k, s in SHAPES.items()}

    def f(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = x
            for kind, name, operand in ops:
                y = UNARY[name](y) if kind == "u" else BINARY[name](y, params[operand])
            loss = xg.sum(y * y)
        grads = tape.gradient(loss, [x, *params.values()])
        return loss, y, grads

    return f


def _assert_same_run(got, want, dtype):
    """A run's (loss, output, gradients) equal to the eager one's to float rounding."""
    rtol = 2e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=rtol)
    np.testing.assert_allclose(got[1].numpy(), want[1].numpy(), rtol=rtol,
                               atol=1e-6 if dtype == "float32" else 1e-12)
    for g, w in zip(got[2], want[2]):
        if w is None:
            assert g is None
            continue
        scale = np.abs(w.numpy()).max() + 1e-30
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=rtol, atol=scale * rtol)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(ops=programs, dtype=st.sampled_from(["float32", "float64"]))
def test_fused_programs_equal_eager(ops, dtype):
    f = _run(ops, dtype)
    fused = xg.function(f, warmup=0, fuse=True)
    plain = xg.function(_run(ops, dtype), warmup=0, fuse=False)
    for seed in range(3):
        x = xg.asarray(np.random.default_rng(seed).normal(size=(5, 7)).astype(dtype),
                       backend="numba")
        want = f(x)
        for got in (fused(x), plain(x)):
            _assert_same_run(got, want, dtype)
    assert fused.programs()[0].fused >= 1 and plain.programs()[0].fused == 0


def test_a_chain_is_fused_into_few_kernels():
    def chain(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = x
            for _ in range(25):
                y = xg.tanh(xg.sin(y) * 1.5 + 0.1)
            loss = xg.sum(y)
        return tape.gradient(loss, x)

    f = xg.function(chain, warmup=0)
    x = xg.asarray(np.linspace(-1, 1, 6).astype(np.float32), backend="numba")
    got = [f(x) for _ in range(3)]
    program = f.programs()[0]
    assert program.fused == 2                      # the forward loop and the backward loop
    assert program.source.count("\n") < 20
    np.testing.assert_allclose(got[-1].numpy(), chain(x).numpy(), rtol=2e-5)


def test_a_sum_at_the_end_of_a_run_is_fused():
    w = xg.Variable(np.linspace(-1, 1, 7).astype(np.float32), backend="numba")

    def f(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.nn.relu(x * w + 1.0) ** 2)
        return loss, tape.gradient(loss, [x, w])

    compiled = xg.function(f, warmup=0)
    x = xg.asarray(np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32),
                   backend="numba")
    (loss, (gx, gw)), (want, (wx, ww)) = [compiled(x) for _ in range(2)][-1], f(x)
    namespace = compiled.programs()[0]._replay.__globals__
    reductions = [v.reduction for v in namespace.values() if getattr(v, "reduction", None)]
    assert sorted(r[0] for r in reductions) == [1, 7]     # the loss and the bias gradient
    assert not any(v is np.sum for v in namespace.values())   # no separate sum left
    np.testing.assert_allclose(loss.numpy(), want.numpy(), rtol=1e-6)
    np.testing.assert_allclose(gx.numpy(), wx.numpy(), rtol=1e-6)
    np.testing.assert_allclose(gw.numpy(), ww.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape, axis, keepdims", [((4, 0), 0, False), ((0, 0), 0, False),
                                                   ((1, 0), 0, True), ((0, 3), 0, False),
                                                   ((4, 0), None, False)])
def test_sums_of_empty_runs_equal_eager(shape, axis, keepdims):
    """A column sum over a matrix with no columns is not fused (0 columns would read as a sum
    over every axis, one accumulator reshaped to no columns); the others equal eager."""
    def f(p):
        return xg.sum(p * 2.0 + 1.0, axis=axis, keepdims=keepdims)

    compiled = xg.function(f)
    p = xg.asarray(np.ones(shape, np.float32), backend="numba")
    for got in [compiled(p) for _ in range(3)]:
        want = f(p)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_kernels_are_cached_on_disk(tmp_path, monkeypatch):
    from numba.core import config

    from xpgrad.jit import fused_kernels

    monkeypatch.setenv("XPGRAD_NUMBA_CACHE_DIR", str(tmp_path))
    # the Numba backend, once loaded, makes the XPGRAD_NUMBA_CACHE_DIR the process started with
    # Numba's cache directory (backends/numba/_config.py): point it here too
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    source = fused_kernels.kernel_source(1, 1, ["v0 = a0[i]", "t0 = np.float64(v0 * 3.0)"],
                                         ["p0[0, i] = t0"])
    kernel = fused_kernels._compiled(source)
    out = np.empty((1, 4))
    kernel(4, np.arange(4.0), out)
    assert out.tolist() == [[0.0, 3.0, 6.0, 9.0]]
    files = os.listdir(tmp_path / "fused")
    assert any(f.endswith(".py") for f in files)
    cached = os.listdir(tmp_path / "fused" / "__pycache__") if os.path.isdir(
        tmp_path / "fused" / "__pycache__") else []
    numba_dir = [f for root, _, fs in os.walk(tmp_path) for f in fs if f.endswith(".nbi")]
    assert cached or numba_dir


# -- the cupy fuser, its C compiled by the host C++ compiler -------------------------------------
class HostElementwiseKernel:
    """``cupy.ElementwiseKernel``'s interface, compiling the same operation text with g++: the
    inputs broadcast (as CuPy does), one C++ loop runs the operation per element."""

    C_TYPES = {"float32": "float", "float64": "double", "bool": "bool"}

    def __init__(self, in_params, out_params, operation, name):
        import ctypes
        import hashlib
        import shutil
        import subprocess
        import tempfile

        compiler = shutil.which("g++") or shutil.which("clang++")
        if compiler is None:
            pytest.skip("no C++ compiler")
        self.ins = [p.split() for p in in_params.split(", ")]
        self.outs = [p.split() for p in out_params.split(", ")]
        args = [f"const {self.C_TYPES[t]}* {n}_p" for t, n in self.ins] + \
            [f"{self.C_TYPES[t]}* {n}_p" for t, n in self.outs]
        body = "".join(f"{self.C_TYPES[t]} {n} = {n}_p[i]; " for t, n in self.ins)
        body += "".join(f"{self.C_TYPES[t]} {n}; " for t, n in self.outs)
        body += operation.replace("\n", " ")
        body += "".join(f" {n}_p[i] = {n};" for _, n in self.outs)
        source = ("#include <cmath>\nusing namespace std;\n"
                  f"extern \"C\" void run(long n, {', '.join(args)}) {{\n"
                  f"  for (long i = 0; i < n; ++i) {{ {body} }}\n}}\n")
        digest = hashlib.sha256(source.encode()).hexdigest()[:16]
        folder = os.path.join(tempfile.gettempdir(), "xpgrad-test-elementwise")
        os.makedirs(folder, exist_ok=True)
        lib = os.path.join(folder, f"{digest}.so")
        if not os.path.exists(lib):
            # the folder is shared by the xdist workers (and by runs): each process compiles
            # from and into files of its own, then renames the library into place at once
            mine = f"{digest}.{os.getpid()}"
            src, tmp = os.path.join(folder, f"{mine}.cpp"), os.path.join(folder, f"{mine}.so.tmp")
            with open(src, "w") as f:
                f.write(source)
            try:
                subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-o", tmp, src], check=True)
                os.replace(tmp, lib)
            finally:
                for leftover in (src, tmp):
                    if os.path.exists(leftover):
                        os.remove(leftover)
        self.run = ctypes.CDLL(lib).run
        self.ctypes = ctypes

    def __call__(self, *inputs):
        arrays = np.broadcast_arrays(*[np.asarray(a) for a in inputs])
        shape = arrays[0].shape
        flat = [np.ascontiguousarray(a, dtype=t).reshape(-1)
                for a, (t, _) in zip(arrays, self.ins)]
        outs = [np.empty(shape, t) for t, _ in self.outs]
        pointers = [a.ctypes.data_as(self.ctypes.c_void_p) for a in flat + outs]
        self.run(self.ctypes.c_long(int(np.prod(shape))), *pointers)
        return outs[0] if len(outs) == 1 else tuple(outs)


def _host_cupy_fuser(program, escaping):
    from xpgrad.jit.fusion_cupy import fuse_program_cupy

    return fuse_program_cupy(program, escaping, make_kernel=HostElementwiseKernel)


@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@pytest.mark.usefixtures("numpy_default")
@given(ops=programs, dtype=st.sampled_from(["float32", "float64"]))
def test_cupy_fused_kernels_equal_eager(ops, dtype):
    """The ElementwiseKernel text the cupy fuser writes, compiled for the host, run on the
    numpy backend's arrays: equal to the eager result to float rounding."""
    f = _run(ops, dtype, backend="numpy")
    fused = xg.function(f, warmup=0, fuse=_host_cupy_fuser)
    for seed in range(2):
        x = xg.asarray(np.random.default_rng(seed).normal(size=(5, 7)).astype(dtype))
        _assert_same_run(fused(x), f(x), dtype)
    assert fused.programs()[0].fused >= 1


def _two_dense_layers(seed):
    """A 6-5-3 network's weights as numba Variables, a batch of 4 with its labels, and
    ``reference()``: PyTorch's loss and its four weight gradients for them."""
    rng = np.random.default_rng(seed)
    arrays = rng.normal(size=(6, 5)), rng.normal(size=5), rng.normal(size=(5, 3)), \
        rng.normal(size=3)
    weights = [xg.Variable(a, backend="numba") for a in arrays]
    x0, y0 = rng.normal(size=(4, 6)), np.array([0, 2, 1, 2])

    def reference():
        import torch

        tw, tb, tv, tc = (torch.tensor(a, requires_grad=True) for a in arrays)
        logits = torch.relu(torch.tensor(x0) @ tw + tb) @ tv + tc
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y0))
        loss.backward()
        return loss.detach().numpy(), [t.grad.numpy() for t in (tw, tb, tv, tc)]

    x, y = xg.asarray(x0, backend="numba"), xg.asarray(y0, backend="numba")
    return weights, x, y, reference


def test_a_dense_layers_bias_gradient_joins_the_run_before_it():
    # the linear kernel's vjp only sums the incoming gradient for the bias: after a ReLU's
    # backward run, that column sum is taken in the same loop, not by a kernel call
    pytest.importorskip("torch")
    (w, b, v, c), x, y, reference = _two_dense_layers(1)

    def grads(x, y):
        with xg.GradientTape() as tape:
            hidden = xg.nn.relu(xg.nn.linear(x, w, b))
            loss = xg.losses.softmax_cross_entropy(xg.nn.linear(hidden, v, c), y)
        return tape.gradient(loss, [w, b, v, c])

    compiled = xg.function(grads, warmup=0)
    got = [compiled(x, y) for _ in range(2)][-1]
    program = compiled.programs()[0]
    reductions = [v.reduction for v in program.constants.values()
                  if getattr(v, "reduction", None)]
    assert [r[0] for r in reductions] == [5]                 # the first layer's bias gradient
    # the second one follows no run: it stays the kernel's g.sum(axis=0), not the slower
    # np.sum (a Python wrapper: 8.7 us in the MLP step where the kernel took 3.8 us)
    assert not any(v is np.sum for v in program.constants.values())
    for g, want in zip(got, reference()[1]):
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-10, atol=1e-12)


def test_a_column_sum_is_a_loop_over_rows_of_a_loop_over_columns():
    # ``acc[i % columns]`` in one flat loop did not vectorize: the fused ReLU backward with
    # its bias gradient took 6-8 us on (32, 256), the unfused pair 3.5 us
    from xpgrad.jit.fused_kernels import kernel_source, _compiled

    source = kernel_source(1, 1, ["v0 = a0[i]", "t0 = np.float64(v0 * v0)"],
                           ["p0[0, i] = t0", "acc[j] += t0"], reduces=True, columns=3)
    assert "i % 3" not in source and "for j in range(3)" in source
    a = np.arange(12.0)
    pack, acc = np.empty((1, 12)), np.zeros(3)
    _compiled(source)(12, a, pack, acc)
    np.testing.assert_array_equal(pack[0], a * a)
    np.testing.assert_array_equal(acc, (a * a).reshape(4, 3).sum(axis=0))


@pytest.mark.parametrize("fuser", ["numba", "host cupy"])
@pytest.mark.parametrize("constant", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_constants_in_a_fused_run(fuser, constant):
    """A NaN or infinite Python number in a run (``kl_div``'s ``where(..., nan)``) was written
    into the kernel's source as ``nan``/``inf``, undefined names: the trace failed to compile."""
    def f(x):
        return xg.where(x > 0.0, xg.exp(x) * 2.0, constant) + x

    x = xg.asarray(np.linspace(-1.0, 1.0, 12).reshape(3, 4), backend="numba")
    if fuser == "numba":
        fused = xg.function(f, warmup=0)
    else:
        x = xg.asarray(x.numpy(), backend="numpy")
        fused = xg.function(f, warmup=0, fuse=_host_cupy_fuser)
    for _ in range(2):
        np.testing.assert_allclose(fused(x).numpy(), f(x).numpy(), rtol=1e-12)
    assert fused.programs()[0].fused >= 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_power_of_one_half_in_a_fused_run_is_numpys_square_root(dtype):
    """NumPy computes ``x ** 0.5`` as ``sqrt(x)``: NaN at -inf and -0.0 at -0.0, where C's
    ``pow``, which the fused loop called, gives +inf and +0.0."""
    def f(x):
        return (x ** 0.5) * 2.0 + 1.0, -(x ** 0.5)

    x = xg.asarray(np.array([[-np.inf, -0.0, 0.0], [2.25, np.inf, np.nan]], dtype=dtype),
                   backend="numba")
    fused = xg.function(f, warmup=0)
    with np.errstate(invalid="ignore"):
        want = [w.numpy() for w in f(x)]
        for _ in range(2):
            for got, w in zip(fused(x), want):
                np.testing.assert_array_equal(got.numpy(), w)
                np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(w))
    assert fused.programs()[0].fused >= 1


def test_kl_div_traces_and_replays_on_numba():
    x = xg.asarray(np.log([[0.2, 0.8], [0.5, 0.5]]), backend="numba")
    t = xg.asarray(np.array([[0.3, 0.7], [0.0, 1.0]]), backend="numba")

    def loss(x, t):
        return xg.losses.kl_div(x, t)

    compiled = xg.function(loss)
    want = 0.3 * np.log(0.3 / 0.2) + 0.7 * np.log(0.7 / 0.8) + np.log(1.0 / 0.5)
    for _ in range(3):
        assert compiled(x, t).item() == pytest.approx(want / 4, rel=1e-12)


def test_a_relu_alone_between_two_products_gets_a_kernel():
    # NumPy's maximum tests each element for NaN (3.8 us on a 32x256 ReLU, 0.9 in a loop): a
    # maximum alone is fused too, and still propagates NaN and keeps signed zeros as NumPy
    rng = np.random.default_rng(3)
    w = xg.Variable(rng.normal(size=(6, 8)), backend="numba")
    v = xg.Variable(rng.normal(size=(8, 3)), backend="numba")

    def f(x):
        return xg.matmul(xg.nn.relu(xg.matmul(x, w)), v), xg.nn.relu(x)

    compiled = xg.function(f, warmup=0)
    x0 = rng.normal(size=(4, 6))
    x0[0, 0], x0[1, 1], x0[2, 2] = np.nan, -0.0, 0.0
    x = xg.asarray(x0, backend="numba")
    for _ in range(2):
        got, want = compiled(x), f(x)
    assert compiled.programs()[0].fused == 2
    assert not any(fn is np.maximum for fn in compiled.programs()[0].constants.values())
    for g, e in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), e.numpy())            # NaN where NaN
        assert (np.signbit(g.numpy()) == np.signbit(e.numpy())).all()


@pytest.mark.parametrize("returned", [False, True], ids=["hidden", "pre-activation returned"])
def test_a_dense_layers_bias_add_joins_the_relus_run(returned):
    # the first layer's kernel forward splits into its product and the bias add, which the
    # ReLU's loop takes (b[j] in a loop over rows of columns: no pass of its own); the second
    # layer's (read by the loss kernel) and a pre-activation used twice stay out of the runs
    # (small products: np.matmul and np.add calls, jit/small_products.py)
    from xpgrad.backends.numpy.kernels import _linear_forward

    pytest.importorskip("torch")
    (w, b, v, c), x, y, reference = _two_dense_layers(2)

    def step(x, y):
        with xg.GradientTape() as tape:
            pre = xg.nn.linear(x, w, b)
            hidden = xg.nn.relu(pre)
            loss = xg.losses.softmax_cross_entropy(xg.nn.linear(hidden, v, c), y)
        grads = tape.gradient(loss, [w, b, v, c])
        return (loss, hidden, grads, pre) if returned else (loss, hidden, grads)

    compiled = xg.function(step, warmup=0)
    for _ in range(2):
        got, want = compiled(x, y), step(x, y)
    np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())    # the add, then max
    if returned:
        np.testing.assert_array_equal(got[3].numpy(), want[3].numpy())
    program = compiled.programs()[0]
    assert not any(fn is _linear_forward for fn in program.constants.values())
    add_names = [name for name, fn in program.constants.items() if fn is np.add]
    adds = sum(len(re.findall(rf"\b{name}\(", program.source)) for name in add_names)
    assert adds == (2 if returned else 1), program.source      # calls (one name per ufunc)
    sources = [getattr(fn, "source", "") for fn in program.constants.values()
               if getattr(fn, "kernel", None) is not None]
    assert any(" + " in s for s in sources) != returned, sources
    loss, grads = reference()
    np.testing.assert_allclose(got[0].numpy(), loss, rtol=1e-12)
    for g, want in zip(got[2], grads):
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-10, atol=1e-12)


def test_a_bias_sum_no_run_takes_replays_as_the_kernels_row_sum():
    """The output layer's bias gradient (its vjp only sums g over rows; the loss kernel before
    it ends every run) is called as ``row_sums``, not through the dense layer's kernel vjp."""
    from xpgrad.backends.numpy.kernels import _linear_vjp
    from xpgrad.jit.fusion import row_sums

    rng = np.random.default_rng(0)

    def make():
        ws = [xg.Variable(rng.normal(size=s), backend="numba") for s in ((7, 9), (9,), (9, 4),
                                                                          (4,))]

        def grads(x, y):
            with xg.GradientTape() as tape:
                h = xg.nn.relu(xg.nn.linear(x, ws[0], ws[1]))
                loss = xg.losses.softmax_cross_entropy(xg.nn.linear(h, ws[2], ws[3]), y)
            return tape.gradient(loss, ws)
        return grads

    eager = make()
    compiled = xg.function(lambda x, y, f=eager: f(x, y))
    for _ in range(3):
        x = xg.asarray(rng.normal(size=(5, 7)), backend="numba")
        y = xg.asarray(rng.integers(0, 4, 5), backend="numba")
        for i, (got, want) in enumerate(zip(compiled(x, y), eager(x, y))):
            if i == 1:      # the run's float64 column sum adds rows in order, the eager
                # kernel's sum_rows by BLAS products (backends/axis_sums.py): to rounding
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-14, atol=1e-15)
            else:
                np.testing.assert_array_equal(got.numpy(), want.numpy())
    names = list(compiled.programs()[0]._namespace.values())
    assert sum(v is row_sums for v in names) == 1
    assert not any(v is _linear_vjp for v in names)


def test_a_cache_dir_that_is_a_file_is_named(tmp_path, monkeypatch):
    from xpgrad.jit.fused_kernels import cache_dir

    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XPGRAD_NUMBA_CACHE_DIR", str(blocker))
    with pytest.raises(OSError, match="XPGRAD_NUMBA_CACHE_DIR=.*cannot make the fused-kernel "
                                      "cache.*writable directory"):
        cache_dir()
