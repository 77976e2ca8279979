"""The NumPy backend's ``logaddexp`` and ``remainder`` kernels (backends/numpy/binary.py):
values against mpmath-grade references (float64 for float32 inputs, mpmath for float64),
NumPy's own ufuncs and PyTorch, over wide ranges with zeros, signed zeros, subnormals,
infinities and NaN; gradients against PyTorch and float64 finite differences; what the
kernels decline. (tests/test_kernel_protocol.py checks them against the generic rules.)"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.binary import KERNELS
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
mp = pytest.importorskip("mpmath")

_SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 7.0, 1e-45, -1e-45, 1e-38, 3e38, -3e38, 2.0 ** 30,
            -(2.0 ** 30), 16777217.0, 0.1, np.inf, -np.inf, np.nan]


def _wide(rng, n, dtype):
    """Normal numbers times powers of ten from 1e-10 to 1e9, then the special values."""
    x = rng.normal(size=n) * 10.0 ** rng.integers(-10, 10, n)
    return np.concatenate([x, _SPECIAL]).astype(dtype)


def _grid(dtype):
    a = np.asarray(_SPECIAL, dtype)
    return np.meshgrid(a, a)


def _same(a, b):
    """Equal values, NaN where NaN, and equal signs of zeros."""
    return np.array_equal(a, b, equal_nan=True) and \
        np.array_equal(np.signbit(a[a == 0]), np.signbit(b[a == 0]))


def _with_torch(op, torch_op, x, y, g):
    """``op(x, y)`` under a tape and its gradients for the output gradient ``g``; beside them,
    PyTorch's output and its leaves (their ``.grad`` filled) for the same arrays."""
    xt, yt = xg.asarray(x), xg.asarray(y)
    with xg.GradientTape() as tape:
        tape.watch([xt, yt])
        z = op(xt, yt)
    dx, dy = tape.gradient(z, [xt, yt], output_gradients=xg.asarray(g))
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    want = torch_op(tx, ty)
    want.backward(torch.tensor(g))
    return z, dx, dy, want, tx, ty


def _logaddexp(x, y):
    out, _ = KERNELS["logaddexp"].forward(x, y)
    return out


# -- logaddexp ----------------------------------------------------------------------------------
def test_logaddexp_float32_is_the_rounded_float64_value():
    """Computed in float64 from the exact difference, a float32 result is within half an ulp
    of the true value where NumPy's float32 loop is hundreds of ulps off near 0 (where
    ``log1p`` cancels the larger input)."""
    rng = np.random.default_rng(0)
    x, y = (rng.normal(size=20000).astype(np.float32) for _ in range(2))
    exact = np.logaddexp(x.astype(np.float64), y.astype(np.float64))
    ours = _logaddexp(x, y)
    assert ours.dtype == np.float32
    ulps = np.abs(ours - exact) / np.spacing(np.abs(ours))
    assert ulps.max() <= 0.5 + 1e-6
    numpy_ulps = np.abs(np.logaddexp(x, y) - exact) / np.spacing(np.abs(ours))
    assert numpy_ulps.max() > 10            # what the kernel replaces


