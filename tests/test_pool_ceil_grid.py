"""Which input sizes max/avg pooling accept, and the output sizes, against PyTorch over a grid
(lengths 1..8, kernel 1..4, stride 1..3, padding 0..k//2, dilation 1..2, ceil_mode on and off):
xpgrad accepts exactly what torch accepts (ceil_mode keeps windows that reach past the padded
input), with torch's sizes, values and (on a sample) input gradients; 1-d and 2-d."""
import itertools

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional

# (length, kernel_size, stride, padding, dilation) along one axis
AXES = [(n, k, s, p, d) for n, k, s, d in itertools.product(range(1, 9), range(1, 5),
                                                            range(1, 4), range(1, 3))
        for p in range(k // 2 + 1)]


def _torch(kind, x, kwargs):
    fn = getattr(F, f"{kind}_pool{x.ndim - 2}d")
    try:
        return fn(torch.tensor(x), **kwargs).numpy()
    except RuntimeError:                       # torch: "Output size is too small" and kin
        return None


def _ours(kind, x, kwargs):
    fn = getattr(xg.nn, f"{kind}_pool{x.ndim - 2}d")
    try:
        return fn(xg.asarray(x), **kwargs).numpy()
    except ValueError as error:
        assert f"{kind}_pool" in str(error) and "kernel" in str(error), str(error)
        return None


def _compare(kind, x, kwargs):
    want, got = _torch(kind, x, kwargs), _ours(kind, x, kwargs)
    assert (want is None) == (got is None), (kwargs, x.shape, want, got)
    if want is not None:
        assert got.shape == want.shape, (kwargs, x.shape)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13, err_msg=str(kwargs))
    return want is not None


def _kwargs(kind, axes, ceil_mode):
    kwargs = {"kernel_size": tuple(a[1] for a in axes), "stride": tuple(a[2] for a in axes),
              "padding": tuple(a[3] for a in axes), "ceil_mode": ceil_mode}
    if kind == "max":
        kwargs["dilation"] = tuple(a[4] for a in axes)
    return kwargs


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool1d_accepts_what_torch_accepts(kind):
    rng = np.random.default_rng(0)
    accepted = refused = 0
    for axis, ceil_mode in itertools.product(AXES, (False, True)):
        if kind == "avg" and axis[4] > 1:
            continue                          # avg_pool has no dilation
        x = rng.standard_normal((1, 2, axis[0]))
        if _compare(kind, x, _kwargs(kind, [axis], ceil_mode)):
            accepted += 1
        else:
            refused += 1
    assert accepted > 100 and refused > 20     # the grid holds both


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool2d_accepts_what_torch_accepts(kind):
    rng = np.random.default_rng(1)
    pairs = rng.choice(len(AXES), size=(300, 2))
    outcomes = set()
    for i, j in pairs:
        axes = [AXES[i], AXES[j]]
        if kind == "avg":
            axes = [a[:4] + (1,) for a in axes]
        x = rng.standard_normal((1, 2, axes[0][0], axes[1][0]))
        outcomes.add(_compare(kind, x, _kwargs(kind, axes, bool(i % 2))))
    assert outcomes == {True, False}


@pytest.mark.parametrize("fn, tfn, kwargs, shape", [
    (xg.nn.max_pool1d, F.max_pool1d, {"kernel_size": 4, "stride": 3, "padding": 1,
                                      "ceil_mode": True}, (2, 2, 1)),
    (xg.nn.avg_pool1d, F.avg_pool1d, {"kernel_size": 3, "stride": 3, "ceil_mode": True,
                                      "count_include_pad": False}, (2, 2, 2)),
    (xg.nn.max_pool2d, F.max_pool2d, {"kernel_size": (3, 2), "stride": (3, 2),
                                      "dilation": (1, 2), "ceil_mode": True}, (1, 2, 2, 3)),
    (xg.nn.avg_pool2d, F.avg_pool2d, {"kernel_size": (4, 3), "stride": 2, "padding": (1, 1),
                                      "ceil_mode": True}, (1, 2, 1, 2)),
])
def test_short_inputs_in_ceil_mode_have_torchs_gradients(fn, tfn, kwargs, shape):
    x = np.random.default_rng(2).permutation(np.prod(shape)).reshape(shape) / 3.0
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt, **kwargs)
        loss = xg.sum(y * xg.arange(1.0, y.size + 1.0).reshape(y.shape))
    tx = torch.tensor(x, requires_grad=True)
    ty = tfn(tx, **kwargs)
    (ty * torch.arange(1.0, ty.numel() + 1.0, dtype=torch.float64).reshape(ty.shape)).sum() \
        .backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), tx.grad.numpy(), rtol=1e-13,
                               atol=1e-13)
