"""Session 20 bug bash of the session-19 features (Transformer, Linear weight tying, clipping,
``Tensor.to``), used as a PyTorch user would: each test failed before its fix. The
``xpgrad train`` early-stopping ones are in tests/test_session20_bash_train.py."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

import xpgrad as xg
from conftest import backend_report

E = 16


class _BiasKVEncoder(xg.nn.Module):
    """A custom encoder holding 3-D parameters: MultiheadAttention's (1, 1, E) bias_k/bias_v."""

    def __init__(self, embed_dim):
        super().__init__("custom")
        self.attn = xg.nn.MultiheadAttention(embed_dim, 4, add_bias_kv=True, batch_first=True,
                                             rng=3)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        return self.attn(src, src, src)[0]


# -- 1. Transformer's reset: Glorot bound from PyTorch's fans, whatever the number of axes ----
def _torch_bound(shape):
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    return math.sqrt(6.0 / (fan_in + fan_out))


def test_transformer_reset_uses_torchs_fans_for_three_axis_weights():
    E3 = 256                        # 512 draws: the max comes within 1% of the bound
    model = xg.nn.Transformer(E3, 4, 1, 1, 32, custom_encoder=_BiasKVEncoder(E3), rng=0)
    state = model.torch_state_dict()
    three = [k for k, v in state.items() if v.ndim > 2]
    assert three == ["encoder.attn.bias_k", "encoder.attn.bias_v"]
    drawn = np.concatenate([state[k].ravel() for k in three])
    bound = _torch_bound((1, 1, E3))        # torch: fan_in = fan_out = E (xpgrad's: 1 and E)
    assert 0.99 * bound < np.abs(drawn).max() <= bound
    for key, value in state.items():        # and every matrix, by its torch shape
        if value.ndim == 2:
            assert np.abs(value).max() <= _torch_bound(value.shape), key


def test_transformer_torch_shapes_are_torchs_so_the_bounds_are():
    theirs = torch.nn.Transformer(E, 2, 1, 1, 24, batch_first=True)
    ours = xg.nn.Transformer(E, 2, 1, 1, 24, rng=0)
    assert {k: v.shape for k, v in ours.torch_state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()}


