"""Distribution.expand on every family against torch.distributions (float64): the expanded
batch shape, log_prob / entropy / mean / variance and their gradients flowing back to the
original (unexpanded) parameters, sample shapes; errors for a batch_shape the current one does
not broadcast to."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
td = torch.distributions
D = xg.distributions
R = np.random.default_rng(3)


def _tril(k):
    return np.tril(R.standard_normal((k, k)) * 0.3, -1) + np.diag(R.uniform(0.8, 1.5, k))


def _spd(k):
    a = R.standard_normal((k, k))
    return a @ a.T + k * np.eye(k)


def _mvn(kind):
    return lambda m: (lambda loc, a: m.MultivariateNormal(loc, **{kind: a}))


# family -> (maker(module)(*parameters), parameters (batch (2, 3) or (3,)), new batch, value)
FAMILIES = {
    "normal": (lambda m: m.Normal, [R.standard_normal(3), R.uniform(0.5, 2, (2, 1))],
               (4, 2, 3), R.standard_normal((4, 2, 3))),
    "laplace": (lambda m: m.Laplace, [R.standard_normal((1, 3)), R.uniform(0.5, 2, 3)],
                (2, 3), R.standard_normal(3)),
    "exponential": (lambda m: m.Exponential, [R.uniform(0.5, 2, (2, 1))], (5, 2, 3),
                    R.uniform(0.1, 2, 3)),
    "uniform": (lambda m: m.Uniform, [R.uniform(-2, -1, 3), R.uniform(1, 2, 3)], (2, 3),
                R.uniform(-0.9, 0.9, (2, 3))),
    "bernoulli": (lambda m: (lambda p: m.Bernoulli(probs=p)), [R.uniform(0.1, 0.9, 3)],
                  (2, 3), (R.random((2, 3)) < 0.5) * 1.0),
    "bernoulli_logits": (lambda m: (lambda p: m.Bernoulli(logits=p)), [R.standard_normal(1)],
                         (4,), (R.random(4) < 0.5) * 1.0),
    "categorical": (lambda m: (lambda p: m.Categorical(logits=p)), [R.standard_normal((1, 4))],
                    (3, 2), R.integers(0, 4, (3, 2))),
    "categorical_probs": (lambda m: (lambda p: m.Categorical(probs=p)), [R.uniform(0.1, 1, 4)],
                          (3,), R.integers(0, 4, 3)),
    "mvn_scale_tril": (_mvn("scale_tril"), [R.standard_normal(3), _tril(3)], (2, 4),
                       R.standard_normal((2, 4, 3))),
    "mvn_covariance": (_mvn("covariance_matrix"), [R.standard_normal((1, 3)), _spd(3)], (2, 2),
                       R.standard_normal(3)),
    "mvn_precision": (_mvn("precision_matrix"), [R.standard_normal(3), _spd(3)], (2,),
                      R.standard_normal((2, 3))),
    "independent": (lambda m: (lambda loc, s: m.Independent(m.Normal(loc, s), 1)),
                    [R.standard_normal((1, 3)), R.uniform(0.5, 2, 3)], (4, 2),
                    R.standard_normal((4, 2, 3))),
    "gamma": (lambda m: m.Gamma, [R.uniform(0.5, 3, (2, 1)), R.uniform(0.5, 2, 3)], (4, 2, 3),
              R.uniform(0.1, 3, (4, 2, 3))),
    "chi2": (lambda m: m.Chi2, [R.uniform(0.5, 5, 3)], (2, 3), R.uniform(0.1, 5, 3)),
    "beta": (lambda m: m.Beta, [R.uniform(0.5, 3, 3), R.uniform(0.5, 3, (1, 3))], (2, 3),
             R.uniform(0.05, 0.95, (2, 3))),
    "dirichlet": (lambda m: m.Dirichlet, [R.uniform(0.5, 3, (1, 4))], (3, 2),
                  R.dirichlet(np.ones(4), (3, 2))),
    "lognormal": (lambda m: m.LogNormal, [R.standard_normal(3), R.uniform(0.5, 1.5, 3)],
                  (2, 3), R.uniform(0.2, 3, (2, 3))),
    "transformed_event": (lambda m: (lambda loc, a: m.TransformedDistribution(
        m.Normal(loc, 1.0), m.transforms.AffineTransform(0.0, a, event_dim=1))),
        [R.standard_normal(3), R.uniform(0.5, 2, 3)], (2,), R.standard_normal((2, 3))),
}
MOMENTS = {"mean": lambda d: d.mean, "variance": lambda d: d.variance,
           "entropy": lambda d: d.entropy()}


@pytest.mark.parametrize("family", FAMILIES)
def test_expand_matches_torch(family):
    maker, params, batch, value = FAMILIES[family]
    v = xg.asarray(value)
    assert_matches_torch(lambda *p: maker(D)(*p).expand(batch).log_prob(v),
                         lambda *p: maker(td)(*p).expand(batch).log_prob(torch.as_tensor(value)),
                         params)
    for name, get in MOMENTS.items():
        if family.startswith("categorical") and name != "entropy":
            continue                                       # NaN moments, as torch's
        if family.startswith("transformed") and name != "entropy" or \
                family == "transformed_event" and name == "entropy":
            continue                                       # torch has none either
        assert_matches_torch(lambda *p: get(maker(D)(*p).expand(batch)),
                             lambda *p: get(maker(td)(*p).expand(batch)), params)
    ours = maker(D)(*[xg.asarray(p) for p in params]).expand(batch)
    theirs = maker(td)(*[torch.as_tensor(p) for p in params]).expand(batch)
    assert ours.batch_shape == tuple(theirs.batch_shape) == batch
    assert ours.event_shape == tuple(theirs.event_shape)
    assert ours.sample((2,), rng=0).shape == tuple(theirs.sample((2,)).shape)


def test_expand_keeps_the_original_and_shares_its_parameters():
    loc = xg.Variable(xg.asarray([0.0, 1.0]), name="loc")
    with xg.GradientTape() as tape:
        d = D.Normal(loc, 1.0, validate_args=False)
        e = d.expand([3, 2])
        loss = xg.sum(e.log_prob(xg.zeros((3, 2))))
    assert d.batch_shape == (2,) and e.batch_shape == (3, 2) and e.loc.shape == (3, 2)
    plain = D.Normal(xg.asarray([0.0, 1.0]), 1.0)
    assert np.shares_memory(plain.expand((3, 2)).loc.numpy(), plain.loc.numpy())  # a view
    assert e._validate_args is False
    assert tape.gradient(loss, [loc])[0].tolist() == [0.0, -3.0]   # 3 copies of -(loc - 0)


def test_bad_batch_shapes_are_named():
    d = D.Normal(xg.zeros((2, 3)), 1.0)
    with pytest.raises(ValueError, match=r"Normal.expand: batch_shape \(3,\) is not one the "
                                         r"current batch_shape \(2, 3\) broadcasts to"):
        d.expand((3,))
    with pytest.raises(ValueError, match="broadcasts to"):
        d.expand((4, 3))
    with pytest.raises(TypeError, match="Normal.expand: batch_shape must be a tuple of ints"):
        d.expand((2, 3.0))
    with pytest.raises(TypeError, match="batch_shape must be a tuple of ints"):
        d.expand("23")
    with pytest.raises(ValueError, match="must not have negative entries"):
        d.expand((-1, 3))
    with pytest.raises(ValueError, match="Independent.expand"):
        D.Independent(d, 1).expand((3,))
