"""The Numba backend's softmax and log-softmax kernels (``backends/numba/_softmax.py``) against the
generic rule (NumPy arrays, no kernels), PyTorch, and finite differences; the axes, dtypes and
values they decline or must pass through."""
import numpy as np
import pytest

pytest.importorskip("numba")
import xpgrad as xg  # noqa: E402
from xpgrad.backends.numba import _config, _softmax  # noqa: E402
from xpgrad.backends.numpy import NumpyBackend  # noqa: E402

GENERIC = NumpyBackend()
GENERIC.kernels = {}
GENERIC.name = "numpy-generic"
FUNCTIONS = {"softmax": xg.nn.softmax, "log_softmax": xg.nn.log_softmax}
# float32: a row's sum (of up to 1000 entries) is added in another order than NumPy's pairwise
# sum, so log-softmax's gradient g - exp(y) * sum(g) differs by a few float32 ulps of sum(g)
TOL = {np.float32: dict(rtol=3e-6, atol=2e-6), np.float64: dict(rtol=1e-13, atol=1e-14)}


def value_and_grad(backend, name, x, weights, axis=-1):
    X = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(X)
        y = FUNCTIONS[name](X, axis=axis)
        total = xg.sum(y * xg.asarray(weights, backend=backend))
    return y.numpy(), tape.gradient(total, X).numpy()


def compare(name, x, w, axis=-1):
    with np.errstate(invalid="ignore", over="ignore"):
        got = value_and_grad("numba", name, x, w, axis)
        expected = value_and_grad(GENERIC, name, x, w, axis)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, **TOL[x.dtype.type])
    return got


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (3, 4, 33), (64, 1000), (5, 16)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_equals_the_generic_rule(name, dtype, shape, threaded, monkeypatch):
    if threaded:
        monkeypatch.setattr(_config, "ROW_PAR_MIN", 0)
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    x.reshape(-1, shape[-1])[0, :2] = [80.0, -80.0][:shape[-1]]
    compare(name, x, rng.standard_normal(shape).astype(dtype))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_the_kernel_runs_and_saves_only_its_output(name):
    kernel = xg.get_backend("numba").kernels[name]
    assert kernel is _softmax.KERNELS[name]
    assert kernel.keep_output and not any(kernel.keep_inputs or ())
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    out, saved = kernel.forward(x, axis=1)
    assert saved is out


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_other_axes_non_contiguous_and_integers_take_the_generic_rule(name):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 9))
    kernel = _softmax.KERNELS[name]
    assert kernel.forward(x, axis=0) is None
    assert kernel.forward(np.arange(6), axis=0) is None
    compare(name, x, rng.standard_normal(x.shape), axis=0)
    compare(name, np.asfortranarray(x), rng.standard_normal(x.shape))
    compare(name, x[:, ::2], rng.standard_normal((6, 5)))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_infinities_and_nan_as_the_generic_rule(name):
    x = np.array([[0.0, -np.inf, 1.0], [np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0],
                  [-np.inf, -np.inf, -np.inf], [1e30, -1e30, 0.0]], np.float32)
    compare(name, x, np.ones_like(x))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradient_matches_finite_differences(name):
    x = xg.asarray(np.random.default_rng(2).standard_normal((3, 4)), backend="numba")
    w = xg.asarray(np.random.default_rng(3).standard_normal((3, 4)), backend="numba")
    xg.testing.check_grads(lambda t: xg.sum(FUNCTIONS[name](t) * w), (x,))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((50, 130)), rng.standard_normal((50, 130))
    y, g = value_and_grad("numba", name, x, w)
    tx = torch.tensor(x, requires_grad=True)
    ty = getattr(torch, name)(tx, dim=-1)
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-11, atol=1e-13)


def test_second_order_runs_the_generic_rules():
    x = xg.asarray(np.array([[0.3, -1.2, 2.0]]), backend="numba")
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = xg.sum(xg.nn.softmax(x) * xg.asarray([[1.0, 2.0, 3.0]], backend="numba"))
        g = inner.gradient(y, x)
        gg = xg.sum(g * g)
    got = outer.gradient(gg, x).numpy()
    xn = xg.asarray(x.numpy(), backend="numpy")
    with xg.GradientTape() as outer:
        outer.watch(xn)
        with xg.GradientTape() as inner:
            inner.watch(xn)
            y = xg.sum(xg.nn.softmax(xn) * xg.asarray([[1.0, 2.0, 3.0]], backend="numpy"))
        g = inner.gradient(y, xn)
        gg = xg.sum(g * g)
    np.testing.assert_allclose(got, outer.gradient(gg, xn).numpy(), rtol=1e-12)


@pytest.mark.parametrize("threaded", [False, True])
def test_log_softmax_keeps_its_digits_at_large_logits(threaded, monkeypatch):
    """float32 logits near +-1e4 (ulp 1e-3): the loop's ``reassoc`` turned ``(x - m) - log s``
    into ``x - (m + log s)``, off by up to 5e-4 in a log-probability near 1."""
    if threaded:
        monkeypatch.setattr(_config, "ROW_PAR_MIN", 0)
    x = np.array([[-1e4] * 5, [-1e4, -1e4 + 0.5, -2e4, -1e4, -1e4], [1e4, 1e4 - 1, 0, 3, -3]],
                 np.float32)
    w = np.random.default_rng(5).standard_normal(x.shape).astype(np.float32)
    y, g = value_and_grad("numba", "log_softmax", x, w)
    x64 = x.astype(np.float64)
    m = x64.max(axis=1, keepdims=True)
    exact = (x64 - m) - np.log(np.exp(x64 - m).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(y, exact, rtol=2e-7, atol=1e-6)
    np.testing.assert_allclose(g, w - np.exp(exact) * w.sum(axis=1, keepdims=True), rtol=1e-5,
                               atol=2e-6)
