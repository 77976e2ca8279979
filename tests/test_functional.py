"""The functional API on the tape: grad, value_and_grad, vjp, jacobian, check_grads."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads, numerical_vjp


def f64(values):
    return xg.asarray(values, dtype=xg.float64)


def test_grad_default_argnum():
    g = xg.grad(lambda x, y: xg.sum(x * x * y))(f64([1.0, 2.0]), f64([3.0, 4.0]))
    assert g.tolist() == [6.0, 16.0]


def test_grad_of_python_scalars():
    assert xg.grad(lambda x: x * x * x)(2.0).item() == 12.0


def test_value_and_grad_argnums_tuple():
    def f(x, y, z):
        return xg.sum(x * y) + z

    value, (gx, gz) = xg.value_and_grad(f, argnums=(0, 2))(f64([1.0, 2.0]), f64([3.0, 4.0]),
                                                           f64(5.0))
    assert value.item() == 16.0
    assert gx.tolist() == [3.0, 4.0] and gz.item() == 1.0


def test_value_and_grad_negative_argnum_and_unconnected_is_zero():
    value, g = xg.value_and_grad(lambda x, y: xg.sum(x * 2.0), argnums=-1)(
        f64([1.0]), f64([[1.0, 2.0]]))
    assert value.item() == 2.0
    assert g.shape == (1, 2) and g.tolist() == [[0.0, 0.0]]


def test_grad_has_aux():
    g, aux = xg.grad(lambda x: (xg.sum(x ** 2), x * 10.0), has_aux=True)(f64([1.0, 3.0]))
    assert g.tolist() == [2.0, 6.0] and aux.tolist() == [10.0, 30.0]
    with pytest.raises(TypeError, match="pair"):
        xg.grad(lambda x: x, has_aux=True)(f64(1.0))


def test_grad_needs_scalar_output():
    with pytest.raises(TypeError, match=r"scalar output, got \(2,\)"):
        xg.grad(lambda x: x * 2.0)(f64([1.0, 2.0]))


def test_grad_bad_argnums():
    with pytest.raises(ValueError, match="argnums 3 is out of range for 1"):
        xg.grad(lambda x: x, argnums=3)(f64(1.0))


def test_nested_grad():
    d3 = xg.grad(xg.grad(xg.grad(lambda x: xg.sin(x))))
    assert d3(f64(0.4)).item() == pytest.approx(-np.cos(0.4), rel=1e-12)


def test_vjp():
    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    out, pullback = xg.vjp(lambda a, b: a * b + a, x, y)
    assert out.tolist() == [4.0, 10.0]
    gx, gy = pullback(f64([1.0, -1.0]))
    assert gx.tolist() == [4.0, -5.0] and gy.tolist() == [1.0, -2.0]
    gx2, _ = pullback(f64([2.0, 0.0]))        # a pullback may be called again
    assert gx2.tolist() == [8.0, 0.0]


def test_jacobian_function():
    jac = xg.jacobian(lambda x: xg.nn.softmax(x))(f64([0.1, 0.5, -0.3]))
    p = np.exp([0.1, 0.5, -0.3]) / np.exp([0.1, 0.5, -0.3]).sum()
    np.testing.assert_allclose(jac.numpy(), np.diag(p) - np.outer(p, p), rtol=1e-12)
    ja, jb = xg.jacobian(lambda a, b: a @ b, argnums=(0, 1))(f64([[1.0, 2.0]]), f64([3.0, 4.0]))
    assert ja.shape == (1, 1, 2) and jb.shape == (1, 2)
    assert ja.numpy().ravel().tolist() == [3.0, 4.0] and jb.numpy().ravel().tolist() == [1.0, 2.0]


# -- check_grads itself must be able to fail --------------------------------------------------

def test_check_grads_catches_a_wrong_rule():
    wrong = xg.Primitive("wrong_square", lambda xp, x: x * x, lambda xp, g, ans, x: g * x)
    with pytest.raises(AssertionError, match="argument 0.*disagrees"):
        check_grads(lambda x: xg.apply(wrong, x), [f64([1.0, 2.0])])


@pytest.mark.usefixtures("numpy_default")
def test_check_grads_order_2_catches_a_rule_that_disagrees_with_its_kernel(monkeypatch):
    # first-order passes use the backend kernel (right), higher orders the generic rule (wrong)
    x0 = 1.5
    cube = xg.Primitive("test_cube", lambda xp, x: x * x * x,
                        lambda xp, g, ans, x: g * 3.0 * x * x0)
    kernel = xg.Kernel(lambda x: (x * x * x, None), lambda g, saved, x: (g * 3.0 * x * x,))
    monkeypatch.setitem(xg.get_backend("numpy").kernels, "test_cube", kernel)
    check_grads(lambda x: xg.apply(cube, x), [f64([x0])], order=1)
    with pytest.raises(AssertionError, match="order 2"):
        check_grads(lambda x: xg.apply(cube, x), [f64([x0])], order=2)


def test_check_grads_covers_zero_dimensional_arguments():
    wrong = xg.Primitive("wrong_exp", lambda xp, x: xp.exp(x), lambda xp, g, ans, x: g)
    with pytest.raises(AssertionError):
        check_grads(lambda x: xg.apply(wrong, x), [f64(0.5)])
    assert float(numerical_vjp(xg.exp, [f64(0.0)], f64(1.0))[0]) == pytest.approx(1.0)


def test_check_grads_needs_float64():
    with pytest.raises(ValueError, match="float64"):
        check_grads(xg.exp, [xg.asarray([1.0])])


def test_transforms_give_the_partial_derivative_however_else_the_tensor_reaches_f():
    """JAX's and torch.func's rule: the differentiated argument's own partial derivative, not
    the total one through a second argument, a pytree leaf, a keyword or a closure."""
    torch = pytest.importorskip("torch")
    x, t = xg.asarray([1.0, 2.0]), torch.tensor([1.0, 2.0])
    reference = torch.func.grad(lambda a, b: (a * b * b).sum())(t, t).numpy()
    for got in (xg.grad(lambda a, b: xg.sum(a * b * b))(x, x),
                xg.grad(lambda a, b: xg.sum(a * b["b"] ** 2))(x, {"b": x}),
                xg.grad(lambda a, *, b: xg.sum(a * b * b))(x, b=x),
                xg.grad(lambda a: xg.sum(a * x * x))(x),
                xg.value_and_grad(lambda a: xg.sum(a * x * x))(x)[1],
                xg.vjp(lambda a: xg.sum(a * x * x), x)[1](xg.asarray(1.0))[0],
                xg.jacobian(lambda a: xg.sum(a * x * x))(x)):
        np.testing.assert_array_equal(got.numpy(), reference)
    tangent = torch.ones(2)
    _, jvp_reference = torch.func.jvp(lambda a: a * t, (t,), (tangent,))
    np.testing.assert_array_equal(xg.jvp(lambda a: a * x, x, xg.ones(2))[1].numpy(),
                                  jvp_reference.numpy())
    hessian = xg.hessian(lambda a: xg.sum(a ** 2 * x))(x).numpy()
    np.testing.assert_array_equal(hessian, np.diag(2 * x.numpy()))
    with xg.GradientTape() as outer:                # a tape outside still sees the total
        outer.watch(x)
        total = xg.sum(xg.grad(lambda a: xg.sum(a * x))(x))      # sum(x)
    np.testing.assert_array_equal(outer.gradient(total, x).numpy(), [1.0, 1.0])