def test_logaddexp_float64_against_mpmath():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=300) * 5, rng.normal(size=300) * 5
    x[:3], y[:3] = [700.0, -745.0, 0.0], [700.0 - 1e-12, 30.0, -0.0]
    ours = _logaddexp(x, y)
    mp.mp.dps = 40
    for a, b, o in zip(x, y, ours):
        exact = mp.log(mp.exp(mp.mpf(float(a))) + mp.exp(mp.mpf(float(b))))
        # the formula's own rounding: |max| ulps, relative to a result near 0
        assert abs(o - float(exact)) <= 4 * np.spacing(max(abs(a), abs(b), abs(o))), (a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logaddexp_special_values_as_numpy(dtype):
    x, y = _grid(dtype)
    with np.errstate(all="ignore"):
        want = np.logaddexp(x.astype(np.float64), y.astype(np.float64)).astype(dtype)
    got = _logaddexp(x, y)
    assert _same(got, want)
    assert np.isnan(got[np.isnan(x) | np.isnan(y)]).all()
    np.testing.assert_array_equal(got[np.isinf(x) & (x == y)], x[np.isinf(x) & (x == y)])


def _close_to_torch(got, want, x, y, dtype):
    """Within 4 ulps of the larger input or output: PyTorch's float32 ``logaddexp`` rounds
    ``log1p`` in float32, off by as much near a result of 0, where it cancels the larger
    input."""
    scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), np.abs(got)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        error = np.abs(got.astype(np.float64) - want)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    assert (same | (error <= 4 * np.finfo(dtype).eps * scale)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logaddexp_wide_range_and_broadcasting_match_torch(dtype):
    rng = np.random.default_rng(2)
    x, y = _wide(rng, 3000, dtype), _wide(rng, 3000, dtype)[::-1].copy()
    want = torch.logaddexp(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    got = xg.logaddexp(xg.asarray(x), xg.asarray(y)).numpy()
    _close_to_torch(got, want, x, y, dtype)
    col, row = x[:40, None], y[None, :50]
    got = xg.logaddexp(xg.asarray(col), xg.asarray(row)).numpy()
    want = torch.logaddexp(torch.from_numpy(col), torch.from_numpy(row)).numpy()
    assert got.shape == (40, 50)
    _close_to_torch(got, want, *np.broadcast_arrays(col, row), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logaddexp_gradients_match_torch(dtype):
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(30, 20)) * 4).astype(dtype)
    y = (rng.normal(size=(20,)) * 4).astype(dtype)
    x[0, :3] = [np.inf, -np.inf, 5.0]               # an infinite output: the generic rule
    g = rng.normal(size=(30, 20)).astype(dtype)
    _, dx, dy, _, tx, ty = _with_torch(xg.logaddexp, torch.logaddexp, x, y, g)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(dx.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dy.numpy(), ty.grad.numpy(), rtol=tol, atol=tol * 30)
    finite = x[1:]                                   # the kernel's own vjp (a finite output)
    xt = xg.asarray(finite)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        z = xg.logaddexp(xt, xg.asarray(y))
    tx = torch.tensor(finite, requires_grad=True)
    torch.logaddexp(tx, torch.tensor(y)).backward(torch.tensor(g[1:]))
    np.testing.assert_allclose(tape.gradient(z, xt, output_gradients=xg.asarray(g[1:])).numpy(),
                               tx.grad.numpy(), rtol=tol, atol=tol)


def test_logaddexp_gradients_against_finite_differences():
    rng = np.random.default_rng(4)
    check_grads(xg.logaddexp, [xg.asarray(rng.normal(size=(4, 5)) * 3),
                               xg.asarray(rng.normal(size=(5,)) * 3)])
    check_grads(xg.logaddexp, [xg.asarray(np.array([[2.0, -30.0, 0.0]])),
                               xg.asarray(np.array([2.0, 1.0, 40.0]))], order=2)


def test_logaddexp_infinite_outputs_keep_the_generic_gradients():
    """``inf - inf`` in ``exp(x - out)``: the generic rule's selects (1 for the infinite
    input, NaN where both are the same infinity, as PyTorch's)."""
    x = xg.asarray(np.array([np.inf, -np.inf, np.inf, -np.inf, 1.0]))
    y = xg.asarray(np.array([1.0, 2.0, np.inf, -np.inf, -np.inf]))
    with xg.GradientTape() as tape:
        tape.watch([x, y])
        z = xg.logaddexp(x, y)
    dx, dy = tape.gradient(z, [x, y])
    tx = torch.tensor(x.numpy(), requires_grad=True)
    ty = torch.tensor(y.numpy(), requires_grad=True)
    torch.logaddexp(tx, ty).sum().backward()
    np.testing.assert_array_equal(dx.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(dy.numpy(), ty.grad.numpy())
    np.testing.assert_array_equal(dx.numpy(), [1.0, 0.0, np.nan, np.nan, 1.0])


def test_logaddexp_kernel_declines_what_it_does_not_cover():
    fwd = KERNELS["logaddexp"].forward
    f32, f64 = np.ones(3, np.float32), np.ones(3)
    assert fwd(f32, f64) is None                              # mixed dtypes
    assert fwd(np.ones(3, np.int64), np.ones(3, np.int64)) is None
    assert fwd(np.ones(3, np.complex128), f64) is None
    assert fwd(np.float64(1.0), np.float64(2.0)) is None      # NumPy scalars
    assert fwd(np.array(1.0), np.array(2.0)) is None          # 0-d: NumPy answers scalars
    assert fwd(f64, 1.0) is None
    z = xg.logaddexp(xg.asarray([1 + 1j]), xg.asarray([2.0 + 0j]))     # the generic rule
    assert abs(z.item() - np.log(np.exp(1 + 1j) + np.exp(2.0))) < 1e-6
    with pytest.raises(TypeError):
        xg.logaddexp(xg.asarray([1.0]), "a")


# -- remainder ----------------------------------------------------------------------------------
def _remainder(x, y):
    out, _ = KERNELS["remainder"].forward(x, y)
    return out


_SPECIAL64 = [0.0, -0.0, 1.0, -1.0, 0.5, 7.0, 5e-324, -5e-324, 1e-308, -1e-308, 2.2e-308,
              1e-300, 1.7e308, -1.7e308, 2.0 ** 60, -(2.0 ** 60), 9007199254740993.0, 0.1,
              np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_remainder_equals_numpy_on_wide_ranges(dtype):
    rng = np.random.default_rng(5)
    with np.errstate(all="ignore"):
        for _ in range(3):
            x, y = _wide(rng, 20000, dtype), _wide(rng, 20000, dtype)[::-1].copy()
            assert _same(_remainder(x, y), np.remainder(x, y))
        special = _SPECIAL if dtype == np.float32 else _SPECIAL64
        gx, gy = np.meshgrid(np.asarray(special, dtype), np.asarray(special, dtype))
        assert _same(_remainder(gx, gy), np.remainder(gx, gy))
        col, row = x[:60, None], y[None, ::300]
        assert _same(_remainder(col, row), np.remainder(col, row))


def test_remainder_float64_tiny_huge_and_subnormal_operands():
    """Where ``x / y`` underflows to a zero (the floor is -1, not -0: ``-5e-324 % 7`` is 7),
    where Dekker's low products would be subnormal, and past 1e300 (the split overflows):
    those entries go to ``np.remainder``."""
    rng = np.random.default_rng(9)
    with np.errstate(all="ignore"):
        for sx in (1e-300, 1e-310, 1e-320, 1.0, 1e300):
            for sy in (1e-300, 1e-310, 1e-320, 1.0, 1e300):
                x, y = rng.normal(size=5000) * sx, rng.normal(size=5000) * sy
                assert _same(_remainder(x, y), np.remainder(x, y)), (sx, sy)
    assert _remainder(np.array([-5e-324, 5e-324]), np.array([7.0, -7.0])).tolist() == [7.0, -7.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_remainder_next_to_multiples(dtype, sign):
    """Quotients a hair below an integer, where ``x / y`` rounds up to it: those entries go
    to ``np.remainder``; exact multiples give a zero of the divisor's sign."""
    rng = np.random.default_rng(6)
    y = (rng.uniform(0.1, 3.0, 50000) * sign).astype(dtype)
    k = rng.integers(1, 2 ** (22 if dtype == np.float32 else 50), 50000).astype(dtype)
    on = (k * y).astype(dtype)
    for x in (on, np.nextafter(on, dtype(0)), np.nextafter(on, dtype(np.inf)), -on):
        assert _same(_remainder(x, y), np.remainder(x, y))
        assert _same(_remainder(x, -y), np.remainder(x, -y))


def test_remainder_float32_large_quotients_and_python_numbers():
    rng = np.random.default_rng(7)
    x = rng.uniform(-3e38, 3e38, 5000).astype(np.float32)
    y = rng.uniform(1e-3, 1e3, 5000).astype(np.float32)
    assert _same(_remainder(x, y), np.remainder(x, y))
    small = rng.normal(size=500).astype(np.float32)
    assert _same(_remainder(small, 0.3), np.remainder(small, np.float32(0.3)))
    assert _same(_remainder(7.5, small), np.remainder(np.float32(7.5), small))
    wide = rng.normal(size=500) * 1e5
    assert _same(_remainder(wide, 0.3), np.remainder(wide, 0.3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_remainder_matches_torch_with_its_gradients(dtype):
    rng = np.random.default_rng(8)
    x = (rng.normal(size=(40, 30)) * 10).astype(dtype)
    y = rng.uniform(0.5, 3.0, (30,)).astype(dtype) * np.where(rng.uniform(size=30) < .5,
                                                                -1, 1).astype(dtype)
    g = rng.normal(size=(40, 30)).astype(dtype)
    z, dx, dy, want, tx, ty = _with_torch(xg.remainder, torch.remainder, x, y, g)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(z.numpy(), want.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_array_equal(dx.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(dy.numpy(), ty.grad.numpy(), rtol=tol)
    check_grads(xg.remainder, [xg.asarray(np.array([[2.3, -4.1, 7.7]])),
                               xg.asarray(np.array([1.3, 0.9, -2.2]))])


def test_remainder_kernel_declines_what_it_does_not_cover():
    fwd = KERNELS["remainder"].forward
    assert fwd(np.ones(3, np.float32), np.ones(3)) is None          # mixed dtypes
    assert fwd(np.ones(3, np.int32), np.ones(3, np.int32)) is None
    assert fwd(np.ones(3, np.float16), np.ones(3, np.float16)) is None
    assert fwd(np.float32([1.0]), "a") is None
    assert fwd(np.array(1.0, np.float32), np.array(2.0, np.float32)) is None
    np.testing.assert_array_equal(xg.remainder(xg.asarray([7, -7]), 3).numpy(), [1, 2])
