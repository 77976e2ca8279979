"""xg.linalg: values against NumPy, gradients against finite differences (first and second
order, float64) and against PyTorch (real and complex), namedtuple results, float32 and batch
shapes, the documented choices at non-smooth points, and clear errors for bad inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.ops.linalg_helpers import diag_embed, mH, real
from xpgrad.testing import check_grads

L = xg.linalg


def normal(rng, *shape):
    return xg.asarray(rng.standard_normal(shape), dtype=xg.float64)


def sym(a):
    return (a + xg.matrix_transpose(a)) * 0.5


def spd(a):
    return a @ xg.matrix_transpose(a) + 3.0 * xg.eye(a.shape[-1], dtype=xg.float64)


def usv(r):
    """U diag(S) Vh of a (thin) SVD: independent of the singular vectors' signs."""
    k = r.S.shape[-1]
    return (r.U[..., :k] * r.S[..., None, :]) @ r.Vh[..., :k, :]


INF = math.inf

# name -> (function of float64 tensors, argument shapes, check second order)
CASES = {
    "inv": (L.inv, [(2, 3, 3)], True),
    "solve_matrix": (L.solve, [(2, 3, 3), (3, 2)], True),
    "solve_vector": (L.solve, [(2, 3, 3), (3,)], True),
    "solve_broadcast": (L.solve, [(2, 1, 3, 3), (4, 3, 1)], False),
    "det": (L.det, [(2, 3, 3)], True),
    "slogdet": (lambda a: L.slogdet(a).logabsdet, [(2, 3, 3)], True),
    "cholesky": (lambda a: L.cholesky(spd(a)), [(2, 3, 3)], True),
    "cholesky_upper": (lambda a: L.cholesky(spd(a), upper=True), [(3, 3)], True),
    "pinv_wide": (L.pinv, [(2, 3)], True),
    "pinv_tall": (L.pinv, [(2, 4, 3)], True),
    "pinv_rtol_array": (lambda a: L.pinv(a, rtol=xg.asarray([1e-8, 1e-9], dtype=xg.float64)),
                        [(2, 4, 3)], False),
    "eigvalsh": (lambda a: L.eigvalsh(sym(a)), [(2, 3, 3)], True),
    "eigh_values": (lambda a: L.eigh(sym(a)).eigenvalues, [(2, 3, 3)], True),
    "eigh_vectors": (lambda a: L.eigh(sym(a)).eigenvectors ** 2, [(2, 3, 3)], True),
    "eigh_both": (lambda a: (lambda r: (r.eigenvectors * r.eigenvalues[..., None, :])
                             @ xg.matrix_transpose(r.eigenvectors))(L.eigh(sym(a))),
                  [(3, 3)], True),
    "svdvals": (L.svdvals, [(2, 3, 4)], True),
    "svd_S": (lambda a: L.svd(a).S, [(2, 4, 3)], True),
    "svd_U_tall": (lambda a: L.svd(a, full_matrices=False).U ** 2, [(4, 3)], True),
    "svd_U_wide": (lambda a: L.svd(a, full_matrices=False).U ** 2, [(3, 4)], True),
    "svd_Vh_tall": (lambda a: L.svd(a, full_matrices=False).Vh ** 2, [(4, 3)], True),
    "svd_Vh_wide": (lambda a: L.svd(a, full_matrices=False).Vh ** 2, [(2, 3, 4)], True),
    "svd_full_usv": (lambda a: usv(L.svd(a)), [(4, 3)], True),
    "qr_tall": (lambda a: (lambda r: r.Q * 1.3 + xg.sum(r.R))(L.qr(a)), [(2, 4, 3)], True),
    "qr_square_R": (lambda a: L.qr(a).R, [(3, 3)], True),
    "qr_wide": (lambda a: (lambda r: xg.sum(r.Q * 1.3) + r.R)(L.qr(a)), [(3, 5)], True),
    "qr_complete_R": (lambda a: L.qr(a, mode="complete").R, [(4, 3)], True),
    "qr_complete_wide": (lambda a: L.qr(a, mode="complete").Q, [(2, 4)], True),
    "vector_norm_2": (lambda a: L.vector_norm(a, axis=-1), [(2, 3)], True),
    "vector_norm_1": (lambda a: L.vector_norm(a, ord=1), [(2, 3)], True),
    "vector_norm_3": (lambda a: L.vector_norm(a, ord=3, axis=(0,), keepdims=True), [(2, 3)],
                      True),
    "vector_norm_half": (lambda a: L.vector_norm(a, ord=0.5), [(2, 3)], True),
    "vector_norm_neg": (lambda a: L.vector_norm(a, ord=-1.5, axis=(0, 2)), [(2, 3, 2)], True),
    "vector_norm_inf": (lambda a: L.vector_norm(a, ord=INF, axis=1), [(2, 3)], True),
    "vector_norm_neginf": (lambda a: L.vector_norm(a, ord=-INF, axis=1), [(2, 3)], True),
    "matrix_norm_fro": (L.matrix_norm, [(2, 3, 3)], True),
    "matrix_norm_nuc": (lambda a: L.matrix_norm(a, ord="nuc"), [(2, 3, 4)], True),
    "matrix_norm_2": (lambda a: L.matrix_norm(a, ord=2, keepdims=True), [(2, 3, 4)], True),
    "matrix_norm_neg2": (lambda a: L.matrix_norm(a, ord=-2), [(2, 3, 4)], True),
    "matrix_norm_1": (lambda a: L.matrix_norm(a, ord=1), [(2, 3, 4)], True),
    "matrix_norm_neg1": (lambda a: L.matrix_norm(a, ord=-1), [(2, 3, 4)], True),
    "matrix_norm_inf": (lambda a: L.matrix_norm(a, ord=INF), [(2, 3, 4)], True),
    "matrix_norm_neginf": (lambda a: L.matrix_norm(a, ord=-INF), [(2, 3, 4)], True),
    "matrix_power_3": (lambda a: L.matrix_power(a, 3), [(2, 3, 3)], True),
    "matrix_power_neg2": (lambda a: L.matrix_power(a, -2), [(3, 3)], True),
    "cross": (L.cross, [(2, 3), (3,)], True),
    "cross_axis": (lambda a, b: L.cross(a, b, axis=-2), [(2, 3, 2), (3, 1)], True),
    "trace": (lambda a: L.trace(a, offset=1), [(2, 3, 4)], True),
    "diagonal": (lambda a: L.diagonal(a, offset=-1), [(2, 3, 4)], True),
    "diagonal_offset": (lambda a: L.diagonal(a, offset=2), [(2, 4, 3)], True),
    "vecdot": (lambda a, b: L.vecdot(a, b, axis=-2), [(3, 2), (2, 3, 1)], True),
    "tensordot": (lambda a, b: L.tensordot(a, b, axes=([0], [1])), [(3, 2), (2, 3, 1)], True),
    "outer": (L.outer, [(3,), (2,)], True),
    "matmul": (L.matmul, [(2, 3), (3,)], True),
    "matrix_transpose": (L.matrix_transpose, [(2, 3, 4)], True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name, rng):
    fn, shapes, second = CASES[name]
    args = [normal(rng, *s) for s in shapes]
    check_grads(fn, args, order=2 if second else 1)


def test_every_linalg_function_has_a_gradient_case():
    covered = {name.split("_")[0] for name in CASES} | {"matrix", "vector"}
    names = {"cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
             "matrix", "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals",
             "tensordot", "trace", "vecdot", "vector"}
    assert names <= covered
    for fn in ("matrix_norm", "matrix_power", "matrix_transpose", "vector_norm"):
        assert any(name.startswith(fn) for name in CASES), fn
    assert set(L.__all__) >= {
        "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
        "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv",
        "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot",
        "vector_norm"}


# -- values and results ---------------------------------------------------------------------------
def test_values_match_numpy(rng):
    a = rng.standard_normal((2, 4, 3))
    sq = rng.standard_normal((2, 3, 3))
    s = sq + np.swapaxes(sq, -1, -2)
    x, xs, xsq = xg.asarray(a), xg.asarray(s), xg.asarray(sq)
    close = np.testing.assert_allclose
    close(L.pinv(x).numpy(), np.linalg.pinv(a), atol=1e-6)
    close(L.svdvals(x).numpy(), np.linalg.svd(a, compute_uv=False), atol=1e-6)
    close(usv(L.svd(x)).numpy(), a, atol=1e-6)
    q, r = L.qr(x)
    close((q @ r).numpy(), a, atol=1e-6)
    w, v = L.eigh(xs)
    close(w.numpy(), np.linalg.eigvalsh(s), atol=1e-6)
    close(((v * w[..., None, :]) @ xg.matrix_transpose(v)).numpy(), s, atol=1e-6)
    close(L.det(xsq).numpy(), np.linalg.det(sq), rtol=1e-6)
    sign, logabs = L.slogdet(xsq)
    close((sign * xg.exp(logabs)).numpy(), np.linalg.det(sq), rtol=1e-6)
    close(L.inv(xsq).numpy(), np.linalg.inv(sq), rtol=1e-6)
    close(L.matrix_power(xsq, -3).numpy(), np.linalg.matrix_power(sq, -3), rtol=1e-6)
    close(L.matrix_power(xsq, 5).numpy(), np.linalg.matrix_power(sq, 5), rtol=1e-6)
    close(L.matrix_power(xsq, 0).numpy(), np.broadcast_to(np.eye(3), sq.shape))
    for order in ("fro", "nuc", 1, -1, 2, -2, INF, -INF):
        close(L.matrix_norm(x, ord=order).numpy(), np.linalg.norm(a, ord=order, axis=(-2, -1)),
              rtol=1e-6, err_msg=str(order))
    for order in (0, 1, 2, 3.5, -1, -2.5, INF, -INF):
        close(L.vector_norm(x, axis=(0, 2), ord=order).numpy(),
              np.linalg.vector_norm(a, axis=(0, 2), ord=order), rtol=1e-6, err_msg=str(order))
    assert L.matrix_rank(xg.asarray([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]])).item() == 1
    assert L.matrix_rank(x).dtype == xg.int64


