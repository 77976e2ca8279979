"""xg.nn.interpolate, Upsample, UpsamplingNearest2d/Bilinear2d against torch's in float64
(values and input gradients) on numpy and numba: nearest, nearest-exact, linear, bilinear,
trilinear, bicubic, area, align_corners True/False, size vs scale_factor (PyTorch's source-index rule with
and without recompute_scale_factor), sizes that do not divide, scales below 1; bad input."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

BACKENDS = ["numpy"] + (["numba"] if backend_report().get(
    "numba", {"available": False})["available"] else [])

LINEAR = {3: "linear", 4: "bilinear", 5: "trilinear"}
RESIZES = [dict(size=3), dict(size=11), dict(scale_factor=2), dict(scale_factor=1.7),
           dict(scale_factor=0.3), dict(scale_factor=2.1), dict(scale_factor=1.1),
           dict(scale_factor=0.75), dict(scale_factor=1.7, recompute_scale_factor=True)]


def _check(backend, shape, mode, align_corners, kwargs, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, mode=mode, align_corners=align_corners, **kwargs)
    ct = np.cos(np.arange(ty.numel())).reshape(tuple(ty.shape))
    (ty * torch.tensor(ct)).sum().backward()
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.nn.interpolate(xt, mode=mode, align_corners=align_corners, **kwargs)
        loss = xg.sum(y * xg.asarray(ct, backend=backend))
    assert y.shape == tuple(ty.shape), (mode, kwargs)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12,
                               err_msg=f"{mode} {align_corners} {kwargs}")
    if _torch_backward_disagrees(shape, mode, kwargs):
        return
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), tx.grad.numpy(), rtol=1e-12,
                               atol=1e-12, err_msg=f"{mode} {align_corners} {kwargs}")


def _torch_backward_disagrees(shape, mode, kwargs):
    """PyTorch's 1-d and 3-d nearest backward takes the copy / halving shortcut where the
    output is as long as / twice the input, and its bicubic backward the copy one, but their
    forwards do not (a scale_factor such as 1.1 or 2.1): its gradient is then not that of its
    own output. Ours is (take's scatter-add, the weights' products)."""
    factor = kwargs.get("scale_factor")
    if factor is None or kwargs.get("recompute_scale_factor"):
        return False
    pairs = list(zip(shape[2:], factor if isinstance(factor, tuple) else
                     (factor,) * (len(shape) - 2)))
    if mode == "bicubic":
        return any(int(n * f) == n and f != 1 for n, f in pairs)
    if mode != "nearest" or len(shape) == 4:
        return False
    return any(int(n * f) in (n, 2 * n) and f not in (1, 2) for n, f in pairs)


def test_torch_nearest_backward_disagrees_with_its_forward():
    # the case skipped above, shown: torch's gradient is not its forward's adjoint there
    x = torch.arange(5.0, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.interpolate(x.reshape(1, 1, 5), scale_factor=2.1)
    y.sum().backward()
    assert y.flatten().tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 4]        # 0 three times
    assert x.grad.tolist() == [2, 2, 2, 2, 2]                             # yet 2 each
    xt = xg.arange(5.0, dtype=xg.float64).reshape((1, 1, 5))
    got = xg.grad(lambda t: xg.sum(xg.nn.interpolate(t, scale_factor=2.1)))(xt)
    assert got.flatten().tolist() == [3, 2, 2, 2, 1]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(2, 3, 5), (1, 2, 4, 7), (1, 1, 3, 4, 5)])
@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("nearest-exact", None),
                                                 ("linear", False), ("linear", True)])
def test_interpolate_matches_torch(backend, shape, mode, align_corners):
    mode = LINEAR[len(shape)] if mode == "linear" else mode
    for kwargs in RESIZES:
        if len(shape) == 5 and kwargs.get("scale_factor") == 0.3:
            kwargs = dict(scale_factor=0.5)
        _check(backend, shape, mode, align_corners, kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, mode, align_corners", [
    ((1, 2, 4, 7), "bicubic", None), ((1, 2, 4, 7), "bicubic", True),
    ((2, 3, 7), "area", None), ((1, 2, 5, 7), "area", None)])
def test_bicubic_and_area_match_torch(backend, shape, mode, align_corners):
    for kwargs in RESIZES:
        _check(backend, shape, mode, align_corners, kwargs)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_per_axis_sizes_and_factors(mode):
    _check("numpy", (2, 2, 5, 6), mode, None, dict(size=(7, 4)))
    _check("numpy", (2, 2, 5, 6), mode, None, dict(scale_factor=(0.5, 2.5)))
    _check("numpy", (2, 2, 5, 6), mode, None, dict(scale_factor=(1.0, 1.3)))


@pytest.mark.parametrize("name, args, kwargs", [
    ("Upsample", (), dict(scale_factor=2, mode="bilinear", align_corners=False)),
    ("Upsample", (), dict(size=(7, 9), mode="nearest")),
    ("UpsamplingNearest2d", (), dict(scale_factor=3)),
    ("UpsamplingBilinear2d", ((6, 11),), {}),
    ("UpsamplingBilinear2d", (), dict(scale_factor=1.5)),
])
def test_layers_match_torch(name, args, kwargs):
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5))
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = getattr(xg.nn, name)(*args, **kwargs)(xt)
        loss = xg.sum(y * y * y)
    tx = torch.tensor(x, requires_grad=True)
    ty = getattr(torch.nn, name)(*args, **kwargs)(tx)
    (ty ** 3).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), tx.grad.numpy(), rtol=1e-12,
                               atol=1e-12)


def test_finite_differences_and_replay():
    x = xg.asarray(np.random.default_rng(2).standard_normal((1, 2, 3, 4)))
    xg.testing.check_grads(lambda x: xg.nn.interpolate(x, size=(5, 3), mode="bilinear") ** 2,
                           (x,))
    layer = xg.nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True)

    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.sin(layer(x)))
        return [loss, tape.gradient(loss, x)]

    compiled = xg.function(step)
    for seed in range(2):
        x = xg.asarray(np.random.default_rng(seed).standard_normal((2, 2, 3, 4)))
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((), {}, ValueError, "interpolate: give exactly one of size and scale_factor"),
    ((3, 2.0), {}, ValueError, "interpolate: give exactly one of size and scale_factor"),
    ((3,), {"mode": "lanczos"}, ValueError, "interpolate: mode must be one of"),
    ((3,), {"mode": "linear"}, ValueError, "interpolate: mode='linear' needs 3-D input"),
    ((3,), {"align_corners": True}, ValueError, "interpolate: align_corners can only be set"),
    (((3, 4, 5),), {}, ValueError, "interpolate: size must be a number or a tuple of 2"),
    ((2.5,), {}, TypeError, "interpolate: size must be an int"),
    ((0,), {}, ValueError, "interpolate: size must be positive"),
    ((None, -1.0), {}, ValueError, "interpolate: scale_factor must be positive"),
    ((None, 0.1), {}, ValueError, "interpolate: scale_factor 0.1 makes an empty output"),
    ((3,), {"mode": "bilinear", "antialias": True}, ValueError,
     "interpolate: antialias=True is not supported"),
])
def test_bad_arguments_name_them(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        xg.nn.interpolate(xg.ones((1, 2, 4, 5)), *args, **kwargs)


def test_bad_inputs_name_them():
    with pytest.raises(ValueError, match="interpolate: input must be 3-D"):
        xg.nn.interpolate(xg.ones((4, 5)), size=3)
    with pytest.raises(TypeError, match="interpolate: input must hold real floating"):
        xg.nn.interpolate(xg.ones((1, 1, 4), dtype=xg.int64), size=3)
    with pytest.raises(ValueError, match="Upsample: align_corners can only be set"):
        xg.nn.Upsample(size=3, align_corners=False)
    with pytest.raises(ValueError, match="interpolate: mode='area' takes 3-D or 4-D input"):
        xg.nn.interpolate(xg.ones((1, 1, 2, 2, 2)), size=1, mode="area")
    with pytest.raises(ValueError, match="Upsample: mode='bilinear' needs 4-D input"):
        xg.nn.Upsample(size=3, mode="bilinear")(xg.ones((1, 1, 4)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, r", [((2, 8, 3, 4), 2), ((18, 2, 3), 3), ((2, 1, 4, 2, 2), 2)])
def test_pixel_shuffle_and_unshuffle_match_torch(backend, shape, r):
    x = np.random.default_rng(3).standard_normal(shape)
    for ours, theirs, arg in ((xg.nn.PixelShuffle, torch.nn.PixelShuffle, x),
                              (xg.nn.PixelUnshuffle, torch.nn.PixelUnshuffle,
                               torch.nn.functional.pixel_shuffle(torch.tensor(x), r).numpy())):
        xt = xg.asarray(arg, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(xt)
            y = ours(r)(xt)
            loss = xg.sum(y * xg.asarray(np.cos(np.arange(y.size)).reshape(y.shape),
                                         backend=backend))
        tx = torch.tensor(arg, requires_grad=True)
        ty = theirs(r)(tx)
        (ty * torch.tensor(np.cos(np.arange(ty.numel())).reshape(tuple(ty.shape)))).sum() \
            .backward()
        np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
        np.testing.assert_array_equal(tape.gradient(loss, xt).numpy(), tx.grad.numpy())


def test_pixel_shuffle_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="pixel_shuffle: the input's 6 channels"):
        xg.nn.pixel_shuffle(xg.ones((1, 6, 2, 2)), 2)
    with pytest.raises(ValueError, match="pixel_unshuffle: the input's height 3"):
        xg.nn.pixel_unshuffle(xg.ones((1, 1, 3, 4)), 2)
    with pytest.raises(ValueError, match="PixelShuffle: upscale_factor must be a positive"):
        xg.nn.PixelShuffle(0)
    with pytest.raises(ValueError, match="pixel_shuffle: input must be"):
        xg.nn.pixel_shuffle(xg.ones((4, 4)), 2)
