"""hvp, jvp, hessian, batch_jacobian and custom_gradient used as a JAX or PyTorch user would:
a tangent that is the primal itself, primals in a list (JAX), several inputs, non-scalar
outputs, batch 1 and 0, nested custom gradients; against torch.func / torch.autograd in
float64 on every host backend."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")
AF = torch.autograd.functional
#: torch.func's first use warns that torch.jit.script is deprecated (its own internals)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]
X0 = np.array([1.0, -2.0, 0.5])


def _cubic(a):
    return xg.sum(a ** 3)


def _cubic_torch(a):
    return (a ** 3).sum()


@pytest.mark.parametrize("backend", BACKENDS)
def test_hvp_with_the_primal_as_tangent_is_h_times_x(backend):
    """``hvp(f, x, x)`` differentiated through the tangent too: it gave H @ x + grad f
    ([9, 36] for sum(x**3) at [1, 2]; PyTorch: [6, 24])."""
    x = xg.asarray(X0, backend=backend)
    value, product = xg.hvp(_cubic, x, x)
    want_value, want = AF.hvp(_cubic_torch, torch.tensor(X0), torch.tensor(X0))
    np.testing.assert_allclose(value.item(), want_value.item(), rtol=1e-12)
    np.testing.assert_allclose(product.numpy(), want.numpy(), rtol=1e-12)
    assert xg.hvp(lambda a: xg.sum(a * 2.0), x, x)[1].tolist() == [0.0, 0.0, 0.0]


def test_hvp_of_two_inputs_sharing_tensors_matches_pytorch():
    x = xg.asarray(X0)
    _, products = xg.hvp(lambda a, b: xg.sum(a * a * b), (x, x), (x, x))
    tx = torch.tensor(X0)
    _, want = AF.hvp(lambda a, b: (a * a * b).sum(), (tx, tx), (tx, tx))
    for got, ref in zip(products, want):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-12)


def test_hvp_differentiated_again_by_an_outer_tape():
    """The third derivative still flows from tapes outside hvp through the primal (and the
    tangent, which is the same tensor here): d/dx sum(H(x) @ x) = 12 x, as PyTorch."""
    x = xg.asarray(X0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        _, product = xg.hvp(_cubic, x, x)
        total = xg.sum(product)
    tx = torch.tensor(X0, requires_grad=True)
    _, want = AF.hvp(_cubic_torch, tx, tx, create_graph=True)
    (ref,) = torch.autograd.grad(want.sum(), tx)
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), ref.numpy(), rtol=1e-12)


def test_jvp_and_hvp_take_primals_in_a_list_as_jax_does():
    """``jvp(f, [x], [t])`` stacked the list into one (1, n) primal: outputs of the wrong
    shape."""
    x, t = xg.asarray(X0), xg.asarray([1.0, 0.0, 2.0], dtype=xg.float64)
    out, product = xg.jvp(lambda a: a ** 2, [x], [t])
    assert out.shape == (3,)
    np.testing.assert_allclose(product.numpy(), 2 * X0 * t.numpy())
    _, (p,) = xg.hvp(_cubic, [x], [t])
    np.testing.assert_allclose(p.numpy(), 6 * X0 * t.numpy())
    _, product = xg.jvp(lambda a, b: a * b, [x, x], [t, xg.ones(3, dtype=xg.float64)])
    np.testing.assert_allclose(product.numpy(), t.numpy() * X0 + X0)
    # one primal: the tangent may be a list of numbers, one vector
    np.testing.assert_allclose(xg.hvp(_cubic, x, [1.0, 0.0, 0.0])[1].numpy(), [6.0, 0, 0])
    with pytest.raises(ValueError, match="tangents has 1 entries for 2 primals"):
        xg.jvp(lambda a, b: a * b, [x, x], [t])


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_of_several_inputs_and_jvp_of_a_matrix_output(backend):
    rng = np.random.default_rng(0)
    a0, b0, v0, w0 = (rng.normal(size=s) for s in [(3,), (2, 2), (3,), (2, 2)])
    a, b = xg.asarray(a0, backend=backend), xg.asarray(b0, backend=backend)

    def f(x, y):
        return xg.sum(xg.sin(x)[:, None] * x[:, None] * y[0, 0]) + xg.sum(y ** 3 * x[0])

    def f_torch(x, y):
        return (torch.sin(x)[:, None] * x[:, None] * y[0, 0]).sum() + (y ** 3 * x[0]).sum()

    blocks = xg.hessian(f, argnums=(0, 1))(a, b)
    want = torch.func.hessian(f_torch, argnums=(0, 1))(torch.tensor(a0), torch.tensor(b0))
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(blocks[i][j].numpy(), want[i][j].numpy(), rtol=1e-12,
                                       atol=1e-14, err_msg=f"block {i}{j}")
    out, product = xg.jvp(lambda x, y: xg.tanh(x[:2, None] * y[0]) @ y, (a, b),
                          (xg.asarray(v0, backend=backend), xg.asarray(w0, backend=backend)))
    want_out, want_product = torch.func.jvp(
        lambda x, y: torch.tanh(x[:2, None] * y[0]) @ y, (torch.tensor(a0), torch.tensor(b0)),
        (torch.tensor(v0), torch.tensor(w0)))
    np.testing.assert_allclose(out.numpy(), want_out.numpy(), rtol=1e-12)
    np.testing.assert_allclose(product.numpy(), want_product.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("batch", [1, 0, 4])
def test_batch_jacobian_of_batches_one_and_empty(batch):
    rng = np.random.default_rng(batch)
    x0, w0 = rng.normal(size=(batch, 3)), rng.normal(size=(3, 2))
    x = xg.asarray(x0)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = xg.tanh(x @ xg.asarray(w0)) * xg.sum(x, axis=1, keepdims=True)
    got = tape.batch_jacobian(y, x)
    assert got.shape == (batch, 2, 3)
    if batch:
        want = torch.func.vmap(torch.func.jacrev(
            lambda r: torch.tanh(r @ torch.tensor(w0)) * r.sum()))(torch.tensor(x0))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-15)


def test_nested_custom_gradients_under_function_and_second_order():
    @xg.custom_gradient
    def square(x):
        return x * x, lambda g: g * 2.0 * x

    @xg.custom_gradient
    def triple_square(x):                      # a custom gradient calling another one
        return square(x) * 3.0, lambda g: g * 6.0 * x

    @xg.function
    def gradient(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.sum(triple_square(square(x)))
        return tape.gradient(y, x)

    x = xg.asarray(X0)
    for scale in (1.0, 2.0):                   # traced, then replayed on new values
        np.testing.assert_allclose(gradient(x * scale).numpy(), 12.0 * (X0 * scale) ** 3)
    np.testing.assert_allclose(xg.hessian(lambda z: xg.sum(square(z) * z))(x).numpy(),
                               np.diag(6.0 * X0))
    np.testing.assert_allclose(xg.hvp(lambda z: xg.sum(square(z)), x, x)[1].numpy(), 2 * X0)


def test_one_tensor_passed_as_two_arguments_gets_partial_derivatives():
    """``grad(f, argnums=(0, 1))(x, x)`` gave each argument the total derivative (the sum of
    both partials: [3, 12] twice for sum(a * a * b) at [1, 2]); JAX and PyTorch give each its
    own ([2, 8] and [1, 4]). Same for hessian, jacobian, vjp and jvp."""
    def f(a, b):
        return xg.sum(a * a * b)

    def f_torch(a, b):
        return (a * a * b).sum()

    x, tx = xg.asarray(np.array([1.0, 2.0])), torch.tensor([1.0, 2.0], dtype=torch.float64)
    pairs = [
        (xg.grad(f, argnums=(0, 1))(x, x), torch.func.grad(f_torch, argnums=(0, 1))(tx, tx)),
        (xg.hessian(f, argnums=(0, 1))(x, x)[1],
         torch.func.hessian(f_torch, argnums=(0, 1))(tx, tx)[1]),
        (xg.jacobian(lambda a, b: a * a * b, argnums=(0, 1))(x, x),
         torch.func.jacrev(lambda a, b: a * a * b, argnums=(0, 1))(tx, tx)),
        (xg.vjp(lambda a, b: a * a * b, x, x)[1](xg.ones(2, dtype=xg.float64)),
         torch.func.vjp(lambda a, b: a * a * b, tx, tx)[1](torch.ones(2, dtype=torch.float64))),
        ((xg.jvp(lambda a, b: a * b, (x, x), (xg.asarray(np.array([1.0, 0.0])),
                                                   xg.ones(2, dtype=xg.float64)))[1],),
         (torch.func.jvp(lambda a, b: a * b, (tx, tx),
                         (torch.tensor([1.0, 0.0], dtype=torch.float64),
                          torch.ones(2, dtype=torch.float64)))[1],)),
    ]
    for k, (got, want) in enumerate(pairs):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12, err_msg=f"case {k}")
    # an outer tape still sees both arguments come from x: d/dx sum(2 x x + x x) = 6 x
    with xg.GradientTape() as tape:
        tape.watch(x)
        ga, gb = xg.grad(f, argnums=(0, 1))(x, x)
        total = xg.sum(ga) + xg.sum(gb)
    assert tape.gradient(total, x).tolist() == [6.0, 12.0]


def test_custom_gradient_of_a_variable_passed_as_input():
    """``f(v)`` with a Variable ``v`` raised "reads the Variables ['v']: its grad_fn must take
    a keyword argument `variables`": a Variable that is an input gets its gradient as an input
    (TensorFlow's rule); only Variables read besides the inputs go to ``variables``."""
    @xg.custom_gradient
    def double(x):
        return x * 2.0, lambda g: g * 2.0

    v = xg.Variable(xg.asarray(X0), name="v")
    w = xg.Variable(xg.asarray(np.array([3.0, 4.0, 5.0])), name="w")

    @xg.custom_gradient
    def scale(x):
        def grad_fn(g, variables=None):
            return g * w, [g * x]
        return x * w, grad_fn

    with xg.GradientTape() as tape:
        y = xg.sum(double(v)) + xg.sum(scale(v))
    dv, dw = tape.gradient(y, [v, w])
    np.testing.assert_allclose(dv.numpy(), 2.0 + np.array([3.0, 4.0, 5.0]))
    np.testing.assert_allclose(dw.numpy(), X0)


def test_custom_gradient_names_a_positional_argument_that_is_no_array():
    """A string argument, or ``self`` of a decorated method, raised "xpgrad has no dtype for
    numpy <U4", naming neither the function nor the argument; keywords pass through."""
    @xg.custom_gradient
    def scaled(x, mode="slow"):
        return x * 2.0, lambda g: g * 2.0

    class Holder:
        @xg.custom_gradient
        def method(self, x):
            return x * 1.0, lambda g: g

    x = xg.asarray(X0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(scaled(x, mode="fast"))
    assert tape.gradient(y, x).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(TypeError, match=r"'scaled': positional argument 1 \(str 'fast'\) is "
                                        r"not a tensor or numbers.*pass other values by keyword"):
        scaled(x, "fast")
    with pytest.raises(TypeError, match=r"'method': positional argument 0 \(Holder .*decorate "
                                        r"functions, not methods"):
        Holder().method(x)


def test_transforms_name_an_argument_that_is_no_array():
    """``hessian(f)("ab")``, ``jvp(f, x, "cd")`` raised "xpgrad has no dtype for numpy <U2",
    naming no argument."""
    x = xg.asarray(X0)
    cases = [
        (lambda: xg.hessian(_cubic)("ab"), r"argument 0 \(str 'ab'\) is differentiated "
                                           r"\(argnums=0\) but is not a tensor or numbers"),
        (lambda: xg.grad(lambda a, m: xg.sum(a), argnums=1)(x, "m"), r"argument 1 \(str"),
        (lambda: xg.jvp(lambda a: a, x, "cd"), r"jvp: tangents\[0\] \(str 'cd'\) is not"),
        (lambda: xg.hvp(_cubic, None, x), r"hvp: primals\[0\] \(NoneType None\) is not"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError, match=message):
            call()
    assert xg.grad(lambda a, m: xg.sum(a))(x, "mode").tolist() == [1.0, 1.0, 1.0]
