"""xg.special: values against scipy.special (float64 and float32, both CPU backends, poles and
tails included), gradients against finite differences (to second order) and against PyTorch,
a Poisson and a Gamma maximum-likelihood fit, and bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads
from docs_text import section

sc = pytest.importorskip("scipy.special")
torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]

# the wide grids: (xg function, scipy function, float64 points, relative tolerance)
_FAR = np.geomspace(1e-300, 1e300, 601)
_NEGATIVE = -np.linspace(0.013, 40.0, 3001)                # no pole hit exactly
GRIDS = {
    "erf": (xg.special.erf, sc.erf,
            np.concatenate([np.linspace(-7, 7, 4001), _FAR[:300], -_FAR[:300]]), 3e-15),
    # SciPy's erfc itself is 6e-14 off far in the tail (test_erfc_tail_against_mpmath); up to
    # erfc's (and ndtr's) subnormal results, where no relative accuracy is left
    "erfc": (xg.special.erfc, sc.erfc, np.linspace(-7, 26.5, 4001), 1e-13),
    "ndtr": (xg.special.ndtr, sc.ndtr, np.linspace(-37.5, 9, 4001), 3e-13),
    # right of 7 SciPy's log_ndtr (log1p of its ndtr) is ~x**2 ulp off, 106 at 9.2 and 200 at
    # 11.9 (the Numba loop within 1 of mpmath there: tests/test_numba_erf64.py)
    "log_ndtr": (xg.special.log_ndtr, sc.log_ndtr,
                 np.concatenate([np.linspace(-60, 7, 4001), -_FAR[300:]]), 1e-14),
    "erfinv": (xg.special.erfinv, sc.erfinv,
               np.concatenate([np.linspace(-1, 1, 4001), 1 - np.geomspace(1e-16, 0.5, 300),
                               _FAR[:300]]), 5e-15),
    "gammaln": (xg.special.gammaln, sc.gammaln,
                np.concatenate([np.linspace(1e-3, 30, 4001), _FAR]), 2e-14),
    "digamma": (xg.special.digamma, sc.digamma,
                np.concatenate([np.linspace(1e-3, 30, 4001), _FAR]), 1e-14),
    "expit": (xg.special.expit, sc.expit, np.linspace(-700, 700, 4001), 1e-15),
    "logit": (xg.special.logit, sc.logit, np.linspace(0, 1, 4001), 1e-15),
}


def _relative_error(ours, theirs, floor=0.0):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
    scale = np.maximum(np.abs(theirs), floor)
    with np.errstate(invalid="ignore"):
        return np.where(same, 0.0, np.abs(ours - theirs) / scale)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(GRIDS))
def test_float64_values_match_scipy(name, backend):
    fn, ref, x, rtol = GRIDS[name]
    ours = fn(xg.asarray(x, backend=backend)).numpy()
    assert ours.dtype == np.float64
    theirs = ref(x)
    # SciPy's gammaln is off by ~1e-16 absolute next to its roots 1 and 2 (3e-12 relative);
    # xpgrad's are checked against mpmath in test_gammaln_near_its_roots_against_mpmath
    err = _relative_error(ours, theirs, floor=1e-2 if name == "gammaln" else 0.0)
    assert err.max() <= rtol, f"{name}: {err.max():.2e} at x={x[err.argmax()]!r}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["gammaln", "digamma"])
def test_negative_arguments_match_scipy(name, backend):
    """Reflection below 0: relative 1e-13 away from the function's own zeros, where the error
    stays absolute (|error| <= 1e-14 (1 + |value|)) because the two terms cancel."""
    fn, ref = GRIDS[name][:2]
    ours, theirs = fn(xg.asarray(_NEGATIVE, backend=backend)).numpy(), ref(_NEGATIVE)
    assert _relative_error(ours, theirs, floor=0.1).max() <= 1e-13


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [1, 2, 3, 6, 10])
def test_polygamma_matches_scipy(n, backend):
    x = np.concatenate([np.linspace(1e-3, 30, 2001), np.geomspace(1e-30, 1e30, 301)])
    ours = xg.special.polygamma(n, xg.asarray(x, backend=backend)).numpy()
    with np.errstate(over="ignore"):                      # SciPy's n! zeta(n + 1, 1e-30)
        theirs = sc.polygamma(n, x)
    assert _relative_error(ours, theirs).max() < 2e-14
    ours = xg.special.polygamma(n, xg.asarray(_NEGATIVE, backend=backend)).numpy()
    # relative to n! where psi^(n) crosses 0 (between the poles, the two terms cancel)
    err = _relative_error(ours, sc.polygamma(n, _NEGATIVE), floor=math.factorial(n))
    assert err.max() < 5e-13 * n


def test_polygamma_zero_is_digamma():
    x = xg.asarray([0.3, 4.0, -1.5], dtype=xg.float64)
    assert xg.special.polygamma(0, x).tolist() == xg.special.digamma(x).tolist()


def test_erfc_tail_against_mpmath():
    """erfc in float64 within 1e-14 of the exact values up to its underflow (the rounding of
    z * z in one exp cost 1e-13 before)."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    x = np.linspace(6.0, 26.5, 201)
    exact = np.array([float(mp.erfc(mp.mpf(float(v)))) for v in x])
    ours = xg.special.erfc(xg.asarray(x)).numpy()
    assert _relative_error(ours, exact).max() < 1e-14


