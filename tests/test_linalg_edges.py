"""xg.linalg at its edges, real inputs: batch broadcasting, empty batches, 1x1 and 0x0
matrices, non-square decompositions, singular and negative-determinant matrices, every norm
order, offsets and axes; values and gradients against PyTorch (float64), second order against
finite differences (and JAX where PyTorch gives NaN), float32 gradients staying float32 and the
numba backend agreeing with numpy."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch, xpgrad_values_and_grads

torch = pytest.importorskip("torch")
L, TL = xg.linalg, torch.linalg
INF = math.inf


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


def _spd(*shape):
    a = _rand(*shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _sym(*shape):
    a = _rand(*shape)
    return a + np.swapaxes(a, -1, -2)


def _usv(svd, k):
    """U diag(S) Vh over the first k singular triplets: independent of the vectors' signs."""
    u, s, vh = svd
    return (u[..., :k] * s[..., None, :k]) @ vh[..., :k, :]


def _x_proj(v):
    return v @ xg.matrix_transpose(v)


SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])


def det3(t):
    """A (..., 3, 3) torch determinant by cofactors: the reference for exactly singular
    matrices, whose gradient (the adjugate's transpose, nonzero at rank 2) torch's own det
    gives as zeros on some machines (its LU finds an exact zero pivot there)."""
    r = [[t[..., i, j] for j in range(3)] for i in range(3)]
    return (r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
            - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
            + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]))

# name -> (arrays, xpgrad function, torch function)
CASES = {
    "solve_batch_broadcast": ([_rand(2, 1, 3, 3), _rand(4, 3, 2)], L.solve, TL.solve),
    "solve_1d_b_batched_a": ([_rand(2, 3, 3), _rand(3)], L.solve, TL.solve),
    "solve_b_more_batch": ([_rand(3, 3), _rand(5, 3, 1)], L.solve, TL.solve),
    "solve_empty_batch": ([_rand(0, 3, 3), _rand(0, 3, 2)], L.solve, TL.solve),
    "solve_1x1": ([_rand(1, 1), _rand(1, 4)], L.solve, TL.solve),
    "solve_0x0": ([_rand(0, 0), _rand(0, 2)], L.solve, TL.solve),
    "inv_two_batch_dims": ([_rand(2, 3, 4, 4)], L.inv, TL.inv),
    "inv_empty_batch": ([_rand(0, 3, 3)], L.inv, TL.inv),
    "inv_1x1": ([_rand(1, 1)], L.inv, TL.inv),
    "det_empty_batch": ([_rand(0, 3, 3)], L.det, TL.det),
    "det_1x1": ([_rand(1, 1)], L.det, TL.det),
    "det_0x0": ([_rand(0, 0)], L.det, TL.det),
    "det_singular_rank2": ([SINGULAR], L.det, det3),
    "det_singular_rank1": ([np.outer([1.0, 2.0, 3.0], [1.0, 0.0, 2.0])], L.det, TL.det),
    "det_zero_2x2": ([np.zeros((2, 2))], L.det, TL.det),
    "det_batch_one_singular": ([np.stack([SINGULAR, _rand(3, 3)])], L.det, det3),
    "slogdet_negative": ([np.array([[-2.0, 1.0], [0.0, 3.0]])], lambda a: tuple(L.slogdet(a)),
                         lambda a: tuple(TL.slogdet(a))),
    "slogdet_batch": ([_rand(2, 3, 4, 4)], lambda a: tuple(L.slogdet(a)),
                      lambda a: tuple(TL.slogdet(a))),
    "slogdet_empty": ([_rand(0, 4, 4)], lambda a: tuple(L.slogdet(a)),
                      lambda a: tuple(TL.slogdet(a))),
    "cholesky_batch": ([_spd(2, 3, 4, 4)], L.cholesky, TL.cholesky),
    "cholesky_upper": ([_spd(2, 4, 4)], lambda a: L.cholesky(a, upper=True),
                       lambda a: TL.cholesky(a, upper=True)),
    "cholesky_1x1": ([np.array([[4.0]])], L.cholesky, TL.cholesky),
    "cholesky_empty": ([_spd(0, 3, 3)], L.cholesky, TL.cholesky),
    "pinv_rank_deficient": ([_rand(5, 2) @ _rand(2, 4)], L.pinv, TL.pinv),
    "pinv_batch_wide": ([_rand(2, 3, 5)], L.pinv, TL.pinv),
    "pinv_zero": ([np.zeros((3, 2))], L.pinv, TL.pinv),
    "pinv_0x3": ([_rand(0, 3)], L.pinv, TL.pinv),
    "pinv_rtol": ([_rand(4, 3)], lambda a: L.pinv(a, rtol=0.5), lambda a: TL.pinv(a, rtol=0.5)),
    "eigh_1x1": ([_rand(1, 1)], lambda a: tuple(L.eigh(a)), lambda a: tuple(TL.eigh(a))),
    "eigh_batch_projector": ([_sym(2, 3, 4, 4)],
                             lambda a: (lambda r: (r[1] * r[0][..., None, :]) @
                                        xg.matrix_transpose(r[1]))(L.eigh(a)),
                             lambda a: (lambda r: (r[1] * r[0][..., None, :]) @ r[1].mT)(
                                 TL.eigh(a))),
    "eigh_repeated_sum_of_squares": ([np.diag([1.0, 2.0, 2.0, 3.0])],
                                     lambda a: xg.sum(L.eigh(a).eigenvalues ** 2),
                                     lambda a: (TL.eigh(a).eigenvalues ** 2).sum()),
    "eigvalsh_empty_batch": ([_sym(0, 3, 3)], L.eigvalsh, TL.eigvalsh),
    "svdvals_zero": ([np.zeros((3, 2))], L.svdvals, TL.svdvals),
    "svd_rank_deficient_S": ([_rand(5, 2) @ _rand(2, 4)], lambda a: L.svd(a).S[:2],
                             lambda a: TL.svd(a).S[:2]),     # the zero ones: no unique vectors
}
for _shape in [(5, 3), (3, 5), (2, 3, 5, 3), (1, 4), (4, 1), (0, 3, 2)]:
    for _full in (False, True):
        CASES[f"svd_usv_{_shape}_full={_full}"] = (
            [_rand(*_shape)], lambda a, f=_full: _usv(L.svd(a, full_matrices=f), min(a.shape[-2:])),
            lambda a, f=_full: _usv(TL.svd(a, full_matrices=f), min(a.shape[-2:])))
    for _mode in ("reduced", "complete"):
        if _mode == "reduced" or _shape[-2] <= _shape[-1]:   # PyTorch: no complete tall grad
            CASES[f"qr_{_shape}_{_mode}"] = (
                [_rand(*_shape)], lambda a, m=_mode: tuple(L.qr(a, mode=m)),
                lambda a, m=_mode: tuple(TL.qr(a, mode=m)))
