"""Layers, losses, optimizer steps and distributions end to end on array-api-strict: values and
gradients equal the numpy backend's in float64 (tests/strict_checks.py says why)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

from strict_checks import (assert_matches_numpy, assert_same, marked,  # noqa: F401 (strict:
                           strict, values_and_vjp)                     # a fixture)

# order 2 of a function linear in an argument: its gradient is constant, the second one None
pytestmark = pytest.mark.filterwarnings("ignore:tape.gradient. the target depends on no tensor")


def _output(out):
    return out[0] if isinstance(out, tuple) else out      # recurrent layers: (outputs, state)


nn, F64 = xg.nn, xg.float64
LAYERS = {   # name -> (the layer on the current backend, its float64 input's shape)
    "Linear": (lambda: nn.Linear(3, 4, rng=0, dtype=F64), (5, 3)),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3, padding=1, stride=2, rng=0, dtype=F64), (2, 2, 7)),
    "Conv1d_reflect": (lambda: nn.Conv1d(2, 3, 3, padding=1, padding_mode="reflect", rng=0,
                                         dtype=F64), (2, 2, 6)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, (3, 2), padding=1, dilation=(1, 2), rng=0, dtype=F64),
               (2, 2, 5, 6)),
    "Conv2d_groups": (lambda: nn.Conv2d(4, 4, 3, groups=2, padding="same", rng=0, dtype=F64),
                      (2, 4, 5, 5)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, rng=0,
                                                   dtype=F64), (2, 2, 4, 4)),
    "LSTM": (lambda: nn.LSTM(3, 4, 2, batch_first=True, rng=0, dtype=F64), (2, 5, 3)),
    "GRU": (lambda: nn.GRU(3, 4, batch_first=True, bidirectional=True, rng=0, dtype=F64),
            (2, 5, 3)),
    "RNN": (lambda: nn.RNN(3, 4, nonlinearity="relu", batch_first=True, rng=0, dtype=F64),
            (2, 5, 3)),
    "LayerNorm": (lambda: nn.LayerNorm(4, dtype=F64), (3, 2, 4)),
    "RMSNorm": (lambda: nn.RMSNorm(4, dtype=F64), (3, 4)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3, dtype=F64), (4, 3)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3, dtype=F64), (2, 3, 4, 4)),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4, dtype=F64), (2, 4, 3)),
    "InstanceNorm1d": (lambda: nn.InstanceNorm1d(3, affine=True, dtype=F64), (2, 3, 5)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 3, 4, 4)),
    "AvgPool1d": (lambda: nn.AvgPool1d(3, stride=2, padding=1), (2, 3, 7)),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 5, 7)),
    "ReflectionPad2d": (lambda: nn.ReflectionPad2d(1), (1, 2, 3, 3)),
    "CircularPad2d": (lambda: nn.CircularPad2d(1), (1, 2, 3, 3)),
    "Upsample_bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 3)),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(
        4, 2, 8, dropout=0.0, batch_first=True, rng=0, dtype=F64), (2, 3, 4)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_the_numpy_backend(name, strict):
    """Output and input gradient to second order, and the weights' gradients."""
    build, shape = LAYERS[name]
    x = np.random.default_rng(2).standard_normal(shape)
    results = []
    for backend in ("numpy", strict.name):
        with xg.use_backend(backend):
            layer = build()
            variables = list(layer.trainable_variables)
            with xg.GradientTape() as tape:
                loss = xg.sum(_output(layer(xg.asarray(x, dtype=xg.float64))) ** 2)
            by_weights = [g.numpy() for g in tape.gradient(loss, variables)] if variables else []
            results.append(values_and_vjp(lambda x: _output(layer(x)), [x], backend, order=2)
                           + [by_weights])
    assert_same(results[1], results[0])


def _targets():
    return xg.reshape(xg.linspace(-1.0, 1.0, 20, dtype=F64), (4, 5))


def _probabilities():
    return xg.reshape(xg.linspace(0.05, 0.95, 20, dtype=F64), (4, 5))


def _labels():
    return xg.asarray([0, 4, 2, 2])


def _signs(n=4):
    return xg.asarray([1.0, -1.0, -1.0, 1.0][:n], dtype=F64)


