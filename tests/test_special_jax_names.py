"""xg.special functions of jax.scipy.special / SciPy that earlier sessions lacked: dawsn, sici,
fresnel. Values against mpmath (computed here, on both sides of each switch of method) and SciPy
on both backends, SciPy's edges, float32, empty and 0-d input, gradients against the closed-form
derivatives and finite differences (to second order), and bad input. PyTorch has none of them
(its special module lacks Dawson, Fresnel and the sine integral); JAX is not installed."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")
pytestmark = pytest.mark.usefixtures("numpy_default")

BACKENDS = ["numpy", "numba"]
EDGES = np.array([0.0, -0.0, 5e-324, -5e-324, np.inf, -np.inf, np.nan, 1e300, -1e300])


def f64(values, backend="numpy"):
    return xg.asarray(values, dtype=xg.float64, backend=backend)


def _outputs(name, x):
    """The function's outputs as a list of NumPy arrays (sici and fresnel give two)."""
    out = getattr(xg.special, name)(x)
    return [v.numpy() for v in (out if isinstance(out, tuple) else (out,))]


def _scipy(name, x):
    """SciPy's values, but +-1/2 for its fresnel's NaN past 1.3e154 (its x^2 overflows;
    mpmath's are +-1/2, test_values_match_mpmath checks ours there)."""
    out = getattr(sc, name)(x)
    out = list(out) if isinstance(out, tuple) else [out]
    if name == "fresnel":
        huge = np.abs(np.asarray(x)) > 1.3e154
        out = [np.where(huge, np.sign(x) * 0.5, v) for v in out]
    return out


#: name -> (points across the switches, mpmath references in SciPy's output order, rtol)
MPMATH = {
    "dawsn": (np.concatenate([np.linspace(-10.0, 10.0, 201), [6.5 - 1e-9, 6.5, 6.5 + 1e-9,
                                                              1e-300, 30.0, 1e10, 1e300]]),
              [lambda v: mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-v * v) * mpmath.erfi(v)],
              4e-15),
    "sici": (np.concatenate([np.linspace(-20.0, 20.0, 201), [3.0 - 1e-9, 3.0, 3.0 + 1e-9,
                                                             1e-300, 1e5, 1e300]]),
             [mpmath.si, lambda v: mpmath.ci(abs(v))], 2e-15),
    "fresnel": (np.concatenate([np.linspace(-10.0, 10.0, 201), [1.5 - 1e-9, 1.5, 1.5 + 1e-9,
                                                                1e-300, 12345.678, 1e7, 1e300,
                                                                -1e300]]),
                [mpmath.fresnels, mpmath.fresnelc], 1e-15),
}


@pytest.mark.parametrize("name", sorted(MPMATH))
def test_values_match_mpmath(name):
    x, references, rtol = MPMATH[name]
    outputs = _outputs(name, f64(x))
    with mpmath.workdps(60):
        for ours, reference in zip(outputs, references):
            for value, at in zip(ours, x):
                expected = float(reference(mpmath.mpf(at))) if at else 0.0
                # Ci relative to its amplitude (its zeros), the others relative to the value
                scale = max(abs(expected), 1.0 / max(abs(at), 1.0)) if name == "sici" else \
                    abs(expected)
                if at == 0 and name == "sici" and reference is not mpmath.si:
                    assert value == -np.inf
                    continue
                assert abs(value - expected) <= rtol * scale, (at, value, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(MPMATH))
def test_backends_match_scipy_and_its_edges(name, backend):
    x = np.concatenate([np.linspace(-8.0, 8.0, 81), EDGES])
    ours = _outputs(name, f64(x, backend))
    for got, expected in zip(ours, _scipy(name, x)):
        # atol: Ci next to its zero 3.384 (the edges below are checked to 4e-16 relative)
        np.testing.assert_allclose(got, expected, rtol=2e-14, atol=1e-15, equal_nan=True)
    for got, expected in zip(_outputs(name, f64(EDGES, backend)), _scipy(name, EDGES)):
        # SciPy's dawsn(1e300) is an ulp below 5e-301: infinities and NaN exactly
        np.testing.assert_allclose(got, expected, rtol=4e-16, atol=0, equal_nan=True)
    numpy_values = _outputs(name, f64(x))
    for got, expected in zip(ours, numpy_values):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", sorted(MPMATH))
def test_float32_empty_and_zero_d(name):
    x = np.linspace(-7.0, 7.0, 57).astype(np.float32)
    for got, expected in zip(getattr(xg.special, name)(xg.asarray(x)) if name != "dawsn"
                             else [xg.special.dawsn(xg.asarray(x))],
                             _scipy(name, x.astype(np.float64))):
        assert got.dtype == xg.float32
        np.testing.assert_allclose(got.numpy(), expected, rtol=2e-7, atol=1e-7)
    for got in _outputs(name, f64(np.zeros((2, 0)))):
        assert got.shape == (2, 0)
    for got, expected in zip(_outputs(name, f64(0.75)), _scipy(name, 0.75)):
        assert got.shape == () and got == pytest.approx(expected, rel=1e-15)


