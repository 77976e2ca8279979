"""The Numba backend's ``batch_norm`` kernel (training mode, (N, C) and (N, C, ...)
float32/float64 C-contiguous inputs) against the primitive's generic rule: forward and every ``needs`` subset
of the backward, float64 to 1e-12 and float32 to a tolerance of a few ulps of the terms each
result sums; that the tape runs it, that everything else declines to the generic rule, and that
second-order gradients (generic rules on a nested tape) still match finite differences."""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np
import pytest

pytest.importorskip("numba")

import xpgrad as xg  # noqa: E402
from xpgrad import nn  # noqa: E402
from xpgrad.backends.numba import _batch_norm  # noqa: E402
from xpgrad.primitive import PRIMITIVES  # noqa: E402

PRIM = PRIMITIVES["batch_norm"]
EPS = 1e-5
AFFINE = [(True, True), (False, False), (True, False), (False, True)]
SHAPES = [(2, 1), (3, 512), (4096, 5), (33, 130), (128, 256), (4, 3, 5), (8, 16, 6, 7),
          (2, 1, 3, 3), (3, 4, 1, 2, 5)]


def _kernel():
    return xg.get_backend("numba").kernels["batch_norm"]


def _arrays(shape, dt, affine, rng):
    """``(x, mean, var, [w], [b])`` as ``batch_norm`` passes them: the batch's statistics of
    ``x`` in its dtype, shaped (1, C, 1...)."""
    x = (rng.normal(size=shape) * 3 + 1).astype(dt)
    mean = x.mean(axis=_axes(x), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=_axes(x), keepdims=True)
    extra = [rng.uniform(0.5, 1.5, shape[1]).astype(dt) if i == 0 else
             rng.normal(size=shape[1]).astype(dt) for i, on in enumerate(affine) if on]
    return [x, mean, var, *extra]


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _scales(arrays, g, affine):
    """Per result, the magnitude its rounding errors scale with (float64): the sizes of the
    terms each one adds (the generic rule's own float32 result is off by ulps of these)."""
    x, mean, var = (a.astype(np.float64) for a in arrays[:3])
    axes, channels = _axes(x), (-1,) + (1,) * (x.ndim - 2)
    w = arrays[3].astype(np.float64) if affine[0] else np.ones(x.shape[1])
    w = w.reshape(channels)
    g = g.astype(np.float64)
    rstd = 1.0 / np.sqrt(var + EPS)
    xhat = (x - mean) * rstd
    gy = np.abs(g * w)
    y = np.abs(xhat * w) + (np.abs(arrays[-1]).reshape(channels) if affine[1] else 0.0)
    dx = rstd * (gy + gy.mean(axis=axes, keepdims=True)
                 + np.abs(xhat) * (gy * np.abs(xhat)).mean(axis=axes, keepdims=True))
    out = [dx, None, None]
    if affine[0]:
        out.append(np.abs(g * xhat).sum(axis=axes))
    if affine[1]:
        out.append(np.abs(g).sum(axis=axes))
    return y, out


