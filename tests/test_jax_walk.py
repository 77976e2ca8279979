"""What a JAX user porting code met (the 2026-12-07 walk, docs/porting.md): ``tree_flatten`` /
``tree_unflatten`` / ``tree_structure`` as ``jax.tree_util``'s, ``clip_global_norm`` and
``global_norm`` over the pytree ``xg.grad`` returns (optax's ``clip_by_global_norm``), and
``remat(..., static_argnums=)`` as ``jax.checkpoint``'s, ``x.at[key].power`` / ``apply``
naming their recipe, and ``xg.interp`` as ``jnp.interp``. JAX computes the references (float64;
those tests skip where JAX is not installed), NumPy and finite differences the rest."""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import xpgrad as xg

Pair = namedtuple("Pair", "first second")
R = np.random.default_rng(49)
# dict keys in sorted order: JAX sorts them, xpgrad keeps a dict's own order
TREES = [
    {"a": R.normal(size=2), "b": [Pair(R.normal(size=3), None), (2.0, R.normal(size=1))]},
    (R.normal(size=(2, 2)), [R.normal(size=1)], {"x": 1.0}),
    [None, {"k": [3.0, 4.0]}, ()],
    R.normal(size=3),
    {"empty": {}, "list": []},
]


def _same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


@pytest.mark.parametrize("index", range(len(TREES)))
def test_tree_flatten_and_unflatten_match_jax_tree_util(jax, index):
    tree = TREES[index]
    leaves, treedef = xg.tree_flatten(tree)
    want_leaves, want_def = jax.tree_util.tree_flatten(tree)
    _same(leaves, want_leaves)
    assert treedef.num_leaves == want_def.num_leaves
    new = [np.asarray(leaf) * 2 + 1 for leaf in leaves]
    got = xg.tree_unflatten(treedef, new)
    want = jax.tree_util.tree_unflatten(want_def, new)
    assert xg.tree_structure(got) == treedef
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
    _same(xg.tree_leaves(got), jax.tree_util.tree_leaves(want))


def test_tree_flatten_of_none_and_is_leaf_as_jax(jax):
    leaves, treedef = xg.tree_flatten(None)
    assert leaves == jax.tree_util.tree_flatten(None)[0] == []
    assert xg.tree_unflatten(treedef, []) is None
    tree = {"a": [1, 2], "b": [[3], 4]}
    is_list = lambda t: isinstance(t, list)                                     # noqa: E731
    leaves, treedef = xg.tree_flatten(tree, is_leaf=is_list)
    want_leaves, want_def = jax.tree_util.tree_flatten(tree, is_leaf=is_list)
    assert leaves == want_leaves
    assert (xg.tree_unflatten(treedef, ["x", "y"])
            == jax.tree_util.tree_unflatten(want_def, ["x", "y"]))


def test_tree_structures_compare_by_containers_keys_and_places():
    base = xg.tree_structure({"w": 1.0, "b": (2.0, None)})
    assert base == xg.tree_structure({"w": np.ones(3), "b": (xg.ones(2), None)})
    assert hash(base) == hash(xg.tree_structure({"w": 0, "b": (0, None)}))
    assert base != xg.tree_structure({"w": 1.0, "b": [2.0, None]})      # list, not tuple
    assert base != xg.tree_structure({"w": 1.0, "c": (2.0, None)})      # another key
    assert base != xg.tree_structure({"w": 1.0, "b": (2.0, 3.0)})       # a leaf for None
    assert repr(xg.tree_structure(Pair(1.0, [2.0]))) == "PyTreeDef(Pair(first=*, second=[*]))"


def test_tree_flatten_of_a_module_rebuilds_a_model_of_the_new_leaves():
    model = xg.nn.Linear(3, 2, rng=0)
    leaves, treedef = xg.tree_flatten(model)
    _same(leaves, xg.tree_leaves(model))
    doubled = xg.tree_unflatten(treedef, [leaf * 2.0 for leaf in leaves])
    assert type(doubled) is xg.nn.Linear
    np.testing.assert_array_equal(doubled.w.numpy(), 2 * model.w.numpy())
    assert treedef == xg.tree_structure(xg.nn.Linear(3, 2, rng=1))
    assert treedef != xg.tree_structure(xg.nn.Linear(3, 2, bias=False, rng=1))


def test_tree_unflatten_refuses_a_bad_treedef_and_a_wrong_count_by_name():
    treedef = xg.tree_structure([1.0, 2.0])
    with pytest.raises(TypeError, match="tree_unflatten: treedef must be a PyTreeDef"):
        xg.tree_unflatten([1.0, 2.0], treedef)             # JAX's order swapped
    with pytest.raises(ValueError, match=r"leaves has 3 entries where the structure "
                                         r"PyTreeDef\(\[\*, \*\]\) has 2 leaves"):
        xg.tree_unflatten(treedef, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="tree_unflatten: leaves must be a list"):
        xg.tree_unflatten(treedef, 5.0)
    with pytest.raises(TypeError, match="tree_flatten: is_leaf must be None or a callable"):
        xg.tree_flatten([1.0], is_leaf=True)


