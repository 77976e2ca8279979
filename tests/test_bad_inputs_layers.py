"""Bad inputs to layers and activations that once slipped through (SequenceClassifier, Dropout,
LSTM.load_torch_state_dict, name=None, softmax and leaky_relu): each test failed before its fix
(a deep AttributeError, a silent wrong number, or an unchecked argument) and checks the clear
error (or the correct result, against NumPy or PyTorch) now. The rest of the public API:
test_bad_inputs_api.py; training: test_bad_inputs_training.py."""
import numpy as np
import pytest

import xpgrad as xg


# -- SequenceClassifier: its sizes are checked like every other layer's ------------------------
@pytest.mark.parametrize("args, exc, words", [
    ((8, [], 3), ValueError, "hidden must list at least one"),         # built a bare Linear
    ((8, [4], 0), ValueError, "n_classes must be a positive integer, got 0"),  # said out_features
    ((8.7, [4], 3), TypeError, "input_size must be a positive integer, got 8.7"),  # became 8
    ((8, [4.5], 3), TypeError, "hidden must be a list of positive integers"),     # became 4
    ((8, 16, 3), TypeError, "hidden must be a list of positive integers, got int"),
    ((8, [4], "3"), TypeError, "n_classes must be a positive integer, got '3'"),
])
def test_sequence_classifier_checks_its_sizes(args, exc, words):
    with pytest.raises(exc, match=f"SequenceClassifier: {words}"):
        xg.nn.SequenceClassifier(*args)


def test_sequence_classifier_takes_a_nested_list_like_linear():
    model = xg.nn.SequenceClassifier(2, [3], 4, rng=0)
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    np.testing.assert_allclose(model(x.tolist()).numpy(), model(xg.asarray(x)).numpy())
    with pytest.raises(ValueError, match="SequenceClassifier: input of shape \\(2, 5\\)"):
        model(xg.ones((2, 5)))


# -- activations on empty tensors: PyTorch returns an empty result -----------------------------
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(2, 0), (0, 3), (0,)])
def test_softmax_of_an_empty_axis_is_empty_like_pytorch(backend, name, shape):
    torch = pytest.importorskip("torch")
    if backend == "numba":
        pytest.importorskip("numba")
    expected = getattr(torch, name)(torch.ones(shape, dtype=torch.float64), -1)
    x = xg.ones(shape, dtype="float64", backend=backend)
    f = getattr(xg.nn, name)
    assert f(x).shape == tuple(expected.shape)               # (2, 0) raised a NumPy error
    assert xg.grad(lambda a: xg.sum(f(a)))(x).shape == shape


@pytest.mark.parametrize("name, torchs", [("softmax", 1.0), ("log_softmax", 0.0)])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_of_a_0d_tensor_names_the_axis_where_pytorch_and_jax_disagree(name, torchs, axis):
    torch = pytest.importorskip("torch")
    assert getattr(torch, name)(torch.tensor(3.0), axis).item() == torchs
    jax = pytest.importorskip("jax")
    with pytest.raises(ValueError, match="out of bounds"):
        getattr(jax.nn, name)(jax.numpy.asarray(3.0), axis=axis)
    for f in (getattr(xg.nn, name), getattr(xg, name)):
        with pytest.raises(ValueError, match=rf"{name}: axis {axis} is out of range for a 0-d "
                                             rf"tensor.*PyTorch returns {torchs}.*\(1,\)"):
            f(xg.asarray(3.0), axis=axis)
    with pytest.raises(TypeError, match="axis must be an int"):
        getattr(xg.nn, name)(xg.asarray(3.0), axis="last")
    one = getattr(xg.nn, name)(xg.asarray([3.0]), axis=axis)         # the reshape it suggests
    assert one.tolist() == [getattr(torch, name)(torch.tensor([3.0]), axis).item()]


def test_dropout_checks_its_rng_when_made():
    with pytest.raises(TypeError, match="Dropout: rng must be an xg.random.Generator.*got str"):
        xg.nn.Dropout(0.5, rng="x")          # accepted, failed at the first training call
    d = xg.nn.Dropout(0.5, rng=3)
    assert d(xg.ones(1000)).shape == (1000,)


def test_load_torch_state_dict_reports_keys_of_other_parts_as_torch():
    # keys of other parts were ignored even with strict=True; torch's LSTM refuses them
    torch = pytest.importorskip("torch")
    ref = torch.nn.LSTM(3, 4)
    state = dict(ref.state_dict(), head_w=np.zeros((2, 4)))      # one dict for a whole model
    with pytest.raises(RuntimeError, match="head_w"):
        torch.nn.LSTM(3, 4).load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    layer = xg.nn.LSTM(3, 4, batch_first=True, rng=0)
    before = layer.layers[0].w_ih.numpy().copy()
    with pytest.raises(ValueError, match=r"unexpected keys \['head_w'\]"):
        layer.load_torch_state_dict(state)
    np.testing.assert_array_equal(layer.layers[0].w_ih.numpy(), before)
    assert layer.load_torch_state_dict(state, strict=False) == ([], ["head_w"])
    np.testing.assert_allclose(layer.layers[0].w_ih.numpy(), ref.weight_ih_l0.detach().numpy().T)


# -- layers made with name=None ------------------------------------
@pytest.mark.parametrize("make", [lambda: xg.nn.Linear(2, 3, name=None),
                                  lambda: xg.nn.MLP([2, 3], name=None),
                                  lambda: xg.nn.LSTM(2, 3, name=None),
                                  lambda: xg.nn.SequenceClassifier(2, [3], 4, name=None)])
def test_name_none_gives_the_modules_default_in_variable_names(make):
    model = make()
    names = [v.name for v in model.trainable_variables]
    assert all(n.startswith(model.name + "/") for n in names), names   # were 'None/w', ...


def test_leaky_relu_names_a_bad_slope():
    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a real number"):
        xg.nn.leaky_relu(xg.ones(2), negative_slope="a")  # "could not convert string to float"
    x = np.array([-2.0, 3.0])
    np.testing.assert_allclose(xg.nn.leaky_relu(xg.asarray(x), np.float32(0.5)).numpy(),
                               np.where(x > 0, x, 0.5 * x))
