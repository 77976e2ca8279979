"""Bad input to xg.nn.conv1d / xg.nn.Conv1d: a clear error naming the argument, raised before
any work; where the call is PyTorch's too, PyTorch refuses it as well (so nothing it takes is
refused here)."""
import numpy as np
import pytest

import xpgrad as xg

from window_checks import assert_raises_naming

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional


def _xg(shape, dtype="float32"):
    return xg.ones(shape, dtype=dtype)


def _t(shape):
    return torch.ones(shape)


# (our call, torch's same call or None, error type, words the message must hold)
FUNCTIONAL = [
    (lambda: xg.nn.conv1d(_xg((1, 3, 5)), _xg((2, 2, 3))),
     lambda: F.conv1d(_t((1, 3, 5)), _t((2, 2, 3))), ValueError, ["input has 3 channels",
                                                                   "expects 2"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 2)), _xg((1, 1, 3))),
     lambda: F.conv1d(_t((1, 1, 2)), _t((1, 1, 3))), ValueError, ["kernel", "length 2"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 4)), _xg((1, 1, 3)), dilation=2),
     lambda: F.conv1d(_t((1, 1, 4)), _t((1, 1, 3)), dilation=2), ValueError,
     ["dilation 2 spans 5"]),
    (lambda: xg.nn.conv1d(_xg((1, 4, 5)), _xg((3, 2, 2)), groups=2),
     lambda: F.conv1d(_t((1, 4, 5)), _t((3, 2, 2)), groups=2), ValueError,
     ["groups=2", "out_channels 3"]),
    (lambda: xg.nn.conv1d(_xg((1, 3, 5)), _xg((4, 1, 2)), groups=2),
     lambda: F.conv1d(_t((1, 3, 5)), _t((4, 1, 2)), groups=2), ValueError,
     ["input has 3 channels", "groups=2"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5)), _xg((1, 1, 3)), stride=2, padding="same"),
     lambda: F.conv1d(_t((1, 1, 5)), _t((1, 1, 3)), stride=2, padding="same"), ValueError,
     ["padding='same'", "stride=2"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5)), _xg((1, 1, 3)), padding=-1),
     lambda: F.conv1d(_t((1, 1, 5)), _t((1, 1, 3)), padding=-1), ValueError,
     ["padding", "negative"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5)), _xg((1, 1, 3)), padding=(1, 2)),
     lambda: F.conv1d(_t((1, 1, 5)), _t((1, 1, 3)), padding=(1, 2)), ValueError,
     ["padding", "tuple of one"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5)), _xg((1, 1, 3)), padding="full"),
     lambda: F.conv1d(_t((1, 1, 5)), _t((1, 1, 3)), padding="full"), ValueError,
     ["padding", "'valid' or 'same'"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5)), _xg((1, 1, 3)), stride=0),
     lambda: F.conv1d(_t((1, 1, 5)), _t((1, 1, 3)), stride=0), ValueError, ["stride"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5)), _xg((1, 1, 3)), dilation=0),
     lambda: F.conv1d(_t((1, 1, 5)), _t((1, 1, 3)), dilation=0), ValueError, ["dilation"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5)), _xg((1, 1, 3)), groups=0),
     lambda: F.conv1d(_t((1, 1, 5)), _t((1, 1, 3)), groups=0), ValueError, ["groups"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5)), _xg((1, 3))),
     lambda: F.conv1d(_t((1, 1, 5)), _t((1, 3))), ValueError, ["weight", "3-D"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 1, 5)), _xg((1, 1, 3))),
     lambda: F.conv1d(_t((1, 1, 1, 5)), _t((1, 1, 3))), ValueError, ["input", "(N, C, L)"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5)), _xg((2, 1, 3)), _xg((3,))),
     lambda: F.conv1d(_t((1, 1, 5)), _t((2, 1, 3)), _t((3,))), ValueError,
     ["bias", "(2,)"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5), "float64"), _xg((1, 1, 3))),
     lambda: F.conv1d(_t((1, 1, 5)).double(), _t((1, 1, 3))), TypeError,
     ["float64", "float32", "xg.astype"]),
    (lambda: xg.nn.conv1d(xg.ones((1, 1, 5), dtype=xg.int64), _xg((1, 1, 3))),
     None, TypeError, ["input", "floating"]),
    (lambda: xg.nn.conv1d(_xg((1, 1, 5)), _xg((1, 1, 3)), stride=1.0),
     lambda: F.conv1d(_t((1, 1, 5)), _t((1, 1, 3)), stride=1.0), TypeError, ["stride", "int"]),
]

