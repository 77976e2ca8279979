"""Nested structures wherever TensorFlow and JAX users pass them.

``GradientTape.gradient``, ``watch`` and ``jacobian`` take sources as nested lists, tuples,
namedtuples and dicts and answer in the sources' structure (TensorFlow's ``tf.nest``: the
expected structures are written from its documentation, TensorFlow is not installed); a nested
target is differentiated as the sum of its Tensors, ``output_gradients`` flattened to one entry
per target Tensor. Values against the flat-list call and central finite differences (float64).
"""
from __future__ import annotations

import collections
import sys

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import numerical_vjp

Pair = collections.namedtuple("Pair", "w b")
W0 = np.array([[0.3, -1.2], [0.7, 0.5], [-0.4, 0.9]])
B0 = np.array([0.2, -0.1])
X0 = np.array([[1.0, -2.0, 0.5], [0.3, 0.8, -1.5]])


def _params():
    return (xg.Variable(W0.copy(), name="w"), xg.Variable(B0.copy(), name="b"),
            xg.Variable(np.array(0.7), name="s"))


def _loss(w, b, s):
    return xg.sum(xg.tanh(xg.asarray(X0) @ w + b) * s) + s * s


def _recorded(persistent=False):
    w, b, s = _params()
    tape = xg.GradientTape(persistent=persistent)
    with tape:
        loss = _loss(w, b, s)
    return tape, loss, (w, b, s)


def _finite_differences(w, b, s):
    """d loss / d (w, b, s) by central differences, in float64."""
    return numerical_vjp(_loss, [xg.asarray(v.numpy()) for v in (w, b, s)],
                         xg.asarray(1.0, dtype=xg.float64))


def _numpy(tree):
    return xg.pytree.map_leaves(lambda leaf, path: leaf.numpy(), tree)


# -- GradientTape.gradient ------------------------------------------------------------------
def test_a_dict_of_sources_gives_a_dict_of_gradients_equal_to_the_flat_call():
    tape, loss, (w, b, s) = _recorded(persistent=True)
    flat = tape.gradient(loss, [w, b, s])
    nested = tape.gradient(loss, {"dense": {"kernel": w, "bias": b}, "scale": s})
    assert list(nested) == ["dense", "scale"] and list(nested["dense"]) == ["kernel", "bias"]
    for got, want in zip((nested["dense"]["kernel"], nested["dense"]["bias"], nested["scale"]),
                         flat):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    for got, want in zip(flat, _finite_differences(w, b, s)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-9)


def test_nested_lists_tuples_and_namedtuples_keep_their_types():
    tape, loss, (w, b, s) = _recorded(persistent=True)
    flat = tape.gradient(loss, [w, b, s])
    got = tape.gradient(loss, [Pair(w, b), (s, [w])])
    assert type(got) is list and type(got[0]) is Pair and type(got[1]) is tuple
    assert type(got[1][1]) is list
    for leaf, want in zip((got[0].w, got[0].b, got[1][0], got[1][1][0]), flat + [flat[0]]):
        np.testing.assert_array_equal(leaf.numpy(), want.numpy())


def test_a_flat_list_gives_a_list_and_a_tuple_a_tuple_as_before():
    tape, loss, (w, b, s) = _recorded(persistent=True)
    assert type(tape.gradient(loss, [w, b])) is list
    assert type(tape.gradient(loss, (w, b))) is tuple
    assert isinstance(tape.gradient(loss, w), xg.Tensor)


def test_a_generator_gives_a_list_and_dict_subclasses_keep_their_type():
    tape, loss, (w, b, s) = _recorded(persistent=True)
    flat = tape.gradient(loss, [w, b])
    got = tape.gradient(loss, (v for v in (w, b)))
    assert type(got) is list and np.array_equal(got[1].numpy(), flat[1].numpy())
    got = tape.gradient(loss, ({"w": v} for v in (w, b)))
    assert type(got) is list and np.array_equal(got[1]["w"].numpy(), flat[1].numpy())
    ordered = tape.gradient(loss, collections.OrderedDict(b=b, w=[w]))
    assert type(ordered) is collections.OrderedDict and list(ordered) == ["b", "w"]
    default = tape.gradient(loss, collections.defaultdict(list, w=w))
    assert type(default) is collections.defaultdict and default.default_factory is list
    np.testing.assert_array_equal(default["w"].numpy(), flat[0].numpy())


