"""Optimizer edge cases against what torch.optim does with the same inputs: gradients that are
zero, None (a variable the loss did not use this step), of another dtype, from an embedding
lookup (rows untouched), non-finite; a variable updated by two optimizers; float32 variables
with a learning rate at the ends of float32's range."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]
OPTIMIZERS = {
    "SGD": ({"learning_rate": 0.05, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.9}),
    "Adagrad": ({"learning_rate": 0.1}, {"lr": 0.1}),
    "Adadelta": ({"learning_rate": 1.0}, {"lr": 1.0}),
    "RMSprop": ({"learning_rate": 0.01, "momentum": 0.5}, {"lr": 0.01, "momentum": 0.5}),
    "Adam": ({"learning_rate": 0.1, "weight_decay": 0.1}, {"lr": 0.1, "weight_decay": 0.1}),
    "Adamax": ({"learning_rate": 0.1, "weight_decay": 0.1}, {"lr": 0.1, "weight_decay": 0.1}),
    "NAdam": ({"learning_rate": 0.1, "weight_decay": 0.1}, {"lr": 0.1, "weight_decay": 0.1}),
    "RAdam": ({"learning_rate": 0.1, "beta_2": 0.9, "weight_decay": 0.1},
              {"lr": 0.1, "betas": (0.9, 0.9), "weight_decay": 0.1}),
}


@pytest.fixture
def torch_float64():
    """torch's default dtype float64, for a test stepping float64 parameters: torch's
    optimizers keep their scalar state (NAdam's product of the momenta) in it, as xpgrad keeps
    it in the variable's dtype."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(default)


def _pair(name, backend):
    ours, theirs = OPTIMIZERS[name]
    return (getattr(xg.optim, name)(**ours),
            lambda params: getattr(torch.optim, name)(params, **theirs))


@pytest.mark.filterwarnings("ignore:Gradients do not exist for variables")   # meant
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xg.function"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_embedding_rows_and_a_sometimes_unused_variable(name, backend, compiled, torch_float64):
    """An embedding's gradient is zero in the rows not looked up (they still decay in Adam's
    moments, as torch's dense gradient does); a variable the loss uses every third step has
    a None gradient in between and is skipped (its step count too), as torch skips a
    parameter whose .grad is None."""
    rng = np.random.default_rng(1)
    table0, scale0 = rng.standard_normal((6, 3)), np.array([0.5])
    ids = np.array([[1, 3, 3], [4, 1, 0]])
    opt, make_theirs = _pair(name, backend)
    table = xg.Variable(table0.copy(), name="table", backend=backend)
    scale = xg.Variable(scale0.copy(), name="scale", backend=backend)
    lookup = xg.asarray(ids, backend=backend)

    def step(use_scale):
        with xg.GradientTape() as tape:
            rows = xg.nn.embedding(lookup, table)
            loss = xg.sum(rows * rows) + (xg.sum(scale * scale * rows[0, 0]) if use_scale
                                          else 0.0)
        opt.apply_gradients(zip(tape.gradient(loss, [table, scale]), [table, scale]))
    run = xg.function(step) if compiled else step
    t_table = torch.tensor(table0.copy(), requires_grad=True)
    t_scale = torch.tensor(scale0.copy(), requires_grad=True)
    t_opt = make_theirs([t_table, t_scale])
    for k in range(9):
        run(k % 3 == 0)
        t_opt.zero_grad()
        rows = torch.nn.functional.embedding(torch.tensor(ids), t_table)
        loss = (rows * rows).sum() + ((t_scale * t_scale * rows[0, 0]).sum() if k % 3 == 0
                                      else 0.0)
        loss.backward()
        t_opt.step()
        np.testing.assert_allclose(table.numpy(), t_table.detach().numpy(), rtol=1e-12,
                                   atol=1e-14, err_msg=f"table after step {k + 1}")
        np.testing.assert_allclose(scale.numpy(), t_scale.detach().numpy(), rtol=1e-12,
                                   atol=1e-14, err_msg=f"scale after step {k + 1}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_variable_updated_by_two_optimizers_keeps_two_states(backend):
    w0 = np.array([1.0, -2.0, 3.0])
    w = xg.Variable(w0.copy(), backend=backend)
    ours = [xg.optim.SGD(0.05, momentum=0.9), xg.optim.Adam(0.05)]
    tw = torch.tensor(w0.copy(), requires_grad=True)
    theirs = [torch.optim.SGD([tw], lr=0.05, momentum=0.9), torch.optim.Adam([tw], lr=0.05)]
    for _ in range(6):
        for opt, t_opt in zip(ours, theirs):
            opt.minimize(lambda: xg.sum(w * w * w), [w])
            t_opt.zero_grad()
            (tw * tw * tw).sum().backward()
            t_opt.step()
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_zero_then_non_finite_gradients_give_what_torch_gives(name, backend, torch_float64):
    """Gradients are applied as given (the docstring says so): a zero gradient leaves the
    weight where torch leaves it, NaN and inf make NaN/inf weights as torch's do."""
    opt, make_theirs = _pair(name, backend)
    w = xg.Variable(np.array([0.5, -1.0, 2.0]), backend=backend)
    tw = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    t_opt = make_theirs([tw])
    for g in (np.zeros(3), np.array([np.nan, np.inf, -np.inf])):
        with np.errstate(invalid="ignore"):      # NumPy's warning on inf - inf, inf / inf
            opt.apply_gradients([(xg.asarray(g, backend=backend), w)])
        tw.grad = torch.tensor(g)
        t_opt.step()
        np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("var_dtype, grad_dtype", [("float64", "float32"),
                                                   ("float32", "float64")])
def test_a_gradient_of_another_float_dtype_is_cast_to_the_variable_s(var_dtype, grad_dtype,
                                                                     backend):
    w = xg.Variable(np.array([1.0, 2.0]), dtype=var_dtype, backend=backend)
    g = np.array([0.3, 0.1])
    xg.optim.Adam(0.1).apply_gradients([(xg.asarray(g, dtype=grad_dtype, backend=backend), w)])
    tw = torch.tensor([1.0, 2.0], dtype=getattr(torch, var_dtype), requires_grad=True)
    tw.grad = torch.tensor(g.astype(grad_dtype)).to(tw.dtype)
    torch.optim.Adam([tw], lr=0.1).step()
    assert w.dtype == var_dtype
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_learning_rate_float32_cannot_hold_is_refused_for_a_float32_variable(name, backend):
    """torch refuses it ("value cannot be converted to type float without overflow"); the
    update made every weight inf, and NaN where the gradient was 0 (inf * 0)."""
    w = xg.Variable(np.array([1.0, 2.0], np.float32), name="w", backend=backend)
    opt = getattr(xg.optim, name)(1e39)
    with pytest.raises(ValueError, match=r"learning_rate.*1e\+39.*float32.*'w'"):
        opt.apply_gradients([(xg.asarray(np.array([0.0, 1.0], np.float32), backend=backend),
                              w)])
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    assert opt.iterations == 0
    w64 = xg.Variable(np.array([1.0, 2.0]), backend=backend)      # float64 holds it
    getattr(xg.optim, name)(1e39).apply_gradients([(xg.asarray(np.ones(2), backend=backend),
                                                    w64)])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_with_a_tiny_learning_rate_matches_torch(name, backend):
    """1e-45 is float32's smallest subnormal: the fused kernels must not flush it to 0."""
    w0 = np.array([1.0, 1e-30, 3e38, 1e-40], np.float32)
    g = np.array([1.0, 1.0, -1.0, 1e-38], np.float32)
    for lr in (1e-30, 1e-45):
        w = xg.Variable(w0.copy(), backend=backend)
        getattr(xg.optim, name)(lr).apply_gradients([(xg.asarray(g, backend=backend), w)])
        tw = torch.tensor(w0.copy(), requires_grad=True)
        tw.grad = torch.tensor(g)
        getattr(torch.optim, name)([tw], lr=lr).step()
        np.testing.assert_array_equal(w.numpy(), tw.detach().numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_schedule_reaching_such_a_rate_is_refused_in_a_compiled_sgd_gemm_step(backend):
    """Plain SGD under xg.function is one gemm with alpha = -lr: the check runs there too."""
    w = xg.Variable(np.ones((3, 2), np.float32), name="w", backend=backend)
    opt = xg.optim.SGD(lambda step: 0.1 if step < 2 else 1e39)

    @xg.function
    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum((x @ w) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))

    x = xg.asarray(np.ones((4, 3), np.float32), backend=backend)
    step(x)
    step(x)
    assert step.programs()[0].sgd_gemms == 1
    before = w.numpy()
    with pytest.raises(ValueError, match=r"learning_rate.*float32.*'w'"):
        step(x)
    np.testing.assert_array_equal(w.numpy(), before)


@pytest.mark.parametrize("grad, error", [
    (np.array([1 + 1j, 2.0]), "complex128"),        # the imaginary part was dropped silently
    (np.array(["a", "b"]), "<U1"),                   # "could not convert string to float"
    (np.array([1, 2]), "int64"),                     # as an int Tensor: refused like torch's
    ([True, False], "bool"),
])
def test_an_array_gradient_is_checked_like_a_tensor_gradient(grad, error):
    """A gradient given as an array or list (not a Tensor) was cast to the variable's dtype
    whatever it held; now its own dtype is checked first, as a Tensor gradient's is."""
    w = xg.Variable(np.ones(2), name="w")
    with pytest.raises(TypeError, match=rf"gradient for 'w' has dtype {error}") as info:
        xg.optim.SGD(0.1).apply_gradients([(grad, w)])
    assert "floating-point" in str(info.value)
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_float_arrays_and_lists_are_gradients_in_the_variable_s_dtype(backend):
    w = xg.Variable(np.ones(2), backend=backend)
    xg.optim.SGD(1.0).apply_gradients([([0.1, 0.2], w)])
    xg.optim.SGD(1.0).apply_gradients([(np.array([0.1, 0.2], np.float32), w)])
    np.testing.assert_array_equal(w.numpy(), 1.0 - np.array([0.1, 0.2])
                                  - np.array([0.1, 0.2], np.float32).astype(np.float64))
    z = xg.Variable(np.ones(2, np.complex128), backend=backend)
    xg.optim.SGD(1.0).apply_gradients([(np.array([1j, 0.5]), z)])
    np.testing.assert_array_equal(z.numpy(), [1 - 1j, 0.5])