def test_gammaln_near_its_roots_against_mpmath():
    """Relative accuracy at lgamma's zeros 1 and 2 (Taylor series there; SciPy is 3e-12 off)."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    x = np.concatenate([1.0 + np.geomspace(1e-12, 0.3, 50) * np.resize([1, -1], 50),
                        2.0 + np.geomspace(1e-12, 0.4, 50) * np.resize([1, -1], 50)])
    exact = np.array([float(mp.loggamma(mp.mpf(float(v)))) for v in x])
    ours = xg.special.gammaln(xg.asarray(x)).numpy()
    assert _relative_error(ours, exact).max() < 2e-14


POLES = np.array([0.0, -0.0, -1.0, -2.0, -7.0, np.inf, -np.inf, np.nan, 1e308])


@pytest.mark.parametrize("name", ["gammaln", "digamma", "erf", "erfc", "ndtr", "log_ndtr",
                                  "erfinv", "logit", "expit"])
def test_poles_and_limits_as_scipy(name):
    x = np.concatenate([POLES, [1.0, 1.5, -1.5, 40.0, -40.0]])
    ours = getattr(xg.special, name)(xg.asarray(x)).numpy()
    with np.errstate(all="ignore"):
        theirs = getattr(sc, name)(x)
    assert _relative_error(ours, theirs).max() < 1e-14, (ours, theirs)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_polygamma_poles_as_scipy(n):
    ours = xg.special.polygamma(n, xg.asarray(POLES)).numpy()
    np.testing.assert_array_equal(ours[:-1], sc.polygamma(n, POLES)[:-1])


_OWN_FLOAT32_ULPS = {"numpy": {"erf": 3.0, "erfc": 9.0, "ndtr": 9.0, "erfinv": 4.0},
                     "numba": {"erf": 4.5, "erfc": 6.5, "ndtr": 6.5, "erfinv": 4.0}}


@pytest.mark.parametrize("name", ["erf", "erfc", "ndtr", "log_ndtr", "erfinv", "gammaln",
                                  "digamma", "logit", "expit"])
def test_float32_within_a_few_ulp(name):
    fn, ref, x, _ = GRIDS[name]
    with np.errstate(over="ignore"):                        # 1e300 is inf in float32
        x32 = x.astype(np.float32)
    x32 = xg.asarray(x32)
    ours = fn(x32).numpy()
    assert ours.dtype == np.float32
    with np.errstate(all="ignore"):
        exact = ref(x32.numpy().astype(np.float64))
    f32 = np.finfo(np.float32)
    finite = (np.abs(exact) > f32.tiny) & (np.abs(exact) < f32.max)
    ulp = np.spacing(np.abs(exact[finite]).astype(np.float32)).astype(np.float64)
    # 1 ulp: rounded from float64; expit is xg.nn.sigmoid's own float32 formula (2.3 ulp), the
    # NumPy backend's erf, erfc, ndtr and erfinv float32 polynomials (backends/numpy/erf_float32.py)
    # and the Numba backend's loops of them (backends/numba/_erf32.py: _math's float32 tanh)
    bound = _OWN_FLOAT32_ULPS.get(x32.backend.name, {}).get(name, 1.0)
    assert np.max(np.abs(ours[finite] - exact[finite]) / ulp) <= (3.0 if name == "expit" else bound)


def test_integers_come_in_as_float32():
    assert xg.special.gammaln(xg.asarray([1, 2, 3])).dtype == xg.float32
    assert xg.special.xlogy(xg.asarray([0, 1]), xg.asarray([0, 3])).dtype == xg.float32


def test_xlogy_and_xlog1py_zeros_and_nans_as_scipy():
    x = np.array([0.0, 0.0, 0.0, 0.0, 2.0, 2.0, 3.0])
    y = np.array([0.0, -1.0, np.nan, 5.0, 0.0, -1.0, np.nan])
    for name in ("xlogy", "xlog1py"):
        ours = getattr(xg.special, name)(xg.asarray(x), xg.asarray(y)).numpy()
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(ours, getattr(sc, name)(x, y))


# -- gradients ----------------------------------------------------------------------------------
GRAD_POINTS = {
    "gammaln": [0.3, 2.5, -1.7, 7.0, 1e3], "digamma": [0.3, 2.5, -1.7, 7.0, 1e3],
    "erf": [-2.0, -0.1, 0.3, 1.5], "erfc": [-2.0, -0.1, 0.3, 4.0],
    "ndtr": [-3.0, -0.1, 0.3, 2.0], "log_ndtr": [-30.0, -3.0, 0.2, 4.0],
    "erfinv": [-0.9, -0.2, 0.1, 0.7], "logit": [0.05, 0.4, 0.6, 0.9],
    "expit": [-3.0, 0.0, 2.0],
}


@pytest.mark.parametrize("name", sorted(GRAD_POINTS))
def test_gradients_match_finite_differences_to_second_order(name):
    check_grads(getattr(xg.special, name), [xg.asarray(np.array(GRAD_POINTS[name]))], order=2)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_polygamma_gradients_to_second_order(n):
    check_grads(lambda x: xg.special.polygamma(n, x), [xg.asarray(np.array([0.6, 3.0, -2.4]))],
                order=2, rtol=1e-4)


def test_third_and_fourth_derivatives_of_gammaln_are_polygammas():
    x = xg.asarray(np.array([0.4, 2.5, -1.3, 50.0]))
    derivative = xg.special.gammaln
    for order in range(1, 5):
        derivative = xg.grad(lambda t, f=derivative: xg.sum(f(t)))
        if order >= 2:
            np.testing.assert_allclose(derivative(x).numpy(),
                                       sc.polygamma(order - 1, x.numpy()), rtol=1e-13)


@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_binary_gradients_to_second_order(name):
    x, y = xg.asarray(np.array([[0.5], [-1.5]])), xg.asarray(np.array([0.4, 2.0, 3.5]))
    check_grads(getattr(xg.special, name), [x, y], order=2)


def _torch_derivatives(fn, x, *others):
    """First and second derivatives of ``sum(fn(x, *others))`` w.r.t. every input, by torch."""
    inputs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, *others)]
    out = fn(*inputs).sum()
    firsts = torch.autograd.grad(out, inputs, create_graph=True)
    seconds = torch.autograd.grad(sum(f.sum() for f in firsts), inputs, allow_unused=True)
    return ([f.detach().numpy() for f in firsts],
            [np.zeros_like(x) if s is None else s.numpy() for s in seconds])


def _xg_derivatives(fn, *args):
    tensors = [xg.asarray(np.asarray(a, dtype=np.float64)) for a in args]
    with xg.GradientTape() as outer:
        outer.watch(tensors)
        with xg.GradientTape() as inner:
            inner.watch(tensors)
            out = xg.sum(fn(*tensors))
        firsts = inner.gradient(out, tensors)
        total = sum(xg.sum(f) for f in firsts)
    seconds = outer.gradient(total, tensors)
    return ([f.numpy() for f in firsts],
            [np.zeros(np.shape(a)) if s is None else s.numpy() for s, a in zip(seconds, args)])


TORCH_PAIRS = {
    "erf": torch.special.erf, "erfc": torch.special.erfc, "ndtr": torch.special.ndtr,
    "log_ndtr": torch.special.log_ndtr, "erfinv": torch.special.erfinv,
    "gammaln": torch.lgamma, "digamma": torch.digamma, "logit": torch.special.logit,
    "expit": torch.special.expit,
}


@pytest.mark.parametrize("name", sorted(TORCH_PAIRS))
def test_gradients_match_torch(name):
    x = np.array(GRAD_POINTS[name])
    ours = _xg_derivatives(getattr(xg.special, name), x)
    theirs = _torch_derivatives(TORCH_PAIRS[name], x)
    # torch.polygamma(1, .), gammaln's second and digamma's first derivative, is 3e-10 off
    # (at 2.5; xpgrad's agrees with SciPy to 2e-16: test_polygamma_matches_scipy), log_ndtr's
    # second derivative 6e-11 at -30 (xpgrad's 8e-13: test_log_ndtr_derivatives_against_mpmath)
    loose_from = {"gammaln": 1, "digamma": 0, "log_ndtr": 1}.get(name, 2)
    for order in (0, 1):
        rtol = 1e-9 if order >= loose_from else 1e-12
        np.testing.assert_allclose(ours[order][0], theirs[order][0], rtol=rtol, atol=1e-14)


def test_log_ndtr_derivatives_against_mpmath():
    """phi / Phi and its derivative, far into the left tail where Phi underflows; the second
    derivative ``-h (x + h)`` (h = phi / Phi ~ -x) cancels there, to ~x**2 eps relative."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    x = np.array([-1e4, -300.0, -30.0, -3.0, 0.2, 4.0, 9.0])
    first, second = _xg_derivatives(xg.special.log_ndtr, x)
    log_cdf = lambda v: mp.log(mp.ncdf(v))                      # noqa: E731
    for order, ours in ((1, first[0]), (2, second[0])):
        exact = np.array([float(mp.diff(log_cdf, mp.mpf(v), order)) for v in x])
        bound = 1e-14 * (1.0 if order == 1 else np.maximum(1.0, x * x))
        assert np.all(_relative_error(ours, exact) < bound)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_polygamma_gradients_match_torch(n):
    x = np.array([0.6, 3.0, 11.0, -2.4])
    ours = _xg_derivatives(lambda t: xg.special.polygamma(n, t), x)
    theirs = _torch_derivatives(lambda t: torch.polygamma(n, t), x)
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-9)
    np.testing.assert_allclose(ours[0][0], sc.polygamma(n + 1, x), rtol=1e-14)
    np.testing.assert_allclose(ours[1][0], sc.polygamma(n + 2, x), rtol=1e-14)


