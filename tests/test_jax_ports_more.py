"""Small JAX programs ported to xpgrad (part 2: a scan-style RNN, jax.nn and jax.numpy
functions with their keywords, PRNG keys against generators, custom_vjp / stop_gradient /
checkpoint). As in ``tests/test_jax_ports.py``, each is checked against something independent
of JAX (finite differences, a closed form, PyTorch) and, where JAX is installed, against JAX in
float64.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.testing import check_grads

R = np.random.default_rng(11)
A = R.normal(size=(3, 4))


# -- 5. a scan-style RNN: jax.lax.scan against a Python loop ------------------------------------

STEPS, FEATURES, HIDDEN = 6, 3, 4
XS = R.normal(size=(STEPS, FEATURES))
RNN = {"wx": R.normal(size=(FEATURES, HIDDEN)) * 0.5, "wh": R.normal(size=(HIDDEN, HIDDEN)) * 0.5,
       "b": R.normal(size=HIDDEN) * 0.1}
H0 = R.normal(size=HIDDEN)


def scan(f, carry, xs):
    """jax.lax.scan as the hint for ``xg.lax`` writes it: a Python loop, outputs stacked."""
    ys = []
    for x in xg.unstack(xs, axis=0):
        carry, y = f(carry, x)
        ys.append(y)
    return carry, xg.stack(ys)


def rnn_loss(ns, scan):
    def loss(params, xs, h0):
        def cell(h, x):
            h = ns.tanh(x @ params["wx"] + h @ params["wh"] + params["b"])
            return h, ns.sum(h ** 2)
        h, ys = scan(cell, h0, xs)
        return ns.sum(ys * ns.linspace(0.5, 1.5, xs.shape[0], dtype=ys.dtype)) + ns.sum(h)
    return loss


def test_scan_rnn_gradient_matches_finite_differences():
    loss = rnn_loss(xg, scan)
    check_grads(lambda wx, wh, b, xs, h0: loss({"wx": wx, "wh": wh, "b": b}, xs, h0),
                [RNN["wx"], RNN["wh"], RNN["b"], XS, H0])


def test_scan_rnn_matches_jax_lax_scan(jax):
    jnp = jax.numpy
    jparams = jax.tree_util.tree_map(jnp.asarray, RNN)
    want_value, want = jax.value_and_grad(rnn_loss(jnp, jax.lax.scan), argnums=(0, 1, 2))(
        jparams, jnp.asarray(XS), jnp.asarray(H0))
    params = xg.tree_map(lambda a: xg.asarray(a, dtype=xg.float64), RNN)
    value, got = xg.value_and_grad(rnn_loss(xg, scan), argnums=(0, 1, 2))(
        params, xg.asarray(XS), xg.asarray(H0))
    np.testing.assert_allclose(value.item(), float(want_value), rtol=1e-13)
    for k in RNN:
        np.testing.assert_allclose(got[0][k].numpy(), np.asarray(want[0][k]), rtol=1e-11,
                                   atol=1e-13)
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-11, atol=1e-13)


# -- 6. jax.nn and jax.numpy with their keywords ------------------------------------------------

F = torch.nn.functional
#: name -> (xpgrad, PyTorch, JAX given (jax, jnp)), each a function of one float64 array
CASES = {
    "softmax axis=0": (lambda a: xg.nn.softmax(a, axis=0), lambda a: torch.softmax(a, 0),
                       lambda jax, jnp: lambda a: jax.nn.softmax(a, axis=0)),
    "log_softmax": (lambda a: xg.nn.log_softmax(a, axis=-1), lambda a: F.log_softmax(a, -1),
                    lambda jax, jnp: lambda a: jax.nn.log_softmax(a, axis=-1)),
    "logsumexp keepdims": (lambda a: xg.logsumexp(a, axis=1, keepdims=True),
                           lambda a: torch.logsumexp(a, 1, keepdim=True),
                           lambda jax, jnp: lambda a: jax.nn.logsumexp(a, axis=1, keepdims=True)),
    "gelu approximate=True": (lambda a: xg.nn.gelu(a, approximate=True),
                              lambda a: F.gelu(a, approximate="tanh"),
                              lambda jax, jnp: lambda a: jax.nn.gelu(a, approximate=True)),
    "gelu approximate=False": (lambda a: xg.nn.gelu(a, approximate=False), F.gelu,
                               lambda jax, jnp: lambda a: jax.nn.gelu(a, approximate=False)),
    "relu": (xg.nn.relu, torch.relu, lambda jax, jnp: jax.nn.relu),
    "sigmoid": (xg.nn.sigmoid, torch.sigmoid, lambda jax, jnp: jax.nn.sigmoid),
    "var ddof=1": (lambda a: xg.var(a, axis=0, ddof=1), lambda a: torch.var(a, 0, correction=1),
                   lambda jax, jnp: lambda a: jnp.var(a, axis=0, ddof=1)),
    "std ddof=1": (lambda a: xg.std(a, axis=1, ddof=1, keepdims=True),
                   lambda a: torch.std(a, 1, correction=1, keepdim=True),
                   lambda jax, jnp: lambda a: jnp.std(a, axis=1, ddof=1, keepdims=True)),
    "norm": (xg.linalg.norm, torch.linalg.norm, lambda jax, jnp: jnp.linalg.norm),
    "norm ord=1 axis=1": (lambda a: xg.linalg.norm(a, ord=1, axis=1),
                          lambda a: torch.linalg.norm(a, ord=1, dim=1),
                          lambda jax, jnp: lambda a: jnp.linalg.norm(a, ord=1, axis=1)),
    "norm ord=inf axis=(1, 0) keepdims": (
        lambda a: xg.linalg.norm(a, ord=np.inf, axis=(1, 0), keepdims=True),
        lambda a: torch.linalg.norm(a, ord=np.inf, dim=(1, 0), keepdim=True),
        lambda jax, jnp: lambda a: jnp.linalg.norm(a, ord=np.inf, axis=(1, 0), keepdims=True)),
    "norm ord=nuc": (lambda a: xg.linalg.norm(a, "nuc"), lambda a: torch.linalg.norm(a, "nuc"),
                     lambda jax, jnp: lambda a: jnp.linalg.norm(a, "nuc")),
    "norm ord=2 of a matrix": (lambda a: xg.linalg.norm(a, 2), lambda a: torch.linalg.norm(a, 2),
                               lambda jax, jnp: lambda a: jnp.linalg.norm(a, 2)),
    "svd compute_uv=False": (lambda a: xg.linalg.svd(a, compute_uv=False),
                             torch.linalg.svdvals,
                             lambda jax, jnp: lambda a: jnp.linalg.svd(a, compute_uv=False)),
    "squeeze()": (lambda a: xg.squeeze(a[None, :, None]), lambda a: torch.squeeze(a[None, :, None]),
                  lambda jax, jnp: lambda a: jnp.squeeze(a[None, :, None])),
}


def _xg_value_and_grad(fn):
    x = xg.asarray(A)
    with xg.GradientTape() as tape:
        tape.watch(x)
        out = fn(x)
        loss = xg.sum(out * xg.asarray(np.cos(np.arange(out.size)).reshape(out.shape)))
    return out.numpy(), tape.gradient(loss, x).numpy()


@pytest.mark.parametrize("name", sorted(CASES))
def test_nn_and_numpy_keywords_match_pytorch(name):
    ours, theirs, _ = CASES[name]
    got, got_grad = _xg_value_and_grad(ours)
    t = torch.tensor(A, requires_grad=True)
    out = theirs(t)
    (out * torch.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))).sum().backward()
    np.testing.assert_allclose(got, out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_nn_and_numpy_keywords_match_jax(jax, name):
    ours, _, theirs = CASES[name]
    jnp = jax.numpy
    fn = theirs(jax, jnp)
    got, got_grad = _xg_value_and_grad(ours)
    want = fn(jnp.asarray(A))
    weights = jnp.asarray(np.cos(np.arange(want.size)).reshape(want.shape))
    want_grad = jax.grad(lambda a: jnp.sum(fn(a) * weights))(jnp.asarray(A))
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_grad, np.asarray(want_grad), rtol=1e-10, atol=1e-12)


def test_gelu_default_is_the_exact_form_where_jax_takes_the_tanh_one(jax):
    x = np.linspace(-3, 3, 13)
    got = xg.nn.gelu(xg.asarray(x)).numpy()
    np.testing.assert_allclose(got, np.asarray(jax.nn.gelu(x, approximate=False)), rtol=1e-13)
    assert np.abs(got - np.asarray(jax.nn.gelu(x))).max() > 1e-4   # docs/losses.md says so


def test_one_hot_matches_jax_and_refuses_what_jax_zeroes(jax):
    labels = np.array([0, 2, 1, 3])
    got = xg.one_hot(xg.asarray(labels), 4, dtype=xg.float64)
    np.testing.assert_array_equal(got.numpy(), np.eye(4)[labels])
    np.testing.assert_array_equal(got.numpy(), np.asarray(jax.nn.one_hot(labels, 4)))
    # jax.nn.one_hot gives a row of zeros for a label out of range; xpgrad refuses it, as torch
    with pytest.raises(IndexError, match="out of range for num_classes=3"):
        xg.one_hot(xg.asarray(labels), 3)


# -- 7. PRNG keys against generators ------------------------------------------------------------

def init_and_dropout(seed):
    """A JAX program's ``k1, k2 = jax.random.split(PRNGKey(seed))``, ``normal(k1, (64, 32))``
    and ``bernoulli(k2, 0.8, (64, 32))``, with generators."""
    r1, r2 = xg.random.default_rng(seed).spawn(2)
    w = r1.normal(size=(64, 32), dtype=xg.float64)
    keep = r2.random(size=(64, 32)) < 0.8
    return w, keep


def test_generators_are_reproducible_and_spawned_streams_independent():
    w, keep = init_and_dropout(0)
    w_again, keep_again = init_and_dropout(0)
    np.testing.assert_array_equal(w.numpy(), w_again.numpy())
    np.testing.assert_array_equal(keep.numpy(), keep_again.numpy())
    assert not np.array_equal(w.numpy(), init_and_dropout(1)[0].numpy())
    r1, r2 = xg.random.default_rng(0).spawn(2)
    assert not np.array_equal(r1.normal(size=100).numpy(), r2.normal(size=100).numpy())
    # 2048 draws: mean within 5 standard errors of 0, fraction kept within 5 of 0.8
    assert abs(w.numpy().mean()) < 5 / np.sqrt(w.size)
    assert abs(keep.numpy().mean() - 0.8) < 5 * np.sqrt(0.16 / keep.size)


@pytest.mark.parametrize("name, ours", [("PRNGKey", "default_rng"), ("key", "default_rng"),
                                        ("split", r"rng\.spawn\(n\)"),
                                        ("normal", r"rng\.normal\(loc, scale, size=shape\)"),
                                        ("bernoulli", r"rng\.random\(size=shape\) < p")])
def test_jax_random_names_point_at_generators(name, ours):
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': .*{ours}"):
        getattr(xg.random, name)
    assert not hasattr(xg.random, name)


# -- 8. custom_vjp, stop_gradient, checkpoint ---------------------------------------------------

C = np.array([1.0, -2.0, 0.1, 0.7])


def xg_clip_gradient():
    @xg.custom_gradient
    def clip_gradient(x):
        return x, lambda g: xg.clip(g, -0.5, 0.5)
    return clip_gradient


def jax_clip_gradient(jax):
    @jax.custom_vjp
    def clip_gradient(x):
        return x
    clip_gradient.defvjp(lambda x: (x, None),
                         lambda _, g: (jax.numpy.clip(g, -0.5, 0.5),))
    return clip_gradient


def block(ns):
    return lambda x, w: ns.sin(ns.tanh(x * w))


def test_custom_gradient_stop_gradient_and_remat_have_the_closed_forms():
    x = xg.asarray(A[0])
    clip = xg_clip_gradient()
    got = xg.grad(lambda x: xg.sum(clip(x) * xg.asarray(C)))(x)
    np.testing.assert_array_equal(got.numpy(), np.clip(C, -0.5, 0.5))
    got = xg.grad(lambda x: xg.sum(x * xg.stop_gradient(x)))(x)
    np.testing.assert_array_equal(got.numpy(), A[0])            # d/dx x * const = const
    loss = lambda w: xg.sum(xg.remat(block(xg))(x, w))          # noqa: E731
    check_grads(loss, [np.array(1.5)])
    plain = xg.grad(lambda w: xg.sum(block(xg)(x, w)))(xg.asarray(1.5, dtype=xg.float64))
    np.testing.assert_allclose(xg.grad(loss)(xg.asarray(1.5, dtype=xg.float64)).item(),
                               plain.item(), rtol=1e-15)
    with pytest.raises(TypeError, match=r"jax\.checkpoint\(f\).*is xg\.remat\(f\)"):
        xg.checkpoint(block(xg))
    # jax.checkpoint's keywords: prevent_cse either way, policy=None (the one xpgrad has)
    for prevent_cse in (True, False):
        unmerged = xg.remat(block(xg), prevent_cse=prevent_cse, policy=None)
        got = xg.grad(lambda w: xg.sum(unmerged(x, w)))(xg.asarray(1.5, dtype=xg.float64))
        assert got.item() == plain.item()
    with pytest.raises(TypeError, match="remat: prevent_cse must be True or False"):
        xg.remat(block(xg), prevent_cse="no")
    with pytest.raises(TypeError, match=r"policy must be None, got 'dots_saveable'"):
        xg.remat(block(xg), policy="dots_saveable")


def test_custom_gradient_stop_gradient_and_remat_match_jax(jax):
    jnp = jax.numpy
    clip, jclip = xg_clip_gradient(), jax_clip_gradient(jax)
    np.testing.assert_array_equal(
        xg.grad(lambda x: xg.sum(clip(x) * xg.asarray(C)))(xg.asarray(A[0])).numpy(),
        np.asarray(jax.grad(lambda x: jnp.sum(jclip(x) * C))(jnp.asarray(A[0]))))
    np.testing.assert_array_equal(
        xg.grad(lambda x: xg.sum(x * xg.stop_gradient(x)))(xg.asarray(A[0])).numpy(),
        np.asarray(jax.grad(lambda x: jnp.sum(x * jax.lax.stop_gradient(x)))(A[0])))
    got = xg.grad(lambda w: xg.sum(xg.remat(block(xg))(xg.asarray(A), w)))(
        xg.asarray(1.5, dtype=xg.float64))
    want = jax.grad(lambda w: jnp.sum(jax.checkpoint(block(jnp))(A, w)))(1.5)
    np.testing.assert_allclose(got.item(), float(want), rtol=1e-14)
