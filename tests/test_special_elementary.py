"""``xg.special``'s elementary functions under SciPy's names (``xpgrad/ops/special_elementary.py``):
``cbrt``, ``sindg``, ``cosdg``, ``tandg``, ``cotdg``, ``exprel``. Values against
``scipy.special`` on both CPU backends, edges included (exact zeros and poles of the degree
functions, ``|x| > 1e14``, infinities, NaN); gradients against PyTorch and at the edges
(finite differences: ``tests/test_primitives.py``); SciPy's own calls recording on a tape.
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
_EDGES = [0.0, -0.0, 5e-324, -5e-324, np.inf, -np.inf, np.nan]
_DEGREES = np.concatenate([np.linspace(-720.0, 720.0, 97), np.arange(-450.0, 451.0, 45.0),
                           [1e-3, -7.5, 1e13 + 0.5, 1e14, 2e14, 1e20, 1e300], _EDGES])
_WIDE = np.concatenate([np.linspace(-5.0, 5.0, 41), np.geomspace(1e-300, 1e300, 41),
                        -np.geomspace(1e-300, 1e300, 41), _EDGES])
_NEAR_ZERO = np.concatenate([np.geomspace(1e-20, 0.1, 41), -np.geomspace(1e-20, 0.1, 41),
                             [0.00999, 0.01, 0.01001, 700.0, 709.7, -745.0, -1e4, 710.0]])

CASES = {
    "cbrt": (xg.special.cbrt, sc.cbrt, _WIDE, 4e-16),
    "sindg": (xg.special.sindg, sc.sindg, _DEGREES, 4e-16),
    "cosdg": (xg.special.cosdg, sc.cosdg, _DEGREES, 4e-16),
    # SciPy's tandg and cotdg lose digits next to their poles (1e-12 at 1e-3 degrees from
    # them; these are within 2 ulp of mpmath there: below); SciPy's cotdg is inf at 5e-324
    "tandg": (xg.special.tandg, sc.tandg, _DEGREES, 1e-12),
    "cotdg": (xg.special.cotdg, sc.cotdg, _DEGREES[np.abs(_DEGREES) != 5e-324], 1e-12),
    # SciPy's exprel overflows past 709.78 where expm1 does, not the quotient: mpmath below
    "exprel": (xg.special.exprel, sc.exprel, np.concatenate([_WIDE, _NEAR_ZERO[:-1]]), 4e-16),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_scipy(name, backend):
    fn, ref, x, rtol = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref(x)
        got = fn(xg.asarray(x, dtype=xg.float64, backend=backend)).numpy()
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=0, equal_nan=True)


def test_degree_functions_are_exact_at_multiples_of_45():
    angles = xg.asarray([0.0, 45.0, 90.0, 135.0, 180.0, 270.0, -90.0], dtype=xg.float64)
    assert xg.special.sindg(angles).tolist() == pytest.approx(
        [0.0, 0.5 ** 0.5, 1.0, 0.5 ** 0.5, 0.0, -1.0, -1.0], rel=2e-16, abs=0.0)
    assert [xg.special.cosdg(angles).tolist()[i] for i in (2, 5, 6)] == [0.0, 0.0, 0.0]
    assert xg.special.tandg(angles).tolist()[:3] == [0.0, 1.0, np.inf]


@pytest.mark.parametrize("degrees", [1e-10, 1e-3, -7.5, 33.3, 89.999, 90.001, 179.999])
def test_tandg_and_cotdg_next_to_their_poles_match_mpmath(degrees):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    radians = mpmath.mpf(degrees) * mpmath.pi / 180
    x = xg.asarray(degrees, dtype=xg.float64)
    assert xg.special.tandg(x).item() == pytest.approx(float(mpmath.tan(radians)), rel=5e-16, abs=0)
    assert xg.special.cotdg(x).item() == pytest.approx(float(mpmath.cot(radians)), rel=5e-16, abs=0)


def test_float32_stays_float32():
    x = xg.asarray([-8.0, 30.0, 1e-3], dtype=xg.float32)
    for name in CASES:
        assert getattr(xg.special, name)(x).dtype == xg.float32, name


@pytest.mark.parametrize("dtype, x", [("float32", [89.0, 90.0, 93.0]),
                                      ("float64", [709.0, 710.0, 716.0])])
def test_exprel_is_finite_where_expm1_overflows_and_the_quotient_fits(dtype, x):
    # SciPy's float32 exprel computes in float64: 1.36e37 at 90, where float32's exp is inf
    mpmath = pytest.importorskip("mpmath")
    got = xg.special.exprel(xg.asarray(x, dtype=dtype))
    exact = [float(mpmath.expm1(v) / v) for v in x]
    assert got.dtype == dtype
    np.testing.assert_allclose(got.numpy(), exact, rtol=4e-7 if dtype == "float32" else 4e-15)
    slope = xg.grad(lambda v: xg.sum(xg.special.exprel(v)))(xg.asarray(x, dtype=dtype))
    np.testing.assert_allclose(slope.numpy(), [e * (1.0 - 1.0 / v) for e, v in zip(exact, x)],
                               rtol=4e-6 if dtype == "float32" else 4e-14)


@pytest.mark.parametrize("name", ["cbrt", "sindg", "cosdg", "tandg", "exprel"])
def test_gradients_match_torch(name):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).uniform(-3.0, 3.0, (3, 4))
    pairs = {
        "cbrt": (xg.special.cbrt, lambda t: torch.sign(t) * torch.abs(t) ** (1.0 / 3.0)),
        "sindg": (lambda v: xg.special.sindg(v * 40.0),
                  lambda t: torch.sin(torch.deg2rad(t * 40.0))),
        "cosdg": (lambda v: xg.special.cosdg(v * 40.0),
                  lambda t: torch.cos(torch.deg2rad(t * 40.0))),
        "tandg": (lambda v: xg.special.tandg(v * 25.0),
                  lambda t: torch.tan(torch.deg2rad(t * 25.0))),
        "exprel": (xg.special.exprel, lambda t: torch.expm1(t) / t),
    }
    assert_matches_torch(*pairs[name], [x])


def test_cbrt_gradient_is_inf_at_zero_as_torch():
    torch = pytest.importorskip("torch")
    x = xg.asarray([0.0, -8.0], dtype=xg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # NumPy's pow: 0 ** (-2/3)
        gradient = xg.grad(lambda v: xg.sum(xg.special.cbrt(v)))(x).tolist()
    assert gradient == pytest.approx([np.inf, 1.0 / 12.0], rel=1e-15)
    t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (t ** (1.0 / 3.0)).backward()
    assert t.grad.item() == np.inf


def test_exprel_derivatives_at_and_near_zero():
    # exprel = sum x**n / (n + 1)!: exprel'(0) = 1/2, exprel''(0) = 1/3; either side of the
    # series' edge the two formulas agree with the closed form x e^x - expm1(x)) / x**2
    first = xg.grad(lambda v: xg.special.exprel(v))
    second = xg.grad(first)
    zero = xg.asarray(0.0, dtype=xg.float64)
    assert first(zero).item() == pytest.approx(0.5, rel=1e-15)
    assert second(zero).item() == pytest.approx(1.0 / 3.0, rel=1e-15)
    for x in [0.0099, 0.0101, -0.0099, -0.0101]:
        closed = (x * np.exp(x) - np.expm1(x)) / x ** 2
        got = first(xg.asarray(x, dtype=xg.float64)).item()
        assert got == pytest.approx(closed, rel=1e-11), x
    # far inside the series the closed form cancels: its own series 1/2 + x/3 + x**2/8
    assert first(xg.asarray(1e-6, dtype=xg.float64)).item() == pytest.approx(
        0.5 + 1e-6 / 3 + 1e-12 / 8, rel=1e-15)


SCIPY_CALLS = {
    "cbrt": lambda sp, x: sp.cbrt(x),
    "sindg": lambda sp, x: sp.sindg(x * 50.0),
    "cosdg": lambda sp, x: sp.cosdg(x * 50.0),
    "tandg": lambda sp, x: sp.tandg(x * 20.0),
    "cotdg": lambda sp, x: sp.cotdg(x * 20.0 + 90.0),
    "exprel": lambda sp, x: sp.exprel(x),
}


@pytest.mark.parametrize("name", sorted(SCIPY_CALLS))
def test_scipy_calls_record_on_a_tape(name):
    from test_special_composed import _scipy_on_a_tape
    from test_third_party import check

    sp = _scipy_on_a_tape()
    x = np.random.default_rng(9).standard_normal((2, 3))
    check(lambda x: SCIPY_CALLS[name](sp, x), [x], "numpy", rtol=1e-12, atol=1e-14)
