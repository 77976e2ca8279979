"""Bug bash (session 14): ``xg.linalg.eig``'s eigenvector gradient, as PyTorch's
``torch.linalg.eig``: under ``xg.function``, in forward mode (``xg.jvp``), and refusing a loss
that depends on the eigenvectors' arbitrary phases."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]


def _matrices(seed=2, n=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n)), rng.normal(size=(n, n))


def _phase_free_loss_x(x):
    w, v = xg.linalg.eig(x)
    return xg.sum(xg.abs(v) ** 2 * xg.real(w)[None, :])


def _phase_free_loss_t(x):
    w, v = torch.linalg.eig(x)
    return (v.abs() ** 2 * w.real[None, :]).sum()


def _torch_grad(a):
    t = torch.tensor(a, requires_grad=True)
    _phase_free_loss_t(t).backward()
    return t.grad.numpy()


@pytest.mark.parametrize("backend", BACKENDS)
def test_eigenvector_gradient_replays_under_function(backend):
    """It raised TraceError (the rule read ``any(gv != 0)`` in Python while traced)."""
    a, _ = _matrices()

    @xg.function
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = _phase_free_loss_x(x)
        return tape.gradient(loss, x)

    for shift in range(4):
        grad = step(xg.asarray(a + shift, backend=backend))
        np.testing.assert_allclose(grad.numpy(), _torch_grad(a + shift), atol=1e-10)
    assert step.trace_count == 1


def test_eigenvalue_only_gradient_under_function_at_repeated_eigenvalues():
    """A zero eigenvector cotangent at repeated eigenvalues stays finite when traced."""
    @xg.function
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.real(xg.linalg.eig(x)[0]))
        return tape.gradient(loss, x)

    for _ in range(3):
        grad = step(xg.asarray(np.eye(3)))
    np.testing.assert_allclose(grad.numpy(), np.eye(3), atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jvp_through_eigenvectors_matches_torch(backend):
    """The tangent of |V|**2 came out wrong: forward mode differentiates the vjp at a zero
    cotangent, whose vector terms the rule skipped."""
    a, t = _matrices()
    _, tangent = xg.jvp(lambda x: xg.abs(xg.linalg.eig(x)[1]) ** 2,
                        (xg.asarray(a, backend=backend),), (xg.asarray(t, backend=backend),))
    _, expected = torch.func.jvp(lambda x: torch.linalg.eig(x)[1].abs() ** 2,
                                 (torch.tensor(a),), (torch.tensor(t),))
    np.testing.assert_allclose(tangent.numpy(), expected.numpy(), atol=1e-9)


@pytest.mark.parametrize("complex_input", [False, True])
def test_phase_dependent_loss_is_refused(complex_input):
    """sum(Re V) depends on the phases LAPACK picked: PyTorch raises, xpgrad returned a number."""
    a, b = _matrices()
    x = xg.asarray(a + 1j * b if complex_input else a)
    with pytest.raises(ValueError, match="phases"):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.real(xg.linalg.eig(x)[1]))
        tape.gradient(loss, x)


def test_phase_free_loss_still_matches_torch_and_finite_differences():
    a, _ = _matrices()
    x = xg.asarray(a)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = _phase_free_loss_x(x)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), _torch_grad(a), atol=1e-10)
    xg.testing.check_grads(_phase_free_loss_x, (x,), order=2)
