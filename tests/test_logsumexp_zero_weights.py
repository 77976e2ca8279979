"""``logsumexp(x, b=w)`` where every weight of a slice is 0: the value is -inf and, as JAX's,
the gradient is 0 for ``x`` and NaN for ``w`` there, now without NumPy's "divide by zero" (and
"invalid value") RuntimeWarning that the gradient of ``log|sum|`` gave before 2026-12-07 (JAX
and SciPy are silent). Slices with some zero weights keep finite-difference gradients in x (in
a zero weight itself the gradient is JAX's 0, its masked term's, not the derivative e^x / sum).
"""
import functools
import warnings

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

pytestmark = pytest.mark.usefixtures("numpy_default")

X = np.array([[1.0, 2.0, 3.0], [0.5, 0.1, 0.2], [-1.0, 0.3, 2.0]])
W = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.5, 0.25, 0.0]])


@functools.cache
def _jax_reference(jax, axis):
    """JAX's ``logsumexp(x, axis, b=w)`` and its gradients in x and w, jitted: one XLA
    compilation per axis, shared by both functions' tests, for JAX's op-by-op dozens (the
    three axes cost 4.3-4.8 CPU s op by op, 0.85-0.94 s jitted, the same bits; 2026-12-07)."""
    from jax.scipy.special import logsumexp as jax_logsumexp

    def reference(x, w):
        return jax_logsumexp(x, axis=axis, b=w), jax.grad(
            lambda x, w: jax_logsumexp(x, axis=axis, b=w).sum(), argnums=(0, 1))(x, w)

    return jax.jit(reference)


@pytest.mark.parametrize("fn", [xg.logsumexp, xg.special.logsumexp])
@pytest.mark.parametrize("axis, w", [(1, W), (0, np.array([0.0, 1.0, 2.0])), (None, W[1])])
def test_an_all_zero_weight_slice_gives_jax_s_gradient_silently(jax, fn, axis, w):
    x = X[1] if axis is None else X
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = fn(xg.asarray(x), axis=axis, b=xg.asarray(w))
        got = xg.grad(lambda x, w: xg.sum(fn(x, axis=axis, b=w)), argnums=(0, 1))(
            xg.asarray(x), xg.asarray(w))
    want_value, want = _jax_reference(jax, axis)(x, w)
    np.testing.assert_allclose(value.numpy(), np.asarray(want_value), rtol=1e-12)
    assert np.isneginf(value.numpy()).any()
    for mine, theirs in zip(got, want):
        np.testing.assert_allclose(mine.numpy(), np.asarray(theirs), rtol=1e-12, atol=0)


def test_slices_with_some_zero_weights_match_finite_differences():
    w = xg.asarray(W[[0, 2]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_grads(lambda x: xg.logsumexp(x, axis=1, b=w), [xg.asarray(X[[0, 2]])], order=2)
        check_grads(lambda x: xg.special.logsumexp(x, axis=1, b=w), [xg.asarray(X[[0, 2]])],
                    order=2)
