"""The function transforms leave no reference cycles per call: vmap (its level and namespace),
the pytree walk under custom_vjp/scan/fori_loop/jvp, asarray of taped lists, a float32 repr,
and a dropped xg.function program. What only the cyclic collector frees is counted after
warm-up calls, with the collector off (``test_long_runs.py``'s measure); every count was above
zero before its fix."""
import gc
import weakref

import numpy as np
import pytest
import torch

import xpgrad as xg
from gc_counts import cyclic_garbage


def _cyclic_garbage(fn, repeat=5):
    return cyclic_garbage(fn, repeat, warmups=2)


RNG = np.random.default_rng(0)
X = xg.asarray(RNG.normal(size=(4, 3)))
W = xg.Variable(RNG.normal(size=(3, 2)), name="w")


def _vmap_under_tape():
    f = xg.vmap(lambda row, w: xg.sum(xg.tanh(row @ w)), in_axes=(0, None))
    with xg.GradientTape() as tape:
        y = xg.sum(f(X, W))
    return tape.gradient(y, W)


@pytest.mark.parametrize("call", [
    lambda: xg.vmap(lambda row: xg.sum(row * row))(X),
    lambda: xg.vmap(lambda row, w: row @ w, in_axes=(0, None))(X, W),
    lambda: xg.vmap(lambda row: xg.sum(row * row), chunk_size=3)(X),
    lambda: xg.vmap(xg.grad(lambda w, row: xg.sum((row @ w) ** 2)), in_axes=(None, 0))(W, X),
    lambda: xg.jacfwd(xg.sin)(X[0]),
    _vmap_under_tape,
], ids=["plain", "in_axes", "chunk_size", "of_grad", "jacfwd", "under_tape"])
def test_a_vmap_call_leaves_no_cyclic_garbage(call):
    assert _cyclic_garbage(call) == 0


def test_a_vmap_level_dies_with_its_last_array_and_its_namespace_then_computes_plainly():
    seen = []

    def fn(row):
        seen.append((row._data._level.namespace, weakref.ref(row._data._level)))
        return xg.sum(row * row)

    gc.disable()
    try:
        out = xg.vmap(fn)(X)
        namespace, level = seen.pop()
        assert level() is None                # freed by reference counting, no collector
    finally:
        gc.enable()
    np.testing.assert_allclose(out.numpy(), (X.numpy() ** 2).sum(axis=1))
    # a namespace kept past its call computes as the backend's own namespace
    np.testing.assert_allclose(namespace.sum(np.ones((2, 3)), axis=1), [3.0, 3.0])
    np.testing.assert_allclose(namespace.linalg.inv(np.eye(2) * 2.0), np.eye(2) / 2.0)
    assert repr(namespace) == "<batching namespace of a vmap call that ended>"


def test_vmapped_gradients_under_a_tape_match_pytorch():
    grad = _vmap_under_tape()
    w = torch.tensor(W.numpy(), requires_grad=True)
    torch.tanh(torch.tensor(X.numpy()) @ w).sum().backward()
    np.testing.assert_allclose(grad.numpy(), w.grad.numpy(), rtol=1e-12)


@xg.custom_vjp
def _sin(x):
    return xg.sin(x)


_sin.defvjp(lambda x: (xg.sin(x), x), lambda x, g: (g * xg.cos(x),))


def _scan_loss(xs):
    def body(carry, x):
        carry = carry * 0.5 + xg.sin(x)
        return carry, carry * 2.0
    return xg.sum(xg.scan(body, xg.zeros(3, dtype=xs.dtype), xs)[1])


def _fori_loss(v):
    return xg.sum(xg.fori_loop(0, 4, lambda i, c: c * 0.9 + xg.sin(c), v))


@pytest.mark.parametrize("call", [
    lambda: xg.grad(lambda x: xg.sum(_sin(x)))(X[0]),
    lambda: xg.grad(_scan_loss)(X),
    lambda: xg.grad(_fori_loss)(X[0]),
    lambda: xg.jvp(lambda p: xg.sin(p["a"]) * p["b"][0], ({"a": X[0], "b": [X[1]]},),
                   ({"a": xg.ones(3, dtype=X.dtype), "b": [X[2]]},)),
], ids=["custom_vjp", "scan", "fori_loop", "jvp_dict"])
def test_a_transform_walking_pytrees_leaves_no_cyclic_garbage(call):
    assert _cyclic_garbage(call) == 0


@pytest.mark.parametrize("loss, x", [(_scan_loss, X), (_fori_loss, X[0])], ids=["scan", "fori"])
def test_loop_gradients_match_finite_differences(loss, x):
    xg.testing.check_grads(loss, (x,), order=1)


def test_a_pytree_structure_mismatch_is_still_named():
    with pytest.raises(ValueError, match=r"tangents.* is a dict with keys \['a', 'c'\] where "
                                         r"primals.* is a dict with keys \['a', 'b'\]"):
        xg.jvp(lambda p: xg.sum(p["a"]), ({"a": X[0], "b": X[1]},), ({"a": X[0], "c": X[1]},))


def _stacked_gradient():
    a, b = xg.Variable([1.0, 2.0], name="a"), xg.Variable([3.0, -1.0], name="b")
    with xg.GradientTape() as tape:
        m = xg.asarray([[a[0], b[1]], [a[1] * b[0], 2.0]])    # stacked on the tape
        y = xg.sum(m * m * xg.asarray([[1.0, 2.0], [3.0, 4.0]]))
    return tape.gradient(y, [a, b])


def test_asarray_of_taped_nested_lists_leaves_no_cyclic_garbage_and_matches_pytorch():
    assert _cyclic_garbage(_stacked_gradient) == 0
    da, db = _stacked_gradient()
    a = torch.tensor([1.0, 2.0], dtype=torch.float32, requires_grad=True)
    b = torch.tensor([3.0, -1.0], dtype=torch.float32, requires_grad=True)
    m = torch.stack([torch.stack([a[0], b[1]]), torch.stack([a[1] * b[0], torch.tensor(2.0)])])
    (m * m * torch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    np.testing.assert_allclose(da.numpy(), a.grad.numpy())
    np.testing.assert_allclose(db.numpy(), b.grad.numpy())


def test_a_float32_repr_leaves_no_cyclic_garbage_and_keeps_its_shortest_decimals():
    t = xg.asarray([[0.1, 1 / 3], [2.5, -7.0]], dtype=xg.float32)
    assert _cyclic_garbage(lambda: repr(t)) == 0
    assert "[[0.1, 0.33333334], [2.5, -7.0]]" in repr(t)


def test_a_dropped_traced_function_leaves_no_cyclic_garbage():
    """Its program's generated replay lived in the namespace that is its own globals."""
    model = xg.nn.Linear(3, 2, rng=0)
    x = xg.ones((4, 3))

    def trace_and_drop():
        step = xg.function(lambda x: xg.sum(model(x)), warmup=0)
        step(x)
        assert step.trace_count == 1

    assert _cyclic_garbage(trace_and_drop) == 0
