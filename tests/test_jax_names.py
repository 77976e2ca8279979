"""What a JAX user types at xpgrad: ``xg.tree_map`` / ``xg.tree_leaves``; the names xpgrad spells
otherwise (an AttributeError or TypeError naming xpgrad's way, whose recipe computes JAX's
value); and the NumPy/JAX spellings xpgrad takes (``linalg.norm``, ``ddof=``,
``svd(compute_uv=False)``, ``squeeze()`` without an axis, ``gelu(approximate=True)``).
Values are checked against NumPy or PyTorch, and against JAX where it is installed."""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
import torch

import xpgrad as xg

Pair = namedtuple("Pair", "first second")
R = np.random.default_rng(5)
A = R.normal(size=(3, 4))
TREE = {"w": np.ones(2), "layers": [Pair(np.zeros(1), None), (2.0, np.arange(3.0))]}


# -- tree_map / tree_leaves ---------------------------------------------------------------------

def test_tree_map_keeps_the_structure_and_zips_the_other_trees():
    doubled = xg.tree_map(lambda a, b: a + b, TREE, TREE)
    assert type(doubled["layers"][0]) is Pair and doubled["layers"][0].second is None
    np.testing.assert_array_equal(doubled["layers"][1][1], 2 * np.arange(3.0))
    assert doubled["layers"][1][0] == 4.0
    # another tree may be deeper where TREE has a leaf: f gets the subtree there
    got = xg.tree_map(lambda a, b: b, {"a": 1.0}, {"a": [1.0, 2.0]})
    assert got == {"a": [1.0, 2.0]}
    assert xg.tree_leaves(TREE)[0] is TREE["w"] and len(xg.tree_leaves(TREE)) == 4
    assert xg.tree_leaves(None) == [] and xg.tree_map(lambda a: 1 / 0, None) is None


def test_tree_map_refuses_another_structure_and_a_non_callable():
    with pytest.raises(ValueError, match=r"rest\[0\]\['layers'\] is a list of 1 where "
                                         r"tree\['layers'\] is a list of 2"):
        xg.tree_map(lambda a, b: a, TREE, {"w": 1.0, "layers": [1.0]})
    with pytest.raises(TypeError, match="tree_map takes a callable f first, got dict"):
        xg.tree_map(TREE, TREE)


def test_tree_map_and_tree_leaves_match_jax_tree_util(jax):
    tree = {"a": TREE["w"], "b": TREE["layers"]}              # keys in JAX's (sorted) order
    want = jax.tree_util.tree_leaves(tree)
    got = xg.tree_leaves(tree)
    assert len(got) == len(want) and all(g is w for g, w in zip(got, want))
    mapped = xg.tree_map(lambda a, b: a * b, tree, tree)
    for g, w in zip(xg.tree_leaves(mapped),
                    jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda a, b: a * b, tree,
                                                                     tree))):
        np.testing.assert_array_equal(g, np.asarray(w))


def _is_pair(t):
    return isinstance(t, list) and len(t) == 2 and all(isinstance(v, int) for v in t)


IS_LEAF_CASES = [   # (f, tree, rest, is_leaf); trees whose dicts' keys are in sorted order
    (len, {"a": [1, 2], "b": [[3], 4]}, (), lambda t: isinstance(t, list)),
    (lambda t: 0 if t is None else t, [None, 1], (), lambda t: t is None),
    (lambda a, b: (a, b), [[1, 2], 3], ([[10, 20], 30],), _is_pair),
    (lambda t: t, [1, 2], (), lambda t: isinstance(t, list)),           # the root itself
    (str, (1, (2, 3)), (), lambda t: t == (2, 3)),
    (lambda t: t, None, (), lambda t: t is None),
    (lambda a, b: a + b, {"a": [1, 2], "b": 5}, ({"a": [3, 4], "b": 6},), lambda t: False),
]


@pytest.mark.parametrize("f, tree, rest, is_leaf", IS_LEAF_CASES)
def test_tree_map_is_leaf_stops_the_descent_as_jax(jax, f, tree, rest, is_leaf):
    want = jax.tree_util.tree_map(f, tree, *rest, is_leaf=is_leaf)
    assert xg.tree_map(f, tree, *rest, is_leaf=is_leaf) == want
    assert xg.tree_leaves(tree, is_leaf=is_leaf) == jax.tree_util.tree_leaves(tree,
                                                                               is_leaf=is_leaf)