# -- clip_global_norm over a pytree (optax.clip_by_global_norm) ---------------------------------

def _loss(lib, params, x):
    h = lib.tanh(x @ params["w1"] + params["b"][0])
    return lib.sum((h @ params["w2"].first) ** 2) + lib.sum(params["w2"].second ** 3)


def _params():
    return {"w1": R.normal(size=(3, 4)), "b": [R.normal(size=4), None],
            "w2": Pair(R.normal(size=(4, 2)), R.normal(size=2))}


@pytest.mark.parametrize("max_norm", [0.1, 1e6])
def test_clip_global_norm_of_a_gradient_pytree_matches_optax_rule_in_jax(jax, max_norm):
    jnp = jax.numpy
    params, x = _params(), R.normal(size=(5, 3))

    def reference(params):
        want = jax.grad(lambda p: _loss(jnp, p, x))(params)
        norm_j = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree_util.tree_leaves(want)))
        return jax.tree_util.tree_map(lambda g: jnp.where(norm_j < max_norm, g,
                                                          g / norm_j * max_norm), want), norm_j

    want, norm_j = jax.jit(reference)(params)     # one compilation for JAX's op-by-op dozens
    grads = xg.grad(lambda p: _loss(xg, p, xg.asarray(x)))(xg.tree_map(xg.asarray, params))
    clipped, norm = xg.optim.clip_global_norm(grads, max_norm)
    assert set(clipped) == set(grads) and type(clipped["w2"]) is Pair
    assert clipped["b"][1] is None
    np.testing.assert_allclose(norm.item(), float(norm_j), rtol=1e-13)
    np.testing.assert_allclose(xg.optim.global_norm(grads).item(), float(norm_j), rtol=1e-13)
    for path in (("w1",), ("b", 0), ("w2", 0), ("w2", 1)):
        g, w = clipped, want
        for k in path:
            g, w = g[k], w[k]
        np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-12, atol=1e-14)


def test_clip_global_norm_keeps_a_flat_list_a_list_and_takes_a_module():
    grads = (xg.asarray([3.0]), None, xg.asarray([4.0]))
    clipped, norm = xg.optim.clip_global_norm(grads, 1.0)
    assert type(clipped) is list and clipped[1] is None and norm.item() == 5.0
    model = xg.nn.Linear(2, 1, rng=0)
    grad = xg.grad(lambda m: xg.sum(m(xg.ones((3, 2))) ** 2))(model)
    clipped, norm = xg.optim.clip_global_norm(grad, 0.01)
    assert type(clipped) is xg.nn.Linear
    flat = xg.tree_leaves(grad)
    want = np.sqrt(sum(float(xg.sum(g.astype(xg.float64) ** 2)) for g in flat))
    np.testing.assert_allclose(norm.item(), want, rtol=1e-6)
    np.testing.assert_allclose(clipped.w.numpy(), grad.w.numpy() * 0.01 / want, rtol=1e-5)


def test_clip_global_norm_of_a_pytree_refuses_a_non_tensor_leaf_by_name():
    with pytest.raises(TypeError, match=r"clip_global_norm takes Tensors \(or None\), got str "
                                        r"at grads\['w'\] \(in a dict of gradients\)"):
        xg.optim.clip_global_norm({"w": "a"}, 1.0)
    with pytest.raises(TypeError, match=r"global_norm takes Tensors \(or None\), got float at "
                                        r"grads\[1\]\[0\]"):
        xg.optim.global_norm([xg.ones(2), [1.0]])


# -- remat(static_argnums=) ---------------------------------------------------------------------

def test_remat_static_argnums_matches_jax_checkpoint(jax):
    jnp = jax.numpy
    x = R.normal(size=4)

    def block(lib):
        return lambda v, n, scale: lib.sin(v) ** n * scale

    want = jax.grad(lambda v: jnp.sum(jax.checkpoint(block(jnp), static_argnums=(1,))(
        v, 3, 2.0)))(x)
    got = xg.grad(lambda v: xg.sum(xg.remat(block(xg), static_argnums=(1,))(
        v, 3, xg.asarray(2.0, dtype=xg.float64))))(xg.asarray(x))
    np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-13)
    got = xg.grad(lambda v: xg.sum(xg.recompute_grad(block(xg), static_argnums=1)(
        v, 3, 2.0)))(xg.asarray(x))
    np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-6)


def test_remat_static_argnums_refuses_a_tensor_and_a_bad_position():
    block = xg.remat(lambda v, n: v * n, static_argnums=(1,))
    with pytest.raises(TypeError, match="remat: argument 1 is in static_argnums but is a "
                                        "Tensor"):
        xg.grad(lambda v: xg.sum(block(v, v)))(xg.ones(2))
    with pytest.raises(TypeError, match="remat: static_argnums must be an int or a tuple of "
                                        "ints"):
        xg.remat(lambda v: v, static_argnums="1")


# -- x.at[key].power / apply: named, and the recipe the message gives computes JAX's ---------

