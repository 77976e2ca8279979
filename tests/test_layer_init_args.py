"""The layers' initializer arguments: ``kernel_init`` / ``recurrent_init`` / ``bias_init`` of the
recurrent layers and cells, ``bias_init`` of Linear and MLP. Each argument reaches its weight
(draws redone from the same seed), the draws' moments are within K standard errors of theory,
orthogonal recurrent weights are Keras' (orthonormal rows of the whole (H, G*H) matrix) or,
through ``blockwise``, orthogonal per gate, the forget-gate bias follows Keras'
``unit_forget_bias``, both directions of a bidirectional layer follow the same rule with their
own draws, and bad input is an error naming the argument."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import xpgrad as xg
from xpgrad.nn import init

K = 5.0
BACKENDS = ("numpy", "numba")
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _check_moments(x, mean, var, kurtosis):
    """Mean and variance within K standard errors (the variance's from the kurtosis)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) <= K * math.sqrt(var / n), (x.mean(), mean)
    assert abs(x.var() - var) <= K * var * math.sqrt((kurtosis - 1) / n), (x.var(), var)


# -- each argument reaches its weight, in the documented order ---------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_each_argument_draws_its_weight(kind, backend):
    I, H, G = 3, 4, GATES[kind] * 4
    kernel, recurrent, bias = init.he_uniform, init.orthogonal(2.0), init.normal(0.3, 0.1)
    kwargs = dict(kernel_init=kernel, recurrent_init=recurrent, bias_init=bias)
    if kind == "LSTM":
        kwargs["forget_bias"] = None
    cell = getattr(xg.nn, f"{kind}Cell")(I, H, rng=xg.random.default_rng(5, backend=backend),
                                         dtype="float64", **kwargs)
    gen = xg.random.default_rng(5, backend=backend)
    expected = [kernel(gen, (I, G), "float64"), recurrent(gen, (H, G), "float64"),
                bias(gen, (G,), "float64")]
    if kind == "GRU":
        expected.append(bias(gen, (H,), "float64"))
    got = cell.trainable_variables
    assert len(got) == len(expected)
    for v, e in zip(got, expected):
        assert v.backend.name == backend and v.dtype == xg.float64
        assert v.numpy().tobytes() == e.numpy().tobytes(), v.name


@pytest.mark.parametrize("backend", BACKENDS)
def test_sequence_layer_cells_follow_one_rule_with_their_own_draws(backend):
    """Every layer and direction: the same initializers, drawn one cell after another from
    the layer's generator (forward cells of every layer, then the reverse ones)."""
    lstm = xg.nn.LSTM(3, 4, num_layers=2, bidirectional=True, kernel_init="glorot_uniform",
                      recurrent_init="orthogonal", bias_init=init.uniform(-0.1, 0.1),
                      rng=xg.random.default_rng(9, backend=backend))
    gen = xg.random.default_rng(9, backend=backend)
    cells = lstm.layers + lstm.reverse_layers
    for cell, n_in in zip(cells, [3, 8, 3, 8]):
        w_ih = init.glorot_uniform(gen, (n_in, 16)).numpy()
        w_hh = init.orthogonal()(gen, (4, 16)).numpy()
        b = init.uniform(-0.1, 0.1)(gen, (16,)).numpy()
        b[4:8] = 1.0                                        # forget_bias, after bias_init
        for v, e in zip(cell.trainable_variables, [w_ih, w_hh, b], strict=True):
            assert v.backend.name == backend and v.numpy().tobytes() == e.tobytes(), v.name
    forward, reverse = lstm.layers[0].w_hh.numpy(), lstm.reverse_layers[0].w_hh.numpy()
    assert not np.allclose(forward, reverse)               # independent draws


# -- moments against theory --------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_recurrent_moments_match_theory(kind, dtype, backend):
    I, H = 300, 120
    G = GATES[kind] * H
    kwargs = dict(kernel_init="glorot_uniform", recurrent_init="he_normal",
                  bias_init="torch_linear_default")
    if kind == "LSTM":
        kwargs["forget_bias"] = None
    layer = getattr(xg.nn, kind)(I, H, bidirectional=True, dtype=dtype,
                                 rng=xg.random.default_rng(21, backend=backend), **kwargs)
    for cell in layer.layers + layer.reverse_layers:
        # Keras' fans: the whole (I, G) kernel, the whole (H, G) recurrent kernel
        _check_moments(cell.w_ih.numpy(), 0.0, 2 / (I + G), 9 / 5)
        assert abs(cell.w_ih.numpy()).max() <= math.sqrt(6 / (I + G)) * (1 + 1e-6)
        _check_moments(cell.w_hh.numpy(), 0.0, 2 / H, 3.0)
        biases = [cell.b.numpy()] + ([cell.b_hn.numpy()] if kind == "GRU" else [])
        b = np.concatenate(biases)
        # PyTorch's RNN bias bound 1/sqrt(hidden_size): variance 1 / (3 H)
        _check_moments(b, 0.0, 1 / (3 * H), 9 / 5)
        assert abs(b).max() <= 1 / math.sqrt(H) * (1 + 1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lstm_bias_init_with_unit_forget_bias(backend):
    """Keras' unit_forget_bias after bias_initializer: the forget slice is forget_bias, the
    others bias_init's draws."""
    H = 500
    cell = xg.nn.LSTMCell(4, H, bias_init=init.normal(0.5, 0.2), forget_bias=2.0,
                          rng=xg.random.default_rng(3, backend=backend), dtype="float64")
    b = cell.b.numpy()
    assert np.all(b[H:2 * H] == 2.0)
    _check_moments(np.concatenate([b[:H], b[2 * H:]]), 0.5, 0.04, 3.0)
    zero = xg.nn.LSTMCell(4, H, bias_init=init.normal(0.5, 0.2), forget_bias=0.0, rng=3)
    assert np.all(zero.b.numpy()[H:2 * H] == 0.0)      # a number replaces: 0 too


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_bias_init_moments(dtype, backend):
    fan_in, out = 40, 20000
    layer = xg.nn.Linear(fan_in, out, init="torch_linear_default",
                         bias_init="torch_linear_default", dtype=dtype,
                         rng=xg.random.default_rng(8, backend=backend))
    assert layer.b.backend.name == backend and layer.b.dtype == getattr(xg, dtype)
    bound = 1 / math.sqrt(fan_in)
    for v in (layer.w, layer.b):
        x = v.numpy()
        _check_moments(x, 0.0, bound ** 2 / 3, 9 / 5)
        assert abs(x).max() <= np.dtype(dtype).type(bound)
    mlp = xg.nn.MLP([30, 4000, 10], bias_init="torch_linear_default", dtype=dtype,
                    rng=xg.random.default_rng(8, backend=backend))
    _check_moments(mlp.layers[0].b.numpy(), 0.0, 1 / 90, 9 / 5)     # each layer's own fan_in
    assert abs(mlp.layers[1].b.numpy()).max() <= 1 / math.sqrt(4000)
    constant = xg.nn.Linear(3, 2, bias_init=init.constant(0.1), rng=0, dtype=dtype)
    assert constant.b.numpy().tolist() == [np.dtype(dtype).type(0.1)] * 2


def test_linear_torch_default_is_pytorchs_distribution():
    """Weights and bias of Linear(init=bias_init="torch_linear_default") against
    torch.nn.Linear's own (transposed weight), a two-sample Kolmogorov-Smirnov test each."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Linear(50, 3000, dtype=torch.float64)
    ours = xg.nn.Linear(50, 3000, init="torch_linear_default", bias_init="torch_linear_default",
                        rng=1, dtype="float64")
    pairs = [(ours.w.numpy(), ref.weight.detach().numpy().T),
             (ours.b.numpy(), ref.bias.detach().numpy())]
    for a, b in pairs:
        assert a.shape == b.shape
        assert stats.ks_2samp(a.ravel(), b.ravel()).pvalue > 1e-3
    # and a bias drawn wider or narrower would be told apart
    assert stats.ks_2samp(1.2 * pairs[1][0], pairs[1][1]).pvalue < 1e-3


def test_orthogonal_recurrent_init_is_pytorchs_orthogonal_weight_hh():
    """PyTorch users call orthogonal_ on the whole (4H, H) weight_hh: the transpose of our
    (H, 4H) w_hh, same distribution (entries: two-sample KS test; and the Gram matrix)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    H, ours, theirs = 6, [], []
    rng = xg.random.default_rng(2)
    for _ in range(100):
        cell = xg.nn.LSTMCell(3, H, recurrent_init="orthogonal", rng=rng, dtype="float64")
        ours.append(cell.torch_state_dict()["weight_hh"])
        ref = torch.nn.LSTM(3, H, dtype=torch.float64)
        theirs.append(torch.nn.init.orthogonal_(ref.weight_hh_l0).detach().numpy().copy())
    for a, b in zip(ours[:3], theirs[:3]):
        assert a.shape == b.shape == (4 * H, H)
        np.testing.assert_allclose(a.T @ a, np.eye(H), atol=1e-12)
        np.testing.assert_allclose(b.T @ b, np.eye(H), atol=1e-12)
    assert stats.ks_2samp(np.ravel(ours), np.ravel(theirs)).pvalue > 1e-3
    blocks = [np.linalg.svd(w[H:2 * H], compute_uv=False) for w in ours]
    torch_blocks = [np.linalg.svd(w[H:2 * H], compute_uv=False) for w in theirs]
    assert stats.ks_2samp(np.ravel(blocks), np.ravel(torch_blocks)).pvalue > 1e-3


# -- orthogonality -----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-6)])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_orthogonal_recurrent_init_is_keras(kind, dtype, tol, backend):
    """One (H, G*H) draw with orthonormal rows, in every layer and direction; with more than
    one gate a gate's block is not orthogonal (its rows have norm about 1/sqrt(gates))."""
    H, gates = 16, GATES[kind]
    layer = getattr(xg.nn, kind)(5, H, num_layers=2, bidirectional=True,
                                 recurrent_init="orthogonal", dtype=dtype,
                                 rng=xg.random.default_rng(4, backend=backend))
    for cell in layer.layers + layer.reverse_layers:
        w = cell.w_hh.numpy().astype(np.float64)
        assert cell.w_hh.backend.name == backend and w.shape == (H, gates * H)
        np.testing.assert_allclose(w @ w.T, np.eye(H), rtol=0, atol=tol * gates * H)
        if gates > 1:
            block = w[:, H:2 * H]
            assert abs(block.T @ block - np.eye(H)).max() > 0.3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_blockwise_orthogonal_is_orthogonal_per_gate(kind, backend):
    H, gates = 12, GATES[kind]
    layer = getattr(xg.nn, kind)(5, H, bidirectional=True, dtype="float64",
                                 recurrent_init=init.blockwise(init.orthogonal(1.5), gates),
                                 kernel_init=init.blockwise("orthogonal", gates),
                                 rng=xg.random.default_rng(6, backend=backend))
    for cell in layer.layers + layer.reverse_layers:
        w_hh, w_ih = cell.w_hh.numpy(), cell.w_ih.numpy()
        for g in range(gates):
            block = w_hh[:, g * H:(g + 1) * H]
            np.testing.assert_allclose(block.T @ block, 2.25 * np.eye(H), rtol=0, atol=1e-12)
            block = w_ih[:, g * H:(g + 1) * H]              # (5, 12): orthonormal rows
            np.testing.assert_allclose(block @ block.T, np.eye(5), rtol=0, atol=1e-12)
        assert not np.allclose(w_hh[:, :H], w_hh[:, H:2 * H])   # each gate its own draw
    gen = xg.random.default_rng(0)
    assert init.blockwise("zeros", 3)(gen, (2, 6)).shape == (2, 6)
    assert init.blockwise(init.orthogonal(), 2).__name__ == "blockwise(orthogonal(gain=1.0), 2)"


# -- bad input ---------------------------------------------------------------------------------
def _returns(value):
    return lambda rng, shape, dtype: value(shape)


BAD = [
    (lambda: xg.nn.LSTM(3, 4, kernel_init="nope"), ValueError, ["LSTM", "kernel_init 'nope'"]),
    (lambda: xg.nn.GRU(3, 4, recurrent_init=3), TypeError, ["GRU", "recurrent_init"]),
    (lambda: xg.nn.RNN(3, 4, bias_init="uniform"), ValueError,
     ["RNN", "bias_init 'uniform' takes parameters"]),
    (lambda: xg.nn.RNNCell(3, 4, recurrent_init=init.normal), TypeError,
     ["recurrent_init=xg.nn.init.normal is a factory"]),
    (lambda: xg.nn.LSTM(3, 4, bias=False, bias_init="zeros"), ValueError,
     ["LSTM", "bias_init", "bias=False"]),
    (lambda: xg.nn.GRUCell(3, 4, bias=False, bias_init=init.constant(1.0)), ValueError,
     ["GRUCell", "bias_init", "bias=False"]),
    (lambda: xg.nn.Linear(3, 4, bias=False, bias_init="zeros"), ValueError,
     ["Linear", "bias_init", "bias=False"]),
    (lambda: xg.nn.MLP([3, 4], bias=False, bias_init="zeros"), ValueError,
     ["MLP", "bias_init", "bias=False"]),
    (lambda: xg.nn.MLP([3, 4], bias_init="nope"), ValueError, ["MLP", "bias_init 'nope'"]),
    (lambda: xg.nn.MLP([3, 4], init="nope"), ValueError, ["MLP", "init 'nope'"]),
    (lambda: xg.nn.Linear(3, 4, bias_init="glorot"), ValueError,
     ["Linear", "bias_init 'glorot'", "(4,)"]),
    (lambda: xg.nn.LSTMCell(3, 4, kernel_init=_returns(lambda s: xg.zeros((4, 3)))), ValueError,
     ["LSTMCell", "kernel_init", "returned shape (4, 3)", "(3, 16)"]),
    (lambda: xg.nn.LSTM(3, 4, recurrent_init=_returns(lambda s: np.zeros(s, np.int64))),
     TypeError, ["recurrent_init", "int64"]),
    (lambda: xg.nn.GRU(3, 4, bias_init=_returns(lambda s: xg.zeros(s, dtype="int32"))),
     TypeError, ["bias_init", "int32"]),
    (lambda: xg.nn.Linear(3, 4, bias_init=_returns(lambda s: np.zeros(s, np.complex128))),
     TypeError, ["bias_init", "complex128"]),
    (lambda: xg.nn.RNN(3, 4, kernel_init=_returns(lambda s: None)), TypeError,
     ["kernel_init", "returned NoneType"]),
    (lambda: xg.nn.Linear(3, 4, bias_init=_returns(lambda s: xg.zeros((1, 4)))), ValueError,
     ["bias_init", "returned shape (1, 4)", "(out_features,)"]),
    (lambda: xg.nn.LSTM(3, 5, recurrent_init=init.blockwise("orthogonal", 3)), ValueError,
     ["recurrent_init", "blocks=3 must divide"]),
    (lambda: init.blockwise("orthogonal", 0), ValueError, ["blocks"]),
    (lambda: init.blockwise("nope", 2), ValueError, ["blockwise", "'nope'"]),
    (lambda: init.torch_linear_default(0, (3,), fan_in=-1), ValueError, ["fan_in"]),
    (lambda: init.torch_linear_default(0, (3,)), ValueError, ["shape"]),
    (lambda: xg.nn.LSTM(3, 4, forget_bias="1"), TypeError, ["forget_bias"]),
]


@pytest.mark.parametrize("call, exc, words", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_names_the_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_a_custom_callable_may_return_an_array_of_another_float_dtype():
    """As Linear's init= always has: NumPy arrays and float64 values are cast to the layer's."""
    cell = xg.nn.GRUCell(3, 4, kernel_init=lambda rng, shape, dtype: np.full(shape, 0.25),
                         bias_init=lambda rng, shape, dtype: [0.5] * shape[0], rng=0)
    assert cell.w_ih.dtype == xg.float32 and np.all(cell.w_ih.numpy() == 0.25)
    assert np.all(cell.b.numpy() == 0.5) and np.all(cell.b_hn.numpy() == 0.5)


def test_a_bias_initializer_taking_fan_in_gets_the_weights():
    seen = []

    def bias_init(rng, shape, dtype, *, fan_in):
        seen.append((shape, fan_in))
        return xg.zeros(shape, dtype=dtype)

    xg.nn.Linear(7, 3, bias_init=bias_init, rng=0)
    xg.nn.GRUCell(5, 2, bias_init=bias_init, rng=0)
    assert seen == [((3,), 7), ((6,), 2), ((2,), 2)]
