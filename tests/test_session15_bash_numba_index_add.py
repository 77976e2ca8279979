"""The numba backend's index_add (the gradient of indexing by an integer array) inside
xg.function (session 15 bug bash): with an index that is a NumPy constant of the function, the
target is the trace's stand-in, which the compiled row loop cannot take; NumPy's np.add.at,
which the trace records, runs instead."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if backend_report()[b]["available"]]
IDS = np.array([0, 2, 2, 3])


def _take_gradient(x):
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(xg.take(x, IDS, axis=0) ** 2) + xg.sum(x[IDS[::-1]] * 3.0)
    return tape.gradient(loss, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_of_a_constant_index_replays(backend):
    """Before, on numba: TraceError 'the array attribute .flags inside an xg.function reads a
    tensor's value' (numba's add_rows read the stand-in's flags)."""
    traced = xg.function(_take_gradient)
    x = np.arange(15.0).reshape(5, 3)
    for k in range(4):          # eager, traced, replayed twice
        xk = x + k
        want = 2.0 * np.bincount(IDS, minlength=5)[:, None] * xk + \
            3.0 * np.bincount(IDS, minlength=5)[:, None]
        got = traced(xg.asarray(xk, backend=backend)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert traced.trace_count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_of_det_inside_xg_function_matches_eager(backend):
    """xg.hessian picks Jacobian rows with constant index arrays: the case that met it."""
    hess = xg.hessian(xg.linalg.det)
    traced = xg.function(hess)
    regular = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])
    singular = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])
    for a in (regular, regular + 1.0, singular, regular):
        got = traced(xg.asarray(a, backend=backend)).numpy()
        want = hess(xg.asarray(a, backend=backend)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert traced.trace_count == 1


def test_the_compiled_row_loop_still_runs_eagerly():
    if "numba" not in BACKENDS:
        pytest.skip("numba is not available")
    from xpgrad.backends.numba._scatter import add_rows

    acc = np.zeros((4, 2))
    assert add_rows(acc, (IDS,), np.ones((4, 2)))
    np.testing.assert_array_equal(acc[:, 0], [1.0, 0.0, 2.0, 1.0])


@pytest.mark.parametrize("shape", [(9,), (9, 1), (9, 1, 1)])
def test_rows_of_one_entry_go_to_numpy(shape):
    """Rows of one entry (a 1-D target: a mask's positions) are left to the NumPy backend's
    ``index_add`` (its 1-D ``np.add.at`` is faster than the row loop); the sums are
    ``np.add.at``'s, repeats accumulating, through the numba backend and through a mask."""
    if "numba" not in BACKENDS:
        pytest.skip("numba is not available")
    from xpgrad.backends.numba._scatter import add_rows

    ids = np.array([8, 0, 8, 3, 3, 3])
    values = np.arange(1.0, 7.0).reshape((6,) + shape[1:])
    acc = np.zeros(shape)
    assert not add_rows(acc, (ids,), values)
    assert not acc.any()
    xg.get_backend("numba").index_add(acc, (ids,), values)
    want = np.zeros(shape)
    np.add.at(want, (ids,), values)
    np.testing.assert_array_equal(acc, want)
    data = np.arange(12.0).reshape(3, 4)
    mask = data % 3 == 0
    got = xg.asarray(data, backend="numba").at[mask].add(1.5).numpy()
    np.testing.assert_array_equal(got, data + 1.5 * mask)