def test_at_power_and_apply_name_the_set_recipe_which_gives_jax_values_and_gradients(jax):
    jnp = jax.numpy
    x = R.uniform(0.5, 2.0, size=5)
    rows = np.array([3, 0, 4])                   # no index repeats
    for name in ("power", "apply"):
        assert not hasattr(xg.asarray(x).at[rows], name)
        with pytest.raises(AttributeError, match=r"x\.at\[key\]\.set\("):
            getattr(xg.asarray(x).at[rows], name)

    def want(v):
        return jnp.sum(v.at[rows].power(3.0, unique_indices=True) ** 2)

    def got(v):
        return xg.sum(v.at[rows].set(v[rows] ** 3.0) ** 2)

    np.testing.assert_allclose(got(xg.asarray(x)).item(), float(want(jnp.asarray(x))),
                               rtol=1e-14)
    np.testing.assert_allclose(xg.grad(got)(xg.asarray(x)).numpy(),
                               np.asarray(jax.grad(want)(jnp.asarray(x))), rtol=1e-13)
    applied = jnp.asarray(x).at[rows].apply(jnp.sin)         # JAX has no gradient for apply
    v = xg.asarray(x)
    np.testing.assert_allclose(v.at[rows].set(xg.sin(v[rows])).numpy(), np.asarray(applied),
                               rtol=1e-15)


# -- xg.interp (jnp.interp / np.interp) ---------------------------------------------------------

KNOTS = np.array([0.0, 0.5, 0.5, 1.3, 2.0, 3.0])          # a zero-width segment at 0.5
QUERIES = np.array([-1.0, 0.0, 0.25, 0.5, 0.9, 1.3, 2.5, 3.0, 4.0])


@pytest.mark.parametrize("edges", [{}, {"left": -2.0, "right": 5.0}])
def test_interp_values_and_gradients_match_jax_in_x_xp_and_fp(jax, edges):
    jnp = jax.numpy
    values = R.normal(size=KNOTS.shape)
    weights = R.normal(size=QUERIES.shape)

    def want(q, k, v):
        return jnp.sum(jnp.interp(q, k, v, **edges) * weights)

    def got(q, k, v):
        return xg.sum(xg.interp(q, k, v, **edges) * xg.asarray(weights))

    args = (QUERIES, KNOTS, values)
    np.testing.assert_allclose(xg.interp(*map(xg.asarray, args), **edges).numpy(),
                               np.asarray(jnp.interp(*args, **edges)), rtol=1e-15)
    grads = xg.grad(got, argnums=(0, 1, 2))(*map(xg.asarray, args))
    # jitted: one compilation for JAX's op-by-op dozens
    for g, w in zip(grads, jax.jit(jax.grad(want, argnums=(0, 1, 2)))(*map(jnp.asarray, args))):
        np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-13, atol=1e-15)


def test_interp_matches_numpy_on_each_host_backend_and_shape(host_backend):
    values = R.normal(size=KNOTS.shape)
    queries = R.uniform(-1.0, 4.0, size=(3, 4))
    got = xg.interp(xg.asarray(queries, backend=host_backend),
                    xg.asarray(KNOTS, backend=host_backend),
                    xg.asarray(values, backend=host_backend))
    assert got.shape == (3, 4) and got.dtype == xg.float64
    np.testing.assert_allclose(got.numpy(), np.interp(queries, KNOTS, values), rtol=1e-15)
    scalar = xg.interp(xg.asarray(1.0, dtype=xg.float64, backend=host_backend),
                       xg.asarray(KNOTS, backend=host_backend),
                       xg.asarray(values, backend=host_backend))
    np.testing.assert_allclose(scalar.item(), np.interp(1.0, KNOTS, values), rtol=1e-15)


def test_interp_gradient_matches_finite_differences_between_knots():
    values = R.normal(size=KNOTS.shape)
    q = np.array([0.2, 0.8, 1.7, 2.4])

    def f(v):
        return xg.sum(xg.interp(xg.asarray(q), xg.asarray(KNOTS), v) ** 2)

    g = xg.grad(f)(xg.asarray(values)).numpy()
    h = 1e-6
    for k in range(len(values)):
        e = np.zeros_like(values)
        e[k] = h
        fd = (f(xg.asarray(values + e)).item() - f(xg.asarray(values - e)).item()) / (2 * h)
        np.testing.assert_allclose(g[k], fd, rtol=1e-7, atol=1e-9)


def test_interp_refuses_bad_arguments_by_name():
    k, v = xg.arange(3.0), xg.ones(3)
    with pytest.raises(TypeError, match="interp: .*x"):
        xg.interp("a", k, v)
    with pytest.raises(TypeError, match="interp: .*fp"):
        xg.interp(k, k, None)
    with pytest.raises(ValueError, match=r"interp: xp and fp must be 1-D and of one nonzero "
                                         r"length, got shapes \(3,\) and \(2,\)"):
        xg.interp(k, k, xg.ones(2))
    with pytest.raises(TypeError, match="interp: period is not supported"):
        xg.interp(k, k, v, period=2.0)
    with pytest.raises(TypeError, match="interp"):
        xg.interp(k, k, v, axis=0)
