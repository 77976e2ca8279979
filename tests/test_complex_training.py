"""Complex Variables in training and in the transforms, against PyTorch on the numpy and
numba backends: optimizer steps (the adaptive ones take real and imaginary parts as two reals,
``torch.view_as_real``) and their state, the Hessian-vector product, forward mode (``xg.jvp``),
and the Jacobian and Hessian, which refuse what PyTorch refuses. The functions' gradients are
in tests/test_complex_gradients.py, whose cases and comparison this file reuses.
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
from test_complex_gradients import BACKENDS, CASES, _draw  # noqa: E402

@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_vector_product_matches_torch(backend, rng):
    a, z, v = _draw(rng, (3, 3)), _draw(rng, (3,)), _draw(rng, (3,))

    def loss_x(z):
        return xg.sum(xg.abs(xg.asarray(a) @ z) ** 2) + xg.sum(xg.real(xg.exp(z) * xg.conj(z)))

    def loss_t(z):
        return ((torch.as_tensor(a) @ z).abs() ** 2).sum() + (torch.exp(z) * z.conj()).real.sum()

    zt = torch.tensor(z, requires_grad=True)
    gt = torch.autograd.grad(loss_t(zt), zt, create_graph=True)[0]
    want = torch.autograd.grad((gt.conj() * torch.as_tensor(v)).real.sum(), zt)[0]
    with xg.use_backend(backend):
        _, (got,) = xg.hvp(loss_x, (xg.asarray(z),), (xg.asarray(v),))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-9, atol=1e-10)


# -- optimizers on complex Variables: PyTorch's updates -------------------------------------------

OPTIMIZERS = [("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
              ("Adam", {}), ("Adam", {"amsgrad": True, "weight_decay": 0.1}),
              ("AdamW", {"weight_decay": 0.1}), ("RMSprop", {}),
              ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adagrad", {}),
              ("Adagrad", {"initial_accumulator_value": 0.1}), ("Adadelta", {})]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, options", OPTIMIZERS, ids=lambda p: str(p))
def test_optimizer_steps_on_a_complex_variable_equal_pytorchs(name, options, backend, rng):
    """Adaptive ones update real and imaginary parts as two reals (torch.view_as_real)."""
    z0, a = _draw(rng, (2, 3)), _draw(rng, (3, 3))
    p = torch.tensor(z0, requires_grad=True)
    torch_opt = getattr(torch.optim, name)([p], lr=0.01, **options)
    with xg.use_backend(backend):
        w, a_x = xg.Variable(z0, name="z"), xg.asarray(a)
        opt = getattr(xg.optim, name)(0.01, **options)
        for _ in range(4):
            opt.minimize(lambda: xg.sum(xg.abs(w @ a_x - 1.0) ** 2), [w])
            torch_opt.zero_grad()
            ((p @ torch.as_tensor(a) - 1.0).abs() ** 2).sum().backward()
            torch_opt.step()
    assert w.dtype == xg.complex128
    np.testing.assert_allclose(w.numpy(), p.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_adaptive_optimizer_refuses_a_complex_variable_without_a_real_view(clean_backends):
    pytest.importorskip("array_api_strict")
    xg.register_backend("strict", xg.testing.StrictBackend)
    w = xg.Variable(xg.asarray([1j, 2.0 + 0j], backend="strict"), name="z")
    with pytest.raises(TypeError, match="Adam cannot update the complex variable 'z'.*strict"):
        xg.optim.Adam(0.1).apply_gradients([(xg.asarray([1j, 1j], backend="strict"), w)])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["logsumexp", "abs_squared", "method_conj_real_imag", "fft",
                                  "svdvals", "sigmoid"])
def test_jvp_matches_torch_forward_mode(name, backend, rng):
    shapes, fx, ft = CASES[name]
    z, v = _draw(rng, shapes[0]), _draw(rng, shapes[0])
    _, want = torch.func.jvp(ft, (torch.as_tensor(z),), (torch.as_tensor(v),))
    with xg.use_backend(backend):
        _, got = xg.jvp(fx, (xg.asarray(z),), (xg.asarray(v),))
    np.testing.assert_allclose(got.numpy(), want.resolve_conj().numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adam_state_of_a_complex_variable_round_trips(backend, rng):
    """The state stays complex arrays of the variable's shape: saved, loaded, resumed."""
    z0, g = _draw(rng, (2, 2)), [xg.asarray(_draw(rng, (2, 2)), backend=backend) for _ in "abcd"]

    def train(opt, w, grads):
        for grad in grads:
            opt.apply_gradients([(grad, w)])

    with xg.use_backend(backend):
        w, opt = xg.Variable(z0, name="w"), xg.optim.Adam(0.1, amsgrad=True)
        train(opt, w, g)
        resumed, opt2 = xg.Variable(z0, name="w"), xg.optim.Adam(0.1, amsgrad=True)
        train(opt2, resumed, g[:2])
        state = opt2.state_dict([resumed])
        opt3 = xg.optim.Adam(0.1, amsgrad=True)
        opt3.load_state_dict(state, [resumed])
        train(opt3, resumed, g[2:])
    assert {k: (v.dtype, v.shape) for k, v in state.items() if k.endswith(("m", "v", "v_max"))} \
        == {f"w/{s}": (np.dtype("complex128"), (2, 2)) for s in ("m", "v", "v_max")}
    np.testing.assert_array_equal(resumed.numpy(), w.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["abs_squared", "svdvals", "vector_norm", "slogdet_logabsdet"])