LAYER = [
    (lambda: xg.nn.Conv1d(4, 2, 3, rng=0)(_xg((1, 3, 5))),
     lambda: torch.nn.Conv1d(4, 2, 3)(_t((1, 3, 5))), ValueError, ["Conv1d", "3 channels"]),
    (lambda: xg.nn.Conv1d(3, 4, 2, groups=2), lambda: torch.nn.Conv1d(3, 4, 2, groups=2),
     ValueError, ["in_channels (3)", "groups (2)"]),
    (lambda: xg.nn.Conv1d(4, 3, 2, groups=2), lambda: torch.nn.Conv1d(4, 3, 2, groups=2),
     ValueError, ["out_channels (3)", "groups (2)"]),
    (lambda: xg.nn.Conv1d(1, 1, 3, stride=2, padding="same"),
     lambda: torch.nn.Conv1d(1, 1, 3, stride=2, padding="same"), ValueError,
     ["Conv1d", "padding='same'"]),
    # refused when built here; PyTorch refuses them in the first forward
    (lambda: xg.nn.Conv1d(1, 1, 3, padding=-2),
     lambda: torch.nn.Conv1d(1, 1, 3, padding=-2)(_t((1, 1, 5))), ValueError,
     ["padding", "negative"]),
    (lambda: xg.nn.Conv1d(1, 1, 0), lambda: torch.nn.Conv1d(1, 1, 0)(_t((1, 1, 5))),
     ValueError, ["kernel_size"]),
    (lambda: xg.nn.Conv1d(1, 1, 3, padding_mode="constant"),
     lambda: torch.nn.Conv1d(1, 1, 3, padding_mode="constant"), ValueError,
     ["padding_mode", "'reflect'"]),
    (lambda: xg.nn.Conv1d(1, 1, 3, padding=3, padding_mode="reflect", rng=0)(_xg((1, 1, 3))),
     lambda: torch.nn.Conv1d(1, 1, 3, padding=3, padding_mode="reflect")(_t((1, 1, 3))),
     ValueError, ["reflect", "padding 3", "length 3"]),
    (lambda: xg.nn.Conv1d(1, 1, 3, padding=4, padding_mode="circular", rng=0)(_xg((1, 1, 3))),
     lambda: torch.nn.Conv1d(1, 1, 3, padding=4, padding_mode="circular")(_t((1, 1, 3))),
     ValueError, ["circular", "padding 4"]),
    (lambda: xg.nn.Conv1d(2, 2, 5, rng=0)(_xg((1, 2, 3))),
     lambda: torch.nn.Conv1d(2, 2, 5)(_t((1, 2, 3))), ValueError, ["Conv1d", "kernel"]),
    (lambda: xg.nn.Conv1d(2, 2, 3, rng=0)(_xg((1, 2, 5), "float64")),
     lambda: torch.nn.Conv1d(2, 2, 3)(_t((1, 2, 5)).double()), TypeError, ["no silent"]),
    (lambda: xg.nn.Conv1d(2, 2, 3, bias=False, bias_init="zeros"), None, ValueError,
     ["bias_init", "bias=False"]),
    (lambda: xg.nn.Conv1d(2, 2, 3, device="cpu"), None, TypeError, ["device", "backend="]),
    (lambda: xg.nn.Conv1d(2, 2, 3, bias=1), None, TypeError, ["bias", "True or False"]),
    (lambda: xg.nn.Conv1d(2, 2, 3, dtype="int32"), None, TypeError, ["dtype"]),
]


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")     # torch's
@pytest.mark.parametrize("ours, theirs, error, words", FUNCTIONAL + LAYER)
def test_bad_input_is_named(ours, theirs, error, words):
    assert_raises_naming(ours, error, words, theirs)


def test_state_dict_mismatch_changes_nothing():
    layer = xg.nn.Conv1d(2, 3, 3, rng=0)
    before = layer.weight.numpy().copy()
    bad = [{"weight": np.zeros((3, 2, 4)), "bias": np.zeros(3)},       # another kernel size
           {"weight": np.zeros((3, 2, 3))},                            # no bias
           {"weight": np.zeros((3, 2, 3)), "bias": np.zeros(3), "extra": 1}]
    for state in bad[:2]:
        with pytest.raises(ValueError, match="Conv1d.load_torch_state_dict"):
            layer.load_torch_state_dict(state)
    with pytest.raises(ValueError, match="unexpected keys"):
        xg.nn.Conv1d(2, 3, 3, bias=False, rng=0).load_torch_state_dict(
            {"weight": np.zeros((3, 2, 3)), "bias": np.zeros(3)})
    np.testing.assert_array_equal(layer.weight.numpy(), before)


def test_empty_batch_as_torch():
    y = xg.nn.conv1d(_xg((0, 2, 6)), _xg((3, 2, 3)), padding=1)
    assert y.shape == tuple(F.conv1d(_t((0, 2, 6)), _t((3, 2, 3)), padding=1).shape)
