"""Gradients on quantised data -- arrays of a few integers, full of exact ties and zeros --
against PyTorch's, in float32 and float64, on every host backend, eagerly and under
``xg.function``: the sizes and shapes that take the Numba backend's fused kernels (activation,
clip, row max, pooling, logsumexp, softmax cross-entropy), whose tie and kink rules must be
their generic rules' (the NumPy backend's) and PyTorch's. The small special points are in
test_gradients_at_special_points.py.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from special_point_gradients import MODES, assert_same, ours, theirs

torch = pytest.importorskip("torch")
F = torch.nn.functional
BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


def _quantised(shape, seed=0, low=-2, high=2):
    """Integers in [low, high] as floats: a third or more of the entries tie with another."""
    return np.random.default_rng(seed).integers(low, high + 1, size=shape).astype(np.float64)


def _neg_inf_where_negative(shape, seed):
    values = _quantised(shape, seed)
    return np.where(values < 0, -math.inf, values)


LABELS = _quantised((64,), 3, 0, 19).astype(np.int64)


def _logits():
    """Rows of 20 with about a third of the logits -inf, never the target's."""
    logits = _neg_inf_where_negative((64, 20), 4)
    logits[np.arange(64), LABELS] = 1.0
    return logits


def _labels(x):
    return xg.asarray(LABELS, backend=x.backend.name)


ROWS = _quantised((64, 200))

#: name: (xpgrad's function, PyTorch's, the inputs (float64; cast for float32))
CASES = {
    "relu": (xg.nn.relu, F.relu, [ROWS]),
    "leaky_relu": (xg.nn.leaky_relu, F.leaky_relu, [ROWS]),
    "relu6": (xg.nn.relu6, F.relu6, [ROWS * 3.0]),
    "hardtanh": (xg.nn.hardtanh, F.hardtanh, [ROWS]),
    "clip": (lambda x: xg.clip(x, -1.0, 1.0), lambda t: t.clamp(-1.0, 1.0), [ROWS]),
    "abs": (xg.abs, torch.abs, [ROWS]),
    "sqrt": (xg.sqrt, torch.sqrt, [np.abs(ROWS)]),
    "relu of a linear layer": (lambda x, w: xg.nn.relu(x @ w), lambda t, u: F.relu(t @ u),
                               [_quantised((64, 32), 1), _quantised((32, 48), 2)]),
    "maximum": (xg.maximum, torch.maximum, [ROWS, _quantised((64, 200), 5)]),
    "minimum": (xg.minimum, torch.minimum, [ROWS, _quantised((64, 200), 5)]),
    "max of rows": (lambda x: xg.max(x, axis=-1), lambda t: t.amax(-1), [ROWS]),
    "max of columns": (lambda x: xg.max(x, axis=0), lambda t: t.amax(0), [ROWS]),
    "min of rows": (lambda x: xg.min(x, axis=-1), lambda t: t.amin(-1), [ROWS]),
    "max_pool2d": (lambda x: xg.nn.max_pool2d(x, 2), lambda t: F.max_pool2d(t, 2),
                   [_quantised((2, 3, 16, 16), 6)]),
    "max_pool2d overlapping, padded": (lambda x: xg.nn.max_pool2d(x, 3, stride=1, padding=1),
                                       lambda t: F.max_pool2d(t, 3, stride=1, padding=1),
                                       [_quantised((2, 3, 16, 16), 6)]),
    "max_pool1d": (lambda x: xg.nn.max_pool1d(x, 3), lambda t: F.max_pool1d(t, 3),
                   [_quantised((2, 3, 30), 7)]),
    "adaptive_max_pool2d": (lambda x: xg.nn.adaptive_max_pool2d(x, 3),
                            lambda t: F.adaptive_max_pool2d(t, 3), [_quantised((2, 3, 10, 10), 8)]),
    "vector_norm of rows, some zero": (lambda x: xg.linalg.vector_norm(x, axis=-1),
                                       lambda t: torch.linalg.vector_norm(t, dim=-1),
                                       [_quantised((64, 3), 9) * (_quantised((64, 1), 10) > 0)]),
    "logsumexp with -inf": (lambda x: xg.logsumexp(x, axis=-1), lambda t: torch.logsumexp(t, -1),
                            [_neg_inf_where_negative((64, 200), 11)]),
    "log_softmax with -inf": (xg.nn.log_softmax, lambda t: F.log_softmax(t, -1),
                              [np.where(_quantised((64, 20), 12) < 0, -math.inf, 1.0)]),
    "cross entropy with -inf logits": (
        lambda x: xg.losses.softmax_cross_entropy(x, _labels(x)),
        lambda t: F.cross_entropy(t, torch.tensor(LABELS)), [_logits()]),
    "cross entropy with label smoothing and -inf logits": (
        lambda x: xg.losses.softmax_cross_entropy(x, _labels(x), label_smoothing=0.1,
                                                  reduction="none"),
        lambda t: F.cross_entropy(t, torch.tensor(LABELS), label_smoothing=0.1,
                                  reduction="none"), [_logits()]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_on_quantised_data_matches_torch(name, backend, mode, dtype):
    f, torch_f, arrays = CASES[name]
    arrays = [a.astype(dtype) for a in arrays]
    watch = tuple(range(len(arrays)))
    assert_same(ours(f, arrays, watch, backend, mode), theirs(torch_f, arrays, watch),
                f"{name} ({backend}, {mode}, {np.dtype(dtype).name})",
                rtol=2e-5 if dtype == np.float32 else 1e-12)
