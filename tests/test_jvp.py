"""``xg.jvp`` (forward-mode products, as ``torch.autograd.functional.jvp`` computes them: a vjp
differentiated with respect to its cotangent) and what it rests on: a tape differentiates
through another tape's ``output_gradients``. Against PyTorch in float64."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]
X0 = np.array([0.3, -1.2, 0.7])
V0 = np.array([1.0, 0.5, -2.0])
M0 = np.array([[0.5, -1.0, 0.2], [1.5, 0.3, -0.7]])


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def _f(x):
    return xg.sin(x) * x[::-1] + xg.sum(x * x)


def _f_torch(x):
    return torch.sin(x) * x.flip(0) + (x * x).sum()


def test_jvp_matches_pytorch(backend):
    out, product = xg.jvp(_f, xg.asarray(X0, backend=backend), xg.asarray(V0, backend=backend))
    t_out, t_product = torch.autograd.functional.jvp(_f_torch, torch.tensor(X0),
                                                     torch.tensor(V0))
    np.testing.assert_allclose(out.numpy(), t_out.numpy(), rtol=1e-14)
    np.testing.assert_allclose(product.numpy(), t_product.numpy(), rtol=1e-12, atol=1e-14)
    assert product.backend.name == backend


def test_jvp_is_the_jacobian_times_the_tangent(backend):
    x = xg.asarray(X0, backend=backend)
    _, product = xg.jvp(_f, x, xg.asarray(V0, backend=backend))
    np.testing.assert_allclose(product.numpy(), xg.jacobian(_f)(x).numpy() @ V0, rtol=1e-12)


def test_jvp_of_several_inputs_and_a_matrix_output(backend):
    f = lambda m, x: xg.tanh(m * x) @ xg.matrix_transpose(m)
    tm = np.array([[1.0, 0.0, 2.0], [-0.5, 1.0, 0.25]])
    out, product = xg.jvp(f, (xg.asarray(M0, backend=backend), xg.asarray(X0, backend=backend)),
                          (xg.asarray(tm, backend=backend), xg.asarray(V0, backend=backend)))
    _, expected = torch.autograd.functional.jvp(
        lambda m, x: torch.tanh(m * x) @ m.T, (torch.tensor(M0), torch.tensor(X0)),
        (torch.tensor(tm), torch.tensor(V0)))
    assert out.shape == (2, 2)
    np.testing.assert_allclose(product.numpy(), expected.numpy(), rtol=1e-12, atol=1e-14)


def test_jvp_agrees_with_finite_differences(backend):
    eps = 1e-6
    _, product = xg.jvp(_f, xg.asarray(X0, backend=backend), xg.asarray(V0, backend=backend))
    difference = (_f(xg.asarray(X0 + eps * V0, backend=backend)).numpy()
                  - _f(xg.asarray(X0 - eps * V0, backend=backend)).numpy()) / (2 * eps)
    np.testing.assert_allclose(product.numpy(), difference, rtol=1e-7, atol=1e-8)


def test_a_tape_differentiates_through_output_gradients(backend):
    """The gradient of ``<vjp(u), v>`` with respect to the cotangent ``u`` is ``J v``: before,
    ``output_gradients`` was read as a constant and this gradient was None."""
    x = xg.asarray(X0, backend=backend)
    u = xg.zeros((3,), dtype=xg.float64, backend=backend)
    with xg.GradientTape() as outer:
        outer.watch(u)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = _f(x)
        g = inner.gradient(y, x, output_gradients=u)
        d = xg.sum(g * xg.asarray(V0, backend=backend))
    got = outer.gradient(d, u)
    assert got is not None
    np.testing.assert_allclose(got.numpy(), xg.jacobian(_f)(x).numpy() @ V0, rtol=1e-12)


def test_output_gradients_still_work_as_plain_weights(backend):
    x = xg.asarray(X0, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = _f(x)
    weights = xg.asarray(V0, backend=backend)
    g = tape.gradient(y, x, output_gradients=weights)
    np.testing.assert_allclose(g.numpy(), V0 @ xg.jacobian(_f)(x).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(weights.numpy(), V0)


def test_bad_jvp_calls_are_named():
    x = xg.asarray(X0)
    with pytest.raises(ValueError, match="tangents"):
        xg.jvp(_f, x, xg.asarray([1.0]))
    with pytest.raises(TypeError, match=r"jvp needs a function returning floating-point "
                                        r"Tensors.*got float at output\[1\]"):
        xg.jvp(lambda t: (t, 3.0), x, x)        # a tuple of Tensors is a pytree, as in JAX
    with pytest.raises(TypeError, match="jvp takes a callable"):
        xg.jvp(None, x, x)


TANGENT_CALLS = {
    "jvp": lambda x, t: xg.jvp(_f, x, t),
    "linearize: f_jvp": lambda x, t: xg.linearize(_f, x)[1](t),
    "hvp": lambda x, t: xg.hvp(lambda v: xg.sum(v ** 3), x, t),
}


@pytest.mark.parametrize("who", sorted(TANGENT_CALLS))
@pytest.mark.parametrize("tangent_dtype", ["float32", "int64", "complex128"])
def test_a_tangent_of_another_dtype_than_its_primal_is_refused_as_in_jax(who, tangent_dtype):
    """A float32 or integer tangent for float64 primals was cast silently (a complex one lost
    its imaginary part); jax.jvp refuses it."""
    x = xg.asarray(X0, dtype=xg.float64)
    tangent = xg.astype(xg.asarray([1, 0, 2]), getattr(xg, tangent_dtype))
    with pytest.raises(TypeError) as err:
        TANGENT_CALLS[who](x, tangent)
    assert str(err.value) == (f"{who}: tangents[0] has dtype {tangent_dtype} but its primal "
                              "has dtype float64; they must be equal (as in jax.jvp): cast it "
                              "with xg.astype(tangent, xg.float64)")
    with pytest.raises(TypeError, match=f"^{who}: tangents\\[0\\] has dtype float32"):
        TANGENT_CALLS[who](x, np.ones(3, dtype=np.float32))


@pytest.mark.parametrize("who", sorted(TANGENT_CALLS))
def test_a_tangent_of_numbers_takes_its_primals_dtype(who):
    x32 = xg.asarray(X0, dtype=xg.float32)
    from_list = TANGENT_CALLS[who](x32, [1.0, 0.0, 2.0])
    from_tensor = TANGENT_CALLS[who](x32, xg.asarray([1.0, 0.0, 2.0], dtype=xg.float32))
    product = from_list[1] if isinstance(from_list, tuple) else from_list
    expected = from_tensor[1] if isinstance(from_tensor, tuple) else from_tensor
    assert product.dtype == xg.float32
    np.testing.assert_array_equal(product.numpy(), expected.numpy())


def test_a_tangent_of_another_dtype_in_a_pytree_names_its_path():
    x = {"w": xg.asarray(X0, dtype=xg.float64)}
    with pytest.raises(TypeError, match=r"^jvp: tangents\[0\]\['w'\] has dtype float32 but "
                                        r"its primal has dtype float64"):
        xg.jvp(lambda p: p["w"] * 2.0, (x,), ({"w": xg.ones(3, dtype=xg.float32)},))


def test_a_tape_differentiated_by_a_tape_opened_after_its_forward_pass_says_so():
    """The first tape ran ``tanh``'s fused kernel, which keeps its output only for the
    kernel's own rule; the generic rule an outer tape needs cannot run. Before, this was a
    TypeError deep in the rule (None * None); now the error says to nest the tapes."""
    x = xg.asarray(X0)
    with xg.GradientTape() as first:
        first.watch(x)
        y = xg.tanh(x * 2.0)
    u = xg.zeros((3,), dtype=xg.float64)
    with xg.GradientTape() as later:
        later.watch(u)
        with pytest.raises(RuntimeError, match="open the outer tape before the forward pass"):
            first.gradient(y, x, output_gradients=u)


def test_vjp_and_jvp_take_has_aux_as_jax(jax):
    """``jax.vjp(f, x, has_aux=True)`` gives ``(out, vjp_fn, aux)`` and ``jax.jvp(...,
    has_aux=True)`` ``(out, product, aux)``; the aux is returned as f gave it and takes no part
    in the product."""

    def f(lib):
        return lambda x: (lib.sin(x) * x[::-1], {"norm": lib.sum(x * x), "tag": "aux"})

    x = xg.asarray(X0)
    out, pullback, aux = xg.vjp(f(xg), x, has_aux=True)
    j_out, j_pullback, j_aux = jax.vjp(f(jax.numpy), jax.numpy.asarray(X0), has_aux=True)
    np.testing.assert_allclose(pullback(xg.asarray(V0))[0].numpy(),
                               np.asarray(j_pullback(jax.numpy.asarray(V0))[0]), rtol=1e-12)
    np.testing.assert_allclose(aux["norm"].numpy(), np.asarray(j_aux["norm"]), rtol=1e-14)
    assert aux["tag"] == j_aux["tag"] == "aux"

    out, product, aux = xg.jvp(f(xg), x, xg.asarray(V0), has_aux=True)
    j_out, j_product, j_aux = jax.jvp(f(jax.numpy), (jax.numpy.asarray(X0),),
                                      (jax.numpy.asarray(V0),), has_aux=True)
    np.testing.assert_allclose(product.numpy(), np.asarray(j_product), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out.numpy(), np.asarray(j_out), rtol=1e-14)
    assert aux["tag"] == "aux"


@pytest.mark.parametrize("product", ["vjp", "jvp"])
def test_has_aux_asks_for_a_pair_and_a_flag(product):
    x = xg.asarray(X0)
    call = (lambda f, **kw: xg.vjp(f, x, **kw)) if product == "vjp" else \
        (lambda f, **kw: xg.jvp(f, x, xg.asarray(V0), **kw))
    with pytest.raises(TypeError, match=r"pair \(output, aux\)"):
        call(lambda t: t * 2.0, has_aux=True)
    with pytest.raises(TypeError, match="has_aux must be True or False"):
        call(lambda t: t * 2.0, has_aux="yes")
    with pytest.raises(TypeError, match="has_aux=True"):        # the pair without the flag
        call(lambda t: (t * 2.0, "aux"))
