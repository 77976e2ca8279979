"""The paths xg.nn.interpolate picks by size (nn/upsampling.py ``_plan``): a dense product
(short axes), blocked products (long axes whose band repeats: integer and simple scale
factors), a dense product on a long irregular axis, and one ``take`` per band entry beyond
512 entries; nearest's stacked repeat (integer factors) and its gathers. Each against torch's
values and input gradients in float64, numba against numpy, finite differences, and a
second-order gradient against torch's."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.nn import upsampling

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

BACKENDS = ["numpy"] + (["numba"] if backend_report().get(
    "numba", {"available": False})["available"] else [])
LINEAR = {3: "linear", 4: "bilinear", 5: "trilinear"}


def _ours(backend, x, ct, **kwargs):
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.nn.interpolate(xt, **kwargs)
        loss = xg.sum(y * xg.asarray(ct, backend=backend))
    return y.numpy(), tape.gradient(loss, xt).numpy()


def _torch(x, **kwargs):
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, **kwargs)
    ct = np.cos(np.arange(ty.numel())).reshape(tuple(ty.shape))
    (ty * torch.tensor(ct)).sum().backward()
    return ty.detach().numpy(), tx.grad.numpy(), ct


def _plan_kind(length, out, mode, align_corners, scale=None):
    return upsampling._plan(mode == "bicubic", length, out, scale, bool(align_corners))[0]


# (shape, kwargs, the plan of the last axis)
LONG = [
    ((2, 3, 200), dict(scale_factor=2, mode="linear"), "blocks"),
    ((2, 3, 200), dict(scale_factor=3, mode="linear"), "blocks"),
    ((2, 3, 301), dict(scale_factor=0.5, mode="linear"), "blocks"),
    ((2, 3, 200), dict(scale_factor=1.5, mode="linear"), "blocks"),
    ((2, 3, 200), dict(size=400, mode="linear"), "blocks"),
    ((2, 3, 200), dict(scale_factor=2, mode="linear", align_corners=True), "dense"),
    ((2, 3, 200), dict(size=333, mode="linear"), "dense"),
    ((1, 2, 600), dict(scale_factor=2, mode="linear", align_corners=True), "gather"),
    ((1, 2, 3, 160), dict(scale_factor=2, mode="bilinear"), "blocks"),
    ((1, 2, 160, 3), dict(scale_factor=(2, 1), mode="bilinear"), None),
    ((1, 2, 150, 5), dict(scale_factor=2, mode="bicubic"), None),
    ((1, 2, 4, 150), dict(scale_factor=2, mode="bicubic"), "blocks"),
    ((1, 2, 4, 150), dict(scale_factor=2, mode="bicubic", align_corners=True), "dense"),
    ((1, 1, 140, 2, 3), dict(scale_factor=2, mode="trilinear"), None),
    ((1, 1, 2, 140, 3), dict(scale_factor=(1, 2, 1.5), mode="trilinear"), None),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, kwargs, kind", LONG)
def test_long_axes_match_torch(backend, shape, kwargs, kind):
    x = np.random.default_rng(0).standard_normal(shape)
    ty, tg, ct = _torch(x, **kwargs)
    y, g = _ours(backend, x, ct, **kwargs)
    if kind is not None:                        # the path this case is meant to take
        out = ty.shape[-1]
        scale = None if "size" in kwargs else float(np.atleast_1d(kwargs["scale_factor"])[-1])
        assert _plan_kind(shape[-1], out, kwargs["mode"], kwargs.get("align_corners"),
                          scale) == kind
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)


def test_the_paths_are_the_ones_described():
    assert _plan_kind(16, 32, "bilinear", False, 2.0) == "dense"
    assert _plan_kind(1024, 2048, "linear", False, 2.0) == "blocks"
    assert _plan_kind(1024, 2048, "linear", True) == "gather"
    assert _plan_kind(300, 600, "linear", True) == "dense"


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 5), dict(scale_factor=2)), ((2, 3, 5), dict(scale_factor=3)),
    ((1, 2, 4, 5), dict(scale_factor=2)), ((1, 2, 4, 5), dict(scale_factor=(3, 1))),
    ((1, 2, 4, 5), dict(scale_factor=(2, 1.5))), ((1, 2, 4, 5), dict(size=(8, 20))),
    ((1, 1, 2, 3, 4), dict(scale_factor=2)), ((1, 1, 2, 3, 4), dict(scale_factor=(1, 2, 3))),
    ((1, 2, 4, 5), dict(scale_factor=2, mode="nearest-exact")),
    ((1, 2, 6, 5), dict(scale_factor=0.5)),
])
@pytest.mark.parametrize("backend", BACKENDS)
def test_nearest_repeat_matches_torch(backend, shape, kwargs):
    x = np.random.default_rng(1).standard_normal(shape)
    ty, tg, ct = _torch(x, **kwargs)
    y, g = _ours(backend, x, ct, **kwargs)
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_allclose(g, tg, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2, mode="linear"),
                                    dict(scale_factor=1.5, mode="linear", align_corners=True),
                                    dict(scale_factor=2)])
def test_numba_equals_numpy_in_float32(kwargs):
    if "numba" not in BACKENDS:
        pytest.skip("numba is not installed")
    x = np.random.default_rng(2).standard_normal((3, 4, 300)).astype(np.float32)
    ct = np.sin(np.arange(3 * 4 * 600)).reshape(3, 4, -1).astype(np.float32)
    ct = ct[..., :int(300 * kwargs["scale_factor"])]
    (y0, g0), (y1, g1) = (_ours(b, x, ct, **kwargs) for b in ("numpy", "numba"))
    assert y0.dtype == y1.dtype == np.float32
    np.testing.assert_allclose(y1, y0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g1, g0, rtol=1e-5, atol=1e-5)


def test_float32_matches_torch():
    x = np.random.default_rng(3).standard_normal((2, 3, 16, 16)).astype(np.float32)
    for kwargs in (dict(scale_factor=2, mode="bilinear"), dict(scale_factor=2, mode="bicubic"),
                   dict(size=(23, 29), mode="bilinear", align_corners=True)):
        ty, tg, ct = _torch(x, **kwargs)
        y, g = _ours("numpy", x, ct.astype(np.float32), **kwargs)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, ty, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(g, tg, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("shape, kwargs", [
    ((1, 1, 150), dict(scale_factor=2, mode="linear")),                    # blocks
    ((1, 1, 3, 140), dict(size=(4, 200), mode="bicubic")),                 # dense, long
    ((1, 2, 3, 4), dict(scale_factor=(2, 3))),                             # nearest repeat
])
def test_finite_differences(shape, kwargs):
    x = xg.asarray(np.random.default_rng(4).standard_normal(shape))
    xg.testing.check_grads(lambda t: xg.nn.interpolate(t, **kwargs) ** 2, (x,))


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2, mode="bilinear"),
                                    dict(size=(5, 300), mode="bilinear", align_corners=True),
                                    dict(scale_factor=(1, 2), mode="bicubic")])
def test_second_order_matches_torch(kwargs):
    """d/dx of <grad of sum(y^3), v>: the transposed products, differentiated again."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 3, 150))
    v = rng.standard_normal(x.shape)
    tx = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad((torch.nn.functional.interpolate(tx, **kwargs) ** 3).sum(), tx,
                               create_graph=True)
    (want,) = torch.autograd.grad((g * torch.tensor(v)).sum(), tx)
    xt = xg.asarray(x)
    with xg.GradientTape() as outer:
        outer.watch(xt)
        with xg.GradientTape() as inner:
            inner.watch(xt)
            loss = xg.sum(xg.nn.interpolate(xt, **kwargs) ** 3)
        inner_g = inner.gradient(loss, xt)
        dot = xg.sum(inner_g * xg.asarray(v))
    np.testing.assert_allclose(outer.gradient(dot, xt).numpy(), want.numpy(), rtol=1e-10,
                               atol=1e-10)
