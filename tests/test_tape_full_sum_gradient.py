"""A full sum's node on the tape's lean path (``Primitive.default_keywords``, stand-in inputs)
and its 0-d gradient, added to a dense gradient as one scalar or broadcast where it is the only
one (``backward.py``, ``gradient_fit.py``): the gradients of the loop that leans on it (issue
17's tanh RNN) against finite differences and PyTorch, and the edges of the scalar's way."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.gradient_fit import fit_gradient
from xpgrad.primitive import Primitive, apply

pytestmark = pytest.mark.usefixtures("numpy_default")

RNG = np.random.default_rng(17)
B, S, I, H = 16, 4, 2, 20     # h past what the sum kernel writes out (256)
X = RNG.normal(size=(B, S, I))
W = RNG.normal(size=(I, H)) / 2
U = RNG.normal(size=(H, H)) / 2
BIAS = RNG.normal(size=H) / 4


def _rnn_total(xp_unstack, tanh, total_sum, x, w, u, b):
    h = None
    total = 0.0
    for xt in xp_unstack(x):
        z = xt @ w + b if h is None else xt @ w + h @ u + b
        h = tanh(z)
        total = total + total_sum(h)
    return total


def _xg_gradients(x0, w0, u0, b0):
    x = xg.asarray(x0)
    w, u, b = (xg.Variable(xg.asarray(a)) for a in (w0, u0, b0))
    with xg.GradientTape() as tape:
        tape.watch(x)
        total = _rnn_total(lambda a: xg.unstack(a, axis=1), xg.tanh, xg.sum, x, w, u, b)
    return [g.numpy() for g in tape.gradient(total, [x, w, u, b])]


def _numpy_total(x0, w0, u0, b0):
    return float(_rnn_total(lambda a: [a[:, t] for t in range(a.shape[1])], np.tanh, np.sum,
                            x0, w0, u0, b0))


def test_the_loops_gradients_match_finite_differences():
    """float64, central differences of the loop written in NumPy, every input's every entry."""
    args = [X, W, U, BIAS]
    got = _xg_gradients(*args)
    eps = 1e-6
    for i, a in enumerate(args):
        want = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            up, down = [c.copy() for c in args], [c.copy() for c in args]
            up[i][idx] += eps
            down[i][idx] -= eps
            want[idx] = (_numpy_total(*up) - _numpy_total(*down)) / (2 * eps)
        np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_loops_gradients_match_pytorch(dtype):
    torch = pytest.importorskip("torch")
    args = [a.astype(dtype) for a in (X, W, U, BIAS)]
    got = _xg_gradients(*args)
    ts = [torch.tensor(a, requires_grad=True) for a in args]
    total = _rnn_total(lambda a: torch.unbind(a, 1), torch.tanh, torch.sum, *ts)
    total.backward()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for g, t in zip(got, ts):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=tol, atol=tol)


def test_a_full_sum_is_recorded_lean_without_its_keywords():
    """``sum(h)`` of a large ``h`` (a stand-in input) is a lean node with no keywords; a sum
    over an axis keeps its keywords and the general path."""
    h = xg.asarray(RNG.normal(size=(40, 40)))
    with xg.GradientTape() as tape:
        tape.watch(h)
        xg.sum(h * 2.0)
        xg.sum(h * 2.0, axis=0)
    full, over_axis = tape._nodes[1], tape._nodes[3]
    assert full[2] and full[8] is None and full[9] is not None     # lean, stand-in
    assert not over_axis[2] and dict(over_axis[8]) == {"axis": (0,), "keepdims": False}


def test_a_full_sums_gradient_alone_and_added_twice():
    """The 0-d gradient where it is the only one (broadcast), then added to it (a new array:
    the broadcast is read-only and not the walk's), of another dtype (cast), and on a
    persistent tape walked twice."""
    x0 = RNG.normal(size=(30, 20)).astype(np.float32)
    x = xg.asarray(x0)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        one = xg.sum(x)
        added = xg.sum(x) + xg.sum(x * x)       # the walk meets x * x's gradient first
        broadcast = xg.sum(x * x) + xg.sum(x)   # ... the full sum's first
    g1 = tape.gradient(one, x).numpy()
    np.testing.assert_array_equal(g1, np.ones_like(x0))
    g1[0, 0] = 5.0                                  # the caller's own array
    for target in (added, broadcast, added):
        np.testing.assert_allclose(tape.gradient(target, x).numpy(), 1.0 + 2 * x0, rtol=1e-6,
                                   atol=1e-6)
    np.testing.assert_array_equal(tape.gradient(one, x).numpy(), np.ones_like(x0))
    seed = xg.asarray(np.float64(2.0))
    g = tape.gradient(one, x, output_gradients=seed)
    assert g.dtype == xg.float32
    np.testing.assert_array_equal(g.numpy(), np.full_like(x0, 2.0))


def test_fit_gradient_broadcasts_a_0d_gradient_and_casts_it():
    g = fit_gradient(np, np.asarray(1.5), (3, 2), np.dtype(np.float32))
    assert g.shape == (3, 2) and g.dtype == np.float32
    np.testing.assert_array_equal(g, np.full((3, 2), 1.5, np.float32))


_scaled_total = Primitive(
    "test_full_sum_scaled_total", lambda xp, x, axis=None, scale=1.0: xp.sum(x, axis=axis) * scale,
    lambda xp, g, ans, x, axis=None, scale=1.0:
        xp.broadcast_to(xp.asarray(g * scale), x.shape) if axis is None else None,
    saves=(), default_keywords={"axis": None, "scale": 1.0})


def test_default_keywords_are_dropped_from_the_node_only():
    """A primitive's ``default_keywords``: a call with exactly them records none (lean, first
    and second order right); other values stay on the node."""
    x = xg.asarray(RNG.normal(size=(20, 20)))
    with xg.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = apply(_scaled_total, x * x, axis=None, scale=1.0)
            z = apply(_scaled_total, x, axis=None, scale=2.0)
            total = y + z
        assert tape._nodes[1][8] is None and tape._nodes[1][2]
        assert dict(tape._nodes[2][8]) == {"axis": None, "scale": 2.0}
        gx = tape.gradient(total, x)
        total = xg.sum(gx)
    np.testing.assert_allclose(gx.numpy(), 2 * x.numpy() + 2.0)
    np.testing.assert_allclose(outer.gradient(total, x).numpy(), np.full((20, 20), 2.0))
