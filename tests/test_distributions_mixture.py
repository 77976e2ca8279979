"""``MixtureSameFamily`` against ``torch.distributions.MixtureSameFamily`` in float64: log_prob,
mean, variance and cdf, their values and gradients with respect to the mixture logits (or
probs), every component parameter and the value, for scalar components, vector components
(``Independent``) and batches; finite differences; draws (shape, moments, the tapes); expand;
and the arguments it refuses, each named."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
td = torch.distributions
D = xg.distributions
R = np.random.default_rng(5)


def _normal_mixture(m, logits, loc, scale):
    return m.MixtureSameFamily(m.Categorical(logits=logits), m.Normal(loc, scale))


def _vector_mixture(m, logits, loc, scale):
    return m.MixtureSameFamily(m.Categorical(logits=logits),
                               m.Independent(m.Normal(loc, scale), 1))


# name -> (maker(module, *params), parameters, a value, methods beyond log_prob)
CASES = {
    "scalar": (_normal_mixture, [R.standard_normal(4), R.standard_normal(4),
                                 R.uniform(0.3, 2, 4)], R.standard_normal(6) * 2,
               "mean variance cdf"),
    "batch": (_normal_mixture, [R.standard_normal((3, 4)), R.standard_normal((3, 4)),
                                R.uniform(0.3, 2, (3, 4))], R.standard_normal((5, 3)) * 2,
              "mean variance cdf"),
    "broadcast_weights": (_normal_mixture, [R.standard_normal(4), R.standard_normal((3, 4)),
                                            R.uniform(0.3, 2, (3, 4))],
                          R.standard_normal((2, 3)), "mean variance cdf"),
    "vectors": (_vector_mixture, [R.standard_normal((2, 3)), R.standard_normal((2, 3, 5)),
                                  R.uniform(0.3, 2, (2, 3, 5))], R.standard_normal((4, 2, 5)),
                "mean variance"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("method", ["log_prob", "mean", "variance", "cdf"])
def test_values_and_gradients_match_torch(case, method):
    make, params, value, methods = CASES[case]
    if method != "log_prob" and method not in methods.split():
        pytest.skip(f"{case} has no {method} to compare")

    def run(m):
        def f(*a):
            d = make(m, *a[:-1])
            return getattr(d, method)(a[-1]) if method in ("log_prob", "cdf") \
                else getattr(d, method)
        return f

    assert_matches_torch(run(D), run(td), params + [value], rtol=1e-10, atol=1e-12)


def test_probs_weights_match_torch():
    probs, loc, scale = R.dirichlet(np.ones(3), 2), R.standard_normal((2, 3)), R.uniform(1, 2, 3)
    value = R.standard_normal((4, 2))
    def run(m):
        return lambda p, l, s, x: m.MixtureSameFamily(m.Categorical(probs=p),
                                                      m.Normal(l, s)).log_prob(x)

    assert_matches_torch(run(D), run(td), [probs, loc, scale, value], rtol=1e-10, atol=1e-12)


def test_gradients_match_finite_differences_to_second_order():
    logits, loc, scale = R.standard_normal((2, 3)), R.standard_normal((2, 3)), R.uniform(0.5, 2, 3)
    value = R.standard_normal((4, 2))
    check_grads(lambda a, b, c, x: _normal_mixture(D, a, b, c).log_prob(x),
                [xg.asarray(v) for v in (logits, loc, scale, value)], order=2)


def test_draws_have_the_shape_and_moments_and_are_cut_from_the_tapes():
    loc = xg.Variable(np.array([[-3.0, 0.0, 4.0], [1.0, 2.0, 3.0]]), name="loc")
    mix = D.MixtureSameFamily(D.Categorical(logits=xg.asarray(np.log([[0.2, 0.3, 0.5]]))),
                              D.Normal(loc, 0.5))
    with xg.GradientTape() as tape:
        draws = mix.sample((40000,), rng=0)
        total = xg.sum(draws)
    assert draws.shape == (40000, 2)
    with pytest.warns(RuntimeWarning):                 # the draw depends on nothing watched
        assert tape.gradient(total, [loc]) == [None]
    np.testing.assert_allclose(np.mean(draws.numpy(), axis=0), mix.mean.numpy(), atol=0.05)
    np.testing.assert_allclose(np.var(draws.numpy(), axis=0), mix.variance.numpy(), rtol=0.03)
    again = mix.sample((40000,), rng=0).numpy()
    np.testing.assert_array_equal(draws.numpy(), again)


def test_vector_draws_take_each_vector_from_one_component():
    loc = np.stack([np.full(5, -10.0), np.full(5, 10.0)])           # (K=2, D=5)
    mix = _vector_mixture(D, xg.zeros(2, dtype="float64"), loc, 0.01)
    draws = mix.sample((200,), rng=1).numpy()
    assert draws.shape == (200, 5) and mix.event_shape == (5,)
    component = np.sign(draws[:, 0])
    assert np.all(np.sign(draws) == component[:, None])             # no mixing inside a draw
    assert 60 < np.sum(component > 0) < 140


def test_expand_matches_torch():
    logits, loc, scale = R.standard_normal(3), R.standard_normal(3), R.uniform(0.5, 2, 3)
    value = R.standard_normal((2, 4))
    ours = _normal_mixture(D, xg.asarray(logits), xg.asarray(loc), xg.asarray(scale)).expand((4,))
    theirs = _normal_mixture(td, *map(torch.tensor, (logits, loc, scale))).expand((4,))
    assert ours.batch_shape == tuple(theirs.batch_shape) == (4,)
    np.testing.assert_allclose(ours.log_prob(xg.asarray(value)).numpy(),
                               theirs.log_prob(torch.tensor(value)).numpy(), rtol=1e-12)
    assert ours.sample((3,), rng=0).shape == (3, 4)


def test_bad_arguments_are_named():
    normal = D.Normal(xg.zeros(3), 1.0)
    with pytest.raises(TypeError, match="mixture_distribution must be an xg.distributions.Categ"):
        D.MixtureSameFamily(D.Normal(0.0, 1.0), normal)
    with pytest.raises(TypeError, match="component_distribution must be"):
        D.MixtureSameFamily(D.Categorical(logits=xg.zeros(3)), "normal")
    with pytest.raises(ValueError, match=r"mixture_distribution has 2 components but "
                                         r"component_distribution.batch_shape\[-1\] is 3"):
        D.MixtureSameFamily(D.Categorical(logits=xg.zeros(2)), normal)
    with pytest.raises(ValueError, match="needs a batch axis for the components"):
        D.MixtureSameFamily(D.Categorical(logits=xg.zeros(1)), D.Normal(0.0, 1.0))
    with pytest.raises(ValueError, match=r"batch_shape \(2,\) does not broadcast"):
        D.MixtureSameFamily(D.Categorical(logits=xg.zeros((2, 3))), normal)
    mix = D.MixtureSameFamily(D.Categorical(logits=xg.zeros(3)), D.HalfNormal(xg.ones(3)))
    with pytest.raises(ValueError, match="value"):
        mix.log_prob(xg.asarray([-1.0]))                            # outside the support
    with pytest.raises(NotImplementedError, match="rsample"):
        mix.rsample()


def test_a_mixture_density_network_trains_through_it():
    """An MDN's head: logits, means and log-scales from one dense layer; the negative
    log-likelihood falls, and its gradient is the hand-written logsumexp's."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 1))
    y = np.where(rng.random((64, 1)) < 0.5, np.sin(3 * x), -np.sin(3 * x)) + 0.05 * rng.normal(
        size=(64, 1))
    head = xg.nn.Sequential(xg.nn.Linear(1, 16, rng=0, dtype="float64"), xg.nn.Tanh(),
                            xg.nn.Linear(16, 6, rng=1, dtype="float64"))
    opt = xg.optim.Adam(learning_rate=2e-2)
    losses = []
    for step in range(60):
        with xg.GradientTape(persistent=True) as tape:
            out = head(xg.asarray(x))
            logits, loc, log_scale = out[:, :2], out[:, 2:4], out[:, 4:]
            mix = D.MixtureSameFamily(D.Categorical(logits=logits),
                                      D.Normal(loc, xg.exp(log_scale)))
            nll = -xg.mean(mix.log_prob(xg.asarray(y[:, 0])))
            by_hand = -xg.mean(xg.logsumexp(
                xg.nn.log_softmax(logits, axis=-1) - log_scale - 0.5 * np.log(2 * np.pi)
                - 0.5 * ((xg.asarray(y) - loc) / xg.exp(log_scale)) ** 2, axis=-1))
        variables = head.trainable_variables
        grads = tape.gradient(nll, variables)
        if step == 0:
            for g, h in zip(grads, tape.gradient(by_hand, variables)):
                np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-12, atol=1e-14)
        opt.apply_gradients(zip(grads, variables))
        losses.append(float(nll))
    assert losses[-1] < losses[0] - 0.5


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_traced_mixture_step_replays_the_eager_numbers(backend):
    from conftest import backend_report

    if not backend_report().get(backend, {}).get("available"):
        pytest.skip(f"backend {backend} is not available")
    rng = np.random.default_rng(1)
    x = xg.asarray(rng.uniform(-1, 1, (32, 1)), backend=backend)
    y = xg.asarray(np.sin(3 * x.numpy()[:, 0]), backend=backend)

    def trainer():
        head = xg.nn.MLP([1, 8, 9], activation="tanh", rng=0, dtype="float64", backend=backend)
        opt = xg.optim.Adam(learning_rate=1e-2)

        def step(x, y):
            with xg.GradientTape() as tape:
                logits, loc, log_scale = xg.unstack(xg.reshape(head(x), (32, 3, 3)), axis=1)
                mix = D.MixtureSameFamily(D.Categorical(logits=logits),
                                          D.Normal(loc, xg.exp(log_scale)))
                nll = -xg.mean(mix.log_prob(y))
            opt.apply_gradients(zip(tape.gradient(nll, head.trainable_variables),
                                    head.trainable_variables))
            return nll
        return step

    eager, compiled = trainer(), xg.function(trainer())
    for _ in range(4):
        assert compiled(x, y).item() == pytest.approx(eager(x, y).item(), rel=1e-13)
    assert compiled.trace_count == 1
