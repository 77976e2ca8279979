"""float32 accuracy of the NumPy and Numba kernels where their sums used to round in long
float32 chains or an intermediate under/overflowed, against float64 PyTorch references: each
error at most twice PyTorch's own float32 error plus a few float32 ulps.

layer_norm with rows far from zero (mean / std 5e3-1e4; rows of 64 to 1e6 entries), forward
and every gradient; group_norm the same; batch_norm's input gradient with channels whose std
is 1e13-1e18 (and float64 ones of 1e120, against a rescaled reference: the gradient scales as
1 / std); softmax_cross_entropy with probability targets over 4096 to 1e6 classes."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no reference")
F = torch.nn.functional

try:
    import numba  # noqa: F401
    BACKENDS = ["numpy", "numba"]
except ImportError:                   # pragma: no cover - numba is a dependency here
    BACKENDS = ["numpy"]

#: float32 slack on top of twice PyTorch's error: a few ulps of an O(1) result
TINY = 1e-6


def _max_err(a, ref):
    return float(np.abs(np.asarray(a, np.float64) - ref).max())


def _rel_err(a, ref):
    return float(np.linalg.norm(np.asarray(a, np.float64) - ref) / np.linalg.norm(ref))


def _ours(fn, backend, x, *params, g):
    """``fn``'s output and the gradients of ``sum(fn(...) * g)`` for ``x`` and ``params``."""
    ts = [xg.asarray(a, backend=backend) for a in (x, *params)]
    with xg.GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        y = fn(xg, *ts)
        s = xg.sum(y * xg.asarray(g, backend=backend))
    return np.asarray(y), [np.asarray(d) for d in tape.gradient(s, ts)]


def _torch(fn, dtype, x, *params, g):
    ts = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in (x, *params)]
    y = fn(torch, *ts)
    (y * torch.tensor(g, dtype=dtype)).sum().backward()
    return y.detach().numpy().astype(np.float64), [t.grad.numpy().astype(np.float64) for t in ts]


def _check_against_torch(fn, backend, x, *params, g, centred=False):
    """``fn``'s output and gradients within twice PyTorch's float32 error (plus ``TINY``) of
    the float64 reference; ``centred``: the output within a few ulps too."""
    ry, rg = _torch(fn, torch.float64, x, *params, g=g)
    ty, tg = _torch(fn, torch.float32, x, *params, g=g)
    y, grads = _ours(fn, backend, x, *params, g=g)
    assert y.dtype == np.float32
    bound = 2 * _max_err(ty, ry) + TINY
    assert _max_err(y, ry) <= bound, (_max_err(y, ry), _max_err(ty, ry))
    # the layer_norm kernels' means carry what float32 cannot hold (``m + lo``): a few ulps
    # of the O(1) output, where PyTorch's float32 mean is off by up to ulp(1e4) / 2 = 5e-4
    assert not centred or _max_err(y, ry) <= 4e-6, _max_err(y, ry)
    for i, (ours, theirs, ref) in enumerate(zip(grads, tg, rg)):
        assert ours.dtype == np.float32
        err, t_err = _rel_err(ours, ref), _rel_err(theirs, ref)
        assert err <= 2 * t_err + TINY, (i, err, t_err)


def _layer_norm(m, x, w, b):
    n = x.shape[-1]
    if m is xg:
        return xg.nn.layer_norm(x, (n,), weight=w, bias=b)
    return F.layer_norm(x, (n,), weight=w, bias=b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, offset", [((1, 1_000_000), 1e4), ((2, 1_000_000), 1e3),
                                           ((4, 65536), 1e4), ((64, 64), 1e4),
                                           ((64, 256), 5e3), ((4096, 16), 1e4),
                                           ((32, 512), 0.0)])
