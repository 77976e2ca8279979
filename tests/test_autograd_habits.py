"""What porting HIPS autograd's examples found: the conveniences added (``elementwise_grad``,
``ravel_pytree``, ``Tensor.ravel``/``dot``, NumPy's ``diag``/``sinc``/``nan_to_num`` on
Tensors), the silent errors fixed (a Tensor ``fill_value`` cut from the tape, a NumPy float
scalar parameter taken as float32), and the hints for autograd's names.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.stats

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
R = np.random.default_rng(3)


# -- grad(f, argnum=...) -------------------------------------------------------------------------

@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacobian", "hessian",
                                       "elementwise_grad"])
def test_autograds_argnum_keyword_names_argnums(transform):
    with pytest.raises(TypeError, match=rf"{transform}\(\) got an unexpected keyword argument "
                                        r"'argnum'; xpgrad names it argnums="):
        getattr(xg, transform)(lambda a, b: a * b, argnum=1)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'argnm'$"):
        getattr(xg, transform)(lambda a, b: a * b, argnm=1)


# -- elementwise_grad ------------------------------------------------------------------------------

def test_elementwise_grad_is_the_vjp_with_ones_for_any_argument():
    x, y = R.normal(size=(3, 2)), R.normal(size=(3, 2))
    f = lambda a, b: np.sin(a) * b ** 2
    da, db = xg.elementwise_grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(da.numpy(), np.cos(x) * y ** 2, rtol=1e-14)
    np.testing.assert_allclose(db.numpy(), 2 * np.sin(x) * y, rtol=1e-14)
    mixing = lambda a: a @ np.ones((2, 2))      # not elementwise: the sum over the outputs
    np.testing.assert_allclose(xg.elementwise_grad(mixing)(x).numpy(), np.full((3, 2), 2.0))


def test_elementwise_grad_refuses_an_output_that_is_not_a_tensor():
    with pytest.raises(TypeError, match="elementwise_grad needs f to return a Tensor, but f "
                                        "returned tuple"):
        xg.elementwise_grad(lambda a: (a, a))(np.ones(2))
    with pytest.raises(TypeError, match="elementwise_grad takes a callable"):
        xg.elementwise_grad(3.0)


# -- ravel_pytree ------------------------------------------------------------------------------

def test_ravel_pytree_round_trips_shapes_and_dtypes():
    tree = {"w": [R.normal(size=(2, 3)), xg.asarray([1.0, 2.0])], "b": (np.float64(0.5),),
            "skip": None}
    flat, unravel = xg.ravel_pytree(tree)
    assert flat.shape == (9,) and flat.dtype == xg.float64
    np.testing.assert_array_equal(flat.numpy()[:6], tree["w"][0].ravel())
    back = unravel(flat)
    assert back["skip"] is None and isinstance(back["b"], tuple)
    assert back["w"][1].dtype == xg.float32 and back["w"][0].dtype == xg.float64
    np.testing.assert_array_equal(back["w"][0].numpy(), tree["w"][0])
    assert back["b"][0].shape == ()
    empty, unravel_empty = xg.ravel_pytree({})
    assert empty.shape == (0,) and unravel_empty(empty) == {}
    nothing, unravel_nothing = xg.ravel_pytree(None)    # JAX's empty tree; it was a bad leaf
    assert nothing.shape == (0,) and unravel_nothing(nothing) is None


def test_ravel_pytree_is_differentiable_both_ways():
    params = [(R.normal(size=(3, 2)), R.normal(size=2)), (R.normal(size=(2, 1)), R.normal(size=1))]
    flat, unravel = xg.ravel_pytree(params)

    def loss(vector):
        h = np.tanh(np.ones((4, 3)) @ unravel(vector)[0][0] + unravel(vector)[0][1])
        return np.sum((h @ unravel(vector)[1][0] + unravel(vector)[1][1]) ** 2)

    check_grads(loss, [flat.numpy()])
    tree_gradient = xg.grad(lambda p: loss(xg.ravel_pytree(p)[0]))(params)
    np.testing.assert_allclose(xg.ravel_pytree(tree_gradient)[0].numpy(),
                               xg.grad(loss)(flat).numpy(), rtol=1e-13)


def test_unravel_refuses_a_vector_of_another_length_and_odd_leaves():
    _, unravel = xg.ravel_pytree({"a": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"1-D vector of 4 entries .* got shape \(5,\)"):
        unravel(np.zeros(5))
    with pytest.raises(ValueError, match=r"got shape \(2, 2\)"):
        unravel(np.zeros((2, 2)))
    with pytest.raises(TypeError, match=r"ravel_pytree: leaf 1 of the tree \(str 'x'\)"):
        xg.ravel_pytree([1.0, "x"])


def test_unravel_refuses_a_complex_vector_for_a_real_tree():
    """Casting it to the leaves' real dtypes dropped the imaginary parts without a word."""
    _, unravel = xg.ravel_pytree([np.zeros(2), np.zeros((), dtype=np.float32)])
    with pytest.raises(TypeError, match=r"unravel: the vector is complex128 but the tree "
                                        r"ravel_pytree flattened is real \(float64\)"):
        unravel(np.array([1.0 + 2.0j, 3.0, 4.0]))
    flat, unravel_mixed = xg.ravel_pytree([np.zeros(2), np.array([1j])])
    assert flat.dtype == xg.complex128                       # a complex leaf: taken, as JAX's
    back = unravel_mixed(xg.asarray([1.0, 2.0, 3.0 - 1.0j]))
    assert back[0].dtype == xg.float64 and back[1].tolist() == [3.0 - 1.0j]


