"""Tapes outside ``xg.vmap`` differentiate through it to any order: gradient penalties
(``grad`` of a ``vmap`` of ``grad``), ``hessian``/``jacobian`` of functions that use vmap,
gradients of unmapped arguments, closures and Variables (summed over the examples). References:
JAX in float64, torch.func, a Python loop over the examples and finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.batching.batched import BatchedArray
from xpgrad.jit import TraceError

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
pytestmark = pytest.mark.usefixtures("jax")     # float64 in JAX for this module only

RNG = np.random.default_rng(7)
W0, X0 = RNG.normal(size=(3, 4)), RNG.normal(size=(5, 3))


def close(got, want, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(got.numpy() if hasattr(got, "numpy") else got),
                               np.asarray(want), rtol=rtol, atol=atol)


def critic(w, x, ns=xg):
    """One example's score: a small tanh layer."""
    return ns.sum(ns.tanh(x @ w) ** 2) + ns.sum(x ** 3) * 0.1


def penalty(w, x):
    per_example = xg.vmap(xg.grad(critic, argnums=1), in_axes=(None, 0))(w, x)
    return xg.sum((xg.sqrt(xg.sum(per_example ** 2, axis=1)) - 1.0) ** 2)


def jax_penalty(w, x):
    per_example = jax.vmap(jax.grad(lambda w, x: critic(w, x, jnp), argnums=1),
                           in_axes=(None, 0))(w, x)
    return jnp.sum((jnp.sqrt(jnp.sum(per_example ** 2, axis=1)) - 1.0) ** 2)


@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_the_gradient_of_a_per_example_gradient_penalty_is_jaxs(argnums):
    got = xg.grad(penalty, argnums=argnums)(xg.asarray(W0), xg.asarray(X0))
    want = jax.grad(jax_penalty, argnums=argnums)(W0, X0)
    for g, w in zip(*((got, want) if isinstance(argnums, tuple) else ((got,), (want,)))):
        close(g, w)


def test_the_gradient_penalty_matches_a_loop_finite_differences_and_torch_func():
    torch = pytest.importorskip("torch")
    w, x = xg.asarray(W0), xg.asarray(X0)

    def loop(w):
        norms = [xg.sqrt(xg.sum(xg.grad(critic, argnums=1)(w, x[i]) ** 2)) for i in range(5)]
        return sum((n - 1.0) ** 2 for n in norms)

    close(xg.grad(penalty)(w, x), xg.grad(loop)(w))
    xg.testing.check_grads(penalty, (w, x), order=2)

    def torch_penalty(w, x):
        tcritic = lambda w, x: torch.sum(torch.tanh(x @ w) ** 2) + torch.sum(x ** 3) * 0.1
        per = torch.func.vmap(torch.func.grad(tcritic, argnums=1), in_dims=(None, 0))(w, x)
        return torch.sum((torch.sqrt(torch.sum(per ** 2, dim=1)) - 1.0) ** 2)

    want = torch.func.grad(torch_penalty)(torch.tensor(W0), torch.tensor(X0))
    close(xg.grad(penalty)(w, x), want.numpy())


def test_grad_of_a_sum_of_per_example_gradients_hessians_and_jacobians():
    w, x = xg.asarray(W0), xg.asarray(X0)
    summed = lambda w: xg.sum(xg.vmap(xg.grad(critic), in_axes=(None, 0))(w, x))
    jsummed = lambda w: jnp.sum(jax.vmap(jax.grad(lambda w, x: critic(w, x, jnp)),
                                         in_axes=(None, 0))(w, X0))
    close(xg.grad(summed)(w), jax.grad(jsummed)(W0))

    uses_vmap = lambda w: xg.sum(xg.vmap(lambda r: xg.sin(r @ w))(x) ** 2)
    jax_uses = lambda w: jnp.sum(jax.vmap(lambda r: jnp.sin(r @ w))(X0) ** 2)
    close(xg.hessian(uses_vmap)(w), jax.hessian(jax_uses)(W0))

    per_row = xg.vmap(xg.grad(lambda r: xg.sum(xg.sin(r) ** 3)))
    jax_row = jax.vmap(jax.grad(lambda r: jnp.sum(jnp.sin(r) ** 3)))
    close(xg.jacobian(per_row)(x), jax.jacobian(jax_row)(X0))