def _pick(name, index):
    if name == "dawsn":
        return xg.special.dawsn
    return lambda v: getattr(xg.special, name)(v)[index]


#: (name, output index) -> closed-form derivative
SLOPES = {
    ("dawsn", 0): lambda x: 1.0 - 2.0 * x * sc.dawsn(x),
    ("sici", 0): lambda x: np.sinc(x / np.pi),
    ("sici", 1): lambda x: np.cos(x) / x,
    ("fresnel", 0): lambda x: _exact(mpmath.sin, x),
    ("fresnel", 1): lambda x: _exact(mpmath.cos, x),
}


def _exact(trig, x):
    """``trig(pi x^2 / 2)`` by mpmath (the slopes' own ``pi x^2 / 2`` is rounded: an error of
    ~``eps pi x^2 / 2``, allowed for below)."""
    with mpmath.workdps(40):
        return np.array([float(trig(mpmath.pi * mpmath.mpf(v) ** 2 / 2)) for v in x])


@pytest.mark.parametrize("name, index", sorted(SLOPES))
def test_gradients_match_the_closed_forms_and_finite_differences(name, index):
    x = np.array([-7.3, -2.9, -0.4, 0.3, 1.2, 1.7, 3.1, 6.6, 9.0])
    grad = xg.grad(lambda v: xg.sum(_pick(name, index)(v)))(f64(x)).numpy()
    phase_rounding = 2.3e-16 * np.pi * x * x if name == "fresnel" else 0.0
    assert np.all(np.abs(grad - SLOPES[name, index](x)) <= 1e-14 * np.abs(grad) + 1e-15
                  + phase_rounding)
    check_grads(_pick(name, index), [f64(x)], order=2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fresnel_slopes_keep_their_phase_at_large_x(backend):
    """The slopes ``sin, cos(pi x^2 / 2)`` reduce the phase exactly, as the values do (the
    unreduced phase was 1e-9 off at 12345.678, 1e-5 at 1e6, 0.07 at 3e7); second order too."""
    x = np.array([3.3, 12345.678, 1e6 + 0.3, 3e7 + 0.1])
    for index, wave in ((0, mpmath.sin), (1, mpmath.cos)):
        def part(v):
            return xg.sum(xg.special.fresnel(v)[index])
        first = xg.grad(part)(f64(x, backend)).numpy()
        second = xg.grad(lambda v: xg.sum(xg.grad(part)(v)))(f64(x, backend)).numpy()
        with mpmath.workdps(50):
            at = [mpmath.mpf(v) for v in x]
            slope = [float(wave(mpmath.pi * v * v / 2)) for v in at]
            bend = [float(mpmath.diff(lambda t: wave(mpmath.pi * t * t / 2), v)) for v in at]
        np.testing.assert_allclose(first, slope, rtol=0, atol=1e-15)
        np.testing.assert_allclose(second, bend, rtol=0, atol=1e-15 * np.abs(bend).max())


@pytest.mark.parametrize("backend", BACKENDS)
def test_dawsn_slope_keeps_its_digits_at_large_x(backend):
    """``1 - 2 x dawsn(x)`` cancels to ``-1 / (2 x^2)`` at large x: 4e-10 off relative at 1e3,
    0 from 1e8 on; the asymptotic series without its 1 keeps every digit, second order too."""
    x = np.array([-7.0, 30.0, 1e3, -1e5, 1e8, 1e150])
    first = xg.grad(lambda v: xg.sum(xg.special.dawsn(v)))(f64(x, backend)).numpy()
    second = xg.grad(lambda v: xg.sum(xg.grad(lambda w: xg.sum(xg.special.dawsn(w)))(v)))(
        f64(x, backend)).numpy()
    with mpmath.workdps(700):       # 1 - 2 x F(x) cancels 300 digits at 1e150
        def dawson(t):
            return mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-t * t) * mpmath.erfi(t)
        at = [mpmath.mpf(v) for v in x]
        slope = [float(1 - 2 * v * dawson(v)) for v in at]
        bend = [float(-2 * dawson(v) - 2 * v * (1 - 2 * v * dawson(v))) for v in at]
    np.testing.assert_allclose(first, slope, rtol=1e-14)
    np.testing.assert_allclose(second, bend, rtol=1e-14)


def test_si_slope_at_zero_is_one():
    grad = xg.grad(lambda v: xg.special.sici(v)[0])(f64(0.0)).item()
    assert grad == 1.0


@pytest.mark.parametrize("name, argument", [("dawsn", "x"), ("sici", "x"), ("fresnel", "x")])
def test_bad_input_is_named(name, argument):
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: {argument} must be"):
        getattr(xg.special, name)("text")
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: {argument} must be real"):
        getattr(xg.special, name)(xg.asarray([1j]))