def test_results_are_namedtuples(rng):
    a = normal(rng, 2, 3, 3)
    assert L.eigh(sym(a))._fields == ("eigenvalues", "eigenvectors")
    assert L.qr(a)._fields == ("Q", "R")
    assert L.slogdet(a)._fields == ("sign", "logabsdet")
    assert L.svd(a)._fields == ("U", "S", "Vh")
    r = L.svd(normal(rng, 4, 2, 5))
    assert (r.U.shape, r.S.shape, r.Vh.shape) == ((4, 2, 2), (4, 2), (4, 5, 5))
    r = L.svd(normal(rng, 5, 2), full_matrices=False)
    assert (r.U.shape, r.S.shape, r.Vh.shape) == ((5, 2), (2,), (2, 2))
    q, r = L.qr(normal(rng, 5, 2), mode="complete")
    assert (q.shape, r.shape) == ((5, 5), (5, 2))


@pytest.mark.parametrize("dtype", ["float32", "complex64", "complex128"])
def test_dtypes_follow_the_standard(dtype, rng):
    a = rng.standard_normal((2, 3, 3)) + (1j * rng.standard_normal((2, 3, 3))
                                          if "complex" in dtype else 0)
    x = xg.asarray(a, dtype=dtype)
    real_dtype = {"float32": "float32", "complex64": "float32", "complex128": "float64"}[dtype]
    h = x + mH(None, x)
    assert L.inv(x).dtype == dtype and L.det(x).dtype == dtype
    w, v = L.eigh(h)
    assert (w.dtype, v.dtype) == (real_dtype, dtype)
    assert L.eigvalsh(h).dtype == real_dtype
    u, s, vh = L.svd(x)
    assert (u.dtype, s.dtype, vh.dtype) == (dtype, real_dtype, dtype)
    sign, logabs = L.slogdet(x)
    assert (sign.dtype, logabs.dtype) == (dtype, real_dtype)
    assert L.svdvals(x).dtype == real_dtype
    assert L.vector_norm(x).dtype == real_dtype
    assert L.matrix_norm(x, ord="nuc").dtype == real_dtype
    assert L.matrix_norm(x).dtype == real_dtype
    q, r = L.qr(x)
    assert q.dtype == r.dtype == dtype
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(h.numpy()), rtol=1e-4, atol=1e-4)