def test_third_order_through_vmap_matches_finite_differences():
    f = lambda w: xg.sum(xg.vmap(lambda r, w: xg.sin(r @ w), in_axes=(0, None))(
        xg.asarray(X0), w) ** 3)
    xg.testing.check_grads(f, (xg.asarray(W0),), order=3)


def test_unmapped_arguments_closures_and_variables_get_summed_gradients():
    """Their per-example gradients are summed (before, an outer tape's gradient of an
    unmapped argument came back batched)."""
    v = xg.Variable(RNG.normal(size=(4,)), name="v")
    x = xg.asarray(X0)

    def loss(w, scale):
        mapped = xg.vmap(lambda r, w: xg.tanh(r @ w) * v * xg.sum(w ** 2) + scale,
                         in_axes=(0, None))
        return xg.sum(mapped(x, w) ** 2)

    def loop(w, scale):
        return sum(xg.sum((xg.tanh(x[i] @ w) * v * xg.sum(w ** 2) + scale) ** 2)
                   for i in range(5))

    w, scale = xg.asarray(W0), xg.asarray(0.3, dtype=xg.float64)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([w, scale])
        got, want = loss(w, scale), loop(w, scale)
    for source in (w, scale, v):
        g = tape.gradient(got, source)
        assert not isinstance(g._data, BatchedArray)
        close(g, tape.gradient(want, source))
    xg.testing.check_grads(loss, (w, scale), order=2)


def test_a_first_order_gradient_runs_the_function_once_and_finds_what_it_reads():
    """The first order walks the tape the call kept: the function runs once, and what the
    tapes outside differentiate is found as it is read -- a closure derived from a watched
    tensor, a mapped argument read whole, a Variable -- also first inside a nested vmap."""
    v = xg.Variable(RNG.normal(size=(4,)), name="v")
    runs = []

    def per_example(r, w, x, c):
        runs.append(1)
        inner = xg.vmap(lambda s: xg.sin(s * c[0]))(r)          # c first read in here
        return xg.tanh(r @ w) * v + xg.sum(x ** 2) * xg.sum(inner)

    def losses(w, x, shift):
        c = shift * 2.0                         # an earlier result the tape differentiates
        mapped = xg.vmap(lambda r, w: per_example(r, w, x, c), in_axes=(0, None))(x, w)
        looped = xg.stack([per_example(x[i], w, x, c) for i in range(5)])
        return xg.sum(mapped ** 2), xg.sum(looped ** 2)

    w, x, shift = xg.asarray(W0), xg.asarray(X0), xg.asarray(RNG.normal(size=(2,)))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([w, x, shift])
        got, want = losses(w, x, shift)
    assert len(runs) == 1 + 5
    for source in (w, x, shift, v):
        close(tape.gradient(got, source), tape.gradient(want, source), rtol=1e-9)
    assert len(runs) == 1 + 5                   # (the gradients ran nothing again)
    xg.testing.check_grads(lambda w, x, shift: losses(w, x, shift)[0], (w, x, shift))

    def leaves_the_tape(r):
        np.asarray(c)                           # c: differentiated outside, not yet read
        return r

    with xg.GradientTape() as tape:
        tape.watch(shift)
        c = shift * 2.0
        with pytest.raises(TypeError, match="would cut it from the tape"):
            xg.vmap(leaves_the_tape)(x)


