"""Bad input to xg.nn.conv2d / xg.nn.Conv2d: a clear error naming the argument, raised before
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


X, W = (1, 3, 5, 5), (2, 3, 3, 3)

# (our call, torch's same call or None, error type, words the message must hold)
FUNCTIONAL = [
    (lambda: xg.nn.conv2d(_xg(X), _xg((2, 2, 3, 3))),
     lambda: F.conv2d(_t(X), _t((2, 2, 3, 3))), ValueError, ["input has 3 channels",
                                                             "expects 2"]),
    (lambda: xg.nn.conv2d(_xg((1, 1, 5, 2)), _xg((1, 1, 3, 3))),
     lambda: F.conv2d(_t((1, 1, 5, 2)), _t((1, 1, 3, 3))), ValueError, ["kernel", "length 2"]),
    (lambda: xg.nn.conv2d(_xg((1, 1, 4, 9)), _xg((1, 1, 3, 3)), dilation=(2, 1)),
     lambda: F.conv2d(_t((1, 1, 4, 9)), _t((1, 1, 3, 3)), dilation=(2, 1)), ValueError,
     ["dilation 2 spans 5"]),
    (lambda: xg.nn.conv2d(_xg((1, 4, 5, 5)), _xg((3, 2, 2, 2)), groups=2),
     lambda: F.conv2d(_t((1, 4, 5, 5)), _t((3, 2, 2, 2)), groups=2), ValueError,
     ["groups=2", "out_channels 3"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg((4, 1, 2, 2)), groups=2),
     lambda: F.conv2d(_t(X), _t((4, 1, 2, 2)), groups=2), ValueError,
     ["input has 3 channels", "groups=2"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), stride=(1, 2), padding="same"),
     lambda: F.conv2d(_t(X), _t(W), stride=(1, 2), padding="same"), ValueError,
     ["padding='same'", "stride=(1, 2)"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), padding=(1, -1)),
     lambda: F.conv2d(_t(X), _t(W), padding=(1, -1)), ValueError, ["padding", "negative"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), padding=(1, 2, 3)),
     lambda: F.conv2d(_t(X), _t(W), padding=(1, 2, 3)), ValueError,
     ["padding", "tuple of two"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), padding="full"),
     lambda: F.conv2d(_t(X), _t(W), padding="full"), ValueError,
     ["padding", "'valid' or 'same'"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), stride=(1, 0)),
     lambda: F.conv2d(_t(X), _t(W), stride=(1, 0)), ValueError, ["stride"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), stride=(1, 1, 1)),
     lambda: F.conv2d(_t(X), _t(W), stride=(1, 1, 1)), ValueError, ["stride", "tuple of two"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), dilation=0),
     lambda: F.conv2d(_t(X), _t(W), dilation=0), ValueError, ["dilation"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), groups=0),
     lambda: F.conv2d(_t(X), _t(W), groups=0), ValueError, ["groups"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), groups=1.0), None, TypeError, ["groups", "int"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg((2, 3, 3))),
     lambda: F.conv2d(_t(X), _t((2, 3, 3))), ValueError, ["weight", "4-D"]),
    (lambda: xg.nn.conv2d(_xg((1, 1, 3, 5, 5)), _xg((1, 1, 3, 3))),
     lambda: F.conv2d(_t((1, 1, 3, 5, 5)), _t((1, 1, 3, 3))), ValueError,
     ["input", "(N, C, H, W)"]),
    (lambda: xg.nn.conv2d(_xg((3, 5)), _xg((1, 3, 3, 3))),
     lambda: F.conv2d(_t((3, 5)), _t((1, 3, 3, 3))), ValueError, ["input", "(C, H, W)"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), _xg((3,))),
     lambda: F.conv2d(_t(X), _t(W), _t((3,))), ValueError, ["bias", "(2,)"]),
    (lambda: xg.nn.conv2d(_xg(X, "float64"), _xg(W)),
     lambda: F.conv2d(_t(X).double(), _t(W)), TypeError, ["float64", "float32", "xg.astype"]),
    (lambda: xg.nn.conv2d(xg.ones(X, dtype=xg.int64), _xg(W)), None, TypeError,
     ["input", "floating"]),
    (lambda: xg.nn.conv2d(_xg(X), _xg(W), stride=(1, 1.0)),
     lambda: F.conv2d(_t(X), _t(W), stride=(1, 1.0)), TypeError, ["stride", "int"]),
]

LAYER = [
    (lambda: xg.nn.Conv2d(4, 2, 3, rng=0)(_xg(X)),
     lambda: torch.nn.Conv2d(4, 2, 3)(_t(X)), ValueError, ["Conv2d", "3 channels"]),
    (lambda: xg.nn.Conv2d(3, 4, 2, groups=2), lambda: torch.nn.Conv2d(3, 4, 2, groups=2),
     ValueError, ["in_channels (3)", "groups (2)"]),
    (lambda: xg.nn.Conv2d(4, 3, 2, groups=2), lambda: torch.nn.Conv2d(4, 3, 2, groups=2),
     ValueError, ["out_channels (3)", "groups (2)"]),
    (lambda: xg.nn.Conv2d(1, 1, 3, stride=2, padding="same"),
     lambda: torch.nn.Conv2d(1, 1, 3, stride=2, padding="same"), ValueError,
     ["Conv2d", "padding='same'"]),
    (lambda: xg.nn.Conv2d(1, 1, 3, padding=(0, -2)),
     lambda: torch.nn.Conv2d(1, 1, 3, padding=(0, -2))(_t((1, 1, 5, 5))), ValueError,
     ["padding", "negative"]),
    (lambda: xg.nn.Conv2d(1, 1, (3, 0)), lambda: torch.nn.Conv2d(1, 1, (3, 0))(_t((1, 1, 5, 5))),
     ValueError, ["kernel_size"]),
    (lambda: xg.nn.Conv2d(1, 1, 3, padding_mode="constant"),
     lambda: torch.nn.Conv2d(1, 1, 3, padding_mode="constant"), ValueError,
     ["padding_mode", "'reflect'"]),
    (lambda: xg.nn.Conv2d(1, 1, 3, padding=(1, 3), padding_mode="reflect", rng=0)(
        _xg((1, 1, 5, 3))),
     lambda: torch.nn.Conv2d(1, 1, 3, padding=(1, 3), padding_mode="reflect")(
         _t((1, 1, 5, 3))), ValueError, ["reflect", "padding 3", "length 3"]),
    (lambda: xg.nn.Conv2d(1, 1, 3, padding=4, padding_mode="circular", rng=0)(
        _xg((1, 1, 3, 9))),
     lambda: torch.nn.Conv2d(1, 1, 3, padding=4, padding_mode="circular")(_t((1, 1, 3, 9))),
     ValueError, ["circular", "padding 4"]),
    (lambda: xg.nn.Conv2d(2, 2, 5, rng=0)(_xg((1, 2, 3, 8))),
     lambda: torch.nn.Conv2d(2, 2, 5)(_t((1, 2, 3, 8))), ValueError, ["Conv2d", "kernel"]),
    (lambda: xg.nn.Conv2d(2, 2, 3, rng=0)(_xg((1, 2, 5, 5), "float64")),
     lambda: torch.nn.Conv2d(2, 2, 3)(_t((1, 2, 5, 5)).double()), TypeError, ["no silent"]),
    (lambda: xg.nn.Conv2d(2, 2, 3, bias=False, bias_init="zeros"), None, ValueError,
     ["bias_init", "bias=False"]),
    (lambda: xg.nn.Conv2d(2, 2, 3, device="cpu"), None, TypeError, ["device", "backend="]),
    (lambda: xg.nn.Conv2d(2, 2, 3, dtype="int32"), None, TypeError, ["dtype"]),
]


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")     # torch's
@pytest.mark.parametrize("ours, theirs, error, words", FUNCTIONAL + LAYER)
def test_bad_input_is_named(ours, theirs, error, words):
    assert_raises_naming(ours, error, words, theirs)


def test_state_dict_mismatch_changes_nothing():
    layer = xg.nn.Conv2d(2, 3, 3, rng=0)
    before = layer.weight.numpy().copy()
    for state in ({"weight": np.zeros((3, 2, 3, 2)), "bias": np.zeros(3)},
                  {"weight": np.zeros((3, 2, 3, 3))}):
        with pytest.raises(ValueError, match="Conv2d.load_torch_state_dict"):
            layer.load_torch_state_dict(state)
    np.testing.assert_array_equal(layer.weight.numpy(), before)


def test_one_element_tuples_as_torchs_functional(rng):
    x, w = rng.standard_normal((1, 2, 7, 6)), rng.standard_normal((3, 2, 3, 3))
    kwargs = {"stride": (2,), "padding": [1], "dilation": (2,)}
    np.testing.assert_allclose(xg.nn.conv2d(xg.asarray(x), xg.asarray(w), **kwargs).numpy(),
                               F.conv2d(torch.tensor(x), torch.tensor(w), **kwargs).numpy(),
                               rtol=1e-12, atol=1e-12)


def test_empty_batch_as_torch():
    y = xg.nn.conv2d(_xg((0, 2, 6, 5)), _xg((3, 2, 3, 3)), padding=1)
    assert y.shape == tuple(F.conv2d(_t((0, 2, 6, 5)), _t((3, 2, 3, 3)), padding=1).shape)