@pytest.mark.parametrize("name, index", sorted(SLOPES))
def test_traced_values_and_gradients_equal_eager(name, index):
    step = xg.value_and_grad(lambda v: xg.sum(_pick(name, index)(v)))
    traced = xg.function(step)
    for x in ([0.2, 1.9, 3.1, 7.0, -41.0], [5.0, 0.0, -3.0, 0.5, 100.0]):
        x = f64(x)
        (value, grad), (eager_value, eager_grad) = traced(x), step(x)
        assert value.item() == eager_value.item()
        np.testing.assert_array_equal(grad.numpy(), eager_grad.numpy())


# -- owens_t ---------------------------------------------------------------------------------

def _mp_owens_t(h, a):
    h, a = mpmath.mpf(h), mpmath.mpf(a)
    pieces = [0, 1, abs(a)] if abs(a) > 1 else [0, abs(a)]
    integral = mpmath.quad(lambda x: mpmath.exp(-h * h * (1 + x * x) / 2) / (1 + x * x), pieces)
    return integral / (2 * mpmath.pi) * mpmath.sign(a)


def _owens_points():
    rng = np.random.default_rng(0)
    h = np.concatenate([rng.uniform(-12.0, 12.0, 40), rng.uniform(-3.0, 3.0, 40),
                        [0.0, 1e-300, 5.0, 0.1, 2.0, 2.0]])
    a = np.concatenate([rng.uniform(-5.0, 5.0, 40), np.exp(rng.uniform(-8.0, 8.0, 40)),
                        [3.0, 1.0, 1.0, 1e8, 1.0 - 1e-12, 1.0 + 1e-12]])
    return h, a


def test_owens_t_matches_mpmath():
    h, a = _owens_points()
    ours = xg.special.owens_t(f64(h), f64(a)).numpy()
    with mpmath.workdps(40):
        for value, at_h, at_a in zip(ours, h, a):
            expected = float(_mp_owens_t(at_h, at_a))
            # the reflection for |a| > 1 cancels in the far tail: 2.3e-14 at h = 11.9 (SciPy 3e-14)
            assert value == pytest.approx(expected, rel=5e-14, abs=1e-300), (at_h, at_a)


@pytest.mark.parametrize("backend", BACKENDS)
def test_owens_t_backends_match_scipy_edges_and_broadcasting(backend):
    h, a = _owens_points()
    ours = xg.special.owens_t(f64(h, backend), f64(a, backend)).numpy()
    np.testing.assert_allclose(ours, sc.owens_t(h, a), rtol=5e-14, atol=1e-300)
    np.testing.assert_array_equal(ours, xg.special.owens_t(f64(h), f64(a)).numpy())
    edges_h = np.array([0.0, 1.0, np.inf, np.nan, 2.0, 0.0, -1.0, -np.inf, 1.0, 3.0])
    edges_a = np.array([np.inf, np.inf, 1.0, 1.0, 0.0, -1.0, 0.5, -np.inf, np.nan, -np.inf])
    np.testing.assert_allclose(xg.special.owens_t(f64(edges_h, backend),
                                                  f64(edges_a, backend)).numpy(),
                               sc.owens_t(edges_h, edges_a), rtol=2e-15, atol=0, equal_nan=True)
    grid = xg.special.owens_t(f64([[0.5], [2.0]], backend), f64([0.3, 3.0, -1.0], backend))
    np.testing.assert_allclose(grid.numpy(), sc.owens_t([[0.5], [2.0]], [0.3, 3.0, -1.0]),
                               rtol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_owens_t_at_a_negative_zero_is_scipys_positive_zero(backend):
    """``owens_t(0, -0.0)`` was -0.0 (odd in a, as JAX's); SciPy's is +0.0 at every h."""
    h = np.array([0.0, -0.0, 1.0, -2.5, np.inf])
    a = np.full_like(h, -0.0)
    ours = xg.special.owens_t(f64(h, backend), f64(a, backend)).numpy()
    theirs = sc.owens_t(h, a)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))


def test_owens_t_float32_empty_zero_d_and_python_numbers():
    h = np.linspace(-4.0, 4.0, 9).astype(np.float32)
    out = xg.special.owens_t(xg.asarray(h), 1.5)
    assert out.dtype == xg.float32
    np.testing.assert_allclose(out.numpy(), sc.owens_t(h.astype(np.float64), 1.5), rtol=2e-7,
                               atol=1e-9)
    assert xg.special.owens_t(f64(np.zeros((0, 3))), 1.0).shape == (0, 3)
    assert xg.special.owens_t(f64(0.5), 2.0).item() == pytest.approx(sc.owens_t(0.5, 2.0),
                                                                     rel=1e-15)