def test_layer_norm_far_from_zero(backend, shape, offset):
    rng = np.random.default_rng(0)
    x = (offset + rng.standard_normal(shape)).astype(np.float32)
    n = shape[-1]
    w = (1 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    _check_against_torch(_layer_norm, backend, x, w, b, g=g, centred=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, offset", [((64, 64), 1e4), ((1, 300_000), 1e4)])
def test_layer_norm_without_affine_far_from_zero(backend, shape, offset):
    rng = np.random.default_rng(1)
    x = (offset + rng.standard_normal(shape)).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)

    def fn(m, x):
        return xg.nn.layer_norm(x, shape[-1]) if m is xg else F.layer_norm(x, shape[-1:])

    _check_against_torch(fn, backend, x, g=g, centred=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, offset", [((2, 4, 250_000), 1e4), ((8, 6, 5, 5), 1e4)])
def test_group_norm_far_from_zero(backend, shape, offset):
    rng = np.random.default_rng(2)
    x = (offset + rng.standard_normal(shape)).astype(np.float32)
    c = shape[1]
    w = (1 + 0.1 * rng.standard_normal(c)).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)

    def fn(m, x, w, b):
        return (xg.nn.group_norm if m is xg else F.group_norm)(x, 2, w, b)

    _check_against_torch(fn, backend, x, w, b, g=g)


def _batch_norm_grad(backend, x, g):
    c = x.shape[1]
    xx = xg.asarray(x, backend=backend)
    rm = xg.Variable(xg.zeros(c, dtype=xx.dtype, backend=backend), trainable=False)
    rv = xg.Variable(xg.ones(c, dtype=xx.dtype, backend=backend), trainable=False)
    with xg.GradientTape() as tape:
        tape.watch(xx)
        s = xg.sum(xg.nn.batch_norm(xx, rm, rv, training=True) * xg.asarray(g, backend=backend))
    return np.asarray(tape.gradient(s, [xx])[0])


def _torch_batch_norm_grad(x, g, dtype, eps=1e-5):
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    y = F.batch_norm(xt, None, None, training=True, eps=eps)
    (y * torch.tensor(g, dtype=dtype)).sum().backward()
    return xt.grad.numpy().astype(np.float64)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(64, 4), (8, 3, 5, 5)])
@pytest.mark.parametrize("scale", [1e3, 1e13, 1e15, 1e18])
def test_batch_norm_gradient_of_channels_with_a_huge_spread(backend, shape, scale):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    ref = _torch_batch_norm_grad(x, g, torch.float64)
    t_err = _rel_err(_torch_batch_norm_grad(x, g, torch.float32), ref)
    got = _batch_norm_grad(backend, x, g)
    assert got.dtype == np.float32
    assert _rel_err(got, ref) <= 2 * t_err + TINY, (_rel_err(got, ref), t_err)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_norm_gradient_of_float64_channels_near_the_top_of_the_range(backend):
    # rstd**3 of a std of 1e120 is 1e-360, below float64's range; the gradient of x * s is the
    # gradient of x divided by s, so the reference is computed at unit scale (where eps = 1e-5
    # is not negligible: eps 1e-300 there, PyTorch refuses 0)
    rng = np.random.default_rng(4)
    unit = rng.standard_normal((32, 3, 4))
    g = rng.standard_normal(unit.shape)
    ref = _torch_batch_norm_grad(unit, g, torch.float64, eps=1e-300) / 1e120
    got = _batch_norm_grad(backend, unit * 1e120, g)
    assert _rel_err(got, ref) < 1e-12


def _sce(m, logits, probs):
    if m is xg:
        return xg.losses.softmax_cross_entropy(logits, probs, reduction="none")
    return F.cross_entropy(logits, probs, reduction="none")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, scale", [((2, 1_000_000), 80.0), ((2, 1_000_000), 1.0),
                                          ((4, 32771), 30.0), ((16, 4096), 30.0),
                                          ((64, 1000), 30.0), ((64, 100), 30.0)])
def test_softmax_cross_entropy_with_probabilities_over_many_classes(backend, shape, scale):
    rng = np.random.default_rng(5)
    logits = (rng.standard_normal(shape) * scale).astype(np.float32)
    probs = rng.dirichlet(np.ones(shape[1]), size=shape[0]).astype(np.float32)
    ref = _sce(F, torch.tensor(logits, dtype=torch.float64),
               torch.tensor(probs, dtype=torch.float64)).numpy()
    theirs = _sce(F, torch.tensor(logits), torch.tensor(probs)).numpy()
    ours = np.asarray(_sce(xg, xg.asarray(logits, backend=backend),
                           xg.asarray(probs, backend=backend)))
    t_err = float(np.abs(theirs / ref - 1).max())
    err = float(np.abs(ours / ref - 1).max())
    # relative to the loss: a float32 result is within 6e-8 of it at best
    assert err <= 2 * t_err + 1.2e-7, (err, t_err)
