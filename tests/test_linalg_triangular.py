"""xg.linalg.solve_triangular against torch.linalg.solve_triangular (float64 values and
gradients for A and B: upper/lower, left/right, unitriangular, batched and broadcast, the
sample axes folded into columns), finite differences (first and second order), and clear
errors for bad arguments."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
R = np.random.default_rng(11)


def _matrix(*shape):
    """Well-conditioned: a dominant diagonal, both triangles filled (the solver must ignore
    the other one)."""
    return R.standard_normal(shape) + 3 * np.eye(shape[-1])


# (A's shape, B's shape for left=True): one matrix, a batch, broadcast batches, and B's
# leading axes beyond A's batch (solved as columns of one right-hand side)
SHAPES = [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 4)), ((2, 1, 3, 3), (4, 3, 1)),
          ((3, 3), (5, 2, 3, 2)), ((2, 3, 3), (4, 2, 3, 2)), ((1, 3, 3), (2, 3, 3))]


def _b_shape(b_left, left):
    return b_left if left else b_left[:-2] + (b_left[-1], b_left[-2])


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unitriangular", [False, True])
def test_values_and_gradients_match_torch(shapes, upper, left, unitriangular):
    a_shape, b_left = shapes
    kw = dict(upper=upper, left=left, unitriangular=unitriangular)
    assert_matches_torch(lambda a, b: xg.linalg.solve_triangular(a, b, **kw),
                         lambda a, b: torch.linalg.solve_triangular(a, b, **kw),
                         [_matrix(*a_shape), R.standard_normal(_b_shape(b_left, left))])


@pytest.mark.parametrize("upper,left,unitriangular",
                         [(False, True, False), (True, False, False), (False, False, True)])
def test_finite_differences_first_and_second_order(upper, left, unitriangular):
    a = xg.asarray(_matrix(3, 3))
    b = xg.asarray(R.standard_normal((3, 2) if left else (2, 3)))
    check_grads(lambda a, b: xg.linalg.solve_triangular(
        a, b, upper=upper, left=left, unitriangular=unitriangular), [a, b], order=2)


def test_finite_differences_with_folded_and_broadcast_batches():
    a, b = xg.asarray(_matrix(2, 3, 3)), xg.asarray(R.standard_normal((4, 2, 3, 2)))
    check_grads(lambda a, b: xg.linalg.solve_triangular(a, b, upper=True), [a, b], order=2)
    a, b = xg.asarray(_matrix(2, 1, 3, 3)), xg.asarray(R.standard_normal((4, 2, 3)))
    check_grads(lambda a, b: xg.linalg.solve_triangular(a, b, upper=False, left=False), [a, b])


def test_only_the_triangle_read_gets_a_gradient():
    a = xg.asarray(_matrix(4, 4))
    b = xg.asarray(R.standard_normal((4, 2)))
    for upper, unit, keep in [(False, False, np.tril), (True, False, np.triu),
                              (False, True, lambda m: np.tril(m, -1)),
                              (True, True, lambda m: np.triu(m, 1))]:
        with xg.GradientTape() as tape:
            tape.watch(a)
            loss = xg.sum(xg.linalg.solve_triangular(a, b, upper=upper, unitriangular=unit))
        g = tape.gradient(loss, a).numpy()
        read = keep(np.ones((4, 4))).astype(bool)
        assert np.all(g[~read] == 0) and np.all(g[read] != 0)


def test_float32_and_the_solution_solves():
    a = np.tril(_matrix(5, 5)).astype(np.float32)
    b = R.standard_normal((7, 5, 3)).astype(np.float32)
    x = xg.linalg.solve_triangular(xg.asarray(a), xg.asarray(b), upper=False)
    assert x.dtype == xg.float32 and x.shape == (7, 5, 3)
    np.testing.assert_allclose(a @ x.numpy(), b, rtol=1e-4, atol=1e-5)


def test_bad_arguments_are_named():
    st = xg.linalg.solve_triangular
    a, b = xg.asarray(_matrix(3, 3)), xg.asarray(R.standard_normal((3, 2)))
    with pytest.raises(ValueError, match="A must be square"):
        st(xg.asarray(R.standard_normal((3, 2))), b, upper=False)
    with pytest.raises(ValueError, match="A must have at least 2 dimensions"):
        st(xg.asarray(R.standard_normal(3)), b, upper=False)
    with pytest.raises(ValueError, match="B must have at least 2 dimensions"):
        st(a, xg.asarray(R.standard_normal(3)), upper=False)
    with pytest.raises(ValueError, match=r"with left=True B must have shape \(\.\.\., 3, k\)"):
        st(a, xg.asarray(R.standard_normal((2, 3))), upper=False)
    with pytest.raises(ValueError, match=r"with left=False B must have shape \(\.\.\., k, 3\)"):
        st(a, b, upper=False, left=False)
    with pytest.raises(ValueError, match="do not broadcast"):
        st(xg.asarray(_matrix(2, 3, 3)), xg.asarray(R.standard_normal((4, 3, 2))), upper=True)
    with pytest.raises(TypeError, match="upper must be True or False"):
        st(a, b, upper=1)
    with pytest.raises(TypeError, match="left must be True or False"):
        st(a, b, upper=True, left="no")
    with pytest.raises(TypeError, match="unitriangular must be True or False"):
        st(a, b, upper=True, unitriangular=None)
    with pytest.raises(TypeError, match="upper"):
        st(a, b)                                   # upper is required, as torch's
    with pytest.raises(TypeError, match="A must have a floating-point"):
        st(xg.asarray([[1, 0], [0, 1]]), b[:2], upper=True)
    with pytest.raises(TypeError, match="same dtype"):
        st(a, xg.astype(b, xg.float32), upper=True)


def test_zero_on_the_diagonal_is_a_named_linalg_error():
    a = np.tril(_matrix(3, 3))
    a[1, 1] = 0.0
    with pytest.raises(np.linalg.LinAlgError, match="linalg.solve_triangular"):
        xg.linalg.solve_triangular(xg.asarray(a), xg.ones((3, 1), dtype=xg.float64),
                                   upper=False)
    x = xg.linalg.solve_triangular(xg.asarray(a), xg.ones((3, 1), dtype=xg.float64),
                                   upper=False, unitriangular=True)   # the diagonal unread
    np.testing.assert_allclose(np.tril(a, -1) @ x.numpy() + x.numpy(), np.ones((3, 1)))


def test_multivariate_normal_log_prob_through_it_matches_torch():
    """MultivariateNormal.log_prob solves with it, the sample axes as columns: values and
    gradients for loc, scale_tril and the value."""
    td = torch.distributions
    loc, tril = R.standard_normal((2, 3)), np.tril(_matrix(2, 3, 3) * 0.5)
    value = R.standard_normal((5, 2, 3))
    assert_matches_torch(
        lambda m, s, v: xg.distributions.MultivariateNormal(m, scale_tril=s).log_prob(v),
        lambda m, s, v: td.MultivariateNormal(m, scale_tril=s).log_prob(v), [loc, tril, value])


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, "T", 2])
def test_scipy_and_jax_keywords_match_torch(lower, trans):
    # jax.scipy.linalg.solve_triangular(a, b, trans, lower, unit_diagonal): op(A) X = B, and
    # the transpose of a lower triangle is an upper one
    for unit in (False, True):
        assert_matches_torch(
            lambda a, b: xg.linalg.solve_triangular(a, b, lower=lower, trans=trans,
                                                    unit_diagonal=unit),
            lambda a, b: torch.linalg.solve_triangular(
                a.mT if trans else a, b[:, None], upper=lower if trans else not lower,
                unitriangular=unit)[:, 0],
            [_matrix(4, 4), R.standard_normal(4)])
    assert_matches_torch(lambda a, b: xg.linalg.solve_triangular(a, b, lower=lower,
                                                                 trans=trans),
                         lambda a, b: torch.linalg.solve_triangular(
                             a.mT if trans else a, b, upper=lower if trans else not lower),
                         [_matrix(2, 3, 3), R.standard_normal((2, 3, 2))])
    check_grads(lambda a, b: xg.linalg.solve_triangular(a, b, lower=lower, trans=trans),
                [xg.asarray(_matrix(3, 3)), xg.asarray(R.standard_normal(3))], order=2)


def test_scipy_keywords_bad_arguments_are_named():
    st = xg.linalg.solve_triangular
    a, b = xg.asarray(_matrix(3, 3)), xg.asarray(R.standard_normal(3))
    with pytest.raises(TypeError, match="upper= .* or lower= .*not both"):
        st(a, b, upper=True, lower=True)
    with pytest.raises(TypeError, match="unitriangular= .* or unit_diagonal= .*not both"):
        st(a, b, lower=True, unitriangular=True, unit_diagonal=True)
    with pytest.raises(ValueError, match="trans must be 0, 1, 2, 'N', 'T' or 'C', got 'X'"):
        st(a, b, lower=True, trans="X")
    with pytest.raises(TypeError, match="lower must be True or False"):
        st(a, b, lower=1)
    with pytest.raises(ValueError, match="B must have at least 2 dimensions"):
        st(a, b, upper=True)                       # a vector B is SciPy's, not torch's