def test_owens_t_gradients_match_the_closed_forms_and_finite_differences():
    h = np.array([-3.0, -0.5, 0.0, 0.7, 1.5, 4.0])
    a = np.array([0.4, -2.0, 1.3, 0.9, 7.0, -0.2])
    by_h, by_a = xg.grad(lambda u, v: xg.sum(xg.special.owens_t(u, v)), argnums=(0, 1))(
        f64(h), f64(a))
    gauss = np.exp(-h * h / 2) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(by_h.numpy(), -gauss * sc.erf(a * h / np.sqrt(2)) / 2,
                               rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(by_a.numpy(), np.exp(-h * h * (1 + a * a) / 2)
                               / (2 * np.pi * (1 + a * a)), rtol=1e-14)
    check_grads(xg.special.owens_t, [f64(h), f64(a)], order=2)
    # d/da T agrees with the numerical derivative of the value (a check of the rule, not
    # of itself): mpmath's, at one point on each side of |a| = 1
    with mpmath.workdps(30):
        for at_h, at_a in ((0.8, 0.6), (0.8, 2.5)):
            numeric = float(mpmath.diff(lambda v: _mp_owens_t(at_h, v), at_a))
            slope = xg.grad(lambda v: xg.special.owens_t(at_h, v))(f64(at_a)).item()
            assert slope == pytest.approx(numeric, rel=1e-13)


def test_owens_t_bad_input_is_named():
    with pytest.raises(TypeError, match=r"xg\.special\.owens_t: h must be"):
        xg.special.owens_t("h", 1.0)
    with pytest.raises(TypeError, match=r"xg\.special\.owens_t: a must be"):
        xg.special.owens_t(1.0, None)


# -- spherical_bessel_j0 (PyTorch's) ----------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_spherical_bessel_j0_matches_mpmath_scipy_and_torch(backend):
    torch = pytest.importorskip("torch")
    x = np.concatenate([np.linspace(-30.0, 30.0, 241), [0.5 - 1e-12, 0.5, -0.5, 1e-300, 1e300,
                                                        np.pi, 0.0]])
    ours = xg.special.spherical_bessel_j0(f64(x, backend)).numpy()
    with mpmath.workdps(40):
        for value, at in zip(ours, x):
            expected = float(mpmath.sin(at) / at) if at else 1.0
            assert value == pytest.approx(expected, rel=4e-16, abs=1e-300), at
    np.testing.assert_allclose(ours, sc.spherical_jn(0, x), rtol=1e-15, atol=1e-300)
    edges = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0])
    expected = torch.special.spherical_bessel_j0(torch.tensor(edges)).numpy()
    np.testing.assert_array_equal(xg.special.spherical_bessel_j0(f64(edges, backend)).numpy(),
                                  expected)


def test_spherical_bessel_j0_float32_empty_and_zero_d():
    out = xg.special.spherical_bessel_j0(xg.asarray([0.25, 3.0], dtype=xg.float32))
    assert out.dtype == xg.float32
    np.testing.assert_allclose(out.numpy(), np.sin([0.25, 3.0]) / [0.25, 3.0], rtol=2e-7)
    assert xg.special.spherical_bessel_j0(f64(np.zeros((0,)))).shape == (0,)
    assert xg.special.spherical_bessel_j0(f64(2.0)).item() == pytest.approx(np.sin(2.0) / 2.0,
                                                                            rel=1e-16)


