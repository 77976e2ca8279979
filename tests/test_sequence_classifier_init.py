"""SequenceClassifier takes the recurrent layers' initializer arguments (``kernel_init``,
``recurrent_init``, ``bias_init``, LSTM's ``forget_bias``) and passes them to every recurrent
layer, as a Keras or PyTorch user expects of a wrapper: with the same rng its recurrent
weights are the bare layer's, bit for bit; ``forget_bias`` with a GRU or RNN is an error."""
import pytest

import xpgrad as xg
from xpgrad.nn import init


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("cell, forget_bias", [("lstm", None), ("lstm", 0.5), ("gru", 1.0),
                                               ("rnn", 1.0)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layer_drawn_as_the_bare_layer(cell, forget_bias, bidirectional, backend):
    kwargs = dict(kernel_init=init.he_uniform, recurrent_init=init.orthogonal(2.0),
                  bias_init=init.normal(0.3, 0.1))
    extra = {"forget_bias": forget_bias} if cell == "lstm" else {}
    model = xg.nn.SequenceClassifier(3, [4], 2, cell=cell, bidirectional=bidirectional,
                                     rng=xg.random.default_rng(7, backend=backend),
                                     dtype=xg.float64, **kwargs, **extra)
    bare = getattr(xg.nn, cell.upper())(3, 4, bidirectional=bidirectional,
                                        rng=xg.random.default_rng(7, backend=backend),
                                        dtype=xg.float64, **kwargs, **extra)
    got, expected = model.layers[0].variables, bare.variables
    assert len(got) == len(expected) > 0
    for v, e in zip(got, expected):
        assert v.numpy().tobytes() == e.numpy().tobytes(), v.name


def test_every_layer_gets_the_arguments():
    seen = []

    def kernel_init(rng, shape, dtype):
        seen.append(shape)
        return xg.zeros(shape, dtype=dtype)

    model = xg.nn.SequenceClassifier(3, [4, 5], 2, cell="gru", kernel_init=kernel_init, rng=0)
    assert seen == [(3, 12), (4, 15)]
    assert all((v.numpy() == 0).all() for k, v in model.named_variables().items()
               if k.endswith("w_ih"))


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_forget_bias_without_an_lstm_names_it(cell):
    with pytest.raises(ValueError, match="forget_bias.*lstm"):
        xg.nn.SequenceClassifier(3, [4], 2, cell=cell, forget_bias=0.0, rng=0)
