"""The gradient of indexing inside ``xg.vmap`` (``Scatter.dense`` and ``add_into`` on batched
values write the batched data at the key once): a JAX-style PINN residual,
``vmap(grad(grad(u)))`` of an MLP on points read by ``xt[None]`` and ``h[0, 0]``, has the
value and weight gradient of PyTorch's nested autograd and of finite differences (float64),
and the scatters agree with a loop over the examples, for batched, shared and newaxis keys."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.accumulate import Scatter
from xpgrad.batching.batched import BatchedArray
from xpgrad.batching.namespace import Level

RNG = np.random.default_rng(48)
SIZES = (2, 5, 4, 1)
WEIGHTS = {}
for _i, (_a, _b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
    WEIGHTS[f"w{_i}"] = RNG.normal(size=(_a, _b)) / np.sqrt(_a)
    WEIGHTS[f"b{_i}"] = RNG.normal(size=(_b,)) * 0.1
POINTS = RNG.uniform(-1, 1, size=(7, 2))
NU = 0.1


def u(p, xt):
    h = xt[None]
    for i in range(len(SIZES) - 1):
        h = h @ p[f"w{i}"] + p[f"b{i}"]
        if i < len(SIZES) - 2:
            h = xg.tanh(h)
    return h[0, 0]


def residual(p, xt):
    g = xg.grad(u, argnums=1)(p, xt)
    uxx = xg.grad(lambda p, xt: xg.grad(u, argnums=1)(p, xt)[0], argnums=1)(p, xt)[0]
    return g[1] - NU * uxx


def loss(p, pts):
    return xg.mean(xg.vmap(residual, in_axes=(None, 0))(p, pts) ** 2)


def test_pinn_residual_loss_and_weight_gradient_match_torch_and_finite_differences():
    torch = pytest.importorskip("torch")
    params = {k: xg.asarray(v) for k, v in WEIGHTS.items()}
    value, grads = xg.value_and_grad(loss)(params, xg.asarray(POINTS))

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in WEIGHTS.items()}
    x = torch.tensor(POINTS, requires_grad=True)
    h = x
    for i in range(len(SIZES) - 1):
        h = h @ tp[f"w{i}"] + tp[f"b{i}"]
        if i < len(SIZES) - 2:
            h = torch.tanh(h)
    g = torch.autograd.grad(h.sum(), x, create_graph=True)[0]
    gxx = torch.autograd.grad(g[:, 0].sum(), x, create_graph=True)[0][:, 0]
    want = ((g[:, 1] - NU * gxx) ** 2).mean()
    want_grads = torch.autograd.grad(want, list(tp.values()), materialize_grads=True)
    np.testing.assert_allclose(float(value), float(want), rtol=1e-12)
    for (k, got), expected in zip(grads.items(), want_grads):
        np.testing.assert_allclose(np.asarray(got), expected.numpy(), rtol=1e-10, atol=1e-13)

    step = 1e-6
    for k in ("w0", "b1"):
        flat = WEIGHTS[k].reshape(-1)
        for j in (0, flat.size - 1):
            moved = [dict(WEIGHTS), dict(WEIGHTS)]
            for sign, where in ((1, moved[0]), (-1, moved[1])):
                shifted = flat.copy()
                shifted[j] += sign * step
                where[k] = shifted.reshape(WEIGHTS[k].shape)
            up, down = (float(loss({n: xg.asarray(v) for n, v in m.items()},
                                   xg.asarray(POINTS))) for m in moved)
            np.testing.assert_allclose(np.asarray(grads[k]).reshape(-1)[j],
                                       (up - down) / (2 * step), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("key, example_shape, values_shape", [
    ((0, 0), (1, 3), ()),
    ((slice(1, 3),), (4,), (2,)),
    ((None, Ellipsis), (3,), (1, 3)),
    ((1, None, slice(None)), (2, 3), (1, 3)),
])
def test_a_batched_scatter_is_the_examples_scatters(key, example_shape, values_shape):
    level = Level(5, np)
    data = RNG.normal(size=(5,) + values_shape)
    dense = Scatter(example_shape, key, BatchedArray(data, level), None).dense(np)
    assert dense.__class__ is BatchedArray and not dense._shared
    for b in range(5):
        want = np.zeros(example_shape)
        want[key] += data[b]
        np.testing.assert_array_equal(dense._data[b], want)

    shared = BatchedArray.of_example(data[0], level)
    dense = Scatter(example_shape, key, shared, None).dense(np)
    assert dense._shared                    # one example's values, as every example's
    want = np.zeros(example_shape)
    want[key] += data[0]
    np.testing.assert_array_equal(np.asarray(dense._data), np.broadcast_to(want, (5,) + want.shape))
    dense.writeable()[0] += 1.0             # a write copies the shared buffer
    np.testing.assert_array_equal(dense._data[1], want)

    acc = BatchedArray(np.ones((5,) + example_shape), level)
    Scatter(example_shape, key, BatchedArray(data, level), None).add_into(acc)
    for b in range(5):
        want = np.ones(example_shape)
        want[key] += data[b]
        np.testing.assert_array_equal(acc._data[b], want)