def test_tree_map_is_leaf_keeps_containers_and_gradients_whole():
    params = {"w": xg.asarray([1.0, 2.0], dtype=xg.float64), "pair": Pair(3.0, 4.0)}
    swapped = xg.tree_map(lambda t: Pair(t.second, t.first) if isinstance(t, Pair) else t,
                          params, is_leaf=lambda t: isinstance(t, Pair))
    assert swapped["pair"] == Pair(4.0, 3.0) and swapped["w"] is params["w"]
    grads = xg.grad(lambda p: xg.sum(p["w"] ** 2))(params)
    calls = []

    def step(p, g):
        calls.append(type(p).__name__)
        if isinstance(p, Pair):                     # g there: the Pair of its gradients
            return Pair(*(a - 0.25 * float(b) for a, b in zip(p, g)))
        return p - 0.25 * g

    new = xg.tree_map(step, params, grads, is_leaf=lambda t: isinstance(t, Pair))
    assert sorted(calls) == ["Pair", "Tensor"]
    assert new["w"].tolist() == [0.5, 1.0] and new["pair"] == Pair(3.0, 4.0)


@pytest.mark.parametrize("call", [xg.tree_map, xg.tree_leaves])
def test_is_leaf_must_be_callable(call):
    name = call.__name__
    args = (lambda t: t, [1]) if name == "tree_map" else ([1],)
    with pytest.raises(TypeError, match=rf"{name}: is_leaf must be None or a callable taking a "
                                        r"subtree, got bool True"):
        call(*args, is_leaf=True)


# -- modules called as JAX's functions ------------------------------------------------------------

@pytest.mark.parametrize("module, says", [
    ("jit", r"jax\.jit\(step\) \(torch\.compile\(step\)\) is xg\.function\(step\)"),
    ("checkpoint", r"jax\.checkpoint\(f\) \(jax\.remat\) is xg\.remat\(f\)"),
    ("tensor", r"torch\.tensor\(data\) is xg\.asarray"),
])
def test_calling_a_module_named_as_a_jax_function_says_what_xpgrad_calls_it(module, says):
    with pytest.raises(TypeError, match=says):
        getattr(xg, module)(lambda x: x)
    assert xg.jit.function is xg.function
    assert xg.checkpoint.save_checkpoint is xg.save_checkpoint


# -- names spelled otherwise: each hint's recipe computes JAX's (NumPy's) value -----------------

#: name -> (what the hint must say, the hint's recipe on A, NumPy's value of A)
RECIPES = {
    "concatenate": (r"xg\.concat\(", lambda a: xg.concat([a, a], axis=1),
                    np.concatenate([A, A], axis=1)),
    "transpose": (r"xg\.permute_dims\(x, tuple\(range\(x\.ndim\)\)\[::-1\]\)",
                  lambda a: xg.permute_dims(a[None], tuple(range(3))[::-1]),
                  np.transpose(A[None])),
    "swapaxes": (r"x\.swapaxes\(", lambda a: a[None].swapaxes(0, 2), np.swapaxes(A[None], 0, 2)),
    "power": (r"xg\.pow\(", lambda a: xg.pow(a, 3), np.power(A, 3)),
    "absolute": (r"xg\.abs\(", xg.abs, np.absolute(A)),
    "ravel": (r"xg\.reshape\(x, \(-1,\)\)", lambda a: xg.reshape(a, (-1,)), np.ravel(A)),
    "trace": (r"xg\.linalg\.trace\(", lambda a: xg.linalg.trace(a, offset=1),
              np.trace(A, offset=1)),
    "pad": (r"xg\.nn\.pad\(x, \(0, 2, 1, 1\)\)", lambda a: xg.nn.pad(a, (0, 2, 1, 1)),
            np.pad(A, ((1, 1), (0, 2)))),
}
OTHER_NAMES = {"lax": r"jax\.lax\.scan is xg\.scan, lax\.fori_loop xg\.fori_loop",
               "numpy": r"jnp\.sum is xg\.sum",
               "scipy": r"xg\.special",
               "tree": r"xg\.tree_map", "device_put": r"xg\.asarray\(x, backend=",
               "pmap": r"xg\.distributed",
               "grad_and_value": r"xg\.value_and_grad", "make_jaxpr": r"programs\(\)"}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_numpy_name_points_at_a_recipe_computing_its_value(name):
    says, recipe, want = RECIPES[name]
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': .*{says}"):
        getattr(xg, name)
    assert not hasattr(xg, name) and name not in dir(xg)
    np.testing.assert_allclose(recipe(xg.asarray(A)).numpy(), want, rtol=1e-14)


@pytest.mark.parametrize("name", sorted(OTHER_NAMES))
def test_a_jax_name_points_at_xpgrads_way(name):
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': .*{OTHER_NAMES[name]}"):
        getattr(xg, name)
    assert not hasattr(xg, name)


