"""``xg.custom_vjp``, JAX's custom vector-Jacobian products: against JAX (float64, where
installed), finite differences and closed forms; second order through ``bwd``; under
``xg.function``, ``xg.jvp``/``jacfwd`` and ``xg.vmap``; bad rules named."""
from __future__ import annotations

import numpy as np
import pytest
from test_jax_transforms import X, Y, assert_trees_close, fd_jacobian

import xpgrad as xg


# -- custom_vjp -----------------------------------------------------------------------------------
def scaled_sine(ns, custom_vjp):
    """``{"y": sin(a) * b, "z": sum(a^2) * s}`` with a hand-written vjp; ``s`` not
    differentiated; ``fwd`` calls the function itself, as JAX's examples do."""
    def f(p, s):
        return {"y": ns.sin(p["a"]) * p["b"], "z": ns.sum(p["a"] ** 2) * s}
    f = custom_vjp(f, nondiff_argnums=(1,))

    def fwd(p, s):
        return f(p, s), (p["a"], p["b"], ns.cos(p["a"]))

    def bwd(s, residuals, g):
        a, b, cos_a = residuals
        return ({"a": g["y"] * cos_a * b + 2.0 * a * g["z"] * s,
                 "b": ns.sum(g["y"] * ns.sin(a))},)

    f.defvjp(fwd, bwd)
    return f


def scaled_sine_loss(ns, f):
    return lambda p: ns.sum(f(p, 2.0)["y"] ** 2) + f(p, 2.0)["z"]


PARAMS = {"a": X, "b": np.array(1.5)}


def test_custom_vjp_of_pytrees_matches_jax_and_finite_differences(jax):
    f = scaled_sine(xg, xg.custom_vjp)
    got = xg.grad(scaled_sine_loss(xg, f))(xg.tree_map(xg.asarray, PARAMS))
    want = jax.grad(scaled_sine_loss(jax.numpy, scaled_sine(jax.numpy, jax.custom_vjp)))(PARAMS)
    assert_trees_close(got, want, jax)
    loss_of_a = lambda a: scaled_sine_loss(xg, f)({"a": xg.asarray(a),    # noqa: E731
                                                   "b": xg.asarray(1.5)}).numpy()
    np.testing.assert_allclose(got["a"].numpy(), fd_jacobian(loss_of_a, X), rtol=1e-7)


def test_custom_vjp_bwd_is_what_the_gradient_is():
    """A rule that is not the derivative (clip the cotangent) is what the tapes use."""
    clip_gradient = xg.custom_vjp(lambda x: x)
    clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (xg.clip(g, -0.5, 0.5),))
    weights = np.array([1.0, -2.0, 0.1])
    x = xg.asarray(X)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(clip_gradient(x) * xg.asarray(weights))
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), np.clip(weights, -0.5, 0.5))
    np.testing.assert_array_equal(clip_gradient(x).numpy(), X)


def test_custom_vjp_second_order_differentiates_bwd_and_the_residuals(jax):
    f = scaled_sine(xg, xg.custom_vjp)
    jf = scaled_sine(jax.numpy, jax.custom_vjp)
    got = xg.hessian(lambda a: scaled_sine_loss(xg, f)({"a": a, "b": xg.asarray(1.5)}))(
        xg.asarray(X)).numpy()
    want = jax.jacrev(jax.grad(lambda a: scaled_sine_loss(jax.numpy, jf)({"a": a, "b": 1.5})))(X)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    plain = lambda a: xg.sum((xg.sin(a) * 1.5) ** 2) + xg.sum(a ** 2) * 2.0   # noqa: E731
    np.testing.assert_allclose(got, xg.hessian(plain)(xg.asarray(X)).numpy(), rtol=1e-12)


def test_custom_vjp_under_function_traces_and_replays(jax):
    f = scaled_sine(xg, xg.custom_vjp)
    jf = scaled_sine(jax.numpy, jax.custom_vjp)
    step = xg.function(lambda a: xg.grad(scaled_sine_loss(xg, f))(
        {"a": a, "b": xg.asarray(1.5)})["a"])
    for shift in range(3):
        got = step(xg.asarray(X + shift)).numpy()
        want = jax.grad(scaled_sine_loss(jax.numpy, jf))({"a": X + shift, "b": 1.5})["a"]
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(step.programs()) == 1


