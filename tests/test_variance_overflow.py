"""Variances whose sum of squares overflows: float32 data with N * std**2 > 3.4e38 (std 1e19
over 1000 entries) gave inf from ``xg.var``/``xg.std`` and 0 (or NaN) from the normalization
layers on the numpy backend; now they are rescaled (``xpgrad.ops.moments``). Values and
gradients against PyTorch in float64 (PyTorch's own float32 layers give 0 here), ordinary data
against PyTorch in float32 and float64, on every host backend."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")
F = torch.nn.functional
BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


def _data(scale, dtype, shape=(4, 6, 50), seed=0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def _close(got, want, rtol):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("correction", [0, 1])
def test_var_std_of_float32_data_near_1e19_match_torch(backend, correction):
    data = _data(1e19, np.float32, (1000,))
    x = xg.asarray(data, backend=backend)
    t = torch.tensor(data)
    assert math.isfinite(xg.var(x, correction=correction).item())
    _close(xg.var(x, correction=correction).numpy(),
           torch.var(t, correction=correction).numpy(), 1e-5)
    _close(xg.std(x, correction=correction).numpy(),
           torch.std(t, correction=correction).numpy(), 1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("keepdims", [False, True])
def test_var_std_per_axis_and_gradients_match_torch_float64(backend, keepdims):
    data = _data(1e19, np.float32, (3, 1000, 2))
    data[0] /= 1e19                                     # an ordinary slice beside huge ones
    x = xg.asarray(data, backend=backend)
    t = torch.tensor(data.astype(np.float64), requires_grad=True)
    for ours, theirs in ((xg.var, torch.var), (xg.std, torch.std)):
        ty = theirs(t, dim=1, correction=1, keepdim=keepdims)
        weight = 1.0 / ty.max().item()                 # the sum of the variances stays finite
        (tg,) = torch.autograd.grad((ty * weight).sum(), t)
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = ours(x, axis=1, correction=1, keepdims=keepdims)
            total = xg.sum(y * weight)
        g = tape.gradient(total, x).numpy()
        _close(y.numpy(), ty.detach().numpy(), 1e-5)
        _close(g, tg.numpy(), 1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_variance_beyond_float32_is_inf_but_std_is_right(backend):
    data = _data(3e19, np.float32, (1000,))            # var 9e38 > 3.4e38
    x = xg.asarray(data, backend=backend)
    assert xg.var(x).item() == math.inf
    _close(xg.std(x).numpy(), np.float64(data.astype(np.float64).std()), 1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_and_inf_inputs_still_give_nan_without_warnings(backend):
    x = xg.asarray(np.array([1.0, np.nan, 3.0], np.float32), backend=backend)
    y = xg.asarray(np.array([1.0, np.inf, 3.0], np.float32), backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(xg.var(x).item()) and math.isnan(xg.std(y).item())


def _layers():
    return {
        "layer_norm": (lambda x, w, b: xg.nn.layer_norm(x, 50, w, b),
                       lambda x, w, b: F.layer_norm(x, (50,), w, b), (50,)),
        "group_norm": (lambda x, w, b: xg.nn.group_norm(x, 3, w, b),
                       lambda x, w, b: F.group_norm(x, 3, w, b), (6,)),
        "batch_norm": (lambda x, w, b: xg.nn.batch_norm(x, None, None, w, b, training=True),
                       lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (6,)),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scale,dtype", [(1e19, np.float32), (1.0, np.float32),
                                         (1.0, np.float64), (1e-3, np.float64)])
@pytest.mark.parametrize("name", sorted(_layers()))
def test_normalization_values_and_gradients_match_torch(name, scale, dtype, backend):
    """Huge float32 data against PyTorch in float64 (its float32 gives 0 there); ordinary data
    against PyTorch in the same dtype."""
    ours, theirs, affine_shape = _layers()[name]
    data = _data(scale, dtype)
    rng = np.random.default_rng(1)
    w0, b0 = (rng.standard_normal(affine_shape).astype(dtype) for _ in range(2))
    g0 = rng.standard_normal(data.shape).astype(dtype)
    x, w, b = (xg.asarray(a, backend=backend) for a in (data, w0, b0))
    with xg.GradientTape() as tape:
        tape.watch([x, w, b])
        y = ours(x, w, b)
        total = xg.sum(y * xg.asarray(g0, backend=backend))
    grads = [a.numpy() for a in tape.gradient(total, [x, w, b])]
    ref = np.float64 if scale > 1e10 else dtype
    tx, tw, tb = (torch.tensor(a.astype(ref), requires_grad=True) for a in (data, w0, b0))
    ty = theirs(tx, tw, tb)
    tgrads = torch.autograd.grad((ty * torch.tensor(g0.astype(ref))).sum(), [tx, tw, tb])
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    _close(y.numpy(), ty.detach().numpy(), rtol)
    for got, want in zip(grads, tgrads):
        _close(got, want.numpy(), rtol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["layer_norm", "group_norm"])
def test_normalization_of_data_whose_variance_passes_float32(name, backend):
    """std 3e19: the variance itself is inf in float32, but the rescaled rstd is right."""
    ours, theirs, affine_shape = _layers()[name]
    data = _data(3e19, np.float32)
    y = ours(xg.asarray(data, backend=backend), None, None).numpy()
    want = theirs(torch.tensor(data.astype(np.float64)), None, None).numpy()
    _close(y, want, 1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_norm_running_variance_of_huge_float32_data(backend):
    data = _data(1e19, np.float32, (1000, 3))
    with xg.use_backend(backend):
        layer = xg.nn.BatchNorm1d(3, momentum=1.0)
        layer(xg.asarray(data, backend=backend))
    want = data.astype(np.float64).var(axis=0, ddof=1)
    _close(layer.running_var.numpy(), want, 1e-5)
