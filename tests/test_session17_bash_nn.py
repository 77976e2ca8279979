"""Session 17 bug bash of the day's nn features (initializer arguments, ``blockwise``,
``scaled_dot_product_attention``, ``MultiheadAttention``), used as a PyTorch user would:
each test failed before its fix."""
from __future__ import annotations

import functools

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


@pytest.mark.usefixtures("numpy_default")
def test_blockwise_refuses_integer_blocks_and_casts_float_ones():
    with pytest.raises(TypeError, match="blockwise: init <lambda> returned int64 values"):
        xg.nn.init.blockwise(lambda rng, shape, dtype: np.ones(shape, int), 2)(0, (2, 4))
    w = xg.nn.init.blockwise(lambda rng, shape, dtype: np.full(shape, 0.5), 2)(0, (2, 4))
    assert w.dtype == xg.float32 and w.tolist() == [[0.5] * 4] * 2
    mixed = xg.nn.init.blockwise(_ones_on("numba"), 2)(xg.random.default_rng(0), (2, 4),
                                                        "float64")
    assert mixed.backend.name == "numpy" and mixed.dtype == xg.float64


# -- float masks of another dtype ------------------------------------------------------------------
def _qkv(dtype):
    rs = np.random.RandomState(0)
    return [rs.randn(2, 3, 4, 5).astype(dtype) for _ in range(3)]


def test_sdpa_takes_a_float32_mask_with_float64_inputs_as_pytorch():
    q, k, v = _qkv(np.float64)
    mask = np.where(np.random.RandomState(1).rand(4, 4) < 0.3, -np.inf, 0.5).astype(np.float32)
    mask[:, 0] = 0.0
    want = torch.nn.functional.scaled_dot_product_attention(
        *map(torch.tensor, (q, k, v)), attn_mask=torch.tensor(mask)).numpy()
    for m in (mask, xg.asarray(mask), mask.tolist()):
        got = sdpa(q, k, v, attn_mask=m)
        assert got.dtype == xg.float64
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_sdpa_casts_a_numpy_float64_mask_for_float32_inputs_but_refuses_a_wider_tensor():
    q, k, v = _qkv(np.float32)
    causal = np.triu(np.full((4, 4), -np.inf), 1)           # NumPy's default dtype: float64
    got = sdpa(q, k, v, attn_mask=causal)
    np.testing.assert_allclose(got.numpy(), sdpa(q, k, v, is_causal=True).numpy(), atol=1e-6)
    with pytest.raises(TypeError, match="attn_mask must be bool .* got float64"):
        sdpa(q, k, v, attn_mask=xg.asarray(causal))


def test_multihead_attention_takes_numpy_float_masks_on_a_float32_layer():
    mha = xg.nn.MultiheadAttention(4, 2, rng=0)
    x = np.random.RandomState(0).randn(2, 3, 4).astype(np.float32)
    causal = np.triu(np.full((3, 3), -np.inf), 1)
    pad = np.array([[0.0, 0.0, -np.inf], [0.0, 0.0, 0.0]])
    out, w = mha(x, x, x, attn_mask=causal, key_padding_mask=pad)
    ref, ref_w = mha(x, x, x, is_causal=True,
                     key_padding_mask=np.array([[False, False, True], [False] * 3]))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-6)
    np.testing.assert_allclose(w.numpy(), ref_w.numpy(), atol=1e-6)


def test_float32_mask_gradient_with_float64_inputs():
    """A learned float32 bias on float64 scores gets a float32 gradient equal to PyTorch's."""
    q, k, v = _qkv(np.float64)
    bias = np.random.RandomState(2).randn(4, 4).astype(np.float32)
    tb = torch.tensor(bias, requires_grad=True)
    out = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)),
                                                           attn_mask=tb)
    (out ** 2).sum().backward()
    xb = xg.Variable(xg.asarray(bias))
    with xg.GradientTape() as tape:
        loss = (sdpa(q, k, v, attn_mask=xb) ** 2).sum()
    g = tape.gradient(loss, xb)
    assert g.dtype == xg.float32
    np.testing.assert_allclose(g.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-6)


# -- PyTorch's in-place initializers passed as init ------------------------------------------------
@pytest.mark.parametrize("fn, instead", [
    (torch.nn.init.orthogonal_, r"pass 'orthogonal' \(or xg.nn.init.orthogonal\(\)\)"),
    (torch.nn.init.xavier_uniform_, "pass 'xavier_uniform'"),
    (torch.nn.init.kaiming_normal_, "pass 'kaiming_normal'"),
    (torch.nn.init.normal_, r"pass xg.nn.init.normal\(mean, stddev\)"),
    (torch.nn.init.trunc_normal_, r"pass xg.nn.init.truncated_normal\(mean, stddev\)"),
    (torch.nn.init.eye_, "pass a name of xg.nn.init.INITIALIZERS"),
])
def test_torch_in_place_initializer_is_a_type_error_naming_the_argument(fn, instead):
    # it used to be called as fn(generator, shape, dtype): AttributeError 'Generator' object
    # has no attribute 'ndimension'
    name = fn.__name__
    with pytest.raises(TypeError, match=rf"LSTM: recurrent_init=torch.nn.init.{name} fills a "
                                        rf"PyTorch tensor in place.*{instead}"):
        xg.nn.LSTM(3, 4, recurrent_init=fn, rng=0)
    with pytest.raises(TypeError, match=rf"Linear: init=torch.nn.init.{name}"):
        xg.nn.Linear(3, 4, init=fn, rng=0)
    with pytest.raises(TypeError, match=rf"blockwise: init=torch.nn.init.{name}"):
        xg.nn.init.blockwise(fn, 4)
    with pytest.raises(TypeError, match=rf"kernel_init=torch.nn.init.{name} fills"):
        xg.nn.GRU(3, 4, kernel_init=functools.partial(fn), rng=0)


