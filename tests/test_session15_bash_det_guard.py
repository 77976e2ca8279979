"""det's gradient inside xg.function (session 15 bug bash): the trace at regular matrices takes
the inverse's way behind a guard on |det|; every replay that meets a zero determinant must run
eagerly (the SVD's way), not only the first one."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if backend_report()[b]["available"]]

SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])
REGULAR = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])


def _det_gradient(a):
    with xg.GradientTape() as tape:
        tape.watch(a)
        loss = xg.sum(xg.linalg.det(a))
    return tape.gradient(loss, a)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_replay_at_a_singular_matrix_takes_the_svd_way(backend):
    """Before: the first replay meeting det == 0 ran eagerly, then widened the guard to accept
    0 (as an index guard after a bound check passed), so the next singular call replayed the
    inverse's way: numpy.linalg.LinAlgError 'Singular matrix'."""
    traced = xg.function(_det_gradient)
    regular = np.stack([REGULAR, REGULAR + 0.5])
    some_singular = np.stack([SINGULAR, REGULAR])
    calls = [regular, regular, some_singular, some_singular, regular, some_singular,
             np.stack([SINGULAR, SINGULAR])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k, a in enumerate(calls):
            got = traced(xg.asarray(a, backend=backend)).numpy()
            want = _det_gradient(xg.asarray(a, backend=backend)).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"call {k}")
    assert traced.trace_count == 1
    # the adjugate of SINGULAR is not zero: the SVD's way gives it, not NaN or 0
    assert np.abs(got[0]).max() > 0.5 and np.isfinite(got).all()


def test_a_value_guard_is_not_widened_by_an_eager_call():
    """The bounds of a value guard are those its caller accepts: a call outside them ran
    eagerly (raised, or took another way) and says nothing of the next one."""
    from xpgrad.jit.replay_steps import GuardFailed, RangeGuard

    guard = RangeGuard(lambda a: (float(a.min()), float(a.max())), 1.0, 2.0, widens=False)
    with pytest.raises(GuardFailed) as failed:
        guard(np.array([0.0, 1.5]))
    guard.widen(failed.value.lo, failed.value.hi)
    with pytest.raises(GuardFailed):
        guard(np.array([0.0, 1.5]))
    index_guard = RangeGuard(lambda a: (int(a.min()), int(a.max())), 0, 3)
    index_guard.widen(-1, 3)
    index_guard(np.array([-1, 2]))          # an index guard still learns the eager call's range


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_batch_of_matrices_replays(backend):
    """Before: the traced call asked value_range of an empty |det| and raised ValueError
    'zero-size array to reduction operation minimum' (eagerly the gradient is empty)."""
    traced = xg.function(_det_gradient)
    for _ in range(3):          # eager, traced, replayed
        got = traced(xg.asarray(np.zeros((0, 3, 3)), backend=backend))
        assert got.shape == (0, 3, 3)
    assert traced.trace_count == 1
    regular = np.stack([REGULAR, REGULAR + 0.5])
    for _ in range(3):          # a new signature: the guard of a non-empty one still works
        got = traced(xg.asarray(regular, backend=backend)).numpy()
    np.testing.assert_allclose(got, _det_gradient(xg.asarray(regular, backend=backend)).numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trace_at_a_singular_matrix_leaves_no_guard(backend):
    """Traced where a determinant is 0, the program takes the SVD's way, valid for any matrix:
    no |det| guard (before: one was recorded anyway, so every later singular call fell back to
    running eagerly, and regular ones replayed the slower way behind it)."""
    traced = xg.function(_det_gradient)
    some_singular = np.stack([SINGULAR, REGULAR])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in (some_singular, some_singular, some_singular, np.stack([REGULAR, REGULAR])):
            got = traced(xg.asarray(a, backend=backend)).numpy()
            want = _det_gradient(xg.asarray(a, backend=backend)).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    (program,) = traced.programs()
    kinds = {type(fn).__name__ for fn in program._namespace.values()}
    assert "RangeGuard" not in kinds, kinds
