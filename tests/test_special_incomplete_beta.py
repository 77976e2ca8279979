"""xg.special.betainc, betaincc, stdtr, fdtr and fdtrc: values against SciPy and mpmath
(the generic formulas, which the non-NumPy backends run, called directly as well as the NumPy
backend's SciPy kernels), gradients against finite differences and mpmath (in x and in the
shape parameters) and PyTorch's where it has the function, and the errors for bad input and
for the second derivatives in a shape parameter, which are not implemented."""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import incomplete_beta_formulas as ibf
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")
torch = pytest.importorskip("torch")


def f64(values):
    return xg.asarray(values, dtype=xg.float64)


def _shapes(rng, n, low, high):
    """a, b log-uniform in [10**low, 10**high] and x uniform in (0, 1)."""
    return (10.0 ** rng.uniform(low, high, n), 10.0 ** rng.uniform(low, high, n),
            rng.uniform(0.0, 1.0, n))


@pytest.mark.parametrize("low, high, rtol", [(-1, 2, 1e-12), (0, 3, 2e-12), (2, 4, 1e-11)])
def test_generic_formula_matches_scipy(low, high, rtol):
    # relative errors grow with the function's own sensitivity far in its tails (a log x, up
    # to 1e4 here): SciPy's own are 1e-13 there; values below 1e-280 are left out (SciPy's
    # lose digits near underflow: 4.5e-7 at (692.5, 19.1, 0.349), see the mpmath test)
    a, b, x = _shapes(np.random.default_rng(low + 7), 400, low, high)
    with np.errstate(all="ignore"):
        for upper, reference in ((False, sc.betainc), (True, sc.betaincc)):
            ours = ibf.regularized_beta(npx, a, b, x, upper=upper)
            expected = reference(a, b, x)
            keep = expected > 1e-280
            np.testing.assert_allclose(ours[keep], expected[keep], rtol=rtol, atol=0)


@pytest.mark.parametrize("a, b, x, rtol", [
    (0.5, 0.5, 0.3, 2e-13), (100.0, 200.0, 0.3, 2e-13), (1000.0, 1000.0, 0.49, 2e-13),
    (692.4994941450667, 19.097553549614794, 0.3490292369917902, 2e-13), (3.0, 0.5, 0.95, 2e-13),
    # dI/da = I (log x - psi(a + 1) + psi(a + b) - ...): terms near 11 cancel to 4e-4
    (1e-3, 3.0, 1e-5, 2e-12)])
def test_generic_formula_and_derivatives_match_mpmath(a, b, x, rtol):
    mpmath.mp.dps = 40
    exact = mpmath.betainc(a, b, 0, x, regularized=True)
    args = (np.array([a]), np.array([b]), np.array([x]))
    ours = ibf.regularized_beta(npx, *args, upper=False)[0]
    assert abs(ours - float(exact)) <= 2e-13 * float(exact)
    for wrt, exact_derivative in enumerate((
            mpmath.diff(lambda s: mpmath.betainc(s, b, 0, x, regularized=True), a),
            mpmath.diff(lambda s: mpmath.betainc(a, s, 0, x, regularized=True), b))):
        derivative = ibf.regularized_beta_derivative(npx, *args, wrt=wrt)[0]
        assert abs(derivative - float(exact_derivative)) <= rtol * abs(float(exact_derivative))


def test_edges_match_scipy():
    a = np.array([0.0, 1.0, 1.0, 0.0, -1.0, 1.0, 2.0, 2.0, np.nan, np.inf, 2.0, 2.0, np.inf])
    b = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 3.0, np.inf, np.inf])
    x = np.array([0.5, 0.5, 0.0, 0.5, 0.5, 1.0, 1.5, -0.1, 0.5, 0.5, np.nan, 0.5, 0.5])
    with np.errstate(all="ignore"):
        for fn, reference in ((xg.special.betainc, sc.betainc),
                              (xg.special.betaincc, sc.betaincc)):
            np.testing.assert_array_equal(fn(f64(a), f64(b), f64(x)).numpy(), reference(a, b, x))
        for upper, reference in ((False, sc.betainc), (True, sc.betaincc)):
            np.testing.assert_array_equal(ibf.regularized_beta(npx, a, b, x, upper=upper),
                                          reference(a, b, x))


