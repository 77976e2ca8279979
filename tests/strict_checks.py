"""Shared by the array-api-strict tests (tests/test_primitives_strict.py,
tests/test_layers_strict.py): the ``strict`` backend fixture, values and VJPs (to second order)
of a function on a backend, and their comparison.

The cupy backend runs the generic rules on CuPy arrays wherever it has no kernel of its own, so
a rule must use only the array API standard; xpgrad on array-api-strict, against the numpy
backend in float64, finds the rules that call NumPy or lean on its behaviour without a GPU.
"""
from __future__ import annotations

import contextlib

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


@pytest.fixture(scope="module")
def strict():
    pytest.importorskip("array_api_strict")
    with registered_backend("strict", StrictBackend) as backend:
        yield backend


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
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def marked(test_id, *values):
    """``pytest.param(*values, id=test_id)``, an xfail where ``STRICTER_THAN_CUPY`` names it."""
    reason = STRICTER_THAN_CUPY.get(test_id)
    marks = [pytest.mark.xfail(raises=IndexError, strict=True, reason=reason)] if reason else []
    return pytest.param(*values, id=test_id, marks=marks)


def assert_matches_numpy(fn, arrays, order=1):
    """``fn``'s values and gradients (to ``order``) on strict equal the numpy backend's."""
    assert_same(values_and_vjp(fn, arrays, "strict", order),
                values_and_vjp(fn, arrays, "numpy", order))
