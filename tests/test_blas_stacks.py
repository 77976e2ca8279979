"""backends/blas_stacks.py: a gemm call per pair of a stack equals NumPy's matmul (and, with
an inner size of 1, NumPy's broadcast multiply bit for bit) under every direct BLAS, for any
layout of the operands; what it cannot take is left to the caller (None)."""
from __future__ import annotations

import numpy as np
import pytest

from blas_libraries import library  # noqa: F401
from xpgrad.backends import blas
from xpgrad.backends.blas_stacks import _outer_products_library, stacked_matmul

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outer_products_have_the_bits_of_the_broadcast_multiply(library, dtype):
    u, v = RNG.normal(size=(5, 130, 1)).astype(dtype), RNG.normal(size=(5, 1, 17)).astype(dtype)
    out = stacked_matmul(u, v)
    assert out.dtype == dtype and out.flags.c_contiguous
    np.testing.assert_array_equal(out, u * v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_of_any_layout_equal_matmul(library, dtype):
    a, b = RNG.normal(size=(4, 9, 3)).astype(dtype), RNG.normal(size=(4, 3, 7)).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(stacked_matmul(a, b), a @ b, rtol=rtol)
    at = np.ascontiguousarray(np.swapaxes(a, 1, 2)).swapaxes(1, 2)     # each a Fortran view
    np.testing.assert_allclose(stacked_matmul(at, b), a @ b, rtol=rtol)
    np.testing.assert_allclose(stacked_matmul(a[::-1], b[::-1]), (a @ b)[::-1], rtol=rtol)
    np.testing.assert_allclose(stacked_matmul(a[::2], b[::2]), a[::2] @ b[::2], rtol=rtol)


def test_what_a_gemm_cannot_take_is_left_to_the_caller(library):
    a, b = np.ones((2, 3, 1)), np.ones((2, 1, 4))
    assert stacked_matmul(a.astype(np.float16), b.astype(np.float16)) is None
    assert stacked_matmul(a.astype(np.int64), b.astype(np.int64)) is None
    assert stacked_matmul(a.astype(np.float32), b) is None             # dtypes differ
    assert stacked_matmul(a, np.ones((3, 1, 4))) is None                 # stacks differ
    assert stacked_matmul(a[0], b[0]) is None                            # not stacks
    assert stacked_matmul(np.ones((0, 3, 1)), np.ones((0, 1, 4))) is None


def test_nothing_is_called_without_a_direct_blas():
    previous = blas.use("numpy")
    try:
        assert stacked_matmul(np.ones((2, 3, 1)), np.ones((2, 1, 4))) is None
    finally:
        blas.restore(previous)


def test_outer_products_run_on_numpys_openblas_unless_mkl_is_asked_for(monkeypatch):
    if blas.numpys_openblas() is None or blas._find_mkl() is None:
        pytest.skip("needs both MKL and NumPy's OpenBLAS")
    mkl = blas._load("mkl")
    monkeypatch.setenv("XPGRAD_BLAS", "auto")
    assert _outer_products_library(mkl).name == "openblas"
    monkeypatch.setenv("XPGRAD_BLAS", "mkl")
    assert _outer_products_library(mkl) is mkl