def _close(got, want, scale, dt, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if dt == np.float64:
        tol = 1e-12 * np.maximum(1.0, np.abs(want).max())
    else:
        tol = 16 * np.finfo(np.float32).eps * scale
    err = np.abs(got - want)
    assert np.all(err <= tol), f"{what}: worst error {err.max():.3g}, tolerance there " \
                               f"{np.broadcast_to(tol, err.shape).flat[err.argmax()]:.3g}"


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("affine", AFFINE, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_kernel_matches_the_generic_rule(shape, affine, dt):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    arrays = _arrays(shape, dt, affine, rng)
    params = dict(eps=EPS, affine=affine)
    kernel = _kernel()
    res = kernel.forward(*arrays, **params)
    assert res is not None, f"the kernel declined a {shape} contiguous input"
    out, saved = res
    want = PRIM.forward(npx, *arrays, **params)
    assert out.dtype == want.dtype == dt
    g = rng.normal(size=shape).astype(dt)
    y_scale, scales = _scales(arrays, g, affine)
    _close(out, want, y_scale, dt, "forward")
    n = len(arrays)
    subsets = [[True, False, False] + [True] * (n - 3), [True] + [False] * (n - 1)]
    subsets += [[False] * i + [True] + [False] * (n - 1 - i) for i in range(3, n)]
    for needs in subsets:
        got = kernel.vjp(g, saved, needs, *arrays, **params)
        ref = PRIM.vjp(npx, g, want, needs, arrays, params)
        assert len(got) == n
        for i, (gi, ri) in enumerate(zip(got, ref)):
            if not needs[i]:
                assert gi is None, f"input {i} wants no gradient, needs {needs}"
                continue
            assert gi.dtype == dt and gi.shape == ri.shape, (i, gi.dtype, gi.shape)
            _close(gi, ri, scales[i], dt, f"gradient of input {i}, needs {needs}")


def test_a_broadcast_output_gradient_is_taken():
    """``sum(y)`` hands the rule a broadcast (read-only, stride 0) gradient of ones."""
    arrays = _arrays((6, 4), np.float64, (True, True), np.random.default_rng(1))
    params = dict(eps=EPS, affine=(True, True))
    out, saved = _kernel().forward(*arrays, **params)
    g = np.broadcast_to(np.float64(1.0), out.shape)
    got = _kernel().vjp(g, saved, [True, False, False, True, True], *arrays, **params)
    ref = PRIM.vjp(npx, np.ones(out.shape), out, [True, False, False, True, True], arrays,
                   params)
    for gi, ri in zip(got, ref):
        if ri is not None:
            np.testing.assert_allclose(gi, ri, rtol=1e-12, atol=1e-12)


def test_other_inputs_decline():
    """Other dtypes, strided inputs, mixed dtypes: None (the generic rule runs)."""
    rng = np.random.default_rng(2)
    x3 = rng.normal(size=(4, 3, 2)).transpose(0, 2, 1)
    m3 = x3.mean(axis=(0, 2), keepdims=True)
    kernel = _kernel()
    assert kernel.forward(x3, m3, m3, eps=EPS, affine=(False, False)) is None
    x = rng.normal(size=(4, 6))
    m = x.mean(axis=0, keepdims=True)
    assert kernel.forward(x.astype(np.float16), m.astype(np.float16), m.astype(np.float16),
                          eps=EPS, affine=(False, False)) is None
    xt = rng.normal(size=(6, 4)).T
    assert not xt.flags.c_contiguous
    assert kernel.forward(xt, m, m, eps=EPS, affine=(False, False)) is None
    assert kernel.forward(x, m, m, np.ones(6, np.float32), eps=EPS,
                          affine=(True, False)) is None


@pytest.fixture
def counted(monkeypatch):
    """How many times the kernel's forward and its dx loops ran."""
    calls = {"fwd": 0, "dx": 0}
    for key, name in (("fwd", "batch_norm_fwd"), ("dx", "batch_norm_dx"),
                      ("fwd", "batch_norm_fwd3"), ("dx", "batch_norm_dx3")):
        loop = getattr(_batch_norm, name)

        def counting(*args, _loop=loop, _key=key):
            calls[_key] += 1
            return _loop(*args)
        monkeypatch.setattr(_batch_norm, name, counting)
    return calls


def _grads(x, backend, ct):
    layer = nn.BatchNorm2d if x.ndim == 4 else nn.BatchNorm1d
    bn = layer(x.shape[1], dtype="float64", backend=backend)
    bn.weight.assign(xg.asarray(np.linspace(0.5, 1.5, x.shape[1]), backend=backend))
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        loss = xg.sum(bn(xt) * xg.asarray(ct, backend=backend))
    return [g.numpy() for g in tape.gradient(loss, [xt, bn.weight, bn.bias])] + \
        [bn.running_mean.numpy(), bn.running_var.numpy()]


def test_batch_norm1d_on_numba_runs_the_kernel_and_matches_numpy(counted):
    rng = np.random.default_rng(3)
    x, ct = rng.normal(size=(16, 5)) * 2 + 1, rng.normal(size=(16, 5))
    got = _grads(x, "numba", ct)
    assert counted == {"fwd": 1, "dx": 1}
    for a, b in zip(got, _grads(x, "numpy", ct)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("shape", [(4, 5, 3), (3, 4, 5, 2)])
def test_batch_norm_1d_and_2d_of_more_axes_run_the_kernel_and_match_numpy(counted, shape):
    rng = np.random.default_rng(4)
    x, ct = rng.normal(size=shape) * 2 + 1, rng.normal(size=shape)
    got = _grads(x, "numba", ct)
    assert counted == {"fwd": 1, "dx": 1}
    for a, b in zip(got, _grads(x, "numpy", ct)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_first_and_second_order_on_numba_match_finite_differences(counted):
    """Second order: the outer tape records the backward pass, which then runs the generic
    rule (statistics recomputed from x) instead of the kernel."""
    rng = np.random.default_rng(5)
    args = [xg.asarray(rng.normal(size=(5, 3)) + 0.5, backend="numba"),
            xg.asarray(rng.uniform(0.5, 1.5, 3), backend="numba"),
            xg.asarray(rng.normal(size=3), backend="numba")]
    xg.testing.check_grads(lambda x, w, b: nn.batch_norm(x, None, None, w, b, True) ** 2,
                           args, order=2)
    xg.testing.check_grads(lambda x: nn.batch_norm(x, None, None, training=True, eps=0.1),
                           args[:1], order=2)
    assert counted["fwd"] > 0 and counted["dx"] > 0


def test_hessian_vector_product_matches_numpy():
    """A nested tape on numba (kernel forward, generic rules differentiated) gives NumPy's."""
    rng = np.random.default_rng(6)
    x0, v = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))

    def hvp(backend):
        x = xg.asarray(x0, backend=backend)
        w = xg.asarray(np.linspace(0.5, 2.0, 4), backend=backend)
        with xg.GradientTape() as outer:
            outer.watch(x)
            with xg.GradientTape() as inner:
                inner.watch(x)
                loss = xg.sum(nn.batch_norm(x, None, None, w, None, True) ** 3)
            g = inner.gradient(loss, x)
            gv = xg.sum(g * xg.asarray(v, backend=backend))
        return outer.gradient(gv, x).numpy()

    np.testing.assert_allclose(hvp("numba"), hvp("numpy"), rtol=1e-11, atol=1e-12)
