"""xg.nn.TransformerEncoder / TransformerDecoder: against torch.nn's stacks with a final norm
(float64, every gradient, numpy and numba), torch's state-dict keys both ways (strict), the
copies (independent Variables, unique names, one dropout stream), dropout in train and eval mode,
xg.function == eager, a tiny encoder-decoder trains, and bad input names the argument."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

from transformer_common import E, F, H, _backend, _data, _padding, compare  # noqa: E402


def _stack(kind, num_layers=3, backend="numpy", norm=True, **kwargs):
    """A torch stack (eval mode, each layer's weights made different) and an xpgrad one
    holding its weights."""
    torch.manual_seed(0)
    T = kind.title()
    layer = getattr(torch.nn, f"Transformer{T}Layer")(E, H, F, batch_first=True,
                                                      dtype=torch.float64, **kwargs)
    final = torch.nn.LayerNorm(E, dtype=torch.float64) if norm else None
    extra = {"enable_nested_tensor": False} if kind == "encoder" else {}
    theirs = getattr(torch.nn, f"Transformer{T}")(layer, num_layers, norm=final, **extra)
    with torch.no_grad():                   # torch's copies start equal: tell them apart
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    mine = getattr(xg.nn, f"Transformer{T}Layer")(E, H, F, batch_first=True, dtype="float64",
                                                  backend=backend, rng=1, **kwargs)
    ours = getattr(xg.nn, f"Transformer{T}")(
        mine, num_layers, norm=xg.nn.LayerNorm(E, dtype="float64", backend=backend)
        if norm else None)
    ours.load_torch_state_dict(theirs.state_dict())
    return theirs.eval(), ours.eval()


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_match_torch(norm_first, backend):
    _backend(backend)
    src, memory = _data()
    causal = np.triu(np.ones((5, 5), bool), 1)
    theirs, ours = _stack("encoder", 2, backend=backend, norm_first=norm_first)
    compare(theirs, ours, [src], backend, mask=causal, src_key_padding_mask=_padding(2, 5))
    theirs, ours = _stack("decoder", 2, backend=backend, norm_first=norm_first,
                          activation="gelu")
    compare(theirs, ours, [src, memory], backend, tgt_mask=causal,
            memory_key_padding_mask=_padding(2, 7))
    compare(theirs, ours, [src, memory], backend, tgt_is_causal=True,
            torch_kwargs=dict(tgt_mask=causal, tgt_is_causal=True))


def test_without_a_final_norm_matches_torch():
    theirs, ours = _stack("encoder", num_layers=2, norm=False)
    assert ours.norm is None
    compare(theirs, ours, [_data()[0]])


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_the_nested_tensor_flags_change_nothing():
    """torch's inference fast path (enable_nested_tensor, no gradients, eval, a padding mask)
    zeroes the padded positions; the others are what this encoder computes, with either flag."""
    theirs, ours = _stack("encoder", num_layers=2, norm=False)
    theirs.enable_nested_tensor = theirs.use_nested_tensor = True
    src = _data()[0]
    padding = np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], bool)
    with torch.no_grad():
        fast = theirs(torch.tensor(src), src_key_padding_mask=torch.tensor(padding)).numpy()
    again = xg.nn.TransformerEncoder(xg.nn.TransformerEncoderLayer(E, H, F, batch_first=True,
                                                                   dtype="float64"),
                                     2, enable_nested_tensor=False, mask_check=False).eval()
    again.load_torch_state_dict(ours.torch_state_dict())
    for model in (ours, again):
        out = model(src, src_key_padding_mask=padding).numpy()
        np.testing.assert_allclose(out[~padding], fast[~padding], rtol=1e-10, atol=1e-12)
    assert not fast[padding].any() and out[padding].all()


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_state_dicts_both_ways_strict(kind):
    theirs, ours = _stack(kind, num_layers=2)
    mine = ours.torch_state_dict()
    assert list(mine) == list(theirs.state_dict())
    assert list(mine)[0] == "layers.0.self_attn.in_proj_weight" and "norm.bias" in mine
    theirs.load_state_dict({k: torch.tensor(v) for k, v in mine.items()}, strict=True)
    other = getattr(xg.nn, f"Transformer{kind.title()}")(
        getattr(xg.nn, f"Transformer{kind.title()}Layer")(E, H, F, batch_first=True,
                                                          dtype="float64", rng=9), 2,
        norm=xg.nn.LayerNorm(E, dtype="float64"))
    other.load_torch_state_dict(theirs.state_dict())
    for a, b in zip(other.variables, ours.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    sd = theirs.state_dict()
    sd.pop("layers.1.linear2.bias")
    before = [v.numpy().copy() for v in other.variables]
    with pytest.raises(ValueError, match="layers.1.linear2"):
        other.load_torch_state_dict(sd)
    for v, b in zip(other.variables, before):
        np.testing.assert_array_equal(v.numpy(), b)


def test_the_copies_are_independent_and_uniquely_named():
    layer = xg.nn.TransformerEncoderLayer(E, H, F, dropout=0.5, rng=0)
    encoder = xg.nn.TransformerEncoder(layer, 3)
    first, second = encoder.layers[0], encoder.layers[1]
    assert first is not layer and first is not second
    for a, b, c in zip(layer.variables, first.variables, second.variables):
        assert a is not b and b is not c and b._data is not c._data
        np.testing.assert_array_equal(b.numpy(), c.numpy())     # equal at first, as torch's
    names = [v.name for v in encoder.variables]
    assert len(set(names)) == len(names) == 3 * len(layer.variables)
    assert names[0] == "transformer_encoder/layers/0/self_attn/q_proj/w"
    first.linear1.w.assign(first.linear1.w + 1.0)
    assert not np.array_equal(first.linear1.w.numpy(), second.linear1.w.numpy())
    assert not np.array_equal(first.linear1.w.numpy(), layer.linear1.w.numpy())
    # one dropout stream: the copies draw different masks (copied generators would repeat one)
    ones = xg.ones((64, 8))
    masks = [lay.dropout1(ones).numpy() for lay in encoder.layers]
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])
    twin = copy.deepcopy(encoder).eval()
    x = xg.ones((2, 3, 8))
    np.testing.assert_array_equal(twin(x).numpy(), encoder.eval()(x).numpy())


def test_dropout_in_training_is_seeded_and_off_in_eval():
    def build(seed):
        layer = xg.nn.TransformerDecoderLayer(E, H, F, dropout=0.3, dtype="float64", rng=seed)
        return xg.nn.TransformerDecoder(layer, 2, norm=xg.nn.LayerNorm(E, dtype="float64"))
    tgt, memory = (xg.asarray(a) for a in _data())
    a, b = build(4), build(4)
    train = [a(tgt, memory).numpy() for _ in range(2)]
    np.testing.assert_array_equal(train[0], b(tgt, memory).numpy())     # one seed, one draw
    assert not np.allclose(train[0], train[1])                          # the next draw differs
    evaluated = a.eval()(tgt, memory).numpy()
    assert not np.allclose(train[0], evaluated)
    np.testing.assert_array_equal(evaluated, a(tgt, memory).numpy())
    np.testing.assert_array_equal(evaluated, b.eval()(tgt, memory).numpy())


def test_function_replays_as_eager():
    layer = xg.nn.TransformerDecoderLayer(E, H, F, dropout=0.0, norm_first=True,
                                          dtype="float64", rng=2)
    decoder = xg.nn.TransformerDecoder(layer, 2, norm=xg.nn.LayerNorm(E, dtype="float64"))
    tgt, memory = (xg.asarray(a) for a in _data())
    padding = xg.asarray(_padding(2, 7))

    def step(tgt, memory, padding):
        with xg.GradientTape() as tape:
            tape.watch([tgt, memory])
            out = decoder(tgt, memory, memory_key_padding_mask=padding, tgt_is_causal=True)
            loss = xg.sum(out ** 2)
        return (out, *tape.gradient(loss, [tgt, memory] + decoder.variables))

    compiled = xg.function(step)
    for _ in range(2):
        for got, want in zip(compiled(tgt, memory, padding), step(tgt, memory, padding)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)


def test_function_draws_dropout_as_eager_and_follows_eval():
    def build():
        layer = xg.nn.TransformerEncoderLayer(E, H, F, dropout=0.5, dtype="float64", rng=3)
        return xg.nn.TransformerEncoder(layer, 2)
    eager, traced = build(), build()
    x = xg.asarray(_data()[0])
    compiled = xg.function(lambda x: traced(x, is_causal=True))
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), eager(x, is_causal=True).numpy(),
                                   rtol=1e-12, atol=1e-14)
    eager.eval()
    traced.eval()
    np.testing.assert_allclose(compiled(x).numpy(), eager(x, is_causal=True).numpy(),
                               rtol=1e-12, atol=1e-14)


def test_a_tiny_encoder_decoder_trains():
    """Embedding -> TransformerEncoder / TransformerDecoder (causal, teacher forcing) ->
    Linear learns to copy a sequence of tokens."""
    rng = xg.random.default_rng(0)
    vocab, d = 6, 16
    emb = xg.nn.Embedding(vocab + 1, d, rng=rng)          # token `vocab` starts the target
    enc = xg.nn.TransformerEncoder(xg.nn.TransformerEncoderLayer(d, 2, 32, dropout=0.0,
                                                                 rng=rng), 1)
    dec = xg.nn.TransformerDecoder(xg.nn.TransformerDecoderLayer(d, 2, 32, dropout=0.0,
                                                                 rng=rng), 1)
    head = xg.nn.Linear(d, vocab, rng=rng)
    data = np.random.default_rng(0).integers(0, vocab, size=(32, 4))
    src = xg.asarray(data)
    tgt_in = xg.asarray(np.concatenate([np.full((32, 1), vocab), data[:, :-1]], axis=1))
    target = xg.asarray(data.reshape(-1))
    variables = emb.variables + enc.variables + dec.variables + head.variables
    opt = xg.optim.Adam(0.01)
    losses = []
    for _ in range(40):
        with xg.GradientTape() as tape:
            memory = enc(emb(src))
            out = dec(emb(tgt_in), memory, tgt_is_causal=True)
            loss = xg.losses.softmax_cross_entropy(xg.reshape(head(out), (-1, vocab)), target)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses[::5]


def _layer(**kwargs):
    return xg.nn.TransformerEncoderLayer(E, H, **kwargs)


@pytest.mark.parametrize("make, error, words", [
    (lambda: xg.nn.TransformerEncoderLayer(10, 3), ValueError,
     r"d_model \(10\) must be divisible by nhead \(3\)"),
    (lambda: xg.nn.TransformerDecoderLayer(8, 0), ValueError, "nhead"),
    (lambda: xg.nn.TransformerEncoderLayer(E, H, dim_feedforward=0), ValueError,
     "dim_feedforward"),
    (lambda: _layer(dropout=1.0), ValueError, "dropout"),
    (lambda: _layer(activation="tanh"), ValueError, "activation must be 'relu', 'gelu'"),
    (lambda: _layer(activation=3), TypeError, "activation"),
    (lambda: _layer(activation=xg.nn.GELU), TypeError, r"activation.*GELU\(\)"),
    (lambda: _layer(layer_norm_eps=-1.0), ValueError, "layer_norm_eps"),
    (lambda: _layer(norm_first=1), TypeError, "norm_first"),
    (lambda: _layer(dtype="int32"), TypeError, "dtype"),
    (lambda: _layer(device="cpu"), TypeError, "device"),
    (lambda: _layer(rng=np.random.default_rng(0)), TypeError,
     "TransformerEncoderLayer: rng must be an xg.random.Generator"),
    (lambda: xg.nn.TransformerEncoder("layer", 2), TypeError, "must be a Module"),
    (lambda: xg.nn.TransformerEncoder(_layer(), 0), ValueError, "num_layers"),
    (lambda: xg.nn.TransformerDecoder(_layer(), 2, norm="layer_norm"), TypeError, "norm"),
    (lambda: xg.nn.TransformerEncoder(_layer(), 2, enable_nested_tensor="yes"), TypeError,
     "enable_nested_tensor"),
])
def test_bad_construction_names_the_argument(make, error, words):
    with pytest.raises(error, match=words):
        make()


@pytest.mark.parametrize("call, error, words", [
    (lambda d, t, m: d(t[..., :4], m), ValueError, r"tgt must have shape \(batch, sequence, 8\)"),
    (lambda d, t, m: d(t, m[:1]), ValueError, r"memory must have shape \(2, sequence, 8\)"),
    (lambda d, t, m: d(t, m[0]), ValueError, "memory must have shape"),
    (lambda d, t, m: d(t[None], m), ValueError, "tgt must have shape"),
    (lambda d, t, m: d(xg.astype(xg.asarray(t), "float32"), m), TypeError, "tgt is float32"),
    (lambda d, t, m: d(None, m), TypeError, "tgt must be an array"),
    (lambda d, t, m: d(t, m, tgt_mask=np.zeros((5, 7), bool)), ValueError,
     r"tgt_mask must have shape \(5, 5\) or \(4, 5, 5\)"),
    (lambda d, t, m: d(t, m, memory_mask=np.zeros((5, 5), bool)), ValueError, "memory_mask"),
    (lambda d, t, m: d(t, m, tgt_key_padding_mask=np.zeros((2, 7), bool)), ValueError,
     r"tgt_key_padding_mask must have shape \(2, 5\)"),
    (lambda d, t, m: d(t, m, memory_key_padding_mask=np.zeros((2, 7), int)), TypeError,
     "memory_key_padding_mask must be bool"),
    (lambda d, t, m: d(t, m, tgt_is_causal=1), TypeError, "tgt_is_causal"),
    (lambda d, t, m: d(t, m, memory_is_causal="no"), TypeError, "memory_is_causal"),
])
def test_bad_input_names_the_argument(call, error, words):
    layer = xg.nn.TransformerDecoderLayer(E, H, F, dtype="float64", rng=0)
    for model in (layer, xg.nn.TransformerDecoder(layer, 2)):
        with pytest.raises(error, match=words) as info:
            call(model, *_data())
        assert "TransformerDecoder" in str(info.value)


def test_encoder_bad_input_names_the_argument():
    encoder = xg.nn.TransformerEncoder(_layer(dtype="float64"), 2)
    src = _data()[0]
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: src must have shape"):
        encoder(src[..., :3])
    with pytest.raises(ValueError, match=r"src_mask must have shape \(5, 5\)"):
        encoder(src, mask=np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match=r"src_key_padding_mask must have shape \(2, 5\)"):
        encoder(src, src_key_padding_mask=np.zeros((5,), bool))
    with pytest.raises(TypeError, match="TransformerEncoder: is_causal"):
        encoder(src, is_causal="yes")