def test_a_mapped_argument_also_read_whole_and_axes_pytrees_keywords():
    both = lambda x: xg.sum(xg.vmap(lambda r: r * xg.sum(x ** 2))(x) ** 2)
    jboth = lambda x: jnp.sum(jax.vmap(lambda r: r * jnp.sum(x ** 2))(x) ** 2)
    close(xg.hessian(both)(xg.asarray(X0)), jax.hessian(jboth)(X0))

    def tree(p, x):
        f = xg.vmap(lambda p, r, *, k: {"a": xg.sin(r @ p["w"]) * k, "b": xg.sum(p["w"])},
                    in_axes=({"w": None}, 1), out_axes={"a": 1, "b": None})
        out = f(p, x.T, k=x[:, 0])
        return xg.sum(out["a"] ** 2) + out["b"] ** 3

    def jtree(p, x):
        f = jax.vmap(lambda p, r, k: {"a": jnp.sin(r @ p["w"]) * k, "b": jnp.sum(p["w"])},
                     in_axes=({"w": None}, 1, 0), out_axes={"a": 1, "b": None})
        out = f(p, x.T, x[:, 0])
        return jnp.sum(out["a"] ** 2) + out["b"] ** 3

    got = xg.grad(lambda w, x: tree({"w": w}, x), argnums=(0, 1))(xg.asarray(W0),
                                                                    xg.asarray(X0))
    want = jax.grad(lambda w, x: jtree({"w": w}, x), argnums=(0, 1))(W0, X0)
    close(got[0], want[0])
    close(got[1], want[1])
    hess = xg.hessian(lambda w: tree({"w": w}, xg.asarray(X0)))(xg.asarray(W0))
    close(hess, jax.hessian(lambda w: jtree({"w": w}, X0))(W0))


def test_per_example_hessians_and_hvps_inside_vmap_still_batch():
    f = lambda r: xg.sum(xg.sin(r) ** 3)
    jf = lambda r: jnp.sum(jnp.sin(r) ** 3)
    close(xg.vmap(xg.hessian(f))(xg.asarray(X0)), jax.vmap(jax.hessian(jf))(X0))
    tangents = RNG.normal(size=X0.shape)
    got = xg.vmap(lambda r, t: xg.hvp(f, (r,), (t,))[1])(xg.asarray(X0), xg.asarray(tangents))
    want = jax.vmap(lambda r, t: jax.jvp(jax.grad(jf), (r,), (t,))[1])(X0, tangents)
    close(got[0] if isinstance(got, tuple) else got, want)


def test_random_draws_are_the_same_in_the_gradients():
    w = xg.asarray(RNG.normal(size=(3,)))
    drop = xg.nn.Dropout(0.5, rng=4)
    f = xg.vmap(lambda r, w: drop(r * w), in_axes=(0, None), randomness="different")
    x = xg.asarray(X0)
    with xg.GradientTape() as outer:
        outer.watch(w)
        with xg.GradientTape() as tape:
            tape.watch(w)
            dropped = f(x, w)
            value = xg.sum(dropped)
        grad = tape.gradient(value, w)
        total = xg.sum(grad * w)
    # a tape records the gradient, so it ran f again: value is linear in w, and the gradient
    # taken with other masks than the value's would not give it back
    close(total, value.numpy())
    close(outer.gradient(total, w), grad.numpy())
    kept = (dropped.numpy() != 0) * 2.0
    close(grad, np.sum(kept * X0, axis=0))


def test_a_read_variable_changed_before_the_gradient():
    """First order walks the tape the call kept: the values it saw. A higher order runs the
    function again, which would see the new value: refused."""
    v = xg.Variable(np.ones(3), name="v")
    with xg.GradientTape(persistent=True) as tape:
        y = xg.sum(xg.vmap(lambda r: xg.sin(r * v))(xg.asarray(X0)))
    before = tape.gradient(y, v).numpy()
    close(before, np.sum(X0 * np.cos(X0), axis=0))
    v.assign(np.zeros(3))
    close(tape.gradient(y, v), before)
    with xg.GradientTape():                  # records the gradient: a higher order
        with xg.GradientTape() as inner:
            y = xg.sum(xg.vmap(lambda r: xg.sin(r * v))(xg.asarray(X0)))
        v.assign(np.ones(3))
        with pytest.raises(RuntimeError, match=r"Variable 'v' changed .* vmapped function"):
            inner.gradient(y, v)


