"""xg.nn.adaptive_avg/max_pool1d/2d and the AdaptiveAvgPool1d ... AdaptiveMaxPool2d layers
against PyTorch's in float64 (values, input gradients, indices) on numpy and numba: sizes that
divide and that do not, output larger than the input, None (keep that axis), output 0,
unbatched input, tied maxima, NaN; the layers; bad arguments."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional

BACKENDS = ["numpy"] + (["numba"] if backend_report().get(
    "numba", {"available": False})["available"] else [])

# (input shape, output_size)
CASES_2D = [((2, 3, 8, 6), (4, 3)), ((2, 3, 7, 5), (3, 4)), ((2, 3, 5, 5), (7, 9)),
            ((2, 3, 6, 7), (None, 4)), ((2, 3, 6, 7), (5, None)), ((2, 3, 9, 9), 1),
            ((3, 5, 11), 4)]
CASES_1D = [((2, 3, 8), 4), ((2, 3, 10), 3), ((2, 3, 4), 7), ((2, 3, 5), (1,)), ((3, 9), 5)]


def _run(fn, backend, x, *args, **kwargs):
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        out = fn(xt, *args, **kwargs)
        y = out[0] if isinstance(out, tuple) else out
        ct = xg.asarray(np.cos(np.arange(y.size)).reshape(y.shape), backend=backend)
        loss = xg.sum(y * ct)
    return out, tape.gradient(loss, xt).numpy()


def _torch_run(fn, x, *args, **kwargs):
    tx = torch.tensor(x, requires_grad=True)
    out = fn(tx, *args, **kwargs)
    y = out[0] if isinstance(out, tuple) else out
    (y * torch.tensor(np.cos(np.arange(y.numel())).reshape(y.shape))).sum().backward()
    return out, tx.grad.numpy()


def _data(shape, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    if ties:                                  # few distinct values: ties in every window
        return rng.integers(0, 3, size=shape).astype(np.float64)
    return rng.standard_normal(shape)


def _compare(ours, theirs, backend, x, output_size):
    (y, idx), g = _run(ours, backend, x, output_size, return_indices=True)
    (ty, ti), tg = _torch_run(theirs, x, output_size, return_indices=True)
    assert y.shape == tuple(ty.shape) and idx.dtype == xg.int64
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), ti.numpy())
    np.testing.assert_allclose(g, tg, rtol=0, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, output_size", CASES_2D)
def test_adaptive_2d_matches_torch(backend, shape, output_size):
    x = _data(shape)
    y, g = _run(xg.nn.adaptive_avg_pool2d, backend, x, output_size)
    ty, tg = _torch_run(F.adaptive_avg_pool2d, x, output_size)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g, tg, rtol=1e-13, atol=1e-15)
    _compare(xg.nn.adaptive_max_pool2d, F.adaptive_max_pool2d, backend, x, output_size)
    _compare(xg.nn.adaptive_max_pool2d, F.adaptive_max_pool2d, backend,
             _data(shape, 1, ties=True), output_size)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, output_size", CASES_1D)
def test_adaptive_1d_matches_torch(backend, shape, output_size):
    x = _data(shape)
    y, g = _run(xg.nn.adaptive_avg_pool1d, backend, x, output_size)
    ty, tg = _torch_run(F.adaptive_avg_pool1d, x, output_size)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g, tg, rtol=1e-13, atol=1e-15)
    _compare(xg.nn.adaptive_max_pool1d, F.adaptive_max_pool1d, backend, x, output_size)
    _compare(xg.nn.adaptive_max_pool1d, F.adaptive_max_pool1d, backend,
             _data(shape, 2, ties=True), output_size)


@pytest.mark.parametrize("fn, dims, size", [("adaptive_avg_pool2d", 2, 0),
                                            ("adaptive_max_pool2d", 2, (0, 2)),
                                            ("adaptive_avg_pool1d", 1, 0),
                                            ("adaptive_max_pool1d", 1, 0)])
def test_output_size_0_is_empty_as_torch(fn, dims, size):
    x = _data((2, 3) + (4,) * dims)
    y, g = _run(getattr(xg.nn, fn), "numpy", x, size)    # torch's backward refuses empty ones
    assert y.shape == tuple(getattr(F, fn)(torch.tensor(x), size).shape)
    np.testing.assert_array_equal(g, np.zeros_like(x))


def test_nan_gives_nan_at_the_last_nan_as_torch():
    x = _data((1, 2, 5, 6), 3)
    x[0, 0, 1, 1] = x[0, 0, 1, 3] = x[0, 1, 4, 0] = np.nan
    for size in (1, (2, 3), (3, 4)):
        y, i = xg.nn.adaptive_max_pool2d(xg.asarray(x), size, return_indices=True)
        ty, ti = F.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())       # NaN where torch's is
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(4)
    x = xg.asarray(rng.standard_normal((1, 2, 5, 4)))
    xg.testing.check_grads(lambda t: xg.nn.adaptive_avg_pool2d(t, (3, 3)), (x,))
    xg.testing.check_grads(lambda t: xg.nn.adaptive_max_pool2d(t, (2, 3)), (x,))


def test_layers_match_the_functions():
    x = xg.asarray(_data((2, 3, 7, 6)))
    for layer, fn, size in ((xg.nn.AdaptiveAvgPool2d, xg.nn.adaptive_avg_pool2d, (None, 2)),
                            (xg.nn.AdaptiveMaxPool2d, xg.nn.adaptive_max_pool2d, 3),
                            (xg.nn.AdaptiveAvgPool1d, xg.nn.adaptive_avg_pool1d, 4),
                            (xg.nn.AdaptiveMaxPool1d, xg.nn.adaptive_max_pool1d, [4])):
        inp = x[:, :, 0] if "1d" in layer.__name__ else x
        np.testing.assert_array_equal(layer(size)(inp).numpy(), fn(inp, size).numpy())
    y, i = xg.nn.AdaptiveMaxPool2d(2, return_indices=True)(x)
    ty, ti = torch.nn.AdaptiveMaxPool2d(2, return_indices=True)(torch.tensor(x.numpy()))
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    assert "output_size=(None, 3)" in repr(xg.nn.AdaptiveAvgPool2d((None, 3)))
    assert xg.nn.AdaptiveAvgPool2d(1).trainable_variables == []


def test_bad_input():
    x = xg.ones((2, 3, 4, 4))
    with pytest.raises(ValueError, match="adaptive_avg_pool2d: output_size must be non-neg"):
        xg.nn.adaptive_avg_pool2d(x, (2, -1))
    with pytest.raises(ValueError, match="adaptive_max_pool2d: output_size must be an int or "
                                         "a pair"):
        xg.nn.adaptive_max_pool2d(x, (1, 2, 3))
    with pytest.raises(TypeError, match="adaptive_avg_pool2d: output_size"):
        xg.nn.adaptive_avg_pool2d(x, 2.0)
    with pytest.raises(TypeError, match="adaptive_avg_pool1d: output_size must be an int"):
        xg.nn.adaptive_avg_pool1d(xg.ones((2, 3, 4)), (None,))
    with pytest.raises(TypeError, match="AdaptiveMaxPool1d: output_size"):
        xg.nn.AdaptiveMaxPool1d(True)
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size must be non-negative"):
        xg.nn.AdaptiveAvgPool2d(-2)
    with pytest.raises(TypeError, match="AdaptiveMaxPool2d: return_indices"):
        xg.nn.AdaptiveMaxPool2d(2, return_indices="yes")
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: input must be \(N, C, H, W\)"):
        xg.nn.adaptive_avg_pool2d(xg.ones((4, 4)), 2)
    with pytest.raises(ValueError, match="adaptive_max_pool1d: input must be"):
        xg.nn.adaptive_max_pool1d(x, 2)
    with pytest.raises(ValueError, match="adaptive_max_pool2d: input must have non-empty"):
        xg.nn.adaptive_max_pool2d(xg.ones((2, 3, 0, 4)), 2)
    with pytest.raises(TypeError, match="adaptive_avg_pool2d: input must hold real"):
        xg.nn.adaptive_avg_pool2d(xg.ones((2, 3, 4, 4), dtype=xg.int64), 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_compiled_training_step_equals_eager(backend):
    """Both max-pool paths (short windows: running comparisons; long ones: argmax) and the
    average pool's matmuls and mean, replayed by xg.function on new data."""
    def model():
        w = xg.Variable(np.random.default_rng(0).normal(size=(3 * (4 + 1 + 9 + 1 + 6), 2)),
                        name="w", backend=backend)
        opt = xg.optim.SGD(0.1, momentum=0.9)

        def step(x):
            with xg.GradientTape() as tape:
                pooled = [xg.nn.adaptive_max_pool2d(x, 2), xg.nn.adaptive_max_pool2d(x, 1),
                          xg.nn.adaptive_avg_pool2d(x, (3, 3)),
                          xg.nn.adaptive_avg_pool2d(x, 1), xg.nn.adaptive_max_pool2d(x, (3, 2))]
                h = xg.concat([xg.reshape(p, (x.shape[0], -1)) for p in pooled], axis=1)
                loss = xg.sum(xg.tanh(h @ w))
            opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
            return loss
        return step, w

    (eager, w_eager), (step, w) = model(), model()
    compiled = xg.function(step)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = xg.asarray(rng.normal(size=(2, 3, 7, 6)), backend=backend)
        np.testing.assert_allclose(compiled(x).numpy(), eager(x).numpy(), rtol=1e-13)
        np.testing.assert_allclose(w.numpy(), w_eager.numpy(), rtol=1e-13)
    assert compiled.trace_count == 1
