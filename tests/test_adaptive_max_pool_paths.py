"""xg.nn.adaptive_max_pool1d/2d's paths: uniform windows (every length a multiple of its
output: ``max_pool``), the ``adaptive_max_pool`` primitive (windows of several sizes; its
Numba kernel against its generic rule on raw arrays with ties, NaN and -inf) and the
composition kept for ``return_indices``; each against PyTorch's in float64 (values, input
gradients), numba against numpy, finite differences, second order, and xg.function replay."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.ops import adaptive_max_pooling as amp
from xpgrad.primitive import PRIMITIVES

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional
HAS_NUMBA = backend_report().get("numba", {"available": False})["available"]
BACKENDS = ["numpy"] + (["numba"] if HAS_NUMBA else [])

# (input shape, output_size): uniform windows, several sizes, out > L, None, long windows
CASES = [((2, 3, 8, 12), (4, 3)), ((2, 3, 8, 12), (8, 12)), ((2, 3, 32, 32), 7),
         ((2, 3, 7, 5), (3, 4)), ((2, 3, 5, 5), (7, 9)), ((2, 3, 6, 7), (None, 4)),
         ((2, 3, 40, 37), (2, 3)), ((3, 11, 9), (4, 2)), ((2, 3, 128), 10),
         ((2, 3, 128), 16), ((2, 3, 5), 7), ((4, 50), 3)]


def _data(shape, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    if ties:
        return rng.integers(0, 3, size=shape).astype(np.float64)
    return rng.standard_normal(shape)


def _fn(shape, output_size):
    two = len(shape) == 4 or (len(shape) == 3 and isinstance(output_size, tuple))
    return ((xg.nn.adaptive_max_pool2d, F.adaptive_max_pool2d) if two else
            (xg.nn.adaptive_max_pool1d, F.adaptive_max_pool1d))


def _ours(fn, backend, x, size, ct):
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt, size)
        loss = xg.sum(y * xg.asarray(ct, backend=backend))
    return y.numpy(), tape.gradient(loss, xt).numpy()


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, output_size", CASES)
def test_matches_torch(backend, shape, output_size, ties):
    ours, theirs = _fn(shape, output_size)
    x = _data(shape, ties=ties)
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx, output_size)
    ct = np.cos(np.arange(ty.numel())).reshape(tuple(ty.shape))
    (ty * torch.tensor(ct)).sum().backward()
    y, g = _ours(ours, backend, x, output_size, ct)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=0, atol=1e-14)
    yi, i = ours(xg.asarray(x, backend=backend), output_size, return_indices=True)
    np.testing.assert_array_equal(yi.numpy(), y)
    np.testing.assert_array_equal(i.numpy(), theirs(tx, output_size, return_indices=True)[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_and_inf_as_torch(backend):
    x = _data((2, 2, 9, 10), 3)
    x[0, 0, 1, 1] = x[0, 0, 1, 3] = x[1, 1, 8, 0] = np.nan
    x[0, 1] = -np.inf
    for size in ((4, 3), 1, (9, 5), (3, 7)):
        tx = torch.tensor(x, requires_grad=True)
        ty = F.adaptive_max_pool2d(tx, size)
        ty.sum().backward()
        xt = xg.asarray(x, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(xt)
            y = xg.nn.adaptive_max_pool2d(xt, size)
            loss = xg.sum(y)
        np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
        np.testing.assert_array_equal(tape.gradient(loss, xt).numpy(), tx.grad.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_uniform_and_primitive_paths_are_taken(backend, monkeypatch):
    from xpgrad.nn import adaptive_pooling

    calls = []
    for name in ("adaptive_max_pool", "max_pool2d"):
        def spy(*args, _name=name, _fn=getattr(adaptive_pooling, name), **kwargs):
            calls.append(_name)
            return _fn(*args, **kwargs)
        monkeypatch.setattr(adaptive_pooling, name, spy)
    x = xg.asarray(_data((1, 2, 8, 9)), backend=backend)
    xg.nn.adaptive_max_pool2d(x, (4, 3))          # uniform: max_pool where it has a kernel
    uniform = "max_pool2d" if "max_pool" in x.backend.kernels else "adaptive_max_pool"
    assert calls == [uniform]
    xg.nn.adaptive_max_pool2d(x, (3, 3))
    assert calls == [uniform, "adaptive_max_pool"]
    xg.nn.adaptive_max_pool2d(x, (3, 3), return_indices=True)     # the composition
    assert calls == [uniform, "adaptive_max_pool"]


@pytest.mark.skipif(not HAS_NUMBA, reason="Numba is not installed")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape, out", [((2, 3, 7, 9), (3, 4)), ((2, 3, 5, 4), (7, 6)),
                                        ((2, 3, 11), (4,)), ((1, 2, 40, 3), (3, 2))])
def test_kernel_matches_generic_rule(shape, out, dtype):
    from xpgrad.backends.numba import _pool

    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, size=shape).astype(dtype)
    x.flat[3] = np.nan
    x.flat[-2] = -np.inf
    params = {"out": out, "backend": xg.get_backend("numpy")}
    prim, kernel = PRIMITIVES["adaptive_max_pool"], _pool.KERNELS["adaptive_max_pool"]
    want = prim.forward(np, x, **params)
    got, pick = kernel.forward(x, **params)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(pick.reshape(shape[:2] + (-1,)),
                                  amp.adaptive_argmax(np, x, out))
    g = rng.standard_normal(want.shape).astype(dtype)
    dx, = kernel.vjp(g, pick, x, **params)
    dense = prim.vjp(np, g, want, (True,), (x,), params)[0]
    np.testing.assert_allclose(dx, dense, rtol=1e-6, atol=1e-6)


@pytest.mark.skipif(not HAS_NUMBA, reason="Numba is not installed")
@pytest.mark.parametrize("shape, out", [((2, 3, 70), (2,)), ((2, 3, 36, 36), (6, 6))])
def test_wide_windows_take_the_numpy_search(shape, out, monkeypatch):
    """Windows of more than ADAPTIVE_WINDOW_MAX entries: the NumPy backend's search, not the
    loop (the passes over all windows are faster there); values, positions in the kernel's
    layout, and the gradient as the generic rule's, NaN and ties included."""
    from xpgrad.backends.numba import _pool

    calls = []
    monkeypatch.setattr(_pool, "adaptive_max_pool_fwd", lambda *a: calls.append(1))
    kernel, numpy = _pool.KERNELS["adaptive_max_pool"], xg.get_backend("numpy")
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, size=shape).astype(np.float64)
    x.flat[5] = np.nan
    got, pick = kernel.forward(x, out=out, backend=numpy)
    assert calls == [] and pick.shape == got.shape
    prim = PRIMITIVES["adaptive_max_pool"]
    want = prim.forward(np, x, out=out, backend=numpy)
    np.testing.assert_array_equal(got, want)
    g = rng.standard_normal(want.shape)
    dx, = kernel.vjp(g, pick, x, out=out, backend=numpy)
    np.testing.assert_array_equal(dx, prim.vjp(np, g, want, (True,), (x,),
                                               {"out": out, "backend": numpy})[0])
    narrow = x[..., :_pool.ADAPTIVE_WINDOW_MAX * 2] if len(shape) == 3 else x
    kernel.forward(narrow, out=out if len(shape) == 3 else (9, 9), backend=numpy)
    assert calls == [1]                 # 32 entries a window (4x4 on the 9x9 grid): the loop