@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_binary_gradients_match_torch_also_at_zero(name):
    x = np.array([0.0, 0.0, 1.5, -2.0, 0.0])
    y = np.array([2.0, 0.5, 3.0, 0.7, 0.0 if name == "xlogy" else -1.0])
    with np.errstate(divide="ignore", invalid="ignore"):   # x / y**2 at (0, 0), as torch's
        ours = _xg_derivatives(getattr(xg.special, name), x, y)
    theirs = _torch_derivatives(getattr(torch.special, name), x, y)
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# -- maximum likelihood ------------------------------------------------------------------------
def test_poisson_rate_fit_with_scipy_recovers_the_rate():
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(0)
    features = rng.standard_normal((4000, 2))
    true = np.array([0.7, -0.4, 0.3])                       # log rate = w . x + b
    counts = rng.poisson(np.exp(features @ true[:2] + true[2]))
    x, k = xg.asarray(features), xg.asarray(counts.astype(np.float64))

    def nll(theta):
        log_rate = x @ theta[:2] + theta[2]
        return xg.mean(xg.exp(log_rate) - k * log_rate + xg.special.gammaln(k + 1.0))

    fit = optimize.minimize(xg.for_scipy(xg.value_and_grad(nll)), np.zeros(3), jac=True,
                            method="L-BFGS-B")
    assert fit.success
    np.testing.assert_allclose(fit.x, true, atol=0.05)


