"""xg.nn.init's draws against theory: mean and variance within K standard errors of the
estimator (computed from the sample size and the distribution's kurtosis), bounds of uniform and
truncated draws exactly, on the numpy and numba backends in float32 and float64; the
variance-scaling schemes against PyTorch's on the transposed layout; orthogonality."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import xpgrad as xg
from xpgrad.nn import init

K = 5.0                                    # standard errors a sample statistic may be off
BACKENDS = ("numpy", "numba")
DTYPES = ("float32", "float64")
SHAPE = (3, 160, 250)                      # 120000 draws; fan_in 480, fan_out 750
FAN_IN, FAN_OUT = 480, 750
KURT = {"uniform": 9 / 5, "normal": 3.0}   # E[x^4] / var^2 of the centred distribution


def _truncnorm(lower, upper):
    """(variance, kurtosis) of N(0, 1) cut to [lower, upper], from SciPy."""
    _, var, _, excess = stats.truncnorm.stats(lower, upper, moments="mvsk")
    return float(var), float(excess) + 3.0


def _check_moments(x, mean, var, kurtosis):
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) <= K * math.sqrt(var / n), (x.mean(), mean)
    # the sample variance's standard error: var * sqrt((kurtosis - 1) / n)
    assert abs(x.var() - var) <= K * var * math.sqrt((kurtosis - 1) / n), (x.var(), var)


def _scheme_cases():
    avg = (FAN_IN + FAN_OUT) / 2
    tvar, tkurt = _truncnorm(-2.0, 2.0)
    return [  # (initializer, variance, kurtosis, bound or None)
        (init.glorot_uniform, 1 / avg, KURT["uniform"], math.sqrt(3 / avg)),
        (init.glorot_normal, 1 / avg, KURT["normal"], None),
        (init.he_uniform, 2 / FAN_IN, KURT["uniform"], math.sqrt(6 / FAN_IN)),
        (init.he_normal, 2 / FAN_IN, KURT["normal"], None),
        (init.lecun_uniform, 1 / FAN_IN, KURT["uniform"], math.sqrt(3 / FAN_IN)),
        (init.lecun_normal, 1 / FAN_IN, KURT["normal"], None),
        (init.torch_linear_default, 1 / (3 * FAN_IN), KURT["uniform"], 1 / math.sqrt(FAN_IN)),
        (init.variance_scaling(0.5, "fan_out", "uniform"), 0.5 / FAN_OUT, KURT["uniform"],
         math.sqrt(1.5 / FAN_OUT)),
        (init.variance_scaling(2.0, "fan_avg", "untruncated_normal"), 2 / avg, KURT["normal"],
         None),
        # Keras / JAX: the corrected standard deviation makes the variance scale / n again
        (init.variance_scaling(2.0, "fan_in", "truncated_normal"), 2 / FAN_IN, tkurt,
         2 * math.sqrt(2 / FAN_IN) / init.TRUNCATED_STDDEV),
        (init.variance_scaling(3.0, "fan_out", "truncated_normal"), 3 / FAN_OUT, tkurt,
         2 * math.sqrt(3 / FAN_OUT) / init.TRUNCATED_STDDEV),
        (init.uniform(-0.3, 0.1), 0.4 ** 2 / 12, KURT["uniform"], (-0.3, 0.1)),
        (init.normal(0.5, 0.2), 0.04, KURT["normal"], None),
        (init.truncated_normal(0.0, 0.02), 0.02 ** 2 * tvar, tkurt, 0.04),
    ]


CASES = _scheme_cases()
MEANS = {id(CASES[-3][0]): -0.1, id(CASES[-2][0]): 0.5}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].__name__)
def test_moments_and_bounds_match_theory(case, dtype, backend):
    fn, var, kurtosis, bound = case
    w = fn(xg.random.default_rng(11, backend=backend), SHAPE, dtype)
    assert w.shape == SHAPE and w.dtype == getattr(xg, dtype) and w.backend.name == backend
    x = w.numpy()
    _check_moments(x, MEANS.get(id(fn), 0.0), var, kurtosis)
    if bound is not None:
        low, high = bound if isinstance(bound, tuple) else (-bound, bound)
        np_dtype = np.dtype(dtype)
        assert x.min() >= np_dtype.type(low) and x.max() <= np_dtype.type(high)
        # the draws fill the interval (no narrower scale): within 1% of each end
        span = high - low
        assert x.min() < low + 0.01 * span and x.max() > high - 0.01 * span


def test_the_truncation_constant_is_the_cut_normals_standard_deviation():
    var, _ = _truncnorm(-2.0, 2.0)
    assert init.TRUNCATED_STDDEV == pytest.approx(math.sqrt(var), rel=1e-15)


@pytest.mark.parametrize("lower, upper", [(-2.0, 2.0), (-0.5, 1.5), (1.0, 4.0), (-6.0, -3.0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_truncated_normal_any_interval(lower, upper, dtype):
    """Asymmetric and one-sided intervals, deep in a tail too, against SciPy's truncnorm."""
    mean, stddev = 1.0, 0.5
    x = init.truncated_normal(mean, stddev, lower, upper)(7, (200, 300), dtype).numpy()
    m, v = stats.truncnorm.stats(lower, upper, moments="mv")
    _, kurtosis = _truncnorm(lower, upper)
    _check_moments(x, mean + stddev * float(m), stddev ** 2 * float(v), kurtosis)
    t = np.dtype(dtype).type
    assert x.min() >= t(mean + lower * stddev) and x.max() <= t(mean + upper * stddev)