losses = xg.losses
LOSSES = {   # name -> a loss of a float64 (4, 5) tensor
    "softmax_cross_entropy": lambda x: losses.softmax_cross_entropy(x, _labels()),
    "softmax_cross_entropy_smoothing": lambda x: losses.softmax_cross_entropy(
        x, _labels(), label_smoothing=0.1, reduction="sum"),
    "softmax_cross_entropy_weight": lambda x: losses.softmax_cross_entropy(
        x, _labels(), weight=xg.linspace(0.5, 1.5, 5, dtype=F64)),
    "softmax_cross_entropy_ignore": lambda x: losses.softmax_cross_entropy(
        x, _labels(), ignore_index=2),
    "nll": lambda x: losses.nll(xg.nn.log_softmax(x), _labels()),
    "mse": lambda x: losses.mse(x, _targets()),
    "sigmoid_mse": lambda x: losses.sigmoid_mse(x, _probabilities()),
    "sigmoid_cross_entropy": lambda x: losses.sigmoid_cross_entropy_with_logits(
        x, _probabilities(), pos_weight=xg.linspace(0.5, 2.0, 5, dtype=F64)),
    "l1": lambda x: losses.l1(x, _targets()),
    "huber": lambda x: losses.huber(x, _targets(), delta=0.5),
    "smooth_l1": lambda x: losses.smooth_l1(x, _targets(), beta=0.5),
    "binary_cross_entropy": lambda x: losses.binary_cross_entropy(xg.nn.sigmoid(x),
                                                                  _probabilities()),
    "kl_div": lambda x: losses.kl_div(xg.nn.log_softmax(x), xg.nn.softmax(_targets())),
    "ctc": lambda x: losses.ctc(xg.nn.log_softmax(xg.reshape(x, (4, 1, 5))),
                                xg.asarray([[1, 2]]), xg.asarray([4]), xg.asarray([2])),
    "gaussian_nll": lambda x: losses.gaussian_nll(x, _targets(), x * x + 0.5),
    "poisson_nll": lambda x: losses.poisson_nll(x, xg.abs(_targets())),
    "margin_ranking": lambda x: losses.margin_ranking(x[:, 0], x[:, 1], _signs(), margin=0.1),
    "hinge_embedding": lambda x: losses.hinge_embedding(x[:, 0], _signs()),
    "soft_margin": lambda x: losses.soft_margin(x[:, 0], _signs()),
    "multilabel_soft_margin": lambda x: losses.multilabel_soft_margin(x,
                                                                      xg.round(_probabilities())),
    "multi_margin": lambda x: losses.multi_margin(x, _labels(), p=2,
                                                  weight=xg.linspace(0.5, 2.0, 5, dtype=F64)),
    "multilabel_margin": lambda x: losses.multilabel_margin(x, xg.asarray(
        [[1, 3, -1, 0, 0], [0, -1, 0, 0, 0], [4, 2, 1, 0, -1], [2, -1, 0, 0, 0]])),
    "triplet_margin": lambda x: losses.triplet_margin(x[:2], x[2:], x[1:3]),
    "triplet_margin_with_distance": lambda x: losses.triplet_margin_with_distance(
        x[:2], x[2:], x[1:3]),
    "cosine_embedding": lambda x: losses.cosine_embedding(x[:2], x[2:], _signs(2)),
}


@pytest.mark.parametrize("name, order", [marked(f"{name}-order{order}", name, order)
                                         for name in sorted(LOSSES) for order in (1, 2)])
def test_loss_matches_the_numpy_backend(name, order, strict):
    """Order 2 too: a rule's VJP differentiated again takes its Tensor branch."""
    x = np.random.default_rng(3).standard_normal((4, 5))
    assert_matches_numpy(LOSSES[name], [x], order)


