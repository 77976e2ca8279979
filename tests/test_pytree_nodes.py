"""The user's classes as pytree nodes (xpgrad/pytree_nodes.py): ``xg.register_dataclass``,
``register_pytree_node`` and ``register_pytree_node_class`` as ``jax.tree_util``'s, through
grad, value_and_grad(has_aux), vmap (in_axes as the same class), xg.function (aux data static:
a new aux traces anew), tree_map / flatten / unflatten, an optimizer step and a scan carry.
JAX runs the same programs on the same classes (registered with it too) for the references,
float64; finite differences check the gradient too."""
from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pytest

import xpgrad as xg


@xg.register_dataclass
@dataclasses.dataclass
class Params:
    w: object
    layers: object
    act: str = dataclasses.field(default="tanh", metadata=dict(static=True))


class Scaled:
    """A class registered by functions: ``x`` a child, ``scale`` aux data."""

    def __init__(self, x, scale):
        self.x, self.scale = x, scale


xg.register_pytree_node(Scaled, lambda s: ((s.x,), s.scale),
                        lambda scale, children: Scaled(children[0], scale))


@xg.register_pytree_node_class
class Box:
    def __init__(self, a, b, tag):
        self.a, self.b, self.tag = a, b, tag

    def tree_flatten(self):
        return (self.a, self.b), self.tag

    @classmethod
    def tree_unflatten(cls, tag, children):
        return cls(*children, tag)


R = np.random.default_rng(4949)
W, B, V, X = (R.normal(size=s) for s in ((3, 2), (2,), (2,), (4, 3)))


@pytest.fixture(scope="module")
def jnp_nodes(jax):
    """JAX's numpy, with the test's classes registered in JAX's registry too."""
    jax.tree_util.register_dataclass(Params)
    jax.tree_util.register_pytree_node(Scaled, lambda s: ((s.x,), s.scale),
                                       lambda scale, children: Scaled(children[0], scale))
    jax.tree_util.register_pytree_node_class(Box)
    jax.tree_util.register_pytree_node(Stack, _stack_flatten, _stack_unflatten)
    return jax.numpy


def _params(make, act="tanh"):
    return Params(make(W), [{"b": make(B)}, None, Scaled(make(V), 2.0)], act)


def _loss(lib, p, x):
    h = (lib.tanh if p.act == "tanh" else lambda z: lib.maximum(z, 0.0))(
        x @ p.w + p.layers[0]["b"])
    return lib.sum((h * p.layers[2].x * p.layers[2].scale) ** 2)


def _close(got, want, tol=1e-12):
    got_leaves, want_leaves = xg.tree_leaves(got), _jax_leaves(want)
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=tol, atol=tol)


def _jax_leaves(tree):
    import jax
    return jax.tree_util.tree_leaves(tree)


def _xg(array):
    return xg.asarray(np.asarray(array), dtype=xg.float64)


def test_grad_of_a_dataclass_of_params_matches_jax_and_finite_differences(jax, jnp_nodes):
    x = _xg(X)
    got = xg.grad(lambda p: _loss(xg, p, x))(_params(_xg))
    want = jax.grad(lambda p: _loss(jnp_nodes, p, jnp_nodes.asarray(X)))(
        _params(jnp_nodes.asarray))
    assert type(got) is Params and got.act == "tanh" and got.layers[1] is None
    assert type(got.layers[2]) is Scaled and got.layers[2].scale == 2.0
    _close(got, want)
    leaves, treedef = xg.tree_flatten(_params(_xg))
    direction = [R.normal(size=leaf.shape) for leaf in leaves]
    eps = 1e-6

    def at(t):
        return _loss(np, treedef.unflatten([np.asarray(leaf) + t * d
                                            for leaf, d in zip(leaves, direction)]), X)

    slope = sum(float(np.sum(np.asarray(g) * d)) for g, d in zip(xg.tree_leaves(got),
                                                                 direction))
    assert slope == pytest.approx((at(eps) - at(-eps)) / (2 * eps), rel=1e-7)