def test_vecdot_conjugates_its_first_argument():
    x1 = xg.asarray([1j, 2j, 3j])
    x2 = xg.asarray([1, 2j, 3])
    assert complex(L.vecdot(x1, x2)) == pytest.approx(4 - 10j)


def test_empty_matrices():
    e = xg.zeros((2, 0, 0), dtype=xg.float64)
    assert L.det(e).tolist() == [1.0, 1.0]
    assert L.inv(e).shape == (2, 0, 0)
    assert L.matrix_norm(xg.zeros((0, 3)), ord=2).item() == 0.0
    assert L.trace(xg.zeros((3, 0))).item() == 0.0
    assert L.diagonal(xg.ones((2, 3)), offset=5).shape == (0,)


# -- against PyTorch ------------------------------------------------------------------------------
def _torch():
    return pytest.importorskip("torch")


def _herm_t(a):
    return (a + a.mH) * 0.5


def _herm_x(a):
    return (a + mH(None, a)) * 0.5


def _proj_x(v, c):
    return (v * xg.asarray(c)) @ mH(None, v)


def _proj_t(v, c):
    return (v * c) @ v.mH


def _gram_x(a):
    return a @ mH(None, a) + 3 * xg.eye(a.shape[-1], dtype=a.dtype)


def _gram_t(a):
    t = _torch()
    return a @ a.mH + 3 * t.eye(a.shape[-1], dtype=a.dtype)


