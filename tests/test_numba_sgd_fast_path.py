"""The Numba backend's plain SGD update takes a short way for a contiguous variable and
gradient of one dtype (no momentum, under the threaded size): the same loop on the same
numbers as the general way, bit for bit, and PyTorch's update in float64."""
import numpy as np
import pytest

pytest.importorskip("numba")
from xpgrad.backends.numba import _optim  # noqa: E402


def _update(param, grad, **settings):
    params = dict(lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0)
    params.update(settings)
    out = _optim.sgd(param, grad, None, **params)
    assert out is not None and out[0] is param
    return param


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_the_short_way_equals_the_general_way_bit_for_bit(dtype, shape, weight_decay):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=shape).astype(dtype)
    g = rng.normal(size=shape).astype(dtype)
    short = _update(p0.copy(), g, weight_decay=weight_decay)
    # a Fortran-ordered gradient (when 2-D or more) or a strided one takes the general way
    strided = np.empty((*shape[:-1], 2 * shape[-1]), dtype)[..., ::2]
    strided[...] = g
    general = _update(p0.copy(), strided, weight_decay=weight_decay)
    np.testing.assert_array_equal(short, general)


def test_the_short_way_is_pytorchs_update_in_float64():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    p0, g = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    mine = _update(p0.copy(), g, weight_decay=0.01)
    w = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    w.grad = torch.from_numpy(g)
    torch.optim.SGD([w], lr=0.1, weight_decay=0.01).step()
    np.testing.assert_allclose(mine, w.detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", ["read-only", "fortran param", "int64", "mixed dtypes"])
def test_what_the_short_way_cannot_take_goes_the_general_way(case):
    """A variable the loop cannot update in place, or another dtype: declined (None), and
    the generic rule runs, as before."""
    p = np.ones((3, 2), np.float32)
    g = np.ones((3, 2), np.float32)
    if case == "read-only":
        p.setflags(write=False)
    elif case == "fortran param":
        p = np.asfortranarray(p)
    elif case == "int64":
        p, g = p.astype(np.int64), g.astype(np.int64)
    else:
        g = g.astype(np.float64)
    assert _optim.sgd(p, g, None, lr=0.1, momentum=0.0, nesterov=False,
                      weight_decay=0.0) is None


def test_the_remembered_typed_rate_follows_each_new_rate_dtype_and_sign_of_zero():
    """The short way keeps the last (dtype, lr, weight_decay) converted to the dtype: a new
    rate, another dtype, or -0.0 after 0.0 (equal, but not the same number) is converted anew:
    each update equals the general way's, bit for bit."""
    rng = np.random.default_rng(2)
    lr = 0.1
    cases = [("float32", lr, 0.0), ("float64", lr, 0.0), ("float32", lr, 0.0),
             ("float32", 0.3, 0.01), ("float32", 0.0, 0.0), ("float32", -0.0, 0.0),
             ("float64", 1e-300, -0.0)]
    for dtype, rate, wd in cases:
        p0 = rng.normal(size=(4, 3)).astype(dtype)
        if rate == 0.0:
            p0[0, 0] = -0.0                 # -0.0 - 0.0 * g keeps its sign; - (-0.0) * g not
        g = np.abs(rng.normal(size=(4, 3))).astype(dtype)
        short = _update(p0.copy(), g, lr=rate, weight_decay=wd)
        strided = np.empty((4, 6), dtype)[:, ::2]
        strided[...] = g
        general = _update(p0.copy(), strided, lr=rate, weight_decay=wd)
        np.testing.assert_array_equal(short, general)
        assert np.signbit(short).tolist() == np.signbit(general).tolist()