@pytest.mark.parametrize("mode", ["none", "zero"])
def test_unconnected_gradients_apply_to_each_leaf(mode):
    tape, loss, (w, b, s) = _recorded()
    other = xg.Variable(np.ones(3), name="unused")
    got = tape.gradient(loss, {"used": [w], "unused": {"v": other}},
                        unconnected_gradients=mode)
    assert got["used"][0].shape == w.shape
    if mode == "none":
        assert got["unused"]["v"] is None
    else:
        np.testing.assert_array_equal(got["unused"]["v"].numpy(), np.zeros(3))


def test_the_same_variable_twice_gets_the_gradient_twice_as_separate_arrays():
    tape, loss, (w, b, s) = _recorded()
    got = tape.gradient(loss, {"a": w, "b": [w, s]})
    np.testing.assert_array_equal(got["a"].numpy(), got["b"][0].numpy())
    assert got["a"] is not got["b"][0]
    got["a"]._data[...] = 0.0                  # writing one does not change the other
    assert np.abs(got["b"][0].numpy()).sum() > 0


def test_a_nested_target_is_the_sum_of_its_tensors():
    """TensorFlow: ``target`` is "a list or nested structure of Tensors"; the gradient is that of
    their sum, each seeded with ones (or its entry of the flattened ``output_gradients``)."""
    w, b, s = _params()
    with xg.GradientTape(persistent=True) as tape:
        first, second = _loss(w, b, s), xg.tanh(w) * 2.0
        total = first + xg.sum(second)
        weighted = 3.0 * first + xg.sum(second * xg.asarray(W0))
    want = tape.gradient(total, [w, b, s])
    got = tape.gradient({"first": first, "rest": [second]}, [w, b, s])
    for g, h in zip(got, want):
        np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-12)
    got = tape.gradient([first, second], [w, b, s], output_gradients=[3.0, W0])
    for g, h in zip(got, tape.gradient(weighted, [w, b, s])):
        np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-12)
    twice = tape.gradient([first, first], s)       # the same target twice counts twice
    np.testing.assert_allclose(twice.numpy(), 2 * tape.gradient(first, s).numpy())


def test_output_gradients_of_a_nested_target_one_per_tensor():
    tape, loss, (w, b, s) = _recorded(persistent=True)
    with pytest.raises(ValueError, match="output_gradients has 1 entries for the 2 Tensors"):
        tape.gradient([loss, loss], w, output_gradients=[1.0])
    with pytest.raises(ValueError, match=r"output_gradients\[1\] has shape \(3,\) but "
                                         r"target\[1\] has shape \(\)"):
        tape.gradient([loss, loss], w, output_gradients=[1.0, np.ones(3)])
    none_is_ones = tape.gradient([loss, loss], w, output_gradients=[None, 1.0])
    np.testing.assert_allclose(none_is_ones.numpy(), tape.gradient([loss, loss], w).numpy())


def test_output_gradients_line_up_with_a_dict_target_as_tf_nest_flattens_them():
    """tf.nest.flatten sorts a dict's keys: a flat list of output gradients follows the sorted
    keys, and a dict of them lines up key by key whatever its order."""
    tape, loss, (w, b, s) = _recorded(persistent=True)
    with tape:
        y = xg.tanh(w)
        combined = 3.0 * loss + xg.sum(y * xg.asarray(W0))
    want = tape.gradient(combined, [w, s])
    for og in ([3.0, W0], {"b_y": W0, "a_loss": 3.0}):
        got = tape.gradient({"b_y": y, "a_loss": loss}, [w, s], output_gradients=og)
        for g, h in zip(got, want):
            np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"output_gradients\['b_y'\] has shape \(\) but "
                                         r"target\['b_y'\] has shape \(3, 2\)"):
        tape.gradient({"b_y": y, "a_loss": loss}, w, output_gradients={"b_y": 1.0, "a_loss": 1.0})


def test_nested_sources_under_an_outer_tape_give_second_derivatives():
    x = xg.asarray(np.array([0.5, -1.0]))
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch({"x": x})
            y = xg.sum(x ** 3)
        g = inner.gradient(y, {"x": [x]})["x"][0]
    np.testing.assert_allclose(outer.gradient(g, x).numpy(), 6 * x.numpy())


