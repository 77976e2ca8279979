"""xg.linalg under the function transformations, real inputs: forward mode (xg.jvp, which
differentiates the vjp rules at a zero cotangent) against torch.func.jvp, Hessians that the
vector terms must not turn into NaN, and gradients inside xg.function (traced once, replayed),
where a rule cannot branch on values in Python."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg

from test_linalg_edges import SINGULAR, _rand, _sym, _usv, det3

torch = pytest.importorskip("torch")
L, TL = xg.linalg, torch.linalg


# -- forward mode: jvp differentiates the vjp rules with respect to a zero cotangent --------------
def _x_weighted_projector(v):
    return (v * xg.asarray(np.arange(1.0, v.shape[-1] + 1.0))) @ xg.matrix_transpose(v)


def _t_weighted_projector(v):
    return (v * torch.arange(1.0, v.shape[-1] + 1.0, dtype=v.dtype)) @ v.mT


JVP = {
    "eigh_vectors": (lambda a: _x_weighted_projector(L.eigh(a).eigenvectors),
                     lambda a: _t_weighted_projector(TL.eigh(a).eigenvectors), _sym(2, 3, 3)),
    "eigh_both": (lambda a: (lambda r: (r[1] * r[0][..., None, :] ** 2) @
                             xg.matrix_transpose(r[1]))(L.eigh(a)),
                  lambda a: (lambda r: (r[1] * r[0][..., None, :] ** 2) @ r[1].mT)(TL.eigh(a)),
                  _sym(3, 3)),
    "svd_U_tall": (lambda a: _x_weighted_projector(L.svd(a, full_matrices=False).U),
                   lambda a: _t_weighted_projector(TL.svd(a, full_matrices=False).U), _rand(4, 3)),
    "svd_V_wide": (lambda a: _x_weighted_projector(xg.matrix_transpose(L.svd(a).Vh[..., :3, :])),
                   lambda a: _t_weighted_projector(TL.svd(a).Vh[..., :3, :].mT), _rand(2, 3, 5)),
    "svd_usv": (lambda a: _usv(L.svd(a), 3), lambda a: _usv(TL.svd(a), 3), _rand(5, 3)),
    "qr_Q": (lambda a: L.qr(a).Q, lambda a: TL.qr(a).Q, _rand(4, 3)),
    "det_singular": (L.det, det3, SINGULAR),
}


@pytest.mark.parametrize("name", sorted(JVP))
def test_jvp_matches_torch(name):
    fx, ft, a = JVP[name]
    tangent = np.random.default_rng(5).standard_normal(a.shape)
    if name.startswith("eigh"):
        tangent = tangent + np.swapaxes(tangent, -1, -2)    # the Hermitian convention
    _, got = xg.jvp(fx, xg.asarray(a, dtype=xg.float64), xg.asarray(tangent, dtype=xg.float64))
    _, want = torch.func.jvp(ft, (torch.tensor(a),), (torch.tensor(tangent),))
    np.testing.assert_allclose(got.numpy(), want.resolve_neg().numpy(), rtol=1e-7, atol=1e-9)


# the vector terms now enter under an outer tape: at a zero singular value (where the SVD's
# rule divides by it) they must not turn the Hessian of a function of the values alone into NaN.
# (At repeated values that Hessian is NaN here as in PyTorch and JAX, through eigvalsh and
# svdvals too: it needs the function's own derivative, which no rule of the values sees.)
VALUES_ONLY = {
    "tall_full": (np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]]), True),
    "tall_thin": (np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]]), False),
    "wide_full": (np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]]), True),
    "zero_thin": (np.zeros((3, 2)), False),
}


@pytest.mark.parametrize("name", sorted(VALUES_ONLY))
def test_hessian_of_singular_values_alone_stays_finite_at_zero_singular_values(name):
    a, full = VALUES_ONLY[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = xg.hessian(lambda x: xg.sum(L.svd(x, full_matrices=full).S ** 3))(
            xg.asarray(a, dtype=xg.float64)).numpy()
        want = xg.hessian(lambda x: xg.sum(L.svdvals(x) ** 3))(
            xg.asarray(a, dtype=xg.float64)).numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, atol=1e-9)


# -- inside xg.function: the trace cannot read values, so the rules must not branch on them ------
def _gradient_step(fn):
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.sum(fn(x) * xg.cos(xg.reshape(xg.arange(fn(x).size, dtype=x.dtype),
                                                 fn(x).shape)))
        return tape.gradient(y, x)
    return step


FUNCTION = {   # name -> (function, a regular input, an input at the function's edge)
    "det": (L.det, _rand(2, 3, 3), np.stack([SINGULAR, _rand(3, 3)])),
    "eigh_values": (lambda a: L.eigh(a).eigenvalues, _sym(3, 3), np.eye(3)),
    "eigh_vectors": (lambda a: L.eigh(a).eigenvectors ** 2, _sym(3, 3), _sym(3, 3) + 1.0),
    "svd_S": (lambda a: L.svd(a).S, _rand(4, 3), np.array([[1.0, 2.0], [2.0, 4.0], [0, 0]])),
    "svd_usv": (lambda a: _usv(L.svd(a, full_matrices=False), 3), _rand(4, 3), _rand(4, 3) * 2),
    "qr_complete_R": (lambda a: L.qr(a, mode="complete").R, _rand(4, 3), _rand(4, 3) + 1.0),
}


@pytest.mark.parametrize("name", sorted(FUNCTION))
def test_gradients_inside_xg_function_match_eager(name):
    fn, regular, edge = FUNCTION[name]
    step = _gradient_step(fn)
    traced = xg.function(step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in (regular, regular + 0.01, edge if edge.shape == regular.shape else regular):
            got = traced(xg.asarray(a, dtype=xg.float64)).numpy()
            want = step(xg.asarray(a, dtype=xg.float64)).numpy()
            assert np.isfinite(got).all()
            np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
        if edge.shape != regular.shape:                # a new signature: traced anew
            got = traced(xg.asarray(edge, dtype=xg.float64)).numpy()
            np.testing.assert_allclose(got, step(xg.asarray(edge, dtype=xg.float64)).numpy(),
                                       rtol=1e-8, atol=1e-10)


def test_det_gradient_traced_at_a_regular_matrix_replays_at_a_singular_one():
    step = xg.function(_gradient_step(L.det))
    step(xg.asarray(_rand(3, 3), dtype=xg.float64))
    got = step(xg.asarray(SINGULAR, dtype=xg.float64)).numpy()
    want = _gradient_step(L.det)(xg.asarray(SINGULAR, dtype=xg.float64)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_det_gradient_traced_at_regular_matrices_replays_the_inverse_way():
    """Before: inside xg.function det's gradient always took the SVD (5x eager, 256 8x8
    matrices); a regular trace now takes the inverse, guarded: a replay meeting a singular or
    NaN determinant runs that call eagerly."""
    step = _gradient_step(L.det)
    traced = xg.function(step)
    for a in (_rand(4, 3, 3), _rand(4, 3, 3) * 2.0):
        got = traced(xg.asarray(a, dtype=xg.float64)).numpy()
        np.testing.assert_allclose(got, step(xg.asarray(a, dtype=xg.float64)).numpy(),
                                   rtol=1e-10)
    (program,) = traced.programs()
    names = {getattr(fn, "__name__", "") for fn in program._namespace.values()}
    assert "inv" in names and not any("svd" in n for n in names), names
    singular = np.stack([SINGULAR, _rand(3, 3), _rand(3, 3), SINGULAR])
    not_a_number = np.stack([_rand(3, 3), np.full((3, 3), np.nan), _rand(3, 3), _rand(3, 3)])
    for edge in (singular, not_a_number):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = traced(xg.asarray(edge, dtype=xg.float64)).numpy()
            want = step(xg.asarray(edge, dtype=xg.float64)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert np.isfinite(got[[0, 2, 3]]).all() and np.isnan(got[1]).all()


def test_qr_complete_extra_columns_of_q_in_xg_function_give_nan_not_a_silent_number():
    # the first (eager) call raises, as outside xg.function (those columns are not unique);
    # the traced calls cannot raise, so their gradient is NaN
    step = xg.function(_gradient_step(lambda a: L.qr(a, mode="complete").Q))
    with pytest.raises(ValueError, match="not unique"):
        step(xg.asarray(_rand(4, 3), dtype=xg.float64))
    for _ in range(2):
        assert np.isnan(step(xg.asarray(_rand(4, 3), dtype=xg.float64)).numpy()).all()


# -- on the array API's reference namespace: no NumPy-isms in the new ways ------------------------
def test_hessian_and_jvp_run_on_array_api_strict(clean_backends):
    pytest.importorskip("array_api_strict")
    from xpgrad.testing import StrictBackend

    xg.register_backend("strict", StrictBackend)
    s = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])
    results = []
    for backend in ("numpy", "strict"):
        zero = xg.asarray(np.zeros((2, 2)), dtype=xg.float64, backend=backend)
        x = xg.asarray(s, dtype=xg.float64, backend=backend)
        t = xg.asarray(np.full((3, 3), 0.1), dtype=xg.float64, backend=backend)
        hessian = xg.hessian(L.det)(zero)                           # det's minors way
        _, jvp = xg.jvp(lambda a: L.eigh(a).eigenvectors ** 2, x, t)
        results.append([hessian.numpy(), jvp.numpy()])
    for got, want in zip(*results[::-1]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("key", [(Ellipsis, None, slice(None, 2)), (slice(None), None, 1),
                                 (None, Ellipsis)])
def test_gradient_of_an_index_with_newaxis_on_array_api_strict(clean_backends, key):
    # as U[..., :k] * S[..., None, :k] in a reconstruction: the tape adds the slice's gradient
    # into its buffer with setitem, which the array API allows no None in
    pytest.importorskip("array_api_strict")
    from xpgrad.testing import StrictBackend

    xg.register_backend("strict", StrictBackend)
    grads = []
    for backend in ("numpy", "strict"):
        x = xg.asarray(_rand(2, 3), dtype=xg.float64, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.sum(x[key] * 2.0)
        grads.append(tape.gradient(y, x).numpy())
    np.testing.assert_allclose(grads[1], grads[0])


def test_gradient_of_an_index_with_newaxis_inside_xg_function():
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.sum(x[..., None, 1:] * x[:, None, 0, None])
        return tape.gradient(y, x)
    traced = xg.function(step)
    for k in range(3):
        a = xg.asarray(_rand(2, 3) + k, dtype=xg.float64)
        np.testing.assert_allclose(traced(a).numpy(), step(a).numpy())
