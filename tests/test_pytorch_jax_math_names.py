"""The math names a PyTorch or JAX user reaches for first (met porting a GP fit, a
least-squares fit and JAX-style function optimization): each raises an AttributeError naming
xpgrad's way, and that way computes PyTorch's value and gradient in float64."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg

R = np.random.default_rng(3)
A = R.standard_normal((4, 3))
B = R.standard_normal((4, 3))
SQUARE = R.standard_normal((3, 3)) + 3 * np.eye(3)
V = R.standard_normal(3)


def _value_and_grad_xg(fn, *arrays):
    xs = [xg.asarray(a) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = fn(*xs)
        loss = xg.sum(out * xg.asarray(np.cos(np.arange(out.size)).reshape(out.shape)))
    return out.numpy(), [g.numpy() for g in tape.gradient(loss, xs)]


def _value_and_grad_torch(fn, *arrays):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    (out * torch.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


CASES = {
    "cumsum": ("cumulative_sum", lambda a: xg.cumulative_sum(a, axis=0),
               lambda a: torch.cumsum(a, 0), [A]),
    "arctan2": ("atan2", lambda a, b: xg.atan2(a, b), torch.atan2, [A, B]),
    "norm": ("vector_norm", lambda a: xg.linalg.vector_norm(a, axis=-1),
             lambda a: torch.linalg.norm(a, dim=-1), [A]),
    "dot": ("vecdot", lambda a, b: xg.vecdot(a, b), lambda a, b: torch.dot(a, b), [V, V[::-1].copy()]),
    "logdet": ("slogdet", lambda a: xg.linalg.slogdet(a).logabsdet, torch.logdet, [SQUARE]),
    "diag": ("eye", lambda v: v * xg.eye(3, dtype=v.dtype), torch.diag, [V]),
    # x1 == x2: zero distances on the diagonal, whose gradient is 0 in both
    "cdist": ("vector_norm",
              lambda x1, x2: xg.linalg.vector_norm(x1[..., :, None, :] - x2[..., None, :, :],
                                                   axis=-1),
              torch.cdist, [A, A.copy()]),
    "lstsq": ("pinv", lambda a, b: xg.linalg.pinv(a) @ b,
              lambda a, b: torch.linalg.lstsq(a, b).solution, [A, B[:, :2]]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_name_points_at_a_way_that_computes_torchs_value_and_gradient(name):
    ours_name, ours, theirs, arrays = CASES[name]
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': .*{ours_name}"):
        getattr(xg, name)
    assert not hasattr(xg, name)
    got, got_grads = _value_and_grad_xg(ours, *arrays)
    want, want_grads = _value_and_grad_torch(theirs, *arrays)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    for g, w in zip(got_grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_jax_jacobian_names_are_xpgrads_and_give_torch_funcs_jacobian(name):
    got = getattr(xg, name)(lambda x: xg.sin(x) * xg.sum(x))(xg.asarray(V)).numpy()
    want = getattr(torch.func, name)(lambda x: torch.sin(x) * x.sum())(torch.tensor(V)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("name", ["set_default_dtype", "get_default_dtype", "config",
                                  "enable_x64"])
def test_float64_switches_name_the_way_to_float64_and_that_way_computes_in_float64(name):
    # met porting GP and HMC code that starts with torch.set_default_dtype(torch.float64) or
    # jax.config.update("jax_enable_x64", True)
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': .*float32, fixed.*"
                                             r"dtype=xg\.float64"):
        getattr(xg, name)
    x = xg.linspace(0.0, 1.0, 5, dtype=xg.float64)
    made = [x, xg.zeros(3, dtype=xg.float64), xg.asarray(np.linspace(0.0, 1.0, 5)),
            x * 0.1, xg.random.default_rng(0).normal(size=3, dtype=xg.float64),
            xg.nn.Linear(2, 2, rng=0, dtype="float64").w]
    assert {str(t.dtype) for t in made} == {"float64"}
    np.testing.assert_allclose((x * 0.1).numpy(), np.linspace(0.0, 1.0, 5) * 0.1, rtol=0,
                               atol=0)


def test_numpys_old_trapz_name_points_at_trapezoid():
    with pytest.raises(AttributeError, match=r"no attribute 'trapz': xg\.trapezoid"):
        xg.trapz
