"""batch_first=False (PyTorch's default: sequence-first (L, N, E) input) on MultiheadAttention,
the transformer layers, their stacks and Transformer, against torch's built the same way, in
float64: outputs and every gradient (inputs, and weights by torch key) on numpy and numba,
masks included; the attention weights stay (N, L, S) as torch's; a batch size that differs
between the inputs is named in the layout given; xg.function equals eager; repr and pickling."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

from transformer_common import E, F, H, _backend, _padding, compare  # noqa: E402


def _seq_first(*arrays):
    return [np.ascontiguousarray(np.swapaxes(a, 0, 1)) for a in arrays]


def _data(N=2, T=5, S=7, seed=0):
    rng = np.random.default_rng(seed)
    return _seq_first(rng.standard_normal((N, T, E)), rng.standard_normal((N, S, E)))


def _layer_pair(kind, backend, **kwargs):
    torch.manual_seed(0)
    name = f"Transformer{kind.title()}Layer"
    theirs = getattr(torch.nn, name)(E, H, F, dtype=torch.float64, **kwargs).eval()
    ours = getattr(xg.nn, name)(E, H, F, batch_first=False, dtype="float64", backend=backend,
                                rng=1, **kwargs).eval()
    ours.load_torch_state_dict(theirs.state_dict())
    return theirs, ours


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_multihead_attention_sequence_first_matches_torch(backend):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, kdim=6, vdim=5, dtype=torch.float64)
    ours = xg.nn.MultiheadAttention(E, H, kdim=6, vdim=5, batch_first=False, dtype="float64",
                                    backend=_backend(backend), rng=1)
    ours.load_torch_state_dict(theirs.state_dict())
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s) for s in ((4, 2, E), (6, 2, 6), (6, 2, 5)))
    padding = _padding(2, 6)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    t_out, t_w = theirs(tq, tk, tv, key_padding_mask=torch.tensor(padding))
    cot = rng.standard_normal(tuple(t_out.shape))
    t_grads = torch.autograd.grad((t_out * torch.tensor(cot)).sum(), [tq, tk, tv])
    xs = [xg.asarray(a, backend=backend) for a in (q, k, v)]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out, w = ours(*xs, key_padding_mask=xg.asarray(padding, backend=backend))
        loss = xg.sum(out * xg.asarray(cot, backend=backend))
    assert out.shape == (4, 2, E) and w.shape == (2, 4, 6)          # weights (N, L, S)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), t_w.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, tg in zip(tape.gradient(loss, xs), t_grads):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_encoder_and_decoder_layers_sequence_first_match_torch(backend):
    backend = _backend(backend)
    src, memory = _data(T=5, S=7)
    theirs, ours = _layer_pair("encoder", backend, norm_first=True)
    compare(theirs, ours, [src], backend, src_key_padding_mask=_padding(2, 5), is_causal=True,
            torch_kwargs=dict(src_key_padding_mask=_padding(2, 5), is_causal=True,
                              src_mask=torch.nn.Transformer.generate_square_subsequent_mask(
                                  5, dtype=torch.float64)))
    theirs, ours = _layer_pair("decoder", backend, activation="gelu")
    compare(theirs, ours, [src, memory], backend, memory_key_padding_mask=_padding(2, 7))


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")     # torch's, norm_first
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_transformer_sequence_first_matches_torch(backend):
    backend = _backend(backend)
    torch.manual_seed(0)
    theirs = torch.nn.Transformer(E, H, 2, 1, F, dtype=torch.float64).eval()
    ours = xg.nn.Transformer(E, H, 2, 1, F, batch_first=False, dtype="float64",
                             backend=backend, rng=1).eval()
    ours.load_torch_state_dict(theirs.state_dict())
    src, tgt = _data(T=6, S=4)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64).numpy()
    compare(theirs, ours, [src, tgt], backend, tgt_mask=mask,
            src_key_padding_mask=_padding(2, 6), memory_key_padding_mask=_padding(2, 6))


@pytest.mark.usefixtures("numpy_default")
def test_stacks_of_sequence_first_layers_match_torch():
    torch.manual_seed(0)
    t_layer = torch.nn.TransformerEncoderLayer(E, H, F, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # torch's nested-tensor note
        theirs = torch.nn.TransformerEncoder(t_layer, 2, norm=torch.nn.LayerNorm(
            E, dtype=torch.float64), enable_nested_tensor=False).eval()
    layer = xg.nn.TransformerEncoderLayer(E, H, F, batch_first=False, dtype="float64", rng=1)
    ours = xg.nn.TransformerEncoder(layer, 2, norm=xg.nn.LayerNorm(E, dtype="float64")).eval()
    ours.load_torch_state_dict(theirs.state_dict())
    (src, _) = _data(T=5)
    compare(theirs, ours, [src], "numpy", src_key_padding_mask=_padding(2, 5))


def test_compiled_step_equals_eager_and_the_layout_survives_pickling():
    def make():
        layer = xg.nn.TransformerEncoderLayer(E, H, F, dropout=0.0, batch_first=False,
                                              dtype="float64", rng=0)
        return layer, xg.optim.Adam(1e-2)

    (src, _) = _data(T=5)
    results = []
    for compiled in (False, True):
        layer, opt = make()

        def step(x):
            with xg.GradientTape() as tape:
                loss = xg.mean(layer(x) ** 2)
            opt.apply_gradients(zip(tape.gradient(loss, layer.trainable_variables),
                                    layer.trainable_variables))
            return loss
        run = xg.function(step) if compiled else step
        results.append([run(xg.asarray(src)).item() for _ in range(3)])
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)
    assert "batch_first=False" in repr(layer)
    for twin in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        assert twin.batch_first is False
        np.testing.assert_array_equal(twin(xg.asarray(src)).numpy(),
                                      layer(xg.asarray(src)).numpy())


def test_a_batch_size_that_differs_is_named_in_the_layout_given():
    mha = xg.nn.MultiheadAttention(E, H, batch_first=False, rng=0)
    with pytest.raises(ValueError, match=r"one batch size, got shapes \(4, 3, 8\), "
                                         r"\(5, 2, 8\) and \(5, 2, 8\)"):
        mha(np.ones((4, 3, E)), np.ones((5, 2, E)), np.ones((5, 2, E)))
    layer = xg.nn.TransformerDecoderLayer(E, H, F, batch_first=False, rng=0)
    with pytest.raises(ValueError, match=r"memory must have shape \(sequence, 3, 8\) as tgt "
                                         r"\(4, 3, 8\), got shape \(5, 2, 8\)"):
        layer(np.ones((4, 3, E)), np.ones((5, 2, E)))
    model = xg.nn.Transformer(E, H, 1, 1, F, batch_first=False, rng=0)
    with pytest.raises(ValueError, match=r"src and tgt must both be \(sequence, batch, "
                                         r"d_model\) with one batch size \(batch_first=False\)"):
        model(np.ones((4, 3, E)), np.ones((5, 2, E)))