@pytest.mark.parametrize("fn", [init.zeros, init.ones, init.constant(-2.5)],
                         ids=["zeros", "ones", "constant"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_constant_fills(fn, backend):
    w = fn(xg.random.default_rng(0, backend=backend), (2, 3, 4), "float64")
    value = {"zeros": 0.0, "ones": 1.0}.get(fn.__name__, -2.5)
    assert w.backend.name == backend and w.dtype == xg.float64
    assert np.array_equal(w.numpy(), np.full((2, 3, 4), value))


# -- PyTorch on the transposed layout --------------------------------------------------------
def _torch_cases():
    torch = pytest.importorskip("torch")
    ti = torch.nn.init
    return [
        (init.glorot_uniform, ti.xavier_uniform_), (init.glorot_normal, ti.xavier_normal_),
        (init.he_uniform, ti.kaiming_uniform_), (init.he_normal, ti.kaiming_normal_),
        (init.torch_linear_default, lambda t: ti.kaiming_uniform_(t, a=math.sqrt(5))),
    ]


@pytest.mark.parametrize("shape", [(300, 200), (3, 3, 40, 60)])
def test_schemes_match_pytorch_on_the_transposed_weight(shape):
    """Each scheme's sample variance equals PyTorch's counterpart on the weight transposed to
    PyTorch's (out, in, *receptive_field): the fans are read the same way."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    torch_shape = (shape[-1], shape[-2], *shape[:-2])
    for ours, theirs in _torch_cases():
        x = ours(xg.random.default_rng(1), shape, "float64").numpy().ravel()
        y = theirs(torch.empty(torch_shape, dtype=torch.float64)).numpy().ravel()
        kurtosis = KURT["uniform" if "uniform" in ours.__name__ or "linear" in ours.__name__
                        else "normal"]
        se = y.var() * math.sqrt((kurtosis - 1) / y.size)
        assert abs(x.var() - y.var()) <= K * math.sqrt(2) * se, ours.__name__
        if kurtosis == KURT["uniform"]:             # the same interval
            assert abs(x).max() <= abs(y).max() * 1.01 and abs(y).max() <= abs(x).max() * 1.01


@pytest.mark.parametrize("shape", [(2, 3), (4, 2, 3), (5, 4, 2, 3), (1, 1), (7, 1, 9)])
def test_fans_are_pytorchs_of_the_transposed_weight(shape):
    torch = pytest.importorskip("torch")
    torch_shape = (shape[-1], shape[-2], *shape[:-2])
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(torch_shape))
    assert init.compute_fans(shape) == expected
