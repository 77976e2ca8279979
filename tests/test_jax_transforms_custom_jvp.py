"""``xg.custom_jvp``, JAX's custom Jacobian-vector products, transposed for reverse mode: JAX's
classic examples (a safe ``log1pexp``; a deliberately wrong rule that must be the one used)
against JAX (float64, where installed) and finite differences; second order; under
``xg.jvp``/``jacfwd``/``hessian``, ``xg.vmap`` and ``xg.function``; bad rules named."""
from __future__ import annotations

import numpy as np
import pytest
from test_jax_transforms import X, Y, assert_trees_close, fd_jacobian

import xpgrad as xg

AT_OVERFLOW = np.array([0.0, 3.0, -2.0, 1000.0])


def safe_log1pexp(ns, custom_jvp):
    """JAX's documentation example: ``log(1 + exp(x))`` whose derivative, written as
    ``1 - 1 / (1 + exp(x))``, stays finite where ``exp`` overflows."""
    @custom_jvp
    def log1pexp(x):
        return ns.log(1.0 + ns.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        x, = primals
        t, = tangents
        return log1pexp(x), t * (1.0 - 1.0 / (1.0 + ns.exp(x)))

    return log1pexp


def scaled_x_sin_x(ns, custom_jvp, scale=3.0):
    """``x * sin(x)`` with a rule ``scale`` times its true derivative: only the rule gives
    that gradient. The rule computes ``primal_out`` by calling ``f``, as JAX's examples do, so
    JAX too uses the rule at every order."""
    f = custom_jvp(lambda x: x * ns.sin(x))

    @f.defjvp
    def f_jvp(primals, tangents):
        x, = primals
        return f(x), scale * tangents[0] * (ns.sin(x) + x * ns.cos(x))

    return f


def derivative_of_x_sin_x(x):
    return np.sin(x) + x * np.cos(x)


def test_safe_log1pexp_has_finite_gradients_where_the_plain_one_is_nan(jax):
    log1pexp = safe_log1pexp(xg, xg.custom_jvp)
    x = xg.asarray(AT_OVERFLOW)
    with np.errstate(over="ignore", invalid="ignore"):   # exp(1000) overflows in both
        custom = xg.grad(lambda x: xg.sum(log1pexp(x)))(x).numpy()
        plain = xg.grad(lambda x: xg.sum(xg.log(1.0 + xg.exp(x))))(x).numpy()
        want = jax.vmap(jax.grad(safe_log1pexp(jax.numpy, jax.custom_jvp)))(AT_OVERFLOW)
    assert np.isnan(plain[-1]) and np.all(np.isfinite(custom))
    np.testing.assert_allclose(custom, np.asarray(want), rtol=1e-15)
    np.testing.assert_allclose(custom, 1.0 / (1.0 + np.exp(-AT_OVERFLOW)), rtol=1e-14)
    with np.errstate(over="ignore"):
        assert log1pexp(x).numpy()[-1] == np.inf        # the primal is fun's, unchanged


def test_a_scaled_rule_is_what_every_transform_uses(jax):
    f = scaled_x_sin_x(xg, xg.custom_jvp)
    jf = scaled_x_sin_x(jax.numpy, jax.custom_jvp)
    x = xg.asarray(X)
    want = 3.0 * derivative_of_x_sin_x(X)
    np.testing.assert_allclose(xg.grad(lambda x: xg.sum(f(x)))(x).numpy(), want, rtol=1e-15)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), want, rtol=1e-15)
    out, tangent = xg.jvp(f, x, xg.asarray(Y[0]))
    np.testing.assert_allclose(out.numpy(), X * np.sin(X), rtol=1e-15)
    np.testing.assert_allclose(tangent.numpy(), want * Y[0], rtol=1e-15)
    np.testing.assert_allclose(xg.jacfwd(f)(x).numpy(), np.asarray(jax.jacfwd(jf)(X)),
                               rtol=1e-14)
    np.testing.assert_allclose(xg.jacrev(f)(x).numpy(), np.asarray(jax.jacrev(jf)(X)),
                               rtol=1e-14)
    per_row = xg.vmap(xg.grad(lambda v: xg.sum(f(v))))(xg.asarray(Y)).numpy()
    np.testing.assert_allclose(per_row, 3.0 * derivative_of_x_sin_x(Y), rtol=1e-15)
    honest = scaled_x_sin_x(xg, xg.custom_jvp, scale=1.0)
    np.testing.assert_allclose(xg.grad(lambda x: xg.sum(honest(x)))(x).numpy(),
                               fd_jacobian(lambda v: np.sum(v * np.sin(v)), X), rtol=1e-8)


