"""xg.cond, xg.switch and xg.while_loop (jax.lax's control flow): eagerly the branch taken and
its gradient (finite differences in float64, PyTorch's autograd through Python's if and
while), under xg.function one trace replaying either branch, inside xg.vmap a per-example
choice, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
R = np.random.default_rng(5)


def f64(values):
    return xg.asarray(np.asarray(values, dtype=np.float64))


def piecewise(x):
    return xg.cond(xg.sum(x) > 0, lambda v: xg.sin(v) * v, lambda v: v ** 3 - v, x)


def piecewise_torch(x):
    return torch.sin(x) * x if torch.sum(x) > 0 else x ** 3 - x


def activation(k, x):
    return xg.switch(k, [xg.tanh, lambda v: xg.exp(v) * 0.5, lambda v: v * xg.nn.sigmoid(v)], x)


def activation_torch(k, x):
    return [torch.tanh, lambda v: torch.exp(v) * 0.5, lambda v: v * torch.sigmoid(v)][
        min(max(k, 0), 2)](x)


def _torch_grad(fn, x):
    t = torch.tensor(x, requires_grad=True)
    fn(t).sum().backward()
    return t.grad.numpy()


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_takes_one_branch_eagerly_and_its_gradient(sign):
    x = sign * np.abs(R.standard_normal(3))
    got = xg.grad(lambda x: xg.sum(piecewise(x)))(f64(x)).numpy()
    np.testing.assert_allclose(got, _torch_grad(piecewise_torch, x), rtol=1e-13)
    check_grads(piecewise, [f64(x)], order=2)
    calls = []
    xg.cond(True, lambda: calls.append("true"), lambda: calls.append("false"))
    assert calls == ["true"]                       # tf.cond's form: no operands, one branch ran


@pytest.mark.parametrize("k", [-3, 0, 1, 2, 9])
def test_switch_clamps_the_index_as_jax_and_differentiates_the_branch(k):
    x = R.standard_normal(4)
    got = xg.grad(lambda x: xg.sum(activation(k, x)))(f64(x)).numpy()
    np.testing.assert_allclose(got, _torch_grad(lambda t: activation_torch(k, t), x),
                               rtol=1e-13)
    np.testing.assert_allclose(activation(xg.asarray(k), f64(x)).numpy(),
                               activation_torch(k, torch.tensor(x)).numpy(), rtol=1e-14)


def test_one_trace_replays_either_branch_with_its_gradient():
    step = xg.function(xg.value_and_grad(lambda x, k: xg.sum(activation(k, piecewise(x)))))
    for trial in range(8):
        x = (1.0 if trial % 2 else -1.0) * np.abs(R.standard_normal(3))
        k = trial % 4
        value, grad = step(f64(x), xg.asarray(k))
        want = _torch_grad(lambda t: activation_torch(k, piecewise_torch(t)), x)
        np.testing.assert_allclose(grad.numpy(), want, rtol=1e-12, atol=1e-15)
        want_value = activation_torch(k, piecewise_torch(torch.tensor(x))).sum().item()
        np.testing.assert_allclose(float(value), want_value, rtol=1e-13)
    assert step.trace_count == 1


def test_vmap_chooses_per_example_and_pytrees_keep_their_structure():
    x = np.linspace(-1.0, 1.0, 5)
    got = xg.vmap(lambda v: xg.cond(v > 0, lambda v: {"a": xg.sin(v), "b": (v, 1.0)},
                                    lambda v: {"a": xg.cos(v), "b": (-v, 2.0)}, v))(f64(x))
    np.testing.assert_allclose(got["a"].numpy(), np.where(x > 0, np.sin(x), np.cos(x)))
    np.testing.assert_allclose(got["b"][0].numpy(), np.abs(x))
    np.testing.assert_allclose(got["b"][1].numpy(), np.where(x > 0, 1.0, 2.0))


def test_while_loop_is_differentiated_where_jax_refuses_and_cannot_be_traced():
    def halve(x):
        return xg.while_loop(lambda c: xg.sum(c[0] ** 2) > 0.25,
                             lambda c: (c[0] * 0.5, c[1] + 1), (x, 0))

    def halve_torch(x):
        n = 0
        while torch.sum(x ** 2) > 0.25:
            x, n = x * 0.5, n + 1
        return x

    x = 3.0 * R.standard_normal(3)
    y, n = halve(f64(x))
    np.testing.assert_allclose(y.numpy(), halve_torch(torch.tensor(x)).numpy(), rtol=1e-15)
    assert n == max(0, int(np.ceil(np.log2(np.linalg.norm(x) / 0.5))))   # |x| / 2^n <= 0.5
    got = xg.grad(lambda x: xg.sum(halve(x)[0] ** 2))(f64(x)).numpy()
    np.testing.assert_allclose(got, _torch_grad(lambda t: halve_torch(t) ** 2, x), rtol=1e-14)
    traced = xg.function(lambda x: halve(x)[0])     # one step of the program
    for scale in (1.0, 10.0, 0.01):
        np.testing.assert_array_equal(traced(f64(scale * x)).numpy(),
                                      halve_torch(torch.tensor(scale * x)).numpy())
    assert traced.trace_count == 1


def test_while_loop_inside_vmap_runs_until_every_example_stops():
    def halve(x):
        return xg.while_loop(lambda c: c[0] >= 1.0, lambda c: (c[0] / 2, c[1] + 1), (x, 0))

    xs = np.array([0.5, 3.0, 10.0, 100.0])
    y, n = xg.vmap(halve)(f64(xs))
    counts = np.maximum(0, np.floor(np.log2(xs)) + 1)           # halvings to get below 1
    np.testing.assert_array_equal(n.numpy(), counts)
    np.testing.assert_allclose(y.numpy(), xs / 2 ** counts, rtol=1e-15)
    grads = xg.vmap(xg.grad(lambda x: halve(x)[0]))(f64(xs)).numpy()
    np.testing.assert_allclose(grads, 0.5 ** counts, rtol=1e-15)


def test_bad_arguments_are_named():
    x = f64([1.0, 2.0])
    with pytest.raises(TypeError, match="cond: true_fun must be callable"):
        xg.cond(True, 1.0, xg.sin, x)
    with pytest.raises(TypeError, match=r"cond: pred must be a scalar, got a Tensor of shape "
                                        r"\(2,\)"):
        xg.cond(x > 0, xg.sin, xg.cos, x)
    with pytest.raises(TypeError, match=r"switch: index must be an integer scalar"):
        xg.switch(1.0, [xg.sin, xg.cos], x)
    with pytest.raises(TypeError, match="switch: branches must be a non-empty list"):
        xg.switch(0, [], x)
    with pytest.raises(TypeError, match="while_loop: body_fun must be callable"):
        xg.while_loop(lambda v: v < 1, None, x)
    with pytest.raises(TypeError, match="while_loop: body_fun's carry output has shape"):
        xg.while_loop(lambda v: xg.sum(v) < 10, lambda v: xg.concat([v, v]), x)
    traced = xg.function(lambda x, p: xg.cond(p, lambda v: v, lambda v: v[:1], x))
    with pytest.raises(TypeError, match=r"cond: true_fun's output is float64\[2\] where "
                                        r"false_fun's is float64\[1\]"):
        for _ in range(3):
            traced(x, xg.asarray(True))