def test_custom_vjp_rule_serves_jvp_jacfwd_and_vmap_too():
    """xpgrad's forward mode is two reverse passes, so it uses the custom rule (JAX refuses a
    jvp of a custom_vjp function): a rule doubling the cotangent doubles the Jacobian."""
    doubled = xg.custom_vjp(xg.sin)
    doubled.defvjp(lambda x: (xg.sin(x), xg.cos(x)), lambda cos_x, g: (2.0 * g * cos_x,))
    x = xg.asarray(X)
    np.testing.assert_allclose(xg.jacfwd(doubled)(x).numpy(), np.diag(2 * np.cos(X)),
                               rtol=1e-15)
    np.testing.assert_allclose(xg.jacrev(doubled)(x).numpy(), np.diag(2 * np.cos(X)),
                               rtol=1e-15)
    per_example = xg.vmap(xg.grad(lambda v: xg.sum(doubled(v))))(xg.asarray(Y))
    np.testing.assert_allclose(per_example.numpy(), 2 * np.cos(Y), rtol=1e-15)


def test_custom_vjp_none_cotangents_keywords_and_the_primal_without_a_tape():
    calls = []

    def fun(x, y, scale=2.0):
        calls.append("fun")
        return x * y * scale

    f = xg.custom_vjp(fun)
    f.defvjp(lambda x, y, scale: (x * y * scale, (y, scale)),
             lambda residuals, g: (g * residuals[0] * residuals[1], None, None))
    x, y = xg.asarray(X), xg.asarray(Y[0])
    np.testing.assert_allclose(f(x, y=y).numpy(), X * Y[0] * 2.0, rtol=1e-15)
    assert calls == ["fun"]                     # no tape: fun itself
    gx, gy = xg.grad(lambda x, y: xg.sum(f(x, y, scale=3.0)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx.numpy(), 3.0 * Y[0], rtol=1e-15)
    np.testing.assert_array_equal(gy.numpy(), np.zeros(3))     # None: zero, as JAX
    assert calls == ["fun"]                     # differentiated: fwd, not fun


def test_custom_vjp_outputs_of_several_dtypes_match_jax(jax):
    """float32, float64 and int64 outputs (refused before: one dtype for all); bwd gets each
    cotangent in its output's dtype, zeros for the integer one (JAX's float0 zeros)."""
    def build(ns, custom_vjp, seen):
        f = custom_vjp(lambda x, y: (2.0 * x, ns.sin(y), ns.floor(y).astype(ns.int64)))

        def bwd(residuals, g):
            seen.append([str(c.dtype) for c in g])
            return 2.0 * g[0], ns.cos(residuals) * g[1]

        f.defvjp(lambda x, y: (f(x, y), y), bwd)
        return lambda x, y: ns.sum(f(x, y)[0] ** 2) + ns.sum(f(x, y)[1] * f(x, y)[2])

    x32 = X.astype(np.float32)
    seen, jax_seen = [], []
    got = xg.grad(build(xg, xg.custom_vjp, seen), argnums=(0, 1))(xg.asarray(x32),
                                                                   xg.asarray(Y))
    want = jax.grad(build(jax.numpy, jax.custom_vjp, jax_seen), argnums=(0, 1))(x32, Y)
    assert got[0].dtype == xg.float32
    np.testing.assert_allclose(got[0].numpy(), np.asarray(want[0]), rtol=1e-6)
    np.testing.assert_allclose(got[1].numpy(), np.asarray(want[1]), rtol=1e-13)
    assert seen[0] == ["float32", "float64", "int64"] and jax_seen[0][:2] == seen[0][:2]


def test_custom_vjp_bad_rules_name_what_is_wrong():
    x = xg.asarray(X)

    def grad_of(f):
        return xg.grad(lambda x: xg.sum(f(x)))(x)

    undefined = xg.custom_vjp(lambda x: x)
    with pytest.raises(AttributeError, match="No VJP defined for custom_vjp function"):
        grad_of(undefined)
    cases = [
        (lambda x: x, lambda r, g: (g, g), TypeError, "bwd must return a tuple of 1 cotangent"),
        (lambda x: x, lambda r, g: g, TypeError, "bwd must return a tuple.*got Tensor"),
        (lambda x: x, lambda r, g: (g[:2],), ValueError,
         r"bwd's cotangent\[0\] has shape \(2,\) but argument 0 has shape \(3,\)"),
        (lambda x: x, lambda r, g: ({"a": g},), TypeError,
         r"bwd's cotangent\[0\] is a dict, not an array"),
    ]
    for fun, bwd, error, message in cases:
        f = xg.custom_vjp(fun)
        f.defvjp(lambda x: (fun(x), None), bwd)
        with pytest.raises(error, match=message):
            grad_of(f)
    f = xg.custom_vjp(lambda p: p["a"] * 2.0)
    f.defvjp(lambda p: (p["a"] * 2.0, None), lambda r, g: (g * 2.0,))
    with pytest.raises(ValueError, match=r"bwd's cotangent\[0\] is a leaf \(Tensor\) where "
                                         r"argument 0 is a dict with keys \['a'\]"):
        grad_of(lambda x: f({"a": x}))
    f = xg.custom_vjp(lambda x: x)
    f.defvjp(lambda x: x, lambda r, g: (g,))
    with pytest.raises(TypeError, match=r"fwd must return a pair \(output, residuals\)"):
        grad_of(f)
    w = xg.Variable(xg.asarray(X), name="w")
    f = xg.custom_vjp(lambda x: x * w)
    f.defvjp(lambda x: (x * w, None), lambda r, g: (g,))
    with pytest.raises(TypeError, match=r"reads the Variables \['w'\] besides its arguments"):
        grad_of(f)
    with pytest.raises(TypeError, match="nondiff_argnums must be a tuple of non-negative ints"):
        xg.custom_vjp(lambda x: x, nondiff_argnums=("0",))
    with pytest.raises(TypeError, match="custom_vjp takes a callable"):
        xg.custom_vjp(3)
    with pytest.raises(TypeError, match="defvjp's bwd must be callable"):
        xg.custom_vjp(lambda x: x).defvjp(lambda x: (x, None), None)
    with pytest.raises(NotImplementedError, match="symbolic_zeros=True is not supported"):
        xg.custom_vjp(lambda x: x).defvjp(lambda x: (x, None), lambda r, g: (g,), True)
    f = xg.custom_vjp(lambda x, label: x, nondiff_argnums=(1,))
    f.defvjp(lambda x, label: (x, None), lambda label, r, g: (g,))
    np.testing.assert_array_equal(grad_of(lambda x: f(x, "a label")).numpy(), np.ones(3))
    g = xg.custom_vjp(lambda x, label: x)
    g.defvjp(lambda x, label: (x, None), lambda r, c: (c, None))
    with pytest.raises(TypeError, match=r"argument 1 \(str 'a label'\) is not a tensor.*"
                                        "nondiff_argnums"):
        grad_of(lambda x: g(x, "a label"))


def scaled_by(custom_vjp):
    """``x * y`` with ``y`` in nondiff_argnums."""
    def f(x, y):
        return x * y
    f = custom_vjp(f, nondiff_argnums=(1,))
    f.defvjp(lambda x, y: (x * y, None), lambda y, residuals, g: (g * y,))
    return f


def test_a_differentiated_tensor_in_nondiff_argnums_is_refused_as_jax_does(jax):
    # JAX: UnexpectedTracerError where a traced value sits in a nondiff_argnums position (its
    # gradient would be lost); a value not being differentiated is passed as it is
    f, jf = scaled_by(xg.custom_vjp), scaled_by(jax.custom_vjp)
    with pytest.raises(jax.errors.UnexpectedTracerError):
        jax.grad(lambda a: jf(a, a))(2.0)
    with pytest.raises(TypeError, match=r"custom_vjp function 'f': argument 1 is in "
                                        "nondiff_argnums but is a Tensor being differentiated.*"
                                        "move it out of nondiff_argnums"):
        xg.grad(lambda a: f(a, a))(xg.asarray(2.0))
    with pytest.raises(TypeError, match="argument 1 is in nondiff_argnums"):
        xg.grad(lambda a, b: f(a, b), argnums=1)(xg.asarray(2.0), xg.asarray(3.0))
    g = xg.custom_vjp(lambda x, extra: x * extra["scale"][0], nondiff_argnums=(1,))
    g.defvjp(lambda x, extra: (x * extra["scale"][0], None),
             lambda extra, residuals, c: (c * extra["scale"][0],))
    with pytest.raises(TypeError, match=r"argument 1\['scale'\]\[0\] is in nondiff_argnums"):
        xg.grad(lambda a: g(a, {"scale": [a * 2.0]}))(xg.asarray(2.0))
    w = xg.Variable(xg.asarray(3.0), name="w")
    with pytest.raises(TypeError, match="argument 1 is in nondiff_argnums"):
        with xg.GradientTape():
            f(xg.asarray(2.0), w)
    got = xg.grad(f)(xg.asarray(2.0), xg.asarray(3.0))        # y a constant: allowed
    assert got.item() == jax.grad(jf)(2.0, jax.numpy.asarray(3.0)).item() == 3.0
