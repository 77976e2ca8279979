"""xg.odeint(adjoint_norm="seminorm"): the adjoint pass measures its step errors on the state and
its cotangent only (torchdiffeq's adjoint seminorm). Fewer evaluations of the augmented system;
gradients against central finite differences and the default norm's in float64; bad values."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad import ode_adjoint

from test_ode import LV_PARAMS, LV_Y0, central_difference, f64, lotka_volterra

T = np.linspace(0.0, 6.0, 7)
WEIGHTS = np.linspace(0.5, 1.5, 14).reshape(7, 2)


def weighted_loss(norm, **tolerances):
    def loss(y0, params):
        ys = xg.odeint(lotka_volterra, y0, f64(T), params, adjoint_norm=norm, **tolerances)
        return xg.sum(ys * f64(WEIGHTS))
    return loss


def counting_adjoint_calls(monkeypatch):
    """A list that gets one entry per evaluation of the adjoint's augmented system."""
    calls = []
    integrate = ode_adjoint.integrate

    def counted(func, *args, **kwargs):
        def rhs(y, t):
            calls.append(t)
            return func(y, t)
        return integrate(rhs, *args, **kwargs)

    monkeypatch.setattr(ode_adjoint, "integrate", counted)
    return calls


@pytest.mark.parametrize("tol", [1e-6, 1e-9])
def test_seminorm_takes_fewer_adjoint_steps_with_gradients_within_the_tolerance(tol,
                                                                                  monkeypatch):
    calls = counting_adjoint_calls(monkeypatch)
    grads = {}
    evaluations = {}
    for norm in ("full", "seminorm"):
        del calls[:]
        grads[norm] = xg.grad(weighted_loss(norm, rtol=tol, atol=tol), argnums=(0, 1))(
            f64(LV_Y0), f64(LV_PARAMS))
        evaluations[norm] = len(calls)
    assert evaluations["seminorm"] < evaluations["full"]
    for full, semi in zip(grads["full"], grads["seminorm"]):
        scale = np.abs(full.numpy()).max()
        np.testing.assert_allclose(semi.numpy(), full.numpy(), atol=1e3 * tol * scale)
        assert not np.array_equal(semi.numpy(), full.numpy())       # other steps were taken


def test_seminorm_gradients_match_finite_differences():
    tight = dict(rtol=1e-11, atol=1e-11)
    loss = weighted_loss("seminorm", **tight)
    g_y0, g_params = xg.grad(loss, argnums=(0, 1))(f64(LV_Y0), f64(LV_PARAMS))

    def value(y0, params):
        return float(weighted_loss("full", **tight)(f64(y0), f64(params)))

    np.testing.assert_allclose(g_y0.numpy(), central_difference(
        lambda v: value(v, LV_PARAMS), LV_Y0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g_params.numpy(), central_difference(
        lambda v: value(LV_Y0, v), LV_PARAMS), rtol=1e-6, atol=1e-6)


def test_seminorm_on_the_tensor_steps_of_a_second_derivative():
    """A tape differentiating the adjoint pass steps it on Tensors: the seminorm applies there
    too (y' = -k y^2, y = y0 / (1 + k y0 t))."""
    t = f64([0.0, 0.5, 1.0])
    times = np.array([0.0, 0.5, 1.0])

    def riccati(k):
        return xg.sum(xg.odeint(lambda y, t, k: -k * y * y, f64(1.0), t, k, rtol=1e-11,
                                atol=1e-11, adjoint_norm="seminorm"))

    np.testing.assert_allclose(float(xg.grad(xg.grad(riccati))(f64(0.5))),
                               np.sum(2 * times ** 2 / (1 + 0.5 * times) ** 3), rtol=1e-8)


def test_seminorm_leaves_the_forward_solve_alone():
    y0, t, params = f64(LV_Y0), f64(T), f64(LV_PARAMS)
    full = xg.odeint(lotka_volterra, y0, t, params)
    semi = xg.odeint(lotka_volterra, y0, t, params, adjoint_norm="seminorm")
    np.testing.assert_array_equal(semi.numpy(), full.numpy())


@pytest.mark.parametrize("bad", ["semi", "max", None, 2])
def test_an_unknown_adjoint_norm_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match=r"odeint: adjoint_norm must be 'full'.*'seminorm'"):
        xg.odeint(lambda y, t: -y, f64([1.0]), f64([0.0, 1.0]), adjoint_norm=bad)