def test_unravel_pickles_without_the_leaves(jax):
    """Users save ``unravel`` with their checkpoints (JAX's pickles); it was a closure."""
    tree = {"w": [R.normal(size=(300, 300)), xg.asarray([1.0, 2.0])], "b": (np.float64(0.5),),
            "skip": None}
    flat, unravel = xg.ravel_pytree(tree)
    saved = pickle.dumps(unravel)
    assert len(saved) < 2000         # the structure, shapes and dtypes, not 90,000 floats
    restored = pickle.loads(saved)
    vector = flat * 2.0
    back, want = restored(vector), unravel(vector)
    assert back["skip"] is None and isinstance(back["b"], tuple)
    assert [leaf.dtype for leaf in xg.tree_leaves(back)] == [xg.float64, xg.float32, xg.float64]
    for got, expected in zip(xg.tree_leaves(back), xg.tree_leaves(want)):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    np.testing.assert_array_equal(back["w"][0].numpy(), 2.0 * tree["w"][0])
    with pytest.raises(ValueError, match=r"1-D vector of 90003 entries"):
        restored(np.zeros(3))
    from jax.flatten_util import ravel_pytree

    _, jax_unravel = ravel_pytree({"w": jax.numpy.ones(2)})
    pickle.loads(pickle.dumps(jax_unravel))            # what users expect of the JAX one


# -- full / full_like with a Tensor fill_value ----------------------------------------------------