# -- bad input: the argument and the leaf's path are named ------------------------------------
@pytest.mark.parametrize("sources, message", [
    (lambda w: {"a": [w, None]}, r"sources must be Tensors, got NoneType at sources\['a'\]\[1\]"),
    (lambda w: {"a": {"b": "w"}}, r"sources must be Tensors, got str at sources\['a'\]\['b'\]"),
    (lambda w: [w, (np.ones(2),)], r"got ndarray at sources\[1\]\[0\].*xg.asarray"),
    (lambda w: [w, 1.0], r"got float at sources\[1\]"),
    (lambda w: {"s": {w}}, r"got set at sources\['s'\].*no order"),
    (lambda w: {w}, r"sources must be a Tensor or a list of Tensors, got set.*no order"),
    (lambda w: "w", r"sources must be a Tensor or a list of Tensors, got str"),
    (lambda w: None, r"sources must be a Tensor or a list of Tensors, got NoneType"),
])
def test_bad_sources_are_named_with_their_path(sources, message):
    tape, loss, (w, b, s) = _recorded()
    with pytest.raises(TypeError, match=message):
        tape.gradient(loss, sources(w))
    assert tape.gradient(loss, w) is not None      # a refused call does not spend the tape


@pytest.mark.parametrize("target, message", [
    (lambda loss: [loss, None], r"target\[1\] must be a Tensor, got NoneType"),
    (lambda loss: {"a": 0.5}, r"target\['a'\] must be a Tensor, got float: the value has left"),
    (lambda loss: "loss", r"target must be a Tensor, got str"),
])
def test_bad_targets_are_named_with_their_path(target, message):
    tape, loss, (w, b, s) = _recorded()
    with pytest.raises(TypeError, match=message):
        tape.gradient(target(loss), w)


# -- watch and jacobian ------------------------------------------------------------------------
def test_watch_takes_nested_structures():
    a, b, c = (xg.asarray(np.array(v)) for v in (1.0, 2.0, 3.0))
    with xg.GradientTape() as tape:
        tape.watch({"a": a, "rest": [Pair(b, (c,))]})
        y = a * b * c
    got = tape.gradient(y, Pair(a, {"b": b, "c": c}))
    assert (got.w.item(), got.b["b"].item(), got.b["c"].item()) == (6.0, 3.0, 2.0)


@pytest.mark.parametrize("tree, message", [
    ({"a": "x"}, r"watch\(\) takes Tensors, got str at tensor\['a'\]"),
    ([1.0], r"watch\(\) takes Tensors, got float at tensor\[0\]"),
    ({"a": [None]}, r"watch\(\) takes Tensors, got NoneType at tensor\['a'\]\[0\]"),
])
def test_watch_names_the_path_of_a_bad_leaf(tree, message):
    with pytest.raises(TypeError, match=message):
        xg.GradientTape().watch(tree)


def test_jacobian_takes_nested_sources_as_tensorflow():
    w, b, s = _params()
    with xg.GradientTape(persistent=True) as tape:
        y = xg.tanh(xg.asarray(X0) @ w + b) * s
    flat = tape.jacobian(y, [w, b, s])
    got = tape.jacobian(y, {"layer": Pair(w, b), "scale": [s]})
    assert type(got["layer"]) is Pair and type(got["scale"]) is list
    for leaf, want in zip((got["layer"].w, got["layer"].b, got["scale"][0]), flat):
        assert leaf.shape == want.shape
        np.testing.assert_array_equal(leaf.numpy(), want.numpy())
    assert type(tape.jacobian(y, (w, b))) is tuple
    with pytest.raises(TypeError, match=r"sources must be Tensors, got str at sources\['b'\]"):
        tape.jacobian(y, {"w": w, "b": "b"})


# -- DistributedGradientTape ---------------------------------------------------------------
def test_distributed_gradient_tape_answers_in_the_sources_structure():
    from xpgrad import distributed as dist

    tape, loss, (w, b, s) = _recorded(persistent=True)
    flat = tape.gradient(loss, [w, b, s])
    got = dist.DistributedGradientTape(tape).gradient(
        {"loss": loss}, {"layer": Pair(w, b), "scale": [s]}, weight=2)
    assert type(got["layer"]) is Pair and type(got["scale"]) is list
    for leaf, want in zip((got["layer"].w, got["layer"].b, got["scale"][0]), flat):
        np.testing.assert_array_equal(leaf.numpy(), want.numpy())
    with pytest.raises(ValueError, match=r"twice \(sources\['a'\] and sources\['b'\]\[0\]\)"):
        dist.DistributedGradientTape(tape).gradient(loss, {"a": w, "b": [w]})
    with pytest.raises(TypeError, match=r"sources must be Tensors, got str at sources\['b'\]"):
        dist.DistributedGradientTape(tape).gradient(loss, {"a": w, "b": "b"})


