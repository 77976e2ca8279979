"""``xg.linalg.slogdet`` of a singular matrix on a tape: the forward is NumPy's and PyTorch's
``(sign 0, logabsdet -inf)``, and the gradient of ``logabsdet`` is its limit
``adj(x)^T / det(x)``: +-inf where a cofactor is not 0 (rank n - 1), never a finite number
below (0 / 0), as PyTorch's wherever its LU gives a number (a reference computed here from
the cofactors; before, tape.gradient raised LinAlgError)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("numpy_default")

MATRICES = {
    "2x2 rank 1": np.array([[1.0, 2.0], [2.0, 4.0]]),
    "3x3 rank 2": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),
    "3x3 rank 1": np.outer([1.0, 2.0, 3.0], [1.0, 0.0, 2.0]),
}


def _cofactors(a):
    n = a.shape[0]
    return np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
                      for j in range(n)] for i in range(n)])


def _torch(a):
    t = torch.tensor(a, requires_grad=True)
    sign, logabs = torch.linalg.slogdet(t)
    logabs.backward()
    return sign.item(), logabs.item(), t.grad.numpy()


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("name", sorted(MATRICES))
def test_slogdet_of_a_singular_matrix_on_a_tape_is_torchs(name, backend):
    a = MATRICES[name]
    x = xg.asarray(a, dtype=xg.float64, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # NumPy's divide by zero, as eagerly
        with xg.GradientTape() as tape:
            tape.watch(x)
            sign, logabs = xg.linalg.slogdet(x)
        grad = tape.gradient(logabs, x).numpy()
        cofactors = np.round(_cofactors(a), 9)       # exact integers here
        want = cofactors / np.linalg.det(a)          # +-inf, or NaN where a cofactor is 0
    torch_sign, torch_logabs, torch_grad = _torch(a)
    assert (sign.item(), logabs.item()) == (abs(torch_sign), torch_logabs) == (0.0, -np.inf)
    if np.linalg.matrix_rank(a) == a.shape[0] - 1:
        np.testing.assert_array_equal(grad, want)
        # PyTorch's LU leaves NaN in some rows; where it has an infinity, this is one too
        assert np.isinf(grad[np.isinf(torch_grad)]).all()
    else:   # 0 / 0: NaN, or +-inf where the SVD leaves a rounding error in a cofactor
        assert np.isnan(want).all() and not np.isfinite(grad).any()
        assert not np.isfinite(torch_grad).any()


def test_slogdet_gradient_of_a_batch_with_one_singular_matrix():
    regular = np.array([[2.0, 1.0], [0.5, 3.0]])
    x = xg.asarray(np.stack([regular, MATRICES["2x2 rank 1"]]), dtype=xg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grad = xg.grad(lambda v: xg.sum(xg.linalg.slogdet(v).logabsdet))(x).numpy()
    np.testing.assert_allclose(grad[0], np.linalg.inv(regular).T, rtol=1e-14)
    assert np.isinf(grad[1]).all()


def test_a_program_traced_at_a_regular_matrix_replays_a_singular_one_as_eagerly():
    step = xg.value_and_grad(lambda a: xg.linalg.slogdet(a).logabsdet)
    traced = xg.function(step)
    regular = xg.asarray([[2.0, 1.0], [0.5, 3.0]], dtype=xg.float64)
    singular = xg.asarray(MATRICES["2x2 rank 1"], dtype=xg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a in (regular, regular, regular, singular, regular):
            (value, grad), (eager_value, eager_grad) = traced(a), step(a)
            assert value.item() == eager_value.item()
            np.testing.assert_array_equal(grad.numpy(), eager_grad.numpy())
    assert traced.trace_count == 1


@pytest.mark.parametrize("name", sorted(MATRICES))
def test_the_gradients_infinity_at_a_singular_matrix_warns_of_nothing(name):
    x = xg.asarray(MATRICES[name], dtype=xg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grad = xg.grad(lambda v: xg.linalg.slogdet(v).logabsdet)(x).numpy()
    assert not np.isfinite(grad).any()
