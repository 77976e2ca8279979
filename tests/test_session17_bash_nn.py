"""Session 17 bug bash of the day's nn features (initializer arguments, ``blockwise``,
``scaled_dot_product_attention``, ``MultiheadAttention``), used as a PyTorch user would:
each test failed before its fix."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg

sdpa = xg.nn.scaled_dot_product_attention


# -- a custom initializer returning a Tensor of another backend --------------------------------
def _ones_on(backend):
    def init(rng, shape, dtype=xg.float32):
        return xg.ones(shape, dtype=dtype, backend=backend)
    return init


@pytest.mark.parametrize("layer_backend, init_backend", [("numpy", "numba"),
                                                         ("numba", "numpy")])
@pytest.mark.parametrize("make", [      # the layer's backend is its generator's, as by default
    lambda rng, init: xg.nn.LSTM(3, 4, kernel_init=init, bias_init=init, rng=rng),
    lambda rng, init: xg.nn.GRU(3, 4, recurrent_init=init, bias_init=init, rng=rng),
    lambda rng, init: xg.nn.RNN(3, 4, num_layers=2, kernel_init=init, rng=rng),
    lambda rng, init: xg.nn.Linear(3, 4, init=init, bias_init=init, rng=rng),
    lambda rng, init: xg.nn.MLP([3, 4, 2], init=init, rng=rng),
])
def test_initializer_tensor_of_another_backend_lands_on_the_layers(make, layer_backend,
                                                                     init_backend):
    layer = make(xg.random.default_rng(0, backend=layer_backend), _ones_on(init_backend))
    assert {v.backend.name for v in layer.variables} == {layer_backend}
    recurrent = isinstance(layer, (xg.nn.LSTM, xg.nn.GRU, xg.nn.RNN))
    x = xg.ones((2, 5, 3) if recurrent else (2, 3), backend=layer_backend)
    out = layer(x)
    out = out[0] if isinstance(out, tuple) else out
    assert out.backend.name == layer_backend


# -- blockwise checks each block -----------------------------------------------------------------
def test_blockwise_refuses_a_block_of_the_wrong_shape():
    # each block a (3,) vector: joined, they used to make a (9,) "weight" for a (4, 12) shape
    bad = xg.nn.init.blockwise(lambda rng, shape, dtype: np.ones(3), 3)
    with pytest.raises(ValueError, match=r"blockwise: init <lambda> returned shape \(3,\), "
                                         r"expected \(4, 4\)"):
        bad(0, (4, 12))
    with pytest.raises(ValueError, match=r"LSTMCell: recurrent_init blockwise\(<lambda>, 4\).*"
                                         r"returned shape \(3,\)"):
        xg.nn.LSTM(3, 4, recurrent_init=xg.nn.init.blockwise(
            lambda rng, shape, dtype: np.ones(3), 4), rng=0)


def test_blockwise_refuses_integer_blocks_and_casts_float_ones():
    with pytest.raises(TypeError, match="blockwise: init <lambda> returned int64 values"):
        xg.nn.init.blockwise(lambda rng, shape, dtype: np.ones(shape, int), 2)(0, (2, 4))
    w = xg.nn.init.blockwise(lambda rng, shape, dtype: np.full(shape, 0.5), 2)(0, (2, 4))
    assert w.dtype == xg.float32 and w.tolist() == [[0.5] * 4] * 2
    mixed = xg.nn.init.blockwise(_ones_on("numba"), 2)(xg.random.default_rng(0), (2, 4),
                                                        "float64")
    assert mixed.backend.name == "numpy" and mixed.dtype == xg.float64
