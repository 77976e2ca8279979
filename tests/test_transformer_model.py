"""xg.nn.Transformer against torch.nn.Transformer(batch_first=True) in float64 (output and every
gradient), its state dict both ways, PyTorch's Glorot-uniform reset of every weight matrix,
custom encoder / decoder, bad input; and docs/convolution.md's transformer example."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from docs_text import text_from

torch = pytest.importorskip("torch")

from transformer_common import E, F, H, _backend, _data, _padding, compare  # noqa: E402


def _pair(backend="numpy", **kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.Transformer(E, H, 2, 1, F, batch_first=True, dtype=torch.float64,
                                  **kwargs).eval()
    ours = xg.nn.Transformer(E, H, 2, 1, F, batch_first=True, dtype="float64", backend=backend,
                             rng=1, **kwargs).eval()
    ours.load_torch_state_dict(theirs.state_dict())
    return theirs, ours


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")     # torch's, norm_first
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_values_and_every_gradient_match_torch(backend):
    theirs, ours = _pair(_backend(backend), norm_first=True, activation="gelu")
    src, tgt = _data(T=7, S=5)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64).numpy()
    compare(theirs, ours, [src, tgt], backend, tgt_mask=mask,
            src_key_padding_mask=_padding(2, 7), memory_key_padding_mask=_padding(2, 7))
    compare(theirs, ours, [src, tgt], backend, tgt_is_causal=True,
            torch_kwargs=dict(tgt_mask=mask, tgt_is_causal=True))


def test_state_dict_both_ways_and_torchs_initialization():
    theirs, ours = _pair()
    mine = ours.torch_state_dict()
    assert list(mine) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in mine.items()}, strict=True)
    big = xg.nn.Transformer(64, 4, 2, 2, 96, rng=0)
    state = big.torch_state_dict()
    matrices = {k: v for k, v in state.items() if v.ndim > 1}
    assert len(matrices) == 2 * 4 + 2 * 6
    for key, value in matrices.items():         # xavier_uniform_ over torch's shape
        bound = math.sqrt(6 / sum(value.shape))
        assert 0.95 * bound < np.abs(value).max() <= bound, key
    first, second = (state[f"encoder.layers.{i}.linear1.weight"] for i in (0, 1))
    assert not np.array_equal(first, second)    # drawn per layer, not the copies' equal start
    np.testing.assert_array_equal(state["encoder.norm.weight"], np.ones(64, np.float32))
    # the biases keep the layers' own start: PyTorch's Linear default, U(+-1/sqrt(fan_in))
    assert 0 < np.abs(state["encoder.layers.0.linear1.bias"]).max() <= 1 / 8


def test_custom_encoder_and_decoder_are_used():
    layer = xg.nn.TransformerEncoderLayer(E, H, F, dropout=0.0, batch_first=True, dtype="float64",
                                          rng=0)
    encoder = xg.nn.TransformerEncoder(layer, 1)
    model = xg.nn.Transformer(E, H, dim_feedforward=F, dropout=0.0, custom_encoder=encoder,
                              num_decoder_layers=1, dtype="float64", rng=0)
    assert model.encoder is encoder
    src, tgt = (xg.asarray(a) for a in _data())
    np.testing.assert_array_equal(model(src, tgt).numpy(),
                                  model.decoder(tgt, encoder(src)).numpy())


@pytest.mark.parametrize("make, error, words", [
    (lambda: xg.nn.Transformer(10, 3, 1, 1), ValueError, "d_model"),
    (lambda: xg.nn.Transformer(8, 2, 0, 1), ValueError, "num_layers"),
    (lambda: xg.nn.Transformer(8, 2, 1, 1, custom_encoder="mine"), TypeError,
     "custom_encoder must be a Module"),
    (lambda: xg.nn.Transformer(8, 2, 1, 1, activation="swish"), ValueError, "activation"),
    (lambda: xg.nn.Transformer(8, 2, 1, 1, rng=np.random.default_rng(0)), TypeError,
     "Transformer: rng must be"),
])
def test_bad_construction_names_the_argument(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_bad_input_names_the_argument():
    _, ours = _pair()
    src, tgt = _data()
    with pytest.raises(ValueError, match="Transformer: src and tgt must"):
        ours(src[:1], tgt)
    with pytest.raises(ValueError, match="Transformer: src and tgt must"):
        ours(src[0], tgt)
    with pytest.raises(ValueError, match="src must have shape"):
        ours(src[..., :4], tgt)
    with pytest.raises(ValueError, match="memory_mask must have shape"):
        ours(src, tgt, memory_mask=np.zeros((5, 5), bool))


def test_readme_example_runs():
    """docs/convolution.md's transformer example runs and prints the shapes its comment states."""
    import re
    import subprocess
    import sys

    code = re.search(r"```python\n(.*?)```", text_from("**Transformers.**"), re.S).group(1)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == re.search(r"print\(.*# (.*)\n", code).group(1)