def test_t_and_f_distributions_match_scipy():
    rng = np.random.default_rng(5)
    df = 10.0 ** rng.uniform(-0.5, 3, 300)
    t = rng.standard_normal(300) * 4.0
    t[:4] = [0.0, -1e-9, np.inf, -np.inf]      # -1e-9: df / (df + t^2) rounds to 1
    with np.errstate(all="ignore"):             # branches not taken (the primitives' are quiet)
        generic = ibf.student_t_cdf(npx, df, t)
    np.testing.assert_allclose(generic, sc.stdtr(df, t), rtol=1e-12)
    np.testing.assert_allclose(xg.special.stdtr(f64(df), f64(t)).numpy(), sc.stdtr(df, t),
                               rtol=1e-15)
    assert ibf.student_t_cdf(npx, np.array([np.inf]), np.array([-3.0]))[0] == \
        pytest.approx(sc.ndtr(-3.0), rel=1e-15)
    dfd = 10.0 ** rng.uniform(-0.5, 3, 300)
    f = rng.exponential(2.0, 300)
    for fn, reference in ((xg.special.fdtr, sc.fdtr), (xg.special.fdtrc, sc.fdtrc)):
        # the rounding of dfn x / (dfn x + dfd), amplified by the degrees of freedom (to 1e3)
        np.testing.assert_allclose(fn(f64(df), f64(dfd), f64(f)).numpy(),
                                   reference(df, dfd, f), rtol=5e-13)
    with np.errstate(invalid="ignore"):
        bad = xg.special.fdtrc(f64([2.0, -1.0]), 3.0, f64([-1.0, 1.0])).numpy()
    assert np.isnan(bad).all()


def test_traced_equals_eager():
    compiled = xg.function(lambda a, b, x, t: (xg.special.betainc(a, b, x),
                                               xg.special.stdtr(b, t)))
    rng = np.random.default_rng(9)
    for _ in range(2):                          # a trace, then a replay at other values
        a, b, x = (f64(v) for v in _shapes(rng, 16, -1, 2.5))
        t = f64(rng.standard_normal(16) * 3.0)
        for traced, eager in zip(compiled(a, b, x, t), (xg.special.betainc(a, b, x),
                                                        xg.special.stdtr(b, t))):
            np.testing.assert_allclose(traced.numpy(), eager.numpy(), rtol=1e-12)


# -- gradients ----------------------------------------------------------------------------------
def test_gradients_in_x_to_second_order():
    a, b = f64([0.5, 2.0, 30.0]), f64([1.5, 3.0, 40.0])
    x = f64([0.1, 0.6, 0.45])
    check_grads(lambda x: xg.special.betainc(a, b, x), [x], order=2)
    check_grads(lambda x: xg.special.betaincc(a, b, x), [x], order=2)
    check_grads(lambda t: xg.special.stdtr(a * 4.0, t), [f64([-2.0, 0.0, 0.7])], order=2)
    check_grads(lambda x: xg.special.fdtrc(3.0, 7.0, x), [f64([0.3, 2.0, 9.0])], order=2)


def test_gradients_in_the_shape_parameters():
    a, b = f64([0.5, 2.0, 30.0]), f64([1.5, 3.0, 40.0])
    x = f64([0.1, 0.6, 0.45])
    check_grads(xg.special.betainc, [a, b, x])
    check_grads(xg.special.betaincc, [a, b, x])
    check_grads(xg.special.stdtr, [f64([0.7, 3.0, 45.0]), f64([-2.0, 0.3, 1.5])])
    check_grads(xg.special.fdtr, [f64([3.0, 2.0]), f64([7.0, 4.5]), f64([0.3, 2.0])])
    check_grads(xg.special.fdtrc, [f64([3.0, 2.0]), f64([7.0, 4.5]), f64([0.3, 2.0])])


def test_stdtr_df_derivative_matches_mpmath():
    mpmath.mp.dps = 30

    def cdf(df, t):
        tail = mpmath.betainc(df / 2, 0.5, 0, df / (df + t * t), regularized=True) / 2
        return tail if t < 0 else 1 - tail

    df, t = f64([0.8, 4.0, 60.0]), f64([-3.0, 1e-4, 2.5])
    grad = xg.grad(lambda d: xg.sum(xg.special.stdtr(d, t)))(df).numpy()
    for d, s, ours in zip(df.tolist(), t.tolist(), grad):
        exact = float(mpmath.diff(lambda v: cdf(v, mpmath.mpf(s)), d))
        assert ours == pytest.approx(exact, rel=1e-12)


def test_stdtr_gradient_is_torch_student_t_density():
    df = [0.7, 3.0, 45.0]
    t = [-2.0, 0.0, 1.5]
    grad = xg.grad(lambda t: xg.sum(xg.special.stdtr(f64(df), t)))(f64(t)).numpy()
    density = torch.distributions.StudentT(torch.tensor(df, dtype=torch.float64)).log_prob(
        torch.tensor(t, dtype=torch.float64)).exp().numpy()
    np.testing.assert_allclose(grad, density, rtol=1e-14)


