"""Shared by the array-api-strict tests (tests/test_primitives_strict.py,
tests/test_layers_strict.py): the ``strict`` backend fixture, values and VJPs (to second order)
of a function on a backend, and their comparison.

The cupy backend runs the generic rules on CuPy arrays wherever it has no kernel of its own, so
a rule must use only the array API standard; xpgrad on array-api-strict, against the numpy
backend in float64, finds the rules that call NumPy or lean on its behaviour without a GPU.

``$XPGRAD_STRICT_TESTS_BACKEND`` points the same tests at another registered backend:
``tools/gpu_check.sh`` sets it to ``cupy``, so on a device every case runs on CuPy arrays
against the numpy backend (to a tolerance for cuBLAS's and CuPy's summation orders), and where
that backend is unavailable each test is skipped with its reason.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import StrictBackend, registered_backend

#: test id -> why array-api-strict refuses what the cupy backend accepts (CuPy indexes as NumPy)
STRICTER_THAN_CUPY = {
    "tensor_scatter_nd_update": "the forward writes rows at integer positions "
                                "(out[rows, ...] = updates): the array API's __setitem__ takes "
                                "no integer arrays, CuPy's does",
}


#: the backend the strict tests run on: array-api-strict unless the environment names another
TARGET = os.environ.get("XPGRAD_STRICT_TESTS_BACKEND") or "strict"
#: float64 tolerance against the numpy backend: array-api-strict computes with NumPy itself;
#: another backend sums in its own order (cuBLAS, CuPy's reductions), its own libm
TOLERANCE = ({"rtol": 1e-10, "atol": 1e-12} if TARGET == "strict"
             else {"rtol": 1e-8, "atol": 1e-10})


@pytest.fixture(scope="module")
def strict():
    """The backend under test (``TARGET``), registered for the module where it is
    array-api-strict; a test skips with the reason where it is unavailable."""
    if TARGET != "strict":
        try:
            backend = xg.get_backend(TARGET)
        except xg.BackendUnavailableError as e:
            pytest.skip(f"{TARGET}: {e}")
        yield backend
        return
    pytest.importorskip("array_api_strict")
    with registered_backend("strict", StrictBackend) as backend:
        yield backend


def strict_only(reason):
    """Skips a test of array-api-strict's own behaviour where ``TARGET`` is another backend."""
    return pytest.mark.skipif(TARGET != "strict", reason=f"on {TARGET}: {reason}")


def values_and_vjp(fn, arrays, backend, order=1):
    """``[outputs, gradients]`` of ``fn`` on float64 tensors of ``arrays`` made on ``backend``
    (the gradient of the outputs' sum weighted by fixed random cotangents), with order 2 also
    the gradient of the gradients' weighted sum; lists of NumPy arrays (None: no gradient)."""
    noise = np.random.default_rng(1)

    def weighted_sum(tensors):
        return sum(xg.sum(t * xg.astype(xg.asarray(noise.standard_normal(t.shape)), t.dtype))
                   for t in tensors if t is not None)

    with xg.use_backend(backend):
        args = [xg.asarray(a, dtype=xg.float64) for a in arrays]
        with xg.GradientTape() if order > 1 else contextlib.nullcontext() as outer:
            if outer is not None:
                outer.watch(args)
            with xg.GradientTape() as tape:
                tape.watch(args)
                out = fn(*args)
                outs = list(out) if isinstance(out, (list, tuple)) else [out]
                loss = weighted_sum(outs)
            results = [outs, tape.gradient(loss, args)]
            if outer is not None:
                loss = weighted_sum(results[1])
        if outer is not None:
            results.append(outer.gradient(loss, args))
    assert {t.backend.name for ts in results for t in ts if t is not None} == {backend}
    return [[None if t is None else t.numpy() for t in ts] for ts in results]


def assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(w, list):
            assert_same(g, w)
            continue
        assert (g is None) == (w is None)
        if w is not None:
            np.testing.assert_allclose(g, w, **TOLERANCE)


def marked(test_id, *values):
    """``pytest.param(*values, id=test_id)``, an xfail where ``STRICTER_THAN_CUPY`` names it
    (on array-api-strict only)."""
    reason = STRICTER_THAN_CUPY.get(test_id) if TARGET == "strict" else None
    marks = [pytest.mark.xfail(raises=IndexError, strict=True, reason=reason)] if reason else []
    return pytest.param(*values, id=test_id, marks=marks)


def assert_matches_numpy(fn, arrays, order=1):
    """``fn``'s values and gradients (to ``order``) on strict equal the numpy backend's."""
    assert_same(values_and_vjp(fn, arrays, TARGET, order),
                values_and_vjp(fn, arrays, "numpy", order))
