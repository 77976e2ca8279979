"""The layers' default initial weights did not change when ``kernel_init`` / ``recurrent_init`` /
``bias_init`` came: each layer built without them is checked bit for bit against its draws
redone by hand from a generator with the same seed (PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for
the recurrent weights, w_ih then w_hh per cell, forward cells of every layer before the reverse
ones; zero biases, the LSTM's forget slice at ``forget_bias``; Linear: glorot_uniform weights,
zero bias). This file uses none of the new arguments, so it runs unchanged on the code before
them; passing the arguments as None must give the same weights too."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.nn import init

BACKENDS = ("numpy", "numba")
DTYPES = ("float32", "float64")
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _torch_uniform(gen, shape, H, dtype):
    k = 1.0 / math.sqrt(H)
    return gen.uniform(-k, k, size=shape, dtype=dtype).numpy()


def _expected_cells(kind, I, H, num_layers, bidirectional, seed, backend, dtype, forget_bias):
    """{variable path suffix: values} of every cell, drawn in the layers' order."""
    gen = xg.random.default_rng(seed, backend=backend)
    G, D = GATES[kind] * H, 2 if bidirectional else 1
    sizes = [I] + [D * H] * (num_layers - 1)
    order = [(f"cell{k}", sizes[k]) for k in range(num_layers)]
    if bidirectional:
        order += [(f"cell{k}_reverse", sizes[k]) for k in range(num_layers)]
    out = {}
    for name, n_in in order:
        out[f"{name}/w_ih"] = _torch_uniform(gen, (n_in, G), H, dtype)
        out[f"{name}/w_hh"] = _torch_uniform(gen, (H, G), H, dtype)
        b = np.zeros(G, dtype=dtype)
        if kind == "LSTM":
            b[H:2 * H] = forget_bias
        out[f"{name}/b"] = b
        if kind == "GRU":
            out[f"{name}/b_hn"] = np.zeros(H, dtype=dtype)
    return out


def _by_cell(layer):
    """{"cell{k}[_reverse]/w_ih": values, ...} of a sequence layer."""
    out = {}
    for k, cell in enumerate(layer.layers):
        for v in cell.trainable_variables:
            out[f"cell{k}/{v.name.rsplit('/', 1)[1]}"] = v
    for k, cell in enumerate(layer.reverse_layers):
        for v in cell.trainable_variables:
            out[f"cell{k}_reverse/{v.name.rsplit('/', 1)[1]}"] = v
    return out


def _assert_bitwise(got, expected, backend, dtype):
    assert sorted(got) == sorted(expected)
    for key, v in got.items():
        assert v.backend.name == backend and v.dtype == getattr(xg, dtype), key
        a, e = v.numpy(), expected[key]
        assert a.dtype == e.dtype and a.shape == e.shape and a.tobytes() == e.tobytes(), key


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
def test_sequence_layers_draw_as_before(kind, num_layers, bidirectional, dtype, backend):
    layer = getattr(xg.nn, kind)(3, 5, num_layers, bidirectional=bidirectional,
                                 rng=xg.random.default_rng(7, backend=backend), dtype=dtype)
    expected = _expected_cells(kind, 3, 5, num_layers, bidirectional, 7, backend, dtype, 1.0)
    _assert_bitwise(_by_cell(layer), expected, backend, dtype)


@pytest.mark.parametrize("forget_bias", [0.0, 2.5, -1.0])
def test_lstm_forget_bias_as_before(forget_bias):
    layer = xg.nn.LSTM(4, 6, forget_bias=forget_bias, rng=3, backend="numpy")
    expected = _expected_cells("LSTM", 4, 6, 1, False, 3, "numpy", "float32", forget_bias)
    _assert_bitwise(_by_cell(layer), expected, "numpy", "float32")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_cells_draw_as_before(kind, backend):
    cell = getattr(xg.nn, f"{kind}Cell")(3, 5, rng=xg.random.default_rng(2, backend=backend),
                                         dtype="float64")
    expected = _expected_cells(kind, 3, 5, 1, False, 2, backend, "float64", 1.0)
    got = {f"cell0/{v.name.rsplit('/', 1)[1]}": v for v in cell.trainable_variables}
    _assert_bitwise(got, expected, backend, "float64")


def test_bias_false_draws_the_same_weights():
    with_bias = xg.nn.GRU(3, 4, rng=5)
    without = xg.nn.GRU(3, 4, bias=False, rng=5)
    assert [v.name for v in without.trainable_variables] == ["gru/cell0/w_ih", "gru/cell0/w_hh"]
    for a, b in zip(without.trainable_variables, with_bias.trainable_variables[:2]):
        assert a.numpy().tobytes() == b.numpy().tobytes()


@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_and_mlp_draw_as_before(backend):
    gen = xg.random.default_rng(4, backend=backend)
    w = init.glorot_uniform(gen, (6, 3), "float64").numpy()
    layer = xg.nn.Linear(6, 3, rng=xg.random.default_rng(4, backend=backend), dtype="float64")
    assert layer.w.numpy().tobytes() == w.tobytes()
    assert layer.b.numpy().tobytes() == np.zeros(3).tobytes()
    gen = xg.random.default_rng(4, backend=backend)
    ws = [init.he_normal(gen, (6, 5)).numpy(), init.he_normal(gen, (5, 2)).numpy()]
    mlp = xg.nn.MLP([6, 5, 2], rng=xg.random.default_rng(4, backend=backend))
    for lin, w in zip(mlp.layers, ws):
        assert lin.w.numpy().tobytes() == w.tobytes()
        assert lin.b.numpy().tobytes() == np.zeros(lin.out_features, np.float32).tobytes()


def test_none_is_the_default():
    """The new arguments passed as None (only where they exist) draw the defaults."""
    try:
        kwargs = dict(kernel_init=None, recurrent_init=None, bias_init=None)
        pairs = [(xg.nn.LSTM(3, 4, bidirectional=True, rng=1, **kwargs),
                  xg.nn.LSTM(3, 4, bidirectional=True, rng=1)),
                 (xg.nn.GRUCell(3, 4, rng=1, **kwargs), xg.nn.GRUCell(3, 4, rng=1)),
                 (xg.nn.Linear(3, 4, rng=1, bias_init=None), xg.nn.Linear(3, 4, rng=1)),
                 (xg.nn.MLP([3, 4, 2], rng=1, bias_init=None), xg.nn.MLP([3, 4, 2], rng=1))]
    except TypeError as e:
        if "unexpected keyword" in str(e):
            pytest.skip("the code under test predates kernel_init / bias_init")
        raise
    for new, old in pairs:
        for a, b in zip(new.trainable_variables, old.trainable_variables, strict=True):
            assert a.name == b.name and a.numpy().tobytes() == b.numpy().tobytes()