C3 = np.array([0.3, 1.1, 2.0])
C4 = np.array([0.3, 1.1, 2.0, 0.7])


def _torch_cases():
    t = _torch()
    tl = t.linalg
    c3 = t.as_tensor(C3)
    return {
        "matmul": ([(2, 3), (3, 4)], lambda a, b: a @ b, lambda a, b: a @ b),
        "vecdot": ([(2, 3), (2, 3)], L.vecdot, tl.vecdot),
        "cross": ([(2, 3), (2, 3)], L.cross, tl.cross),
        "tensordot": ([(2, 3), (3, 2)], lambda a, b: L.tensordot(a, b, axes=1),
                      lambda a, b: t.tensordot(a, b, dims=1)),
        "outer": ([(3,), (2,)], L.outer, t.outer),
        "inv": ([(2, 3, 3)], L.inv, tl.inv),
        "solve": ([(2, 3, 3), (3, 2)], L.solve, tl.solve),
        "solve_vector": ([(3, 3), (3,)], L.solve, tl.solve),
        "det": ([(2, 3, 3)], L.det, tl.det),
        "slogdet_sign": ([(2, 3, 3)], lambda a: L.slogdet(a).sign,
                         lambda a: tl.slogdet(a).sign),
        "slogdet_logabsdet": ([(2, 3, 3)], lambda a: L.slogdet(a).logabsdet,
                              lambda a: tl.slogdet(a).logabsdet),
        "cholesky": ([(2, 3, 3)], lambda a: L.cholesky(_gram_x(a)),
                     lambda a: tl.cholesky(_gram_t(a))),
        "cholesky_upper": ([(3, 3)], lambda a: L.cholesky(_gram_x(a), upper=True),
                           lambda a: tl.cholesky(_gram_t(a), upper=True)),
        "pinv_wide": ([(3, 4)], L.pinv, tl.pinv),
        "pinv_tall": ([(4, 3)], L.pinv, tl.pinv),
        "eigvalsh": ([(2, 3, 3)], lambda a: L.eigvalsh(_herm_x(a)),
                     lambda a: tl.eigvalsh(_herm_t(a))),
        "eigh_values": ([(2, 3, 3)], lambda a: L.eigh(_herm_x(a)).eigenvalues,
                        lambda a: tl.eigh(_herm_t(a)).eigenvalues),
        "eigh_vectors": ([(2, 3, 3)], lambda a: _proj_x(L.eigh(_herm_x(a)).eigenvectors, C3),
                         lambda a: _proj_t(tl.eigh(_herm_t(a)).eigenvectors, c3)),
        "svdvals": ([(3, 4)], L.svdvals, tl.svdvals),
        "svd_S": ([(4, 3)], lambda a: L.svd(a).S, lambda a: tl.svd(a).S),
        "svd_U_tall": ([(4, 3)], lambda a: _proj_x(L.svd(a, full_matrices=False).U, C3),
                       lambda a: _proj_t(tl.svd(a, full_matrices=False).U, c3)),
        "svd_U_wide": ([(3, 4)], lambda a: _proj_x(L.svd(a, full_matrices=False).U, C3),
                       lambda a: _proj_t(tl.svd(a, full_matrices=False).U, c3)),
        "svd_V_tall": ([(4, 3)],
                       lambda a: _proj_x(mH(None, L.svd(a, full_matrices=False).Vh), C3),
                       lambda a: _proj_t(tl.svd(a, full_matrices=False).Vh.mH, c3)),
        "svd_V_wide": ([(3, 4)],
                       lambda a: _proj_x(mH(None, L.svd(a, full_matrices=False).Vh), C3),
                       lambda a: _proj_t(tl.svd(a, full_matrices=False).Vh.mH, c3)),
        "svd_usv": ([(4, 3)],
                    lambda a: (lambda r: (r.U @ diag_embed(xg, r.S)) @ r.Vh)(
                        L.svd(a, full_matrices=False)),
                    lambda a: (lambda r: (r.U @ t.diag_embed(r.S).to(a.dtype)) @ r.Vh)(
                        tl.svd(a, full_matrices=False))),
        # full_matrices=True on a non-square matrix: the extra column of U / row of Vh gets
        # a weight of its own; PyTorch ignores its gradient (torch.linalg.svd's note) and so
        # do we
        "svd_full_U_tall": ([(4, 3)], lambda a: _proj_x(L.svd(a).U, C4),
                            lambda a: _proj_t(tl.svd(a).U, t.as_tensor(C4))),
        "svd_full_V_wide": ([(3, 4)], lambda a: _proj_x(mH(None, L.svd(a).Vh), C4),
                            lambda a: _proj_t(tl.svd(a).Vh.mH, t.as_tensor(C4))),
        "svd_full_uvh": ([(3, 3)], lambda a: (lambda r: r.U @ r.Vh)(L.svd(a)),
                         lambda a: (lambda r: r.U @ r.Vh)(tl.svd(a))),
        "qr_Q_tall": ([(4, 3)], lambda a: L.qr(a).Q, lambda a: tl.qr(a).Q),
        "qr_R_tall": ([(2, 4, 3)], lambda a: L.qr(a).R, lambda a: tl.qr(a).R),
        "qr_Q_wide": ([(3, 5)], lambda a: L.qr(a).Q, lambda a: tl.qr(a).Q),
        "qr_R_wide": ([(3, 5)], lambda a: L.qr(a).R, lambda a: tl.qr(a).R),
        "vector_norm_2": ([(2, 3)], lambda a: L.vector_norm(a, axis=-1),
                          lambda a: tl.vector_norm(a, dim=-1)),
        "vector_norm_3": ([(2, 3)], lambda a: L.vector_norm(a, ord=3),
                          lambda a: tl.vector_norm(a, ord=3)),
        "vector_norm_1": ([(2, 3)], lambda a: L.vector_norm(a, ord=1),
                          lambda a: tl.vector_norm(a, ord=1)),
        "vector_norm_inf": ([(2, 3)], lambda a: L.vector_norm(a, ord=INF, axis=0),
                            lambda a: tl.vector_norm(a, ord=INF, dim=0)),
        "vector_norm_neg": ([(2, 3)], lambda a: L.vector_norm(a, ord=-2.5),
                            lambda a: tl.vector_norm(a, ord=-2.5)),
        "matrix_norm_fro": ([(3, 4)], L.matrix_norm, tl.matrix_norm),
        "matrix_norm_nuc": ([(3, 4)], lambda a: L.matrix_norm(a, ord="nuc"),
                            lambda a: tl.matrix_norm(a, ord="nuc")),
        "matrix_norm_2": ([(2, 3, 4)], lambda a: L.matrix_norm(a, ord=2),
                          lambda a: tl.matrix_norm(a, ord=2)),
        "matrix_norm_neg2": ([(3, 4)], lambda a: L.matrix_norm(a, ord=-2),
                             lambda a: tl.matrix_norm(a, ord=-2)),
        "matrix_power": ([(3, 3)], lambda a: L.matrix_power(a, 3),
                         lambda a: tl.matrix_power(a, 3)),
        "matrix_power_neg": ([(3, 3)], lambda a: L.matrix_power(a, -2),
                             lambda a: tl.matrix_power(a, -2)),
        "trace": ([(2, 3, 4)], lambda a: L.trace(a, offset=1),
                  lambda a: t.diagonal(a, 1, -2, -1).sum(-1)),
        "diagonal": ([(2, 3, 4)], lambda a: L.diagonal(a, offset=-1),
                     lambda a: tl.diagonal(a, offset=-1)),
    }


