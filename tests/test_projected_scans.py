"""rnn_layer and gru_layer (the input projection and the scan as one primitive): finite
differences with the NumPy kernels on and off, equal to the projection then the scan, the
NumPy kernels against the generic rules at the ring's block boundaries and for a batch of 0,
and their input errors. The layers against PyTorch: tests/test_recurrent*.py, test_gru.py."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import scans
from xpgrad.ops import projected_scans
from xpgrad.ops.projected_scans import gru_layer, rnn_layer
from xpgrad.ops.recurrent import gru_scan, rnn_scan

from layer_kernel_checks import CASES, check_kernel_matches_generic

pytestmark = pytest.mark.usefixtures("numpy_default")

NUMPY = xg.get_backend("numpy")
KERNELS = scans.scan_kernels(np)


@pytest.fixture(params=["fused", "generic"])
def kernels(request, monkeypatch):
    if request.param == "generic":
        monkeypatch.setattr(NUMPY, "kernels", {})
    return request.param


def layer_inputs(rng, gates, B=2, T=4, I=2, H=3):
    shapes = [(B, T, I), (B, H), (I, gates * H), (H, gates * H), (gates * H,)]
    shapes += [(H,)] if gates == 3 else []
    return [rng.standard_normal(s) * (0.5 if len(s) == 2 and s[0] != B else 1.0)
            for s in shapes]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_layer_gradients_match_finite_differences(kernels, nonlinearity, rng):
    args = [xg.asarray(a) for a in layer_inputs(rng, 1)]
    xg.testing.check_grads(lambda *a: rnn_layer(*a, nonlinearity), args)


def test_gru_layer_gradients_match_finite_differences(kernels, rng):
    xg.testing.check_grads(gru_layer, [xg.asarray(a) for a in layer_inputs(rng, 3)])


def test_layers_are_the_projection_then_the_scan(kernels, rng):
    x, h, w_ih, w_hh, b, b_hn = (xg.asarray(a) for a in layer_inputs(rng, 3, 3, 5, 4, 2))
    xproj = xg.reshape(xg.reshape(x, (15, 4)) @ w_ih + b, (3, 5, 6))
    np.testing.assert_allclose(gru_layer(x, h, w_ih, w_hh, b, b_hn).numpy(),
                               gru_scan(xproj, h, w_hh, b_hn).numpy(), rtol=1e-12, atol=1e-12)
    xproj = xg.reshape(xg.reshape(x, (15, 4)) @ w_ih[:, :2] + b[:2], (3, 5, 2))
    np.testing.assert_allclose(rnn_layer(x, h, w_ih[:, :2], w_hh[:, :2], b[:2], "relu").numpy(),
                               rnn_scan(xproj, h, w_hh[:, :2], "relu").numpy(), rtol=1e-12,
                               atol=1e-12)




# rings of 2 and 3 steps (T = 7: a partial first block), all T in one block, a batch of 0 and
# one step
@pytest.mark.parametrize("steps,B,T", [(2, 3, 7), (3, 3, 7), (7, 3, 7), (None, 0, 7),
                                       (None, 2, 1)])
@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_kernels_equal_the_generic_rule(kind, nonlinearity, steps, B, T, monkeypatch, rng):
    if steps is not None:
        monkeypatch.setattr(scans, "ring_steps", lambda T, step_bytes: steps)
    args = layer_inputs(rng, 3 if kind == "gru_layer" else 1, B=B, T=T, I=5, H=4)
    params = {} if nonlinearity is None else {"nonlinearity": nonlinearity}
    g = rng.standard_normal((B, T, 4))
    check_kernel_matches_generic(KERNELS[kind], kind, args, params, g)


def test_gru_layer_saves_its_states_and_two_gates_a_step(rng):
    """The NumPy GRU's forward saves the states (B, T, H) and ``[r | z]`` (T, B, 2H), never n
    (its backward makes n again: a step's peak memory, benchmarks/step_memory.py)."""
    out, saved = KERNELS["gru_layer"].forward(*layer_inputs(rng, 3, B=3, T=7, I=5, H=4))
    assert saved[0] is out
    assert [a.shape for a in saved[1:]] == [(7, 3, 8)]


def test_layer_input_errors(rng):
    x, h, w_ih, w_hh, b, b_hn = (xg.asarray(a) for a in layer_inputs(rng, 3))
    with pytest.raises(ValueError, match=r"gru_layer: x must be \(batch, time, input_size\)"):
        gru_layer(x[0], h, w_ih, w_hh, b, b_hn)
    with pytest.raises(ValueError, match=r"gru_layer: w_ih must be \(input_size, 3\*hidden\)"):
        gru_layer(x, h, w_ih[:1], w_hh, b, b_hn)
    with pytest.raises(ValueError, match=r"gru_layer: b_hn must be \(hidden,\) = \(3,\)"):
        gru_layer(x, h, w_ih, w_hh, b, b_hn[:2])
    with pytest.raises(TypeError, match="gru_layer: inputs must share one floating dtype"):
        gru_layer(x, h, w_ih, w_hh, b, xg.astype(b_hn, "float32"))
    with pytest.raises(ValueError, match=r"rnn_layer: h0 must be \(batch, hidden\)"):
        rnn_layer(x, h[:1], w_ih[:, :3], w_hh[:, :3], b[:3])
    with pytest.raises(ValueError, match="rnn_layer: nonlinearity must be one of"):
        rnn_layer(x, h, w_ih[:, :3], w_hh[:, :3], b[:3], "sigmoid")


LAYER_ARGUMENTS = {"rnn_layer": ("x", "h0", "w_ih", "w_hh", "b"),
                   "gru_layer": ("x", "h0", "w_ih", "w_hh", "b", "b_hn")}


@pytest.mark.parametrize("kind", ["rnn_layer", "gru_layer"])
@pytest.mark.parametrize("position", range(6))
@pytest.mark.parametrize("bad", [None, "a"], ids=["none", "str"])
def test_a_bad_argument_is_named(kind, position, bad, rng):
    # each argument, not only the first: h0=None (as PyTorch's RNN takes) or a bias left out
    names = LAYER_ARGUMENTS[kind]
    if position >= len(names):
        pytest.skip("rnn_layer takes five tensors")
    args = [xg.asarray(a) for a in layer_inputs(rng, 3 if kind == "gru_layer" else 1)]
    args[position] = bad
    with pytest.raises(TypeError, match=f"^{kind}: {names[position]} (is|holds)") as info:
        getattr(projected_scans, kind)(*args)
    assert "asarray" not in str(info.value)