def test_distributed_gradient_tape_with_nested_sources_across_two_ranks():
    from test_distributed import HERE, mpirun, needs_mpi

    if needs_mpi.args[0]:
        pytest.skip(needs_mpi.kwargs["reason"])
    res = mpirun(2, sys.executable, str(HERE / "mpi_worker.py"), "nested", timeout=60)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    assert {f"rank {r} ok: nested sources" for r in range(2)} <= set(res.stdout.splitlines())


# -- vjp, jvp, hvp on pytrees, against JAX -----------------------------------------------------
T_W = np.array([[0.5, -0.3], [0.1, 0.9], [-0.7, 0.2]])
T_B = np.array([-0.4, 0.6])
T_X = np.array([[0.2, -0.1, 0.4], [1.1, 0.3, -0.6]])


def _model(ns):
    """``f(params, x)`` returning a pytree, and a scalar ``g``, on xpgrad or jax.numpy."""
    def f(p, x):
        h = ns.tanh(x @ p["w"] + p["b"][0])
        return {"h": h, "extra": (ns.sum(p["w"] ** 2) * p["b"][0],)}

    def g(p, x):
        return ns.sum(ns.tanh(x @ p["w"] + p["b"][0]) ** 2) + ns.sum(p["w"] ** 3) * ns.sum(x)

    return f, g


def _trees(wrap):
    params = {"w": wrap(W0), "b": [wrap(B0)]}
    tangents = {"b": [wrap(T_B)], "w": wrap(T_W)}        # keys in another order: same tree
    return params, wrap(X0), tangents, wrap(T_X)


def _assert_same_tree(got, want, jax):
    """Same structure (container types, dict keys) and values as a JAX result."""
    got_leaves, got_def = jax.tree_util.tree_flatten(
        xg.pytree.map_leaves(lambda leaf, path: leaf.numpy(), got))
    want_leaves, want_def = jax.tree_util.tree_flatten(want)
    assert got_def == want_def
    for g, w in zip(got_leaves, want_leaves):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-12, atol=1e-14)


def test_vjp_of_pytrees_as_jax_vjp(jax):
    jnp = jax.numpy
    params, x, _, _ = _trees(xg.asarray)
    out, pullback = xg.vjp(_model(xg)[0], params, x)
    cotangent = {"h": xg.asarray(T_X.T[:2] * 3.0), "extra": (xg.asarray(np.array([0.5, -2.0])),)}
    got = pullback(cotangent)
    j_params, j_x, _, _ = _trees(jnp.asarray)
    j_out, j_pullback = jax.vjp(_model(jnp)[0], j_params, j_x)
    want = j_pullback(jax.tree_util.tree_map(lambda c: jnp.asarray(c.numpy()), cotangent))
    _assert_same_tree(out, j_out, jax)
    assert type(got) is tuple and len(got) == 2
    _assert_same_tree(got, want, jax)


def test_vjp_of_pytrees_against_the_flat_call_and_finite_differences():
    params, x, _, _ = _trees(xg.asarray)
    f = _model(xg)[0]
    cotangent = {"h": xg.asarray(T_X.T[:2]), "extra": (xg.asarray(T_B),)}
    (g_params, g_x) = xg.vjp(f, params, x)[1](cotangent)

    def flat(w, b, x):           # one output: sum of each output Tensor times its cotangent
        out = f({"w": w, "b": [b]}, x)
        return xg.sum(out["h"] * cotangent["h"]) + xg.sum(out["extra"][0] * cotangent["extra"][0])

    _, pullback = xg.vjp(flat, params["w"], params["b"][0], x)
    for got, want in zip((g_params["w"], g_params["b"][0], g_x), pullback(xg.asarray(1.0))):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    numeric = numerical_vjp(flat, [params["w"], params["b"][0], x], xg.asarray(1.0))
    for got, want in zip((g_params["w"], g_params["b"][0], g_x), numeric):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-9)


