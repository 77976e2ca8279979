"""The NumPy backend's float32 ``hypot`` kernel (backends/numpy/binary.py): within 1.2 ulp of
the correctly rounded value over a wide range, NumPy's own values where a square leaves
float32's normal range (huge, tiny, subnormal, zeros, infinities, NaN), broadcasting; the
generic gradients from its output against PyTorch and finite differences; what it declines.
(tests/test_kernel_protocol.py checks it against the generic rule.)"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.binary import KERNELS
from xpgrad.testing import check_grads

pytestmark = pytest.mark.usefixtures("numpy_default")
torch = pytest.importorskip("torch")

_SPECIAL = np.float32([0.0, -0.0, 1.0, -3.0, 1e-45, -1e-40, 1e-20, 3e-19, 2e19, -3e38, 3e38,
                       np.inf, -np.inf, np.nan])


def _ulps(got, x, y):
    exact = np.hypot(x.astype(np.float64), y.astype(np.float64))
    ulp = np.spacing(np.maximum(exact, np.finfo(np.float32).tiny).astype(np.float32))
    return np.abs(got.astype(np.float64) - exact) / ulp


def test_within_an_ulp_or_so_over_a_wide_range():
    rng = np.random.default_rng(0)
    x, y = ((rng.normal(size=200000) * np.exp(rng.uniform(-40, 40, 200000))).astype(np.float32)
            for _ in range(2))
    got = xg.hypot(xg.asarray(x), xg.asarray(y)).numpy()
    assert got.dtype == np.float32
    errors = _ulps(got, x, y)
    assert errors.max() < 1.2 and (got == np.hypot(x, y)).mean() > 0.85


def test_out_of_range_squares_and_special_values_are_numpys():
    a, b = np.meshgrid(_SPECIAL, _SPECIAL)
    got = xg.hypot(xg.asarray(a), xg.asarray(b)).numpy()
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(got, np.hypot(a, b))


def test_broadcasting_and_layouts():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 1)).astype(np.float32)
    y = rng.normal(size=(5,)).astype(np.float32).copy()
    y[2] = 0.0
    got = xg.hypot(xg.asarray(x), xg.asarray(y)).numpy()
    assert got.shape == (6, 5)
    assert _ulps(got, *np.broadcast_arrays(x, y)).max() < 1.2
    m = rng.normal(size=(7, 9)).astype(np.float32)
    np.testing.assert_array_equal(xg.hypot(xg.asarray(m.T), xg.asarray(m.T)).numpy(),
                                  xg.hypot(xg.asarray(m), xg.asarray(m)).numpy().T)


@pytest.mark.parametrize("shapes", [((0,), ()), ((0, 3), (3,)), ((0,), (0,))])
def test_empty_operands_give_an_empty_result_and_gradient(shapes):
    # the range check took min() of the empty result (found by tests/test_differential_fuzz.py)
    x, y = (xg.asarray(np.ones(s, np.float32)) for s in shapes)
    with xg.GradientTape() as tape:
        tape.watch([x, y])
        out = xg.hypot(x, y)
    gx, gy = tape.gradient(out, [x, y])
    assert out.shape == np.broadcast_shapes(*shapes) and out.dtype == xg.float32
    assert gx.shape == x.shape and gy.shape == y.shape
    np.testing.assert_array_equal(gy.numpy(), np.zeros(y.shape, np.float32))


def test_gradients_match_torch():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 30)).astype(np.float32)
    y = rng.normal(size=(20, 30)).astype(np.float32)
    x[0, :2] = y[0, :2] = 0.0                               # the origin: gradient 0 there
    g = rng.normal(size=(20, 30)).astype(np.float32)
    xt, yt = xg.asarray(x), xg.asarray(y)
    with xg.GradientTape() as tape:
        tape.watch([xt, yt])
        out = xg.hypot(xt, yt)
    dx, dy = tape.gradient(out, [xt, yt], output_gradients=xg.asarray(g))
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    torch.hypot(tx, ty).backward(torch.tensor(g))
    for ours, theirs in ((dx.numpy(), tx.grad.numpy()), (dy.numpy(), ty.grad.numpy())):
        assert (ours[0, :2] == 0.0).all()                     # PyTorch's is NaN there
        np.testing.assert_allclose(ours[1:], theirs[1:], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(ours[0, 2:], theirs[0, 2:], rtol=1e-6, atol=1e-7)


def test_gradients_against_finite_differences():
    x = xg.asarray(np.array([[0.3, -2.0, 5.0], [1e-3, 4.0, -0.7]]))
    y = xg.asarray(np.array([1.5, -0.2, 3.0]))
    check_grads(xg.hypot, [x, y], order=2)


def test_declines_what_it_does_not_cover():
    forward = KERNELS["hypot"].forward
    x32 = np.float32([3.0, 4.0])
    x64 = x32.astype(np.float64) + 1e-9
    np.testing.assert_array_equal(forward(x64, x64)[0], np.hypot(x64, x64))   # float64: NumPy's
    assert forward(x32, x32.astype(np.float64)) is None                      # mixed dtypes
    assert forward(np.float32(3.0), np.float32(4.0)) is None                 # 0-d pair
    out, _ = forward(x32, x32[::-1].copy())
    assert out.tolist() == [5.0, 5.0]
    with pytest.raises(TypeError, match=r"hypot: argument 2 is a str"):
        xg.hypot(xg.asarray(x32), "a")
