"""xg.distributions' draws: rsample's gradients against finite differences with the same noise
(a fixed seed), sampling statistics at large n within a few standard errors, shapes and dtypes,
reproducibility through ``rng=``, and the numba backend against numpy."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

D = xg.distributions
R = np.random.default_rng(11)
F64 = xg.float64


def _a(x):
    return xg.asarray(np.asarray(x, dtype=np.float64))


# -- rsample: the pathwise gradient, against finite differences with the same noise -----------
RSAMPLE = {
    "normal": lambda a, b: D.Normal(a, b),
    "laplace": lambda a, b: D.Laplace(a, b),
    "exponential": lambda a, b: D.Exponential(b),
    "uniform": lambda a, b: D.Uniform(a, a + b),
    "mvn_scale_tril": lambda a, b: D.MultivariateNormal(
        a, scale_tril=xg.tril(b * 0.3) + xg.eye(2, dtype=F64) * b),
    "mvn_covariance": lambda a, b: D.MultivariateNormal(
        a, covariance_matrix=b @ xg.matrix_transpose(b) + 0.5 * xg.eye(2, dtype=F64)),
    "independent": lambda a, b: D.Independent(D.Normal(a, b), 2),
}


@pytest.mark.parametrize("name", RSAMPLE)
def test_rsample_gradients_match_finite_differences(name):
    a, b = _a(R.standard_normal((2, 2))), _a(R.uniform(0.5, 2, (2, 2)))
    assert RSAMPLE[name](a, b).has_rsample
    check_grads(lambda a, b: RSAMPLE[name](a, b).rsample((3,), rng=5), [a, b])


def test_rsample_is_loc_plus_scale_times_the_generators_noise():
    loc, scale = _a([1.0, -2.0]), _a([0.5, 3.0])
    with xg.GradientTape() as tape:
        tape.watch([loc, scale])
        z = D.Normal(loc, scale).rsample((4,), rng=xg.random.default_rng(3))
        total = xg.sum(z)
    dloc, dscale = tape.gradient(total, [loc, scale])
    eps = xg.random.default_rng(3).standard_normal((4, 2), dtype=F64).numpy()
    np.testing.assert_allclose(z.numpy(), 1.0 * np.array([1.0, -2.0]) + eps * [0.5, 3.0])
    np.testing.assert_allclose(dloc.numpy(), [4.0, 4.0])
    np.testing.assert_allclose(dscale.numpy(), eps.sum(0))


@pytest.mark.filterwarnings("ignore:.*the target depends on no tensor")
def test_sample_is_cut_from_the_tape():
    loc = xg.Variable(xg.asarray([0.0, 1.0]), name="loc")
    with xg.GradientTape() as tape:
        s = xg.sum(D.Normal(loc, 1.0).sample((3,), rng=0))
    assert tape.gradient(s, [loc]) == [None]


def test_discrete_families_have_no_rsample():
    for d in (D.Bernoulli(probs=0.5), D.Categorical(logits=xg.zeros(3))):
        assert not d.has_rsample
        with pytest.raises(NotImplementedError, match="no reparameterized sampler"):
            d.rsample()


# -- statistics of large samples --------------------------------------------------------------
N = 200_000
CONTINUOUS = {
    "normal": D.Normal(_a([-1.0, 2.0]), _a([0.5, 3.0])),
    "laplace": D.Laplace(_a([0.5, -3.0]), _a([1.0, 0.2])),
    "exponential": D.Exponential(_a([0.5, 4.0])),
    "uniform": D.Uniform(_a([-1.0, 2.0]), _a([3.0, 2.5])),
    "bernoulli": D.Bernoulli(probs=_a([0.1, 0.5, 0.97])),
    "bernoulli_logits": D.Bernoulli(logits=_a([-2.0, 3.0])),
    "independent": D.Independent(D.Normal(_a([[1.0, 2.0]]), _a([[0.1, 2.0]])), 1),
}


@pytest.mark.parametrize("name", CONTINUOUS)
def test_sample_moments_within_standard_errors(name):
    d = CONTINUOUS[name]
    x = d.sample((N,), rng=2024).numpy()
    assert x.shape == (N,) + d.batch_shape + d.event_shape
    mean, var = d.mean.numpy(), d.variance.numpy()
    se_mean = np.sqrt(var / N)
    assert np.all(np.abs(x.mean(0) - mean) < 5 * se_mean), (x.mean(0), mean)
    squares = (x - mean) ** 2                 # about the true mean: unbiased for the variance
    se_var = np.sqrt(squares.var(0) / N)
    assert np.all(np.abs(squares.mean(0) - var) < 5 * se_var + 1e-12), (squares.mean(0), var)
    assert np.all(np.isin(x, [0.0, 1.0])) == name.startswith("bernoulli")


def test_sample_support():
    assert D.Exponential(2.0).sample((1000,), rng=0).numpy().min() >= 0
    u = D.Uniform(-1.0, 2.0).sample((1000,), rng=0).numpy()
    assert u.min() >= -1 and u.max() < 2


def test_categorical_frequencies_within_standard_errors():
    p = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    d = D.Categorical(probs=_a(p))
    x = d.sample((N,), rng=1).numpy()
    assert x.shape == (N, 2) and x.dtype == np.int64
    freq = np.stack([(x == k).mean(0) for k in range(4)], axis=-1)
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / N) + 1e-12)
    assert freq[0, 1] == 0.0                                   # a zero-probability class


def test_mvn_sample_mean_and_covariance_within_standard_errors():
    cov = np.array([[2.0, 0.8, 0.1], [0.8, 1.0, -0.3], [0.1, -0.3, 0.5]])
    loc = np.array([1.0, -1.0, 0.0])
    d = D.MultivariateNormal(_a(loc), covariance_matrix=_a(cov))
    x = d.sample((N,), rng=3).numpy()
    assert x.shape == (N, 3)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(x.mean(0) - loc) < 5 * sd / np.sqrt(N))
    se_cov = np.sqrt((cov ** 2 + np.outer(np.diag(cov), np.diag(cov))) / N)
    assert np.all(np.abs(np.cov(x.T) - cov) < 5 * se_cov)
    np.testing.assert_allclose(d.variance.numpy(), np.diag(cov))
    np.testing.assert_allclose(d.covariance_matrix.numpy(), cov, atol=1e-12)


# -- shapes, dtypes, generators ---------------------------------------------------------------
def test_shapes_and_dtypes():
    d = D.Normal(0.0, xg.ones((2, 3)))
    assert d.sample().shape == (2, 3) and d.sample(4).shape == (4, 2, 3)
    assert d.rsample((5, 1)).shape == (5, 1, 2, 3) and d.sample().dtype == xg.float32
    assert D.Normal(np.zeros(2), 1.0).sample().dtype == xg.float64     # NumPy's float64 kept
    assert D.Normal([0.0, 1.0], 1.0).sample().dtype == xg.float32      # Python floats: float32
    assert D.Bernoulli(probs=np.full(2, 0.5)).sample().dtype == xg.float64
    m = D.MultivariateNormal(xg.zeros((4, 1, 3)), scale_tril=xg.eye(3))
    assert (m.batch_shape, m.event_shape, m.sample((2,)).shape) == ((4, 1), (3,), (2, 4, 1, 3))
    assert m.log_prob(xg.zeros((5, 4, 1, 3))).shape == (5, 4, 1)
    assert m.entropy().shape == (4, 1) and m.scale_tril.shape == (4, 1, 3, 3)


def test_rng_seed_and_generator_reproduce_draws():
    d = D.Laplace(xg.zeros(3), 1.0)
    assert d.sample(rng=4).tolist() == d.sample(rng=4).tolist()
    g = xg.random.default_rng(4)
    first, second = d.sample(rng=g), d.sample(rng=g)
    assert first.tolist() == d.sample(rng=4).tolist() and first.tolist() != second.tolist()
    g.set_state(xg.random.default_rng(4).get_state())
    assert d.sample(rng=g).tolist() == first.tolist()


# -- numba against numpy ----------------------------------------------------------------------
def _families(backend, dtype):
    def a(x):
        return xg.asarray(np.asarray(x), dtype=dtype, backend=backend)
    tril = a([[1.0, 0.0], [0.4, 0.7]])
    return {
        "normal": (D.Normal(a([0.1, -1.0]), a([1.0, 2.0])), D.Normal(a(0.3), a(1.5))),
        "laplace": (D.Laplace(a([0.1, -1.0]), a([1.0, 2.0])), D.Laplace(a(0.0), a(0.5))),
        "exponential": (D.Exponential(a([0.5, 2.0])), D.Exponential(a(1.0))),
        "uniform": (D.Uniform(a([-1.0, 0.0]), a([1.0, 0.5])), D.Uniform(a(-2.0), a(2.0))),
        "bernoulli": (D.Bernoulli(probs=a([0.2, 0.7])), D.Bernoulli(logits=a([0.5, -1.0]))),
        "categorical": (D.Categorical(logits=a([[0.1, 0.5, -1.0]])),
                        D.Categorical(probs=a([0.2, 0.3, 0.5]))),
        "mvn": (D.MultivariateNormal(a([0.1, 0.2]), scale_tril=tril),
                D.MultivariateNormal(a([0.0, 0.0]), covariance_matrix=a([[2.0, 0.3],
                                                                         [0.3, 1.0]]))),
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["normal", "laplace", "exponential", "uniform", "bernoulli",
                                  "categorical", "mvn"])
def test_numba_equals_numpy(name, dtype):
    pytest.importorskip("numba")
    out = {}
    for backend in ("numpy", "numba"):
        p, q = _families(backend, dtype)[name]
        x = p.sample((50,), rng=9)
        assert x.backend.name == backend
        params = [v for v in vars(p).values() if isinstance(v, xg.Tensor) and v.ndim >= 1]
        with xg.GradientTape() as tape:
            tape.watch(params)
            lp = p.log_prob(x)
            kl = D.kl_divergence(p, q)
            total = xg.sum(lp) + xg.sum(kl) + xg.sum(p.entropy())
        grads = tape.gradient(total, params)
        out[backend] = [x.numpy(), lp.numpy(), kl.numpy()] + [g.numpy() for g in grads]
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_array_equal(out["numba"][0], out["numpy"][0])     # the same draws
    for got, want in zip(out["numba"][1:], out["numpy"][1:]):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_a_generator_of_another_backend_draws_then_moves():
    pytest.importorskip("numba")
    d = D.Normal(xg.zeros(3, backend="numba"), 1.0)
    x = d.sample(rng=xg.random.default_rng(0, backend="numpy"))
    assert x.backend.name == "numba"
    assert x.tolist() == D.Normal(xg.zeros(3), 1.0).sample(rng=0).tolist()