# -- torch tensors returned by a custom initializer ----------------------------------------------
@pytest.mark.parametrize("make", [
    lambda s: torch.nn.Parameter(torch.full(s, 0.5)),          # requires grad
    lambda s: torch.full(s, 0.5, dtype=torch.bfloat16),         # no NumPy dtype
    lambda s: torch.nn.init.constant_(torch.empty(s, dtype=torch.float64), 0.5),
])
def test_initializer_returning_a_torch_tensor(make):
    # a Parameter raised torch's "Can't call numpy() on Tensor that requires grad"; bfloat16
    # "returned Tensor, expected a tensor"
    lstm = xg.nn.LSTM(3, 4, recurrent_init=lambda rng, shape, dtype: make(shape), rng=0)
    w = lstm.layers[0].w_hh
    assert w.dtype == xg.float32 and w.shape == (4, 16)
    assert np.all(w.numpy() == 0.5)


def test_initializer_returning_torch_integers_is_refused_as_numpy_ones():
    with pytest.raises(TypeError, match=r"LSTMCell: recurrent_init <lambda> returned int32 "
                                        r"values, expected real floats"):
        xg.nn.LSTM(3, 4, recurrent_init=lambda rng, shape, dtype: torch.ones(
            shape, dtype=torch.int32), rng=0)


# -- large logits: the product q @ k^T must not overflow before the scale -------------------------
@pytest.mark.parametrize("E, L, S, scale", [(8, 3, 2, None), (8, 1, 2, None), (2, 3, 8, None),
                                         (16, 4, 4, 1.0 / 8.0)])
def test_sdpa_large_float32_logits_that_fit_once_scaled(E, L, S, scale):
    # q . k = E * 1e38 overflows float32 (3.4e38) but the scaled score (E = 8: 8e38 / sqrt(8);
    # E = 16: 16e38 / 8) does not; it gave NaN when E > S (the product was scaled after the
    # matmul)
    q = np.full((1, L, E), 1e19, np.float32)
    q[0, 0] *= -1.0
    k = np.full((1, S, E), 1e19, np.float32)
    k[0, 0] *= 0.5
    v = np.random.RandomState(0).randn(1, S, 4).astype(np.float32)
    want = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)),
                                                            scale=scale)
    got = sdpa(q, k, v, scale=scale)
    assert not np.isnan(got.numpy()).any()
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


# -- recompute_grad of a block that makes its own generator (rng=None) ----------------------------
def _dropped_attention_grad(remat, persistent=False):
    rs = np.random.RandomState(0)
    q, k = xg.asarray(rs.randn(6, 4)), xg.asarray(rs.randn(5, 4))
    v = xg.Variable(xg.asarray(np.eye(5)))      # the output is the weights after dropout

    def block(v):
        return sdpa(q, k, v, dropout_p=0.5)      # rng=None: a fresh generator each call
    f = xg.recompute_grad(block) if remat else block
    with xg.GradientTape(persistent=persistent) as tape:
        out = f(v)
        loss = out.sum()
    grads = [tape.gradient(loss, v) for _ in range(2 if persistent else 1)]
    # d sum(W @ v) / dv[s, j] = sum_l W[l, s]: the mask of the forward pass
    return out.numpy().sum(axis=0)[:, None] * np.ones((1, 5)), grads


@pytest.mark.parametrize("remat, persistent", [(False, False), (True, False), (True, True)])
def test_recompute_grad_replays_the_dropout_of_sdpa_with_rng_none(remat, persistent):
    # recomputing made a new fresh-entropy generator: another mask, a wrong gradient
    want, grads = _dropped_attention_grad(remat, persistent)
    for g in grads:
        np.testing.assert_allclose(g.numpy(), want, atol=1e-12)


def test_recompute_grad_nested_blocks_with_their_own_generators():
    def noise(v):
        return xg.random.default_rng().normal(size=v.shape, dtype=v.dtype) * v

    inner = xg.recompute_grad(noise)
    outer = xg.recompute_grad(lambda v: inner(noise(v)))
    v = xg.Variable(xg.ones(4, dtype="float64"))
    with xg.GradientTape() as tape:
        y = outer(v)
        loss = y.sum()
    # y = a * b * v for the two draws a, b: dy/dv = a * b = y
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), y.numpy(), atol=1e-12)
    # outside a recomputed block, a generator without a seed still draws fresh numbers
    draws = [xg.random.default_rng().normal(size=3).numpy() for _ in range(2)]
    assert not np.array_equal(*draws)
