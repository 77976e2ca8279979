"""The Numba LSTM's compiled scan loops (``_rnn.lstm_forward_steps``/``lstm_backward_steps``:
each step's product by the BLAS gemm called from Numba, ``_gemm.py``): the same numbers as the
loop over the steps in Python, bit for bit, and the generic rule's to float rounding, at odd
sizes, batch 1 and one step; and the plan they run from (``blas.stepped_plan``)."""
from __future__ import annotations

import numpy as np
import pytest

from xpgrad.backends import blas, blas_steps

pytest.importorskip("numba", reason="Numba is not installed")

from numba import njit  # noqa: E402

from xpgrad.backends.numba import _gemm, _rnn, _scans  # noqa: E402
from xpgrad.ops.recurrent import _lstm_layer_forward, _lstm_layer_vjp  # noqa: E402

from blas_libraries import library  # noqa: E402,F401  (a fixture)

DTYPES = [np.float32, np.float64]


@njit
def _run_step(plan, t, one, zero):
    _gemm.step_product(plan, t, one, zero)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["steps first", "steps second", "steps reversed"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 4, 5), (64, 192, 512)])
def test_stepped_plan_gives_each_steps_product(library, dtype, layout, shape):
    """A compiled loop's step ``t`` writes ``stack[t] @ b``, for stacks whose steps are
    consecutive, strided (a time-major view of batch-major states) or backwards in memory, at
    sizes under ``blas.MIN_WORK`` too; both integer interfaces (OpenBLAS's 64-bit, MKL's
    32-bit)."""
    m, k, n = shape
    rng = np.random.default_rng(4)
    steps = 5
    if layout == "steps second":
        stack = np.swapaxes(rng.normal(size=(m, steps, k)).astype(dtype), 0, 1)
    else:
        stack = rng.normal(size=(steps, m, k)).astype(dtype)
        if layout == "steps reversed":
            stack = stack[::-1]
    b = rng.normal(size=(k, n)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)
    plan = blas.stepped_plan(stack, b, out)
    assert plan is not None
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for t in (4, 0, 2):
        _run_step(plan, t, dtype(1), dtype(0))
        want = stack[t].astype(np.float64) @ b.astype(np.float64)
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.abs(want).max())


def test_stepped_plan_declines_what_no_direct_gemm_takes():
    rng = np.random.default_rng(5)
    stack, b = rng.normal(size=(3, 4, 5)), rng.normal(size=(5, 2))
    previous = blas.use("numpy")
    try:
        assert blas.stepped_plan(stack, b, np.empty((4, 2))) is None     # no library in use
    finally:
        blas.restore(previous)
    if blas._library() is None:
        pytest.skip("no direct gemm here")
    assert blas.stepped_plan(stack, b, stack[0, :, :2]) is None          # out in the stack
    assert blas.stepped_plan(stack.astype(np.int64), b.astype(np.int64),
                             np.empty((4, 2), np.int64)) is None         # no integer gemm
    assert blas.stepped_plan(stack, b.astype(np.float32), np.empty((4, 2))) is None
    assert blas.stepped_plan(stack[0], b, np.empty((4, 2))) is None      # not a stack
    assert blas.stepped_plan(stack, b[:, ::-1], np.empty((4, 2))) is None  # reversed columns


def _layer_case(rng, dt, B, T, I, H, one_hot):
    if one_hot:
        x = np.eye(I, dtype=dt)[rng.integers(0, I, (B, T))]
    else:
        x = rng.normal(size=(B, T, I)).astype(dt)
    return (x, rng.normal(size=(B, H)).astype(dt), rng.normal(size=(B, H)).astype(dt),
            (rng.normal(size=(I, 4 * H)) * 0.5).astype(dt),
            (rng.normal(size=(H, 4 * H)) * 0.5).astype(dt), rng.normal(size=4 * H).astype(dt))


def _kernel(args, g, needs):
    out, saved = _scans.lstm_layer_forward(*args)
    return [out, *_scans.lstm_layer_vjp(g, saved, needs, *args)]


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("sizes", [(1, 1, 3, 5), (1, 6, 4, 3), (3, 5, 7, 9), (2, 4, 65, 19),
                                   (64, 2, 9, 128)])
@pytest.mark.parametrize("one_hot", [False, True], ids=["dense", "one-hot"])
def test_compiled_loops_match_python_loop_and_generic_rule(library, monkeypatch, dt, sizes,
                                                           one_hot):
    rng = np.random.default_rng(sum(sizes))
    B, T, I, H = sizes
    args = _layer_case(rng, dt, B, T, I, H, one_hot)
    g = rng.normal(size=(2, B, T, H)).astype(dt)          # both halves: h and c
    needs = (True,) * 6
    ran = {"forward": 0, "backward": 0}
    for way in ran:
        loop = getattr(_rnn, f"lstm_{way}_steps")

        def counting(*a, _loop=loop, _way=way):
            ran[_way] += 1
            return _loop(*a)
        monkeypatch.setattr(_rnn, f"lstm_{way}_steps", counting)
    compiled = _kernel(args, g, needs)
    steps = 0 if T == 1 else 1        # one step takes backends/numba/lstm_step.py, no loop
    assert ran == {"forward": steps, "backward": steps}
    monkeypatch.setattr(blas, "stepped_plan", lambda *a: None)         # each step from Python
    python = _kernel(args, g, needs)
    assert ran == {"forward": steps, "backward": steps}
    # the same gemm calls where the Python loop calls the gemm too; under blas.MIN_WORK it
    # takes NumPy's matmul, which rounds its sums its own way, and where the compiled loops
    # split a product in blocks (blas.stepped_plans: OpenBLAS's SkylakeX kernels) the blocks
    # round their own way
    blocked = any(blas_steps.block_width(blas._library(), *product) for product in
                  ((B, 4 * H, (0 if one_hot else I) + H, "columns"), (B, H, 4 * H, "depth")))
    direct = B * H * 4 * H >= blas.MIN_WORK and not blocked    # the smaller of both products
    for a, b in zip(compiled, python):
        if direct:
            np.testing.assert_array_equal(a, b)
        else:
            scale = max(1.0, float(np.abs(b).max()))
            np.testing.assert_allclose(a, b, rtol=1e-5 if dt == np.float32 else 1e-13,
                                       atol=(1e-6 if dt == np.float32 else 1e-14) * scale)
    want = [_lstm_layer_forward(np, *args)]
    want += _lstm_layer_vjp(np, g, want[0], needs, *args)
    tol = 2e-4 if dt == np.float32 else 1e-12
    for a, b, what in zip(compiled, want, ("states", "x", "h0", "c0", "w_ih", "w_hh", "b")):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, err_msg=what)
