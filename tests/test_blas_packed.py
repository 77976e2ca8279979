"""``blas_steps.packed_update``: a scan's per-step products of one packed operand (MKL's
packed gemm), the same as ``stepped_update``'s; None where the library has no packed gemm."""
import numpy as np
import pytest

from xpgrad.backends import blas, blas_steps
from test_blas import MODES, _layout


@pytest.fixture(params=MODES)
def mode(request):
    previous = blas.use(request.param)
    yield request.param
    blas.restore(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("b_layout", ["C", "F", "rows"])
@pytest.mark.parametrize("stack_layout", ["steps first", "steps second"])
def test_packed_steps_add_what_stepped_update_adds(mode, dtype, b_layout, stack_layout):
    rng = np.random.default_rng(3)
    steps, m, k, n = 5, 64, 96, 200
    stack = rng.normal(size=(steps, m, k)).astype(dtype)
    if stack_layout == "steps second":
        stack = np.swapaxes(np.ascontiguousarray(np.swapaxes(stack, 0, 1)), 0, 1)
    b = _layout(rng.normal(size=(k, n)).astype(dtype), b_layout)
    outs0 = rng.normal(size=(steps, m, n)).astype(dtype)
    outs, plain = outs0.copy(), outs0.copy()
    step = blas_steps.packed_update(stack, b, outs)
    lib = blas._library()
    if lib is None or np.dtype(dtype) not in getattr(lib, "packed", {}):
        assert step is None
        return
    assert mode == "mkl"
    b_at_call = b.copy()
    b[...] = 0.0                               # packed when made: later changes unseen
    plain_step = blas.stepped_update(stack, b_at_call, plain)
    for t in [3, 0, 4]:
        assert step(t) is None
        plain_step(t)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(outs, plain, rtol=tol, atol=tol * np.abs(plain).max())
    np.testing.assert_array_equal(outs[[1, 2]], outs0[[1, 2]])
    with pytest.raises(IndexError, match=f"step {steps} of a stack of {steps}"):
        step(steps)


def test_operands_the_gemm_cannot_take_give_none(mode):
    stack = np.ones((4, 3, 5), np.float32)
    outs = np.zeros((4, 3, 2), np.float32)
    assert blas_steps.packed_update(stack, np.ones((5, 2), np.int64), outs) is None
    assert blas_steps.packed_update(stack, np.ones((5, 2), np.float32), outs[:3]) is None
    assert blas_steps.packed_update(stack, np.ones((5, 2), np.float32),
                                    np.zeros((4, 3, 4), np.float32)[:, :, ::2]) is None
