"""The NumPy backend's ``linalg_solve_triangular`` kernel (the host BLAS's ``trsm``,
``backends/numpy/triangular.py``): every flag combination against PyTorch in float64 (values
and both gradients) and against the generic rule (LU on the masked triangle) in float32, a
transposed (Fortran-ordered) A, the kernel actually taken, and what it leaves to the generic
rule (a zero on the diagonal, batches)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backend import Kernel
from xpgrad.backends.triangular_solve import trsm

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
R = np.random.default_rng(23)
NAME = "linalg_solve_triangular"
FLAGS = [dict(upper=u, left=lf, unitriangular=t) for u in (False, True) for lf in (True, False)
         for t in (False, True)]
pytestmark = [pytest.mark.skipif(trsm(np.eye(1), np.ones((1, 1)), upper=True) is None,
                                 reason="no BLAS called directly (XPGRAD_BLAS=numpy)"),
              pytest.mark.usefixtures("numpy_default")]      # the NumPy backend's kernel


def _matrix(n):
    return R.standard_normal((n, n)) + 4 * np.eye(n)


@pytest.fixture
def calls(monkeypatch):
    """The kernel's forward calls that did not decline."""
    backend = xg.get_backend("numpy")
    kernel, taken = backend.kernels[NAME], []

    def spy(*arrays, **params):
        out = kernel.forward(*arrays, **params)
        taken.append(out is not None)
        return out

    monkeypatch.setitem(backend.kernels, NAME,
                        Kernel(spy, kernel.vjp, saves=kernel.saves, needs=kernel.needs))
    return taken


@pytest.mark.parametrize("kw", FLAGS, ids=str)
def test_values_and_gradients_match_torch(kw, calls):
    b_shape = (6, 3) if kw["left"] else (3, 6)
    assert_matches_torch(lambda a, b: xg.linalg.solve_triangular(a, b, **kw),
                         lambda a, b: torch.linalg.solve_triangular(a, b, **kw),
                         [_matrix(6), R.standard_normal(b_shape)])
    assert calls == [True]


def _values_and_grads(a, b, kw, seed_shape):
    a, b = xg.asarray(a), xg.asarray(b)
    g = xg.asarray(np.random.default_rng(1).standard_normal(seed_shape).astype(a.dtype.name))
    with xg.GradientTape() as tape:
        tape.watch([a, b])
        x = xg.linalg.solve_triangular(a, b, **kw)
    ga, gb = tape.gradient(x, [a, b], output_gradients=g)
    return x.numpy(), ga.numpy(), gb.numpy()


@pytest.mark.parametrize("kw", FLAGS, ids=str)
@pytest.mark.parametrize("fortran", [False, True])
def test_float32_matches_the_generic_rule(kw, fortran, monkeypatch):
    a = (_matrix(40) / 4).astype(np.float32)
    a = np.asfortranarray(a) if fortran else a
    b = R.standard_normal((40, 7) if kw["left"] else (7, 40)).astype(np.float32)
    shape = b.shape
    got = _values_and_grads(a, b, kw, shape)
    monkeypatch.delitem(xg.get_backend("numpy").kernels, NAME)
    want = _values_and_grads(a, b, kw, shape)
    for u, v in zip(got, want):
        assert u.dtype == np.float32
        np.testing.assert_allclose(u, v, rtol=2e-5, atol=2e-5)


def test_a_transposed_view_reads_the_other_triangle(calls):
    lower = np.tril(_matrix(5))
    b = R.standard_normal((5, 2))
    x = xg.linalg.solve_triangular(xg.asarray(lower).mT, xg.asarray(b), upper=True)
    np.testing.assert_allclose(lower.T @ x.numpy(), b, rtol=1e-12, atol=1e-12)
    y = xg.linalg.cholesky_solve(xg.asarray(b), xg.asarray(lower))
    np.testing.assert_allclose(lower @ lower.T @ y.numpy(), b, rtol=1e-10, atol=1e-10)
    assert calls and all(calls)


def test_zero_on_the_diagonal_and_batches_take_the_generic_rule(calls):
    a = np.tril(_matrix(3))
    a[1, 1] = 0.0
    with pytest.raises(np.linalg.LinAlgError, match="linalg.solve_triangular"):
        xg.linalg.solve_triangular(xg.asarray(a), xg.ones((3, 2), dtype=xg.float64),
                                   upper=False)
    x = xg.linalg.solve_triangular(xg.asarray(a), xg.ones((3, 2), dtype=xg.float64),
                                   upper=False, unitriangular=True)     # the diagonal unread
    np.testing.assert_allclose((np.tril(a, -1) + np.eye(3)) @ x.numpy(), np.ones((3, 2)),
                               rtol=1e-12)
    batch = np.stack([_matrix(3), _matrix(3)])
    xb = xg.linalg.solve_triangular(xg.asarray(batch), xg.ones((2, 3, 1), dtype=xg.float64),
                                    upper=True)
    np.testing.assert_allclose(np.triu(batch) @ xb.numpy(), np.ones((2, 3, 1)), rtol=1e-12)
    assert calls == [False, True, False]


def test_trsm_declines_what_it_cannot_take():
    a = np.eye(3)
    assert trsm(a, np.ones((3, 2), np.float32), upper=True) is None         # mixed dtypes
    assert trsm(a.astype(np.complex128), np.ones((3, 2), np.complex128), upper=True) is None
    assert trsm(np.eye(3)[None], np.ones((1, 3, 2)), upper=True) is None    # batched
    assert trsm(a, np.ones((2, 2)), upper=True) is None                     # shapes differ
    assert trsm(a, np.ones((3, 0)), upper=True).shape == (3, 0)
