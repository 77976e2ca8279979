"""xg.nn.TransformerEncoderLayer / TransformerDecoderLayer against torch.nn's (batch_first=True)
in float64, eval mode: the output and the gradients of the inputs and of every weight (under
torch's keys), on numpy and numba, post- and pre-norm, relu / gelu / a callable, without bias,
with every kind of mask; finite differences on a tiny case; unbatched input; the causal mask
helper."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

from transformer_common import E, F, H, _backend, _data, _padding, _pair, compare  # noqa: E402


CONFIGS = {"post-relu": {}, "pre-gelu": {"norm_first": True, "activation": "gelu"},
           "post-gelu-no-bias": {"activation": "gelu", "bias": False},
           "pre-relu": {"norm_first": True}}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_encoder_layer_matches_torch(config, backend):
    theirs, ours = _pair(backend=_backend(backend), **CONFIGS[config])
    src, _ = _data()
    causal = np.triu(np.ones((5, 5), bool), 1)
    compare(theirs, ours, [src], backend)
    compare(theirs, ours, [src], backend, src_mask=causal, src_key_padding_mask=_padding(2, 5))
    compare(theirs, ours, [src], backend, is_causal=True,
            torch_kwargs=dict(src_mask=causal, is_causal=True))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_decoder_layer_matches_torch(config, backend):
    theirs, ours = _pair("decoder", backend=_backend(backend), **CONFIGS[config])
    tgt, memory = _data()
    causal = np.triu(np.ones((5, 5), bool), 1)
    compare(theirs, ours, [tgt, memory], backend)
    compare(theirs, ours, [tgt, memory], backend, tgt_mask=causal,
            tgt_key_padding_mask=_padding(2, 5), memory_key_padding_mask=_padding(2, 7, 2))
    compare(theirs, ours, [tgt, memory], backend, tgt_is_causal=True, memory_is_causal=True,
            torch_kwargs=dict(tgt_mask=causal, memory_mask=np.triu(np.ones((5, 7), bool), 1),
                              tgt_is_causal=True, memory_is_causal=True))


@pytest.mark.parametrize("masks", ["float", "float-padding", "per-head", "mixed", "memory-float",
                                   "square-subsequent"])
def test_masks_match_torch(masks):
    theirs, ours = _pair("decoder")
    tgt, memory = _data()
    rng = np.random.default_rng(3)
    blocked = rng.random((5, 7)) < 0.4
    blocked[:, 0] = False
    kwargs = {
        "float": dict(tgt_mask=rng.standard_normal((5, 5))),
        "float-padding": dict(memory_key_padding_mask=np.where(_padding(2, 7), -np.inf, 0.5)),
        "per-head": dict(tgt_mask=rng.standard_normal((2 * H, 5, 5)),
                         memory_mask=rng.random((2 * H, 5, 7)) < 0.3),
        "mixed": dict(tgt_mask=rng.standard_normal((5, 5)),
                      tgt_key_padding_mask=_padding(2, 5)),
        "memory-float": dict(memory_mask=np.where(blocked, -np.inf, rng.standard_normal((5, 7)))),
        "square-subsequent": dict(tgt_mask=xg.nn.generate_square_subsequent_mask(
            5, dtype="float64").numpy()),
    }[masks]
    if masks == "per-head":
        kwargs["memory_mask"][..., 0] = False
    compare(theirs, ours, [tgt, memory], **kwargs)


@pytest.mark.usefixtures("numpy_default")
def test_a_callable_activation_matches_torch():
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(E, H, F, activation=torch.nn.functional.silu,
                                              batch_first=True, dtype=torch.float64).eval()
    ours = xg.nn.TransformerEncoderLayer(E, H, F, activation=xg.nn.silu, batch_first=True,
                                         dtype="float64", rng=0).eval()
    ours.load_torch_state_dict(theirs.state_dict())
    compare(theirs, ours, [_data()[0]])
    layer = xg.nn.TransformerEncoderLayer(E, H, F, activation=xg.nn.GELU(approximate="tanh"),
                                          dtype="float64", rng=0)
    assert "activation" not in "".join(layer.torch_state_dict())    # no weights of its own


def test_unbatched_input_matches_torch():
    theirs, ours = _pair("decoder")
    tgt, memory = (a[0] for a in _data())
    out = compare(theirs, ours, [tgt, memory], tgt_mask=np.triu(np.ones((5, 5), bool), 1),
                  memory_key_padding_mask=np.array([0, 0, 0, 1, 0, 1, 0], bool))
    assert out.shape == (5, E)
    theirs, ours = _pair()
    compare(theirs, ours, [tgt], src_key_padding_mask=np.array([0, 0, 1, 0, 1], bool))


def test_gradients_match_finite_differences():
    """A tiny decoder layer (pre-norm, gelu, masks): the inputs' gradients by check_grads, and
    each weight's as a directional derivative (central differences along a random direction)."""
    layer = xg.nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, activation="gelu",
                                          norm_first=True, dtype="float64", rng=3)
    rng = np.random.default_rng(0)
    tgt = xg.asarray(rng.standard_normal((2, 3, 4)))
    memory = xg.asarray(rng.standard_normal((2, 4, 4)))
    padding = xg.asarray(np.array([[0, 0, 1, 0], [0, 0, 0, 0]], bool))

    def run(t, m):
        return layer(t, m, tgt_is_causal=True, memory_key_padding_mask=padding)
    xg.testing.check_grads(run, [tgt, memory])

    cot = xg.asarray(rng.standard_normal((2, 3, 4)))
    with xg.GradientTape() as tape:
        loss = xg.sum(run(tgt, memory) * cot)
    variables = layer.named_variables()
    grads = tape.gradient(loss, list(variables.values()))
    eps = 1e-6
    for (name, variable), grad in zip(variables.items(), grads):
        value = variable.numpy()
        direction = rng.standard_normal(value.shape)
        losses = []
        for sign in (1, -1):
            variable.assign(xg.asarray(value + sign * eps * direction))
            losses.append(xg.sum(run(tgt, memory) * cot).item())
        variable.assign(xg.asarray(value))
        numeric = (losses[0] - losses[1]) / (2 * eps)
        exact = float(np.sum(grad.numpy() * direction))
        assert abs(numeric - exact) <= 1e-6 * max(1.0, abs(exact)), (name, numeric, exact)


def test_generate_square_subsequent_mask_is_torchs():
    for sz in (1, 4):
        want = torch.nn.Transformer.generate_square_subsequent_mask(sz).numpy()
        got = xg.nn.generate_square_subsequent_mask(sz)
        assert got.dtype == xg.float32
        np.testing.assert_array_equal(got.numpy(), want)
    assert xg.nn.generate_square_subsequent_mask(2, dtype="float64").dtype == xg.float64
    with pytest.raises(ValueError, match="sz"):
        xg.nn.generate_square_subsequent_mask(0)


def test_a_fully_padded_sequence_matches_torch():
    """Every key of one sequence padded: its attention gives zeros (no NaN), as torch's layer
    (2.x, need_weights=False inside); the values and gradients agree."""
    padding = np.array([[1, 1, 1, 1, 1], [0, 0, 1, 0, 1]], bool)
    theirs, ours = _pair()
    compare(theirs, ours, [_data()[0]], src_key_padding_mask=padding)
    theirs, ours = _pair("decoder", norm_first=True)
    memory_padding = np.zeros((2, 7), bool)
    memory_padding[0] = True
    compare(theirs, ours, list(_data()), memory_key_padding_mask=memory_padding)