def test_spherical_bessel_j0_gradients_match_torch_and_finite_differences():
    from torch_compare import assert_matches_torch

    torch = pytest.importorskip("torch")
    x = np.array([[-7.0, -0.45, 0.1], [0.55, 2.0, 12.0]])
    # torch.special.spherical_bessel_j0 has no gradient (it gives 0): its formula's instead
    assert_matches_torch(xg.special.spherical_bessel_j0, lambda t: torch.sin(t) / t, [x],
                         rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(xg.special.spherical_bessel_j0(f64(x)).numpy(),
                               torch.special.spherical_bessel_j0(torch.tensor(x)).numpy(),
                               rtol=1e-15)
    check_grads(xg.special.spherical_bessel_j0, [f64(x)], order=3)
    # the second derivative at 0 is -1/3, on both sides of the series' edge continuous
    second = xg.grad(xg.grad(xg.special.spherical_bessel_j0))
    assert second(f64(0.0)).item() == pytest.approx(-1.0 / 3.0, rel=1e-15)
    with mpmath.workdps(30):
        for at in (0.5 - 1e-9, 0.5 + 1e-9):
            expected = float(mpmath.diff(lambda v: mpmath.sin(v) / v, at, 2))
            assert second(f64(at)).item() == pytest.approx(expected, rel=1e-13)


def test_spherical_bessel_j0_bad_input_is_named():
    with pytest.raises(TypeError, match=r"xg\.special\.spherical_bessel_j0: x must be"):
        xg.special.spherical_bessel_j0("x")


# -- hyp1f1 ----------------------------------------------------------------------------------

def _hyp1f1_points():
    """Where the series' terms are positive (the documented 3e-14): b > 0, a >= 0 for x >= 0,
    b - a >= 0 for x < 0, on both sides of the switch at |x| = 100."""
    rng = np.random.default_rng(1)
    b = rng.uniform(0.1, 20.0, 120)
    x = np.concatenate([rng.uniform(0.0, 150.0, 60), rng.uniform(-150.0, 0.0, 60)])
    a = np.where(x >= 0, rng.uniform(0.0, 20.0, 120), b - rng.uniform(0.0, b))
    extra = np.array([[1.0, 2.0, 100.0], [1.0, 2.0, 100.0 + 1e-9], [0.5, 1.5, -100.0 - 1e-9],
                      [3.0, 3.0, 0.0], [-3.0, 2.0, 7.5], [2.0, 5.0, 600.0]])
    return (np.concatenate([a, extra[:, 0]]), np.concatenate([b, extra[:, 1]]),
            np.concatenate([x, extra[:, 2]]))


def test_hyp1f1_matches_mpmath_where_its_terms_are_positive():
    a, b, x = _hyp1f1_points()
    ours = xg.special.hyp1f1(f64(a), f64(b), f64(x)).numpy()
    with mpmath.workdps(50):
        for value, at in zip(ours, zip(a, b, x)):
            expected = float(mpmath.hyp1f1(*at))
            assert value == pytest.approx(expected, rel=3e-14), at


@pytest.mark.parametrize("backend", BACKENDS)
def test_hyp1f1_backends_match_scipy_edges_and_broadcasting(backend):
    a, b, x = _hyp1f1_points()
    ours = xg.special.hyp1f1(f64(a, backend), f64(b, backend), f64(x, backend)).numpy()
    np.testing.assert_allclose(ours, sc.hyp1f1(a, b, x), rtol=3e-14)
    np.testing.assert_array_equal(ours, xg.special.hyp1f1(f64(a), f64(b), f64(x)).numpy())
    edges = xg.special.hyp1f1(f64([1.0, np.nan, 1.0, 1.0, 2.0], backend),
                              f64([2.0, 1.0, np.nan, 1.0, 3.0], backend),
                              f64([np.nan, 1.0, 1.0, -np.inf, 0.0], backend)).numpy()
    # at x = -inf the limit e^-inf = 0 (was NaN, SciPy's too: e^x 1F1(b - a; b; inf) is 0 * inf)
    np.testing.assert_array_equal(edges, [np.nan, np.nan, np.nan, np.exp(-np.inf), 1.0])
    grid = xg.special.hyp1f1(f64([[0.5], [2.0]], backend), 1.5, f64([-2.0, 0.3, 4.0], backend))
    np.testing.assert_allclose(grid.numpy(), sc.hyp1f1([[0.5], [2.0]], 1.5, [-2.0, 0.3, 4.0]),
                               rtol=1e-14)


def test_hyp1f1_far_left_is_finite():
    """Past x ~ -709 Kummer's ``e^x`` underflowed to 0 and ``1F1(b - a; b; -x)`` overflowed:
    0 * inf was NaN (1F1(2; 3; -800) is 2 / 800^2); the two exponents now cancel exactly."""
    a = np.array([2.0, 1.7, 0.5, 3.0, 0.25])
    b = np.array([3.0, 3.2, 1.5, 20.0, 7.5])
    x = np.array([-800.0, -710.0, -5000.0, -1e5, -1e300])
    ours = xg.special.hyp1f1(f64(a), f64(b), f64(x)).numpy()
    with mpmath.workdps(50):
        expected = [float(mpmath.hyp1f1(*map(mpmath.mpf, at))) for at in zip(a, b, x)]
    np.testing.assert_allclose(ours, expected, rtol=3e-14)
    grad = xg.grad(lambda v: xg.sum(xg.special.hyp1f1(1.7, 3.2, v)))(f64([-800.0])).numpy()
    with mpmath.workdps(50):
        slope = float(mpmath.diff(lambda v: mpmath.hyp1f1(1.7, 3.2, v), -800))
    np.testing.assert_allclose(grad, [slope], rtol=3e-14)


def test_hyp1f1_numpy_kernel_is_accurate_where_the_terms_alternate():
    """The NumPy backend's kernel (SciPy's values) keeps the digits the generic series lose
    where its terms alternate: a > b at x < 0 (1e-8 there), a < 0 at x > 0 (7e-4), both
    within 5e-13 of mpmath; its x-slope too."""
    pytest.importorskip("scipy")
    rng = np.random.default_rng(7)
    b = rng.uniform(0.5, 20.0, 60)
    a = np.concatenate([b[:30] + rng.uniform(0.5, 10.0, 30), -rng.uniform(0.1, 19.5, 30)])
    x = np.concatenate([-rng.uniform(5.0, 90.0, 30), rng.uniform(5.0, 45.0, 30)])
    a, b, x = (np.append(v, extra) for v, extra in zip((a, b, x), ([-17.0, -19.0],
                                                                     [7.0, 18.0], [9.0, 150.0])))
    ours = xg.special.hyp1f1(f64(a), f64(b), f64(x)).numpy()
    with mpmath.workdps(60):
        expected = np.array([float(mpmath.hyp1f1(*map(mpmath.mpf, at))) for at in zip(a, b, x)])
    np.testing.assert_allclose(ours, expected, rtol=5e-13)
    grad = xg.grad(lambda v: xg.sum(xg.special.hyp1f1(f64(a[:4]), f64(b[:4]), v)))(
        f64(x[:4])).numpy()
    with mpmath.workdps(60):
        slopes = [float(mpmath.diff(lambda v, p=p: mpmath.hyp1f1(p[0], p[1], v), p[2]))
                  for p in zip(a[:4], b[:4], x[:4])]
    np.testing.assert_allclose(grad, slopes, rtol=5e-13)


def test_hyp1f1_numpy_kernel_keeps_huge_x_from_scipy(monkeypatch):
    """SciPy 1.17's hyp1f1(-0.5, 2, x) never returns from x ~ 1e15 on (inf too): the kernel
    gives SciPy only finite a, b and |x| <= 700; beyond, the generic formula's values."""
    from xpgrad.backends.numpy import special_jax_names

    class Guarded:
        @staticmethod
        def hyp1f1(a, b, x):
            assert np.all(np.isfinite(a) & np.isfinite(b) & (np.abs(x) <= 700.0)), x
            return sc.hyp1f1(a, b, x)
    monkeypatch.setattr(special_jax_names, "scipy_special", lambda: Guarded)
    a = np.array([-0.5, -0.5, -0.5, 1.5, 2.0, 0.5, np.nan])
    x = np.array([1e15, 1e300, np.inf, 800.0, -1e300, 3.0, 1.0])
    ours = xg.special.hyp1f1(f64(a), 2.0, f64(x)).numpy()
    assert np.isneginf(ours[0]) and np.isneginf(ours[1])        # Gamma(-0.5) < 0
    assert np.isnan(ours[6])
    with mpmath.workdps(30):
        expected = [float(mpmath.hyp1f1(*map(mpmath.mpf, at))) for at in
                    ((1.5, 2.0, 800.0), (2.0, 2.0, -1e300), (0.5, 2.0, 3.0))]
    np.testing.assert_allclose(ours[3:6], expected, rtol=3e-14)


def test_dawsn_numpy_kernel_keeps_its_digits_near_zero():
    """SciPy's dawsn is 1.2e-14 off relative below 0.05; the kernel's Taylor series there is
    within 1e-15 (and hands over to SciPy's at 0.2 without a step)."""
    x = np.concatenate([10.0 ** np.linspace(-8.0, -0.7, 60), [0.2 - 1e-12, 0.2, 0.2 + 1e-12]])
    ours = xg.special.dawsn(f64(x)).numpy()
    with mpmath.workdps(40):
        expected = [float(mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-v * v) * mpmath.erfi(v))
                    for v in map(mpmath.mpf, x)]
    np.testing.assert_allclose(ours, expected, rtol=1e-15)


