"""Outer products of batched examples kept as factors (xpgrad/batching/outer_products.py):
every use reads the values a plain product has; sums, transposes and the sum over the examples
stay factored; per-example gradients and gradients through vmap of layers wide enough to be
factored equal a loop, JAX (float64) and xg.function's replay."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.batching.namespace import Level
from blas_libraries import DIRECT
from per_example_mlp import mlp_loss, torch_per_example_grads
from xpgrad.backends import blas
from xpgrad.batching.outer_products import _FEW, _GEMM_ROWS, sum_examples

RNG = np.random.default_rng(5)
B, K, M = 3, 48, 40                     # K * M: past the size where factors are kept


def batch_of_outer_products():
    level = Level(B, np)
    ns = level.namespace
    u, v = RNG.normal(size=(B, K)), RNG.normal(size=(B, M))
    product = ns.multiply(ns.expand_dims(level.wrap(u), axis=-1),
                          ns.expand_dims(level.wrap(v), axis=-2))
    return level, ns, product, u[:, :, None] * v[:, None, :]


def test_a_product_is_factored_and_its_description_does_not_make_it():
    level, ns, product, want = batch_of_outer_products()
    assert product._factors is not None
    assert (product.shape, product.ndim, product.dtype) == ((K, M), 2, np.float64)
    assert product._factors is not None               # still factored
    np.testing.assert_array_equal(product._data, want)
    assert product._factors is None                   # made once, on the first read


def test_sums_transposes_and_the_sum_over_examples_stay_factored():
    level, ns, product, want = batch_of_outer_products()
    total = product + product
    assert total._factors[0].shape == (B, K, 2)
    for transpose in (total.mT, total.T, ns.permute_dims(total, (1, 0)),
                      ns.matrix_transpose(total), ns.linalg.matrix_transpose(total)):
        assert transpose._factors is not None
        np.testing.assert_allclose(transpose._data, 2 * np.swapaxes(want, 1, 2), rtol=1e-14)
    np.testing.assert_allclose(sum_examples(level, total), 2 * want.sum(axis=0), rtol=1e-13)
    total += product                                  # in place: one more pair of factors
    assert total._factors[0].shape == (B, K, 3)
    np.testing.assert_allclose(sum_examples(level, total), 3 * want.sum(axis=0), rtol=1e-13)
    many = product
    for _ in range(_FEW + 1):                         # past _FEW terms: made by one matmul
        many = many + product
    np.testing.assert_allclose(many._data, (_FEW + 2) * want, rtol=1e-13)


def test_every_other_use_reads_the_values():
    level, ns, product, want = batch_of_outer_products()
    plain = level.wrap(RNG.normal(size=(B, K, M)))
    np.testing.assert_allclose((product + plain)._data, want + plain._data, rtol=1e-14)
    np.testing.assert_allclose((plain - product)._data, plain._data - want, rtol=1e-14)
    np.testing.assert_allclose(ns.exp(product)._data, np.exp(want), rtol=1e-14)
    np.testing.assert_allclose(product[1:, ::2]._data, want[:, 1:, ::2], rtol=1e-14)
    np.testing.assert_allclose(ns.sum(product, axis=0)._data, want.sum(axis=1), rtol=1e-13)
    before = plain._data.copy()
    plain += product                                  # in place into a plain batch
    np.testing.assert_allclose(plain._data, before + want, rtol=1e-14)
    level, ns, written, want2 = batch_of_outer_products()
    written[0] = level.wrap(np.zeros((B, M)))         # a write into a factored batch
    want2[:, 0] = 0.0
    np.testing.assert_allclose(written._data, want2, rtol=1e-14)


def layer_loss(w, x, ns=xg):
    """Three products with ``w``: three outer products in its gradient, added by the walk."""
    return ns.sum(ns.tanh(x @ w) ** 2) + ns.sum(ns.tanh(w @ x[:M]) ** 3) \
        + ns.sum(ns.sin(x[::-1] @ w))


def test_per_example_gradients_of_a_wide_layer_equal_the_loop():
    w, x = xg.asarray(RNG.normal(size=(K, M)) * 0.2), xg.asarray(RNG.normal(size=(5, K)))
    per_example = xg.vmap(xg.grad(layer_loss), in_axes=(None, 0))(w, x).numpy()
    loop = np.stack([xg.grad(layer_loss)(w, x[i]).numpy() for i in range(5)])
    np.testing.assert_allclose(per_example, loop, rtol=1e-12, atol=1e-12)


def test_gradients_through_vmap_of_a_wide_layer_equal_jax_and_replay(jax):
    jnp = pytest.importorskip("jax.numpy")
    w0, x0 = RNG.normal(size=(K, M)) * 0.2, RNG.normal(size=(5, K))

    def penalty(w, x):
        slopes = xg.vmap(xg.grad(layer_loss, argnums=1), in_axes=(None, 0))(w, x)
        return xg.sum(slopes ** 2) + xg.sum(xg.vmap(layer_loss, in_axes=(None, 0))(w, x))

    def jax_penalty(w, x):
        loss = lambda w, x: layer_loss(w, x, jnp)
        slopes = jax.vmap(jax.grad(loss, argnums=1), in_axes=(None, 0))(w, x)
        return jnp.sum(slopes ** 2) + jnp.sum(jax.vmap(loss, in_axes=(None, 0))(w, x))

    got = xg.grad(penalty, argnums=(0, 1))(xg.asarray(w0), xg.asarray(x0))
    want = jax.grad(jax_penalty, argnums=(0, 1))(w0, x0)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-10, atol=1e-12)
    nested = lambda w: xg.sum(xg.vmap(lambda xs: xg.vmap(lambda x: layer_loss(w, x))(xs))(
        xg.asarray(x0.reshape(5, 1, K))))
    summed = lambda w: jnp.sum(jax.vmap(lambda x: layer_loss(w, x, jnp))(x0))
    np.testing.assert_allclose(xg.grad(nested)(xg.asarray(w0)).numpy(), jax.grad(summed)(w0),
                               rtol=1e-10, atol=1e-12)

    variable = xg.Variable(w0, name="w")

    def step(x):
        with xg.GradientTape() as tape:
            loss = penalty(variable, x)
        return tape.gradient(loss, variable)

    traced = xg.function(step)
    for _ in range(3):
        x = RNG.normal(size=(5, K))
        np.testing.assert_allclose(traced(xg.asarray(x)).numpy(),
                                   jax.grad(jax_penalty)(w0, x), rtol=1e-10, atol=1e-12)
    assert len(traced.programs()) == 1


TALL = 160                              # rows per example: made by a gemm call per example


@pytest.fixture(params=[pytest.param("numpy"), *DIRECT])
def products(request):
    """Each way the examples' products can be made: a direct gemm per example (MKL's,
    NumPy's OpenBLAS) or, without one, NumPy's broadcast multiply."""
    previous = blas.use(request.param)
    yield request.param
    blas.restore(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tall_products_are_made_with_the_bits_of_a_plain_product(products, dtype):
    assert TALL >= _GEMM_ROWS
    level = Level(B, np)
    ns = level.namespace
    u, v = RNG.normal(size=(B, TALL)).astype(dtype), RNG.normal(size=(B, M)).astype(dtype)

    def product():
        return ns.multiply(ns.expand_dims(level.wrap(u), axis=-1),
                           ns.expand_dims(level.wrap(v[:, ::-1]), axis=-2))

    one = product()
    assert one._factors is not None
    np.testing.assert_array_equal(one._data, u[:, :, None] * v[:, None, ::-1])
    total = product() + product() + product()
    assert total._factors[0].shape == (B, TALL, 3)
    np.testing.assert_allclose(total._data, 3 * u[:, :, None] * v[:, None, ::-1],
                               rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_per_example_gradients_of_a_tall_layer_equal_the_loop_and_torch_func(products):
    torch = pytest.importorskip("torch")
    sizes = [(TALL, 24), (24,), (24, 5), (5,)]
    params = [xg.asarray(RNG.normal(size=s) * 0.2) for s in sizes]
    x, y = xg.asarray(RNG.normal(size=(6, TALL))), xg.asarray(RNG.integers(0, 5, 6))
    ours = xg.vmap(xg.grad(mlp_loss), in_axes=(None, 0, 0))(params, x, y)
    loop = [xg.grad(mlp_loss)(params, x[i], y[i]) for i in range(6)]
    theirs = torch_per_example_grads(torch, params, x, y)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        want = np.stack([grads[k].numpy() for grads in loop])
        np.testing.assert_allclose(a.numpy(), want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-10, atol=1e-12)