def test_xg_function_replays_gradients_through_vmap_and_refuses_rerunning_draws():
    w = xg.Variable(RNG.normal(size=(3, 2)), name="w")

    def step(x):
        with xg.GradientTape() as tape:
            loss = penalty(w, x)
        return tape.gradient(loss, w)

    traced = xg.function(step)
    for _ in range(3):
        x = xg.asarray(RNG.normal(size=(4, 3)))
        close(traced(x), step(x).numpy())
    assert len(traced.programs()) == 1

    drop = xg.nn.Dropout(0.5, rng=1)
    noisy = xg.vmap(lambda r, w: drop(r @ w), in_axes=(0, None), randomness="different")

    def first_order(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(noisy(x, w))
        return loss, tape.gradient(loss, w)

    traced = xg.function(first_order)
    for _ in range(3):              # eager, traced, replayed: the masks of the value's draws
        loss, grad = traced(xg.asarray(RNG.normal(size=(6, 3))))
        close(xg.sum(grad * w), loss.numpy())          # (the loss is linear in w)
    assert len(traced.programs()) == 1

    def second_order(x):
        with xg.GradientTape() as outer:
            with xg.GradientTape() as inner:
                loss = xg.sum(noisy(x, w) ** 2)
            total = xg.sum(inner.gradient(loss, w))
        return outer.gradient(total, w)

    traced = xg.function(second_order)
    traced(xg.asarray(X0))                   # the first call runs eagerly, the second traces
    with pytest.raises(TraceError, match="xg.vmap: the vmapped function draws random"):
        traced(xg.asarray(X0))


def test_nested_vmaps_and_forward_mode_through_vmap():
    x, y = xg.asarray(X0), xg.asarray(X0[:2] + 0.5)
    w0 = RNG.normal(size=(3,))

    def nested(w, ns, vmap, xs, ys):
        return ns.sum(vmap(lambda r: vmap(lambda s: ns.sin(r * s * w))(ys))(xs) ** 2)

    f = lambda w: nested(w, xg, xg.vmap, x, y)
    jf = lambda w: nested(w, jnp, jax.vmap, X0, y.numpy())
    close(xg.grad(f)(xg.asarray(w0)), jax.grad(jf)(w0))
    close(xg.hessian(f)(xg.asarray(w0)), jax.hessian(jf)(w0))

    tangent = RNG.normal(size=X0.shape)
    rows = lambda x: xg.vmap(lambda r: xg.sin(r) * xg.sum(r ** 2))(x)
    jrows = lambda x: jax.vmap(lambda r: jnp.sin(r) * jnp.sum(r ** 2))(x)
    close(xg.jvp(rows, (x,), (xg.asarray(tangent),))[1], jax.jvp(jrows, (X0,), (tangent,))[1])


def test_one_tensor_passed_twice_and_integer_or_constant_outputs():
    x, w = xg.asarray(X0), xg.asarray(W0[:, 0])
    twice = lambda x: xg.sum(xg.vmap(lambda a, b: xg.sin(a * b), in_axes=(0, 1))(x, x.T) ** 2)
    jtwice = lambda x: jnp.sum(jax.vmap(lambda a, b: jnp.sin(a * b), in_axes=(0, 1))(x, x.T)
                               ** 2)
    close(xg.hessian(twice)(x), jax.hessian(jtwice)(X0))
    shared = lambda w: xg.sum(xg.vmap(lambda a, u, v: xg.sin(a @ u) * v,
                                      in_axes=(0, None, None))(x, w, w) ** 2)
    jshared = lambda w: jnp.sum(jax.vmap(lambda a, u, v: jnp.sin(a @ u) * v,
                                         in_axes=(0, None, None))(X0, w, w) ** 2)
    close(xg.hessian(shared)(w), jax.hessian(jshared)(W0[:, 0]))

    def mixed(x):
        index, square, ones = xg.vmap(lambda a: (xg.argmax(a), xg.sum(a ** 2), xg.ones(2)))(x)
        return xg.sum(square) + xg.sum(ones) + xg.sum(index)

    close(xg.grad(mixed)(x), 2 * X0)


def test_an_unbatched_output_of_a_vmap_over_no_examples_has_no_gradient_and_says_so():
    w, none = xg.asarray(W0[:, 0]), xg.zeros((0, 3), dtype=xg.float64)
    f = xg.vmap(lambda r, w: (xg.sin(r * w), xg.sum(w ** 2)), in_axes=(0, None),
                out_axes=(0, None))
    close(xg.grad(lambda w: xg.sum(f(xg.asarray(X0), w)[1]))(w), 2 * W0[:, 0])
    with pytest.raises(NotImplementedError, match="vmap over 0 examples.*out_axes None"):
        xg.grad(lambda w: f(none, w)[1])(w)
    close(xg.grad(lambda x: xg.sum(f(x, w)[0]))(none), np.zeros((0, 3)))