#: (a, b) with b > 0 whose limits at x = +-inf SciPy's values at +-600 show plainly
HYP1F1_AT_INFINITY = [(1.0, 2.0), (-1.0, 2.0), (-2.0, 2.0), (0.0, 2.0), (2.5, 0.5), (3.0, 1.0)]


def test_hyp1f1_at_infinity_is_its_limit():
    """Was NaN at x = +-inf (the series' and Kummer's ``inf * 0``): now the limit, read off
    SciPy's value at +-600 (+-inf past 50 in size, 0 below 0.01, else 1), on the NumPy kernel
    and on the generic formula (array-api-compat's NumPy); SciPy's own is NaN at
    ``(-2, 2, +-inf)`` and +inf, not -inf, at ``(-1, 2, inf)`` (``1 - x / 2``)."""
    import array_api_compat.numpy as xp
    from xpgrad.ops.special_hyp1f1 import _hyp1f1

    a, b = (np.array([p[i] for p in HYP1F1_AT_INFINITY] * 2) for i in range(2))
    x = np.repeat([np.inf, -np.inf], len(HYP1F1_AT_INFINITY))
    with np.errstate(all="ignore"):
        near = sc.hyp1f1(a, b, np.sign(x) * 600.0)
        want = np.where(np.abs(near) > 50, np.sign(near) * np.inf,
                        np.where(np.abs(near) < 0.01, 0.0, np.round(near)))
        generic = _hyp1f1(xp, a, b, x)
    np.testing.assert_array_equal(xg.special.hyp1f1(f64(a), f64(b), f64(x)).numpy(), want)
    np.testing.assert_array_equal(generic, want)