#: jax.nn's spelling -> (xpgrad's function, PyTorch's)
NN_NAMES = {"swish": (xg.nn.silu, torch.nn.functional.silu),
            "hard_tanh": (xg.nn.hardtanh, torch.nn.functional.hardtanh),
            "hard_sigmoid": (xg.nn.hardsigmoid, torch.nn.functional.hardsigmoid),
            "hard_silu": (xg.nn.hardswish, torch.nn.functional.hardswish),
            "hard_swish": (xg.nn.hardswish, torch.nn.functional.hardswish),
            "soft_sign": (xg.nn.softsign, torch.nn.functional.softsign)}
X = np.linspace(-4.0, 4.0, 17)


@pytest.mark.parametrize("name", sorted(NN_NAMES))
def test_jax_nn_spellings_point_at_the_same_function(name):
    ours, torch_fn = NN_NAMES[name]
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': xg\.nn\.{ours.__name__}"):
        getattr(xg.nn, name)
    np.testing.assert_allclose(ours(xg.asarray(X)).numpy(), torch_fn(torch.tensor(X)).numpy(),
                               rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", sorted(NN_NAMES))
def test_jax_nn_spellings_compute_jax_nn(jax, name):
    ours, _ = NN_NAMES[name]
    np.testing.assert_allclose(ours(xg.asarray(X)).numpy(), np.asarray(getattr(jax.nn, name)(X)),
                               rtol=1e-14, atol=1e-15)


def test_standardize_recipe_is_jax_nn_standardize(jax):
    with pytest.raises(AttributeError, match=r"xg\.nn\.layer_norm\(x, x\.shape\[-1:\]\)"):
        xg.nn.standardize
    got = xg.nn.layer_norm(xg.asarray(A), A.shape[-1:]).numpy()
    np.testing.assert_allclose(got, (A - A.mean(-1, keepdims=True))
                               / np.sqrt(A.var(-1, keepdims=True) + 1e-5), rtol=1e-13)
    np.testing.assert_allclose(got, np.asarray(jax.nn.standardize(A, axis=-1)), rtol=1e-13)


def test_where_and_initial_on_a_reduction_name_the_masked_recipe():
    x, mask = xg.asarray(A), xg.asarray(A > 0)
    with pytest.raises(TypeError, match=r"'where'; where= is NumPy's and JAX's: mask the input"):
        xg.mean(x, where=mask)
    with pytest.raises(TypeError, match=r"'initial'; initial= .*xg\.maximum\(xg\.max"):
        x.max(axis=0, initial=0.0)
    masked_mean = xg.sum(xg.where(mask, x, 0.0)) / xg.sum(mask)
    np.testing.assert_allclose(masked_mean.item(), A[A > 0].mean(), rtol=1e-14)


# -- spellings taken --------------------------------------------------------------------------------

def test_var_and_std_take_ddof_as_the_tensor_methods_do():
    x = xg.asarray(A)
    np.testing.assert_allclose(xg.var(x, axis=1, ddof=1).numpy(), A.var(axis=1, ddof=1),
                               rtol=1e-14)
    np.testing.assert_allclose(xg.std(x, ddof=2).item(), A.std(ddof=2), rtol=1e-14)
    np.testing.assert_allclose(x.var(ddof=1).item(), A.var(ddof=1), rtol=1e-14)
    with pytest.raises(TypeError, match="give correction or ddof"):
        xg.var(x, correction=1, ddof=1)
    with pytest.raises(ValueError, match="correction must not be negative"):
        xg.std(x, ddof=-1)


def test_squeeze_without_an_axis_drops_every_length_one_axis():
    x = xg.asarray(A[None, :, None, :, None])
    assert xg.squeeze(x).shape == (3, 4) == x.squeeze().shape
    assert xg.squeeze(xg.ones((1, 1))).shape == ()
    with pytest.raises(ValueError, match="cannot squeeze axis 1"):
        xg.squeeze(x, axis=1)


def test_svd_compute_uv_false_is_svdvals_and_checks_its_flag():
    np.testing.assert_allclose(xg.linalg.svd(xg.asarray(A), compute_uv=False).numpy(),
                               np.linalg.svd(A, compute_uv=False), rtol=1e-14)
    with pytest.raises(TypeError, match="linalg.svd: compute_uv must be True or False"):
        xg.linalg.svd(xg.asarray(A), compute_uv=0)


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("ord", [None, 1, 2, -1, -2, np.inf, -np.inf, "fro", "nuc", 0, 3])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1), (-1, 0)])
def test_linalg_norm_is_numpys(shape, ord, axis):
    """np.linalg.norm's value, or an error where NumPy raises one too."""
    a = R.normal(size=shape)
    try:
        want = np.linalg.norm(a, ord=ord, axis=axis, keepdims=True)
    except (ValueError, IndexError, np.exceptions.AxisError):
        with pytest.raises((ValueError, IndexError)):
            xg.linalg.norm(xg.asarray(a), ord=ord, axis=axis, keepdims=True)
        return
    got = xg.linalg.norm(xg.asarray(a), ord=ord, axis=axis, keepdims=True)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    got = xg.linalg.norm(xg.asarray(a), ord=ord, axis=axis)
    np.testing.assert_allclose(got.numpy(), np.linalg.norm(a, ord=ord, axis=axis), rtol=1e-12)