@pytest.mark.skipif(not HAS_NUMBA, reason="Numba is not installed")
@pytest.mark.parametrize("size", [7, (3, 5), 8])
def test_numba_equals_numpy_in_float32(size):
    x = _data((4, 3, 32, 30), 5).astype(np.float32)
    ct = np.sin(np.arange(4 * 3 * 64)).astype(np.float32)
    outs = []
    for backend in ("numpy", "numba"):
        y0 = xg.nn.adaptive_max_pool2d(xg.asarray(x), size)
        outs.append(_ours(xg.nn.adaptive_max_pool2d, backend, x, size,
                          ct[:y0.size].reshape(y0.shape)))
    np.testing.assert_array_equal(outs[1][0], outs[0][0])
    # overlapping windows add gradients: numpy's bincount in float64, numba's in float32
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_finite_differences_and_second_order(backend):
    x = xg.asarray(_data((1, 2, 7, 5), 4), backend=backend)
    for size in ((3, 2), (7, 5), 1):
        xg.testing.check_grads(lambda t: xg.nn.adaptive_max_pool2d(t * t, size), (x,))
    # second order: d/dx <grad of sum(pool(x)^2), v> = 2 v at the picked positions
    v = xg.asarray(_data((1, 2, 7, 5), 6), backend=backend)
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            loss = xg.sum(xg.nn.adaptive_max_pool2d(x, (3, 2)) ** 2)
        dot = xg.sum(inner.gradient(loss, x) * v)
    tx = torch.tensor(x.numpy(), requires_grad=True)
    (g,) = torch.autograd.grad((F.adaptive_max_pool2d(tx, (3, 2)) ** 2).sum(), tx,
                               create_graph=True)
    (want,) = torch.autograd.grad((g * torch.tensor(v.numpy())).sum(), tx)
    np.testing.assert_allclose(outer.gradient(dot, x).numpy(), want.numpy(), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_compiled_step_equals_eager(backend):
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.sin(xg.nn.adaptive_max_pool2d(x, (3, 4)))) + \
                xg.sum(xg.nn.adaptive_max_pool1d(x[:, :, 0], 5) ** 2)
        return [loss, tape.gradient(loss, x)]

    compiled = xg.function(step)
    for seed in range(3):
        x = xg.asarray(_data((2, 3, 7, 9), seed), backend=backend)
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert compiled.trace_count == 1