def _torch_names():
    try:
        import torch  # noqa: F401
    except ImportError:
        return []
    return sorted(_torch_cases())


@pytest.mark.parametrize("kind", ["float64", "complex128"])
@pytest.mark.parametrize("name", _torch_names())
def test_gradient_matches_torch(name, kind, rng):
    t = _torch()
    shapes, fx, ft = _torch_cases()[name]
    complex_ = kind == "complex128"
    arrays = [rng.standard_normal(s) + (1j * rng.standard_normal(s) if complex_ else 0)
              for s in shapes]
    xs = [xg.asarray(a, dtype=kind) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = fx(*xs)
        w = rng.standard_normal(out.shape) + (
            1j * rng.standard_normal(out.shape) if out.dtype.is_complex else 0)
        if out.dtype.is_complex:       # Re sum(conj(w) * out), through vecdot (conjugates w)
            loss = real(None, L.vecdot(xg.reshape(xg.asarray(w), (-1,)),
                                       xg.reshape(out, (-1,))))
        else:
            loss = xg.sum(out * xg.asarray(w))
    grads = tape.gradient(loss, xs)
    ts = [t.tensor(a, requires_grad=True) for a in arrays]
    out_t = ft(*ts)
    w_t = t.as_tensor(w)
    loss_t = (w_t.conj() * out_t).sum().real if out_t.is_complex() else (w_t * out_t).sum()
    expected = t.autograd.grad(loss_t, ts, allow_unused=True)   # a real sign: unused
    assert float(loss) == pytest.approx(loss_t.item(), rel=1e-9, abs=1e-9)
    for got, want, a in zip(grads, expected, arrays):
        want = np.zeros_like(a) if want is None else want.resolve_conj().numpy()
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-8)


