"""More of SciPy's array-API functions on xpgrad Tensors under a tape.

Continues ``tests/test_third_party.py`` (its ``check`` helper: the value against SciPy on NumPy
arrays, the gradient against central finite differences): hypothesis-test statistics and
more descriptive statistics, more of ``fft``, ``signal`` and ``integrate``, and SciPy's
elementwise iterative methods (``integrate.tanhsinh``/``nsum``/``cubature``,
``differentiate``, ``optimize.elementwise``), whose gradients run through their iterations.
The callables given to the iterative methods use operators only, so the same one runs on
NumPy arrays for the reference. SciPy's own array-API test suite on xpgrad:
``tools/third_party_suites.py``.
"""
import numpy as np
import pytest

import xpgrad as xg
from test_third_party import _data, _scipy, backend, check  # noqa: F401 (fixture)



def _on(backend, f):
    """``f`` with ``backend`` as the default: SciPy makes some constants without ``device=``,
    which land on the default backend (numpy unless $XPGRAD_BACKEND says otherwise) and would
    meet the numba tensors in one operation (MixedBackendError)."""
    def run(*args):
        with xg.use_backend(backend):
            return f(*args)

    return run


def _positive(x):
    return x * x + 0.5


STATS = {
    "skewtest": lambda st, x: st.skewtest(x, axis=1).statistic,
    "kurtosistest": lambda st, x: st.kurtosistest(x, axis=1).statistic,
    "normaltest": lambda st, x: st.normaltest(x, axis=1).statistic,
    "jarque_bera": lambda st, x: st.jarque_bera(x, axis=1).statistic,
    "bartlett": lambda st, x: st.bartlett(x[0], x[1], x[2]).statistic,
    "chisquare": lambda st, x: st.chisquare(_positive(x), axis=1).statistic,
    "power_divergence": lambda st, x: st.power_divergence(
        _positive(x), axis=1, lambda_="cressie-read").statistic,
    "kstat": lambda st, x: st.kstat(x[0], 3),
    "kstatvar": lambda st, x: st.kstatvar(x[0], 2),
    "tmin": lambda st, x: st.tmin(x, axis=1),
    "tmax": lambda st, x: st.tmax(x, axis=1),
    "tsem": lambda st, x: st.tsem(x[0]),
    "circvar": lambda st, x: st.circvar(x, axis=1),
    "circstd": lambda st, x: st.circstd(x, axis=1),
    "median_abs_deviation": lambda st, x: st.median_abs_deviation(x, axis=1),
    "directional_stats": lambda st, x: st.directional_stats(x.T).mean_direction,
    "lmoment": lambda st, x: st.lmoment(x, axis=1),
    "hmean weights": lambda st, x: st.hmean(_positive(x), axis=1, weights=_positive(x[::-1])),
    "pmean weights": lambda st, x: st.pmean(_positive(x), 1.5, axis=1,
                                            weights=_positive(x[::-1])),
    "gzscore": lambda st, x: st.gzscore(_positive(x), axis=1),
    "entropy base": lambda st, x: st.entropy(_positive(x), base=2, axis=1),
    "differential_entropy": lambda st, x: st.differential_entropy(x, axis=1),
    "combine_pvalues": lambda st, x: st.combine_pvalues(1 / (1 + _positive(x[0]))).statistic,
}


@pytest.mark.parametrize("name", sorted(STATS))
def test_scipy_stats_statistics(name, backend):
    _, st = _scipy()
    check(_on(backend, lambda x: STATS[name](st, x)), _data(41, (3, 9)), backend, rtol=1e-9,
          atol=1e-11)


def _modules():
    _scipy()
    import scipy.fft
    import scipy.integrate
    import scipy.signal
    import scipy.special

    return scipy


SIGNALS = {
    "special.erfinv": lambda sp, x: sp.special.erfinv(xg.tanh(x) * 0.9),
    "special.xlog1py": lambda sp, x: sp.special.xlog1py(x, _positive(x)),
    "special.polygamma": lambda sp, x: sp.special.polygamma(1, _positive(x)),
    "fft.ifft": lambda sp, x: sp.fft.ifft(x).real,
    "fft.fft2": lambda sp, x: sp.fft.fft2(x).imag,
    "fft.hfft": lambda sp, x: sp.fft.hfft(x),
    "fft.ihfft": lambda sp, x: abs(sp.fft.ihfft(x)),
    "fft.rfftn": lambda sp, x: abs(sp.fft.rfftn(x)),
    "fft.irfftn": lambda sp, x: sp.fft.irfftn(x),
    "fft.ifftshift": lambda sp, x: sp.fft.ifftshift(x),
    "signal.hilbert": lambda sp, x: abs(sp.signal.hilbert(x)),
    "signal.resample": lambda sp, x: sp.signal.resample(x, 10, axis=1),
    "signal.fftconvolve axes": lambda sp, x: sp.signal.fftconvolve(x, x[:1, :3], axes=1),
    "signal.convolve fft": lambda sp, x: sp.signal.convolve(x, x[:2, :2], method="fft"),
    "integrate.trapezoid x=": lambda sp, x: sp.integrate.trapezoid(
        x[1], x=xg.cumulative_sum(_positive(x[0])) if isinstance(x, xg.Tensor)
        else np.cumsum(_positive(x[0]))),
}


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_scipy_special_fft_signal(name, backend):
    sp = _modules()
    check(_on(backend, lambda x: SIGNALS[name](sp, x)), _data(43, (3, 7)), backend, rtol=1e-9,
          atol=1e-11)


