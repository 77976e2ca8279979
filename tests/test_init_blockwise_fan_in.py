"""``xg.nn.init.blockwise`` passes a layer's ``fan_in`` on to a block initializer taking it
(the fan_in keyword protocol of nn/_initial.py): splitting a bias into gate blocks splits the
output axis, so every block adds to a block of the weight with the same fan_in."""
import pytest

import xpgrad as xg
from xpgrad.nn import init


def test_blockwise_bias_draws_each_block_with_the_layers_fan_in():
    layer = xg.nn.Linear(7, 4, bias_init=init.blockwise("torch_linear_default", 2),
                         rng=xg.random.default_rng(3), dtype=xg.float64)
    gen = xg.random.default_rng(3)
    init.torch_linear_default(gen, (7, 4), "float64")          # the weight's draw first
    expected = [init.torch_linear_default(gen, (2,), "float64", fan_in=7) for _ in range(2)]
    assert layer.b.numpy().tolist() == [v for e in expected for v in e.numpy().tolist()]


@pytest.mark.parametrize("kind, gates", [("LSTM", 4), ("GRU", 3), ("RNN", 1)])
def test_recurrent_bias_blocks_are_given_fan_in_h(kind, gates):
    seen = []

    def block(rng, shape, dtype, *, fan_in):
        seen.append((shape, fan_in))
        return xg.zeros(shape, dtype=dtype)

    extra = {"forget_bias": None} if kind == "LSTM" else {}
    getattr(xg.nn, kind)(3, 6, bias_init=init.blockwise(block, gates), rng=0, **extra)
    expected = [((6,), 6)] * gates
    if kind == "GRU":                       # b_hn, (H,), in blocks of its own
        expected += [((2,), 6)] * 3
    assert seen == expected


def test_an_initializer_without_fan_in_and_a_direct_call_are_unchanged():
    gen = xg.random.default_rng(0)
    w = init.blockwise("orthogonal", 2)(gen, (3, 6))             # no fan_in: none passed
    assert w.shape == (3, 6)
    b = init.blockwise("torch_linear_default", 2)(gen, (4,), fan_in=16)
    assert b.shape == (4,) and abs(b).max().item() <= 0.25
    with pytest.raises(ValueError, match="at least 2 axes"):
        init.blockwise("torch_linear_default", 2)(gen, (4,))
