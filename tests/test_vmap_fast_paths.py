"""The batching namespace's fast paths (elementwise operands of one rank, shared operands,
reductions over an int axis, basic indexing, expand_dims) agree with a Python loop over the
examples and with their general paths; per-example gradients through them agree with finite
differences (float64) and torch.func; and the dispatch stays cheap (Python calls counted)."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from numpy.exceptions import AxisError

import xpgrad as xg
from per_example_mlp import mlp_loss, torch_per_example_grads
from xpgrad.batching.batched import BatchedArray
from xpgrad.batching.namespace import BatchingNamespace, Level, share

RNG = np.random.default_rng(11)


def t64(*shape):
    return xg.asarray(RNG.normal(size=shape))


def looped(f, in_axes, *args):
    """f on every example, stacked on axis 0: what vmap(f, in_axes)(*args) must equal."""
    size = next(a.shape[ax] for a, ax in zip(args, in_axes) if ax is not None)
    return np.stack([np.asarray(f(*[a if ax is None else a[i] for a, ax in
                                    zip(args, in_axes)]).numpy()) for i in range(size)])


X, V, S = t64(4, 3, 5), t64(4, 5), t64(4)
CASES = {
    # ranks differ between batched operands: the general path aligns them
    "batched matrix times batched scalar": (lambda a, s: a * s + s, (0, 0), (X, S)),
    "batched vector plus batched matrix": (lambda a, v: a - v, (0, 0), (X, V)),
    # an unbatched operand with more axes than an example
    "example vector times a fixed matrix": (lambda v: v * X[0], (0,), (V,)),
    "example scalar plus a fixed matrix": (lambda s: s + X[0] ** 2, (0,), (S,)),
    # shared operands (made inside vmap) read as their one example
    "zeros_like plus the example": (lambda a: (xg.zeros_like(a) + 1.0) * a - xg.ones(5),
                                    (0,), (X,)),
    "a shared row of higher rank than the example": (lambda v: xg.ones((3, 5)) * v, (0,), (V,)),
    "where with a shared condition": (lambda a: xg.where(xg.ones_like(a) > 0, a, -a), (0,),
                                      (X,)),
    "cumulative_sum of ones (the one-hot columns)": (
        lambda v: xg.cumulative_sum(xg.ones_like(v), axis=0) * v, (0,), (V,)),
    # reductions over None, int and negative axes, keepdims, and a tuple (general path)
    "reductions": (lambda a: xg.sum(a, axis=1, keepdims=True) + xg.max(a, axis=-1)[:, None]
                   + xg.mean(a) + xg.min(a, axis=(0, 1)), (0,), (X,)),
    "std and var": (lambda a: xg.std(a, axis=0) + xg.var(a, axis=-1, keepdims=True), (0,),
                    (X,)),
    # basic keys: slices, ints, None, Ellipsis; an index array takes the general path
    "basic indexing": (lambda a: a[None, 1:, ::2][0] + a[..., 0][:, None, None][0]
                       + a[-1, 1:4][None], (0,), (X,)),
    "an index array": (lambda a: a[xg.asarray([2, 0])], (0,), (X,)),
    "expand_dims at every axis": (lambda a: xg.expand_dims(a, axis=0)[0]
                                  + xg.expand_dims(a, axis=2)[:, :, 0]
                                  + xg.expand_dims(a, axis=-1)[..., 0]
                                  + xg.expand_dims(a, axis=(0, 3))[0, ..., 0], (0,), (X,)),
    # a matmul over one term of two batched operands is their broadcast product
    "outer products by matmul": (lambda a, b: a[:, :1] @ b[:1] + a[:, 0][:, None] @ b[None, 0]
                                 + a[None, :, :1] @ b[:1], (0, 0), (X, X)),
}


@pytest.mark.parametrize("name", CASES)
def test_fast_paths_match_the_loop(name):
    f, in_axes, args = CASES[name]
    vf = xg.vmap(f, in_axes=in_axes)
    got = vf(*args).numpy()
    want = looped(f, in_axes, *args)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert not vf.fallbacks


def test_an_operand_of_an_outer_vmap_is_not_batched_by_the_inner_one():
    """Nested: the inner level sees the outer level's array as a plain operand."""
    outer, inner = t64(3, 5), t64(2, 5)
    got = xg.vmap(lambda a: xg.vmap(lambda b: a * b + a)(inner))(outer).numpy()
    want = np.stack([np.stack([a * b + a for b in inner.numpy()]) for a in outer.numpy()])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_any_over_a_vectors_only_axis_guards_the_rules_control_flow():
    """bool() of xp.any(x, axis=0) of one-dimensional examples is the batch's any, as for
    axis=None (the rules' guards, ``if xp.any(x == 0):``, read it)."""
    level = Level(2, np)
    ns = level.namespace
    v = level.wrap(np.array([[0.0, 20.0], [1.0, 2.0]]))
    assert bool(ns.any(v > 10.0, axis=0)) is True and bool(ns.any(v > 10.0, axis=-1)) is True
    assert bool(ns.any(v > 30.0, axis=0)) is False and bool(ns.all(v >= 0.0, axis=0)) is True
    with pytest.raises(ValueError, match="cannot become one Python or NumPy value"):
        bool(ns.sum(v, axis=0))
    m = level.wrap(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="cannot become one Python or NumPy value"):
        bool(ns.any(m, axis=0))                     # one axis of two: differs per row


