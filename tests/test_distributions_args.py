"""xg.distributions refuses bad arguments before any work, with an error naming the argument:
parameters outside their constraints, values outside the support, shapes that do not fit,
wrong types; ``validate_args=False`` and ``set_default_validate_args`` turn the value checks off
as PyTorch's do."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg

D = xg.distributions
NAN = math.nan


@pytest.mark.parametrize("make,match", [
    (lambda: D.Normal(0.0, 0.0), r"Normal: scale must be > 0, got invalid values \[0.0\]"),
    (lambda: D.Normal(0.0, [1.0, -2.0]), r"scale must be > 0, got invalid values \[-2.0\]"),
    (lambda: D.Normal(NAN, 1.0), r"Normal: loc must be real \(not NaN\)"),
    (lambda: D.Laplace(0.0, xg.asarray([1.0, 0.0])), "Laplace: scale must be > 0"),
    (lambda: D.Exponential(-1.0), r"Exponential: rate must be > 0"),
    (lambda: D.Uniform(2.0, 1.0), r"Uniform: low must be < high, got low=2.0, high=1.0"),
    (lambda: D.Uniform([0.0, 3.0], [1.0, 3.0]), r"low=\[3.0\], high=\[3.0\]"),
    (lambda: D.Bernoulli(probs=1.5), r"Bernoulli: probs must be in \[0, 1\]"),
    (lambda: D.Bernoulli(probs=[-0.1, 0.5]), r"probs must be in \[0, 1\], got invalid values "
                                             r"\[-0.1"),
    (lambda: D.Bernoulli(logits=NAN), "Bernoulli: logits must be real"),
    (lambda: D.Bernoulli(), "Bernoulli: give exactly one of probs or logits, got neither"),
    (lambda: D.Bernoulli(probs=0.5, logits=0.0), "exactly one of probs or logits, got both"),
    (lambda: D.Categorical(probs=[0.5, -0.5, 1.0]), "Categorical: probs must be probabilities"),
    (lambda: D.Categorical(probs=[0.0, 0.0]), r"Categorical: probs must be probabilities along "
                                              r"the last axis \(>= 0, with a positive finite "
                                              r"sum\), got invalid values \[\[0.0, 0.0\]\]"),
    (lambda: D.Categorical(probs=[[0.5, 0.5], [1.0, NAN]]), r"invalid values \[\[1.0, nan\]\]"),
    (lambda: D.Categorical(logits=[0.0, NAN]), "Categorical: logits must be a vector of reals"),
    (lambda: D.Categorical(probs=0.5), "Categorical: probs must have at least 1 axes"),
    (lambda: D.Normal([0.0, 1.0], [1.0, 1.0, 1.0]),
     r"Normal: the parameters' shapes do not broadcast together: loc \(2,\), scale \(3,\)"),
    (lambda: D.MultivariateNormal(xg.zeros(2), covariance_matrix=[[1.0, 2.0], [2.0, 1.0]]),
     "MultivariateNormal: covariance_matrix must be symmetric positive definite"),
    (lambda: D.MultivariateNormal(xg.zeros(2), covariance_matrix=[[1.0, 0.5], [0.0, 1.0]]),
     "covariance_matrix must be symmetric positive definite"),
    (lambda: D.MultivariateNormal(xg.zeros(2), precision_matrix=-xg.eye(2)),
     "precision_matrix must be symmetric positive definite"),
    (lambda: D.MultivariateNormal(xg.zeros(2), scale_tril=[[1.0, 0.1], [0.0, 1.0]]),
     "scale_tril must be lower triangular with a positive diagonal"),
    (lambda: D.MultivariateNormal(xg.zeros(2), scale_tril=[[1.0, 0.0], [0.3, 0.0]]),
     "scale_tril must be lower triangular with a positive diagonal"),
    (lambda: D.MultivariateNormal(xg.zeros(2), scale_tril=xg.eye(3)),
     r"scale_tril must have shape \(\.\.\., 2, 2\) to match loc's last axis, got shape \(3, 3\)"),
    (lambda: D.MultivariateNormal(0.0, scale_tril=xg.eye(1)),
     "MultivariateNormal: loc must have at least 1 axes"),
    (lambda: D.MultivariateNormal(xg.zeros(2), scale_tril=xg.ones(2)),
     "MultivariateNormal: scale_tril must have at least 2 axes"),
    (lambda: D.MultivariateNormal(xg.zeros(2)), "give exactly one of covariance_matrix, "
                                                "precision_matrix or scale_tril, got none"),
    (lambda: D.MultivariateNormal(xg.zeros(2), covariance_matrix=xg.eye(2), scale_tril=xg.eye(2)),
     r"got \['covariance_matrix', 'scale_tril'\]"),
    (lambda: D.MultivariateNormal(xg.zeros((3, 2)), scale_tril=xg.ones((2, 2, 2)) * xg.eye(2)),
     r"the parameters' shapes do not broadcast together: loc \(3,\), scale_tril \(2,\)"),
    (lambda: D.Independent(D.Normal(xg.zeros(3), 1.0), 2),
     r"Independent: reinterpreted_batch_ndims must be in \[0, 1\]"),
    (lambda: D.Independent(D.Normal(xg.zeros(3), 1.0), -1), "reinterpreted_batch_ndims"),
])
def test_bad_parameters_are_value_errors_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make,match", [
    (lambda: D.Normal("0", 1.0), "Normal: loc must be a number, an array or a Tensor"),
    (lambda: D.Normal(0.0, True), "Normal: scale must be a number, an array or a Tensor"),
    (lambda: D.Normal(xg.asarray([1j]), 1.0), "Normal: loc must be real"),
    (lambda: D.Exponential(["a"]), "Exponential: rate must be real numbers"),
    (lambda: D.Normal(0.0, 1.0, validate_args=1), "validate_args must be True, False or None"),
    (lambda: D.Independent(xg.zeros(3), 1), "base_distribution must be a Distribution"),
    (lambda: D.Independent(D.Normal(xg.zeros(3), 1.0), 1.0),
     "reinterpreted_batch_ndims must be an int"),
])
def test_wrong_types_are_type_errors_naming_them(make, match):
    with pytest.raises(TypeError, match=match):
        make()


@pytest.mark.parametrize("make,name", [
    (lambda: D.Normal(None, 1.0), "Normal: loc"), (lambda: D.Normal(0.0, None), "Normal: scale"),
    (lambda: D.Gamma(None, 1.0), "Gamma: concentration"), (lambda: D.Gamma(1.0, None),
                                                            "Gamma: rate"),
    (lambda: D.Cauchy(0.0, None), "Cauchy: scale"), (lambda: D.Laplace(None, 1.0), "Laplace: loc"),
    (lambda: D.Beta(None, 1.0), "Beta: concentration1"), (lambda: D.Chi2(None), "Chi2: df"),
    (lambda: D.Dirichlet(None), "Dirichlet: concentration"),
    (lambda: D.Uniform(0.0, None), "Uniform: high"), (lambda: D.Exponential(None),
                                                       "Exponential: rate"),
    (lambda: D.StudentT(None), "StudentT: df"), (lambda: D.Poisson(None), "Poisson: rate"),
    (lambda: D.LogNormal(None, 1.0), "Normal: loc"), (lambda: D.HalfNormal(None), "scale"),
    (lambda: D.Gumbel(0.0, None), "Gumbel: scale"),
    (lambda: D.Binomial(None, probs=0.5), "Binomial: total_count"),
    (lambda: D.RelaxedBernoulli(None, probs=0.5), "RelaxedBernoulli: temperature"),
    (lambda: D.MultivariateNormal(None, scale_tril=xg.eye(2)), "MultivariateNormal: loc"),
])
def test_a_parameter_given_as_none_is_a_type_error_naming_it(make, name):
    with pytest.raises(TypeError, match=f"{name} must be a number, an array or a Tensor, got "
                                        f"None"):
        make()


def test_kl_of_batch_shapes_that_do_not_broadcast_names_p_and_q():
    p, q = D.Gamma(np.array([1.0, 2.0]), 1.0), D.Gamma(np.array([1.0, 2.0, 3.0]), 1.0)
    with pytest.raises(ValueError, match=r"kl_divergence: p's batch_shape \(2,\) and q's "
                                         r"batch_shape \(3,\) do not broadcast together"):
        D.kl_divergence(p, q)
    kl = D.kl_divergence(D.Normal(np.zeros((3, 1)), 1.0), D.Normal(np.zeros(2), 2.0))
    assert kl.shape == (3, 2)                     # broadcasting batch shapes still work


def test_parameters_on_two_backends():
    pytest.importorskip("numba")
    with pytest.raises(xg.MixedBackendError, match="Normal: the parameters are Tensors of two "
                                                   "backends"):
        D.Normal(xg.zeros(2, backend="numpy"), xg.ones(2, backend="numba"))


@pytest.mark.parametrize("call,match", [
    (lambda: D.Normal(0.0, 1.0).log_prob(NAN), r"Normal.log_prob: value must be real"),
    (lambda: D.Exponential(1.0).log_prob([1.0, -0.5]),
     r"Exponential.log_prob: value must be >= 0, got invalid values \[-0.5\]"),
    (lambda: D.Exponential(1.0).cdf(-1.0), "Exponential.cdf: value must be >= 0"),
    (lambda: D.Normal(0.0, 1.0).icdf(1.5), r"Normal.icdf: value must be in \[0, 1\]"),
    (lambda: D.Laplace(0.0, 1.0).icdf(-0.1), r"Laplace.icdf: value must be in \[0, 1\]"),
    (lambda: D.Uniform(0.0, 1.0).log_prob(1.5), r"Uniform.log_prob: value must be in \[low, "
                                                r"high\]"),
    (lambda: D.Bernoulli(probs=0.3).log_prob(0.5), "Bernoulli.log_prob: value must be 0 or 1"),
    (lambda: D.Categorical(logits=xg.zeros(3)).log_prob(3),
     r"Categorical.log_prob: value must be an integer in \[0, 2\], got invalid values \[3\]"),
    (lambda: D.Categorical(logits=xg.zeros(3)).log_prob(xg.asarray([-1, 0])),
     r"an integer in \[0, 2\], got invalid values \[-1\]"),
    (lambda: D.Categorical(logits=xg.zeros(3)).log_prob(xg.asarray([1.5])),
     "an integer in"),
    (lambda: D.Normal(xg.zeros(3), 1.0).log_prob(xg.zeros(2)),
     r"Normal.log_prob: value of shape \(2,\) does not broadcast with batch_shape \+ "
     r"event_shape \(3,\)"),
    (lambda: D.MultivariateNormal(xg.zeros(3), scale_tril=xg.eye(3)).log_prob(xg.zeros(2)),
     r"MultivariateNormal.log_prob: value's rightmost axes must be the event shape \(3,\)"),
    (lambda: D.Independent(D.Normal(xg.zeros((2, 3)), 1.0), 1).log_prob(xg.zeros(4)),
     r"Independent.log_prob: value's rightmost axes must be the event shape \(3,\)"),
    (lambda: D.Independent(D.Exponential(xg.ones((2, 3))), 1).log_prob(-xg.ones(3)),
     "Exponential.log_prob: value must be >= 0"),
    (lambda: D.Normal(0.0, 1.0).sample(-1), "sample_shape must not have negative entries"),
])
def test_values_outside_the_support_are_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call,match", [
    (lambda: D.Normal(0.0, 1.0).log_prob("x"), "Normal.log_prob: value must be a Tensor"),
    (lambda: D.Normal(0.0, 1.0).sample(1.5), r"sample_shape must be a tuple of ints, got 1.5"),
    (lambda: D.Normal(0.0, 1.0).sample(("a",)), "sample_shape must be a tuple of ints"),
    (lambda: D.Normal(0.0, 1.0).sample(rng=np.random.default_rng(0)),
     "Normal.sample: rng must be an xg.random.Generator, an int seed or None"),
    (lambda: D.Categorical(probs=[0.5, 0.5]).sample(rng="0"), "Categorical.sample: rng must be"),
    (lambda: D.Distribution.set_default_validate_args(1), "value must be True or False"),
])
def test_wrong_types_at_call_time(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_validate_args_false_skips_the_checks_as_torch():
    assert float(D.Normal(0.0, -2.0, validate_args=False).variance) == 4.0
    assert float(D.Exponential(1.0, validate_args=False).log_prob(-1.0)) == 1.0
    assert float(D.Bernoulli(probs=0.5, validate_args=False).log_prob(0.5)) == pytest.approx(
        math.log(0.5))
    D.Distribution.set_default_validate_args(False)
    try:
        assert float(D.Exponential(-1.0).rate) == -1.0
        with pytest.raises(ValueError, match="scale must be > 0"):
            D.Normal(0.0, 0.0, validate_args=True)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="rate must be > 0"):
        D.Exponential(-1.0)


def test_the_unimplemented_methods_say_so():
    d = D.Independent(D.Normal(xg.zeros((2, 3)), 1.0), 1)
    with pytest.raises(NotImplementedError, match="Independent has no cdf"):
        d.cdf(xg.zeros(3))
    with pytest.raises(NotImplementedError, match="Categorical has no cdf"):
        D.Categorical(probs=[1.0]).cdf(0)


def test_repr_names_the_parameters():
    assert repr(D.Normal(xg.zeros(2), 1.0)) == "Normal(loc: (2,), scale: (2,))"
    assert repr(D.Independent(D.Bernoulli(logits=xg.zeros((2, 3))), 1)) == \
        "Independent(Bernoulli(logits: (2, 3)), 1)"


def test_parameters_that_are_variables_are_not_copied():
    w = xg.Variable(xg.asarray([0.0, 1.0]), name="w")
    assert D.Normal(w, 1.0).loc is w and D.Bernoulli(logits=w).logits is w


def test_many_float32_classes_pass_the_probs_check():
    """The probabilities are checked as given: normalized float32 sums over 1e5 classes may
    miss 1 by more than a fixed tolerance, and must not be refused for it."""
    p = np.random.default_rng(0).random(100_000).astype(np.float32)
    d = D.Categorical(probs=p)
    assert d.batch_shape == () and 0 <= int(d.sample(rng=0)) < 100_000