def test_linalg_norm_gradients_match_finite_differences():
    from xpgrad.testing import check_grads

    for ord, axis in [(None, None), (1, 1), ("fro", (1, 0)), (np.inf, (0, 1)), (3, 0)]:
        check_grads(lambda a: xg.linalg.norm(a, ord=ord, axis=axis), [A])


def test_linalg_norm_refuses_bad_ords_and_axes_naming_them():
    x = xg.asarray(A)
    with pytest.raises(ValueError, match=r"ord='fro' is a matrix norm; a vector norm over axis=1"):
        xg.linalg.norm(x, "fro", axis=1)
    with pytest.raises(ValueError, match=r"axis must be None, an int or a pair of ints"):
        xg.linalg.norm(xg.ones((2, 2, 2)), axis=(0, 1, 2))
    with pytest.raises(ValueError, match=r"ord=1 without axis needs a 1-D or 2-D x, got 3-D"):
        xg.linalg.norm(xg.ones((2, 2, 2)), 1)
    with pytest.raises(ValueError, match=r"the two axes must differ"):
        xg.linalg.norm(x, axis=(1, -1))
    with pytest.raises(ValueError, match=r"ord must be one of 'fro', 'nuc'"):
        xg.linalg.norm(x, 3)
    with pytest.raises(TypeError, match=r"linalg.norm: keepdims must be True or False"):
        xg.linalg.norm(x, keepdims="yes")


def test_gelu_takes_jax_flags_and_names_them_in_its_error():
    x = xg.asarray(X)
    np.testing.assert_array_equal(xg.nn.gelu(x, approximate=True).numpy(),
                                  xg.nn.gelu(x, approximate="tanh").numpy())
    np.testing.assert_array_equal(xg.nn.GELU(approximate=False)(x).numpy(),
                                  xg.nn.gelu(x).numpy())
    np.testing.assert_allclose(xg.nn.gelu(x, approximate=True).numpy(),
                               torch.nn.functional.gelu(torch.tensor(X), approximate="tanh"),
                               rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match=r"\('none', 'tanh'\) \(or JAX's True / False\), "
                                         r"got 'erf'"):
        xg.nn.gelu(x, approximate="erf")


_SPD = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
_VEC = np.array([1.0, -2.0, 0.5])
#: jax.scipy.linalg's spelling -> (what the hint says, its recipe, the value from torch / NumPy)
SCIPY_LINALG = {
    "cho_factor": (r"xg\.linalg\.cholesky\(a\)",
                   lambda a: xg.linalg.cholesky(a), np.linalg.cholesky(_SPD)),
    "cho_solve": (r"xg\.linalg\.cholesky_solve\(b, L\)",
                  lambda a: xg.linalg.cholesky_solve(xg.asarray(_VEC)[:, None],
                                                     xg.linalg.cholesky(a))[:, 0],
                  torch.cholesky_solve(torch.tensor(_VEC)[:, None],
                                       torch.linalg.cholesky(torch.tensor(_SPD)))[:, 0].numpy()),
    "logdet": (r"xg\.linalg\.slogdet\(a\)\.logabsdet", lambda a: xg.linalg.slogdet(a).logabsdet,
               np.linalg.slogdet(_SPD)[1]),
    "sqrtm": (r"w, v = xg\.linalg\.eigh\(a\)",
              lambda a: (lambda w, v: (v * xg.sqrt(w)) @ v.mT)(*xg.linalg.eigh(a)),
              None),
}


@pytest.mark.parametrize("name", sorted(SCIPY_LINALG))
def test_jax_scipy_linalg_names_point_at_a_recipe_computing_their_value(name):
    says, recipe, want = SCIPY_LINALG[name]
    with pytest.raises(AttributeError, match=rf"'xpgrad.linalg' has no attribute '{name}': "
                                             rf".*{says}"):
        getattr(xg.linalg, name)
    assert not hasattr(xg.linalg, name) and name not in dir(xg.linalg)
    got = recipe(xg.asarray(_SPD)).numpy()
    if want is None:                                  # sqrtm: its square is the matrix
        want, got = _SPD, got @ got
    np.testing.assert_allclose(got, want, rtol=1e-13)