def test_float32_in_float32_out():
    x = xg.asarray([0.2, 0.7])
    for out in (xg.special.betainc(2.0, 3.0, x), xg.special.stdtr(3.0, x),
                xg.special.gamma(x), xg.special.fdtrc(2.0, 3.0, x)):
        assert out.dtype == xg.float32


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("call, argument", [
    (lambda: xg.special.betainc("a", 1.0, f64([0.5])), "a"),
    (lambda: xg.special.betainc(1.0, xg.asarray([0.5 + 0j]), 0.5), "b"),
    (lambda: xg.special.betaincc(1.0, 2.0, object()), "x"),
    (lambda: xg.special.stdtr([1j], f64([0.5])), "df"),
    (lambda: xg.special.fdtrc(1.0, "3", f64([0.5])), "dfd"),
    (lambda: xg.special.gamma("x"), "x"),
])
def test_bad_arguments_name_themselves(call, argument):
    with pytest.raises(TypeError, match=rf"xg\.special\.\w+: {argument} must be"):
        call()


def test_second_derivatives_in_a_shape_parameter_name_it():
    a, b, x = f64([2.0]), f64([3.0]), f64([0.4])
    with pytest.raises(NotImplementedError, match="betainc: second derivatives involving a"):
        xg.grad(lambda a: xg.sum(xg.grad(lambda a: xg.sum(xg.special.betainc(a, b, x)))(a)))(a)
    with pytest.raises(NotImplementedError, match="betaincc: second derivatives involving b"):
        xg.grad(lambda b: xg.sum(xg.grad(lambda b: xg.sum(xg.special.betaincc(a, b, x)))(b)))(b)
    with pytest.raises(NotImplementedError, match="stdtr: second derivatives involving df"):
        xg.grad(xg.grad(lambda d: xg.sum(xg.special.stdtr(d, x))))(f64(5.0))
    with pytest.raises(NotImplementedError, match="fdtrc: second derivatives involving dfd"):
        xg.grad(xg.grad(lambda d: xg.sum(xg.special.fdtrc(2.0, d, x))))(f64(5.0))
    # x then a: the density's rule in a
    with pytest.raises(NotImplementedError, match="betainc: second derivatives involving a"):
        xg.grad(lambda a: xg.sum(xg.grad(lambda x: xg.sum(xg.special.betainc(a, b, x)))(x)))(a)
    # a constant shape parameter needs no gradient: x's second derivative works
    xg.grad(xg.grad(lambda x: xg.sum(xg.special.betainc(2.0, b, x))))(f64(0.4))


def test_docs_example_runs(capsys):
    """docs/special.md's example: Welch's p-value on a tape equals SciPy's on NumPy arrays, and
    its gradient finite differences."""
    import re

    import scipy.stats
    from docs_text import section

    (code,) = re.findall(r"```python\n(.*?)```",
                         section("Incomplete beta, t and F: p-values on a tape"), re.S)
    namespace = {}
    exec(code, namespace)
    x, y = namespace["x"], namespace["y"]
    expected = scipy.stats.ttest_ind(x.numpy(), y.numpy(), equal_var=False).pvalue
    assert float(capsys.readouterr().out.split()[0]) == pytest.approx(expected, rel=1e-12)
    check_grads(namespace["p_value"], [x])


def test_forwards_and_rules_use_only_the_array_api():
    """The generic densities and gamma (what CuPy, or any namespace, runs) on array-api-strict
    agree with NumPy's exactly. (The fractions' eager loops write through integer indices, as
    gammainc's do: CuPy has that, array-api-strict not.)"""
    strict = pytest.importorskip("array_api_strict")
    from xpgrad.ops import gamma_function, incomplete_beta as ops

    a = np.array([0.5, 2.0, 30.0, 0.0, 2.0, 1e-3, 400.0])
    b = np.array([1.5, 3.0, 40.0, 1.0, -1.0, 3.0, 350.0])
    x = np.array([0.1, 0.9, 0.45, 0.5, 0.5, 1e-5, 0.55])
    calls = [(ops._beta_density, (a, b, x), {"names": ("betainc", "a", "b", "x")}),
             (ops._t_density, (b, x - 0.5), {"names": ("stdtr", "df", "t")}),
             (gamma_function._gamma_prim, (x - 0.7,), {})]
    for prim, args, params in calls:
        results = []
        for xp in (npx, strict):
            arrays = [xp.asarray(v) for v in args]
            with np.errstate(all="ignore"):
                ans = prim.forward(xp, *arrays, **params)
                grads = []
                for rule in prim.vjps:
                    try:
                        grads.append(rule(xp, xp.ones_like(ans), ans, *arrays, **params))
                    except NotImplementedError:         # a shape parameter's second derivative
                        pass
            results.append([np.asarray(r) for r in (ans, *grads)])
        for ours, theirs in zip(*results):
            np.testing.assert_array_equal(ours, theirs, err_msg=prim.name)
