"""Bug bash (session 14): ``has_aux=True`` takes the function's ``[output, aux]`` as JAX does
(JAX asks for a two-element tuple or list); xpgrad refused the list."""
import numpy as np
import pytest

import xpgrad as xg

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

X = np.array([0.5, -1.5, 2.0], np.float32)


def _as_list_x(x):
    return [xg.sum(xg.sin(x) * x), {"first": x[0], "step": 3}]


def _as_list_j(x):
    return [jnp.sum(jnp.sin(x) * x), {"first": x[0], "step": 3}]


def test_value_and_grad_takes_a_list_pair():
    (value, aux), grad = xg.value_and_grad(_as_list_x, has_aux=True)(xg.asarray(X))
    (value_j, aux_j), grad_j = jax.value_and_grad(_as_list_j, has_aux=True)(X)
    np.testing.assert_allclose(value.numpy(), value_j, rtol=1e-6)
    np.testing.assert_allclose(grad.numpy(), grad_j, rtol=1e-6)
    assert aux["step"] == aux_j["step"] == 3
    np.testing.assert_allclose(aux["first"].numpy(), aux_j["first"])


def test_vjp_and_jvp_take_a_list_pair():
    x = xg.asarray(X)
    out, vjp_fn, aux = xg.vjp(_as_list_x, x, has_aux=True)
    out_j, vjp_j, aux_j = jax.vjp(_as_list_j, X, has_aux=True)
    np.testing.assert_allclose(vjp_fn(xg.ones_like(out))[0].numpy(),
                               vjp_j(jnp.ones_like(out_j))[0], rtol=1e-6)
    assert aux["step"] == 3
    _, tangent, aux = xg.jvp(_as_list_x, (x,), (xg.ones_like(x),), has_aux=True)
    _, tangent_j, _ = jax.jvp(_as_list_j, (X,), (jnp.ones_like(X),), has_aux=True)
    np.testing.assert_allclose(tangent.numpy(), tangent_j, rtol=1e-6)
    assert aux["step"] == 3


@pytest.mark.parametrize("returned", [(1.0,), [1.0, 2.0, 3.0], 1.0])
def test_anything_but_a_pair_is_refused_saying_what_came_back(returned):
    with pytest.raises(TypeError, match=type(returned).__name__):
        xg.vjp(lambda x: returned, xg.asarray(X), has_aux=True)
