"""Regressions from a PyTorch user's review of 2-d convolution / pooling and the time-major
recurrent layers: each test compares with torch (float64) or checks a clear error."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

GEOMETRY = ("kernel_size", "stride", "padding", "dilation")


def _tail(layer):
    """The repr after the class name (and xpgrad's ``name=`` field)."""
    text = repr(layer)
    return text[text.index("kernel_size="):]


@pytest.mark.parametrize("cls", ["MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d"])
@pytest.mark.parametrize("args", [(2,), (3, None, 1), (3, 2, 1), ((2,), None, (1,)),
                                  ((2, 3), 1, (1, 0))])
def test_pooling_layers_keep_their_arguments_as_torch(cls, args):
    dims = int(cls[-2])
    if dims == 1 and len(args) > 2 and isinstance(args[0], tuple) and len(args[0]) == 2:
        with pytest.raises(ValueError, match=f"{cls}: kernel_size"):
            getattr(xg.nn, cls)(*args)
        return
    ours, ref = getattr(xg.nn, cls)(*args), getattr(torch.nn, cls)(*args)
    for attr in GEOMETRY:
        if hasattr(ref, attr):
            assert getattr(ours, attr) == getattr(ref, attr), attr
    assert _tail(ours) == repr(ref)[repr(ref).index("kernel_size="):]
    x = np.random.default_rng(0).normal(size=(2, 3, 7, 6)[:dims + 2])
    np.testing.assert_allclose(ours(xg.asarray(x)).numpy(),
                               ref(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)


def test_conv2d_layer_refuses_a_kernel_size_of_one_int_as_torchs_layer():
    with pytest.raises(RuntimeError):
        torch.nn.Conv2d(3, 4, (3,))(torch.ones(1, 3, 5, 5))
    for kernel_size in [(3,), [3]]:
        with pytest.raises(ValueError,
                           match="Conv2d: kernel_size must be an int or a tuple of 2 ints"):
            xg.nn.Conv2d(3, 4, kernel_size)


def test_conv2d_takes_tuples_of_one_where_torch_does(rng):
    x, w = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 2))
    kwargs = {"stride": (2,), "padding": (1,), "dilation": (2,)}
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **kwargs).numpy()
    ours = xg.nn.conv2d(xg.asarray(x), xg.asarray(w), **kwargs).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)
    layer = xg.nn.Conv2d(3, 4, (3, 2), dtype=xg.float64, rng=0, **kwargs)
    ref_layer = torch.nn.Conv2d(3, 4, (3, 2), **kwargs).double()
    layer.load_torch_state_dict(ref_layer.state_dict())
    np.testing.assert_allclose(layer(xg.asarray(x)).numpy(),
                               ref_layer(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)


BACKENDS = ["numpy"] + (["numba"] if backend_report().get(
    "numba", {"available": False})["available"] else [])
POOLS = ["max_pool1d", "avg_pool1d", "max_pool2d", "avg_pool2d"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", POOLS)
def test_pooling_an_empty_batch_is_empty_as_torch(name, backend):
    dims = int(name[-2])
    shape = (0, 2, 5, 4)[:dims + 2]
    ref = getattr(torch.nn.functional, name)(torch.zeros(shape, dtype=torch.float64), 2,
                                             padding=1)
    x = xg.zeros(shape, dtype=xg.float64, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = getattr(xg.nn, name)(x, 2, padding=1)
        loss = xg.sum(y)
    assert y.shape == tuple(ref.shape) and y.dtype == xg.float64
    assert tape.gradient(loss, x).shape == shape
    if name.startswith("max"):
        _, index = getattr(xg.nn, name)(x, 2, padding=1, return_indices=True)
        assert index.shape == tuple(ref.shape) and index.dtype == xg.int64


EMPTY = {1: [(1, 0, 4), (2, 3, 0), (0, 4), (3, 0)],
         2: [(1, 0, 4, 4), (2, 3, 0, 4), (2, 3, 4, 0), (0, 0, 4, 4), (0, 4, 4), (3, 0, 4)]}


@pytest.mark.parametrize("name, shape", [(name, shape) for name in POOLS
                                         for shape in EMPTY[int(name[-2])]])
def test_pooling_refuses_other_empty_axes_as_torch(name, shape):
    with pytest.raises(RuntimeError):
        getattr(torch.nn.functional, name)(torch.zeros(shape, dtype=torch.float64), 2,
                                           padding=1)
    with pytest.raises(ValueError, match=f"{name}: input of shape .* has an empty axis"):
        getattr(xg.nn, name)(xg.zeros(shape, dtype=xg.float64), 2, padding=1)


@pytest.mark.parametrize("batch_first", [True, False])
def test_tbptt_refuses_one_unbatched_sequence_instead_of_cutting_its_features(batch_first):
    """An unbatched (time, input_size) sequence given to a batch-first LSTM was cut along its
    features: one update over the whole sequence, silently; now a ValueError with the fix."""
    lstm = xg.nn.LSTM(3, 3, batch_first=batch_first, dtype=xg.float64, rng=0)
    x = xg.asarray(np.random.default_rng(0).normal(size=(12, 3)))
    y = xg.zeros((12, 3), dtype=xg.float64)

    def loss(out, target):
        return xg.losses.mse(out, target)

    fix = r"inputs\[None\]" if batch_first else r"inputs\[:, None\]"
    with pytest.raises(ValueError, match=f"unbatched .*batch axis of one \\({fix}"):
        xg.nn.tbptt_train(lstm, loss, xg.optim.SGD(learning_rate=0.1), x, y, k1=4)
    x, y = (x[None], y[None]) if batch_first else (x[:, None], y[:, None])
    result = xg.nn.tbptt_train(lstm, loss, xg.optim.SGD(learning_rate=0.1), x, y, k1=4)
    assert result.updates == 3 and result.state[0].shape == (1, 1, 3)


@pytest.mark.parametrize("make, owner", [
    (lambda bad: xg.nn.RNN(3, 4, nonlinearity=bad, batch_first=False), "RNN"),
    (lambda bad: xg.nn.RNNCell(3, 4, nonlinearity=bad), "RNNCell"),
    (lambda bad: xg.nn.rnn_scan(xg.ones((1, 2, 4)), xg.zeros((1, 4)), xg.zeros((4, 4)), bad),
     "rnn_scan"),
])
@pytest.mark.parametrize("bad", ["sigmoid", ["tanh"], None])
def test_a_bad_nonlinearity_names_the_layer(make, owner, bad):
    with pytest.raises(ValueError):
        torch.nn.RNN(3, 4, nonlinearity=bad if isinstance(bad, str) else "sigmoid")
    with pytest.raises(ValueError, match=f"{owner}: nonlinearity must be one of"):
        make(bad)
