"""Gradients at ties and singular points where PyTorch has no rule (JAX's is the reference) or
where xpgrad answers differently on purpose: each case says why and checks xpgrad's answer
against an independent reference computed here (JAX, finite differences, or PyTorch on an
equivalent problem), on every host backend, eagerly and under ``xg.function``, and eagerly on
cupy where a GPU is. The list is in docs/autodiff.md ("Gradients at ties and singular points").
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from special_point_gradients import BACKEND_MODES, assert_same, ours, ramp, theirs

torch = pytest.importorskip("torch")
WITH_NAN = np.array([1.0, np.nan, 1.0, 0.0])
SEGMENT_DATA, SEGMENT_IDS = np.array([1.0, 1.0, 0.0, 2.0, 2.0]), np.array([0, 0, 0, 1, 1])


def _jax_gradient(f, arrays):
    """JAX's gradients of ``sum(ramp * f(*arrays))`` for every input, in float64 (turned on
    for this call only: ``jax_enable_x64`` must not leak to other tests)."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def loss(*xs):
        out = f(jnp, *xs)
        return (out * ramp(out.shape)).sum()

    with jax.enable_x64(True):
        return [np.asarray(g) for g in jax.grad(loss, tuple(range(len(arrays))))(*arrays)]


def _segment_max(jnp, data):
    import jax

    return jax.ops.segment_max(data, SEGMENT_IDS, num_segments=2)


def _central_differences(f, a, step=1e-4):
    """d (ramp * f) / d a for a scalar ``f`` by central differences: exact to rounding for a
    polynomial of degree 2."""
    grad = np.zeros_like(a)
    for index in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[index] += step
        down[index] -= step
        grad[index] = (f(up) - f(down)) / (2 * step)
    return [grad * ramp(())]


def _norm_of_the_pair(arrays):
    """PyTorch's gradient of ``vector_norm`` over the pair (x1, x2): hypot's, where it exists."""
    pair = torch.tensor(np.stack(arrays), requires_grad=True)
    weights = torch.tensor(ramp(arrays[0].shape))
    (torch.linalg.vector_norm(pair, dim=0) * weights).sum().backward()
    return list(pair.grad.numpy())


def _log_ndtr_with_its_limit():
    """PyTorch's gradient of log_ndtr at [-inf, -40, 1], its limit +inf at -inf."""
    [grad] = theirs(torch.special.log_ndtr, [np.array([-np.inf, -40.0, 1.0])], (0,))
    assert grad[1] > 40.0                       # on its way to +inf
    grad[0] = np.inf
    return [grad]


SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])

#: name: (xpgrad's function, the inputs, the reference's gradients (of every input), the reason)
CASES = {
    # PyTorch has no such function: JAX's rule
    "nanmax with ties and a NaN": (xg.nanmax, [WITH_NAN],
                                   lambda: _jax_gradient(lambda jnp, x: jnp.nanmax(x), [WITH_NAN]),
                                   "split equally among ties, as max; NaN entries get 0"),
    "nanmin with a NaN": (xg.nanmin, [WITH_NAN],
                          lambda: _jax_gradient(lambda jnp, x: jnp.nanmin(x), [WITH_NAN]),
                          "NaN entries get 0"),
    "segment_max with ties": (
        lambda x: xg.segment_max(x, xg.asarray(SEGMENT_IDS, backend=x.backend.name)),
        [SEGMENT_DATA], lambda: _jax_gradient(_segment_max, [SEGMENT_DATA]),
        "split equally among a segment's ties (TensorFlow's and JAX's)"),
    # chosen differently from PyTorch
    "hypot(0, 0)": (xg.hypot, [np.array([0.0, 3.0]), np.array([0.0, 4.0])],
                    lambda: _norm_of_the_pair([np.array([0.0, 3.0]), np.array([0.0, 4.0])]),
                    "0 at the origin, as abs and vector_norm at 0 (PyTorch: NaN, 0 / 0)"),
    "det of a singular 2x2 matrix": (
        xg.linalg.det, [SINGULAR], lambda: _central_differences(np.linalg.det, SINGULAR),
        "the adjugate's transpose, the true derivative, nonzero at rank n - 1 (as JAX; "
        "PyTorch returns 0)"),
    "median of an odd count with ties": (
        xg.median, [np.array([1.0, 2.0, 2.0, 3.0, 2.0])],
        lambda: theirs(lambda t: torch.median(t, 0)[0], [np.array([1.0, 2.0, 2.0, 3.0, 2.0])],
                       (0,)),
        "all to the one entry sorted into the middle, as torch.median with a dim and JAX "
        "(torch.median of everything splits it among the ties)"),
    "log_ndtr at -inf": (
        xg.special.log_ndtr, [np.array([-np.inf, -40.0, 1.0])], _log_ndtr_with_its_limit,
        "the limit at -inf, inf (the gradient grows as -x; PyTorch: NaN there), PyTorch's "
        "elsewhere"),
}


@pytest.mark.parametrize("backend, mode", BACKEND_MODES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_at_a_special_point_is_the_documented_one(name, backend, mode):
    f, arrays, reference, reason = CASES[name]
    got = ours(f, arrays, tuple(range(len(arrays))), backend, mode)
    assert_same(got, reference(), f"{name} ({backend}, {mode}): {reason}", rtol=1e-7)


@pytest.mark.parametrize("backend, mode", BACKEND_MODES)
def test_pow_exponent_gradient_is_zero_where_the_base_is_not_positive(backend, mode):
    """``pow``'s documented choice: the exponent's gradient is 0 where the base is <= 0 (PyTorch
    and JAX: NaN, the log of a negative number; at a zero base with a negative exponent PyTorch
    -inf, JAX NaN), so a power with an integer-valued traced exponent does not poison it.
    Where the base is positive, it is PyTorch's."""
    base, exponent = np.array([0.0, 0.0, -2.0, -2.0, 2.0]), np.array([-1.0, 2.5, 2.0, 3.0, 1.5])
    _, got = ours(xg.pow, [base, exponent], (0, 1), backend, mode)
    _, want = theirs(torch.pow, [base, exponent], (0, 1))
    positive = base > 0
    np.testing.assert_allclose(got[positive], want[positive], rtol=1e-12)
    np.testing.assert_array_equal(got[~positive], np.zeros_like(got[~positive]))
