"""Every case of tests/test_primitives.py, and layers, losses and optimizers end to end, on
array-api-strict: values and gradients (a VJP through ``GradientTape``) equal the numpy
backend's in float64. The cupy backend runs the generic rules on CuPy arrays wherever it has no
kernel of its own, so a rule must use only the array API standard: this file finds the rules
that call NumPy, or lean on NumPy's behaviour, without a GPU."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import StrictBackend, registered_backend

from test_primitives import CASES, make

pytest.importorskip("array_api_strict")

#: case id -> why array-api-strict refuses what the cupy backend accepts (CuPy indexes as NumPy)
STRICTER_THAN_CUPY = {
    "tensor_scatter_nd_update": "the forward writes rows at integer positions "
                                "(out[rows, ...] = updates): the array API's __setitem__ takes "
                                "no integer arrays, CuPy's does",
}


@pytest.fixture(scope="module")
def strict():
    with registered_backend("strict", StrictBackend) as backend:
        yield backend


def values_and_vjp(fn, arrays, backend):
    """``fn``'s outputs on float64 tensors of ``arrays`` made on ``backend``, and the gradient
    of their sum weighted by fixed random cotangents, as NumPy arrays (None: no gradient)."""
    with xg.use_backend(backend):
        args = [xg.asarray(a, dtype=xg.float64) for a in arrays]
        with xg.GradientTape() as tape:
            tape.watch(args)
            out = fn(*args)
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            noise = np.random.default_rng(1)
            loss = sum(xg.sum(o * xg.astype(xg.asarray(noise.standard_normal(o.shape)), o.dtype))
                       for o in outs)
        grads = tape.gradient(loss, args)
    assert {t.backend.name for t in outs + [g for g in grads if g is not None]} == {backend}
    return [o.numpy() for o in outs], [None if g is None else g.numpy() for g in grads]


def assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (g is None) == (w is None)
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def _marked(case):
    reason = STRICTER_THAN_CUPY.get(case.id)
    marks = [pytest.mark.xfail(raises=IndexError, strict=True, reason=reason)] if reason else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_marked(case) for case in CASES])
def test_primitive_matches_the_numpy_backend(case, strict):
    rng = np.random.default_rng(0)
    arrays = [make(spec, rng).numpy() for spec in case.specs]
    want_values, want_grads = values_and_vjp(case.fn, arrays, "numpy")
    got_values, got_grads = values_and_vjp(case.fn, arrays, "strict")
    assert_same(got_values, want_values)
    assert_same(got_grads, want_grads)
