"""xg.nn.pad and the padding layers against torch.nn.functional.pad / torch.nn.*Pad* in float64
(values and gradients) on numpy and numba: every mode, 1-3 padded axes, negative amounts
(cropping), constant padding of any axis; bad input names the argument."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

BACKENDS = ["numpy"] + (["numba"] if backend_report().get(
    "numba", {"available": False})["available"] else [])

# (input shape, pad, mode)
CASES = [
    ((2, 3, 5), (1, 2), "constant"),
    ((2, 3, 4, 5), (1, 0, 2, 3), "constant"),
    ((2, 3, 4, 5), (1, 1, 0, 2, 1, 0, 2, 1), "constant"),          # every axis
    ((2, 3, 4, 5), (-1, 2, 1, -2), "constant"),                    # cropping
    ((3, 5), (-2, -3), "constant"),                                # down to an empty axis
    ((2, 3, 5), (2, 4), "reflect"),
    ((3, 5), (1, 3), "reflect"),
    ((2, 3, 4, 5), (1, 3, 3, 2), "reflect"),
    ((3, 4, 5), (2, 1, 0, 3), "reflect"),
    ((1, 2, 3, 4, 5), (1, 2, 2, 1, 1, 2), "reflect"),
    ((2, 3, 5), (-1, 2), "reflect"),
    ((2, 3, 5), (3, 6), "replicate"),
    ((2, 3, 4, 5), (2, -1, 1, 3), "replicate"),
    ((2, 3, 4, 5), (0, 1, 2, 0, 1, 1), "replicate"),
    ((2, 3, 5), (5, 2), "circular"),
    ((2, 3, 4, 5), (1, 2, 4, 3), "circular"),
    ((2, 3, 5), (-1, 2), "circular"),
    ((1, 2, 3, 3, 4), (1, 1, 2, 0, 3, 1), "circular"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_pad_matches_torch(backend, case):
    shape, pads, mode = CASES[case]
    value = 1.5 if mode == "constant" and case % 2 else 0.0
    x = np.random.default_rng(case).standard_normal(shape)
    xt = xg.asarray(x, backend=backend)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.pad(tx, pads, mode=mode, **({"value": value} if value else {}))
    ct = np.cos(np.arange(ty.numel())).reshape(tuple(ty.shape))
    (ty * torch.tensor(ct)).sum().backward()
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.nn.pad(xt, pads, mode=mode, value=value)
        loss = xg.sum(y * xg.asarray(ct, backend=backend))
    assert y.shape == tuple(ty.shape)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), tx.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("name, args, shape", [
    ("ZeroPad1d", (2,), (2, 3, 4)), ("ZeroPad2d", ((1, 2, 0, 3),), (2, 3, 4, 5)),
    ("ConstantPad1d", ((1, 3), 2.5), (3, 4)), ("ConstantPad2d", (1, -0.5), (2, 3, 4)),
    ("ReflectionPad1d", ((3, 1),), (2, 3, 4)), ("ReflectionPad2d", ((1, 2, 3, 0),), (1, 2, 4, 5)),
    ("ReplicationPad1d", (3,), (3, 4)), ("ReplicationPad2d", ((2, 0, 1, 3),), (2, 3, 4, 5)),
    ("CircularPad1d", ((4, 1),), (2, 3, 4)), ("CircularPad2d", (2,), (2, 3, 4)),
])
def test_layers_match_torch(name, args, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = getattr(xg.nn, name)(*args)(xt)
        loss = xg.sum(y * y * y)
    tx = torch.tensor(x, requires_grad=True)
    ty = getattr(torch.nn, name)(*args)(tx)
    (ty ** 3).sum().backward()
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), tx.grad.numpy(), atol=1e-12)


def test_finite_differences_and_replay():
    x = xg.asarray(np.random.default_rng(1).standard_normal((1, 2, 3, 4)))
    xg.testing.check_grads(lambda x: xg.nn.pad(x, (2, 1, 1, 2), mode="reflect") ** 2, (x,))
    layer = xg.nn.ReplicationPad2d((1, 2, 0, 1))

    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.sin(layer(x)))
        return [loss, tape.gradient(loss, x)]

    compiled = xg.function(step)
    for seed in range(2):
        x = xg.asarray(np.random.default_rng(seed).standard_normal((2, 2, 3, 3)))
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("mode, pads", [("reflect", (2, 1, 1, 2)), ("replicate", (3, 0, 1, 2)),
                                        ("circular", (1, 3, 2, 2))])
def test_mode_padding_differentiates_twice_and_maps(mode, pads):
    """Reflect, replicate and circular padding are one primitive (``ops/mode_padding.py``)
    whose rule folds the borders back: second order by finite differences (the rule run on
    Tensors), a conv with that padding mode against PyTorch, and ``xg.vmap`` against a
    loop."""
    rng = np.random.default_rng(4)
    x = xg.asarray(rng.standard_normal((1, 2, 3, 4)))
    xg.testing.check_grads(lambda x: xg.nn.pad(x, pads, mode=mode) ** 3, (x,), order=2)
    images = rng.standard_normal((2, 3, 5, 6))
    xt, tx = xg.asarray(images), torch.tensor(images, requires_grad=True)
    layer = torch.nn.Conv2d(3, 4, 3, padding=2, padding_mode=mode).double()
    ours = xg.nn.Conv2d(3, 4, 3, padding=2, padding_mode=mode, dtype=xg.float64)
    ours.load_torch_state_dict(layer.state_dict())
    with xg.GradientTape() as tape:
        tape.watch(xt)
        loss = xg.sum(ours(xt) ** 2)
    (layer(tx) ** 2).sum().backward()
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), tx.grad.numpy(), rtol=1e-11)
    rows = xg.asarray(rng.standard_normal((3, 2, 5)))
    mapped = xg.vmap(lambda row: xg.nn.pad(row, pads[:2], mode=mode))(rows)
    np.testing.assert_array_equal(
        mapped.numpy(), np.stack([xg.nn.pad(r, pads[:2], mode=mode).numpy() for r in rows]))


def test_constant_padding_differentiates_twice_replays_and_maps():
    """The constant mode writes the input into a new array of the value (one primitive,
    ``ops/constant_padding.py``): second order by finite differences, an ``xg.function``
    replay, ``xg.vmap`` against a loop, and a padded conv's gradient against PyTorch's."""
    rng = np.random.default_rng(3)
    x = xg.asarray(rng.standard_normal((2, 3, 4)))
    xg.testing.check_grads(lambda x: xg.nn.pad(x, (2, 1, 0, 3), value=0.5) ** 3, (x,), order=2)
    xg.testing.check_grads(lambda x: xg.nn.pad(x, (1, -2, 2, 0)) ** 2, (x,), order=2)

    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.sin(xg.nn.pad(x, (1, 2, 3, 0), value=-1.0)))
        return [loss, tape.gradient(loss, x)]

    compiled = xg.function(step)
    for seed in range(2):
        x = xg.asarray(np.random.default_rng(seed).standard_normal((2, 3, 4)))
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    mapped = xg.vmap(lambda row: xg.nn.pad(row, (1, 2), value=3.0))(x)
    np.testing.assert_array_equal(
        mapped.numpy(), np.stack([xg.nn.pad(row, (1, 2), value=3.0).numpy() for row in x]))
    images, kernel = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3))
    xt, tx = xg.asarray(images), torch.tensor(images, requires_grad=True)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        loss = xg.sum(xg.nn.conv2d(xt, xg.asarray(kernel), padding=2) ** 2)
    (torch.nn.functional.conv2d(tx, torch.tensor(kernel), padding=2) ** 2).sum().backward()
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_constant_padding_of_a_strided_input_matches_torch(dtype):
    """A non-contiguous input of each dtype, a negative amount beside a positive one, and an
    empty axis; the gradient is a new array (not a view of the incoming one)."""
    rng = np.random.default_rng(5)
    base = (rng.standard_normal((5, 4, 9)) * 4).astype(dtype)
    for a, pads in ((base[::2, :, ::-2], (3, -1, 0, 2)), (base[:, :0], (1, 1, 2, 0))):
        x = xg.asarray(a)
        want = torch.nn.functional.pad(torch.tensor(a.copy()), pads, value=7)
        got = xg.nn.pad(x, pads, value=7)
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        if dtype == np.int32:
            continue
        g = rng.standard_normal(tuple(want.shape)).astype(dtype)
        tx = torch.tensor(a.copy(), requires_grad=True)
        torch.nn.functional.pad(tx, pads, value=7).backward(torch.tensor(g))
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.nn.pad(x, pads, value=7)
        gx = tape.gradient(y, x, output_gradients=xg.asarray(g))
        np.testing.assert_array_equal(gx.numpy(), tx.grad.numpy())
        g[...] = 0
        np.testing.assert_array_equal(gx.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("args, kwargs, error, match", [
    (((1,),), {}, ValueError, "pad: pad must have an even number of entries"),
    (((1.0, 1),), {}, TypeError, "pad: pad must hold ints"),
    ((5,), {}, TypeError, "pad: pad must be a tuple of ints"),
    (((1, 1),), {"mode": "wrap"}, ValueError, "pad: mode must be one of"),
    (((1, 1),), {"value": "a"}, TypeError, "pad: value must be a number"),
    (((1, 1),), {"mode": "reflect", "value": 2.0}, ValueError, "pad: mode='reflect' takes no"),
    (((1,) * 6,), {"mode": "reflect"}, ValueError, "pad: mode='reflect' pads the last 1, 2"),
    (((1,) * 8,), {}, ValueError, "pad: pad has 8 entries, more than two per axis"),
    (((5, 0),), {"mode": "reflect"}, ValueError, "pad: mode='reflect' needs each pad <"),
    (((6, 0),), {"mode": "circular"}, ValueError, "pad: mode='circular' needs each pad <="),
    (((-3, -3),), {}, ValueError, "leaves axis 2 .length 5. with -1 entries"),
])
def test_bad_arguments_name_them(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        xg.nn.pad(xg.ones((2, 3, 5)), *args, **kwargs)


def test_bad_layer_arguments_name_them():
    with pytest.raises(ValueError, match="ZeroPad2d: padding must be an int or a tuple of 4"):
        xg.nn.ZeroPad2d((1, 2))
    with pytest.raises(TypeError, match="ConstantPad1d: padding must hold ints"):
        xg.nn.ConstantPad1d((1.5, 2), 0.0)
    with pytest.raises(ValueError, match="ReflectionPad2d: mode='reflect' needs each pad <"):
        xg.nn.ReflectionPad2d(3)(xg.ones((1, 3, 3)))
    with pytest.raises(ValueError, match="ReflectionPad1d: mode='reflect' pads the last"):
        xg.nn.ReflectionPad1d(1)(xg.ones((1, 1, 2, 3)))
