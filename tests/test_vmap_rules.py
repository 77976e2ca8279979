"""xg.vmap against a Python loop over the examples, and per-example gradients against
torch.func.vmap(torch.func.grad(...)) and finite differences (float64)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

RNG = np.random.default_rng(7)


def _slice(a, axis, i):
    if axis is None:
        return a
    return xg.asarray(np.take(a.numpy(), i, axis=axis))


def looped(f, in_axes, *args):
    """What vmap(f, in_axes)(*args) must equal: f on every example, stacked on axis 0."""
    size = next(a.shape[ax] for a, ax in zip(args, in_axes) if ax is not None)
    return np.stack([f(*[_slice(a, ax, i) for a, ax in zip(args, in_axes)]).numpy()
                     for i in range(size)])


def assert_vmap_matches_loop(f, in_axes, *args, fallbacks=None, atol=1e-10):
    vf = xg.vmap(f, in_axes=in_axes)
    got = vf(*args).numpy()
    want = looped(f, in_axes, *args)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=atol)
    if fallbacks is not None:
        assert dict(vf.fallbacks) == fallbacks
    return vf


def t64(*shape):
    return xg.asarray(RNG.normal(size=shape))


X, Y, M = t64(4, 3, 5), t64(4, 5), t64(5, 2)
LABELS = xg.asarray([0, 2, 1, 1])
CASES = {
    "elementwise": (lambda a, b: xg.sin(a) * b + xg.exp(-a ** 2), (0, 0), (X, Y)),
    "reductions": (lambda a: xg.sum(a, axis=1)[:, None] + xg.max(a)
                   + xg.mean(a, axis=0, keepdims=True) + xg.std(a), (0,), (X,)),
    "matmul shared weight": (lambda a: a @ M, (0,), (X,)),
    "matmul vector": (lambda a, b: a @ b, (0, 0), (X, Y)),
    "matmul both matrices": (lambda a, b: a @ b.mT @ a, (0, None), (X, X[0])),
    "matmul shared on the left": (lambda b: M.mT @ b, (0,), (Y,)),
    "reshape and permute": (lambda a: xg.permute_dims(xg.reshape(a, (5, 3)), (1, 0)), (0,),
                            (X,)),
    "expand and squeeze": (lambda a: xg.squeeze(xg.expand_dims(a, axis=1), axis=1) * 2, (0,),
                           (X,)),
    "basic indexing": (lambda a: a[1:, ::2] + a[0, 1] + a[..., -1:][1:], (0,), (X,)),
    "shared index array": (lambda a: a[:, xg.asarray([2, 0, 2])], (0,), (X,)),
    "per-example index": (lambda a, i: a[i], (0, 0), (X, LABELS)),
    "per-example index after a slice": (lambda a, i: a[:, i], (0, 0), (X, LABELS)),
    "concat with a shared array": (lambda a, b: xg.concat([a, b[None]], axis=0), (0, None),
                                   (X, Y[0])),
    "stack": (lambda a, b: xg.stack([a[0], b], axis=1), (0, 0), (X, Y)),
    "softmax": (lambda a: xg.nn.softmax(a, axis=-1) + xg.nn.log_softmax(a, axis=0), (0,),
                (X,)),
    "cross-entropy": (lambda a, y: xg.losses.softmax_cross_entropy(a, xg.stack([y, y, 4 - y]),
                                                                   reduction="none"),
                      (0, 0), (X, LABELS)),
    "where and clip": (lambda a: xg.where(a > 0, a, 0.1 * a) + xg.clip(a, -0.5, 0.5), (0,),
                       (X,)),
    "sort and cumulative sum": (lambda a: xg.sort(a, axis=0) + xg.cumulative_sum(a, axis=1),
                                (0,), (X,)),
    "argmax": (lambda a: xg.argmax(a) + xg.argmax(a, axis=1)[0], (0,), (X,)),
    "take shared indices": (lambda a: xg.take(a, xg.asarray([1, 1, 0]), axis=1), (0,), (X,)),
    "inverse": (lambda a: xg.linalg.inv(a @ a.mT + xg.eye(3, dtype=a.dtype)), (0,), (X,)),
    "in_axes 1": (lambda a: xg.sum(a, axis=0), (1,), (X,)),
    "in_axes -1": (lambda a: a * 2, (-1,), (X,)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_of_an_operation_equals_the_loop_without_falling_back(name):
    f, in_axes, args = CASES[name]
    assert_vmap_matches_loop(f, in_axes, *args, fallbacks={})


def test_functions_without_a_rule_loop_over_the_batch_and_are_counted():
    vf = assert_vmap_matches_loop(lambda a: xg.linalg.solve(a @ a.mT + xg.eye(3, dtype=a.dtype),
                                                            a[:, 0]), (0,), X)
    assert vf.fallbacks and all(n > 0 for n in vf.fallbacks.values())


def test_convolution_and_its_gradient_equal_the_loop():
    conv = xg.nn.Conv2d(2, 3, 3, rng=0)
    img = xg.asarray(RNG.normal(size=(4, 2, 6, 6)), dtype=xg.float32)
    assert_vmap_matches_loop(lambda a: conv(a[None])[0], (0,), img, atol=1e-5)
    assert_vmap_matches_loop(xg.grad(lambda a: xg.sum(conv(a[None]) ** 2)), (0,), img,
                             atol=1e-4)


@pytest.mark.parametrize("case", ["getitem", "take", "cross-entropy", "det"])
def test_per_example_gradients_through_indexing_and_guards(case):
    f = {"getitem": lambda a, i: xg.sum(a[:, i] ** 2) + xg.sum(a[i] * a[0]),
         "take": lambda a, i: xg.sum(xg.take(a, xg.reshape(i, (1,)), axis=1) ** 3),
         "cross-entropy": lambda a, i: xg.losses.softmax_cross_entropy(a[0][None], i[None]),
         "det": lambda a, i: xg.linalg.det(a @ a.mT)}[case]
    assert_vmap_matches_loop(xg.grad(f), (0, 0), X, LABELS, fallbacks={})


def _mlp(rng, dtype=np.float64):
    return {"w1": rng.normal(size=(6, 8)).astype(dtype) * 0.5, "b1": rng.normal(size=8)
            .astype(dtype), "w2": rng.normal(size=(8, 3)).astype(dtype) * 0.5,
            "b2": rng.normal(size=3).astype(dtype)}


def _loss(p, x, y):
    h = xg.nn.relu(x @ p["w1"] + p["b1"])
    return xg.losses.softmax_cross_entropy((h @ p["w2"] + p["b2"])[None], y[None])


def test_per_sample_mlp_gradients_equal_torch_func_and_the_loop():
    rng = np.random.default_rng(0)
    params = _mlp(rng)
    x, y = rng.normal(size=(5, 6)), np.array([0, 2, 1, 2, 0])
    per = xg.vmap(xg.grad(_loss), in_axes=(None, 0, 0))
    got = per({k: xg.asarray(v) for k, v in params.items()}, xg.asarray(x), xg.asarray(y))
    assert dict(per.fallbacks) == {}

    def tloss(p, x, y):
        h = torch.relu(x @ p["w1"] + p["b1"])
        return torch.nn.functional.cross_entropy((h @ p["w2"] + p["b2"])[None], y[None])

    want = torch.func.vmap(torch.func.grad(tloss), in_dims=(None, 0, 0))(
        {k: torch.tensor(v) for k, v in params.items()}, torch.tensor(x), torch.tensor(y))
    for k in params:
        assert got[k].shape == (5,) + params[k].shape
        np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=1e-10, atol=1e-12)
        for i in range(5):
            one = xg.grad(_loss)({k: xg.asarray(v) for k, v in params.items()},
                                 xg.asarray(x[i]), xg.asarray(y[i]))[k]
            np.testing.assert_allclose(got[k].numpy()[i], one.numpy(), rtol=1e-12, atol=1e-14)


def test_per_sample_gradients_equal_finite_differences():
    rng = np.random.default_rng(1)
    w, x = rng.normal(size=(4, 3)), rng.normal(size=(5, 4))

    def f(w, x):
        return xg.sum(xg.tanh(x @ w) ** 2)

    got = xg.vmap(xg.grad(f), in_axes=(None, 0))(xg.asarray(w), xg.asarray(x)).numpy()
    eps = 1e-6
    for b in range(5):
        for i, j in [(0, 0), (1, 2), (3, 1)]:
            wp, wm = w.copy(), w.copy()
            wp[i, j] += eps
            wm[i, j] -= eps
            fd = (f(xg.asarray(wp), xg.asarray(x[b])).item()
                  - f(xg.asarray(wm), xg.asarray(x[b])).item()) / (2 * eps)
            assert abs(got[b, i, j] - fd) < 1e-7


def test_jacobian_by_vmap_of_vjp_equals_xg_jacobian():
    w = t64(4, 3)
    f = lambda x: xg.tanh(x @ w) * x[:3]       # noqa: E731
    x = t64(4)
    _, vjp_fn = xg.vjp(f, x)
    rows = xg.vmap(lambda c: vjp_fn(c)[0])(xg.eye(3, dtype=xg.float64))
    np.testing.assert_allclose(rows.numpy(), xg.jacobian(f)(x).numpy(), rtol=1e-12)
    # and torch's
    tw = torch.tensor(w.numpy())
    want = torch.func.jacrev(lambda t: torch.tanh(t @ tw) * t[:3])(torch.tensor(x.numpy()))
    np.testing.assert_allclose(rows.numpy(), want.numpy(), rtol=1e-12)


def test_batched_hessian_vector_products_equal_torch():
    x, v = t64(6, 4), t64(6, 4)

    def f(q):
        return xg.sum(xg.sin(q) ** 2 * q[0])

    got = xg.vmap(lambda a, b: xg.hvp(f, a, b)[1])(x, v).numpy()

    def tf(q):
        return torch.sum(torch.sin(q) ** 2 * q[0])

    want = torch.func.vmap(lambda a, b: torch.func.jvp(torch.func.grad(tf), (a,), (b,))[1])(
        torch.tensor(x.numpy()), torch.tensor(v.numpy()))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-12)
    hessians = xg.vmap(xg.hessian(f))(x).numpy()
    np.testing.assert_allclose(np.einsum("bij,bj->bi", hessians, v.numpy()), got, rtol=1e-10)


def test_nested_vmap_equals_a_double_loop():
    x, y = t64(3, 4, 5), t64(4, 5)
    f = xg.vmap(xg.vmap(lambda a, b: xg.sum(xg.exp(a) * b)), in_axes=(0, None))
    got = f(x, y).numpy()
    want = np.array([[np.sum(np.exp(x.numpy()[i, j]) * y.numpy()[j]) for j in range(4)]
                     for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    per_pair = xg.vmap(xg.vmap(xg.grad(lambda a, b: xg.sum(xg.tanh(a * b))), in_axes=(0, 0)),
                       in_axes=(0, None))(x, y).numpy()
    want = np.array([[(1 - np.tanh(x.numpy()[i, j] * y.numpy()[j]) ** 2) * y.numpy()[j]
                      for j in range(4)] for i in range(3)])
    np.testing.assert_allclose(per_pair, want, rtol=1e-12)


_UNARY = {"sin": xg.sin, "tanh": xg.tanh, "exp": lambda a: xg.exp(-a * a), "square": xg.square,
          "relu": xg.nn.relu, "softmax": lambda a: xg.nn.softmax(a, axis=-1),
          "sum0": lambda a: xg.sum(a, axis=0, keepdims=True) + a,
          "max1": lambda a: xg.max(a, axis=-1, keepdims=True) * a, "transpose": lambda a: a.mT.mT,
          "matmul": lambda a: a @ xg.ones((a.shape[-1], a.shape[-1]), dtype=a.dtype),
          "slice": lambda a: xg.concat([a[:, 1:], a[:, :1]], axis=1)}


@settings(max_examples=25, deadline=None)
@given(ops=st.lists(st.sampled_from(sorted(_UNARY)), min_size=1, max_size=5),
       batch=st.integers(1, 4), rows=st.integers(1, 3), cols=st.integers(2, 4),
       in_axis=st.sampled_from([0, 1, 2, -1]), seed=st.integers(0, 2 ** 16))
def test_random_programs_and_their_gradients_equal_the_loop(ops, batch, rows, cols, in_axis,
                                                            seed):
    shape = [rows, cols]
    shape.insert(in_axis % 3, batch)
    x = xg.asarray(np.random.default_rng(seed).normal(size=shape))

    def program(a):
        for name in ops:
            a = _UNARY[name](a)
        return a

    assert_vmap_matches_loop(program, (in_axis,), x, fallbacks={})
    assert_vmap_matches_loop(xg.grad(lambda a: xg.sum(program(a) ** 2)), (in_axis,), x,
                             fallbacks={})


def test_per_example_gradients_of_a_modules_variables_by_a_tape_inside():
    rng = np.random.default_rng(2)
    model = xg.nn.MLP([6, 8, 3], rng=xg.random.default_rng(0))
    x = xg.asarray(rng.normal(size=(5, 6)).astype(np.float32))
    y = xg.asarray(rng.integers(0, 3, 5))

    def per_example(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x[None]), y[None])
        return tape.gradient(loss, model.trainable_variables)

    mapped = xg.vmap(per_example)
    got = mapped(x, y)
    assert dict(mapped.fallbacks) == {}
    for i in range(5):
        for g, want in zip(got, per_example(x[i], y[i])):
            np.testing.assert_allclose(g.numpy()[i], want.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", ["LayerNorm", "MultiheadAttention", "LSTM"])
def test_layers_mapped_over_examples_equal_the_batched_layer(layer):
    rng = np.random.default_rng(4)
    if layer == "LayerNorm":
        module, x = xg.nn.LayerNorm(6), rng.normal(size=(5, 6))
        call, batched = (lambda a: module(a)), (lambda a: module(a))
    elif layer == "MultiheadAttention":
        module, x = xg.nn.MultiheadAttention(8, 2, rng=0), rng.normal(size=(3, 4, 8))
        call = lambda q: module(q[None], q[None], q[None])[0][0]   # noqa: E731
        batched = lambda q: module(q, q, q)[0]                     # noqa: E731
    else:
        module, x = xg.nn.LSTM(4, 5, rng=0), rng.normal(size=(3, 7, 4))
        call, batched = (lambda s: module(s[None])[0][0]), (lambda s: module(s)[0])
    x = xg.asarray(x.astype(np.float32))
    mapped = xg.vmap(call)
    np.testing.assert_allclose(mapped(x).numpy(), batched(x).numpy(), rtol=1e-5, atol=1e-5)
    assert dict(mapped.fallbacks) == {}


def test_a_per_example_integer_index_equals_the_loop():
    # x.at[i].add with a per-example index array, and a scatter's gradient: the check for a
    # view of a shared buffer compared that index array with slice(None) ("truth value of an
    # array ... is ambiguous")
    rng = np.random.default_rng(3)
    x = xg.asarray(rng.standard_normal((2, 4)))
    i = xg.asarray([[0, 2], [3, 3]])
    add = lambda x, i: x.at[i].add(1.0)                          # noqa: E731
    np.testing.assert_array_equal(xg.vmap(add)(x, i).numpy(), looped(add, (0, 0), x, i))
    update = lambda x: xg.sum(xg.sin(xg.tensor_scatter_nd_update(       # noqa: E731
        x, xg.asarray([[0], [2]]), x[1:3] * 2.0)))
    xs = xg.asarray(rng.standard_normal((3, 4, 5)))
    np.testing.assert_allclose(xg.vmap(xg.grad(update))(xs).numpy(),
                               looped(xg.grad(update), (0,), xs), rtol=1e-12)