def _hyp1f1_alternating_points():
    """Where the generic series' terms change sign (a > b at x < 0, a < 0 at x > 0, b < 0,
    negative whole a), 20 each on a, b in [-20, 20], |x| <= 100, where they keep one sign, and
    20 with 100 < |x| <= 600 (a < 0 < x, a > b at x < 0)."""
    rng = np.random.default_rng(11)
    a, b, x = (rng.uniform(-20.0, 20.0, 4000), rng.uniform(-20.0, 20.0, 4000),
               rng.uniform(-100.0, 100.0, 4000))
    regions = [(b > 0) & (a > b) & (x < 0), (b > 0) & (a < 0) & (x > 0), b < 0,
               (b > 0) & (((x >= 0) & (a >= 0)) | ((x < 0) & (b >= a)))]
    picks = np.concatenate([np.flatnonzero(region)[:20] for region in regions])
    whole = -rng.integers(1, 21, 20).astype(float)
    # past |x| = 100, where the asymptotic series of a large |a| (or |b - a|) diverged early
    far_b = rng.uniform(0.1, 20.0, 20)
    far_a = np.concatenate([-rng.uniform(0.1, 20.0, 10), far_b[10:] + rng.uniform(0.1, 20.0, 10)])
    far_x = rng.uniform(100.0, 600.0, 20) * np.repeat([1.0, -1.0], 10)
    return (np.concatenate([a[picks], whole, far_a]),
            np.concatenate([b[picks], rng.uniform(0.1, 20, 20), far_b]),
            np.concatenate([x[picks], rng.uniform(0.0, 100.0, 20), far_x]))


def _without_hyp1f1_kernel(monkeypatch):
    """The NumPy backend with its ``special_hyp1f1`` kernel off: the generic formula."""
    backend = xg.get_backend("numpy")
    monkeypatch.setattr(backend, "kernels", {k: v for k, v in backend.kernels.items()
                                             if k != "special_hyp1f1"})


@pytest.mark.parametrize("namespace", ["kernel_off", "array_api_strict"])
def test_hyp1f1_generic_formula_keeps_its_digits_where_the_terms_alternate(namespace,
                                                                           monkeypatch):
    """The generic formula (every backend but NumPy's SciPy kernel): the series' head summed
    in double-double; before, 3e-8 was lost at a > b, x < 0, 8e-6 at a < 0 < x, 7e-6 at b < 0
    and 3e-5 at a = -m, 1.2e-4 past |x| = 100 (the asymptotic series). Within 1e-13 of mpmath, and where the value is ill-conditioned (near
    a zero) within 20 eps times its condition number; the x-slope ``a / b 1F1(a + 1; b + 1;
    x)`` likewise."""
    a, b, x = _hyp1f1_alternating_points()
    if namespace == "array_api_strict":
        strict = pytest.importorskip("array_api_strict")
        from xpgrad.ops.special_hyp1f1 import _hyp1f1

        with np.errstate(all="ignore"):
            ours = np.asarray(_hyp1f1(strict, *(strict.asarray(v) for v in (a, b, x))))
    else:
        _without_hyp1f1_kernel(monkeypatch)
        ours = xg.special.hyp1f1(f64(a), f64(b), f64(x)).numpy()
    eps = np.finfo(np.float64).eps
    with mpmath.workdps(40):
        for value, at in zip(ours, zip(a, b, x)):
            at = [mpmath.mpf(v) for v in at]
            expected = mpmath.hyp1f1(*at)
            moved = max(abs(mpmath.hyp1f1(*[v * (1 + eps) if i == j else v
                                            for j, v in enumerate(at)]) / expected - 1)
                        for i in range(3))
            tolerance = max(1e-13, 20 * float(moved))
            assert value == pytest.approx(float(expected), rel=tolerance), at
    if namespace == "kernel_off":
        grad = xg.grad(lambda v: xg.sum(xg.special.hyp1f1(f64(a[::8]), f64(b[::8]), v)))(
            f64(x[::8])).numpy()
        with mpmath.workdps(40):
            slopes = [float(mpmath.diff(lambda v, p=p: mpmath.hyp1f1(p[0], p[1], v), p[2]))
                      for p in zip(*(map(mpmath.mpf, v[::8]) for v in (a, b, x)))]
        np.testing.assert_allclose(grad, slopes, rtol=1e-12)


def test_hyp1f1_generic_formula_at_infinity_for_negative_b(monkeypatch):
    """b < 0 (not a pole) at x = +-inf was NaN: now the limit, read off mpmath at +-800 and
    +-1600 (grown by half: +-inf by its sign; shrunk by a quarter: 0), on the generic formula
    (array-api-compat's NumPy, and the NumPy backend with its kernel off); a pole of b stays inf or NaN."""
    import array_api_compat.numpy as xp
    from xpgrad.ops.special_hyp1f1 import _hyp1f1

    pairs = [(a, b) for a in (-3.0, -2.0, -1.0, 1.0, 2.5, -2.5, 4.0) for b in (-0.5, -1.5, -3.7)]
    a, b = (np.array([p[i] for p in pairs] * 2) for i in range(2))
    x = np.repeat([np.inf, -np.inf], len(pairs))
    want = []
    with mpmath.workdps(30):
        for at in zip(a, b, x):
            near, far = (mpmath.hyp1f1(at[0], at[1], np.sign(at[2]) * r) for r in (800, 1600))
            assert abs(far) > 1.5 * abs(near) or abs(far) < 0.75 * abs(near), at
            want.append(float(mpmath.sign(far)) * np.inf if abs(far) > abs(near) else 0.0)
    with np.errstate(all="ignore"):
        generic = _hyp1f1(xp, a, b, x)
    np.testing.assert_array_equal(generic, want)
    _without_hyp1f1_kernel(monkeypatch)
    np.testing.assert_array_equal(xg.special.hyp1f1(f64(a), f64(b), f64(x)).numpy(), want)
    with np.errstate(all="ignore"):
        pole = _hyp1f1(xp, np.array([1.5, 1.5]), np.array([-2.0, -2.0]), np.array([np.inf, 3.0]))
    assert not np.isfinite(pole).any()


