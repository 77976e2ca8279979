"""``Linear.b = ...`` is checked as ``w`` and a tied ``weight`` are: before, a float64 bias on a
float32 layer was accepted and silently made every output float64 (and a bias of another shape
failed only at the next call, an array put where there was no bias was kept untrained). Now a
bias is None or an ``xg.Variable`` of shape (out_features,), the weights' dtype and backend; and
``w`` of another dtype than the bias is refused the same way."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = ["numpy"] + (["numba"] if backend_report()["numba"]["available"] else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype, other", [(xg.float32, np.float64), (xg.float64, np.float32)])
def test_a_bias_of_another_dtype_is_refused_as_a_tied_weight_is(backend, dtype, other):
    lin = xg.nn.Linear(3, 2, rng=0, dtype=dtype, backend=backend)
    before = lin.b
    with pytest.raises(TypeError, match=rf"Linear.b: the layer is {dtype}, the Variable "
                                        rf"{np.dtype(other).name} \(no silent promotion"):
        lin.b = xg.Variable(np.zeros(2, other), backend=backend)
    assert lin.b is before
    with pytest.raises(TypeError, match=rf"Linear.weight: the layer is {dtype}"):
        lin.weight = xg.Variable(np.zeros((2, 3), other), backend=backend)    # the same rule
    x = xg.ones((1, 3), dtype=dtype, backend=backend)
    assert lin(x).dtype == dtype


def test_a_bias_of_another_shape_or_not_a_variable_is_refused():
    lin = xg.nn.Linear(3, 2, rng=0)
    before = lin.b
    with pytest.raises(ValueError, match=r"Linear.b: \(out_features,\) = \(2,\), got \(3,\)"):
        lin.b = xg.Variable(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"got \(1, 2\)"):
        lin.b = xg.Variable(np.zeros((1, 2), np.float32))
    with pytest.raises(TypeError, match="Linear.b holds the Variable 'linear/b'"):
        lin.b = xg.zeros(2)
    assert lin.b is before
    lin.b = None                                       # no bias: still allowed
    with pytest.raises(TypeError, match=r"Linear.b: an xg.Variable of shape \(2,\) "
                                        r"\(out_features,\) or None, got ndarray"):
        lin.b = np.zeros(2, np.float32)                # would not be trained
    assert lin.b is None and [v.name for v in lin.trainable_variables] == ["linear/w"]


def test_a_bias_that_fits_is_kept_trained_and_saved():
    lin = xg.nn.Linear(3, 2, rng=0, bias=False)
    b = xg.Variable(np.array([1.0, -1.0], np.float32), name="mine")
    lin.b = b
    x = xg.asarray(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    with xg.GradientTape() as tape:
        out = lin(x)
        loss = xg.sum(out * out)
    assert out.dtype == xg.float32 and lin.trainable_variables[-1] is b
    np.testing.assert_allclose(out.numpy(), x.numpy() @ lin.w.numpy() + b.numpy(), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(loss, b).numpy(), 2 * out.numpy().sum(0),
                               rtol=1e-5)
    assert list(lin.state_dict()) == ["linear/w", "linear/b"]


def test_a_bias_of_a_tied_layer_follows_the_tied_weights_dtype():
    enc = xg.nn.Embedding(5, 3, rng=0, dtype=xg.float64)
    dec = xg.nn.Linear(3, 5, rng=1, dtype=xg.float64)
    dec.weight = enc.weight
    with pytest.raises(TypeError, match="Linear.b: the layer is float64, the Variable float32"):
        dec.b = xg.Variable(np.zeros(5, np.float32))
    dec.b = xg.Variable(np.zeros(5))
    assert dec(xg.ones((1, 3), dtype=xg.float64)).dtype == xg.float64


def test_w_of_another_dtype_than_the_bias_is_refused_until_the_bias_goes():
    lin = xg.nn.Linear(3, 2, rng=0)                     # float32
    w64 = xg.Variable(np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"Linear.w: the layer's bias is float32, the Variable "
                                        r"float64 .*set b = None first"):
        lin.w = w64
    assert lin.w.dtype == xg.float32
    lin.b = None                                        # a float64 layer, step by step
    lin.w = w64
    lin.b = xg.Variable(np.zeros(2))
    assert lin(xg.ones((1, 3), dtype=xg.float64)).dtype == xg.float64


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.skipif(len(BACKENDS) < 2, reason="numba is not installed")
def test_a_bias_on_another_backend_is_refused_naming_both():
    lin = xg.nn.Linear(3, 2, rng=0)
    with pytest.raises(TypeError, match=r"Linear.b: the layer is on backend 'numpy', the "
                                        r"Variable on 'numba'"):
        lin.b = xg.Variable(np.zeros(2, np.float32), backend="numba")
