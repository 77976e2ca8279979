"""``xg.distributions.transform_to`` / ``biject_to`` (PyTorch's constraint registry) and
``SoftplusTransform``: PyTorch's transforms for each constraint, their values, inverses and
log-determinants against PyTorch's, gradients against finite differences in float64, and a
maximum-likelihood fit of constrained parameters that takes PyTorch's Adam steps."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("numpy_default")

D = xg.distributions
TD = torch.distributions
X = np.array([-30.0, -2.0, -0.1, 0.0, 1.5, 40.0])

PAIRS = {
    "real": (D.constraints.real, TD.constraints.real),
    "positive": (D.constraints.positive, TD.constraints.positive),
    "nonnegative": (D.constraints.nonnegative, TD.constraints.nonnegative),
    "unit_interval": (D.constraints.unit_interval, TD.constraints.unit_interval),
    "interval": (D.constraints.interval(-2.0, 3.0), TD.constraints.interval(-2.0, 3.0)),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("registry", ["transform_to", "biject_to"])
def test_each_constraint_gets_pytorchs_transform(name, registry):
    ours, theirs = (getattr(D, registry)(PAIRS[name][0]),
                    getattr(TD, registry)(PAIRS[name][1]))
    x, xt = xg.asarray(X), torch.tensor(X)
    y, yt = ours(x), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-15, atol=0)
    np.testing.assert_allclose(ours.log_abs_det_jacobian(x, y).numpy(),
                               theirs.log_abs_det_jacobian(xt, yt).numpy(), rtol=1e-12,
                               atol=1e-12)
    assert bool(np.all(PAIRS[name][0].check(y.numpy())))
    inner = slice(1, -1)                             # the ends round onto the bounds
    np.testing.assert_allclose(ours.inv(y).numpy()[inner], X[inner], rtol=1e-9, atol=1e-12)


def test_simplex_is_softmax_and_its_bijection_is_refused_naming_stick_breaking():
    t = D.transform_to(D.constraints.simplex)
    np.testing.assert_allclose(t(xg.asarray(X[:4])).numpy(),
                               TD.transform_to(TD.constraints.simplex)(torch.tensor(X[:4])),
                               rtol=1e-14)
    with pytest.raises(NotImplementedError, match="StickBreakingTransform is not in xpgrad"):
        D.biject_to(D.constraints.simplex)
    with pytest.raises(NotImplementedError, match=r"transform_to\(symmetric positive definite\)"):
        D.transform_to(D.constraints.positive_definite)


@pytest.mark.parametrize("name, arg", [("Categorical", "logits"), ("Categorical", "probs"),
                                       ("MultivariateNormal", "loc")])
def test_a_vector_parameters_constraint_gets_pytorchs_transform_for_the_same_parameter(name, arg):
    # PyTorch's fit idiom transform_to(dist.arg_constraints[arg]) for each argument: logits and
    # loc (real vectors) the identity, probs softmax (xpgrad's constraint takes unnormalized
    # probabilities; a softmax lands in them)
    ours = D.transform_to(getattr(D, name).arg_constraints[arg])
    theirs = TD.transform_to(getattr(TD, name).arg_constraints[arg])
    np.testing.assert_allclose(ours(xg.asarray(X[:4])).numpy(), theirs(torch.tensor(X[:4])),
                               rtol=1e-14)
    if arg == "probs":
        with pytest.raises(NotImplementedError, match="StickBreakingTransform is not in xpgrad"):
            D.biject_to(getattr(D, name).arg_constraints[arg])
    else:
        assert type(D.biject_to(getattr(D, name).arg_constraints[arg])) is type(ours)


def test_softplus_transform_is_pytorchs_and_its_gradients_are_finite_differences():
    ours, theirs = D.transforms.SoftplusTransform(), TD.transforms.SoftplusTransform()
    assert ours.domain is D.constraints.real and ours.codomain is D.constraints.positive
    y, yt = ours(xg.asarray(X)), theirs(torch.tensor(X))
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-15)
    np.testing.assert_allclose(ours.log_abs_det_jacobian(xg.asarray(X), y).numpy(),
                               theirs.log_abs_det_jacobian(torch.tensor(X), yt).numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.inv(y).numpy(), X, rtol=1e-12)      # -30 and 40 too
    point = np.array([0.3, 2.0, 7.0])                 # inverse and log-det, both differentiated
    for fn in (lambda v: xg.sum(ours.inv(v) ** 2),
               lambda v: xg.sum(ours.log_abs_det_jacobian(v, ours(v)) * v)):
        grad = xg.grad(fn)(point).numpy()
        eps = 1e-6
        numeric = [(fn(point + eps * e).item() - fn(point - eps * e).item()) / (2 * eps)
                   for e in np.eye(3)]
        np.testing.assert_allclose(grad, numeric, rtol=1e-7)


def test_a_constrained_maximum_likelihood_fit_takes_pytorchs_adam_steps():
    data = np.random.default_rng(5).gamma(3.0, 0.5, size=200)
    to_positive = D.transform_to(D.Gamma.arg_constraints["concentration"])
    raw = xg.Variable([0.0, 0.0], dtype=xg.float64)
    opt = xg.optim.Adam(0.05)
    raw_t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt_t = torch.optim.Adam([raw_t], lr=0.05)
    to_positive_t = TD.transform_to(TD.Gamma.arg_constraints["concentration"])
    for _ in range(20):
        opt.minimize(lambda: -xg.mean(D.Gamma(*to_positive(raw)).log_prob(data)), [raw])
        opt_t.zero_grad()
        (-TD.Gamma(*to_positive_t(raw_t)).log_prob(torch.from_numpy(data)).mean()).backward()
        opt_t.step()
    np.testing.assert_allclose(raw.numpy(), raw_t.detach().numpy(), rtol=1e-11)
    assert raw.numpy()[0] > 0.5                      # it moved toward concentration 3
