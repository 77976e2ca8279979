"""``tbptt_train`` takes NumPy arrays for inputs and targets (as ``xg.function`` does), converted
as ``xg.asarray`` converts them onto the model's backend: the same losses and weights as the
Tensors give, eagerly and compiled; what is no array is still refused naming the argument."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad import nn


def _train(backend, as_numpy, compile):
    lstm = nn.LSTM(2, 3, rng=0, backend=backend)
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((2, 9, 2)).astype(np.float32)
    targets = rng.standard_normal((2, 9, 3)).astype(np.float32)
    if not as_numpy:
        inputs = xg.asarray(inputs, backend=backend)
        targets = xg.asarray(targets, backend=backend)
    result = nn.tbptt_train(lstm, xg.losses.mse, xg.optim.SGD(0.5), inputs, targets, k1=3,
                            compile=compile)
    return result, [v.numpy() for v in lstm.trainable_variables]


@pytest.mark.parametrize("compile", [False, True])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_numpy_arrays_train_as_the_tensors_do(backend, compile):
    if backend == "numba":
        pytest.importorskip("numba")
    (from_arrays, weights), (from_tensors, want) = (_train(backend, as_numpy, compile)
                                                    for as_numpy in (True, False))
    assert len(from_arrays.losses) == 3
    np.testing.assert_allclose(from_arrays.losses, from_tensors.losses, rtol=1e-6)
    assert from_arrays.state[0].backend.name == backend
    for got, expected in zip(weights, want):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert not np.allclose(want[0], nn.LSTM(2, 3, rng=0).trainable_variables[0].numpy())


@pytest.mark.parametrize("name", ["inputs", "targets"])
def test_what_is_no_array_is_still_refused_naming_it(name):
    args = dict(model=nn.LSTM(1, 2, rng=0), loss_fn=xg.losses.mse, optimizer=xg.optim.SGD(0.1),
                inputs=np.ones((2, 6, 1), np.float32), targets=np.zeros((2, 6, 2), np.float32),
                k1=2)
    args[name] = "abc"
    with pytest.raises(TypeError, match=rf"^tbptt_train: {name} must be a batch-first Tensor "
                                        r"\(batch, time, ...\) or a NumPy array, got str"):
        nn.tbptt_train(**args)
