"""``xg.scan`` and ``xg.fori_loop``, jax.lax's loops: values and gradients against JAX
(float64, where installed), finite differences and closed forms; the carry's checks; the
unrolled trace under ``xg.function``."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

R = np.random.default_rng(11)
W = R.standard_normal((3, 3)) * 0.5
XS = R.standard_normal((5, 2, 3))


def recurrent_loss(ns, scan, reverse):
    """A tanh recurrence over ``xs`` with a dict carry and a tuple of outputs (one None), scanned
    by ``scan`` (xg.scan or jax.lax.scan)."""
    def step(carry, x):
        h = ns.tanh(carry["h"] @ x["w"] + x["in"])
        return {"h": h, "n": carry["n"] + 1.0}, (h, {"s": ns.sum(h)}, None)

    def loss(w, xs):
        init = {"h": ns.zeros((2, 3), dtype=ns.float64), "n": ns.zeros((), dtype=ns.float64)}
        carry, (hs, sums, nothing) = scan(step, init, {"w": ns.stack([w] * len(xs)), "in": xs},
                                          reverse=reverse)
        assert nothing is None
        return ns.sum(carry["h"] ** 2) + ns.sum(hs * xs) + ns.sum(sums["s"] ** 2) + carry["n"]
    return loss


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_value_and_gradients_match_jax(jax, reverse):
    got = xg.value_and_grad(recurrent_loss(xg, xg.scan, reverse), argnums=(0, 1))(W, XS)
    want = jax.value_and_grad(recurrent_loss(jax.numpy, jax.lax.scan, reverse),
                              argnums=(0, 1))(W, XS)
    np.testing.assert_allclose(got[0].item(), float(want[0]), rtol=1e-12)
    for g, w in zip(got[1], want[1]):
        np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_gradients_match_finite_differences(reverse):
    xg.testing.check_grads(recurrent_loss(xg, xg.scan, reverse),
                           [xg.asarray(W), xg.asarray(XS)], order=2)


def test_scan_outputs_have_the_closed_forms():
    xs = xg.asarray([1.0, 2.0, 3.0, 4.0], dtype=xg.float64)
    total, running = xg.scan(lambda c, x: (c + x, c + x), 0.0, xs)
    assert total.item() == 10.0 and running.tolist() == [1.0, 3.0, 6.0, 10.0]
    total, running = xg.scan(lambda c, x: (c + x, c + x), 0.0, xs, reverse=True)
    assert running.tolist() == [10.0, 9.0, 7.0, 4.0]       # ys[i] still belongs to xs[i]
    powers = xg.scan(lambda c, _: (c * 2.0, c), xg.asarray(1.0), None, length=4)
    assert powers[0].item() == 16.0 and powers[1].tolist() == [1.0, 2.0, 4.0, 8.0]
    # d/da of the last carry of c -> a * c, from c = 1, four steps: 4 a^3
    grad = xg.grad(lambda a: xg.scan(lambda c, _: (a * c, None), xg.asarray(1.0,
                   dtype=xg.float64), None, length=4)[0])(xg.asarray(1.5, dtype=xg.float64))
    assert grad.item() == pytest.approx(4 * 1.5 ** 3, rel=1e-15)


def test_scan_without_steps_returns_the_init_and_empty_ys(jax):
    got_carry, got_ys = xg.scan(lambda c, x: (c + xg.sum(x), {"p": c * x}), 1.5,
                                xg.zeros((0, 2), dtype=xg.float64))
    want_carry, want_ys = jax.lax.scan(lambda c, x: (c + jax.numpy.sum(x), {"p": c * x}), 1.5,
                                       np.zeros((0, 2)))
    assert got_carry == 1.5 == float(want_carry)
    assert got_ys["p"].shape == want_ys["p"].shape == (0, 2)


def test_scan_under_function_unrolls_and_replays():
    loss = recurrent_loss(xg, xg.scan, False)
    step = xg.function(lambda w, xs: xg.grad(loss)(w, xs))
    for shift in range(3):
        w = xg.asarray(W + 0.1 * shift)
        np.testing.assert_allclose(step(w, xg.asarray(XS)).numpy(),
                                   xg.grad(loss)(w, xg.asarray(XS)).numpy(), rtol=1e-13)
    assert len(step.programs()) == 1


def test_scan_bad_arguments_name_them():
    xs = xg.zeros((3, 2))
    with pytest.raises(ValueError, match="length=4 disagrees with the leading axis size of xs, 3"):
        xg.scan(lambda c, x: (c, x), 0.0, xs, length=4)
    with pytest.raises(ValueError, match=r"different leading axis sizes \(xs\[0\]: 3, xs\[1\]: 2"):
        xg.scan(lambda c, x: (c, x), 0.0, (xs, xg.zeros((2,))))
    with pytest.raises(ValueError, match=r"xs\['a'\] is a scalar"):
        xg.scan(lambda c, x: (c, x), 0.0, {"a": xg.asarray(1.0)})
    with pytest.raises(ValueError, match="with xs=None .* give length"):
        xg.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(TypeError, match="f's carry output has shape \\(2,\\) but the initial "
                                        "carry has shape \\(\\)"):
        xg.scan(lambda c, x: (c + x, x), 0.0, xs)
    with pytest.raises(TypeError, match=r"f's carry output\[1\] has dtype float64 but the "
                                        r"initial carry\[1\] has float32"):
        xg.scan(lambda c, x: ((c[0], c[1].astype(xg.float64)), x), (0.0, xg.zeros(())), xs)
    with pytest.raises(TypeError, match=r"scan: f's carry output is a tuple of 1 where the "
                                        r"initial carry is a tuple of 2"):
        xg.scan(lambda c, x: ((c[0],), x), (0.0, 1.0), xs)
    with pytest.raises(TypeError, match="f returned a tuple as its carry, but the initial carry "
                                        "is one value"):
        xg.scan(lambda c, x: ((c, c), x), 0.0, xs)
    with pytest.raises(TypeError, match=r"f must return a pair \(carry, y\), got Tensor"):
        xg.scan(lambda c, x: x, 0.0, xs)
    with pytest.raises(TypeError, match="scan: length must be a non-negative int"):
        xg.scan(lambda c, x: (c, x), 0.0, None, length=2.0)
    with pytest.raises(TypeError, match="scan: unroll must be a positive int or a bool"):
        xg.scan(lambda c, x: (c, x), 0.0, xs, unroll=0)
    with pytest.raises(TypeError, match="scan: reverse must be True or False"):
        xg.scan(lambda c, x: (c, x), 0.0, xs, reverse="yes")
    with pytest.raises(TypeError, match="scan takes a callable"):
        xg.scan(None, 0.0, xs)


# -- fori_loop ------------------------------------------------------------------------------------
def newton_sqrt(ns, fori_loop):
    return lambda a: fori_loop(0, 6, lambda i, x: 0.5 * (x + a / x), a)


def test_fori_loop_value_and_gradient_match_jax_and_the_closed_form(jax):
    a = 2.0
    value, grad = xg.value_and_grad(newton_sqrt(xg, xg.fori_loop))(
        xg.asarray(a, dtype=xg.float64))
    want = jax.value_and_grad(newton_sqrt(jax.numpy, jax.lax.fori_loop))(a)
    assert value.item() == pytest.approx(float(want[0]), rel=1e-15)
    assert grad.item() == pytest.approx(float(want[1]), rel=1e-13)
    assert value.item() == pytest.approx(np.sqrt(a), rel=1e-15)
    assert grad.item() == pytest.approx(0.5 / np.sqrt(a), rel=1e-10)


def test_fori_loop_index_carry_pytree_and_empty_range(jax):
    def body(i, val):
        return {"x": val["x"] * 2.0 + i, "none": None}
    got = xg.fori_loop(1, 4, body, {"x": xg.asarray(1.0), "none": None})
    want = jax.lax.fori_loop(1, 4, lambda i, v: {"x": v["x"] * 2.0 + i}, {"x": 1.0})
    assert got["x"].item() == float(want["x"]) == 19.0   # 1 -> 3 -> 8 -> 19
    x = xg.asarray(3.0)
    assert xg.fori_loop(5, 2, body, x) is x
    assert xg.fori_loop(xg.asarray(0), xg.asarray(3), lambda i, v: v + i, 0.0) == 3.0
    assert xg.fori_loop(0, 3, lambda i, v: v + xg.asarray([1.0, 2.0])[i % 2], 0.0,
                        unroll=True).item() == 4.0


def test_fori_loop_bad_arguments_name_them():
    with pytest.raises(TypeError, match="fori_loop: lower must be an int or an integer scalar, "
                                        "got float 0.5"):
        xg.fori_loop(0.5, 3, lambda i, v: v, 1.0)
    with pytest.raises(TypeError, match="fori_loop: upper must be an int or an integer scalar, "
                                        "got a float32 Tensor"):
        xg.fori_loop(0, xg.asarray(3.0), lambda i, v: v, 1.0)
    with pytest.raises(TypeError, match=r"fori_loop: body_fun returned a tuple as its carry"):
        xg.fori_loop(0, 3, lambda i, v: (v, v), 1.0)
    with pytest.raises(TypeError, match=r"body_fun's carry output has shape \(2,\)"):
        xg.fori_loop(0, 3, lambda i, v: v * xg.ones(2), xg.asarray(1.0))
    with pytest.raises(TypeError, match="fori_loop takes a callable body_fun"):
        xg.fori_loop(0, 3, 1.0, 1.0)


def test_fori_loop_under_function_takes_int_bounds_and_names_a_tensor_bound():
    traced = xg.function(lambda n, c: xg.fori_loop(0, n, lambda i, c: c + 1.0, c))
    for n in (3, 5, 3):                        # a Python int: one trace per value
        assert traced(n, xg.zeros(2)).tolist() == [float(n)] * 2
    with pytest.raises(xg.jit.TraceError,
                       match=r"fori_loop\(upper=tensor\) inside an xg.function"):
        for n in (3, 5):                       # traced by the second call at the latest
            traced(xg.asarray(n), xg.zeros(2))
