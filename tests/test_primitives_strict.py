"""Every case of tests/test_primitives.py, and layers, losses and optimizers end to end, on
array-api-strict: values and gradients (a VJP through ``GradientTape``) equal the numpy
backend's in float64. The cupy backend runs the generic rules on CuPy arrays wherever it has no
kernel of its own, so a rule must use only the array API standard: this file finds the rules
that call NumPy, or lean on NumPy's behaviour, without a GPU."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import StrictBackend, registered_backend

from test_primitives import CASES, make

pytest.importorskip("array_api_strict")

#: test id -> why array-api-strict refuses what the cupy backend accepts (CuPy indexes as NumPy)
STRICTER_THAN_CUPY = {
    "tensor_scatter_nd_update": "the forward writes rows at integer positions "
                                "(out[rows, ...] = updates): the array API's __setitem__ takes "
                                "no integer arrays, CuPy's does",
    "softmax_cross_entropy_weight": "nll's VJP writes each row's label entry at integer "
                                    "positions (out[rows, labels] = values): the array API's "
                                    "__setitem__ takes no integer arrays, CuPy's does",
}


@pytest.fixture(scope="module")
def strict():
    with registered_backend("strict", StrictBackend) as backend:
        yield backend


def values_and_vjp(fn, arrays, backend):
    """``fn``'s outputs on float64 tensors of ``arrays`` made on ``backend``, and the gradient
    of their sum weighted by fixed random cotangents, as NumPy arrays (None: no gradient)."""
    with xg.use_backend(backend):
        args = [xg.asarray(a, dtype=xg.float64) for a in arrays]
        with xg.GradientTape() as tape:
            tape.watch(args)
            out = fn(*args)
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            noise = np.random.default_rng(1)
            loss = sum(xg.sum(o * xg.astype(xg.asarray(noise.standard_normal(o.shape)), o.dtype))
                       for o in outs)
        grads = tape.gradient(loss, args)
    assert {t.backend.name for t in outs + [g for g in grads if g is not None]} == {backend}
    return [o.numpy() for o in outs], [None if g is None else g.numpy() for g in grads]


def assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (g is None) == (w is None)
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def _marked(value, test_id):
    reason = STRICTER_THAN_CUPY.get(test_id)
    marks = [pytest.mark.xfail(raises=IndexError, strict=True, reason=reason)] if reason else []
    return pytest.param(value, id=test_id, marks=marks)


@pytest.mark.parametrize("case", [_marked(case, case.id) for case in CASES])
def test_primitive_matches_the_numpy_backend(case, strict):
    rng = np.random.default_rng(0)
    arrays = [make(spec, rng).numpy() for spec in case.specs]
    want_values, want_grads = values_and_vjp(case.fn, arrays, "numpy")
    got_values, got_grads = values_and_vjp(case.fn, arrays, "strict")
    assert_same(got_values, want_values)
    assert_same(got_grads, want_grads)


# -- layers, losses and optimizers end to end ---------------------------------------------------

def _output(out):
    return out[0] if isinstance(out, tuple) else out      # recurrent layers: (outputs, state)


LAYERS = {   # name -> (the layer on the current backend, its float64 input's shape)
    "Linear": (lambda: xg.nn.Linear(3, 4, rng=0, dtype=xg.float64), (5, 3)),
    "Conv1d": (lambda: xg.nn.Conv1d(2, 3, 3, padding=1, stride=2, rng=0, dtype=xg.float64),
               (2, 2, 7)),
    "Conv2d": (lambda: xg.nn.Conv2d(2, 3, (3, 2), padding=1, dilation=(1, 2), rng=0,
                                    dtype=xg.float64), (2, 2, 5, 6)),
    "LSTM": (lambda: xg.nn.LSTM(3, 4, 2, batch_first=True, rng=0, dtype=xg.float64), (2, 5, 3)),
    "GRU": (lambda: xg.nn.GRU(3, 4, batch_first=True, bidirectional=True, rng=0,
                              dtype=xg.float64), (2, 5, 3)),
    "LayerNorm": (lambda: xg.nn.LayerNorm(4, dtype=xg.float64), (3, 2, 4)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_the_numpy_backend(name, strict):
    build, shape = LAYERS[name]
    x = np.random.default_rng(2).standard_normal(shape)
    results = []
    for backend in ("numpy", "strict"):
        with xg.use_backend(backend):
            layer = build()
            variables = list(layer.trainable_variables)
            outs, grads = values_and_vjp(lambda x: _output(layer(x)), [x], backend)
            with xg.GradientTape() as tape:
                loss = xg.sum(_output(layer(xg.asarray(x, dtype=xg.float64))) ** 2)
            grads += [g.numpy() for g in tape.gradient(loss, variables)]
        results.append((outs, grads))
    assert_same(results[1][0], results[0][0])
    assert_same(results[1][1], results[0][1])


LOSSES = {   # name -> loss of (float64 tensor of shape (4, 5), integer labels of shape (4,))
    "softmax_cross_entropy": lambda x, y: xg.losses.softmax_cross_entropy(x, y),
    "softmax_cross_entropy_smoothing": lambda x, y: xg.losses.softmax_cross_entropy(
        x, y, label_smoothing=0.1, reduction="sum"),
    "softmax_cross_entropy_weight": lambda x, y: xg.losses.softmax_cross_entropy(
        x, y, weight=xg.linspace(0.5, 1.5, 5, dtype=xg.float64)),
    "mse": lambda x, y: xg.losses.mse(x, xg.reshape(xg.linspace(-1.0, 1.0, 20,
                                                                dtype=xg.float64), (4, 5))),
}


@pytest.mark.parametrize("name", [_marked(name, name) for name in sorted(LOSSES)])
def test_loss_matches_the_numpy_backend(name, strict):
    x = np.random.default_rng(3).standard_normal((4, 5))
    labels = np.array([0, 4, 2, 2])
    results = [values_and_vjp(lambda x: LOSSES[name](x, xg.asarray(labels)), [x], backend)
               for backend in ("numpy", "strict")]
    assert_same(results[1][0], results[0][0])
    assert_same(results[1][1], results[0][1])


OPTIMIZERS = {
    "SGD": lambda: xg.optim.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adam": lambda: xg.optim.Adam(0.05, amsgrad=True, weight_decay=0.01),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_match_the_numpy_backend(name, strict):
    x = np.random.default_rng(4).standard_normal((6, 3))
    labels = np.array([0, 1, 3, 2, 1, 0])
    results = []
    for backend in ("numpy", "strict"):
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
