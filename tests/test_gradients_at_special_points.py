"""Gradients at the points where a library must choose -- ties, zeros, infinities, NaN in an
untaken branch, bounds -- against PyTorch's, computed here (``torch.autograd.grad``, float64),
on every host backend, eagerly and under ``xg.function``, and eagerly on cupy where a GPU is.
Random-value fuzzers almost never land on these points; quantised data and equal values do.
Where xpgrad answers differently on purpose, the case is in
test_gradients_at_special_points_chosen.py with its reason (and in docs/autodiff.md, "Gradients
at ties and singular points").
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from special_point_gradients import BACKEND_MODES, assert_same, ours, theirs

torch = pytest.importorskip("torch")
F = torch.nn.functional
inf = math.inf


def _array(*values):
    return np.array(values, np.float64)


def _labels(x, values):
    return xg.asarray(np.array(values), backend=x.backend.name)


LABELS = [1, 2]
NEG_INF_LOGITS = np.array([[-inf, 0.0, 1.0], [0.0, -inf, 2.0]])
QUANTISED = np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 2.0],
                      [0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 2.0, 2.0]])

#: name: (xpgrad's function, PyTorch's, the inputs, the indices of those differentiated)
CASES = {
    # kinks and bounds
    "relu at +-0": (xg.nn.relu, F.relu, [_array(0.0, -0.0, 1.0, -1.0)], (0,)),
    "leaky_relu at +-0": (xg.nn.leaky_relu, F.leaky_relu, [_array(0.0, -0.0)], (0,)),
    "relu6 at its bounds": (xg.nn.relu6, F.relu6, [_array(0.0, 6.0, 3.0)], (0,)),
    "hardtanh at its bounds": (xg.nn.hardtanh, F.hardtanh, [_array(-1.0, 1.0, 0.0)], (0,)),
    "clip at its bounds": (lambda x: xg.clip(x, 0.0, 1.0), lambda t: t.clamp(0.0, 1.0),
                           [_array(0.0, 1.0, 0.5, -1.0, 2.0)], (0,)),
    "abs at +-0": (xg.abs, torch.abs, [_array(0.0, -0.0, 1.0)], (0,)),
    "sign at 0": (xg.sign, torch.sign, [_array(0.0, 1.0)], (0,)),
    "copysign at +-0": (xg.copysign, torch.copysign,
                        [_array(0.0, -0.0, 0.0, 1.0), _array(-0.0, 1.0, 1.0, -1.0)], (0, 1)),
    "elu at +-0": (xg.nn.elu, F.elu, [_array(0.0, -0.0)], (0,)),
    "gelu at 0": (xg.nn.gelu, F.gelu, [_array(0.0)], (0,)),
    "l1 at a zero difference": (xg.losses.l1, F.l1_loss,
                                [_array(1.0, 0.0), _array(1.0, 0.0)], (0, 1)),
    "huber at its bound": (xg.losses.huber, F.huber_loss,
                           [_array(1.0, 0.0), _array(0.0, 0.0)], (0, 1)),
    # ties
    "maximum(x, x)": (lambda x: xg.maximum(x, x), lambda t: torch.maximum(t, t),
                      [_array(1.0, 0.0)], (0,)),
    "maximum at ties": (xg.maximum, torch.maximum, [_array(1.0, 0.0), _array(1.0, 2.0)], (0, 1)),
    "minimum at ties": (xg.minimum, torch.minimum, [_array(1.0, 0.0), _array(1.0, 2.0)], (0, 1)),
    "max of a row with ties": (lambda x: xg.max(x, axis=-1), lambda t: t.amax(-1),
                               [QUANTISED], (0,)),
    "max over axis 0 with ties": (lambda x: xg.max(x, axis=0), lambda t: t.amax(0),
                                  [QUANTISED], (0,)),
    "max of everything with ties": (xg.max, torch.amax, [QUANTISED], (0,)),
    "min of a row with ties": (lambda x: xg.min(x, axis=-1), lambda t: t.amin(-1),
                               [QUANTISED], (0,)),
    "max_pool2d of equal values": (lambda x: xg.nn.max_pool2d(x, 2), lambda t: F.max_pool2d(t, 2),
                                   [QUANTISED[None, None]], (0,)),
    "max_pool2d overlapping windows of equal values": (
        lambda x: xg.nn.max_pool2d(x, 3, stride=1, padding=1),
        lambda t: F.max_pool2d(t, 3, stride=1, padding=1), [QUANTISED[None, None]], (0,)),
    "max_pool1d of equal values": (lambda x: xg.nn.max_pool1d(x, 2), lambda t: F.max_pool1d(t, 2),
                                   [np.ones((1, 2, 4))], (0,)),
    "adaptive_max_pool2d of equal values": (lambda x: xg.nn.adaptive_max_pool2d(x, 1),
                                            lambda t: F.adaptive_max_pool2d(t, 1),
                                            [np.ones((1, 1, 3, 3))], (0,)),
    "sort with ties": (xg.sort, lambda t: torch.sort(t, stable=True)[0],
                       [_array(2.0, 1.0, 2.0, 1.0)], (0,)),
    "sort descending with ties": (lambda x: xg.sort(x, descending=True),
                                  lambda t: torch.sort(t, descending=True, stable=True)[0],
                                  [_array(2.0, 1.0, 2.0, 1.0)], (0,)),
    "topk with ties": (lambda x: xg.topk(x, 2)[0], lambda t: torch.topk(t, 2)[0],
                       [_array(2.0, 1.0, 2.0, 2.0)], (0,)),
    "median of an even count with ties": (xg.median, lambda t: torch.quantile(t, 0.5),
                                          [_array(1.0, 2.0, 2.0, 3.0)], (0,)),
    "quantile between ties": (lambda x: xg.quantile(x, 0.3), lambda t: torch.quantile(t, 0.3),
                              [_array(1.0, 1.0, 1.0, 2.0)], (0,)),
    # zeros
    "sqrt at 0": (xg.sqrt, torch.sqrt, [_array(0.0, -0.0, 1.0)], (0,)),
    "x ** 0.5 at 0": (lambda x: x ** 0.5, lambda t: t ** 0.5, [_array(0.0, 1.0)], (0,)),
    "x ** 2.5 at 0": (lambda x: x ** 2.5, lambda t: t ** 2.5, [_array(0.0, -0.0)], (0,)),
    "x ** 2 at 0": (lambda x: x ** 2, lambda t: t ** 2, [_array(0.0, -0.0)], (0,)),
    "x ** 0 at 0": (lambda x: x ** 0.0, lambda t: t ** 0.0, [_array(0.0, 1.0)], (0,)),
    "pow(0, y) for the base": (lambda x, y: xg.pow(x, y), lambda t, u: torch.pow(t, u),
                               [_array(0.0, 0.0, 0.0, 2.0), _array(0.0, 2.5, 1.0, 0.0)], (0,)),
    "xlogy(0, y)": (xg.special.xlogy, torch.xlogy,
                    [_array(0.0, 0.0, 1.0, 0.0), _array(0.0, 1.0, 0.0, inf)], (0, 1)),
    "xlog1py(0, y)": (xg.special.xlog1py, torch.special.xlog1py,
                      [_array(0.0, 0.0), _array(-1.0, 0.0)], (0, 1)),
    "entr at 0": (xg.special.entr, torch.special.entr, [_array(0.0, 1.0)], (0,)),
    "atan2(0, 0)": (xg.atan2, torch.atan2, [_array(0.0, -0.0, 1.0), _array(0.0, 0.0, 0.0)],
                    (0, 1)),
    "sinc at 0": (xg.sinc, torch.sinc, [_array(0.0, 0.5)], (0,)),
    "vector_norm of a zero vector": (xg.linalg.vector_norm, torch.linalg.vector_norm,
                                     [np.zeros(3)], (0,)),
    "vector_norm of zero rows": (lambda x: xg.linalg.vector_norm(x, axis=1),
                                 lambda t: torch.linalg.vector_norm(t, dim=1),
                                 [np.array([[0.0, 0.0], [3.0, 4.0]])], (0,)),
    "sqrt(sum(x * x)) at 0": (lambda x: xg.sqrt(xg.sum(x * x)), lambda t: torch.sqrt((t * t).sum()),
                              [np.zeros(3)], (0,)),
    "matrix_norm of a zero matrix": (xg.linalg.matrix_norm, torch.linalg.matrix_norm,
                                     [np.zeros((2, 2))], (0,)),
    "normalize a zero row": (xg.nn.normalize, F.normalize,
                             [np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]])], (0,)),
    "normalize(p=1) a zero row": (lambda x: xg.nn.normalize(x, p=1.0),
                                  lambda t: F.normalize(t, p=1.0), [np.zeros((2, 3))], (0,)),
    "cosine_similarity with a zero vector": (xg.nn.cosine_similarity, F.cosine_similarity,
                                             [np.zeros((2, 3)), np.ones((2, 3))], (0, 1)),
    "cosine_similarity of two zero vectors": (xg.nn.cosine_similarity, F.cosine_similarity,
                                              [np.zeros((2, 3)), np.zeros((2, 3))], (0, 1)),
    "pairwise_distance of equal points": (xg.nn.pairwise_distance, F.pairwise_distance,
                                          [np.ones((2, 3)), np.ones((2, 3))], (0, 1)),
    "prod with one zero": (xg.prod, torch.prod, [_array(2.0, 0.0, 3.0)], (0,)),
    "prod with two zeros": (xg.prod, torch.prod, [_array(2.0, 0.0, 0.0)], (0,)),
    "prod of rows with zeros": (lambda x: xg.prod(x, axis=1), lambda t: torch.prod(t, 1),
                                [QUANTISED], (0,)),
    "cumulative_prod through a zero": (xg.cumulative_prod, lambda t: torch.cumprod(t, 0),
                                       [_array(2.0, 0.0, 3.0, 4.0)], (0,)),
    "cumulative_prod through two zeros": (xg.cumulative_prod, lambda t: torch.cumprod(t, 0),
                                          [_array(2.0, 0.0, 3.0, 0.0)], (0,)),
    "std of constant input": (xg.std, lambda t: torch.std(t, correction=0), [np.ones(3)], (0,)),
    "std of constant rows": (lambda x: xg.std(x, axis=1), lambda t: torch.std(t, 1, correction=0),
                             [np.ones((2, 4))], (0,)),
    "var of constant input": (xg.var, lambda t: torch.var(t, correction=0), [np.ones(3)], (0,)),
    "layer_norm of constant rows": (lambda x: xg.nn.layer_norm(x, (4,)),
                                    lambda t: F.layer_norm(t, (4,)), [np.ones((2, 4))], (0,)),
    "det of a zero matrix": (xg.linalg.det, torch.linalg.det, [np.zeros((3, 3))], (0,)),
    "det of a rank-1 3x3 matrix": (xg.linalg.det, torch.linalg.det, [np.ones((3, 3))], (0,)),
    "svdvals of a zero matrix": (xg.linalg.svdvals, torch.linalg.svdvals, [np.zeros((3, 2))], (0,)),
    # a repeated eigenvalue: its eigenvectors are not unique, their gradient NaN (PyTorch's)
    "eigh's eigenvalues, repeated": (lambda x: xg.linalg.eigh(x)[0],
                                     lambda t: torch.linalg.eigh(t)[0], [np.eye(3)], (0,)),
    "eigh's eigenvectors, repeated eigenvalue": (lambda x: xg.linalg.eigh(x)[1] ** 2,
                                                 lambda t: torch.linalg.eigh(t)[1] ** 2,
                                                 [np.diag([1.0, 2.0, 2.0])], (0,)),
    # infinities
    "sigmoid at +-inf": (xg.nn.sigmoid, torch.sigmoid, [_array(inf, -inf, 0.0)], (0,)),
    "tanh at +-inf": (xg.nn.tanh, torch.tanh, [_array(inf, -inf, 0.0)], (0,)),
    "exp at -inf": (xg.exp, torch.exp, [_array(-inf, 0.0)], (0,)),
    "softplus at large inputs": (lambda x: xg.nn.softplus(x, threshold=20.0), F.softplus,
                                 [_array(30.0, 800.0, -800.0, 0.0)], (0,)),
    "erfinv at +-1": (xg.special.erfinv, torch.erfinv, [_array(1.0, -1.0, 0.0)], (0,)),
    "logit at 0 and 1": (xg.special.logit, torch.logit, [_array(0.0, 1.0, 0.5)], (0,)),
    "log at 0": (xg.log, torch.log, [_array(0.0, 1.0)], (0,)),
    "log1p at -1": (xg.log1p, torch.log1p, [_array(-1.0, 0.0)], (0,)),
    "asin, acos and atanh at +-1": (lambda x: xg.asin(x) + xg.acos(x) * 2.0 + xg.atanh(x) * 3.0,
                                    lambda t: t.asin() + t.acos() * 2.0 + t.atanh() * 3.0,
                                    [_array(1.0, -1.0)], (0,)),
    "logsumexp with -inf entries": (lambda x: xg.logsumexp(x, axis=-1),
                                    lambda t: torch.logsumexp(t, -1),
                                    [np.array([[-inf, 0.0, 1.0], [-inf, -inf, -inf]])], (0,)),
    "logsumexp of all -inf": (xg.logsumexp, lambda t: torch.logsumexp(t, (0, 1)),
                              [np.full((2, 2), -inf)], (0,)),
    "log_softmax with -inf logits": (xg.nn.log_softmax, lambda t: F.log_softmax(t, -1),
                                     [NEG_INF_LOGITS], (0,)),
    "softmax with -inf logits": (xg.nn.softmax, lambda t: F.softmax(t, -1),
                                 [NEG_INF_LOGITS], (0,)),
    "cross entropy with -inf logits": (
        lambda x: xg.losses.softmax_cross_entropy(x, _labels(x, LABELS), reduction="none"),
        lambda t: F.cross_entropy(t, torch.tensor(LABELS), reduction="none"),
        [NEG_INF_LOGITS], (0,)),
    "cross entropy with label smoothing and -inf logits": (  # the loss is inf, its gradient not
        lambda x: xg.losses.softmax_cross_entropy(x, _labels(x, LABELS), label_smoothing=0.1,
                                                  reduction="none"),
        lambda t: F.cross_entropy(t, torch.tensor(LABELS), label_smoothing=0.1, reduction="none"),
        [NEG_INF_LOGITS], (0,)),
    # NaN in the branch not taken: it reaches the gradient through 0 * NaN, as in PyTorch
    "where with sqrt of a negative untaken": (
        lambda x: xg.where(x > 0, xg.sqrt(x), 0.0 * x),
        lambda t: torch.where(t > 0, torch.sqrt(t), 0.0 * t), [_array(-1.0, 4.0, 0.0)], (0,)),
    "where with the safe-input trick": (
        lambda x: xg.where(x > 0, xg.sqrt(xg.where(x > 0, x, 1.0)), 0.0),
        lambda t: torch.where(t > 0, torch.sqrt(torch.where(t > 0, t, 1.0)), 0.0),
        [_array(-1.0, 4.0, 0.0)], (0,)),
}


@pytest.mark.parametrize("backend, mode", BACKEND_MODES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_at_a_special_point_matches_torch(name, backend, mode):
    f, torch_f, arrays, watch = CASES[name]
    assert_same(ours(f, arrays, watch, backend, mode), theirs(torch_f, arrays, watch),
                f"{name} ({backend}, {mode})")