def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix():
    # the SVD path (torch 2.13 returns zeros here, which is not the derivative)
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]])
    x = xg.asarray(a, dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        d = L.det(x)
    assert d.item() == 0.0
    cofactors = np.array([[np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) * (-1) ** (i + j)
                           for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(tape.gradient(d, x).numpy(), cofactors, atol=1e-10)
    check_grads(L.det, [x])


# -- choices at non-smooth points -----------------------------------------------------------------
def _grad(fn, x):
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(fn(x))
    return tape.gradient(y, x).numpy()


@pytest.mark.parametrize("order", [2, 1, 3, 0.5, -1, INF, -INF, 0])
def test_vector_norm_gradient_at_zero_is_zero(order):
    x = xg.zeros((2, 3), dtype=xg.float64)
    assert _grad(lambda v: L.vector_norm(v, ord=order, axis=-1), x).tolist() == [[0.0] * 3] * 2


def test_vector_norm_inf_splits_ties_and_zero_entries_get_zero():
    x = xg.asarray([3.0, -3.0, 1.0], dtype=xg.float64)
    assert _grad(lambda v: L.vector_norm(v, ord=INF), x).tolist() == [0.5, -0.5, 0.0]
    y = xg.asarray([0.0, 2.0], dtype=xg.float64)
    assert _grad(lambda v: L.vector_norm(v, ord=0.5), y)[0] == 0.0
    assert _grad(lambda v: L.vector_norm(v, ord=-1), y).tolist() == [0.0, 0.0]
    assert _grad(lambda v: L.vector_norm(v, ord=0), y).tolist() == [0.0, 0.0]


def test_eigh_with_only_eigenvalues_used_survives_repeated_eigenvalues():
    x = xg.eye(3, dtype=xg.float64)
    g = _grad(lambda a: L.eigh(a).eigenvalues * xg.asarray([1.0, 2.0, 3.0]), x)
    assert np.isfinite(g).all()
    np.testing.assert_allclose(np.trace(g), 6.0)


def test_svd_with_only_S_used_survives_a_rank_deficient_matrix():
    x = xg.asarray([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]], dtype=xg.float64)
    g = _grad(lambda a: L.svd(a).S, x)
    np.testing.assert_allclose(g, _grad(L.svdvals, x), atol=1e-12)


def test_qr_complete_tall_raises_only_when_extra_columns_of_Q_are_used(rng):
    x = normal(rng, 4, 2)
    with xg.GradientTape() as tape:
        tape.watch(x)
        q, r = L.qr(x, mode="complete")
        loss = xg.sum(q[:, 3:])
    with pytest.raises(ValueError, match="mode='reduced'"):
        tape.gradient(loss, x)
    assert _grad(lambda a: L.qr(a, mode="complete").Q[:, :2] ** 2, x).shape == (4, 2)


def test_svd_full_matrices_ignores_the_extra_columns_like_torch(rng):
    x = normal(rng, 4, 2)
    full = _grad(lambda a: L.svd(a).U ** 2, x)
    thin = _grad(lambda a: L.svd(a, full_matrices=False).U ** 2, x)
    np.testing.assert_allclose(full, thin, atol=1e-12)


def test_float32_gradients_keep_float32(rng):
    x = xg.asarray(rng.standard_normal((2, 3, 3)), dtype=xg.float32)
    for fn in (L.inv, L.det, lambda a: L.slogdet(a).logabsdet, L.svdvals,
               lambda a: L.eigh(sym(a)).eigenvalues, lambda a: L.qr(a).R, L.matrix_norm,
               lambda a: L.vector_norm(a, ord=3), lambda a: L.svd(a).S):
        g = _grad(fn, x)
        assert g.dtype == np.float32 and np.isfinite(g).all()


# -- bad inputs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [L.inv, L.det, L.cholesky, L.eigh, L.eigvalsh,
                                lambda a: L.slogdet(a), lambda a: L.matrix_power(a, 2),
                                lambda a: L.solve(a, a)])
