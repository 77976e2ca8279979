"""Every public name of ``torch.special`` and ``jax.scipy.special`` is either an
``xg.special`` function of that name or an AttributeError that says what xpgrad has instead
(``xpgrad/special.py``'s ``_OTHER_NAMES``): a new name in a future PyTorch or JAX release
fails here and names itself. PyTorch's names for functions xpgrad has under SciPy's names are
the same functions (``xpgrad/ops/special_torch_aliases.py``) and agree with PyTorch's."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.special import _OTHER_NAMES

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("numpy_default")

SAME = {"bessel_j0": "j0", "bessel_j1": "j1", "bessel_y0": "y0", "bessel_y1": "y1",
        "modified_bessel_i0": "i0", "modified_bessel_i1": "i1", "modified_bessel_k0": "k0",
        "modified_bessel_k1": "k1", "scaled_modified_bessel_k0": "k0e",
        "scaled_modified_bessel_k1": "k1e"}
POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "hermite_polynomial_h",
               "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"]


def _public(module):
    """The public callables of ``module`` (not the modules it imported, nor torch.special's
    docstring fragments ``common_args``)."""
    return sorted(n for n in dir(module) if not n.startswith("_")
                  and callable(getattr(module, n)) and not inspect.ismodule(getattr(module, n)))


def _unaccounted(names):
    """The names ``xg.special`` neither has nor refuses with a hint naming xpgrad's way."""
    out = []
    for name in names:
        try:
            getattr(xg.special, name)
        except AttributeError as error:
            if name not in _OTHER_NAMES or _OTHER_NAMES[name] not in str(error):
                out.append(name)
    return out


def test_every_torch_special_name_is_there_or_refused_with_a_hint():
    assert _unaccounted(_public(torch.special)) == []


def test_every_jax_scipy_special_name_is_there_or_refused_with_a_hint():
    jax_special = pytest.importorskip("jax.scipy.special")
    assert _unaccounted(_public(jax_special)) == []


def test_an_unknown_name_is_a_plain_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'no_such_function'$"):
        xg.special.no_such_function  # noqa: B018
    assert not hasattr(xg.special, "wofz") and hasattr(xg.special, "bessel_j0")


@pytest.mark.parametrize("name", sorted(SAME))
def test_torch_names_are_the_same_functions_and_agree(name):
    assert getattr(xg.special, name) is getattr(xg.special, SAME[name])
    x = np.concatenate([np.linspace(0.05, 30.0, 200), [1e-300, 700.0, 1e4]])
    got = getattr(xg.special, name)(xg.asarray(x, dtype=xg.float64)).numpy()
    want = getattr(torch.special, name)(torch.tensor(x)).numpy()
    # PyTorch's float64 bessel_j0, _j1, _y0, _y1 are up to 1e-6 off past x = 4 (SciPy's and
    # xpgrad's agree to 1e-15): PyTorch's checks the mapping, SciPy's the digits
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)
    sc = pytest.importorskip("scipy.special")
    np.testing.assert_allclose(got, getattr(sc, SAME[name])(x), rtol=1e-13, atol=5e-15)


def test_expm1_and_log1p_are_xg_s():
    assert xg.special.expm1 is xg.expm1 and xg.special.log1p is xg.log1p


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_take_x_then_n_and_are_zero_below_degree_zero(name):
    x = np.linspace(-3.0, 3.0, 61)
    for n in (-3, -1, 0, 1, 2, 7):
        got = getattr(xg.special, name)(xg.asarray(x, dtype=xg.float64), n).numpy()
        want = getattr(torch.special, name)(torch.tensor(x), n).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"n={n}")
    degrees = np.array([-1, 0, 3, 5])
    got = getattr(xg.special, name)(xg.asarray([0.7] * 4, dtype=xg.float64), degrees).numpy()
    want = getattr(torch.special, name)(torch.tensor([0.7] * 4, dtype=torch.float64),
                                        torch.tensor(degrees)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_gradients_match_torch(name):
    x = np.linspace(-2.0, 2.0, 9)
    got = xg.grad(lambda t: xg.sum(getattr(xg.special, name)(t, 4)))(
        xg.asarray(x, dtype=xg.float64)).numpy()
    tx = torch.tensor(x, requires_grad=True)
    # PyTorch's polynomials have no derivative formula: the finite difference instead
    h = 1e-6
    want = (getattr(torch.special, name)(tx.detach() + h, 4)
            - getattr(torch.special, name)(tx.detach() - h, 4)).numpy() / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7)


def test_round_takes_decimals_as_torch():
    x = np.array([1.2345, -2.5, 0.5, 1234.5678, 2.675])
    for decimals in (0, 2, -2):
        got = xg.special.round(xg.asarray(x, dtype=xg.float64), decimals=decimals).numpy()
        want = torch.special.round(torch.tensor(x), decimals=decimals).numpy()
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match="round: decimals"):
        xg.special.round(xg.asarray(x), decimals=1.5)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "uint64"])
def test_round_of_integers_keeps_their_dtype_and_is_exact(dtype):
    """Integers round half to even in their own dtype, exactly, as Python's round(int, -k) and
    NumPy's np.round (PyTorch's refuses integers): before 2026-12-08 a decimals other than 0
    gave float32 (123456789 at -1: 123456792.0, not 123456790; 0 kept int64)."""
    info = np.iinfo(dtype)
    values = set(range(max(int(info.min), -300), min(int(info.max), 300) + 1))
    values |= {int(info.min), int(info.max), int(info.min) // 2, int(info.max) // 2,
               123456789 % (int(info.max) + 1)}
    x = np.array(sorted(values), dtype=dtype)
    for decimals in (-1, -2, -3, -19, -25, 0, 2):
        got = xg.special.round(xg.asarray(x), decimals=decimals)
        assert got.dtype == getattr(xg, dtype), decimals
        pairs = [(v, g, round(v, decimals)) for v, g in zip(x.tolist(), got.numpy().tolist())]
        fits = [(v, g, w) for v, g, w in pairs if info.min <= w <= info.max]   # else it wraps
        assert len(fits) >= len(pairs) - 6
        assert [g for _, g, _ in fits] == [w for _, _, w in fits], decimals


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_with_negative_or_huge_decimals_is_torchs_bit_for_bit(dtype):
    """A negative ``decimals`` divides by 10**-decimals and multiplies back, as PyTorch's:
    before 2026-12-08 xpgrad multiplied by 10.0**decimals and divided, so float32's 904.8 at
    decimals=-3 gave 999.99994 (1 / 0.001f) where PyTorch gives 1000; and decimals=309 raised
    Python's OverflowError where PyTorch's power of ten is inf."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1e4, 1e4, 2000), np.arange(-40, 40) * 5.0,
                        np.arange(-40, 40) * 0.05]).astype(dtype)
    for decimals in (-6, -5, -4, -3, -2, -1, 1, 3, 7, 309, -309):
        with np.errstate(over="ignore", invalid="ignore"):   # inf / inf's NaN, as PyTorch's
            got = xg.special.round(xg.asarray(x), decimals=decimals).numpy()
        want = torch.special.round(torch.from_numpy(x), decimals=decimals).numpy()
        np.testing.assert_array_equal(got, want, err_msg=f"decimals={decimals}")
