"""The NumPy backend's normalization kernels (``backends/numpy/normalization.py``) against the
generic rules: layer_norm's (cache-sized blocks of rows, the rows' mean and rstd saved) and
batch_norm's (per-channel scale and shift) for every affine combination, inputs spanning many
blocks, a strided input, a broadcast output gradient, gradients asked for one at a time, and
the cases they decline."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.normalization import layer_norm_forward, layer_norm_vjp
from xpgrad.ops.nn import _layer_norm_forward, _layer_norm_vjp


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("shape, k", [((7, 5), 1), ((3, 4, 6), 2), ((20000, 10), 1),
                                      ((3, 70000), 1), ((1, 1), 1)])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)])
def test_kernel_equals_the_generic_rule(dtype, tol, shape, k, affine, rng):
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    params = [rng.standard_normal(shape[-k:]).astype(dtype) for present in affine if present]
    kw = dict(k=k, eps=1e-5, affine=affine)
    y, saved = layer_norm_forward(x, *params, **kw)
    np.testing.assert_allclose(y, _layer_norm_forward(np, x, *params, **kw), rtol=tol, atol=tol)
    g = rng.standard_normal(shape).astype(dtype)
    for i in range(1 + len(params)):
        needs = [j == i for j in range(1 + len(params))]
        got = layer_norm_vjp(g, saved, needs, x, *params, **kw)
        want = _layer_norm_vjp(np, g, y, needs, x, *params, **kw)
        assert [a is None for a in got] == [not n for n in needs]
        scale = max(1.0, float(np.abs(want[i]).max()))
        np.testing.assert_allclose(got[i], want[i], rtol=tol, atol=tol * scale)


def test_strided_input_and_broadcast_gradient(rng):
    x = rng.standard_normal((6, 40))[:, ::2]
    w, b = rng.standard_normal(20), rng.standard_normal(20)
    kw = dict(k=1, eps=1e-5, affine=(True, True))
    y, saved = layer_norm_forward(x, w, b, **kw)
    g = np.broadcast_to(np.float64(2.0), x.shape)
    got = layer_norm_vjp(g, saved, [True] * 3, x, w, b, **kw)
    want = _layer_norm_vjp(np, np.full(x.shape, 2.0), y, [True] * 3, x, w, b, **kw)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


def test_kernel_declines_what_it_does_not_cover():
    kw = dict(k=1, eps=1e-5, affine=(True, False))
    assert layer_norm_forward(np.ones((2, 3), np.float16), np.ones(3, np.float16), **kw) is None
    assert layer_norm_forward(np.ones((2, 3)), np.ones(3, np.float32), **kw) is None
    assert layer_norm_forward(np.ones((0, 3)), np.ones(3), **kw) is None


def test_the_numpy_backend_takes_gradients_through_it(rng):
    assert "layer_norm" in xg.get_backend("numpy").kernels
    raw = rng.standard_normal((4, 8))
    x = xg.Variable(xg.asarray(raw, dtype=xg.float64))
    with xg.GradientTape() as tape:
        y = xg.nn.layer_norm(x, 8)
        loss = xg.sum(y * y * y)
    g = 3 * y.numpy() ** 2
    want = _layer_norm_vjp(np, g, y.numpy(), [True], raw, k=1, eps=1e-5,
                           affine=(False, False))[0]
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 5), (2, 4, 7), (600, 2, 40)])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)])
def test_batch_norm_kernel_equals_the_generic_rule(dtype, tol, shape, affine, rng):
    from xpgrad.backends.numpy.normalization import batch_norm_forward, batch_norm_vjp
    from xpgrad.ops.batch_norm import _forward, _vjp

    x = (rng.standard_normal(shape) * 2 + 5).astype(dtype)
    axes = (0,) + tuple(range(2, len(shape)))
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    params = [rng.standard_normal(shape[1]).astype(dtype) for present in affine if present]
    kw = dict(eps=1e-5, affine=affine)
    y, saved = batch_norm_forward(x, mean, var, *params, **kw)
    np.testing.assert_allclose(y, _forward(np, x, mean, var, *params, **kw), rtol=tol, atol=tol)
    g = rng.standard_normal(shape).astype(dtype)
    wanted = [0] + [3 + i for i in range(len(params))]
    for i in wanted:
        needs = [j == i for j in range(3 + len(params))]
        got = batch_norm_vjp(g, saved, needs, x, mean, var, *params, **kw)
        want = _vjp(np, g, y, needs, x, mean, var, *params, **kw)
        assert [a is None for a in got] == [not n for n in needs]
        scale = max(1.0, float(np.abs(want[i]).max()))
        np.testing.assert_allclose(got[i], want[i], rtol=tol, atol=tol * scale)


def test_batch_norm_kernel_declines_mixed_dtypes_and_empty_input():
    from xpgrad.backends.numpy.normalization import batch_norm_forward

    one = np.ones((1, 3, 1))
    kw = dict(eps=1e-5, affine=(False, False))
    assert batch_norm_forward(np.ones((2, 3, 4), np.float32), one, one, **kw) is None
    assert batch_norm_forward(np.ones((0, 3, 4)), one, one, **kw) is None
    assert batch_norm_forward(np.ones((2, 3), np.int64), one, one, **kw) is None


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_gradients_of_rows_whose_variance_passes_float32(affine):
    """std 3e19: rows rescaled (rstd about 3e-20, rstd**2 under float32's normals); every
    gradient against float64 PyTorch."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: no reference")
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(6, 300)) * 3e19 + 1e19).astype(np.float32)
    w, b = (rng.normal(size=300).astype(np.float32) for _ in range(2))
    g = rng.normal(size=x.shape).astype(np.float32)
    params = (w, b) if affine else ()
    y, saved = layer_norm_forward(x, *params, k=1, eps=1e-5, affine=(affine, affine))
    got = layer_norm_vjp(g, saved, [True] * (1 + len(params)), x, *params, k=1, eps=1e-5,
                         affine=(affine, affine))
    tx, *tp = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, *params))
    ty = torch.nn.functional.layer_norm(tx, (300,), *(tp or [None, None]), eps=1e-5)
    want = torch.autograd.grad(ty, [tx, *tp], torch.tensor(g.astype(np.float64)))
    for a, t in zip(got, want):
        t = t.numpy()
        assert np.all(np.isfinite(a)) and np.abs(a - t).max() <= 1e-4 * np.abs(t).max()


