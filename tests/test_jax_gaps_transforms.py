"""JAX's transforms and masks a port reaches for: ``xg.jacobian`` of a function returning a
pytree (the same structure of Jacobians), ``xg.stop_gradient`` of a pytree, ``softmax`` /
``log_softmax`` with ``where=`` and ``logsumexp`` with ``b=``, ``return_sign=`` and
``where=``. Checked against closed forms, float64 finite differences and PyTorch, and against
JAX where it is installed."""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.testing import check_grads

R = np.random.default_rng(21)
X = R.normal(size=3)
Y = R.normal(size=2)
Out = namedtuple("Out", "total pair")


def tree_fn(ns):
    """A function of two vectors returning a dict holding a scalar, a matrix and a namedtuple."""
    def f(x, y):
        outer = x[:, None] * ns.sin(y)[None, :]
        return {"sum": ns.sum(x ** 2) * y[0], "outer": outer,
                "nt": Out(ns.exp(x), [y * 3.0])}
    return f


# -- jacobian of a pytree output ------------------------------------------------------------------

def test_jacobian_of_a_pytree_output_has_its_structure_and_closed_forms():
    jac = xg.jacobian(tree_fn(xg), argnums=(0, 1))(xg.asarray(X), xg.asarray(Y))
    assert set(jac) == {"sum", "outer", "nt"} and type(jac["nt"]) is Out
    d_sum_dx, d_sum_dy = jac["sum"]
    np.testing.assert_allclose(d_sum_dx.numpy(), 2 * X * Y[0])
    np.testing.assert_allclose(d_sum_dy.numpy(), [np.sum(X ** 2), 0.0])
    d_outer_dx, d_outer_dy = jac["outer"]
    assert d_outer_dx.shape == (3, 2, 3) and d_outer_dy.shape == (3, 2, 2)
    np.testing.assert_allclose(d_outer_dx.numpy(),
                               np.einsum("ik,j->ijk", np.eye(3), np.sin(Y)))
    np.testing.assert_allclose(d_outer_dy.numpy(),
                               np.einsum("i,jk->ijk", X, np.diag(np.cos(Y))))
    np.testing.assert_allclose(jac["nt"].total[0].numpy(), np.diag(np.exp(X)))
    np.testing.assert_allclose(jac["nt"].total[1].numpy(), np.zeros((3, 2)))   # unconnected
    np.testing.assert_allclose(jac["nt"].pair[0][1].numpy(), 3 * np.eye(2))
    # one argument: each leaf's Jacobian is a Tensor; has_aux still works
    (jac, aux) = xg.jacobian(lambda x: ((x * x, xg.sum(x)), "aux"), has_aux=True)(xg.asarray(X))
    assert aux == "aux"
    np.testing.assert_allclose(jac[0].numpy(), np.diag(2 * X))
    np.testing.assert_allclose(jac[1].numpy(), np.ones(3))


def test_jacobian_of_a_pytree_output_matches_finite_differences():
    # each leaf's Jacobian, through a function of one leaf, against check_grads
    jac = xg.jacobian(tree_fn(xg))(xg.asarray(X), xg.asarray(Y))
    for pick in (lambda t: t["outer"], lambda t: t["nt"].total, lambda t: t["sum"]):
        want = xg.jacobian(lambda x: pick(tree_fn(xg)(x, xg.asarray(Y))))(xg.asarray(X))
        np.testing.assert_allclose(pick(jac).numpy(), want.numpy())
        check_grads(lambda x: pick(tree_fn(xg)(x, xg.asarray(Y))), [X])


def test_jacobian_refuses_a_non_tensor_output_leaf():
    with pytest.raises(TypeError, match=r"jacobian: f must return Tensors .* got str at "
                                        r"output\['b'\]\[0\]"):
        xg.jacobian(lambda x: {"a": x, "b": ["no"]})(xg.asarray(X))


def test_jacobian_of_a_pytree_output_matches_jax(jax):
    jnp = jax.numpy
    got = xg.jacobian(tree_fn(xg), argnums=(0, 1))(xg.asarray(X), xg.asarray(Y))
    for transform in (jax.jacrev, jax.jacfwd):
        want = transform(tree_fn(jnp), argnums=(0, 1))(jnp.asarray(X), jnp.asarray(Y))
        got_leaves, want_leaves = xg.tree_leaves(got), jax.tree_util.tree_leaves(want)
        # JAX orders a dict's leaves by sorted key, xpgrad by insertion: compare by path
        for key in ("sum", "outer"):
            for g, w in zip(got[key], want[key]):
                np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-14)
        for g, w in zip(xg.tree_leaves(got["nt"]), jax.tree_util.tree_leaves(want["nt"])):
            np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-14)
        assert len(got_leaves) == len(want_leaves)