def test_jvp_of_pytrees_as_jax_jvp(jax):
    jnp = jax.numpy
    params, x, t_params, t_x = _trees(xg.asarray)
    out, product = xg.jvp(_model(xg)[0], (params, x), (t_params, t_x))
    j_params, j_x, j_tp, j_tx = _trees(jnp.asarray)
    j_out, j_product = jax.jvp(_model(jnp)[0], (j_params, j_x), (j_tp, j_tx))
    _assert_same_tree(out, j_out, jax)
    _assert_same_tree(product, j_product, jax)
    one, one_product = xg.jvp(lambda p: _model(xg)[0](p, x), params, t_params)   # one primal
    _assert_same_tree(one_product, jax.jvp(lambda p: _model(jnp)[0](p, j_x), (j_params,),
                                           (j_tp,))[1], jax)


@pytest.mark.parametrize("single", [True, False])
def test_hvp_of_pytrees_as_jax_jvp_of_grad(single, jax):
    jnp = jax.numpy
    params, x, t_params, t_x = _trees(xg.asarray)
    j_params, j_x, j_tp, j_tx = _trees(jnp.asarray)
    g, j_g = _model(xg)[1], _model(jnp)[1]
    if single:
        value, product = xg.hvp(lambda p: g(p, x), params, t_params)
        j_value, j_product = jax.jvp(jax.grad(lambda p: j_g(p, j_x)), (j_params,), (j_tp,))
    else:
        value, product = xg.hvp(g, (params, x), (t_params, t_x))
        j_value, j_product = jax.jvp(jax.grad(j_g, argnums=(0, 1)), (j_params, j_x),
                                     (j_tp, j_tx))
    np.testing.assert_allclose(value.numpy(), np.asarray(j_g(j_params, j_x)), rtol=1e-12)
    _assert_same_tree(product, j_product, jax)


@pytest.mark.parametrize("call, error, message", [
    (lambda p, x, t: xg.jvp(_model(xg)[0], (p, x), ({"w": t["w"], "b": t["b"][0]}, x)),
     ValueError, r"jvp: tangents\[0\]\['b'\] is a leaf \(Tensor\) where primals\[0\]\['b'\] is "
                 r"a list of 1"),
    (lambda p, x, t: xg.jvp(_model(xg)[0], (p, x), ({"w": "w", "b": t["b"]}, x)),
     TypeError, r"jvp: tangents\[0\]\['w'\] \(str 'w'\) is not a tensor"),
    (lambda p, x, t: xg.hvp(_model(xg)[1], (p, x), ({"w": t["w"], "b": [x]}, x)),
     ValueError, r"hvp: tangents\[0\]\['b'\]\[0\] has shape \(2, 3\) but its primal has shape "
                 r"\(2,\)"),
    (lambda p, x, t: xg.hvp(_model(xg)[1], (p, x), ({"w": t["w"]}, x)),
     ValueError, r"hvp: tangents\[0\] is a dict with keys \['w'\] where primals\[0\] is a dict "
                 r"with keys \['b', 'w'\]"),
    (lambda p, x, t: xg.vjp(_model(xg)[0], p, x)[1]({"h": x.T[:2], "extra": x}),
     ValueError, r"cotangent\['extra'\] is a leaf \(Tensor\) where f's output\['extra'\] is a "
                 r"tuple of 1"),
    (lambda p, x, t: xg.vjp(_model(xg)[0], p, x)[1]({"h": None, "extra": (t["b"][0],)}),
     TypeError, r"cotangent\['h'\] of the output's shape \(2, 2\), got None"),
    (lambda p, x, t: xg.vjp(_model(xg)[0], p, x)[1]({"h": x, "extra": (t["b"][0],)}),
     ValueError, r"vjp_fn: cotangent\['h'\] has shape \(2, 3\) but the output there has shape"),
    (lambda p, x, t: xg.vjp(lambda p: {"a": p["w"], "n": 2.0}, p),
     TypeError, r"vjp needs a function returning Tensors.*got float at output\['n'\]"),
])
def test_bad_pytrees_in_products_name_the_argument_and_the_path(call, error, message):
    params, x, t_params, _ = _trees(xg.asarray)
    with pytest.raises(error, match=message):
        call(params, x, t_params)