def test_gamma_shape_and_rate_fit_with_adam_recovers_them():
    rng = np.random.default_rng(1)
    shape, rate = 3.0, 2.0
    y = xg.asarray(rng.gamma(shape, 1.0 / rate, size=5000))
    params = xg.Variable(xg.asarray(np.zeros(2)))            # log shape, log rate
    opt = xg.optim.Adam(0.05)

    def nll():
        a, b = xg.exp(params[0]), xg.exp(params[1])
        return -xg.mean(a * xg.log(b) - xg.special.gammaln(a) + xg.special.xlogy(a - 1.0, y)
                        - b * y)

    for _ in range(800):
        opt.minimize(nll, [params])
    np.testing.assert_allclose(np.exp(params.numpy()), [shape, rate], rtol=0.08)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["erf", "gammaln", "digamma", "log_ndtr", "logit"])
def test_complex_input_is_refused(name):
    arg = "p" if name == "logit" else "x"
    with pytest.raises(TypeError, match=rf"special\.{name}: {arg} must be real"):
        getattr(xg.special, name)(xg.asarray([1.0 + 1.0j]))


def test_complex_second_argument_is_refused():
    with pytest.raises(TypeError, match=r"xlogy: y must be real"):
        xg.special.xlogy(xg.asarray([1.0]), xg.asarray([1.0j]))


