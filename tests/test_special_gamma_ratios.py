"""``xg.special``'s gamma ratios under SciPy's names (``xpgrad/ops/special_gamma_ratios.py``):
``beta``, ``poch``, ``binom``. Values against ``scipy.special`` on both CPU backends over grids
of negative, whole, zero, tiny and large arguments (the poles, SciPy's limits where both gammas
of a ratio have one, NaN positions), against mpmath where SciPy loses digits; gradients against
PyTorch's ``lgamma`` compositions and at SciPy's limits (finite differences:
``tests/test_primitives.py``); SciPy's own calls recording on a tape.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg
from torch_compare import assert_matches_torch

sc = pytest.importorskip("scipy.special")
pytestmark = pytest.mark.usefixtures("numpy_default")

BACKENDS = ["numpy", "numba"]
_GRID = np.array([-30.5, -3.0, -2.5, -2.0, -1.0, -0.5, -1e-9, -0.0, 0.0, 1e-9, 0.5, 1.0, 2.0,
                  2.5, 7.0, 19.0, 20.0, 25.0, 200.0, 1e12])
_INFINITE = np.array([np.inf, -np.inf, np.nan])
_WITH_INFINITE = np.concatenate([_GRID, _INFINITE])

# (xg function, scipy function, first argument, second argument, rtol): SciPy's own error is
# 2e-13 at (200, 2.5) (these are within 1e-14 of mpmath there: below)
CASES = {
    "beta": (xg.special.beta, sc.beta, _WITH_INFINITE, _WITH_INFINITE, 5e-13),
    # SciPy's poch at z = +-inf is NaN, 0 or +-inf by turns: these take the limits (below)
    "poch": (xg.special.poch, sc.poch, np.concatenate([_GRID, [np.nan]]), _WITH_INFINITE,
             5e-13),
    # |n| = 1e-9: SciPy's general formula is 3e-10 off (mpmath: below); k = 1e12 > 1e8 |n|:
    # SciPy's asymptotic series, not taken here
    "binom": (xg.special.binom, sc.binom, _WITH_INFINITE[np.abs(_WITH_INFINITE) != 1e-9],
              np.concatenate([_GRID[:-1], _INFINITE]), 5e-13),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_scipy(name, backend):
    fn, ref, first, second, rtol = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref(first[:, None], second)
        got = fn(xg.asarray(first[:, None], dtype=xg.float64, backend=backend),
                 xg.asarray(second, dtype=xg.float64, backend=backend)).numpy()
    if name == "beta":
        # where both a and b are poles SciPy's infinity is -inf for an odd b (beta(-3, -3)),
        # its recursion's sign: mpmath's +inf is taken (docs/special.md)
        a, b = np.broadcast_arrays(first[:, None], second)
        poles = [(v <= 0) & (v == np.floor(v)) for v in (a, b)]
        expected = np.where(poles[0] & poles[1], np.inf, expected)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=0, equal_nan=True)
    infinite = np.isinf(expected)
    np.testing.assert_array_equal(got[infinite], expected[infinite])     # the signs too


def test_infinities_at_the_poles_take_scipys_and_mpmaths_sign():
    # Gamma(z + m) / Gamma(z) at a pole z + m (z not one): +inf, as SciPy's and mpmath's
    # (the product 1 / ((z - 1) ... (z + m)) gave -inf for poch(1, -2), the sign of a -0.0)
    mpmath = pytest.importorskip("mpmath")
    pairs = [(1.0, -2.0), (1.0, -4.0), (2.0, -3.0), (3.0, -4.0), (0.5, -0.5), (1.0, -1.0),
             (2.5, -4.5), (25.0, -30.0)]
    z, m = (np.array(v) for v in zip(*pairs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # NumPy's divide by zero of the product
        got = xg.special.poch(xg.asarray(z, dtype=xg.float64), xg.asarray(m, dtype=xg.float64))
        np.testing.assert_array_equal(got.numpy(), sc.poch(z, m))
    assert [float(mpmath.rf(*pair)) for pair in pairs] == got.tolist()


def test_limits_where_both_gammas_have_poles():
    # beta(-n, m) = (-1)**m B(1 + n - m, m) for whole 0 < m <= n; poch(-n, m) the product
    a = xg.asarray([-3.0, -3.0, -4.0], dtype=xg.float64)
    assert xg.special.beta(a, xg.asarray([1.0, 2.0, 3.0], dtype=xg.float64)).tolist() == \
        pytest.approx([-1.0 / 3.0, 1.0 / 6.0, -1.0 / 12.0], rel=1e-15)
    assert xg.special.poch(a, xg.asarray([1.0, -3.0, 2.0], dtype=xg.float64)).tolist() == \
        pytest.approx([-3.0, -1.0 / 120.0, 12.0], rel=1e-15)
    # |m| >= 20: the factorials' ratio (-1)**m (-z)! / (-z - m)!
    assert xg.special.poch(xg.asarray(-30.0, dtype=xg.float64), 25.0).item() == pytest.approx(
        -float(np.prod(np.arange(6.0, 31.0))), rel=1e-13)


@pytest.mark.parametrize("name, first, second", [
    ("beta", 200.0, 2.5), ("beta", 20.0, 200.0), ("beta", 200.0, 1e-9), ("beta", -0.5, 200.0),
    ("beta", -2.5, 1e12), ("poch", 200.0, -2.5), ("poch", 200.0, 0.5), ("poch", 1e-9, -3.0),
    ("poch", 1e10, 0.5), ("binom", 200.0, 0.5), ("binom", 200.0, 25.0), ("binom", 2.5, 200.0),
    ("binom", 1e-9, 0.5), ("binom", 1e-9, 1.0), ("binom", -1e-9, 19.0),
    ("binom", -0.5, 200.0), ("binom", 1e-10, 25.0), ("binom", 1e-10, 100.0),
    ("binom", 0.5, 1e10), ("binom", -0.5, 1e10), ("binom", 1e-9, 1e12 + 0.5),
    ("binom", 2.5, 1e9 + 0.25)])
def test_values_match_mpmath_where_scipy_loses_digits(name, first, second):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    exact = {"beta": mpmath.beta, "poch": mpmath.rf, "binom": mpmath.binomial}[name]
    got = getattr(xg.special, name)(xg.asarray(first, dtype=xg.float64), second).item()
    assert got == pytest.approx(float(exact(first, second)), rel=1e-13, abs=0)


@pytest.mark.parametrize("n, k", [(1e-6, 250.5), (0.3, 1e9 + 0.7), (-0.7, 5e8 + 0.2)])
def test_binoms_gradients_for_k_far_above_n_match_mpmath(n, k):
    # k > 1e8 |n|: the reflection's branch (its sine of the fraction of k)
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    in_n = xg.grad(lambda v: xg.special.binom(v, k))(xg.asarray(n, dtype=xg.float64)).item()
    in_k = xg.grad(lambda v: xg.special.binom(n, v))(xg.asarray(k, dtype=xg.float64)).item()
    assert in_n == pytest.approx(float(mpmath.diff(lambda v: mpmath.binomial(v, k), n)),
                                 rel=1e-12, abs=0)
    assert in_k == pytest.approx(float(mpmath.diff(lambda v: mpmath.binomial(n, v), k)),
                                 rel=1e-12, abs=0)


@pytest.mark.parametrize("n, k", [(3.3, 1000.5), (3.3, 1e6), (0.3, 2e7 + 0.1), (-2.7, 1e7 + 0.3),
                                  (-30.5, 200.25), (150.5, 300.7)])
def test_binom_for_k_well_above_n_matches_mpmath(n, k):
    """k - n > 100, below k = 1e8 |n|: the reflection (the general formula's ``1 + n - k`` kept
    ``eps k`` of its fraction: 7e-10 off at (3.3, 1e6), 1.7e-8 at (0.3, 2e7 + 0.1), and
    binom(-2.7, 1e7 + 0.3) was 0, not -1487.8), its gradients too."""
    mpmath = pytest.importorskip("mpmath")
    value = xg.special.binom(xg.asarray(n, dtype=xg.float64), xg.asarray(k, dtype=xg.float64))
    in_n = xg.grad(lambda v: xg.special.binom(v, k))(xg.asarray(n, dtype=xg.float64)).item()
    in_k = xg.grad(lambda v: xg.special.binom(n, v))(xg.asarray(k, dtype=xg.float64)).item()
    with mpmath.workdps(40):
        expected = float(mpmath.binomial(n, k))
        by_n = float(mpmath.diff(lambda v: mpmath.binomial(v, k), n))
        by_k = float(mpmath.diff(lambda v: mpmath.binomial(n, v), k))
    assert value.item() == pytest.approx(expected, rel=1e-13, abs=0)
    assert in_n == pytest.approx(by_n, rel=1e-12, abs=0)
    assert in_k == pytest.approx(by_k, rel=1e-12, abs=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_binom_of_a_whole_n_below_a_whole_k_far_above_it_is_zero(backend):
    """k > 1e8 n, both whole: exactly 0 (mpmath's; the reflection's sin(pi (k - n)) was
    sin(7 pi) = 9e-16, binom(7, 1e9) -1.4e-84 and binom(1, 1e9) -3.9e-35), its gradient in n
    still mpmath's (not 0: the product (n - 1)(n - 2)... has a factor 0 at n = 1 only)."""
    mpmath = pytest.importorskip("mpmath")
    n = np.array([0.0, 1.0, 2.0, 7.0, 1.0, 3.0])
    k = np.array([1e9, 1e9, 3e9 + 1.0, 1e9, 1e12, 1e20])
    as_tensor = lambda a: xg.asarray(a, dtype=xg.float64, backend=backend)   # noqa: E731
    np.testing.assert_array_equal(xg.special.binom(as_tensor(n), as_tensor(k)).numpy(), 0.0)
    grad = xg.grad(lambda v: xg.sum(xg.special.binom(v, as_tensor(k))))(as_tensor(n)).numpy()
    with mpmath.workdps(40):
        expected = [float(mpmath.diff(lambda v: mpmath.binomial(v, b), a)) for a, b in zip(n, k)]
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["beta", "poch", "binom"])
def test_gradients_match_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    first, second = rng.uniform(0.3, 6.0, (3, 4)), rng.uniform(0.3, 2.0, (4,))
    pairs = {
        "beta": (xg.special.beta, lambda a, b: torch.exp(
            torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b))),
        "poch": (xg.special.poch, lambda z, m: torch.exp(torch.lgamma(z + m) - torch.lgamma(z))),
        "binom": (xg.special.binom, lambda n, k: torch.exp(
            torch.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1))),
    }
    assert_matches_torch(*pairs[name], [first + 2.0, second])


