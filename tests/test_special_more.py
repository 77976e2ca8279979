"""The rest of xg.special (ndtri, betaln, multigammaln, psi, the entropies, the Huber losses,
sinc, exp2/exp10 and SciPy's logsumexp/softmax/log_softmax): values against scipy.special on
both CPU backends, gradients against PyTorch where it has the function and against finite
differences (to second order), SciPy's own ufuncs differentiating on a tape, Python numbers as
weak scalars, and bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]
_RNG = np.random.default_rng(7)
_P = np.concatenate([np.linspace(0, 1, 2001), np.geomspace(5e-324, 1e-3, 400),
                     1 - np.geomspace(1e-16, 1e-3, 100), [-0.5, 1.5, np.nan]])
_X = np.concatenate([np.linspace(-5, 5, 1001), [0.0, -0.0, 1e-300, 1e-8, -1e-3, 40.0]])
_POSITIVE = np.concatenate([np.geomspace(1e-3, 1e3, 300), [0.0, -1.0, np.inf]])

# one argument: (xg function, scipy function, float64 points, relative tolerance, floor)
UNARY = {
    "ndtri": (xg.special.ndtri, sc.ndtri, _P, 1e-14, 0.0),
    "entr": (xg.special.entr, sc.entr, _POSITIVE, 1e-15, 0.0),
    "psi": (xg.special.psi, sc.psi, np.linspace(0.01, 30, 500), 1e-14, 0.0),
    # sinc: absolute error (sin(pi x) near its zeros), as NumPy's
    "sinc": (xg.special.sinc, np.sinc, _X, 1e-15, 1.0),
    # SciPy's exp2 flushes subnormal results to 0: from -1022 on
    "exp2": (xg.special.exp2, sc.exp2, np.linspace(-1022, 1023, 2001), 1e-15, 0.0),
    "exp10": (xg.special.exp10, sc.exp10, np.linspace(-300, 300, 2001), 1e-14, 0.0),
}
# two arguments, on every pair of the points
_PAIR_POINTS = np.array([0.0, 1e-3, 0.3, 1.0, 2.5, 40.0, -1.0])
BINARY = {
    "rel_entr": (xg.special.rel_entr, sc.rel_entr, 1e-15),
    "kl_div": (xg.special.kl_div, sc.kl_div, 1e-15),
    "huber": (xg.special.huber, sc.huber, 1e-15),
    "pseudo_huber": (xg.special.pseudo_huber, sc.pseudo_huber, 1e-13),
    # SciPy's own betaln is 8e-12 off at (1e4, 0.1): against mpmath; where the three gammalns
    # nearly cancel (betaln(3.16, 0.5) = -0.05), 1e-14 absolute
    "betaln": (xg.special.betaln, None, 1e-14),
}


def _relative_error(ours, theirs, floor=0.0):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
    with np.errstate(invalid="ignore"):
        return np.where(same, 0.0, np.abs(ours - theirs) / np.maximum(np.abs(theirs), floor))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_one_argument_values_match_scipy(name, backend):
    fn, ref, x, rtol, floor = UNARY[name]
    with np.errstate(all="ignore"):
        theirs = ref(x)
    ours = fn(xg.asarray(x, backend=backend)).numpy()
    assert ours.dtype == np.float64
    err = _relative_error(ours, theirs, floor)
    assert err.max() <= rtol, (name, x[err.argmax()], ours[err.argmax()], theirs[err.argmax()])
    with np.errstate(over="ignore"):            # float32 overflows to inf, as SciPy's
        ours32 = fn(xg.asarray(x.astype(np.float32), backend=backend)).numpy()
    assert ours32.dtype == np.float32
    with np.errstate(all="ignore"):
        theirs32 = ref(x.astype(np.float32).astype(np.float64))
    finite = np.isfinite(theirs32) & (np.abs(theirs32) < 1e38) & (np.abs(theirs32) > 1e-37)
    assert _relative_error(ours32, theirs32, max(floor, 1e-6))[finite].max() <= 4e-7, name


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_two_argument_values_match_scipy(name, backend):
    fn, ref, rtol = BINARY[name]
    x, y = np.meshgrid(_PAIR_POINTS, _PAIR_POINTS)
    if name == "betaln":        # away from its poles; large and small arguments together
        x, y = np.meshgrid(np.geomspace(1e-3, 1e4, 15), np.array([0.1, 0.5, 3.0, 7.5, 150.0]))
        ref = _betaln_mpmath
    ours = fn(xg.asarray(x, backend=backend), xg.asarray(y, backend=backend)).numpy()
    err = _relative_error(ours, ref(x, y), 1.0 if name == "betaln" else 1e-300)
    assert err.max() <= rtol, (name, x.ravel()[err.argmax()], y.ravel()[err.argmax()])


def _betaln_mpmath(a, b):
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(40):
        return np.vectorize(lambda a, b: float(mpmath.log(abs(mpmath.beta(a, b)))))(a, b)


def test_ndtri_inverts_ndtr_far_in_both_tails():
    p = np.concatenate([np.geomspace(5e-324, 0.5, 500), 1 - np.geomspace(1e-16, 0.5, 200)])
    x = xg.special.ndtri(xg.asarray(p)).numpy()
    back = xg.special.ndtr(xg.asarray(x)).numpy()
    # p's relative error is x**2 times x's far in the tail (d log p / d log x = x phi / Phi):
    # 1e-16 in x is ~1.5e-13 in p at x = -38
    assert _relative_error(back, p).max() < 1e-12
    assert xg.special.ndtri(xg.asarray([0.0, 1.0])).tolist() == [-math.inf, math.inf]


# -- gradients ------------------------------------------------------------------------------------
def _torch_grads(torch_fn, *arrays):
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    torch_fn(*ts).sum().backward()
    return [t.grad.numpy() for t in ts]


TORCH = [   # (name, xg function of Tensors, torch function, inputs)
    ("ndtri", xg.special.ndtri, torch.special.ndtri, [np.array([1e-200, 1e-5, 0.3, 0.5, 0.99])]),
    ("entr", xg.special.entr, torch.special.entr, [np.array([1e-5, 0.3, 1.0, 7.0])]),
    # (near 0 PyTorch's sinc' cancels: 2.6e-7 off at 1e-5; test_sinc_derivatives_at_zero)
    ("sinc", xg.special.sinc, torch.special.sinc, [np.array([0.0, 0.004, 0.3, 2.5])]),
    ("exp2", xg.special.exp2, torch.special.exp2, [np.array([-3.0, 0.5, 10.0])]),
    ("multigammaln", lambda a: xg.special.multigammaln(a, 3),
     lambda a: torch.special.multigammaln(a, 3), [np.array([1.2, 3.0, 50.0])]),
    ("huber", lambda d, r: xg.special.huber(d, r),
     lambda d, r: torch.where(r.abs() <= d, 0.5 * r * r, d * (r.abs() - 0.5 * d)),
     [np.array([1.0, 1.0, 0.5]), np.array([0.3, -2.0, 0.7])]),
    ("betaln", xg.special.betaln,
     lambda a, b: torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b),
     [np.array([0.5, 2.0, 30.0]), np.array([3.0, 0.2, 1.5])]),
    # Stirling's difference (the larger >= 10) with either argument the smaller, and a tie
    ("betaln_series", xg.special.betaln,
     lambda a, b: torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b),
     [np.array([0.5, 12.0, 20.0, 3.0]), np.array([15.0, 12.0, 0.7, 40.0])]),
    ("logsumexp", lambda a: xg.special.logsumexp(a, axis=1),
     lambda a: torch.logsumexp(a, dim=1), [_RNG.normal(size=(3, 4))]),
    ("softmax", lambda a: xg.special.softmax(a) * np.arange(12.0).reshape(3, 4),
     lambda a: torch.softmax(a.reshape(-1), 0).reshape(3, 4) * torch.arange(12.0).reshape(3, 4),
     [_RNG.normal(size=(3, 4))]),
    ("log_softmax", lambda a: xg.special.log_softmax(a, axis=(0, 1)) ** 2,
     lambda a: torch.log_softmax(a.reshape(-1), 0).reshape(3, 4) ** 2, [_RNG.normal(size=(3, 4))]),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", TORCH, ids=[c[0] for c in TORCH])
def test_gradients_match_pytorch(case, backend):
    name, fn, torch_fn, arrays = case
    tensors = [xg.Variable(a, backend=backend) for a in arrays]
    with xg.GradientTape() as tape:
        total = xg.sum(fn(*tensors))
    ours = tape.gradient(total, tensors)
    for got, want in zip(ours, _torch_grads(torch_fn, *arrays)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-13, err_msg=name)


FINITE_DIFFERENCES = [      # to second order, away from kinks and boundaries
    ("ndtri", xg.special.ndtri, [np.array([0.02, 0.3, 0.8])]),
    ("entr", xg.special.entr, [np.array([0.2, 1.5])]),
    ("rel_entr", xg.special.rel_entr, [np.array([0.2, 1.5]), np.array([0.7, 0.4])]),
    ("kl_div", xg.special.kl_div, [np.array([0.2, 1.5]), np.array([0.7, 0.4])]),
    ("pseudo_huber", xg.special.pseudo_huber, [np.array([0.5, 2.0]), np.array([-0.3, 1.1])]),
    ("betaln", xg.special.betaln, [np.array([0.5, 4.0]), np.array([2.0, 0.3])]),
    ("betaln_series", xg.special.betaln, [np.array([2.0, 15.0, 11.0]),
                                          np.array([12.0, 0.4, 11.0])]),
    ("sinc", xg.special.sinc, [np.array([0.3, -1.7, 0.008])]),
    ("logsumexp_b", lambda a, b: xg.special.logsumexp(a, b=b, axis=0),
     [np.array([[0.1, 0.5], [-0.3, 2.0]]), np.array([[1.0, 2.0], [0.5, 0.25]])]),
]


@pytest.mark.parametrize("case", FINITE_DIFFERENCES, ids=[c[0] for c in FINITE_DIFFERENCES])
def test_gradients_to_second_order_match_finite_differences(case):
    _, fn, arrays = case
    check_grads(fn, [xg.asarray(a) for a in arrays], order=2, rtol=1e-5, atol=1e-7)


def test_sinc_derivatives_at_zero():
    """sinc'(0) = 0 and sinc''(0) = -pi**2 / 3, as PyTorch's first and second derivative; near
    0 the slope is the series -pi**2 x / 3 + pi**4 x**3 / 30."""
    zero = xg.asarray(0.0, dtype=xg.float64)
    slope = xg.grad(lambda x: xg.special.sinc(x))
    assert slope(zero).item() == 0.0
    for x in (1e-5, 3e-3):
        series = -math.pi ** 2 * x / 3 + math.pi ** 4 * x ** 3 / 30 - math.pi ** 6 * x ** 5 / 840
        assert slope(xg.asarray(x, dtype=xg.float64)).item() == pytest.approx(series, rel=1e-14)
    curvature = xg.grad(lambda x: slope(x))(zero).item()
    assert curvature == pytest.approx(-math.pi ** 2 / 3, rel=1e-14)   # PyTorch's: NaN at 0
    t = torch.full((), 0.3, dtype=torch.float64, requires_grad=True)
    (d1,) = torch.autograd.grad(torch.special.sinc(t), t, create_graph=True)
    (d2,) = torch.autograd.grad(d1, t)
    assert xg.grad(lambda x: slope(x))(xg.asarray(0.3, dtype=xg.float64)).item() == \
        pytest.approx(d2.item(), rel=1e-12)


# -- SciPy's logsumexp ----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, True), (1, False), ((0, 1), True)])
def test_logsumexp_with_weights_and_signs_matches_scipy(axis, keepdims, backend):
    a = _RNG.normal(size=(3, 4))
    a[0, 0] = -np.inf
    b = np.array([1.0, -2.0, 0.5, 0.0])
    for kwargs in ({}, {"b": b}, {"b": np.abs(b)}):
        for return_sign in (False, True):
            with np.errstate(all="ignore"):
                theirs = sc.logsumexp(a, axis=axis, keepdims=keepdims, return_sign=return_sign,
                                      **kwargs)
            ours = xg.special.logsumexp(xg.asarray(a, backend=backend), axis=axis,
                                        keepdims=keepdims, return_sign=return_sign, **kwargs)
            for got, want in zip(ours if return_sign else [ours],
                                 theirs if return_sign else [theirs]):
                assert got.shape == np.shape(want)
                np.testing.assert_allclose(got.numpy(), want, rtol=1e-14)


def test_logsumexp_gradient_with_weights_matches_jax(jax):
    from jax.scipy.special import logsumexp as jax_logsumexp

    a, b = _RNG.normal(size=(3, 4)), _RNG.uniform(0.1, 2.0, size=4)
    want = jax.grad(lambda a: jax_logsumexp(a, axis=1, b=b).sum())(a)
    got = xg.grad(lambda a: xg.sum(xg.special.logsumexp(a, axis=1, b=b)))(xg.asarray(a))
    np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-12)


# -- SciPy's ufuncs on a Tensor, and Python numbers -----------------------------------------------
@pytest.mark.parametrize("name", ["entr", "ndtri", "psi", "exp2", "erf", "rel_entr", "huber"])
def test_scipy_ufuncs_differentiate_on_a_tape(name):
    """Through SciPy's array-API dispatch (SCIPY_ARRAY_API=1, as in conftest.py) and through
    NumPy's ufunc dispatch (without it, a SciPy ufunc calls ``Tensor.__array_ufunc__``)."""
    x = xg.Variable(np.array([0.2, 0.45, 0.7]))
    args = (x, x * 0.5 + 0.1) if name in ("rel_entr", "huber") else (x,)
    with xg.GradientTape(persistent=True) as tape:
        theirs = xg.sum(getattr(sc, name)(*args))
        ours = xg.sum(getattr(xg.special, name)(*args))
        by_ufunc = xg.sum(x.__array_ufunc__(getattr(sc, name), "__call__", *args))
    want = tape.gradient(ours, x).numpy()
    np.testing.assert_array_equal(tape.gradient(theirs, x).numpy(), want)
    np.testing.assert_array_equal(tape.gradient(by_ufunc, x).numpy(), want)


