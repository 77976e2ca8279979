"""xg.linalg.expm (jax.scipy.linalg.expm, torch.linalg.matrix_exp): values and gradients
against torch.linalg.matrix_exp in float64 at norms that take each Pade degree and several
squarings, batches, complex and float32 input, finite differences to second order, and clear
errors."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
R = np.random.default_rng(7)


@pytest.mark.parametrize("norm", [1e-3, 0.2, 0.8, 2.0, 4.0, 30.0])   # degree 3 .. 13, squaring
def test_values_and_gradients_match_torch(norm):
    a = R.standard_normal((4, 4))
    a *= norm / np.abs(a).sum(0).max()
    assert_matches_torch(xg.linalg.expm, torch.linalg.matrix_exp, [a], rtol=1e-11, atol=1e-12)


def test_batches_complex_and_float32_match_torch():
    a = R.standard_normal((2, 3, 3, 3))
    assert_matches_torch(xg.linalg.matrix_exp, torch.linalg.matrix_exp, [a], rtol=1e-11)
    c = R.standard_normal((3, 3)) + 1j * R.standard_normal((3, 3))
    np.testing.assert_allclose(xg.linalg.expm(xg.asarray(c)).numpy(),
                               torch.linalg.matrix_exp(torch.tensor(c)).numpy(), rtol=1e-12)
    f = (3 * R.standard_normal((5, 5))).astype(np.float32)
    got = xg.linalg.expm(xg.asarray(f))
    assert got.dtype == xg.float32
    want = torch.linalg.matrix_exp(torch.tensor(f, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got.numpy(), want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


def test_finite_differences_first_and_second_order():
    for scale in (0.3, 3.0):                       # one Pade degree, then squarings too
        check_grads(xg.linalg.expm, [xg.asarray(scale * R.standard_normal((3, 3)))], order=2)


def test_commuting_closed_form_and_zero_size():
    # exp(t [[0, 1], [-1, 0]]) is a rotation by t
    t = 0.7
    got = xg.linalg.expm(xg.asarray([[0.0, t], [-t, 0.0]], dtype=xg.float64)).numpy()
    np.testing.assert_allclose(got, [[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]],
                               rtol=1e-14, atol=1e-15)
    assert xg.linalg.expm(xg.zeros((2, 0, 0))).shape == (2, 0, 0)


def test_traced_and_vmapped_calls_mask_their_squarings_as_jax():
    value_and_grad = xg.value_and_grad(lambda a, w: xg.sum(xg.linalg.expm(a) * w))
    compiled = xg.function(value_and_grad)
    for norm in (1e-3, 0.8, 4.0, 30.0, 300.0):         # one trace replays 0 to 6 squarings
        a = R.standard_normal((3, 3))
        a *= norm / np.abs(a).sum(0).max()
        w = R.standard_normal((3, 3))
        for _ in range(3 if norm == 1e-3 else 1):
            got, grad = compiled(xg.asarray(a), xg.asarray(w))
        at = torch.tensor(a, requires_grad=True)
        want = (torch.linalg.matrix_exp(at) * torch.tensor(w)).sum()
        want.backward()
        np.testing.assert_allclose(float(got), want.item(), rtol=1e-12)
        np.testing.assert_allclose(grad.numpy(), at.grad.numpy(), rtol=1e-11,
                                   atol=1e-13 * np.abs(at.grad.numpy()).max())
    assert compiled.trace_count == 1
    batch = R.standard_normal((4, 3, 3)) * np.array([0.01, 1.0, 10.0, 100.0])[:, None, None]
    np.testing.assert_allclose(xg.vmap(xg.linalg.expm)(xg.asarray(batch)).numpy(),
                               torch.linalg.matrix_exp(torch.tensor(batch)).numpy(),
                               rtol=1e-11)
    bounded = xg.function(lambda a: xg.linalg.expm(a, max_squarings=2))
    small, large = 0.1 * np.eye(2), 100.0 * np.eye(2)  # 100 needs 5 squarings
    for _ in range(3):
        np.testing.assert_allclose(bounded(xg.asarray(small)).numpy(), np.exp(0.1) * np.eye(2))
    assert np.isnan(bounded(xg.asarray(large)).numpy()).all()
    np.testing.assert_allclose(xg.linalg.expm(xg.asarray(large), max_squarings=2).numpy(),
                               np.diag([np.exp(100.0)] * 2), rtol=1e-13)   # eager: unbounded


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="A must be square"):
        xg.linalg.expm(xg.ones((2, 3)))
    with pytest.raises(TypeError, match="A must have a floating-point"):
        xg.linalg.expm(xg.asarray([[1, 0], [0, 1]]))
    with pytest.raises(ValueError, match="max_squarings must be a non-negative int, got -1"):
        xg.linalg.expm(xg.eye(2), max_squarings=-1)