optim = xg.optim
OPTIMIZERS = {
    "SGD": lambda: optim.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "SGD_clipnorm": lambda: optim.SGD(0.1, clipnorm=0.05),
    "Adam": lambda: optim.Adam(0.05, amsgrad=True, weight_decay=0.01),
    "Adam_global_clipnorm_schedule": lambda: optim.Adam(optim.CosineDecay(0.05, 10),
                                                        global_clipnorm=0.1),
    "AdamW": lambda: optim.AdamW(0.05),
    "Adamax": lambda: optim.Adamax(0.05),
    "NAdam": lambda: optim.NAdam(0.05),
    "RAdam": lambda: optim.RAdam(0.05),
    "Lion": lambda: optim.Lion(0.01),
    "RMSprop": lambda: optim.RMSprop(0.01, momentum=0.5, centered=True),
    "Adagrad": lambda: optim.Adagrad(0.1),
    "Adadelta": lambda: optim.Adadelta(1.0),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_match_the_numpy_backend(name, strict):
    x = np.random.default_rng(4).standard_normal((6, 3))
    labels = np.array([0, 1, 3, 2, 1, 0])
    results = []
    for backend in ("numpy", strict.name):
        with xg.use_backend(backend):
            model = xg.nn.Linear(3, 4, rng=1, dtype=xg.float64)
            optimizer = OPTIMIZERS[name]()
            for _ in range(3):
                with xg.GradientTape() as tape:
                    loss = xg.losses.softmax_cross_entropy(
                        model(xg.asarray(x, dtype=xg.float64)), xg.asarray(labels))
                variables = model.trainable_variables
                optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            assert {v.backend.name for v in variables} == {backend}
            results.append([v.numpy() for v in variables])
    assert_same(results[1], results[0])


# -- xg.distributions: densities, entropies, reparameterized draws (a host generator's) ---------

dist = xg.distributions


def _scale(x):
    return xg.exp(x * 0.3)


def _unit_values():
    return xg.reshape(xg.linspace(0.1, 0.9, 6, dtype=F64), (2, 3))


def _scale_tril(x):
    return xg.eye(3, dtype=F64) + 0.1 * xg.tril(xg.outer(x[1], x[1]))


#: name -> (the distribution of a float64 (2, 3) tensor, what it has: the Cauchy ones no moments)
DISTRIBUTIONS = {
    "Normal": (lambda x: dist.Normal(x, _scale(x)), "moments entropy rsample cdf"),
    "LogNormal": (lambda x: dist.LogNormal(x, _scale(x)), "moments entropy rsample cdf"),
    "Laplace": (lambda x: dist.Laplace(x, _scale(x)), "moments entropy rsample cdf"),
    "Cauchy": (lambda x: dist.Cauchy(x, _scale(x)), "entropy rsample cdf"),
    "Gumbel": (lambda x: dist.Gumbel(x, _scale(x)), "moments entropy rsample cdf"),
    "HalfNormal": (lambda x: dist.HalfNormal(_scale(x)), "moments entropy rsample cdf"),
    "HalfCauchy": (lambda x: dist.HalfCauchy(_scale(x)), "entropy rsample cdf"),
    "Exponential": (lambda x: dist.Exponential(_scale(x)), "moments entropy rsample cdf"),
    "Uniform": (lambda x: dist.Uniform(x - 2.0, x + 2.0), "moments entropy rsample cdf"),
    "Gamma": (lambda x: dist.Gamma(_scale(x) + 0.5, _scale(x)), "moments entropy rsample cdf"),
    "Chi2": (lambda x: dist.Chi2(_scale(x) + 1.0), "moments entropy rsample cdf"),
    "Beta": (lambda x: dist.Beta(_scale(x) + 0.5, _scale(-x) + 0.5), "moments entropy rsample cdf"),
    "StudentT": (lambda x: dist.StudentT(_scale(x) + 2.0, x, _scale(x)),
                 "moments entropy rsample cdf"),
    "Dirichlet": (lambda x: dist.Dirichlet(_scale(x) + 0.5), "sampled moments entropy rsample"),
    "MultivariateNormal": (lambda x: dist.MultivariateNormal(x[0], scale_tril=_scale_tril(x)),
                           "sampled moments entropy rsample"),
    "Bernoulli": (lambda x: dist.Bernoulli(logits=x), "sampled moments entropy"),
    "Geometric": (lambda x: dist.Geometric(logits=x), "sampled moments entropy"),
    "Categorical": (lambda x: dist.Categorical(logits=x), "sampled moments entropy"),
    "Binomial": (lambda x: dist.Binomial(5, logits=x), "sampled moments entropy"),
    "Poisson": (lambda x: dist.Poisson(_scale(x)), "sampled moments"),
    "RelaxedBernoulli": (lambda x: dist.RelaxedBernoulli(0.5, logits=x), "rsample"),
    "RelaxedOneHotCategorical": (lambda x: dist.RelaxedOneHotCategorical(0.5, logits=x),
                                 "sampled rsample"),
}


def _quantities(name, x):
    """``log_prob`` of a fixed value (of a draw where ``sampled``: a discrete support, a
    simplex), and what the distribution has of moments, entropy, a reparameterized draw and
    the cdf."""
    make, has = DISTRIBUTIONS[name]
    d = make(x)
    value = d.sample(rng=1) if "sampled" in has else x if name == "Uniform" else _unit_values()
    out = [d.log_prob(value)] + ([d.mean, d.variance] if "moments" in has else [])
    out += [d.entropy()] if "entropy" in has else []
    out += [d.rsample((2,), rng=3)] if "rsample" in has else []
    return out + ([d.cdf(_unit_values())] if "cdf" in has else [])


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_distribution_matches_the_numpy_backend(name, strict):
    x = np.random.default_rng(5).standard_normal((2, 3))
    assert_matches_numpy(lambda x: _quantities(name, x), [x])
