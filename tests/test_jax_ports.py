"""Small JAX programs ported to xpgrad, as a JAX user writes them (part 1: an MLP trained over
a params pytree, per-example gradients, Jacobians and Hessians, a compiled step).

Each port is checked twice: against something independent of JAX (finite differences, a
closed form, xpgrad's own optimizer) and, where JAX is installed, against the JAX program
itself in float64. The programs are written once against a namespace (``xg`` or
``jax.numpy``), which is how close the two APIs are; ``tests/test_jax_ports_more.py`` has the
other four.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

Layer = namedtuple("Layer", "w b")
R = np.random.default_rng(7)
SIZES = (4, 8, 3)
PARAMS = [Layer(R.normal(size=(m, n)) / np.sqrt(m), 0.1 * R.normal(size=n))
          for m, n in zip(SIZES[:-1], SIZES[1:])]
X = R.normal(size=(16, 4))
LABELS = R.integers(0, 3, size=16)


def _xg_tree(tree):
    return xg.tree_map(lambda a: xg.asarray(a, dtype=xg.float64), tree)


def _numpy(tree):
    return [np.asarray(leaf) for leaf in xg.tree_leaves(
        xg.tree_map(lambda a: a.numpy() if isinstance(a, xg.Tensor) else a, tree))]


def _assert_trees_close(got, want, rtol=1e-10, atol=1e-12):
    got, want = _numpy(got), [np.asarray(leaf) for leaf in want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# -- 1. an MLP over a list of namedtuples, SGD and Adam written with tree_map --------------------

def mlp_loss(ns, nn):
    def loss(params, x, labels):
        h = x
        for layer in params[:-1]:
            h = nn.relu(h @ layer.w + layer.b)
        logits = h @ params[-1].w + params[-1].b
        log_p = nn.log_softmax(logits, axis=-1)
        return -ns.mean(ns.take_along_axis(log_p, labels[:, None], axis=1))
    return loss


def sgd_steps(ns, nn, value_and_grad, tree_map, params, x, labels, steps=3, lr=0.5):
    losses = []
    step = value_and_grad(mlp_loss(ns, nn))
    for _ in range(steps):
        loss, grads = step(params, x, labels)
        params = tree_map(lambda p, g: p - lr * g, params, grads)
        losses.append(float(loss))
    return params, losses


def adam_steps(ns, value_and_grad, tree_map, loss_fn, params, steps=3, lr=0.05,
               b1=0.9, b2=0.999, eps=1e-8):
    m = tree_map(lambda p: p * 0.0, params)
    v = tree_map(lambda p: p * 0.0, params)
    for t in range(1, steps + 1):
        _, g = value_and_grad(loss_fn)(params)
        m = tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        params = tree_map(lambda p, m, v: p - lr * (m / (1 - b1 ** t))
                          / (ns.sqrt(v / (1 - b2 ** t)) + eps), params, m, v)
    return params


def test_mlp_gradient_over_a_namedtuple_list_matches_finite_differences():
    loss = mlp_loss(xg, xg.nn)
    x, labels = xg.asarray(X), xg.asarray(LABELS)
    grads = xg.grad(loss)(_xg_tree(PARAMS), x, labels)
    assert isinstance(grads, list) and all(type(g) is Layer for g in grads)
    check_grads(lambda w0, b0, w1, b1: loss([Layer(w0, b0), Layer(w1, b1)], x, labels),
                [a for layer in PARAMS for a in layer])


def test_adam_written_with_tree_map_is_xg_optim_adam():
    """The hand-written Adam of a JAX program, on a dict pytree, against xg.optim.Adam (its
    PyTorch formula) on Variables holding the same values."""
    target = {"w": R.normal(size=(3, 2)), "b": R.normal(size=2)}

    def loss_fn(p):
        return xg.sum((xg.asarray(X[:, :3]) @ p["w"] + p["b"] - xg.asarray(target["w"][0])) ** 2)

    start = {k: R.normal(size=v.shape) for k, v in target.items()}
    ours = adam_steps(xg, xg.value_and_grad, xg.tree_map, loss_fn, _xg_tree(start))
    variables = {k: xg.Variable(v, dtype=xg.float64) for k, v in start.items()}
    opt = xg.optim.Adam(learning_rate=0.05)
    for _ in range(3):
        opt.minimize(lambda: loss_fn(variables), list(variables.values()))
    _assert_trees_close(ours, [variables[k].numpy() for k in ours], rtol=1e-12)


def test_mlp_sgd_and_adam_match_jax(jax):
    jnp = jax.numpy
    jparams = [Layer(jnp.asarray(layer.w), jnp.asarray(layer.b)) for layer in PARAMS]
    want, want_losses = sgd_steps(jnp, jax.nn, jax.value_and_grad, jax.tree_util.tree_map,
                                  jparams, jnp.asarray(X), jnp.asarray(LABELS))
    got, got_losses = sgd_steps(xg, xg.nn, xg.value_and_grad, xg.tree_map, _xg_tree(PARAMS),
                                xg.asarray(X), xg.asarray(LABELS))
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-12)
    _assert_trees_close(got, jax.tree_util.tree_leaves(want))

    def loss_fn(ns, nn, x, labels):
        return lambda p: mlp_loss(ns, nn)(p, x, labels)

    want = adam_steps(jnp, jax.value_and_grad, jax.tree_util.tree_map,
                      loss_fn(jnp, jax.nn, jnp.asarray(X), jnp.asarray(LABELS)), jparams)
    got = adam_steps(xg, xg.value_and_grad, xg.tree_map,
                     loss_fn(xg, xg.nn, xg.asarray(X), xg.asarray(LABELS)), _xg_tree(PARAMS))
    _assert_trees_close(got, jax.tree_util.tree_leaves(want))


# -- 2. per-example gradients: vmap(grad(has_aux=True)) with in_axes over a dict --------------

W, B = R.normal(size=(4, 3)), R.normal(size=3)
TARGETS = R.normal(size=(16, 3))


def example_loss(ns):
    def loss(p, x, y):
        pred = ns.tanh(x @ p["w"] + p["b"])
        return ns.sum((pred - y) ** 2), pred
    return loss


def _per_example_closed_form():
    pred = np.tanh(X @ W + B)
    delta = 2 * (pred - TARGETS) * (1 - pred ** 2)          # d loss / d pre-activation
    return {"w": X[:, :, None] * delta[:, None, :], "b": delta}, pred


def test_per_example_gradients_have_the_closed_form():
    grads, preds = xg.vmap(xg.grad(example_loss(xg), has_aux=True), in_axes=(None, 0, 0))(
        _xg_tree({"w": W, "b": B}), xg.asarray(X), xg.asarray(TARGETS))
    want, want_pred = _per_example_closed_form()
    np.testing.assert_allclose(grads["w"].numpy(), want["w"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grads["b"].numpy(), want["b"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(preds.numpy(), want_pred, rtol=1e-14)


def test_per_example_gradients_match_jax(jax):
    jnp = jax.numpy
    want, want_pred = jax.vmap(jax.grad(example_loss(jnp), has_aux=True), in_axes=(None, 0, 0))(
        {"w": jnp.asarray(W), "b": jnp.asarray(B)}, jnp.asarray(X), jnp.asarray(TARGETS))
    got, got_pred = xg.vmap(xg.grad(example_loss(xg), has_aux=True), in_axes=(None, 0, 0))(
        _xg_tree({"w": W, "b": B}), xg.asarray(X), xg.asarray(TARGETS))
    for k in ("w", "b"):
        np.testing.assert_allclose(got[k].numpy(), np.asarray(want[k]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_pred.numpy(), np.asarray(want_pred), rtol=1e-14)


# -- 3. Jacobians and Hessians with argnums tuples ----------------------------------------------

XV, YV = R.normal(size=3), R.normal(size=2)


def vector_fn(ns):
    return lambda x, y: ns.concat([ns.sin(x) * y[0], ns.exp(y) * x[:2]])


def scalar_fn(ns):
    return lambda x, y: ns.sum(ns.sin(x)) * ns.sum(y ** 3)


def test_jacobian_and_hessian_with_argnums_have_the_closed_forms():
    jx, jy = xg.jacobian(vector_fn(xg), argnums=(0, 1))(xg.asarray(XV), xg.asarray(YV))
    want_x = np.zeros((5, 3))
    want_x[:3] = np.diag(np.cos(XV) * YV[0])
    want_x[3:, :2] = np.diag(np.exp(YV))
    want_y = np.zeros((5, 2))
    want_y[:3, 0] = np.sin(XV)
    want_y[3:] = np.diag(np.exp(YV) * XV[:2])
    np.testing.assert_allclose(jx.numpy(), want_x, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(jy.numpy(), want_y, rtol=1e-14, atol=1e-15)

    (hxx, hxy), (hyx, hyy) = xg.hessian(scalar_fn(xg), argnums=(0, 1))(xg.asarray(XV),
                                                                          xg.asarray(YV))
    s_x, s_y = np.sin(XV).sum(), (YV ** 3).sum()
    np.testing.assert_allclose(hxx.numpy(), np.diag(-np.sin(XV) * s_y), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(hxy.numpy(), np.outer(np.cos(XV), 3 * YV ** 2), rtol=1e-13)
    np.testing.assert_allclose(hyx.numpy(), hxy.numpy().T, rtol=1e-13)
    np.testing.assert_allclose(hyy.numpy(), np.diag(6 * YV * s_x), rtol=1e-13, atol=1e-15)


def test_jacobians_and_hessians_match_jax(jax):
    jnp = jax.numpy
    jargs, xargs = (jnp.asarray(XV), jnp.asarray(YV)), (xg.asarray(XV), xg.asarray(YV))
    got = xg.jacobian(vector_fn(xg), argnums=(0, 1))(*xargs)
    for transform in (jax.jacrev, jax.jacfwd):
        want = transform(vector_fn(jnp), argnums=(0, 1))(*jargs)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-14, atol=1e-15)
    got = xg.hessian(scalar_fn(xg), argnums=(0, 1))(*xargs)
    want = jax.hessian(scalar_fn(jnp), argnums=(0, 1))(*jargs)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(got[i][j].numpy(), np.asarray(want[i][j]), rtol=1e-13,
                                       atol=1e-15)
    # jax.hessian of a vector function: the recipe xg.hessian's error names
    with pytest.raises(TypeError, match=r"xg\.jacobian\(xg\.jacobian\(f\)\)"):
        xg.hessian(vector_fn(xg))(*xargs)
    got = xg.jacobian(xg.jacobian(vector_fn(xg)))(*xargs)
    np.testing.assert_allclose(got.numpy(), np.asarray(jax.hessian(vector_fn(jnp))(*jargs)),
                               rtol=1e-13, atol=1e-15)
    # a pytree argument: a tree of trees of blocks
    tree_fn = lambda ns: lambda p: scalar_fn(ns)(p["x"], p["y"])  # noqa: E731
    got = xg.hessian(tree_fn(xg))({"x": xargs[0], "y": xargs[1]})
    want = jax.hessian(tree_fn(jnp))({"x": jargs[0], "y": jargs[1]})
    for a in "xy":
        for b in "xy":
            np.testing.assert_allclose(got[a][b].numpy(), np.asarray(want[a][b]), rtol=1e-13,
                                       atol=1e-15)


# -- 4. a compiled training step with a static learning rate ------------------------------------

def train_step(ns, value_and_grad):
    def step(p, x, y, lr):
        loss, g = value_and_grad(lambda p: ns.mean((ns.tanh(x @ p["w"]) - y) ** 2))(p)
        return {k: p[k] - lr * g[k] for k in p}, loss
    return step


def _run(step, params, x, y, steps=5):
    losses = []
    for _ in range(steps):
        params, loss = step(params, x, y, 0.1)
        losses.append(float(loss))
    return params, losses


def test_compiled_step_replays_the_eager_steps():
    """jax.jit(step, static_argnums=3) is xg.function(step): a Python float is static already;
    the step traces once and replays the eager numbers."""
    args = (xg.asarray(X), xg.asarray(TARGETS))
    eager, eager_losses = _run(train_step(xg, xg.value_and_grad), _xg_tree({"w": W}), *args)
    compiled = xg.function(train_step(xg, xg.value_and_grad))
    got, got_losses = _run(compiled, _xg_tree({"w": W}), *args)
    assert compiled.trace_count == 1
    np.testing.assert_allclose(got_losses, eager_losses, rtol=1e-14)
    np.testing.assert_allclose(got["w"].numpy(), eager["w"].numpy(), rtol=1e-14)
    with pytest.raises(TypeError, match=r"static already"):
        xg.function(train_step(xg, xg.value_and_grad), static_argnums=(3,))
    with pytest.raises(TypeError, match=r"jax\.jit\(step\).*is xg\.function\(step\)"):
        xg.jit(train_step(xg, xg.value_and_grad))


def test_compiled_step_matches_jax_jit(jax):
    import functools

    jnp = jax.numpy
    jstep = functools.partial(jax.jit, static_argnums=(3,))(train_step(jnp, jax.value_and_grad))
    want, want_losses = _run(jstep, {"w": jnp.asarray(W)}, jnp.asarray(X), jnp.asarray(TARGETS))
    got, got_losses = _run(xg.function(train_step(xg, xg.value_and_grad)), _xg_tree({"w": W}),
                           xg.asarray(X), xg.asarray(TARGETS))
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-12)
    np.testing.assert_allclose(got["w"].numpy(), np.asarray(want["w"]), rtol=1e-12)