def test_scipy_integrate_samples(backend):
    # cumulative_simpson's default dx=1.0 becomes xp.asarray(1.0), float32 on xpgrad (NumPy:
    # float64), so its float64 samples come out at float32 precision: sample points are given
    sp = _modules()
    (y,) = _data(47, (3, 5))
    check(_on(backend, lambda y: sp.integrate.romb(y, axis=1)), [y], backend)
    points = np.linspace(0.0, 2.0, 5)
    check(_on(backend, lambda y: sp.integrate.cumulative_simpson(
        y, x=xg.asarray(points, backend=backend) if isinstance(y, xg.Tensor) else points)),
        [y], backend)


# --------------------------------------------- SciPy's elementwise iterative methods (1.15+)

def _iterative():
    _scipy()
    import scipy.differentiate
    import scipy.integrate
    import scipy.optimize.elementwise

    return scipy


ITERATIVE = {
    # the integral of 1 / (1 + a t^2) over [0, 1], a by a: arctan(sqrt(a)) / sqrt(a)
    "integrate.tanhsinh": lambda sp, a: sp.integrate.tanhsinh(
        lambda t, a: 1 / (1 + a * t * t), a * 0.0, a * 0.0 + 1.0, args=(a,)).integral,
    "integrate.nsum": lambda sp, a: sp.integrate.nsum(
        lambda k, a: 1 / (k + a) ** 2, a * 0.0, a * 0.0 + 50.0, args=(a,)).sum,
    "differentiate.derivative": lambda sp, a: sp.differentiate.derivative(
        lambda t, a: a * t ** 3, a * 0.0 + 0.7, args=(a,)).df,
    "differentiate.jacobian": lambda sp, a: sp.differentiate.jacobian(
        lambda t: t ** 3, a).df,
    # the cube root of a, its gradient 1 / (3 a^(2/3)) through the bracketing iterations
    "optimize.elementwise.find_root": lambda sp, a: sp.optimize.elementwise.find_root(
        lambda t, a: t ** 3 - a, (a * 0.0, a * 0.0 + 5.0), args=(a,)).x,
    "optimize.elementwise.find_minimum": lambda sp, a: sp.optimize.elementwise.find_minimum(
        lambda t, a: (t - a) ** 2, (a * 0.0 - 5.0, a * 0.0 + 0.1, a * 0.0 + 5.0),
        args=(a,)).x,
    "optimize.elementwise.bracket_root": lambda sp, a: sp.optimize.elementwise.bracket_root(
        lambda t, a: t - a, a * 0.0, args=(a,)).bracket[1],
}


@pytest.mark.parametrize("name", sorted(ITERATIVE))
def test_scipy_iterative_methods_differentiate_through_their_iterations(name, backend):
    sp = _iterative()
    (a,) = _data(53, (4,), positive=True)
    check(_on(backend, lambda a: ITERATIVE[name](sp, a)), [a], backend, rtol=1e-9, atol=1e-11)


def test_scipy_find_root_gradient_is_the_implicit_one():
    sp = _iterative()
    (a,) = _data(59, (4,), positive=True)
    x = xg.asarray(a)
    with xg.GradientTape() as tape:
        tape.watch(x)
        root = ITERATIVE["optimize.elementwise.find_root"](sp, x)
        total = xg.sum(root)
    np.testing.assert_allclose(root.numpy(), np.cbrt(a), rtol=1e-12)
    grad = tape.gradient(total, x)
    np.testing.assert_allclose(grad.numpy(), 1 / (3 * np.cbrt(a) ** 2), rtol=1e-9)


def test_scipy_cubature(backend):
    sp = _iterative()

    def f(a):
        lower = a[:1] * 0.0
        return sp.integrate.cubature(lambda t, a: a / (1 + t * t), lower, lower + 1.0,
                                     args=(a,)).estimate

    check(_on(backend, f), _data(61, (3,), positive=True), backend, rtol=1e-9, atol=1e-11)


def _hessian_case():
    """SciPy's ``differentiate.hessian`` of ``t0^3 t1 + t2^2 t0`` at three points, a random
    cotangent for its 3x3 result, and the exact vector-Jacobian product of that result from
    the function's third derivatives."""
    sp = _iterative()
    (a,) = _data(53, (3,), positive=True)
    cotangent = np.random.default_rng(0).standard_normal((3, 3))

    def hessian(t):
        return sp.differentiate.hessian(lambda t: t[0] ** 3 * t[1] + t[2] ** 2 * t[0], t).ddf

    c, (t0, t1, _) = cotangent, a
    exact = np.array([6 * t1 * c[0, 0] + 6 * t0 * (c[0, 1] + c[1, 0]) + 2 * c[2, 2],
                      6 * t0 * c[0, 0], 2 * (c[0, 2] + c[2, 0])])
    return sp, a, cotangent, hessian, exact