# -- 2. Transformer's final norms: distinct names ---------------------------------------------
def test_transformer_variable_names_are_unique_and_checkpoint_by_name(tmp_path):
    model = xg.nn.Transformer(8, 2, 1, 1, 16, rng=0)
    named = model.named_variables()
    assert all(path == v.name for path, v in named.items())
    assert "transformer/decoder/norm/bias" in named
    assert len({v.name for v in model.variables}) == len(model.variables)
    rng = np.random.default_rng(0)
    for v in model.variables:
        v.assign(xg.asarray(rng.standard_normal(v.shape), dtype=v.dtype))
    path = os.fspath(tmp_path / "t.npz")
    xg.save_checkpoint(path, model.variables)        # a list: keyed by Variable names
    fresh = xg.nn.Transformer(8, 2, 1, 1, 16, rng=1)
    xg.load_checkpoint(path, fresh.variables)
    for a, b in zip(model.variables, fresh.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# -- 3. Linear weight tying: untie by assigning w; no tying across backends ------------------
def _tied(backend_enc="numpy", backend_dec="numpy"):
    enc = xg.nn.Embedding(7, 4, dtype=xg.float64, rng=0, backend=backend_enc)
    dec = xg.nn.Linear(4, 7, dtype=xg.float64, rng=1, backend=backend_dec)
    return enc, dec


@pytest.mark.usefixtures("numpy_default")
def test_assigning_w_after_tying_unties_the_linear():
    enc, dec = _tied()
    dec.weight = enc.weight
    own = xg.Variable(np.random.default_rng(2).standard_normal((4, 7)), name="own")
    dec.w = own
    assert not hasattr(dec, "weight")
    assert list(dec.named_variables()) == ["linear/w", "linear/b"]
    assert all(v is not enc.weight for v in dec.trainable_variables)
    x = np.random.default_rng(3).standard_normal((2, 4))
    np.testing.assert_allclose(dec(xg.asarray(x)).numpy(), x @ own.numpy() + dec.b.numpy(),
                               rtol=1e-12)
    np.testing.assert_array_equal(dec.torch_state_dict()["weight"], own.numpy().T)
    with xg.GradientTape() as tape:
        loss = xg.sum(dec(enc(xg.asarray([[1, 2]]))))
    g_enc, g_own = tape.gradient(loss, [enc.weight, own])
    assert g_own is not None
    np.testing.assert_array_equal(g_enc.numpy()[[0, 3, 4, 5, 6]], 0)    # the lookup only


def test_w_none_of_an_untied_linear_is_refused():
    _, dec = _tied()
    with pytest.raises(TypeError, match=r"Linear.w: .*got None"):
        dec.w = None
    assert dec.w is not None


@pytest.mark.parametrize("enc_backend, dec_backend", [("numpy", "numba"), ("numba", "numpy")])
def test_tying_across_backends_is_refused_naming_both(enc_backend, dec_backend):
    if not backend_report()["numba"]["available"]:
        pytest.skip("numba is not installed")
    enc, dec = _tied(enc_backend, dec_backend)
    before = dec.w
    with pytest.raises(TypeError, match=rf"Linear.weight: .*'{dec_backend}'.*'{enc_backend}'"):
        dec.weight = enc.weight
    assert dec.w is before and not hasattr(dec, "weight")
    other = xg.Variable(np.zeros((4, 7)), backend=enc_backend)
    with pytest.raises(TypeError, match=rf"Linear.w: .*'{dec_backend}'.*'{enc_backend}'"):
        dec.w = other


# -- 5. clip_global_norm's errors name the function -------------------------------------------
@pytest.mark.parametrize("bad, error, words", [
    (0.0, ValueError, "max_norm must be a finite number > 0, got 0.0"),
    (-1, ValueError, "max_norm must be a finite number > 0, got -1.0"),
    (float("nan"), ValueError, "max_norm must be a finite number > 0, got nan"),
    ("1.0", TypeError, "max_norm must be a real number, got '1.0'"),
    (None, TypeError, "max_norm must be a real number, got None"),
])
def test_clip_global_norm_bad_max_norm_names_the_function(bad, error, words):
    with pytest.raises(error, match=rf"^clip_global_norm: {words}"):
        xg.optim.clip_global_norm([xg.ones(3)], max_norm=bad)


# -- 6. Tensor.to(dtype), a torch habit: a TypeError pointing to astype --------------------------
@pytest.mark.parametrize("dtype, name", [("float32", "float32"), (xg.float64, "float64"),
                                         (np.float64, "float64"), ("int64", "int64")])
def test_tensor_to_a_dtype_is_a_type_error_pointing_to_astype(dtype, name):
    t = xg.ones(3, dtype=xg.float64)
    with pytest.raises(TypeError, match=rf"^Tensor.to: .*moves between backends.*"
                                        rf"t.astype\({name}\) or xg.astype\(t, {name}\)"):
        t.to(dtype)
    assert t.astype(name).dtype == getattr(xg, name)      # what the hint says works
    with pytest.raises(ValueError, match="not a device"):  # a device stays a ValueError
        t.to("cpu")


# -- 8. PyTorch's activation callables: refused when the layer is built, not at the first call --
@pytest.mark.parametrize("make, who", [
    (lambda a: xg.nn.Transformer(8, 2, 1, 1, 16, activation=a), "TransformerEncoderLayer"),
    (lambda a: xg.nn.TransformerDecoderLayer(8, 2, 16, activation=a), "TransformerDecoderLayer"),
    (lambda a: xg.nn.MLP([2, 3, 1], activation=a), "MLP"),
])
@pytest.mark.parametrize("activation", [torch.nn.functional.gelu, torch.tanh, torch.nn.GELU(),
                                        torch.nn.ReLU])
def test_a_torch_activation_is_refused_naming_the_argument(make, who, activation):
    with pytest.raises(TypeError, match=rf"^{who}: activation is PyTorch's \w+, which takes "
                                        "torch tensors only; pass xpgrad's"):
        make(activation)


def test_xpgrad_activations_are_still_taken():
    x = xg.ones((1, 2, 8))
    for activation in (xg.nn.gelu, xg.nn.GELU(), lambda t: xg.nn.relu(t) * 2.0):
        assert xg.nn.Transformer(8, 2, 1, 1, 16, activation=activation, rng=0)(x, x).shape == (
            1, 2, 8)
    assert xg.nn.MLP([2, 3, 1], activation=xg.nn.Tanh, rng=0)(xg.ones((1, 2))).shape == (1, 1)


# -- 8. generate_square_subsequent_mask(sz, device=None, dtype=None): PyTorch's signature -------
@pytest.mark.usefixtures("numpy_default")
def test_generate_square_subsequent_mask_takes_torchs_device_and_dtype():
    make = xg.nn.Transformer.generate_square_subsequent_mask
    expected = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    np.testing.assert_array_equal(make(4, None, xg.float64).numpy(), expected.numpy())
    assert make(4, dtype=None).dtype == xg.float32
    assert make(2, device="cpu").backend.name == "numpy"
    if backend_report()["numba"]["available"]:
        assert make(2, "numba").backend.name == "numba"
        assert make(2, device=xg.Device("numba")).backend.name == "numba"
    with pytest.raises(ValueError, match=r"^generate_square_subsequent_mask: device='cuda'"):
        make(2, device="cuda", backend="numpy")
    with pytest.raises(TypeError, match=r"^generate_square_subsequent_mask: dtype must be"):
        make(2, dtype="int64")


# -- 8. clip_global_norm of integer tensors: refused, not rounded to zero -----------------------
@pytest.mark.parametrize("values", [[3, 4], [True, False]])
def test_clip_global_norm_refuses_integer_gradients(values):
    with pytest.raises(TypeError, match=r"^clip_global_norm: gradients are floating-point .*"
                                        r"got one of (int64|bool)"):
        xg.optim.clip_global_norm([xg.asarray([0.5]), xg.asarray(values)], 1.0)
    clipped, _ = xg.optim.clip_global_norm([xg.asarray(values, dtype=xg.float64)], 1.0,
                                           eps=1e-6)      # as floats: torch's result
    param = torch.nn.Parameter(torch.zeros(len(values), dtype=torch.float64))
    param.grad = torch.tensor(values, dtype=torch.float64)
    torch.nn.utils.clip_grad_norm_([param], 1.0)
    np.testing.assert_allclose(clipped[0].numpy(), param.grad.numpy(), rtol=1e-12)


# -- 8. Tensor.to(other.device), PyTorch's habit, and its keywords ------------------------------
@pytest.mark.usefixtures("numpy_default")
def test_tensor_to_a_device_moves_it_and_records_the_move():
    if not backend_report()["numba"]["available"]:
        pytest.skip("numba is not installed")
    x = xg.asarray([1.0, 2.0], dtype=xg.float64)
    other = xg.ones(1, backend="numba")
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x.to(other.device)
        loss = xg.sum(y * y)
    assert y.backend.name == "numba"
    grad = tape.gradient(loss, x)
    np.testing.assert_array_equal(grad.numpy(), 2 * x.numpy())
    assert grad.backend.name == "numpy"


@pytest.mark.parametrize("kwargs, words", [
    (dict(dtype=xg.float64), r"takes no dtype=; to change the dtype use t.astype\(float64\)"),
    (dict(device="cpu"), r"takes one argument, where to: a backend's name"),
    (dict(non_blocking=True), r"got keywords \['non_blocking'\]"),
    ({}, r"takes one argument, where to"),
])
def test_tensor_to_with_torchs_keywords_says_what_xpgrad_takes(kwargs, words):
    with pytest.raises(TypeError, match=rf"^Tensor.to .*{words}"):
        xg.ones(2).to(**kwargs)


def test_user_built_stacks_name_their_final_norms_after_their_paths(tmp_path):
    """PyTorch's encoder-decoder built by hand: each stack's LayerNorm(d_model) held
    ``layer_norm/weight``; a list of the model's Variables could not be checkpointed."""
    encoder = xg.nn.TransformerEncoder(xg.nn.TransformerEncoderLayer(8, 2, 16, rng=0), 1,
                                       norm=xg.nn.LayerNorm(8))
    decoder = xg.nn.TransformerDecoder(xg.nn.TransformerDecoderLayer(8, 2, 16, rng=1), 1,
                                       norm=xg.nn.LayerNorm(8))
    variables = encoder.variables + decoder.variables
    assert len({v.name for v in variables}) == len(variables)
    assert [v.name for v in decoder.norm.variables] == ["transformer_decoder/norm/weight",
                                                        "transformer_decoder/norm/bias"]
    assert list(encoder.named_variables())[-1] == encoder.norm.bias.name
    xg.save_checkpoint(os.fspath(tmp_path / "c.npz"), variables)


# -- 8. optimizers' and ReduceLROnPlateau's bad settings name the class ------------------------
@pytest.mark.parametrize("make, words", [
    (lambda: xg.optim.Adam(1e-3, beta_1=2.0), r"^Adam: beta_1 must be a finite number in \[0, 1\)"),
    (lambda: xg.optim.SGD(-0.1), r"^SGD: learning_rate must be a finite number >= 0"),
    (lambda: xg.optim.AdamW(1e-3, clipnorm=1.0, clipvalue=1.0), r"^AdamW: give only one of"),
    (lambda: setattr(xg.optim.RMSprop(0.1), "rho", 1.5), r"^RMSprop: rho must be"),
    (lambda: xg.optim.ReduceLROnPlateau(xg.optim.SGD(0.1), factor=2.0),
     r"^ReduceLROnPlateau: factor must be a finite number in \[0, 1\), got 2.0"),
    (lambda: xg.optim.ReduceLROnPlateau(xg.optim.SGD(0.1)).step("x"),
     r"^ReduceLROnPlateau.step: metric must be a real number, got 'x'"),
])
def test_optimizer_settings_errors_name_the_class(make, words):
    with pytest.raises((TypeError, ValueError), match=words):
        make()


# -- 8. xg.function sees a Linear tied, untied or given a new w after it traced ---------------
def test_compiled_training_step_follows_tying_and_untying_as_eager():
    def run(compiled):
        enc = xg.nn.Embedding(7, 4, dtype=xg.float64, rng=0)
        dec = xg.nn.Linear(4, 7, dtype=xg.float64, rng=1)
        opt = xg.optim.Adam(0.05)
        ids, labels = xg.asarray([[1, 2, 3], [4, 5, 6]]), xg.asarray([[2, 3, 4], [5, 6, 0]])

        def step(ids, labels):
            with xg.GradientTape() as tape:
                logits = dec(enc(ids))
                loss = xg.losses.softmax_cross_entropy(xg.reshape(logits, (-1, 7)),
                                                       xg.reshape(labels, (-1,)))
            variables = list({id(v): v for v in enc.trainable_variables
                              + dec.trainable_variables}.values())     # tied: once
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss
        f = xg.function(step) if compiled else step
        losses = [float(f(ids, labels)) for _ in range(3)]
        dec.weight = enc.weight                     # tied after tracing
        losses += [float(f(ids, labels)) for _ in range(3)]
        dec.w = xg.Variable(np.full((4, 7), 0.1), name="own")       # untied again
        losses += [float(f(ids, labels)) for _ in range(3)]
        return losses, enc.weight.numpy(), dec.w.numpy()
    eager, compiled = run(False), run(True)
    np.testing.assert_allclose(compiled[0], eager[0], rtol=1e-12)
    for a, b in zip(compiled[1:], eager[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