@pytest.mark.parametrize("offset", [0.0, 0.9, 1.1, 30.0])
def test_float32_rows_either_side_of_the_sums_of_squares_path(offset, rng):
    """Rows whose mean is within a standard deviation of 0 take their variance from the sums of
    squares, the others the centred path; both as accurate as a float64 reference allows (the
    error of rounding the output to float32 a few times), the rows mixed in one block."""
    x64 = rng.standard_normal((64, 300))
    x64 = (x64 - x64.mean(axis=1, keepdims=True)) / x64.std(axis=1, keepdims=True)
    x64[::2] += offset
    x64[1::2] -= offset * 0.5
    x = x64.astype(np.float32)
    w, b = rng.standard_normal(300).astype(np.float32), rng.standard_normal(300).astype(np.float32)
    kw = dict(k=1, eps=1e-5, affine=(True, True))
    y, saved = layer_norm_forward(x, w, b, **kw)
    want = _layer_norm_forward(np, x.astype(np.float64), w.astype(np.float64),
                               b.astype(np.float64), **kw)
    np.testing.assert_allclose(y, want, rtol=0, atol=2e-6 * (1 + np.abs(want).max()))
    g = rng.standard_normal(x.shape).astype(np.float32)
    got = layer_norm_vjp(g, saved, [True] * 3, x, w, b, **kw)
    expected = _layer_norm_vjp(np, g.astype(np.float64), want, [True] * 3, x.astype(np.float64),
                               w.astype(np.float64), b.astype(np.float64), **kw)
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=0, atol=1e-5 * (1 + np.abs(e).max()))
