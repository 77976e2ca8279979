"""Every case of tests/test_primitives.py (to second order where it has one), ``xg.linalg`` and
the functions of ``xg.nn`` on array-api-strict: values and gradients equal the numpy backend's in
float64 (tests/strict_checks.py says why)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

from test_primitives import CASES, make

from strict_checks import assert_matches_numpy, marked, strict  # noqa: F401 (strict: a fixture)

# order 2 of a function linear in an argument: its gradient is constant, the second one None
pytestmark = pytest.mark.filterwarnings("ignore:tape.gradient. the target depends on no tensor")


@pytest.mark.parametrize("case", [marked(case.id, case) for case in CASES])
def test_primitive_matches_the_numpy_backend(case, strict):
    rng = np.random.default_rng(0)
    arrays = [make(spec, rng).numpy() for spec in case.specs]
    order = min(case.order, 2)
    assert_matches_numpy(case.fn, arrays, order)


# -- xg.linalg (the cupy backend runs every rule here on CuPy arrays) ----------------------------

def _well_conditioned(*shape):
    """Random matrices of ``shape`` (square at the end) with singular values in [1, 3]."""
    rng = np.random.default_rng(sum(shape))
    left, right = (np.linalg.qr(rng.normal(size=shape))[0] for _ in range(2))
    return (left * rng.uniform(1.0, 3.0, size=shape[:-1])[..., None, :]) @ right


def _normal(*shape):
    return np.random.default_rng(sum(shape) + 1).normal(size=shape)


def _positive_definite(a):
    return a @ xg.matrix_transpose(a) + 3.0 * xg.eye(a.shape[-1], dtype=a.dtype)


LA = xg.linalg
LINALG = {   # name -> (function, its arguments as NumPy arrays, order)
    "cholesky": (lambda a: LA.cholesky(_positive_definite(a)), [_well_conditioned(2, 3, 3)], 2),
    "cross": (LA.cross, [_normal(2, 3), _normal(3)], 2),
    "det": (LA.det, [_well_conditioned(2, 3, 3)], 2),
    "diagonal": (lambda a: LA.diagonal(a, offset=1), [_normal(2, 3, 4)], 2),
    "eigh": (lambda a: LA.eigh(_positive_definite(a)), [_well_conditioned(3, 3)], 2),
    "eigvalsh": (lambda a: LA.eigvalsh(_positive_definite(a)), [_well_conditioned(2, 3, 3)], 2),
    "eig": (lambda a: xg.real(LA.eig(_positive_definite(a))[0]), [_well_conditioned(3, 3)], 1),
    "eigvals": (lambda a: xg.real(LA.eigvals(a)), [_well_conditioned(3, 3)], 1),
    "inv": (LA.inv, [_well_conditioned(2, 3, 3)], 2),
    "matrix_norm": (lambda a: LA.matrix_norm(a) + LA.matrix_norm(a, ord=1), [_normal(2, 3, 4)],
                    2),
    "matrix_norm_spectral": (lambda a: LA.matrix_norm(a, ord="nuc") + LA.matrix_norm(a, ord=2),
                             [_well_conditioned(3, 3)], 2),
    "matrix_power": (lambda a: LA.matrix_power(a, 3) + LA.matrix_power(a, -2),
                     [_well_conditioned(3, 3)], 2),
    "pinv": (LA.pinv, [_normal(4, 3)], 2),
    "qr": (LA.qr, [_normal(4, 3)], 2),
    "slogdet": (lambda a: LA.slogdet(a)[1], [_well_conditioned(2, 3, 3)], 2),
    "solve": (LA.solve, [_well_conditioned(3, 3), _normal(3, 2)], 2),
    "svd": (lambda a: LA.svd(a, full_matrices=False), [_normal(4, 3)], 2),
    "svdvals": (LA.svdvals, [_normal(2, 4, 3)], 2),
    "trace": (lambda a: LA.trace(a, offset=-1), [_normal(2, 3, 3)], 2),
    "vector_norm": (lambda a: LA.vector_norm(a, ord=3, axis=(0, 1)) + LA.norm(a[0]),
                    [_normal(2, 3, 2)], 2),
    "solve_triangular": (lambda a, b: LA.solve_triangular(
        xg.tril(a) + 3.0 * xg.eye(3, dtype=a.dtype), b, lower=True), [_normal(3, 3),
                                                                      _normal(3, 2)], 2),
    "cholesky_solve": (lambda a, b: LA.cholesky_solve(b, LA.cholesky(_positive_definite(a))),
                       [_well_conditioned(3, 3), _normal(3, 2)], 2),
    "expm": (lambda a: LA.expm(a * 0.5), [_normal(3, 3)], 2),
}


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg_matches_the_numpy_backend(name, strict):
    fn, arrays, order = LINALG[name]
    assert_matches_numpy(fn, arrays, order)


# -- xg.nn's functions beyond the layers' (tests/test_layers_strict.py) --------------------------

nn = xg.nn


def _boolean_mask():
    return xg.asarray([[True, False, True], [True, True, False], [False, True, True]])


NN_FUNCTIONS = {   # name -> (function, the shapes of its float64 arguments)
    "embedding": (lambda w: nn.embedding(xg.asarray([[0, 2], [2, 3]]), w), [(4, 3)]),
    "embedding_bag_mean": (lambda w: nn.embedding_bag(
        xg.asarray([0, 2, 2, 3, 1]), w, xg.asarray([0, 2]), mode="mean"), [(4, 3)]),
    "embedding_bag_max": (lambda w: nn.embedding_bag(xg.asarray([[0, 2], [3, 1]]), w,
                                                     mode="max"), [(4, 3)]),
    "dropout": (lambda x: nn.dropout(x, 0.3, rng=2), [(3, 4)]),
    "interpolate_nearest": (lambda x: nn.interpolate(x, scale_factor=2, mode="nearest"),
                            [(1, 2, 3, 3)]),
    "interpolate_bilinear": (lambda x: nn.interpolate(x, size=(5, 4), mode="bilinear",
                                                      align_corners=True), [(1, 2, 3, 3)]),
    "interpolate_bicubic": (lambda x: nn.interpolate(x, size=(5, 4), mode="bicubic"),
                            [(1, 2, 3, 3)]),
    "interpolate_linear": (lambda x: nn.interpolate(x, size=7, mode="linear"), [(1, 2, 3)]),
    "interpolate_area": (lambda x: nn.interpolate(x, size=(2, 2), mode="area"), [(1, 2, 4, 4)]),
    "normalize": (lambda x: nn.normalize(x, axis=1), [(3, 4)]),
    "cosine_similarity": (nn.cosine_similarity, [(3, 4), (3, 4)]),
    "pairwise_distance": (nn.pairwise_distance, [(3, 4), (3, 4)]),
    "pad_constant": (lambda x: nn.pad(x, (1, 2, 0, 1), value=0.5), [(2, 3, 3)]),
    "pad_reflect": (lambda x: nn.pad(x, (1, 2), mode="reflect"), [(2, 3, 4)]),
    "scaled_dot_product_attention_causal": (lambda q, k, v: nn.scaled_dot_product_attention(
        q, k, v, is_causal=True), [(2, 3, 4)] * 3),
    "scaled_dot_product_attention_mask": (lambda q, k: nn.scaled_dot_product_attention(
        q, k, k, attn_mask=_boolean_mask()), [(2, 3, 4)] * 2),
    "max_pool2d_ceil": (lambda x: nn.max_pool2d(x, 2, ceil_mode=True), [(1, 2, 5, 5)]),
    "avg_pool2d_ceil": (lambda x: nn.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False,
                                                padding=1), [(1, 2, 5, 5)]),
    "adaptive_avg_pool1d": (lambda x: nn.adaptive_avg_pool1d(x, 3), [(1, 2, 7)]),
    "conv_transpose1d": (lambda x, w: nn.conv_transpose1d(x, w, stride=2, output_padding=1),
                         [(1, 2, 4), (2, 3, 3)]),
    "conv2d_channels_last": (lambda x, w: nn.conv2d(x, w, padding=1,
                                                    data_format="channels_last"),
                             [(1, 4, 4, 2), (3, 3, 2, 3)]),
    "rms_norm": (lambda x, w: nn.rms_norm(x, (4,), w), [(3, 4), (4,)]),
    "layer_norm": (lambda x, w, b: nn.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    "group_norm": (lambda x: nn.group_norm(x, 2), [(2, 4, 3)]),
    "pixel_unshuffle": (lambda x: nn.pixel_unshuffle(x, 2), [(1, 2, 4, 4)]),
    "rnn_scan": (nn.rnn_scan, [(2, 3, 2), (2, 2), (2, 2)]),
}


@pytest.mark.parametrize("name", sorted(NN_FUNCTIONS))
def test_nn_function_matches_the_numpy_backend(name, strict):
    fn, shapes = NN_FUNCTIONS[name]
    rng = np.random.default_rng(7)
    assert_matches_numpy(fn, [rng.normal(size=shape) for shape in shapes], order=2)


# -- xg.special's functions of integer-array orders (one call per order, picked by where) -------

ORDERS = np.array([[0, 1, 2], [3, 1, 0]])
SPECIAL_ORDERS = {   # name -> function of one float64 argument of shape (2, 3), in (0.1, 0.9)
    "polygamma": lambda x: xg.special.polygamma(ORDERS, x + 0.5),
    "eval_legendre": lambda x: xg.special.eval_legendre(ORDERS, x),
    "eval_hermite": lambda x: xg.special.eval_hermite(ORDERS, x),
    "expn": lambda x: xg.special.expn(ORDERS, x + 0.5),
}


@pytest.mark.parametrize("name", sorted(SPECIAL_ORDERS))
def test_special_function_of_array_orders_matches_the_numpy_backend(name, strict):
    x = np.random.default_rng(8).uniform(0.1, 0.9, size=ORDERS.shape)
    assert_matches_numpy(SPECIAL_ORDERS[name], [x], order=2)


def test_gamma_shift_rule_matches_the_numpy_backend(strict):
    """``betaln`` and ``poch`` with one argument below 1e-3 of the other (or of the distance
    to a pole): ``special_gamma_shift``'s generic rule against the numpy backend's kernel."""
    rng = np.random.default_rng(9)
    a, b = rng.uniform(0.1, 0.9, size=(2, 3)), rng.uniform(0.1, 0.9, size=(3,))
    assert_matches_numpy(lambda a, b: xg.special.betaln(a * 1e-4, b + 1.0)
                         + xg.special.poch(b - 3.5, a * 1e-5), [a, b], order=2)