def test_value_and_grad_with_aux_over_a_registered_node_matches_jax(jax, jnp_nodes):
    x = _xg(X)

    def fn(lib, p, x):
        loss = _loss(lib, p, x)
        return loss, Box(loss * 2, {"n": p.layers[2].scale}, p.act)

    (value, aux), grads = xg.value_and_grad(lambda p: fn(xg, p, x), has_aux=True)(
        _params(_xg, "relu"))
    (j_value, j_aux), j_grads = jax.value_and_grad(
        lambda p: fn(jnp_nodes, p, jnp_nodes.asarray(X)), has_aux=True)(
        _params(jnp_nodes.asarray, "relu"))
    assert float(value) == pytest.approx(float(j_value), rel=1e-13)
    assert type(aux) is Box and aux.tag == "relu" and aux.b == {"n": 2.0}
    _close(aux, j_aux)
    _close(grads, j_grads)


def test_vmap_with_in_axes_as_the_same_dataclass_matches_jax(jax, jnp_nodes):
    ws = R.normal(size=(5, 3, 2))

    def batched(lib, make):
        p = Params(make(ws), [{"b": make(B)}, None, Scaled(make(V), 2.0)])
        axes = Params(0, [{"b": None}, None, Scaled(None, 2.0)])
        return p, axes

    p, axes = batched(xg, _xg)
    got = xg.vmap(lambda p, x: _loss(xg, p, x), in_axes=(axes, None))(p, _xg(X))
    jp, j_axes = batched(jnp_nodes, jnp_nodes.asarray)
    want = jax.vmap(lambda p, x: _loss(jnp_nodes, p, x), in_axes=(j_axes, None))(
        jp, jnp_nodes.asarray(X))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12)
    wrong = Params(0, [{"b": None}, None, Scaled(None, 3.0)])     # another aux: another tree
    with pytest.raises(ValueError, match=r"in_axes\[0\]\.layers\[2\] is a Scaled node with "
                                         r"aux data 3\.0"):
        xg.vmap(lambda p, x: _loss(xg, p, x), in_axes=(wrong, None))(p, _xg(X))


def test_function_traces_once_per_aux_data_and_replays_jax_s_values(jax, jnp_nodes):
    x = _xg(X)
    step = xg.function(lambda p, x: xg.grad(lambda q: _loss(xg, q, x))(p))
    j_step = jax.jit(jax.grad(lambda p, x: _loss(jnp_nodes, p, x)))
    counts = []
    for i, act in enumerate(["tanh", "tanh", "tanh", "relu", "relu", "relu", "tanh"]):
        p = _params(lambda a: _xg(a * (1 + 0.1 * i)), act)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = step(p, x)
        _close(got, j_step(_params(lambda a: jnp_nodes.asarray(a * (1 + 0.1 * i)), act),
                           jnp_nodes.asarray(X)))
        counts.append(step.trace_count)
    # a trace on the second call of each signature; back to "tanh": its program again
    assert counts == [0, 1, 1, 1, 2, 2, 2]


def test_tree_map_flatten_unflatten_round_trip_as_jax(jax, jnp_nodes):
    tree = _params(np.asarray)
    leaves, treedef = xg.tree_flatten(tree)
    j_leaves, j_def = jax.tree_util.tree_flatten(tree)
    assert treedef.num_leaves == j_def.num_leaves == 3
    for g, w in zip(leaves, j_leaves):
        assert g is w
    back = xg.tree_unflatten(treedef, [leaf * 2 for leaf in leaves])
    j_back = jax.tree_util.tree_unflatten(j_def, [leaf * 2 for leaf in j_leaves])
    assert jax.tree_util.tree_structure(back) == j_def
    _close(back, j_back)
    assert xg.tree_structure(back) == treedef
    assert (xg.tree_structure(_params(np.asarray, "relu")) == treedef) is (
        jax.tree_util.tree_structure(_params(np.asarray, "relu")) == j_def) is False
    doubled = xg.tree_map(lambda a, b: a + b, tree, back)
    _close(doubled, jax.tree_util.tree_map(lambda a, b: a + b, tree, j_back))
    box = Box(1.0, [2.0, None], "t")
    assert xg.tree_leaves(box) == jax.tree_util.tree_leaves(box) == [1.0, 2.0]
    assert repr(xg.tree_structure(box)) == "PyTreeDef(CustomNode(Box['t'], [*, [*, None]]))"
    with pytest.raises(ValueError, match=r"rest\[0\] is a Box node with aux data 'other tag' "
                                         r"where tree is a Box node with aux data 't'"):
        xg.tree_map(lambda a, b: a, box, Box(1.0, [2.0, None], "other tag"))


