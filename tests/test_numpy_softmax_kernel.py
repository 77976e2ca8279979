"""The NumPy backend's softmax and log-softmax kernels (``backends/numpy/softmax.py``) through
the tape against the generic rule (the same backend without kernels), PyTorch, and finite
differences; what they decline (another axis, an empty array) and the bad axis."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import NumpyBackend

torch = pytest.importorskip("torch")

GENERIC = NumpyBackend()
GENERIC.kernels = {}
GENERIC.name = "numpy-generic"
FUNCTIONS = {"softmax": xg.nn.softmax, "log_softmax": xg.nn.log_softmax}
TORCH = {"softmax": torch.softmax, "log_softmax": torch.log_softmax}
TOL = {np.float32: dict(rtol=4e-6, atol=2e-6), np.float64: dict(rtol=1e-13, atol=1e-14)}


def value_and_grad(backend, name, x, weights, axis=-1):
    X = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(X)
        y = FUNCTIONS[name](X, axis=axis)
        total = xg.sum(y * xg.asarray(weights, backend=backend))
    return y.numpy(), tape.gradient(total, X).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5,), (7, 3), (2, 3, 600), (128, 256)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_kernel_equals_generic_rule_and_torch(name, shape, dtype):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    w = rng.standard_normal(shape).astype(dtype)
    assert xg.get_backend("numpy").kernels.get(name) is not None
    got = value_and_grad("numpy", name, x, w)
    want = value_and_grad(GENERIC, name, x, w)
    for a, b in zip(got, want):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = TORCH[name](tx, -1)
    (ty * torch.tensor(w.astype(np.float64))).sum().backward()
    np.testing.assert_allclose(got[0], ty.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(got[1], tx.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_gradient_matches_finite_differences(name):
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    _, grad = value_and_grad("numpy", name, x, w)
    h, numeric = 1e-6, np.empty_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        f = lambda z: float((value_and_grad("numpy", name, z, w)[0] * w).sum())  # noqa: E731
        numeric[i] = (f(up) - f(down)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_edges_pass_through_as_the_generic_rule(name):
    """Rows with +-inf, NaN, all -inf, huge logits: the same values and NaNs as the rule (the
    finite gradients within float32's tolerance: log_softmax's scales the forward's
    exponentials, the rule exponentiates its output)."""
    x = np.array([[0.0, np.inf, 1.0], [-np.inf, -np.inf, -np.inf], [np.nan, 0.0, 1.0],
                  [1e30, -1e30, 0.0], [-np.inf, 2.0, 3.0]], np.float32)
    w = np.ones_like(x)
    got = value_and_grad("numpy", name, x, w)      # no RuntimeWarning for inf - inf (pyproject
    want = value_and_grad(GENERIC, name, x, w)     # makes xpgrad's warnings errors)
    with torch.no_grad():
        np.testing.assert_allclose(got[0], TORCH[name](torch.tensor(x), -1).numpy(),
                                   **TOL[np.float32])
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(np.isnan(got[1]), np.isnan(want[1]))
    np.testing.assert_allclose(got[1], want[1], **TOL[np.float32])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_declines_other_axes_and_empty_arrays(name):
    kernel = xg.get_backend("numpy").kernels[name]
    x = np.ones((3, 4), np.float32)
    assert kernel.forward(x, axis=0) is None
    assert kernel.forward(np.ones((0, 4), np.float32), axis=1) is None
    assert kernel.forward(np.ones((3, 4), np.int64), axis=1) is None
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    for a, b in zip(value_and_grad("numpy", name, x, w, axis=0),
                    value_and_grad(GENERIC, name, x, w, axis=0)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_bad_axis_names_the_argument(name):
    with pytest.raises(Exception, match="axis"):
        FUNCTIONS[name](xg.ones((2, 3)), axis=5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("top", [0.0, 3.0, 64.0, 64.5, 90.0, -0.5, -200.0])
def test_softmax_with_and_without_the_shift_against_the_exact_one(top, dtype):
    """Rows whose maxima lie in [0, 64] take exp(x) unshifted (``_exponentials``): within 8 ulp
    of softmax in long double where the values are normal (the shifted rule is 32 ulp off on
    these rows: it rounds x - max, up to 40 here); one row past either end shifts them all, and
    the values are the rule's (``TOL``); no overflow at 90, no NaN at -200."""
    import array_api_compat.numpy as npx

    from xpgrad.primitive import PRIMITIVES

    rng = np.random.default_rng(6)
    x = (rng.standard_normal((64, 300)) * 6).astype(dtype)
    x -= x.max(axis=1, keepdims=True) - dtype(2.0)       # every row's maximum 2
    x[7] += dtype(top - 2.0)                              # one row's maximum: top
    kernel = xg.get_backend("numpy").kernels["softmax"]
    got, _ = kernel.forward(x, axis=1)
    wide = x.astype(np.longdouble)
    e = np.exp(wide - wide.max(axis=1, keepdims=True))
    want = (e / e.sum(axis=1, keepdims=True)).astype(np.float64)
    normal = want > np.finfo(dtype).tiny
    spacing = np.spacing(want.astype(dtype)).astype(np.float64)
    error = (np.abs(got - want) / spacing)[normal]
    assert np.isfinite(got).all()
    if 0.0 <= top <= 64.0:
        assert error.max() <= 8
    else:
        rule = PRIMITIVES["softmax"].forward(npx, x, axis=1)
        np.testing.assert_allclose(got, rule, **TOL[dtype])


@pytest.mark.parametrize("shape", [(128, 256), (1500, 256)])      # one block, and by blocks
def test_log_softmax_shift_without_blas_is_the_same_bits_and_quiet(shape, monkeypatch):
    """The rows less their maxima by ``blas.subtract_column`` and, where that declines (no
    BLAS), by NumPy's subtraction: the same bits, and NaN rows (+inf in a row, a row of -inf)
    with no floating-point warning either way."""
    from xpgrad.backends.numpy import softmax

    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    x[3, 5], x[4] = np.inf, -np.inf
    kernel = xg.get_backend("numpy").kernels["log_softmax"]
    with np.errstate(all="raise"):
        with_blas = kernel.forward(x, axis=1)[0]
        monkeypatch.setattr(softmax.blas, "subtract_column", lambda c, column: False)
        without = kernel.forward(x, axis=1)[0]
    np.testing.assert_array_equal(with_blas, without)
    assert np.isnan(with_blas[3]).all() and np.isnan(with_blas[4]).all()
    assert np.isfinite(np.delete(with_blas, [3, 4], axis=0)).all()