def test_non_square_is_a_clear_error(fn):
    with pytest.raises(ValueError, match="square"):
        fn(xg.ones((2, 3)))


@pytest.mark.parametrize("fn", [L.inv, L.det, L.svd, L.svdvals, L.qr, L.pinv, L.matrix_rank,
                                L.matrix_norm, L.diagonal, L.trace, L.eigh])
def test_vectors_are_a_clear_error(fn):
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\(3,\)"):
        fn(xg.ones(3))


@pytest.mark.parametrize("fn", [L.inv, L.det, L.svd, L.svdvals, L.qr, L.pinv, L.eigh,
                                L.cholesky, L.eigvalsh, L.matrix_norm, L.vector_norm,
                                L.matrix_rank, lambda a: L.slogdet(a),
                                lambda a: L.matrix_power(a, -1)])
def test_integer_inputs_are_a_clear_error(fn):
    with pytest.raises(TypeError, match="floating-point"):
        fn(xg.asarray([[1, 2], [3, 4]]))


def test_mismatched_shapes_are_clear_errors():
    a = xg.ones((3, 3))
    with pytest.raises(ValueError, match=r"linalg.solve: x2 of shape \(2,\)"):
        L.solve(a, xg.ones(2))
    with pytest.raises(ValueError, match=r"x2.shape\[-2\] must be 3"):
        L.solve(a, xg.ones((2, 2)))
    with pytest.raises(ValueError, match="do not broadcast"):
        L.solve(xg.ones((2, 3, 3)), xg.ones((4, 3, 1)))
    with pytest.raises(ValueError, match="size 3"):
        L.cross(xg.ones(3), xg.ones(4))
    with pytest.raises(ValueError, match="axis"):
        L.cross(xg.ones(3), xg.ones(3), axis=0)
    with pytest.raises(ValueError, match="differ in size along axis"):
        L.vecdot(xg.ones((2, 3)), xg.ones(2))
    with pytest.raises(ValueError, match="1-D"):
        L.outer(xg.ones((2, 2)), xg.ones(2))
    with pytest.raises(ValueError, match="do not match"):
        L.tensordot(xg.ones((2, 3)), xg.ones((2, 3)), axes=([1], [1, 0]))
    with pytest.raises(ValueError, match="do not align"):
        L.matmul(xg.ones((2, 3)), xg.ones((2, 3)))
    with pytest.raises(ValueError, match="mode"):
        L.qr(a, mode="r")
    with pytest.raises(ValueError, match="ord"):
        L.matrix_norm(a, ord=3)
    with pytest.raises(ValueError, match="ord"):
        L.vector_norm(a, ord="fro")
    with pytest.raises(TypeError, match="n must be an int"):
        L.matrix_power(a, 1.5)
    with pytest.raises(TypeError, match="offset"):
        L.diagonal(a, offset=1.0)


