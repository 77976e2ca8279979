"""xg.linalg.cholesky_solve against torch.cholesky_solve (float64 values and gradients for B
and the factor: lower and upper, batched and broadcast, complex), finite differences through
the factor of a matrix (first and second order, the Gaussian-process use), and clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from torch_compare import torch_values_and_grads, xpgrad_values_and_grads

torch = pytest.importorskip("torch")
R = np.random.default_rng(5)


def _factor(*shape, upper=False):
    """A well-conditioned triangular factor, as xg.linalg.cholesky returns one."""
    full = R.standard_normal(shape) + 3 * np.eye(shape[-1])
    return np.triu(full) if upper else np.tril(full)


SHAPES = [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 4)), ((2, 1, 3, 3), (4, 3, 1)),
          ((3, 3), (5, 3, 2))]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("upper", [False, True])
def test_values_and_gradients_match_torch_on_the_triangle_read(shapes, upper):
    """torch's gradient for the factor is its full-matrix formula (nonzero on the triangle
    its forward never reads); here, as JAX's cho_solve and solve_triangular, that triangle
    gets zero and the triangle read gets torch's numbers."""
    l_shape, b_shape = shapes
    arrays = [R.standard_normal(b_shape), _factor(*l_shape, upper=upper)]
    got_values, (got_b, got_f) = xpgrad_values_and_grads(
        lambda b, f: xg.linalg.cholesky_solve(b, f, upper=upper), arrays)
    want_values, (want_b, want_f) = torch_values_and_grads(
        lambda b, f: torch.cholesky_solve(b, f, upper=upper), arrays)
    np.testing.assert_allclose(got_values[0], want_values[0], rtol=1e-10)
    np.testing.assert_allclose(got_b, want_b, rtol=1e-10, atol=1e-12)
    read = np.triu if upper else np.tril
    np.testing.assert_allclose(got_f, read(want_f), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("l_shape", [(4, 4), (2, 4, 4)], ids=str)
@pytest.mark.parametrize("upper", [False, True])
def test_a_vector_b_as_scipys_and_jaxs_cho_solve(l_shape, upper):
    """GP code writes cho_solve((L, True), y) with y a vector; torch's needs (n, 1)."""
    import scipy.linalg

    arrays = [R.standard_normal(4), _factor(*l_shape, upper=upper)]
    got_values, (got_b, got_f) = xpgrad_values_and_grads(
        lambda b, f: xg.linalg.cholesky_solve(b, f, upper=upper), arrays)
    want_values, (want_b, want_f) = torch_values_and_grads(
        lambda b, f: torch.cholesky_solve(b[:, None], f, upper=upper)[..., 0], arrays)
    assert got_values[0].shape == l_shape[:-1]
    np.testing.assert_allclose(got_values[0], want_values[0], rtol=1e-10)
    np.testing.assert_allclose(got_b, want_b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_f, (np.triu if upper else np.tril)(want_f), rtol=1e-10,
                               atol=1e-12)
    if len(l_shape) == 2:
        want = scipy.linalg.cho_solve((arrays[1], not upper), arrays[0])
        np.testing.assert_allclose(got_values[0], want, rtol=1e-12)
    with pytest.raises(ValueError, match=r"B must have shape \(\.\.\., 4, k\) or \(4,\).*got "
                                         r"shape \(3,\)"):
        xg.linalg.cholesky_solve(xg.asarray(arrays[0][:3]), xg.asarray(arrays[1]))


def test_the_triangle_not_read_is_ignored():
    f = _factor(3, 3)
    noisy = f + np.triu(R.standard_normal((3, 3)), 1)
    b = xg.asarray(R.standard_normal((3, 2)))
    np.testing.assert_array_equal(xg.linalg.cholesky_solve(b, xg.asarray(noisy)).numpy(),
                                  xg.linalg.cholesky_solve(b, xg.asarray(f)).numpy())


@pytest.mark.parametrize("upper", [False, True])
def test_complex_factor_solves_the_hermitian_system(upper):
    a = R.standard_normal((3, 3)) + 1j * R.standard_normal((3, 3))
    spd = a @ a.conj().T + 3 * np.eye(3)
    factor = np.linalg.cholesky(spd)
    factor = factor.conj().T if upper else factor
    b = R.standard_normal((3, 2)) + 1j * R.standard_normal((3, 2))
    got = xg.linalg.cholesky_solve(xg.asarray(b), xg.asarray(factor), upper=upper).numpy()
    want = torch.cholesky_solve(torch.tensor(b), torch.tensor(factor), upper=upper).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(spd @ got, b, rtol=1e-12)


def test_finite_differences_through_the_cholesky_of_a_kernel_matrix():
    """The GP pattern: K(theta) factored, then solved; first and second order in K and B."""
    def solve(m, b):
        k = m @ m.mT + 3.0 * xg.eye(3, dtype=xg.float64)
        return xg.linalg.cholesky_solve(b, xg.linalg.cholesky(k))
    check_grads(solve, [xg.asarray(R.standard_normal((3, 3))),
                        xg.asarray(R.standard_normal((3, 2)))], order=2)


def test_positional_upper_as_torch_takes_it():
    f = _factor(3, 3)
    b = R.standard_normal((3, 1))
    got = xg.linalg.cholesky_solve(xg.asarray(b), xg.asarray(f), True).numpy()
    want = torch.cholesky_solve(torch.tensor(b), torch.tensor(f), True).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("b_shape,l_shape,error,match", [
    ((2,), (3, 3), ValueError, r"cholesky_solve: B must have shape \(\.\.\., 3, k\) or \(3,\)"),
    ((4, 1), (3, 3), ValueError, r"cholesky_solve: B must have shape"),
    ((3, 1), (3, 2), ValueError, r"cholesky_solve: L must be square"),
    ((3, 1), (3,), ValueError, r"cholesky_solve: L must have at least 2 dimensions"),
    ((2, 3, 1), (4, 3, 3), ValueError, r"cholesky_solve"),
])
def test_bad_shapes_name_the_argument(b_shape, l_shape, error, match):
    with pytest.raises(error, match=match):
        xg.linalg.cholesky_solve(xg.ones(b_shape, dtype=xg.float64),
                                 xg.ones(l_shape, dtype=xg.float64))


def test_bad_dtypes_and_flags_name_the_argument():
    f = xg.eye(2, dtype=xg.float64)
    with pytest.raises(TypeError, match="cholesky_solve: B and L must have the same dtype"):
        xg.linalg.cholesky_solve(xg.ones((2, 1), dtype=xg.float32), f)
    with pytest.raises(TypeError, match="cholesky_solve: B must have a floating-point"):
        xg.linalg.cholesky_solve(xg.ones((2, 1), dtype=xg.int64), f)
    with pytest.raises(TypeError, match="upper"):
        xg.linalg.cholesky_solve(xg.ones((2, 1), dtype=xg.float64), f, upper="yes")