def test_second_order_differentiates_the_rule(jax):
    f = scaled_x_sin_x(xg, xg.custom_jvp)
    jf = scaled_x_sin_x(jax.numpy, jax.custom_jvp)
    got = xg.hessian(lambda x: xg.sum(f(x) ** 2))(xg.asarray(X)).numpy()
    want = jax.hessian(lambda x: jax.numpy.sum(jf(x) ** 2))(X)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-12)
    grad_of_grad = xg.grad(lambda x: xg.sum(xg.grad(lambda v: xg.sum(f(v)))(x)))
    first = lambda v: np.sum(3.0 * derivative_of_x_sin_x(v))       # noqa: E731
    np.testing.assert_allclose(grad_of_grad(xg.asarray(X)).numpy(), fd_jacobian(first, X),
                               rtol=1e-7)


def test_the_outputs_derivative_is_the_rules_at_every_order():
    """A rule computing primal_out by plain operations (not by calling f): the Hessian of
    sum(f^2) is 2 (3 f')^2 + 2 f (3 f''), the rule at both orders (module docstring)."""
    f = xg.custom_jvp(lambda x: x * xg.sin(x))
    f.defjvp(lambda p, t: (p[0] * xg.sin(p[0]),
                           3.0 * t[0] * (xg.sin(p[0]) + p[0] * xg.cos(p[0]))))
    got = xg.hessian(lambda x: xg.sum(f(x) ** 2))(xg.asarray(X)).numpy()
    second = 2.0 * np.cos(X) - X * np.sin(X)
    want = 2.0 * (3.0 * derivative_of_x_sin_x(X)) ** 2 + 2.0 * X * np.sin(X) * 3.0 * second
    np.testing.assert_allclose(got, np.diag(want), rtol=1e-13, atol=1e-15)


def test_under_function_a_replay_gives_the_same_numbers(jax):
    log1pexp = safe_log1pexp(xg, xg.custom_jvp)
    jgrad = jax.grad(lambda x: jax.numpy.sum(safe_log1pexp(jax.numpy, jax.custom_jvp)(x)))
    step = xg.function(xg.grad(lambda x: xg.sum(log1pexp(x) * x)))
    for shift in range(3):
        x = X + shift
        got = step(xg.asarray(x)).numpy()
        want = np.asarray(jgrad(x)) * x + np.log1p(np.exp(x))
        np.testing.assert_allclose(got, want, rtol=1e-13)
    assert len(step.programs()) == 1


def test_pytrees_nondiff_argnums_and_defjvps_match_jax(jax):
    def build(ns, custom_jvp):
        f = custom_jvp(lambda s, p: {"y": ns.sin(p["a"]) * p["b"] * s}, nondiff_argnums=(0,))

        @f.defjvp
        def f_jvp(s, primals, tangents):
            (p,), (t,) = primals, tangents
            return f(s, p), {"y": s * (ns.cos(p["a"]) * t["a"] * p["b"]
                                      + ns.sin(p["a"]) * t["b"])}

        g = custom_jvp(lambda x, y: x * y)
        g.defjvps(lambda tx, out, x, y: 2.0 * tx * y, None)
        return lambda p: ns.sum(f(2.0, p)["y"] ** 2) + ns.sum(g(p["a"], p["b"]))

    params = {"a": X, "b": np.array(1.5)}
    got = xg.grad(build(xg, xg.custom_jvp))(xg.tree_map(xg.asarray, params))
    want = jax.grad(build(jax.numpy, jax.custom_jvp))(params)
    assert_trees_close(got, want, jax)
    np.testing.assert_allclose(got["b"].numpy(), np.sum(8.0 * 1.5 * np.sin(X) ** 2),
                               rtol=1e-13)        # defjvps's None: y's part is zero


def test_without_a_tape_it_calls_fun_and_keywords_resolve():
    calls = []

    def fun(x, scale=2.0):
        calls.append("fun")
        return x * scale

    f = xg.custom_jvp(fun)
    f.defjvp(lambda primals, tangents: (primals[0] * primals[1], tangents[0] * primals[1]))
    np.testing.assert_array_equal(f(xg.asarray(X), scale=4.0).numpy(), X * 4.0)
    assert calls == ["fun"]
    grad = xg.grad(lambda x: xg.sum(f(x, scale=4.0)))(xg.asarray(X))
    np.testing.assert_array_equal(grad.numpy(), np.full(3, 4.0))
    assert calls == ["fun"]                # differentiated: the rule, not fun