class Child(Scaled):
    """A subclass of a registered class: a leaf, as in JAX (its registry is by exact type)."""


def test_a_subclass_of_a_registered_class_is_a_leaf_as_in_jax(jax, jnp_nodes):
    child = Child(1.0, 2.0)
    assert xg.tree_leaves([child]) == jax.tree_util.tree_leaves([child]) == [child]


def test_an_optimizer_step_over_a_dataclass_matches_adam_s_first_step(jax, jnp_nodes):
    params = _params(_xg)
    grads = xg.grad(lambda p: _loss(xg, p, _xg(X)))(params)
    opt = xg.optim.Adam(learning_rate=0.01)
    updates, state = opt.update(grads, opt.init(params), params)
    new = xg.optim.apply_updates(params, updates)
    assert type(new) is Params and int(state.count) == 1
    j_params = _params(jnp_nodes.asarray)
    j_grads = jax.grad(lambda p: _loss(jnp_nodes, p, jnp_nodes.asarray(X)))(j_params)
    # Adam's first step: m-hat = g, v-hat = g ** 2 (optax's formula, in JAX)
    want = jax.tree_util.tree_map(lambda p, g: p - 0.01 * g / (jnp_nodes.abs(g) + 1e-7),
                                  j_params, j_grads)
    _close(new, want, tol=1e-9)
    clipped, norm = xg.optim.clip_global_norm(grads, 1.0)
    assert type(clipped) is Params
    assert float(norm) == pytest.approx(float(jnp_nodes.sqrt(sum(
        jnp_nodes.sum(g ** 2) for g in _jax_leaves(j_grads)))), rel=1e-12)


def test_a_scan_carry_of_a_registered_node_matches_lax_scan(jax, jnp_nodes):
    def body(lib):
        def step(carry, x):
            new = Box(carry.a * x + lib.sum(carry.b["v"]), {"v": carry.b["v"] * 0.5},
                      carry.tag)
            return new, carry.a * 2
        return step

    xs = R.normal(size=4)
    carry, ys = xg.scan(body(xg), Box(_xg(W[0]), {"v": _xg(V)}, "c"), _xg(xs))
    j_carry, j_ys = jax.lax.scan(body(jnp_nodes), Box(jnp_nodes.asarray(W[0]),
                                                      {"v": jnp_nodes.asarray(V)}, "c"),
                                 jnp_nodes.asarray(xs))
    assert type(carry) is Box and carry.tag == "c"
    _close(carry, j_carry)
    np.testing.assert_allclose(np.asarray(ys), np.asarray(j_ys), rtol=1e-12)


class Odd:
    def __init__(self, x):
        self.x = x