@pytest.mark.parametrize("n, error, message", [
    (-1, ValueError, "n must be >= 0, got -1"), (1.0, TypeError, "n must be an int, got float"),
    (True, TypeError, "n must be an int, got a bool"),
    (xg.asarray([1.0]), TypeError, "n must hold integers")])
def test_polygamma_bad_order(n, error, message):
    with pytest.raises(error, match=message):
        xg.special.polygamma(n, xg.asarray([1.0]))


def test_readme_section_runs(capsys):
    """docs/special.md's example: the fitted Poisson rate is the sample mean."""
    import re

    # the page's first block (the p-values section's: tests/test_special_incomplete_beta.py)
    code = re.findall(r"```python\n(.*?)```", section("Special functions: `xg.special`"),
                      re.S)[0]
    namespace = {}
    exec(code, namespace)
    printed = float(capsys.readouterr().out.strip().strip("[]"))
    assert printed == pytest.approx(float(xg.mean(namespace["counts"])), rel=1e-5)


@pytest.mark.parametrize("name", ["gammaln", "log_ndtr", "erfinv", "logit"])
def test_numba_gradients_equal_numpy_ones(name):
    x = np.array(GRAD_POINTS[name])
    grads = [xg.grad(lambda t: xg.sum(getattr(xg.special, name)(t)))(
        xg.asarray(x, backend=backend)) for backend in BACKENDS]
    assert grads[1].backend.name == "numba"
    # numba's forward loops (backends/numba/_special.py) call the C library's exp, erf and erfc
    # where NumPy's are its own: the last bit may differ (erfinv's rule reads its output)
    np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), rtol=1e-14, atol=0)


def test_forwards_and_rules_use_only_the_array_api():
    """Every forward and rule runs on array-api-strict (what CuPy, or any namespace, gives) and
    agrees there with NumPy's results exactly."""
    strict = pytest.importorskip("array_api_strict")
    import array_api_compat.numpy as xnp

    from xpgrad.ops import special as ops

    x = np.array([-2.5, -0.3, 0.0, -0.0, 0.2, 1.5, 4.0, 30.0, np.inf, -np.inf, -2.0, np.nan])
    p = np.array([0.01, 0.3, 0.5, 0.9, 1.0, -1.0, 0.0])
    calls = [(prim, (x,), {}) for prim in (ops._erf, ops._erfc, ops._ndtr_prim, ops._log_ndtr,
                                           ops._ndtr_hazard, ops._gammaln, ops._digamma)]
    calls += [(ops._polygamma, (x,), {"n": 3}), (ops._erfinv, (p,), {}),
              (ops._logit_prim, (p,), {}), (ops._xlogy, (p, p[::-1]), {}),
              (ops._xlog1py, (p, p[::-1]), {})]
    for prim, args, params in calls:
        results = []
        for xp in (xnp, strict):
            arrays = [xp.asarray(a) for a in args]
            ans = prim.forward(xp, *arrays, **params)
            grads = [rule(xp, xp.ones_like(ans), ans, *arrays, **params) for rule in prim.vjps]
            results.append([np.asarray(r) for r in (ans, *grads)])
        for ours, theirs in zip(*results):
            np.testing.assert_array_equal(ours, theirs, err_msg=prim.name)


@pytest.mark.parametrize("name", sorted(GRAD_POINTS))
def test_float32_in_float32_gradient_out(name):
    x = xg.asarray(np.array(GRAD_POINTS[name], dtype=np.float32))
    g = xg.grad(lambda t: xg.sum(getattr(xg.special, name)(t)))(x)
    assert g.dtype == xg.float32
    exact = xg.grad(lambda t: xg.sum(getattr(xg.special, name)(t)))(xg.astype(x, xg.float64))
    np.testing.assert_allclose(g.numpy(), exact.numpy(), rtol=1e-5)


def test_logit_eps_clamps_as_pytorch():
    p = np.array([0.0, 1e-9, 0.3, 1.0 - 1e-9, 1.0])
    x = xg.Variable(p)
    with xg.GradientTape() as tape:
        y = xg.special.logit(x, eps=1e-6)
    t = torch.tensor(p, requires_grad=True)
    expected = torch.special.logit(t, eps=1e-6)
    expected.sum().backward()
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), t.grad.numpy(), rtol=1e-12)
    for bad in (-0.1, 0.6, "1e-6", True):
        with pytest.raises(ValueError, match="eps must be a number in"):
            xg.special.logit(x, eps=bad)