# -- stop_gradient of a pytree ------------------------------------------------------------------

def test_stop_gradient_of_a_pytree_cuts_every_leaf_and_keeps_the_structure():
    def f(x):
        frozen = xg.stop_gradient({"a": x, "b": [x * 2.0, None], "c": Out(x, 3.0)})
        assert frozen["b"][1] is None and type(frozen["c"]) is Out
        return xg.sum(x * (frozen["a"] + frozen["b"][0] + frozen["c"].total)) + frozen["c"].pair
    g = xg.grad(f)(xg.asarray(X))
    np.testing.assert_allclose(g.numpy(), 4 * X)           # d/dx sum(x * const) = const
    assert xg.stop_gradient([1.0, 2.0]).tolist() == [1.0, 2.0]    # numbers: one array
    with pytest.raises(TypeError, match="stop_gradient takes a tensor or an array"):
        xg.stop_gradient({"a": "text"})


def test_stop_gradient_of_a_pytree_matches_jax(jax):
    jnp = jax.numpy

    def f(ns, stop):
        def g(x):
            frozen = stop({"a": x, "b": (x ** 2,)})
            return ns.sum(x ** 2 * frozen["a"] + frozen["b"][0] * x)
        return g

    want = jax.grad(f(jnp, jax.lax.stop_gradient))(jnp.asarray(X))
    got = xg.grad(f(xg, xg.stop_gradient))(xg.asarray(X))
    np.testing.assert_allclose(got.numpy(), np.asarray(want))


# -- softmax / log_softmax where=, logsumexp b= / return_sign= / where= ------------------------

Z = R.normal(size=(3, 5))
MASK = R.uniform(size=(3, 5)) > 0.4
MASK[1] = False                               # an all-masked row
MASK[0, 0] = MASK[2, 4] = True


def torch_masked(fn, z, mask):
    """PyTorch's softmax / log_softmax of the kept entries (the masked filled with -inf)."""
    return fn(z.masked_fill(~torch.tensor(mask), -float("inf")), dim=-1)


@pytest.mark.parametrize("log", [False, True])
def test_masked_softmax_matches_pytorch_and_finite_differences(log):
    ours = xg.log_softmax if log else xg.softmax
    theirs = torch.log_softmax if log else torch.softmax
    weights = R.normal(size=Z.shape)
    got = ours(xg.asarray(Z), where=xg.asarray(MASK))
    kept = np.array([0, 2])                   # PyTorch's all-masked row is NaN; compare the rest
    t = torch.tensor(Z, requires_grad=True)
    out = torch_masked(theirs, t, MASK)
    np.testing.assert_allclose(got.numpy()[kept], out.detach().numpy()[kept])
    assert np.all(got.numpy()[1] == (-np.inf if log else 0.0))
    kept_out = torch.where(torch.tensor(MASK), out, 0.0)[kept]
    (kept_out * torch.tensor(weights[kept])).sum().backward()
    g = xg.grad(lambda z: xg.sum(xg.where(xg.asarray(MASK), ours(z, where=xg.asarray(MASK)),
                                          0.0) * xg.asarray(weights)))(xg.asarray(Z))
    np.testing.assert_allclose(g.numpy()[kept], t.grad.numpy()[kept], atol=1e-15)
    assert np.all(g.numpy()[~MASK] == 0.0)
    check_grads(lambda z: xg.where(xg.asarray(MASK), ours(z, where=xg.asarray(MASK)), 0.0), [Z])
    # a mask that broadcasts: one row for all
    np.testing.assert_allclose(ours(xg.asarray(Z), axis=1, where=xg.asarray(MASK[0])).numpy(),
                               ours(xg.asarray(Z), where=xg.asarray(np.broadcast_to(
                                   MASK[0], Z.shape))).numpy())


