"""gru_cell, rnn_cell and lstm_cell (one step of gru_layer / rnn_layer / lstm_layer_states on
(batch, .) arrays, what GRUCell, RNNCell and LSTMCell record): finite differences with the
kernels on and off, equal to the layers of one step, one tape node per batched cell call (the
LSTM's of two outputs, h and c), and the cell kernels equal to the layer kernels of one step. The cells against PyTorch: tests/test_gru.py, test_recurrent*.py."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops.projected_scans import gru_layer, rnn_layer
from xpgrad.ops.recurrent import lstm_layer_states
from xpgrad.ops.recurrent_cells import gru_cell, lstm_cell, rnn_cell
from xpgrad.primitive import BY_INDEX

from layer_kernel_checks import kernels  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("numpy_default")

NUMPY = xg.get_backend("numpy")


def cell_inputs(rng, gates, B=3, I=2, H=4):
    shapes = [(B, I), (B, H), (I, gates * H), (H, gates * H), (gates * H,)]
    shapes += [(H,)] if gates == 3 else []
    return [xg.asarray(rng.standard_normal(s) * (0.5 if i in (2, 3) else 1.0))
            for i, s in enumerate(shapes)]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_gradients_match_finite_differences(kernels, nonlinearity, rng):
    xg.testing.check_grads(lambda *a: rnn_cell(*a, nonlinearity), cell_inputs(rng, 1),
                           order=2 if kernels == "generic" else 1)


def test_gru_cell_gradients_match_finite_differences(kernels, rng):
    xg.testing.check_grads(gru_cell, cell_inputs(rng, 3), order=2 if kernels == "generic" else 1)


def lstm_inputs(rng, B=3, I=2, H=4):
    x, h, w_ih, w_hh, b = cell_inputs(rng, 4, B, I, H)
    return [x, h, xg.asarray(rng.standard_normal((B, H))), w_ih, w_hh, b]


def test_lstm_cell_gradients_match_finite_differences(kernels, rng):
    xg.testing.check_grads(lstm_cell, lstm_inputs(rng), order=2 if kernels == "generic" else 1)


@pytest.mark.parametrize("half", [0, 1, None])
def test_lstm_cell_is_its_layer_of_one_step(kernels, half, rng):
    """Both states, or one (the kernel's sliced gradient), against ``lstm_layer_states``."""
    args = lstm_inputs(rng, B=5, I=3, H=6)
    g = xg.asarray(rng.standard_normal((2, 5, 6)))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(args)
        got = lstm_cell(*args)
        want = xg.reshape(lstm_layer_states(xg.reshape(args[0], (5, 1, 3)), *args[1:]),
                          (2, 5, 6))
        if half is None:
            loss_got, loss_want = xg.sum(got * g), xg.sum(want * g)
        else:
            loss_got, loss_want = xg.sum(got[half] * g[half]), xg.sum(want[half] * g[half])
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13, atol=1e-14)
    for a, b in zip(tape.gradient(loss_got, args), tape.gradient(loss_want, args), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("cell,layer,gates,params", [
    (gru_cell, gru_layer, 3, {}), (rnn_cell, rnn_layer, 1, {"nonlinearity": "tanh"}),
    (rnn_cell, rnn_layer, 1, {"nonlinearity": "relu"})])
def test_a_cell_is_its_layer_of_one_step(kernels, cell, layer, gates, params, rng):
    args = cell_inputs(rng, gates, B=5, I=3, H=6)
    g = xg.asarray(rng.standard_normal((5, 6)))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(args)
        got = cell(*args, **params)
        want = xg.reshape(layer(xg.reshape(args[0], (5, 1, 3)), *args[1:], **params), (5, 6))
        loss_got, loss_want = xg.sum(got * g), xg.sum(want * g)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13, atol=1e-14)
    for a, b in zip(tape.gradient(loss_got, args), tape.gradient(loss_want, args), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind,name", [("GRUCell", "gru_cell"), ("RNNCell", "rnn_cell")])
def test_a_batched_cell_call_records_one_node(kind, name):
    cell = getattr(xg.nn, kind)(3, 4, rng=0)
    with xg.GradientTape(persistent=True) as tape:
        h = cell(xg.ones((2, 3)))
        cell(xg.ones((2, 3)), h)
    assert [BY_INDEX[node[0]].name for node in tape._nodes] == [name, name]


def test_a_batched_lstm_cell_call_records_one_node_of_two_outputs():
    cell = xg.nn.LSTMCell(3, 4, rng=0)
    with xg.GradientTape(persistent=True) as tape:
        h, c = cell(xg.ones((2, 3)))
    assert [BY_INDEX[node[0]].name for node in tape._nodes] == ["lstm_cell"]
    assert tape._nodes[0][3] == (h._key, c._key)


@pytest.mark.parametrize("kind,gates,params", [
    ("gru", 3, {}), ("rnn", 1, {"nonlinearity": "tanh"}), ("rnn", 1, {"nonlinearity": "relu"})])
def test_cell_kernels_equal_the_layer_kernels_of_one_step(kind, gates, params, rng):
    """The cell kernel and the layer kernel at T = 1 (both ``gated_step``'s), float32, on the
    NumPy backend's table (the Numba backend's cells run the same): outputs and every
    gradient."""
    cell, layer = NUMPY.kernels[f"{kind}_cell"], NUMPY.kernels[f"{kind}_layer"]
    args = [a.numpy().astype(np.float32) for a in cell_inputs(rng, gates, B=4, I=5, H=7)]
    g = rng.standard_normal((4, 7)).astype(np.float32)
    h, saved = cell.forward(*args, **params)
    seq, layer_saved = layer.forward(args[0][:, None], *args[1:], **params)
    np.testing.assert_array_equal(h, seq[:, 0])
    wanted = [True] * len(args)
    got = cell.vjp(g, saved, wanted, *args, **params)
    want = layer.vjp(g[:, None], layer_saved, wanted, args[0][:, None], *args[1:], **params)
    np.testing.assert_array_equal(got[0], want[0][:, 0])
    for a, b in zip(got[1:], want[1:], strict=True):
        np.testing.assert_array_equal(a, b)