def test_bad_rules_and_arguments_are_named():
    x = xg.asarray(X)

    def grad_of(f):
        return xg.grad(lambda x: xg.sum(f(x)))(x)

    with pytest.raises(AttributeError, match="No JVP defined for custom_jvp function 'f'"):
        def f(x):
            return x
        xg.custom_jvp(f)(x)
    cases = [
        (lambda p, t: p[0], TypeError, r"must return a pair \(primal_out, tangent_out\)"),
        (lambda p, t: (p[0], t[0][:2]), ValueError,
         r"tangent_out has shape \(2,\) and dtype float64, its primal_out has shape \(3,\)"),
        (lambda p, t: (p[0], t[0].astype(xg.float32)), TypeError,
         r"tangent_out has dtype float32 but its primal_out has dtype float64; they must be "
         r"equal \(as in jax.jvp\).*\(rule '<lambda>' at test_jax_transforms_custom_jvp.py:"),
        (lambda p, t: ((p[0], p[0]), t[0]), ValueError,
         r"the jvp rule's tangent_out is a leaf \(Tensor\) where its primal_out is a tuple"),
        (lambda p, t: (p[0], 1.0), TypeError, "tangent_out must be Tensors, got Tensor and "
                                              "float"),
    ]
    for rule, error, message in cases:
        f = xg.custom_jvp(lambda x: x)
        f.defjvp(rule)
        with pytest.raises(error, match=message):
            grad_of(f)
    f = xg.custom_jvp(lambda x, s: x * s, nondiff_argnums=(2,))
    f.defjvp(lambda s, p, t: (p[0], t[0]))
    with pytest.raises(ValueError, match="nondiff_argnums has 2 but it got 2 arguments"):
        f(x, 2.0)
    with pytest.raises(TypeError, match="custom_jvp: nondiff_argnums must be a tuple of "
                                        "non-negative ints"):
        xg.custom_jvp(lambda x: x, nondiff_argnums=(-1,))
    with pytest.raises(TypeError, match="custom_jvp takes a callable"):
        xg.custom_jvp(None)
    with pytest.raises(TypeError, match="defjvp takes a callable rule, got int"):
        xg.custom_jvp(lambda x: x).defjvp(3)
    with pytest.raises(TypeError, match="defjvps cannot be used with nondiff_argnums"):
        xg.custom_jvp(lambda s, x: x, nondiff_argnums=(0,)).defjvps(None)
    g = xg.custom_jvp(lambda x, y: x * y)
    g.defjvps(lambda t, out, x, y: t * y)
    with pytest.raises(TypeError, match="defjvps got 1 rules for 2 arguments"):
        xg.grad(lambda x: xg.sum(g(x, x)))(x)
    with pytest.raises(NotImplementedError, match="symbolic_zeros=True is not supported"):
        xg.custom_jvp(lambda x: x).defjvp(lambda p, t: (p[0], t[0]), symbolic_zeros=True)


def test_what_custom_vjp_refuses_under_it_is_named_as_custom_jvps():
    """custom_jvp sits on custom_vjp's node; its refusals named custom_vjp, fwd and bwd,
    which a custom_jvp user never wrote."""
    x = xg.asarray(X)
    v = xg.Variable(2.0, dtype=xg.float64, name="v")
    closes = xg.custom_jvp(lambda x: x * v)
    closes.defjvp(lambda p, t: (p[0] * v, t[0] * v))
    with pytest.raises(TypeError, match=r"custom_jvp function '<lambda>' reads the Variables "
                                        r"\['v'\] besides its arguments: pass them as arguments, "
                                        "with their tangents in the jvp rule"):
        xg.grad(lambda x: xg.sum(closes(x)))(x)
    two = xg.custom_jvp(lambda x: (x, x.astype(xg.complex128)))
    two.defjvp(lambda p, t: ((p[0], p[0].astype(xg.complex128)),
                             (t[0], t[0].astype(xg.complex128))))
    with pytest.raises(TypeError, match=r"custom_jvp function '<lambda>': the jvp rule's "
                                        r"primal_out mixes complex and real floating leaves"):
        xg.grad(lambda x: xg.sum(two(x)[0]))(x)
    moded = xg.custom_jvp(lambda x, mode: x)
    moded.defjvp(lambda p, t: (p[0], t[0]))
    with pytest.raises(TypeError, match=r"custom_jvp function '<lambda>': argument 1 \(str "
                                        r"'fast'\) is not a tensor or numbers; list it in "
                                        "nondiff_argnums"):
        xg.grad(lambda x: xg.sum(moded(x, "fast")))(x)
    with pytest.raises(TypeError, match=r"custom_jvp function '<lambda>': got an unexpected "
                                        "keyword argument 'scale'"):
        moded(x, mode=1, scale=2.0)