for _n in (0, 1, 2, 3, -1, -2, -3):
    CASES[f"matrix_power_{_n}"] = ([_rand(2, 3, 3) + 3 * np.eye(3)],
                                   lambda a, n=_n: L.matrix_power(a, n),
                                   lambda a, n=_n: TL.matrix_power(a, n))
for _ord in ("fro", "nuc", 1, -1, 2, -2, INF, -INF):
    for _kd in (False, True):
        CASES[f"matrix_norm_{_ord}_keepdims={_kd}"] = (
            [_rand(2, 3, 4)], lambda a, o=_ord, k=_kd: L.matrix_norm(a, ord=o, keepdims=k),
            lambda a, o=_ord, k=_kd: TL.matrix_norm(a, ord=o, keepdim=k))
    CASES[f"matrix_norm_{_ord}_ties_and_zeros"] = (
        [np.array([[1.0, -2.0, 0.0], [2.0, 1.0, 0.0]])], lambda a, o=_ord: L.matrix_norm(a, ord=o),
        lambda a, o=_ord: TL.matrix_norm(a, ord=o))
for _ord in (0, 1, 2, INF, -INF, 0.5, -1, -2, 3):
    for _shape, _axis in [((5,), None), ((3, 4), 1), ((2, 3, 4), (0, 2)), ((2, 3, 4), (-1, -3))]:
        CASES[f"vector_norm_{_ord}_{_shape}_axis={_axis}"] = (
            [_rand(*_shape)], lambda a, o=_ord, x=_axis: L.vector_norm(a, ord=o, axis=x,
                                                                       keepdims=True),
            lambda a, o=_ord, x=_axis: TL.vector_norm(a, ord=o, dim=x, keepdim=True))
    CASES[f"vector_norm_{_ord}_zero_entries"] = (
        [np.array([[0.0, 1.0, -2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])],
        lambda a, o=_ord: L.vector_norm(a, ord=o, axis=-1),
        lambda a, o=_ord: TL.vector_norm(a, ord=o, dim=-1))
for _sa, _sb, _axis in [((4, 3), (3,), -1), ((2, 1, 3), (4, 3), -1), ((3, 4), (3, 1), -2),
                        ((3, 4, 2), (1, 3, 1, 1), -3), ((0, 3), (3,), -1)]:
    CASES[f"cross_{_sa}_{_sb}_{_axis}"] = (
        [_rand(*_sa), _rand(*_sb)], lambda a, b, x=_axis: L.cross(a, b, axis=x),
        lambda a, b, x=_axis: TL.cross(*torch.broadcast_tensors(a, b), dim=x))
for _shape in [(3, 5), (5, 3), (2, 4, 3), (0, 3, 3)]:
    for _off in (0, 1, -2, 6):
        CASES[f"trace_{_shape}_{_off}"] = (
            [_rand(*_shape)], lambda a, k=_off: L.trace(a, offset=k),
            lambda a, k=_off: torch.diagonal(a, offset=k, dim1=-2, dim2=-1).sum(-1))
        CASES[f"diagonal_{_shape}_{_off}"] = (
            [_rand(*_shape)], lambda a, k=_off: L.diagonal(a, offset=k),
            lambda a, k=_off: torch.diagonal(a, offset=k, dim1=-2, dim2=-1))
for _sa, _sb, _axes in [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (4, 5), 0),
                        ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])), ((2, 3), (3, 2), ([], [])),
                        ((0, 3), (3, 2), 1), ((2, 3, 4), (3, 4, 5), [[-2, -1], [0, 1]])]:
    CASES[f"tensordot_{_sa}_{_sb}_{_axes}"] = (
        [_rand(*_sa), _rand(*_sb)], lambda a, b, x=_axes: L.tensordot(a, b, axes=x),
        lambda a, b, x=_axes: torch.tensordot(a, b, dims=x))


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_torch(name):
    arrays, fx, ft = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # 1/0 inside masked branches
        assert_matches_torch(fx, ft, arrays)