@pytest.mark.parametrize("fn,ref", [(xg.special.xlogy, sc.xlogy), (xg.special.xlog1py, sc.xlog1py),
                                    (xg.special.rel_entr, sc.rel_entr),
                                    (xg.special.betaln, sc.betaln)])
def test_a_python_number_takes_the_other_arguments_dtype(fn, ref):
    """``xlogy(float64 tensor, 3.0)`` computed log(3) in float32 (2e-8 off SciPy)."""
    x = xg.asarray([2.0, 0.7], dtype=xg.float64)
    np.testing.assert_allclose(fn(x, 0.3).numpy(), ref(x.numpy(), 0.3), rtol=4e-15)
    np.testing.assert_allclose(fn(0.3, x).numpy(), ref(0.3, x.numpy()), rtol=4e-15)
    assert fn(xg.asarray([2.0], dtype=xg.float32), 0.3).dtype == xg.float32


def test_multigammaln_checks_its_domain_inside_xg_function_too():
    """The domain check is a guard of the captured program: a replay with a bad ``a`` raises as
    the eager call does, and a good one equals the eager result."""
    a = xg.Variable(np.array([1.5, 3.0]))

    def step():
        with xg.GradientTape() as tape:
            value = xg.sum(xg.special.multigammaln(a, 2))
        return value, tape.gradient(value, a)

    compiled = xg.function(step)
    compiled()
    for got, want in zip(compiled(), step()):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-15)
    a.assign(np.array([0.4, 3.0]))
    with pytest.raises(ValueError, match="got a minimum of 0.4"):
        compiled()
    assert xg.special.multigammaln(xg.zeros((0,)), 3).shape == (0,)


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,error,match", [
    (lambda: xg.special.multigammaln(xg.asarray([1.0, 0.9]), 3), ValueError, "> \\(d - 1\\) / 2"),
    (lambda: xg.special.multigammaln(xg.asarray([5.0]), 0), ValueError, "d must be >= 1"),
    (lambda: xg.special.multigammaln(xg.asarray([5.0]), 2.0), TypeError, "d must be an int"),
    (lambda: xg.special.multigammaln(xg.asarray([5.0]), True), TypeError, "got a bool"),
    (lambda: xg.special.entr(xg.asarray([1j])), TypeError, "entr: x must be real"),
    (lambda: xg.special.huber(xg.asarray([1j]), 1.0), TypeError, "huber: delta must be real"),
    (lambda: xg.special.rel_entr(1.0, "a"), TypeError, "rel_entr: y must be a tensor or numbers"),
    (lambda: xg.special.betaln(xg.ones(2), {}), TypeError, "betaln: b must be a tensor or numbers"),
    (lambda: xg.special.ndtri(xg.asarray([0.5j])), TypeError, "ndtri: p must be real"),
])
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