def test_a_reduction_axis_out_of_range_is_named():
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 2 dim"):
        xg.vmap(lambda a: xg.sum(a, axis=2))(X)
    level = Level(4, np)                            # the rule itself, on one example's axes
    ns, a = level.namespace, BatchedArray(np.ones((4, 3, 5)), level)
    with pytest.raises(AxisError, match="axis 2 is out of bounds for array of dimension 2"):
        ns.sum(a, axis=2)
    with pytest.raises(AxisError, match="axis -3 is out of bounds for array of dimension 2"):
        ns.max(a, axis=-3)


def test_an_index_out_of_range_raises():
    with pytest.raises(IndexError):
        xg.vmap(lambda a: a[3])(X)


def test_a_slice_of_a_shared_buffer_is_copied_when_written():
    level = Level(3, np)
    buffer = share(level, np.zeros(4))
    part = buffer[1:]
    assert isinstance(part, BatchedArray) and part._shared
    part[0] = level.wrap(np.array([1.0, 2.0, 3.0]))
    assert part._data[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert buffer._data.tolist() == [[0.0] * 4] * 3        # the shared buffer is untouched


def test_shared_values_are_computed_on_one_example_and_viewed_when_read():
    """The one-hot columns of softmax_cross_entropy: computed once, batched when read."""
    level = Level(3, np)
    ns = level.namespace
    cols = ns.cumulative_sum(ns.ones_like(level.wrap(np.zeros((3, 4)))), axis=0) - 1.0
    assert cols._shared and cols.shape == (4,) and cols.ndim == 1 and len(cols) == 4
    assert cols.example().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert cols._data.shape == (3, 4) and cols._data.strides[0] == 0
    labels = level.wrap(np.array([[2.0], [0.0], [3.0]]))
    onehot = ns.astype(ns.equal(labels, cols), np.float64)
    assert not onehot._shared
    assert onehot._data.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]]
    assert (ns.zeros_like(cols) + cols).example().tolist() == [0.0, 1.0, 2.0, 3.0]


def _mlp_case():
    params = [t64(6, 8), t64(8), t64(8, 3), t64(3)]
    x, y = t64(5, 6), xg.asarray(RNG.integers(0, 3, 5))
    return params, x, y


def test_per_example_gradients_match_finite_differences():
    params, x, y = _mlp_case()
    grads = xg.vmap(xg.grad(mlp_loss), in_axes=(None, 0, 0))(params, x, y)
    eps = 1e-6

    def loss_at(i, k, flat):
        moved = list(params)
        moved[k] = xg.asarray(flat.reshape(params[k].shape))
        return float(mlp_loss(moved, x[i], y[i]))

    for i in range(x.shape[0]):
        for k, p in enumerate(params):
            flat = p.numpy().ravel()
            want = np.empty_like(flat)
            for j in range(flat.size):
                step = np.zeros_like(flat)
                step[j] = eps
                want[j] = (loss_at(i, k, flat + step) - loss_at(i, k, flat - step)) / (2 * eps)
            np.testing.assert_allclose(grads[k].numpy()[i].ravel(), want, rtol=1e-5,
                                       atol=1e-7)


def test_per_example_gradients_match_torch_func():
    torch = pytest.importorskip("torch")
    params, x, y = _mlp_case()
    ours = xg.vmap(xg.grad(mlp_loss), in_axes=(None, 0, 0))(params, x, y)
    theirs = torch_per_example_grads(torch, params, x, y)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-10, atol=1e-12)


def test_a_vmap_call_builds_no_namespace_functions():
    """The namespace's functions live on the class, built once per name: a level's own
    namespace holds none of them, so a call pays no per-name setup."""
    xg.vmap(lambda a, b: xg.sum(a * b, axis=0))(X, X)
    level = Level(2, xg.get_backend("numpy").xp)
    ns = level.namespace
    assert isinstance(ns, BatchingNamespace)
    assert "multiply" in vars(type(ns)) and "sum" in vars(type(ns))
    a = level.wrap(np.ones((2, 3)))
    assert (ns.multiply(a, a)._data == 1.0).all() and ns.sum(a)._data.tolist() == [3.0, 3.0]
    assert "multiply" not in vars(ns) and "sum" not in vars(ns)
    assert ns.linalg.inv.__name__ == "inv" and type(ns.linalg).__name__.endswith("[linalg]")


def _python_calls(fn):
    calls = []

    def count(frame, event, arg):
        if event == "call":
            calls.append(frame.f_code.co_name)
    sys.setprofile(count)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


def test_an_elementwise_operator_costs_three_python_calls():
    """a * b of two batched arrays: the operator, the namespace function and the result's
    __init__ (before the fast path it was 26 calls)."""
    level = Level(4, xg.get_backend("numpy").xp)
    a, b = level.wrap(np.ones((4, 3))), level.wrap(np.ones((4, 3)))
    a * b
    calls = _python_calls(lambda: a * b)
    assert calls == ["<lambda>", "method", "batched", "__init__"], calls