def test_logsumexp_b_return_sign_and_where_match_pytorch_and_scipy_forms():
    b = R.normal(size=5)
    value, sign = xg.logsumexp(xg.asarray(Z), axis=1, b=xg.asarray(b), return_sign=True)
    total = np.sum(b * np.exp(Z), axis=1)
    np.testing.assert_allclose(value.numpy(), np.log(np.abs(total)))
    np.testing.assert_array_equal(sign.numpy(), np.sign(total))
    got = xg.logsumexp(xg.asarray(Z), axis=1, where=xg.asarray(MASK))
    t = torch.tensor(Z, requires_grad=True)
    want = torch.logsumexp(t.masked_fill(~torch.tensor(MASK), -float("inf")), dim=1)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy())
    want[[0, 2]].sum().backward()
    g = xg.grad(lambda z: xg.sum(xg.logsumexp(z, axis=1, where=xg.asarray(MASK))[::2]))(
        xg.asarray(Z))
    np.testing.assert_allclose(g.numpy(), t.grad.numpy())
    check_grads(lambda z: xg.logsumexp(z, axis=0, where=xg.asarray(MASK)), [Z])
    check_grads(lambda z, w: xg.logsumexp(z, axis=1, b=w, keepdims=True), [Z, np.abs(b) + 0.1])


def test_masks_refuse_bad_input_naming_the_argument():
    with pytest.raises(TypeError, match="softmax: where must be a boolean mask, got dtype "
                                        "float64"):
        xg.softmax(xg.asarray(Z), where=xg.asarray(Z))
    with pytest.raises(ValueError, match=r"log_softmax: where of shape \(4,\) does not "
                                         r"broadcast to x's shape \(3, 5\)"):
        xg.log_softmax(xg.asarray(Z), where=xg.asarray([True] * 4))
    with pytest.raises(TypeError, match="unexpected keyword argument 'initial'"):
        xg.logsumexp(xg.asarray(Z), where=xg.asarray(MASK), initial=0.0)
    with pytest.raises(TypeError, match="return_sign must be"):
        xg.logsumexp(xg.asarray(Z), return_sign="yes")
    for where in (None, xg.asarray(MASK)):     # b's shape names b, not the where() inside
        with pytest.raises(ValueError, match=r"logsumexp: b of shape \(7,\) does not "
                                             r"broadcast with a's shape \(3, 5\)"):
            xg.logsumexp(xg.asarray(Z), b=xg.ones(7), where=where)


def test_masks_and_logsumexp_match_jax(jax):
    jnp = jax.numpy
    for ours, theirs in ((xg.softmax, jax.nn.softmax), (xg.log_softmax, jax.nn.log_softmax)):
        np.testing.assert_allclose(ours(xg.asarray(Z), where=xg.asarray(MASK)).numpy(),
                                   np.asarray(theirs(jnp.asarray(Z), where=MASK)))
    weights = R.normal(size=Z.shape)
    want = jax.grad(lambda z: jnp.sum(jax.nn.softmax(z, where=MASK) * weights))(jnp.asarray(Z))
    got = xg.grad(lambda z: xg.sum(xg.softmax(z, where=xg.asarray(MASK)) * xg.asarray(weights)))(
        xg.asarray(Z))
    np.testing.assert_allclose(got.numpy(), np.asarray(want), atol=1e-15)
    b = R.normal(size=5)
    for kw in (dict(b=b, return_sign=True), dict(where=MASK), dict(b=np.abs(b), keepdims=True)):
        want = jax.nn.logsumexp(jnp.asarray(Z), axis=1, **kw)
        got = xg.logsumexp(xg.asarray(Z), axis=1,
                           **{k: xg.asarray(v) if k in ("b", "where") else v
                              for k, v in kw.items()})
        for g, w in zip(got if isinstance(got, tuple) else [got],
                        want if isinstance(want, tuple) else [want]):
            np.testing.assert_allclose(g.numpy(), np.asarray(w))


@pytest.mark.parametrize("keywords", [{}, {"axis": 1}, {"b": [[1.0, 2.0, 0.5]] * 2},
                                      {"return_sign": True},
                                      {"where": [[True, False, True], [True, True, True]]}])
def test_logsumexp_of_integers_is_in_means_float_dtype(keywords):
    ints = np.array([[1, 2, 3], [0, -4, 5]], dtype=np.int64)
    x = xg.asarray(ints)
    ours = {k: xg.asarray(v) if k in ("b", "where") else v for k, v in keywords.items()}
    got = xg.logsumexp(x, **ours)
    got = got[0] if keywords.get("return_sign") else got
    assert got.dtype == xg.mean(x).dtype == xg.float32
    want = torch.logsumexp(torch.as_tensor(ints, dtype=torch.float64),
                           dim=keywords.get("axis", (0, 1)))
    if "b" in keywords:             # b scales exp(x): log b joins the exponent
        want = torch.logsumexp(torch.as_tensor(ints + np.log(keywords["b"])), dim=(0, 1))
    if "where" in keywords:
        kept = np.where(keywords["where"], ints, -np.inf)
        want = torch.logsumexp(torch.as_tensor(kept), dim=(0, 1))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