def test_bad_registrations_and_flatten_results_name_the_argument():
    with pytest.raises(TypeError, match="register_pytree_node: nodetype must be a class, got "
                                        "Odd"):
        xg.register_pytree_node(Odd(1), lambda o: ((), None), lambda a, c: None)
    with pytest.raises(TypeError, match="register_dataclass: nodetype must be a class"):
        xg.register_dataclass("Params")
    with pytest.raises(ValueError, match="Params is a pytree node already"):
        xg.register_dataclass(Params)
    with pytest.raises(ValueError, match="dict is a pytree node already"):
        xg.register_pytree_node(dict, lambda d: ((), None), lambda a, c: {})
    with pytest.raises(TypeError, match="register_pytree_node: unflatten_func must be a "
                                        "callable"):
        xg.register_pytree_node(Odd, lambda o: ((o.x,), None), None)
    with pytest.raises(TypeError, match="register_pytree_node_class: cls must have a "
                                        "tree_flatten method"):
        xg.register_pytree_node_class(Odd)
    with pytest.raises(TypeError, match="data_fields and meta_fields are needed where "
                                        "nodetype is no dataclass"):
        xg.register_dataclass(Odd)

    @dataclasses.dataclass
    class Two:
        a: object
        b: object

    with pytest.raises(ValueError, match=r"must name the init fields of Two .*missing \['b'\]"):
        xg.register_dataclass(Two, data_fields=["a"], meta_fields=[])

    class Bad:
        def __init__(self, x):
            self.x = x

    xg.register_pytree_node(Bad, lambda b: [b.x], lambda aux, children: Bad(*children))
    with pytest.raises(TypeError, match=r"register_pytree_node: flatten_func of Bad must "
                                        r"return a pair \(children, aux_data\), got list"):
        xg.tree_leaves(Bad(1.0))

    class Loose:
        def __init__(self, x):
            self.x = x

    xg.register_pytree_node(Loose, lambda b: (b.x, None), lambda aux, children: Loose(*children))
    with pytest.raises(TypeError, match="flatten_func of Loose must return .*children a tuple "
                                        "or list of subtrees, got float"):
        xg.tree_map(lambda v: v, Loose(1.0))


def test_unhashable_aux_data_under_function_names_the_class():
    class Listed:
        def __init__(self, x, meta):
            self.x, self.meta = x, meta

    xg.register_pytree_node(Listed, lambda b: ((b.x,), b.meta),
                            lambda meta, children: Listed(children[0], meta))
    f = xg.function(lambda b: b.x * 2)
    with pytest.raises(TypeError, match="aux data of a Listed pytree node must be hashable"):
        f(Listed(xg.ones(2), ["not", "hashable"]))


def test_custom_vjp_with_a_node_argument_and_node_residuals_matches_jax(jax, jnp_nodes):
    def build(lib, custom_vjp):
        @custom_vjp
        def f(box):
            return lib.sum(lib.sin(box.a) * box.b["v"])

        def fwd(box):
            return f(box), Box(lib.cos(box.a), {"v": box.b["v"]}, box.tag)   # residuals: a node

        def bwd(saved, g):
            return (Box(g * saved.a * saved.b["v"], {"v": g * 0.0 * saved.b["v"]}, saved.tag),)

        f.defvjp(fwd, bwd)
        return f

    f, j_f = build(xg, xg.custom_vjp), build(jnp_nodes, jax.custom_vjp)
    got = xg.grad(f)(Box(_xg(V), {"v": _xg(B)}, "r"))
    want = jax.grad(j_f)(Box(jnp_nodes.asarray(V), {"v": jnp_nodes.asarray(B)}, "r"))
    assert type(got) is Box and got.tag == "r"
    _close(got, want)


def test_the_registrations_are_in_xg_tree_util_with_the_tree_functions():
    for name in ("register_pytree_node", "register_pytree_node_class", "register_dataclass",
                 "tree_map", "tree_leaves", "tree_flatten", "tree_unflatten", "tree_structure"):
        assert getattr(xg.tree_util, name) is getattr(xg, name)
    with pytest.raises(AttributeError, match="register_static.*xg.register_pytree_node"):
        xg.register_static    # noqa: B018


class Stack:
    """A class that keeps the children ``unflatten_func`` gets as they come (JAX passes a
    tuple): ``push`` concatenates a tuple to them."""

    def __init__(self, items, name):
        self.items, self.name = items, name

    def push(self, value):
        return Stack(self.items + (value,), self.name)


def _stack_flatten(s):
    return s.items, s.name


def _stack_unflatten(name, items):
    return Stack(items, name)


xg.register_pytree_node(Stack, _stack_flatten, _stack_unflatten)