# -- second order ---------------------------------------------------------------------------------
RANK_DEFICIENT = {   # det's Hessian is a polynomial's: exact also where the rank is n - 2 or less
    "zero_2x2": np.zeros((2, 2)),
    "zero_3x3": np.zeros((3, 3)),
    "diag_100": np.diag([1.0, 0.0, 0.0]),
    "rank1_3x3": np.outer([1.0, 2.0, 3.0], [1.0, 0.0, 1.0]),
    "rank2_4x4": _rand(4, 2) @ _rand(2, 4),
    "batch": np.stack([np.zeros((3, 3)), np.diag([2.0, 0.0, 0.0]), _rand(3, 3)]),
    "rank2_3x3": SINGULAR,
    "1x1_zero": np.zeros((1, 1)),
}


def _exact_det_hessian(a):
    """Second differences of det, exact here: det is linear in each entry (step 1)."""
    n = a.size
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            total = 0.0
            for si, sj, sign in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
                m = a.copy().reshape(-1)
                m[i] += si
                m[j] += sj
                total += sign * np.linalg.det(m.reshape(a.shape)).sum()
            h[i, j] = total / 4
    return h


@pytest.mark.parametrize("name", sorted(RANK_DEFICIENT))
def test_det_hessian_at_rank_deficient_matrices_is_exact(name):
    a = RANK_DEFICIENT[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        h = xg.hessian(lambda x: xg.sum(L.det(x)))(xg.asarray(a, dtype=xg.float64)).numpy()
    np.testing.assert_allclose(h.reshape(a.size, a.size), _exact_det_hessian(a), atol=1e-9)


def test_det_hessian_at_zero_matches_jax(jax):
    a = np.diag([2.0, 0.0, 0.0])
    want = np.asarray(jax.hessian(jax.numpy.linalg.det)(a))
    got = xg.hessian(L.det)(xg.asarray(a, dtype=xg.float64)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("name", ["zero_2x2", "diag_100", "rank1_3x3"])
def test_det_third_order_at_rank_deficient_matrices(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check_grads(L.det, [xg.asarray(RANK_DEFICIENT[name], dtype=xg.float64)], order=3,
                    eps=1e-4, rtol=1e-4, atol=1e-6)


SECOND_ORDER = {
    "det": (L.det, _rand(2, 3, 3)),
    "logabsdet": (lambda a: L.slogdet(a).logabsdet, _rand(3, 3)),
    "inv": (L.inv, _rand(3, 3) + 3 * np.eye(3)),
    "solve_vector": (lambda a: L.solve(a, a[0, 0] + 1.0), _rand(2, 3, 3) + 3 * np.eye(3)),
    "cholesky": (lambda a: L.cholesky(a @ xg.matrix_transpose(a) + 3 * xg.eye(3,
                                                                            dtype=a.dtype)),
                 _rand(3, 3)),
    "eigvalsh": (lambda a: L.eigvalsh(a + xg.matrix_transpose(a)), _rand(3, 3)),
    "svdvals": (L.svdvals, _rand(4, 3)),
    "pinv": (L.pinv, _rand(3, 4)),
    "matrix_power_-2": (lambda a: L.matrix_power(a, -2), _rand(3, 3) + 3 * np.eye(3)),
    "matrix_norm_nuc": (lambda a: L.matrix_norm(a, ord="nuc"), _rand(3, 4)),
    "matrix_norm_2": (lambda a: L.matrix_norm(a, ord=2), _rand(3, 4)),
    "vector_norm_3": (lambda a: L.vector_norm(a, ord=3, axis=-1), _rand(3, 4)),
    "vector_norm_0.5": (lambda a: L.vector_norm(a, ord=0.5), _rand(5)),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_order_matches_finite_differences(name):
    fn, a = SECOND_ORDER[name]
    check_grads(fn, [xg.asarray(a, dtype=xg.float64)], order=2, rtol=1e-4, atol=1e-6)


# -- float32 and the numba backend ----------------------------------------------------------------
DTYPE_CASES = ["solve_batch_broadcast", "det_singular_rank2", "slogdet_negative",
               "cholesky_upper", "pinv_rank_deficient", "eigh_batch_projector",
               "svd_usv_(5, 3)_full=True", "qr_(3, 5)_complete", "matrix_power_-3",
               "matrix_norm_nuc_keepdims=True", "matrix_norm_-inf_keepdims=False",
               "vector_norm_0.5_zero_entries", "cross_(3, 4)_(3, 1)_-2", "trace_(2, 4, 3)_1",
               "tensordot_(2, 3, 4)_(4, 3, 5)_([1, 2], [1, 0])"]


@pytest.mark.parametrize("name", DTYPE_CASES)
def test_float32_gradients_stay_float32_and_numba_agrees(name):
    if "numba" not in backend_report():
        pytest.skip("numba is not installed")
    arrays, fx, _ = CASES[name]
    values64, grads64 = xpgrad_values_and_grads(fx, arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        values32, grads32 = xpgrad_values_and_grads(fx, arrays, dtype="float32")
        numba_values, numba_grads = xpgrad_values_and_grads(fx, arrays, backend="numba")
    for g32, g64, gnb in zip(grads32, grads64, numba_grads):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(gnb, g64, rtol=1e-10, atol=1e-12)
    for v32, v64, vnb in zip(values32, values64, numba_values):
        assert v32.dtype == np.float32
        np.testing.assert_allclose(vnb, v64, rtol=1e-10, atol=1e-12)


# -- where PyTorch takes what the array API refuses: the error says how to write it ---------------
def test_solve_with_a_stack_of_vectors_says_how_to_write_it():
    a, b = _rand(2, 3, 3), _rand(2, 3)
    with pytest.raises(ValueError, match=r"x2\.shape\[-2\] must be 3.*x2\[\.\.\., None\]"):
        L.solve(xg.asarray(a), xg.asarray(b))
    got = L.solve(xg.asarray(a), xg.asarray(b)[..., None])[..., 0]
    np.testing.assert_allclose(got.numpy(), TL.solve(torch.tensor(a), torch.tensor(b)).numpy())


def test_cross_with_a_non_negative_axis_names_the_negative_one():
    a, b = _rand(3, 4), _rand(3, 4, seed=1)
    with pytest.raises(ValueError, match="axis 0 of both is axis=-2"):
        L.cross(xg.asarray(a), xg.asarray(b), axis=0)
    got = L.cross(xg.asarray(a), xg.asarray(b), axis=-2)
    np.testing.assert_allclose(got.numpy(), TL.cross(torch.tensor(a), torch.tensor(b),
                                                     dim=0).numpy())


@pytest.mark.parametrize("name,fx,ft", [
    ("vector_norm", lambda a, k: L.vector_norm(a, ord=k(3)), lambda a: TL.vector_norm(a, ord=3)),
    ("trace", lambda a, k: L.trace(a, offset=k(1)), lambda a: torch.diagonal(a, 1, -2, -1).sum(-1)),
    ("diagonal", lambda a, k: L.diagonal(a, offset=k(-1)),
     lambda a: torch.diagonal(a, -1, -2, -1)),
    ("cross", lambda a, k: L.cross(a, a[::-1] + 1.0, axis=k(-1)),
     lambda a: TL.cross(a, a.flip(0) + 1.0, dim=-1)),
    ("tensordot", lambda a, k: L.tensordot(a, a, axes=k(1)),
     lambda a: torch.tensordot(a, a, dims=1)),
])
@pytest.mark.parametrize("kind", [np.int64, np.int32, np.float64])
def test_numpy_scalars_are_taken_where_python_numbers_are(name, fx, ft, kind):
    if kind is np.float64 and name != "vector_norm":
        pytest.skip("a float is not an offset, axis or axes count")
    assert_matches_torch(lambda a: fx(a, kind), ft, [_rand(3, 3)])