def test_hyp1f1_float32_empty_and_zero_d():
    out = xg.special.hyp1f1(1.5, 2.5, xg.asarray([-3.0, 0.5, 4.0], dtype=xg.float32))
    assert out.dtype == xg.float32
    np.testing.assert_allclose(out.numpy(), sc.hyp1f1(1.5, 2.5, [-3.0, 0.5, 4.0]), rtol=2e-7)
    assert xg.special.hyp1f1(1.0, 2.0, f64(np.zeros((0, 2)))).shape == (0, 2)
    assert xg.special.hyp1f1(1.0, 2.0, f64(1.0)).item() == pytest.approx(np.e - 1.0, rel=1e-15)


def test_hyp1f1_gradient_in_x_and_refusal_in_a_and_b():
    a, b = 1.7, 3.2
    x = np.array([-120.0, -5.0, -0.3, 0.0, 2.0, 40.0, 130.0])
    grad = xg.grad(lambda v: xg.sum(xg.special.hyp1f1(a, b, v)))(f64(x)).numpy()
    with mpmath.workdps(40):
        expected = [float(mpmath.diff(lambda v: mpmath.hyp1f1(a, b, v), p)) for p in x]
    np.testing.assert_allclose(grad, expected, rtol=3e-14)
    check_grads(lambda v: xg.special.hyp1f1(a, b, v), [f64([-4.0, -0.5, 0.7, 3.0])], order=2)
    for position, name in ((0, "a"), (1, "b")):
        args = [f64(a), f64(b), f64(0.5)]
        with pytest.raises(NotImplementedError, match=rf"hyp1f1: the gradient in {name}"):
            xg.grad(lambda v: xg.special.hyp1f1(*(args[:position] + [v] + args[position + 1:])))(
                args[position])


def test_hyp1f1_bad_input_is_named():
    for position, name in enumerate("abx"):
        args = [1.0, 2.0, 0.5]
        args[position] = "text"
        with pytest.raises(TypeError, match=rf"xg\.special\.hyp1f1: {name} must be"):
            xg.special.hyp1f1(*args)


# -- bernoulli -------------------------------------------------------------------------------

def test_bernoulli_numbers_are_exact_and_as_scipy():
    ours = xg.special.bernoulli(60)
    assert ours.dtype == xg.float64 and ours.shape == (61,)
    expected = [float(mpmath.bernoulli(k)) for k in range(61)]     # mpmath's B_1 is -1/2 too
    assert ours.tolist() == expected
    # SciPy's recurrence drifts (2e-12 relative by B_250); float64's range ends at B_258
    np.testing.assert_allclose(xg.special.bernoulli(300).numpy(), sc.bernoulli(300),
                               rtol=5e-12)
    assert xg.special.bernoulli(0).tolist() == [1.0]
    assert xg.special.bernoulli(1).tolist() == [1.0, -0.5]
    assert xg.special.bernoulli(3, backend="numba").backend.name == "numba"


def test_bernoulli_bad_input_is_named():
    with pytest.raises(ValueError, match=r"xg\.special\.bernoulli: n must be >= 0"):
        xg.special.bernoulli(-1)
    for bad in (2.5, "3", None, True):
        with pytest.raises(TypeError, match=r"xg\.special\.bernoulli: n must be an int"):
            xg.special.bernoulli(bad)


def test_scipy_ufuncs_on_a_tensor_record_on_the_tape():
    x = f64([0.5, 1.5])
    grad = xg.grad(lambda v: xg.sum(sc.dawsn(v) + sc.sici(v)[0] + sc.fresnel(v)[1]
                                    + sc.owens_t(v, 2.0) + sc.hyp1f1(1.0, 2.0, v)))(x).numpy()
    v = x.numpy()
    expected = (1 - 2 * v * sc.dawsn(v) + np.sin(v) / v + np.cos(np.pi * v * v / 2)
                - np.exp(-v * v / 2) / np.sqrt(2 * np.pi) * sc.erf(2 * v / np.sqrt(2)) / 2
                + 0.5 * sc.hyp1f1(2.0, 3.0, v))
    np.testing.assert_allclose(grad, expected, rtol=1e-14)
