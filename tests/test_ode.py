"""xg.odeint: values against closed forms, SciPy's solve_ivp and JAX's odeint; adjoint gradients
against closed forms, central finite differences and JAX's (float64 throughout); bad input."""
import math

import numpy as np
import pytest

import xpgrad as xg

F64 = xg.float64
TIGHT = dict(rtol=1e-11, atol=1e-11)


def f64(values):
    return xg.asarray(np.asarray(values, dtype=np.float64))


def central_difference(f, x, eps=1e-3):
    """d f / d x by the five-point central difference (error ~ eps**4), ``f`` a function of a
    float64 array returning a float."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        def at(step):
            moved = x.copy()
            moved[i] += step
            return f(moved)
        out[i] = (at(-2 * eps) - 8 * at(-eps) + 8 * at(eps) - at(2 * eps)) / (12 * eps)
    return out


def lotka_volterra(state, t, params):
    prey, predator = state[0], state[1]
    alpha, beta, delta, gamma = params[0], params[1], params[2], params[3]
    return xg.stack([alpha * prey - beta * prey * predator,
                     delta * prey * predator - gamma * predator])


LV_PARAMS = [1.1, 0.4, 0.1, 0.4]
LV_Y0 = [10.0, 5.0]


# -- values ------------------------------------------------------------------------------------
def test_exponential_decay_matches_the_closed_form():
    t = np.linspace(0.0, 3.0, 7)
    ys = xg.odeint(lambda y, t, k: -k * y, f64([1.0, 2.0]), f64(t), f64(0.7))
    assert ys.shape == (7, 2) and ys.dtype == F64
    expected = np.exp(-0.7 * t)[:, None] * np.array([1.0, 2.0])
    np.testing.assert_allclose(ys.numpy(), expected, rtol=1e-7)


def test_harmonic_oscillator_pytree_state_matches_cos_and_sin():
    t = np.linspace(0.0, 10.0, 21)
    out = xg.odeint(lambda s, t: {"x": s["v"], "v": -s["x"]},
                    {"x": f64(1.0), "v": f64(0.0)}, f64(t), **TIGHT)
    assert set(out) == {"x", "v"} and out["x"].shape == (21,)
    np.testing.assert_allclose(out["x"].numpy(), np.cos(t), atol=1e-9)
    np.testing.assert_allclose(out["v"].numpy(), -np.sin(t), atol=1e-9)


def test_lotka_volterra_matches_scipy_solve_ivp():
    integrate = pytest.importorskip("scipy.integrate")
    t = np.linspace(0.0, 15.0, 31)
    ys = xg.odeint(lotka_volterra, f64(LV_Y0), f64(t), f64(LV_PARAMS), **TIGHT).numpy()
    a, b, d, g = LV_PARAMS
    ref = integrate.solve_ivp(lambda t, y: [a * y[0] - b * y[0] * y[1],
                                            d * y[0] * y[1] - g * y[1]],
                              (0.0, 15.0), LV_Y0, t_eval=t, method="DOP853",
                              rtol=1e-13, atol=1e-13).y.T
    np.testing.assert_allclose(ys, ref, rtol=1e-8, atol=1e-8)


def test_float32_state_stays_float32():
    ys = xg.odeint(lambda y, t: -y, xg.asarray([1.0]), xg.asarray([0.0, 1.0]),
                   rtol=1e-5, atol=1e-6)
    assert ys.dtype == xg.float32
    assert abs(float(ys[1, 0]) - math.exp(-1)) < 1e-5


def test_time_dependent_right_hand_side_and_one_time():
    t = np.array([0.5, 1.0, 2.5])
    ys = xg.odeint(lambda y, t: xg.cos(t) * xg.ones_like(y), f64([0.0]), f64(t), **TIGHT)
    np.testing.assert_allclose(ys.numpy()[:, 0], np.sin(t) - np.sin(0.5), atol=1e-10)
    only = xg.odeint(lambda y, t: -y, f64([3.0]), f64([1.0]))
    assert only.tolist() == [[3.0]]


# -- gradients ---------------------------------------------------------------------------------
def test_decay_gradients_match_the_closed_form_for_y0_t_and_args():
    t = f64([0.0, 0.5, 2.0])

    def loss(y0, t, k):
        ys = xg.odeint(lambda y, t, k: -k * y, y0, t, k, **TIGHT)
        return xg.sum(ys * f64([0.3, 1.0, 2.0]))

    dy0, dt, dk = xg.grad(loss, argnums=(0, 1, 2))(f64(1.5), t, f64(0.8))
    w, tv, k, y0 = np.array([0.3, 1.0, 2.0]), t.numpy(), 0.8, 1.5
    decay = np.exp(-k * (tv - tv[0]))
    np.testing.assert_allclose(float(dy0), np.sum(w * decay), rtol=1e-9)
    np.testing.assert_allclose(float(dk), np.sum(w * y0 * -(tv - tv[0]) * decay), rtol=1e-8)
    dt_expected = w * y0 * -k * decay
    dt_expected[0] = -np.sum(dt_expected[1:])
    np.testing.assert_allclose(dt.numpy(), dt_expected, rtol=1e-8, atol=1e-12)


def test_lotka_volterra_gradients_match_finite_differences():
    t = np.linspace(0.0, 4.5, 4)
    weights = np.linspace(0.5, 1.5, 8).reshape(4, 2)

    def value(y0, t, params):
        ys = xg.odeint(lotka_volterra, f64(y0), f64(t), f64(params), **TIGHT)
        return float(xg.sum(ys * f64(weights)))

    def loss(y0, t, params):
        return xg.sum(xg.odeint(lotka_volterra, y0, t, params, **TIGHT) * f64(weights))

    grads = xg.grad(loss, argnums=(0, 1, 2))(f64(LV_Y0), f64(t), f64(LV_PARAMS))
    numeric = [central_difference(lambda v: value(v, t, LV_PARAMS), LV_Y0),
               central_difference(lambda v: value(LV_Y0, v, LV_PARAMS), t),
               central_difference(lambda v: value(LV_Y0, t, v), LV_PARAMS)]
    for got, want in zip(grads, numeric):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-6)


def test_gradient_under_a_tape_with_output_gradients_and_a_pytree_state():
    t = f64(np.linspace(0.0, 2.0, 5))
    x0, v0 = f64(1.0), f64(0.5)
    omega = f64(1.3)
    with xg.GradientTape() as tape:
        tape.watch([x0, v0, omega])
        out = xg.odeint(lambda s, t, w: {"x": s["v"], "v": -w * w * s["x"]},
                        {"x": x0, "v": v0}, t, omega, **TIGHT)
        target = out["x"][-1]
    dx0, dv0, dw = tape.gradient(target, [x0, v0, omega])
    w, T = 1.3, 2.0            # x(T) = x0 cos(wT) + v0/w sin(wT)
    np.testing.assert_allclose(float(dx0), math.cos(w * T), rtol=1e-8)
    np.testing.assert_allclose(float(dv0), math.sin(w * T) / w, rtol=1e-8)
    dw_expected = (-1.0 * T * math.sin(w * T) - 0.5 / w ** 2 * math.sin(w * T)
                   + 0.5 / w * T * math.cos(w * T))
    np.testing.assert_allclose(float(dw), dw_expected, rtol=1e-7)


def test_closure_variables_of_a_neural_ode_get_gradients():
    """An MLP's Variables read from func's closure get the same gradient as when passed as
    args, and match finite differences."""
    layer1 = xg.nn.Linear(2, 8, rng=0, dtype=F64)
    layer2 = xg.nn.Linear(8, 2, rng=1, dtype=F64)
    t = f64([0.0, 0.5, 1.0])
    y0 = f64([[0.5, -0.3]])

    def closure(y, t):
        return layer2(xg.tanh(layer1(y)))

    with xg.GradientTape() as tape:
        loss = xg.sum(xg.odeint(closure, y0, t, **TIGHT) ** 2)
    variables = [layer1.w, layer1.b, layer2.w, layer2.b]
    from_closure = tape.gradient(loss, variables)

    def as_args(y, t, w1, b1, w2, b2):
        return xg.tanh(y @ w1 + b1) @ w2 + b2

    def loss_of(*params):
        return xg.sum(xg.odeint(as_args, y0, t, *params, **TIGHT) ** 2)

    plain = [xg.asarray(v.numpy()) for v in variables]
    from_args = xg.grad(loss_of, argnums=(0, 1, 2, 3))(*plain)
    for a, b in zip(from_closure, from_args):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)

    def value(b2):
        params = plain[:3] + [f64(b2)]
        return float(loss_of(*params))

    np.testing.assert_allclose(from_closure[3].numpy(),
                               central_difference(value, plain[3].numpy()), rtol=1e-6)


def test_value_and_grad_and_second_call_reuse():
    k = f64(0.4)
    f = xg.value_and_grad(lambda k: xg.odeint(lambda y, t, k: -k * y, f64(1.0),
                                              f64([0.0, 1.0]), k, **TIGHT)[-1])
    for _ in range(2):
        value, grad = f(k)
        np.testing.assert_allclose(float(value), math.exp(-0.4), rtol=1e-10)
        np.testing.assert_allclose(float(grad), -math.exp(-0.4), rtol=1e-9)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("t, words", [([0.0, 1.0, 1.0], "strictly increasing"),
                                      ([1.0, 0.0], "strictly increasing"),
                                      ([[0.0, 1.0]], "1-D"),
                                      ([0.0, float("nan")], "strictly increasing")])
def test_bad_times_are_refused_naming_t(t, words):
    with pytest.raises(ValueError, match=f"odeint: t .*{words}"):
        xg.odeint(lambda y, t: -y, f64([1.0]), f64(t))


def test_wrong_output_shape_or_structure_names_func():
    with pytest.raises(ValueError, match=r"func 'grow' returned shape \(3,\)"):
        def grow(y, t):
            return xg.concat([y, y[:1]])
        xg.odeint(grow, f64([1.0, 2.0]), f64([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"odeint: func .*output.*same structure"):
        xg.odeint(lambda s, t: (s["a"],), {"a": f64(1.0)}, f64([0.0, 1.0]))
    with pytest.raises(TypeError, match=r"odeint: func '<lambda>' returned NoneType"):
        xg.odeint(lambda y, t: None, f64([1.0]), f64([0.0, 1.0]))


def test_integer_y0_and_bad_settings_are_refused():
    with pytest.raises(TypeError, match=r"odeint: y0 has dtype int64.*floating"):
        xg.odeint(lambda y, t: -y, xg.asarray([1, 2]), f64([0.0, 1.0]))
    with pytest.raises(TypeError, match=r"odeint: y0\['b'\] has dtype"):
        xg.odeint(lambda y, t: y, {"a": f64(1.0), "b": xg.asarray(1)}, f64([0.0, 1.0]))
    with pytest.raises(TypeError, match=r"args=\(k,\)\) is xg.odeint\(func, y0, t, k\)"):
        xg.odeint(lambda y, t, k: -k * y, f64([1.0]), f64([0.0, 1.0]), args=(f64(1.0),))
    with pytest.raises(TypeError, match="unexpected keyword argument 'method'"):
        xg.odeint(lambda y, t: -y, f64([1.0]), f64([0.0, 1.0]), method="rk4")
    # torchdiffeq's keywords say what xg.odeint is, and that its func takes (y, t)
    for keyword, value in [("method", "rk4"), ("options", {"step_size": 0.1}),
                           ("adjoint_options", {"norm": "seminorm"})]:
        with pytest.raises(TypeError, match=rf"'{keyword}': xg.odeint is jax.*Dormand-Prince"
                                            r".*torchdiffeq's func\(t, y\) is func\(y, t\)"):
            xg.odeint(lambda y, t: -y, f64([1.0]), f64([0.0, 1.0]), **{keyword: value})
    with pytest.raises(TypeError, match="unexpected keyword argument 'step'"):
        xg.odeint(lambda y, t: -y, f64([1.0]), f64([0.0, 1.0]), step=0.1)
    with pytest.raises(TypeError, match="func must be callable"):
        xg.odeint("f", f64([1.0]), f64([0.0, 1.0]))
    with pytest.raises(ValueError, match="rtol must be"):
        xg.odeint(lambda y, t: -y, f64([1.0]), f64([0.0, 1.0]), rtol=-1.0)
    with pytest.raises(ValueError, match="atol must be > 0"):
        xg.odeint(lambda y, t: -y, f64([0.0, 1.0]), f64([0.0, 1.0]), atol=0.0)
    with pytest.raises(ValueError, match="mxstep must be a positive integer"):
        xg.odeint(lambda y, t: -y, f64([1.0]), f64([0.0, 1.0]), mxstep=0)


def test_too_few_steps_and_blow_up_raise_step_limit_errors():
    with pytest.raises(xg.StepLimitError, match="mxstep=3 steps"):
        xg.odeint(lambda y, t: -y, f64([1.0]), f64([0.0, 100.0]), mxstep=3)
    with pytest.raises(xg.StepLimitError, match="step size fell"):
        xg.odeint(lambda y, t: y * y, f64([1.0]), f64([0.0, 2.0]))   # 1/(1-t) blows up at 1


# -- higher order and transforms ---------------------------------------------------------------
def test_second_derivatives_for_args_and_y0_match_the_closed_form():
    t = f64([0.0, 0.5, 1.0])
    times = np.array([0.0, 0.5, 1.0])

    def riccati(k, y0):      # y' = -k y^2: y = y0 / (1 + k y0 t)
        return xg.sum(xg.odeint(lambda y, t, k: -k * y * y, y0, t, k, **TIGHT))

    d2k = xg.grad(xg.grad(riccati))(f64(0.5), f64(1.0))
    d2y0 = xg.grad(xg.grad(riccati, argnums=1), argnums=1)(f64(0.5), f64(1.0))
    np.testing.assert_allclose(float(d2k), np.sum(2 * times ** 2 / (1 + 0.5 * times) ** 3),
                               rtol=1e-8)
    np.testing.assert_allclose(float(d2y0), np.sum(-times / (1 + 0.5 * times) ** 3),
                               rtol=1e-8)


def test_second_derivative_through_t_is_refused_and_vmap_and_function_solve():
    def of_t(t):
        return xg.sum(xg.odeint(lambda y, t: -y, f64(1.0), t))

    with pytest.raises(NotImplementedError, match="odeint: .*second-order.*not for t"):
        xg.grad(xg.grad(of_t))(f64([0.0, 1.0]))
    # inside xg.vmap the examples are one system (tests/test_ode_vmap.py)
    mapped = xg.vmap(lambda y0: xg.odeint(lambda y, t: -y, y0, f64([0.0, 1.0])))(f64([1.0, 2.0]))
    np.testing.assert_allclose(mapped.numpy(), np.outer([1.0, 2.0], np.exp([0.0, -1.0])),
                               rtol=1e-7)
    # under xg.function the solve is one step of the program (tests/test_solver_steps.py)
    step = xg.function(lambda y0: xg.odeint(lambda y, t: -y, y0, f64([0.0, 1.0])))
    for start in (1.0, 2.0, 3.0):
        np.testing.assert_allclose(step(f64([start])).numpy()[:, 0],
                                   start * np.exp(-np.array([0.0, 1.0])), rtol=1e-7)
    assert step.trace_count == 1


def test_float32_gradient_agrees_with_float64_and_jvp_works():
    t = np.linspace(0.0, 15.0, 31)

    def loss(p, dtype):
        return xg.sum(xg.odeint(lotka_volterra, xg.asarray(LV_Y0, dtype=dtype),
                                xg.asarray(t, dtype=dtype), p))

    g32 = xg.grad(lambda p: loss(p, xg.float32))(xg.asarray(LV_PARAMS))
    g64 = xg.grad(lambda p: loss(p, F64))(f64(LV_PARAMS))
    assert g32.dtype == xg.float32
    np.testing.assert_allclose(g32.numpy(), g64.numpy(), rtol=1e-4)
    _, tangent = xg.jvp(lambda p: loss(p, F64), (f64(LV_PARAMS),), (f64([1.0, 0, 0, 0]),))
    # (two reverse passes: the second differentiates the adjoint solve's steps, at rtol=1.4e-8)
    np.testing.assert_allclose(float(tangent), float(g64[0]), rtol=1e-5)