def test_gradient_at_the_limits_is_the_limits():
    # beta(a, 2) = 1 / (a (a + 1)) and poch(z, 2) = z (z + 1) are smooth through a = z = -3
    a = xg.asarray(-3.0, dtype=xg.float64)
    assert xg.grad(lambda v: xg.special.beta(v, 2.0))(a).item() == pytest.approx(
        5.0 / 36.0, rel=1e-14)                        # -(2a + 1) / (a (a + 1))**2
    assert xg.grad(lambda v: xg.special.poch(v, 2.0))(a).item() == pytest.approx(-5.0, rel=1e-15)


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_nan_gradient_where_the_value_is_finite(name):
    # the poles' branches are computed on replaced arguments: no NaN leaks into the others
    fn = getattr(xg.special, name)
    first, second = np.meshgrid(_GRID[:-1], _GRID[:-1], indexing="ij")
    first = xg.asarray(first, dtype=xg.float64)
    second = xg.asarray(second, dtype=xg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # overflow to inf at the poles
        finite = np.isfinite(fn(first, second).numpy())
        in_first = xg.grad(lambda v: xg.sum(fn(v, second)))(first).numpy()
        in_second = xg.grad(lambda v: xg.sum(fn(first, v)))(second).numpy()
    assert finite.sum() > 150
    assert not np.isnan(in_first[finite]).any() and not np.isnan(in_second[finite]).any()


def test_float32_stays_float32():
    x = xg.asarray([0.5, 3.0], dtype=xg.float32)
    for name in CASES:
        assert getattr(xg.special, name)(x, 1.5).dtype == xg.float32, name


_FLOAT32_GRID = np.array([-36.5, -30.5, -10.5, -2.5, -0.5, 0.5, 0.7, 2.5, 10.5, 25.0, 45.5, 100.0])


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_is_finite_and_close_where_the_value_fits_float32(name):
    # the gammas overflow float32 past 35 where float64's are finite up to 170: a ratio of
    # two of them was inf / inf (NaN) or inf (0 in binom) where the ratio fits
    fn, ref = CASES[name][:2]
    first, second = _FLOAT32_GRID[:, None], _FLOAT32_GRID[None, :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref(first, second)
        got = fn(xg.asarray(first, dtype=xg.float32), xg.asarray(second, dtype=xg.float32))
    fits = np.isfinite(expected) & (np.abs(expected) < 1e30) & (np.abs(expected) > 1e-30)
    assert fits.sum() > 30
    np.testing.assert_allclose(got.numpy()[fits], expected[fits], rtol=1e-4)


SCIPY_CALLS = {
    "beta": lambda sp, x: sp.beta(x * x + 0.5, 1.5),
    "poch": lambda sp, x: sp.poch(x * x + 0.5, x),
    "binom": lambda sp, x: sp.binom(x * x + 3.0, 1.5),
}


@pytest.mark.parametrize("name", sorted(SCIPY_CALLS))
def test_scipy_calls_record_on_a_tape(name):
    from test_special_composed import _scipy_on_a_tape
    from test_third_party import check

    sp = _scipy_on_a_tape()
    x = np.random.default_rng(9).standard_normal((2, 3))
    check(lambda x: SCIPY_CALLS[name](sp, x), [x], "numpy", rtol=1e-12, atol=1e-14)


def test_poch_at_its_poles_warns_of_nothing():
    # z a pole (0), z + m a pole (inf), both (the limit), forward and both gradients: the
    # documented values, and no NumPy divide-by-zero warning on the way
    z = xg.asarray([-3.0, 1.0, 2.0, -2.0, -1.0], dtype=xg.float64)
    m = xg.asarray([0.5, -1.0, -3.0, 1.0, -1.0], dtype=xg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = xg.special.poch(z, m).numpy()
        in_z = xg.grad(lambda v: xg.sum(xg.special.poch(v, m)))(z).numpy()
        in_m = xg.grad(lambda v: xg.sum(xg.special.poch(z, v)))(m).numpy()
    np.testing.assert_array_equal(value, sc.poch(z.numpy(), m.numpy()))
    assert np.isfinite(in_z).all() and np.isfinite(in_m).all()