def test_scipy_hessian_gradient_is_the_exact_one():
    # through SciPy's iterations the vjp is that of its finite-difference formula, which is
    # exact for this polynomial; central differences of the result agree at a step of 1e-3
    # (at 1e-6 they do not: next test)
    _, a, cotangent, hessian, exact = _hessian_case()
    x = xg.asarray(a)
    out, pullback = xg.vjp(hessian, x)
    (grad,) = pullback(xg.asarray(cotangent))
    np.testing.assert_allclose(grad.numpy(), exact, rtol=1e-9, atol=1e-9)
    numeric = xg.testing.numerical_vjp(hessian, [x], xg.asarray(cotangent), 1e-3)[0]
    np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-7, atol=1e-7)


def test_scipy_hessian_is_not_smooth_at_a_small_step():
    # where an entry of the Hessian is 0, SciPy's relative tolerance is never met and it stops
    # when its error estimate stops falling: a number of iterations (nfev) that rounding
    # decides and that changes with x at 1e-6, each leaving a different 1e-11 error. Central
    # differences with check_grads' step 1e-6 then see jumps of ~1e-5 that are SciPy's, not a
    # wrong gradient (the previous test)
    sp, a, cotangent, hessian, exact = _hessian_case()
    nfev = [sp.differentiate.hessian(lambda t: t[0] ** 3 * t[1] + t[2] ** 2 * t[0],
                                     a + d).nfev[1, 1] for d in (-1e-6, 0.0, 1e-6)]
    assert len({int(n) for n in nfev}) > 1
    numeric = xg.testing.numerical_vjp(hessian, [xg.asarray(a)], xg.asarray(cotangent),
                                       1e-6)[0]
    assert not np.allclose(numeric, exact, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ what does not work, and why

def test_scipy_numpy_code_takes_tensor_dtypes_off_a_tape(backend):
    # lfilter_zi runs linalg.companion's NumPy code: np.atleast_1d returns a Tensor (NumPy
    # dispatch) whose dtype then goes to np.zeros(dtype=...), which DType.__numpy_dtype__ allows
    if np.lib.NumpyVersion(np.__version__) < "2.4.0":
        pytest.skip("NumPy reads __numpy_dtype__ from 2.4 on")
    sp = _modules()
    b, a = [0.5, 0.3, 0.2], [1.0, -0.4, 0.1]
    expected = sp.signal.lfilter_zi(np.asarray(b), np.asarray(a))
    tb, ta = (xg.asarray(v, dtype=xg.float64, backend=backend) for v in (b, a))
    lfilter_zi = _on(backend, sp.signal.lfilter_zi)
    np.testing.assert_allclose(np.asarray(lfilter_zi(tb, ta)), expected, rtol=1e-12)
    with xg.GradientTape() as tape:
        tape.watch(ta)
        with pytest.raises(TypeError, match="cut it from the tape"):
            lfilter_zi(tb, ta)


def test_scipy_oaconvolve_writes_its_overlaps_through_views(backend):
    # oaconvolve's overlap-add writes the overlaps into a slice of a transposed slice of its
    # result (ret_overpart += overpart) and reads the result afterwards: right only where the
    # slice is a view that writes through (xpgrad/views.py). Values as on NumPy, gradients
    # as finite differences say.
    sp = _modules()
    a, b = _data(67, (50, 3), (4, 3))
    f = lambda x, y: sp.signal.oaconvolve(x, y, axes=0)  # noqa: E731
    out = check(_on(backend, f), [a, b], backend, reference=f, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), sp.signal.fftconvolve(a, b, axes=0), rtol=1e-10,
                               atol=1e-12)


def test_scipy_vectorized_filter_fills_its_output_through_views():
    _modules()
    import scipy.ndimage

    if not hasattr(scipy.ndimage, "vectorized_filter"):
        pytest.skip("scipy.ndimage.vectorized_filter is SciPy 1.16's")
    (a,) = _data(69, (6, 7))
    expected = np.zeros_like(a)
    scipy.ndimage.vectorized_filter(a, np.mean, size=3, output=expected)
    out = xg.zeros((6, 7), dtype=xg.float64)
    scipy.ndimage.vectorized_filter(xg.asarray(a), xg.mean, size=3, output=out)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_scipy_oaconvolve_of_a_long_signal_equals_numpys():
    sp = _modules()
    a, b = _data(68, (20000,), (300,))
    np.testing.assert_allclose(sp.signal.oaconvolve(xg.asarray(a), xg.asarray(b)).numpy(),
                               sp.signal.oaconvolve(a, b), rtol=1e-10, atol=1e-10)