def test_full_with_a_tensor_fill_value_is_differentiated_and_keeps_its_dtype():
    weights = R.normal(size=(2, 3))
    c = xg.asarray(1.5, dtype=xg.float64)
    for make in (lambda v: xg.full((2, 3), v), lambda v: xg.full_like(np.zeros((2, 3)), v),
                 lambda v: np.full_like(xg.zeros((2, 3), dtype=xg.float64), v)):
        assert make(c).dtype == xg.float64
        got = xg.grad(lambda v: np.sum(make(v) * weights))(c)
        ct = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
        (ct.expand(2, 3) * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(got.item(), ct.grad.item(), rtol=1e-14)
    assert xg.full(2, c, dtype=xg.float32).dtype == xg.float32
    with pytest.raises(ValueError, match="full: fill_value must be a number or a one-element"):
        xg.full((2,), xg.ones(3))


# -- NumPy's functions and methods on Tensors ------------------------------------------------------

@pytest.mark.parametrize("k", [0, 1, -2])
def test_np_diag_builds_and_reads_diagonals_as_torch(k):
    v, m = R.normal(size=3), R.normal(size=(4, 4))
    weights = R.normal(size=np.diag(v, k).shape)
    got = xg.grad(lambda u: np.sum(np.diag(u, k) * weights))(v)
    vt = torch.tensor(v, requires_grad=True)
    (torch.diag(vt, k) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(got.numpy(), vt.grad.numpy(), rtol=1e-14)
    np.testing.assert_array_equal(np.diag(xg.asarray(m), k).numpy(), np.diag(m, k))
    with pytest.raises(ValueError, match="np.diag takes a 1-D or 2-D array, got 3-D"):
        np.diag(xg.ones((2, 2, 2)))


@pytest.mark.skipif("numba" not in xg.available_backends(), reason="needs the numba backend")
def test_np_diag_of_a_vector_stays_on_its_backend():
    """The diagonal's row indices are made on the vector's backend (they were the default
    backend's: a MixedBackendError on numba)."""
    v = R.normal(size=3)
    on_numba = xg.asarray(v, backend="numba")
    built = np.diag(on_numba, -1)
    assert built.backend.name == "numba"
    np.testing.assert_array_equal(built.numpy(), np.diag(v, -1))
    weights = R.normal(size=(4, 4))
    got = xg.grad(lambda u: np.sum(np.diag(u, 1) * weights))(on_numba)
    np.testing.assert_array_equal(got.numpy(), np.diag(weights, 1))


def test_np_sinc_and_nan_to_num_stay_on_the_tape():
    x = np.array([-1.3, 0.4, 2.2, 3.0])
    special, mask = np.array([np.nan, 0.0, -np.inf, 0.0]), np.array([True, False, True, False])
    got = xg.grad(lambda u: np.sum(np.sinc(u) + u * np.nan_to_num(np.where(mask, special, u),
                                                                   nan=0.5, neginf=-3.0)))(x)
    xt = torch.tensor(x, requires_grad=True)
    (torch.sinc(xt) + xt * torch.nan_to_num(torch.where(torch.tensor(mask), torch.tensor(special),
                                                        xt), nan=0.5, neginf=-3.0)).sum().backward()
    np.testing.assert_allclose(got.numpy(), xt.grad.numpy(), rtol=1e-13)


def test_tensor_ravel_and_dot_are_numpys():
    a, b, v = R.normal(size=(2, 3)), R.normal(size=(3, 2)), R.normal(size=3)
    np.testing.assert_array_equal(xg.asarray(a).ravel().numpy(), a.ravel())
    np.testing.assert_allclose(xg.asarray(a).dot(b).numpy(), a.dot(b), rtol=1e-14)
    np.testing.assert_allclose(xg.asarray(v).dot(v).item(), v.dot(v), rtol=1e-14)
    np.testing.assert_allclose(xg.grad(lambda u: u.dot(a.T).dot(u[:2]))(v).numpy(),
                               a.T @ v[:2] + np.r_[a @ v, 0.0], rtol=1e-13)


# -- distributions: a NumPy float64 scalar parameter ----------------------------------------------

def test_a_numpy_float64_scalar_parameter_keeps_float64():
    x = np.array([-1.0, 0.3, 2.0])
    scale = np.exp(np.float64(0.3))                       # a NumPy scalar, not an array
    normal = xg.distributions.Normal(0.0, scale)
    assert normal.loc.dtype == normal.scale.dtype == xg.float64
    want = torch.distributions.Normal(0.0, torch.tensor(scale, dtype=torch.float64)).log_prob(
        torch.tensor(x))
    np.testing.assert_allclose(normal.log_prob(x).numpy(), want.numpy(), rtol=1e-15)
    assert xg.distributions.Normal(0.0, np.float32(1.35)).scale.dtype == xg.float32
    assert xg.distributions.Normal(0.0, 1.35).scale.dtype == xg.float32    # Python's: default


# -- messages: NumPy or SciPy cutting a tensor from the tape, autograd's names ---------------------

def test_a_numpy_or_scipy_function_that_converts_a_taped_tensor_is_named():
    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match=r"np.asarray\(\) \(in np.full\) on a tensor"):
        xg.grad(lambda v: np.sum(np.full((2,), v[0])))(x)
    with pytest.raises(TypeError, match=r"\(in scipy.stats.logpdf\) .* its stats densities "
                                        r"xg.distributions'"):
        xg.grad(lambda v: np.sum(scipy.stats.norm.logpdf(v, 0.0, 1.0)))(x)
    with pytest.raises(TypeError, match=r"np.asarray\(\) on a tensor .*\.numpy\(\)$"):
        xg.grad(lambda v: np.sum(np.asarray(v)))(x)


@pytest.mark.parametrize("module, name, says", [
    (xg, "make_vjp", r"xg\.vjp\(f, x\) returns \(f\(x\), vjp_fn\)"),
    (xg, "hessian_vector_product", r"xg\.hvp\(f, x, v\)\[1\]"),
    (xg, "flatten", r"xg\.ravel_pytree\(params\)"),
    (xg, "flatten_func", r"xg\.ravel_pytree\(params\)"),
    (xg, "defvjp", r"xg\.custom_vjp\(f\); f\.defvjp\(fwd, bwd\)"),
    (xg.optim, "adam", r"xg\.optim\.Adam\(learning_rate=step_size\)"),
    (xg.optim, "rmsprop", r"xg\.optim\.RMSprop\("),
    (xg.random, "randn", r"rng\.normal\(size=shape\)"),
    (xg.random, "RandomState", r"default_rng\(seed\)"),
])
def test_autograds_names_point_at_xpgrads(module, name, says):
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': .*{says}"):
        getattr(module, name)
    assert not hasattr(module, name) and name not in dir(module)


def test_the_hint_recipes_compute_autograds_values():
    f = lambda x: np.sum(np.sin(x) * x ** 2)
    x, v = R.normal(size=3), R.normal(size=3)
    xt = torch.tensor(x)
    _, want = torch.autograd.functional.hvp(lambda t: (torch.sin(t) * t ** 2).sum(), xt,
                                            torch.tensor(v))
    np.testing.assert_allclose(xg.hvp(f, x, v)[1].numpy(), want.numpy(), rtol=1e-13)
    ans, vjp_fn = xg.vjp(lambda a: np.sin(a) * 2.0, x)
    np.testing.assert_allclose(vjp_fn(v)[0].numpy(), 2.0 * np.cos(x) * v, rtol=1e-14)


def test_calling_xg_primitive_as_autograds_decorator_names_custom_vjp():
    with pytest.raises(TypeError, match=r"xg\.primitive is the module of xg\.Primitive.*"
                                        r"xg\.custom_vjp\(f\)"):
        @xg.primitive
        def f(x):
            return x
    assert xg.primitive.Primitive is xg.Primitive