def test_unflatten_func_gets_the_children_as_a_tuple_as_jax_gives_them(jax, jnp_nodes):
    stack = Stack((np.asarray(W), np.asarray(V)), "s")
    _, treedef = xg.tree_flatten(stack)
    _, j_def = jax.tree_util.tree_flatten(stack)
    made = {
        "tree_map": (xg.tree_map(lambda a: a * 2, stack),
                     jax.tree_util.tree_map(lambda a: a * 2, stack)),
        "tree_unflatten": (xg.tree_unflatten(treedef, [W, V]),
                           jax.tree_util.tree_unflatten(j_def, [W, V])),
        "grad": (xg.grad(lambda s: xg.sum(s.items[0]) * xg.sum(s.items[1] ** 2))(
            Stack((_xg(W), _xg(V)), "s")),
            jax.grad(lambda s: jnp_nodes.sum(s.items[0]) * jnp_nodes.sum(s.items[1] ** 2))(
                Stack((jnp_nodes.asarray(W), jnp_nodes.asarray(V)), "s"))),
    }
    step = xg.function(lambda s: s.push(xg.sum(s.items[0])))
    for _ in range(3):                   # warm-up, trace, replay
        made["function"] = (step(Stack((_xg(W),), "s")),
                            jax.jit(lambda s: s.push(jnp_nodes.sum(s.items[0])))(
                                Stack((jnp_nodes.asarray(W),), "s")))
    for how, (ours, theirs) in made.items():
        assert type(ours.items) is type(theirs.items) is tuple, how
        pushed, j_pushed = ours.push(1.0), theirs.push(1.0)
        assert len(pushed.items) == len(j_pushed.items), how
        for a, b in zip(ours.items, theirs.items):
            np.testing.assert_allclose(np.asarray(a.numpy() if isinstance(a, xg.Tensor) else a),
                                       np.asarray(b), rtol=1e-12, err_msg=how)


def test_a_registered_node_as_a_tapes_sources_matches_jax_grad(jax, jnp_nodes):
    """``tape.gradient(loss, params)`` with ``params`` a registered node was a TypeError
    ('sources must be a Tensor or a list of Tensors') while ``[params]`` and ``{"p":
    params}`` were taken; ``tape.jacobian`` too."""
    x = _xg(X)
    want = jax.grad(lambda p: _loss(jnp_nodes, p, jnp_nodes.asarray(X)))(
        _params(jnp_nodes.asarray))
    params = _params(_xg)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(params)
        value = _loss(xg, params, x)
        outputs = xg.tanh(x @ params.w)
    got = tape.gradient(value, params)
    assert type(got) is Params and type(got.layers[2]) is Scaled and got.layers[1] is None
    _close(got, want)
    jac = tape.jacobian(outputs, params)
    j_jac = jax.jacobian(lambda p: jnp_nodes.tanh(jnp_nodes.asarray(X) @ p.w))(
        _params(jnp_nodes.asarray))
    assert type(jac) is Params
    np.testing.assert_allclose(jac.w.numpy(), np.asarray(j_jac.w), rtol=1e-12, atol=1e-14)
    del tape


class _Holder(xg.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.held = value

    def forward(self, x):
        return x


@pytest.mark.parametrize("make, path", [
    (lambda: Params(xg.Variable(W), [], "tanh"), "held"),
    (lambda: [1.0, {"p": Scaled(xg.Variable(V), 2.0)}], "held[1]['p']"),
    (lambda: Box(xg.nn.Linear(2, 1, rng=0), None, "t"), "held"),
])
def test_a_module_attribute_holding_variables_in_a_registered_node_is_refused(make, path):
    """A Module finds Variables in its attributes' lists, tuples and dicts, not in registered
    nodes: such Variables were silently missing from trainable_variables (no training, an
    empty state_dict); now the assignment is a TypeError naming the attribute's path."""
    with pytest.raises(TypeError, match=rf"_Holder\.{re.escape(path)} holds a node of "
                                        r"(Params|Scaled|Box) .*trainable_variables"):
        _Holder(make())
    holder = _Holder(None)
    with pytest.raises(TypeError, match=re.escape(path)):
        holder.held = make()


def test_a_module_attribute_holding_a_node_of_plain_tensors_is_taken():
    holder = _Holder(Params(_xg(W), [{"b": _xg(B)}], "tanh"))
    assert holder.trainable_variables == [] and holder.held.act == "tanh"
