"""``unstack`` on the backend's own arrays records one tape node for all its slices
(``GradientTape._record_outputs``; ``backward._walk`` hands the node the list of their
gradients, None where a slice has none). Gradients against PyTorch's ``unbind`` and finite
differences: slices unused, used twice or sliced further, every axis, a slice as a source,
persistent and nested tapes, jacobians, Variables; traced and vmapped inputs keep a node
per slice."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _use(rows, lib):
    """Rows 0 and 2 (when there), row 1 twice, the last one sliced, the rest unused."""
    total = rows[0] * 2.0 + rows[1] * rows[1] + rows[1] * 0.5
    if len(rows) > 3:
        total = total + rows[2] ** 3
    last = rows[-1][..., :1]
    return (total ** 2).sum() + (last * 3.0).sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", [((5, 4, 3), 0), ((4, 5, 3), 1), ((3, 4, 5), -1),
                                         ((6, 2), 0)])
def test_gradient_matches_torch_unbind(shape, axis, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        rows = xg.unstack(xt, axis=axis)
        loss = _use(rows, xg)
    assert len(tape._nodes) > 0 and len([n for n in tape._nodes
                                         if n[3].__class__ is tuple]) == 1
    tx = torch.tensor(x, requires_grad=True)
    _use(torch.unbind(tx, dim=axis), torch).backward()
    np.testing.assert_allclose(loss.numpy(), _use(torch.unbind(tx, dim=axis), torch).item(),
                               rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), tx.grad.numpy(),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_second_order_and_finite_differences():
    rng = np.random.default_rng(1)
    x = xg.asarray(rng.standard_normal((4, 3)))
    check_grads(lambda a: _use(xg.unstack(a, axis=1), xg), [x], order=2)
    check_grads(lambda a: xg.stack(xg.unstack(a)[::-1]) * a, [x], order=2)


def test_a_slice_as_a_source_persistent_tape_and_jacobian():
    rng = np.random.default_rng(2)
    x = xg.asarray(rng.standard_normal((3, 4)))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        rows = xg.unstack(x)
        y = xg.sum(rows[0] * rows[1]) + xg.sum(rows[2])
    dx, d0, d2 = tape.gradient(y, [x, rows[0], rows[2]])
    a = x.numpy()
    np.testing.assert_allclose(d0.numpy(), a[1])
    np.testing.assert_allclose(d2.numpy(), np.ones(4))
    np.testing.assert_allclose(dx.numpy(), np.stack([a[1], a[0], np.ones(4)]))
    again = tape.gradient(y, x)                       # a second walk of the same nodes
    np.testing.assert_array_equal(again.numpy(), dx.numpy())
    jac = tape.jacobian(rows[1], x).numpy()           # (4,) by (3, 4)
    want = np.zeros((4, 3, 4))
    want[np.arange(4), 1, np.arange(4)] = 1.0
    np.testing.assert_array_equal(jac, want)


def test_nested_tapes_give_the_hessian():
    x = xg.asarray(np.array([[1.0, 2.0], [3.0, -1.0]]))
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            r = xg.unstack(x, axis=1)
            y = xg.sum(r[0] ** 2 * r[1])
        g = inner.gradient(y, x)                     # [2 a b, a^2] per row
        s = xg.sum(g)
    h = outer.gradient(s, x).numpy()                 # d/da: 2b + 2a, d/db: 2a
    a, b = x.numpy()[:, 0], x.numpy()[:, 1]
    np.testing.assert_allclose(h, np.stack([2 * b + 2 * a, 2 * a], axis=1))


def test_variables_unwatched_inputs_and_empty_axes():
    w = xg.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]), name="w")
    with xg.GradientTape() as tape:
        y = xg.sum(xg.unstack(w)[1] * 2.0)
    np.testing.assert_array_equal(tape.gradient(y, w).numpy(), [[0.0, 0.0], [2.0, 2.0]])
    c = xg.asarray(np.ones((2, 3)))
    with xg.GradientTape() as tape:
        z = xg.sum(xg.unstack(c)[0])
    assert tape._nodes == [] and z.item() == 3.0
    assert xg.unstack(xg.ones((0, 3))) == ()
    with pytest.raises(ValueError, match="at least one dimension"):
        xg.unstack(xg.asarray(1.0))


def test_traced_and_vmapped_inputs_keep_a_node_per_slice():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4))

    @xg.function
    def grad_of(a):
        with xg.GradientTape() as tape:
            tape.watch(a)
            y = _use(xg.unstack(a, axis=1), xg)
        return tape.gradient(y, a)

    want = xg.grad(lambda a: _use(xg.unstack(a, axis=1), xg))(xg.asarray(x)).numpy()
    for _ in range(2):
        np.testing.assert_allclose(grad_of(xg.asarray(x)).numpy(), want, rtol=1e-12)
    per_row = xg.vmap(xg.grad(lambda r: xg.sum(xg.unstack(r)[1] ** 2)))(xg.asarray(x)).numpy()
    np.testing.assert_allclose(per_row[:, 1], 2 * x[:, 1])
    np.testing.assert_array_equal(np.delete(per_row, 1, axis=1), 0.0)


def test_inside_a_recomputed_block():
    rng = np.random.default_rng(4)
    x = xg.asarray(rng.standard_normal((3, 4)))
    block = xg.recompute_grad(lambda a: _use(xg.unstack(a), xg))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = block(x)
    want = xg.grad(lambda a: _use(xg.unstack(a), xg))(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), want.numpy(), rtol=1e-12)


def test_a_closure_unstacked_under_vmap_reaches_the_outer_tape():
    rng = np.random.default_rng(5)
    w, xs = xg.asarray(rng.standard_normal((3, 4))), xg.asarray(rng.standard_normal((5, 4)))
    with xg.GradientTape() as tape:
        tape.watch(w)
        y = xg.sum(xg.vmap(lambda v: xg.sum(xg.unstack(w)[1] * v))(xs))
    want = np.zeros((3, 4))
    want[1] = xs.numpy().sum(axis=0)
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", [((5, 4, 3), 0), ((4, 5, 3), 1), ((3, 4, 5), -1)])
def test_one_node_gives_the_per_slice_getitem_gradient_bit_for_bit(shape, axis, dtype):
    """The node's rule copies each slice's gradient into one array (zeros where a slice has
    none): the same bits and dtype as a ``getitem`` per slice, whose gradients the tape adds
    into zeros."""
    rng = np.random.default_rng(6)
    x = xg.asarray(rng.standard_normal(shape).astype(dtype))
    n = shape[axis]

    def loss(rows):
        return _use(rows, xg) + xg.sum(xg.tanh(rows[n // 2]))

    with xg.GradientTape() as tape:
        tape.watch(x)
        one_node = tape.gradient(loss(xg.unstack(x, axis=axis)), x)
    lead = (slice(None),) * (axis % len(shape))
    with xg.GradientTape() as tape:
        tape.watch(x)
        per_slice = tape.gradient(loss([x[lead + (i,)] for i in range(n)]), x)
    assert one_node.dtype == per_slice.dtype == x.dtype
    np.testing.assert_array_equal(one_node.numpy(), per_slice.numpy())