def test_singular_matrices_raise_the_backends_error_naming_the_function():
    singular = xg.asarray([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(np.linalg.LinAlgError, match="linalg.inv"):
        L.inv(singular)
    with pytest.raises(np.linalg.LinAlgError, match="linalg.solve"):
        L.solve(singular, xg.ones(2))
    with pytest.raises(np.linalg.LinAlgError, match="linalg.cholesky"):
        L.cholesky(xg.asarray([[1.0, 2.0], [2.0, 1.0]]))
    assert L.det(singular).item() == 0.0
    sign, logabs = L.slogdet(singular)
    assert sign.item() == 0.0 and logabs.item() == -math.inf


# -- other backends -------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numba"])
def test_runs_on_numba_backend(backend, rng):
    if backend not in backend_report():
        pytest.skip(f"{backend} is not available")
    a = xg.asarray(rng.standard_normal((2, 3, 3)), dtype=xg.float64, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(a)
        y = xg.sum(L.svdvals(a)) + xg.sum(L.inv(a)) + xg.sum(L.eigh(sym(a)).eigenvalues)
    assert tape.gradient(y, a).backend.name == backend


def test_rules_use_only_the_array_api(clean_backends, rng):
    """Every rule, first and second order, on array-api-strict (the reference namespace), with
    the gradients NumPy gives."""
    pytest.importorskip("array_api_strict")
    from xpgrad.testing import StrictBackend as Strict

    xg.register_backend("strict", Strict)
    a = rng.standard_normal((2, 3, 3))

    def loss(x):
        eye = xg.eye(3, dtype=xg.float64, device=x.device)
        parts = [L.inv(x), L.det(x), L.slogdet(x).logabsdet, L.solve(x, x[0]),
                 L.cholesky(x @ x.mT + 3 * eye), L.eigh(x + x.mT).eigenvectors ** 2,
                 L.eigvalsh(x + x.mT), L.svd(x).U ** 2, L.svdvals(x), L.qr(x).R, L.pinv(x),
                 L.vector_norm(x, ord=3, axis=-1), L.matrix_norm(x, ord="nuc"),
                 L.matrix_norm(x, ord=INF), L.trace(x), L.diagonal(x, offset=1),
                 L.matrix_power(x, -2), L.cross(x, x * 2.0 + 1.0), L.vecdot(x, x)]
        return xg.sum(xg.concat([xg.reshape(p, (-1,)) for p in parts]) ** 2)

    grads = []
    for backend in ("numpy", "strict"):
        x = xg.asarray(a, dtype=xg.float64, backend=backend)
        with xg.GradientTape() as outer:
            outer.watch(x)
            with xg.GradientTape() as inner:
                inner.watch(x)
                y = loss(x)
            g = inner.gradient(y, x)
            gg = xg.sum(g * g)
        grads.append((g.numpy(), outer.gradient(gg, x).numpy()))
    for got, want in zip(grads[1], grads[0]):
        np.testing.assert_allclose(got, want, rtol=1e-8)