def test_jacobian_of_a_real_output_of_complex_inputs_matches_torch(name, backend, rng):
    shapes, fx, ft = CASES[name]
    z = _draw(rng, shapes[0])
    want = torch.autograd.functional.jacobian(ft, torch.as_tensor(z))
    with xg.use_backend(backend):
        got = xg.jacobian(fx)(xg.asarray(z))
    np.testing.assert_allclose(got.numpy(), want.resolve_conj().numpy(), rtol=1e-8, atol=1e-10)


def _complex_target_jacobians(z):
    """tape.jacobian, tape.batch_jacobian and xg.jacobian of the complex-valued exp(z)."""
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(z)
        y = xg.exp(z)
    yield "jacobian", lambda: tape.jacobian(y, z)
    yield "batch_jacobian", lambda: tape.batch_jacobian(y, z)
    yield "jacobian", lambda: xg.jacobian(xg.exp)(z)


def test_jacobian_of_a_complex_valued_target_is_refused_as_in_pytorch(rng):
    """Its rows were the gradients of the real parts only: conj(f') for a holomorphic f,
    the imaginary parts' derivatives lost (PyTorch: 'grad can be implicitly created only for
    real scalar outputs')."""
    z = xg.asarray(_draw(rng, (2, 3)))
    with pytest.raises(RuntimeError, match="real scalar outputs"):
        torch.autograd.functional.jacobian(torch.exp, torch.as_tensor(z.numpy()))
    for who, call in _complex_target_jacobians(z):
        with pytest.raises(TypeError, match=f"{who} needs a real-valued target, got complex128"):
            call()


def test_hessian_of_complex_inputs_is_refused_as_in_pytorch_and_hvp_works(rng):
    z, v = (xg.asarray(_draw(rng, 3)) for _ in range(2))

    def f(a):
        return xg.sum(xg.abs(a) ** 4)

    with pytest.raises(RuntimeError, match="real scalar outputs"):
        torch.autograd.functional.hessian(lambda a: (a.abs() ** 4).sum(),
                                          torch.as_tensor(z.numpy()))
    with pytest.raises(TypeError, match="hessian needs real arguments, got a complex128 one"):
        xg.hessian(f)(z)
    assert xg.hvp(f, (z,), (v,))[1][0].dtype == xg.complex128