def _mixed_outputs(ns, custom_jvp, integer_tangent):
    """``(2 x, sin(y), floor(y))`` for float32 ``x`` and float64 ``y``: three dtypes out; an
    integer output's tangent is ``integer_tangent(out)`` (JAX's float0 zeros, xpgrad's zeros
    of its dtype)."""
    f = custom_jvp(lambda x, y: (2.0 * x, ns.sin(y), ns.floor(y).astype(ns.int64)))

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        out = f(x, y)
        return out, (2.0 * tx, ns.cos(y) * ty, integer_tangent(out[2]))

    return f


def _mixed_loss(f, ns):
    def loss(x, y):
        a, b, n = f(x, y)
        return ns.sum(a * a) + ns.sum(b * b * n.astype(b.dtype))
    return loss


def test_outputs_of_several_dtypes_and_an_integer_output_match_jax(jax):
    """Outputs of float32 and float64 and an int64 one, as JAX's may be (they were refused:
    the outputs go through the tape node as one vector, which had to be of one dtype)."""
    jnp = jax.numpy
    x32 = X.astype(np.float32)
    f = _mixed_outputs(xg, xg.custom_jvp, xg.zeros_like)
    jax_f = _mixed_outputs(jnp, jax.custom_jvp,
                           lambda n: np.zeros(n.shape, jax.dtypes.float0))
    grad = xg.grad(_mixed_loss(f, xg), argnums=(0, 1))
    got = grad(xg.asarray(x32), xg.asarray(Y))
    want = jax.grad(_mixed_loss(jax_f, jnp), argnums=(0, 1))(x32, Y)
    assert got[0].dtype == xg.float32 and got[1].dtype == xg.float64
    np.testing.assert_allclose(got[0].numpy(), np.asarray(want[0]), rtol=1e-6)
    np.testing.assert_allclose(got[1].numpy(), np.asarray(want[1]), rtol=1e-13)
    plain = _mixed_loss(lambda x, y: (2.0 * x, np.sin(y), np.floor(y).astype(np.int64)), np)
    np.testing.assert_allclose(got[1].numpy(), fd_jacobian(lambda y: plain(x32, y), Y),
                               rtol=1e-6)
    replayed = xg.function(grad)(xg.asarray(x32), xg.asarray(Y))
    np.testing.assert_array_equal(replayed[1].numpy(), got[1].numpy())
    hess = xg.hessian(lambda y: xg.sum(f(xg.asarray(x32), y)[1]))(xg.asarray(Y)).numpy()
    jax_hess = jax.hessian(lambda y: jnp.sum(jax_f(x32, y)[1]))(Y)
    np.testing.assert_allclose(hess, np.asarray(jax_hess), rtol=1e-13, atol=1e-15)
    integer = xg.grad(lambda y: xg.sum(f(xg.asarray(x32), y)[2].astype(y.dtype)))
    np.testing.assert_array_equal(integer(xg.asarray(Y)).numpy(), np.zeros(Y.shape))


def test_a_differentiated_tensor_in_nondiff_argnums_gets_no_gradient_as_in_jax(jax):
    # JAX's custom_jvp, unlike its custom_vjp, takes a traced value there and differentiates
    # only the primals (docs/autodiff.md); xpgrad's does the same
    def build(custom_jvp):
        f = custom_jvp(lambda x, y: x * y, nondiff_argnums=(1,))
        f.defjvp(lambda y, primals, tangents: (primals[0] * y, tangents[0] * y))
        return f

    f, jf = build(xg.custom_jvp), build(jax.custom_jvp)
    got = xg.grad(lambda a: f(a, a * 3.0))(xg.asarray(2.0)).item()
    assert got == jax.grad(lambda a: jf(a, a * 3.0))(2.0).item() == 6.0
    assert xg.grad(f, argnums=1)(xg.asarray(2.0), xg.asarray(3.0)).item() == 0.0
    assert jax.grad(jf, argnums=1)(2.0, 3.0).item() == 0.0
