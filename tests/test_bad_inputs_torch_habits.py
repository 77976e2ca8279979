"""PyTorch and JAX habits that met Python's generic errors or slipped through (walkthroughs):
positional layer arguments past xpgrad's keyword-only mark, ``proj_size=0``, a gradient of
another dtype or shape given to ``apply_gradients``, the parameters given to an optimizer with
``learning_rate=``, and a ``custom_jvp`` rule's tangent of another dtype. Each test failed
before its fix and checks the clear error (or PyTorch's behaviour) now."""
import numpy as np
import pytest

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")


# -- positional arguments past the keyword-only mark ------------------------------------------
@pytest.mark.parametrize("make, args, words", [
    (xg.nn.LSTM, (3, 4, 1, True, True),
     r"LSTM\(\) takes at most 3 positional arguments \(input_size, hidden_size, num_layers\) "
     r"but 5 were given; bias=, forget_bias=, batch_first=.* are keyword-only\. "
     r"PyTorch's order as keywords: LSTM\(3, 4, 1, bias=True, batch_first=True\)$"),
    (xg.nn.GRU, (3, 4, 2, False, True, 0.5, True),
     r"GRU\(3, 4, 2, bias=False, batch_first=True, dropout=0.5, bidirectional=True\)$"),
    (xg.nn.RNN, (3, 4, 1, "relu"), r"RNN\(3, 4, 1, nonlinearity='relu'\)$"),
    (xg.nn.LSTMCell, (3, 4, False), r"LSTMCell\(3, 4, bias=False\)$"),
    (xg.nn.Linear, (3, 4, False), r"Linear\(\) takes at most 2 positional arguments "
                                  r"\(in_features, out_features\).*Linear\(3, 4, bias=False\)$"),
    (xg.nn.LayerNorm, (4, 1e-6, False),
     r"LayerNorm\(4, eps=1e-06, elementwise_affine=False\)$"),
    (xg.nn.BatchNorm2d, (4, 1e-3, 0.2), r"BatchNorm2d\(4, eps=0.001, momentum=0.2\)$"),
    (xg.nn.Embedding, (10, 3, 0), r"Embedding\(10, 3, padding_idx=0\)$"),
])
def test_pytorchs_positional_layer_arguments_are_spelled_as_keywords(make, args, words):
    """Python said only "takes from 3 to 4 positional arguments but 6 were given"."""
    torch = pytest.importorskip("torch")
    getattr(torch.nn, make.__name__)(*args)                 # PyTorch's own order takes them
    with pytest.raises(TypeError, match=words) as info:
        make(*args)
    spelled = str(info.value).rsplit(": ", 1)[-1]           # the call the error suggests
    layer = eval(spelled, {make.__name__: make})
    assert isinstance(layer, make)


def test_a_layer_without_pytorchs_order_names_its_keyword_only_arguments():
    with pytest.raises(TypeError, match=r"^Dropout\(\) takes at most 1 positional argument "
                                        r"\(rate\) but 2 were given; rng= and name= are "
                                        r"keyword-only$"):
        xg.nn.Dropout(0.5, False)                           # torch.nn.Dropout(p, inplace)
    assert xg.nn.Dropout(0.5).rate == 0.5


# -- proj_size ----------------------------------------------------------------------------------
def test_lstm_takes_pytorchs_default_proj_size_0_and_refuses_a_projection():
    torch = pytest.importorskip("torch")
    x = xg.asarray(np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32))
    plain, configured = xg.nn.LSTM(3, 4, rng=0), xg.nn.LSTM(3, 4, proj_size=0, rng=0)
    np.testing.assert_array_equal(configured(x)[0].numpy(), plain(x)[0].numpy())
    with pytest.raises(ValueError, match=r"LSTM: proj_size=2 \(PyTorch's projection of h_t\) "
                                         r"is not supported; xpgrad's LSTM takes proj_size=0"):
        xg.nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(TypeError, match="LSTM: proj_size must be a non-negative integer"):
        xg.nn.LSTM(3, 4, proj_size=True)
    for name in ("GRU", "RNN"):                              # PyTorch refuses it there too
        with pytest.raises(ValueError, match="only supported for LSTM"):
            getattr(torch.nn, name)(3, 4, proj_size=0)
        with pytest.raises(TypeError, match=rf"{name}\(\) got an unexpected keyword argument "
                                            r"'proj_size': only an LSTM has proj_size"):
            getattr(xg.nn, name)(3, 4, proj_size=0)


# -- apply_gradients ----------------------------------------------------------------------------
def test_apply_gradients_names_itself_for_a_gradient_of_another_shape():
    w = xg.Variable(np.ones(3, np.float32), name="w")
    with pytest.raises(ValueError, match=r"^apply_gradients: gradient for 'w' has shape \(2,\), "
                                         r"the variable has shape \(3,\)$"):
        xg.optim.SGD(0.1).apply_gradients([(xg.ones(2), w)])
    with pytest.raises(TypeError, match=r"^apply_gradients: gradient for 'w' has dtype int"):
        xg.optim.SGD(0.1).apply_gradients([(xg.asarray([1, 2, 3]), w)])
    assert w.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("make", [lambda: xg.optim.Adam(0.1),
                                  lambda: xg.optim.SGD(0.1, momentum=0.9)])
def test_a_float64_gradient_updates_a_float32_variable_in_its_own_precision(make):
    """The policy (optim/pairs.py): a real gradient of another precision is taken, as an array
    or list of it is; the variable and the optimizer's state stay float32, the update that of
    the float32 gradient."""
    grad = np.array([0.3, -1.7, 2.2])
    given, cast = (xg.Variable(np.ones(3, np.float32), name="w") for _ in range(2))
    opt_given, opt_cast = make(), make()
    for _ in range(3):
        opt_given.apply_gradients([(xg.asarray(grad, dtype="float64"), given)])
        opt_cast.apply_gradients([(xg.asarray(grad, dtype="float32"), cast)])
    assert given.dtype == xg.float32
    np.testing.assert_allclose(given.numpy(), cast.numpy(), rtol=1e-6)
    slots = {key: value for key, value in opt_given.state_dict([given]).items()
             if key.startswith("w/") and value.dtype.is_floating}
    assert slots and all(value.dtype == xg.float32 for value in slots.values()), slots


# -- an optimizer given the parameters and learning_rate= ---------------------------------------
@pytest.mark.parametrize("make, words", [
    (xg.optim.LBFGS, r"LBFGS takes no model or variables .*opt.minimize\(loss_fn, variables\)"),
    (xg.optim.SGD, r"SGD: an optimizer takes no model or variables .*apply_gradients"),
])
def test_parameters_first_with_learning_rate_by_name_point_to_where_they_go(make, words):
    """Python said "got multiple values for argument 'learning_rate'"."""
    w = xg.Variable([1.0, 2.0], name="w")
    with pytest.raises(TypeError, match=words):
        make([w], learning_rate=1.0)
    with pytest.raises(TypeError, match=words):
        make(learning_rate=[w])
    assert make(learning_rate=1.0).learning_rate == 1.0


# -- custom_jvp rules ---------------------------------------------------------------------------
def test_a_custom_jvp_rules_tangent_of_another_dtype_is_refused_naming_the_rule():
    sine = xg.custom_jvp(lambda x: xg.sin(x))

    def sine_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return xg.sin(x), xg.cos(x).astype(xg.float64) * t.astype(xg.float64)

    sine.defjvp(sine_jvp)
    x = xg.asarray([1.0, 2.0], dtype="float32")
    words = (r"tangent_out has dtype float64 but its primal_out has dtype float32; they must be "
             r"equal \(as in jax.jvp\): cast it with xg.astype\(tangent_out, xg.float32\) "
             r"\(rule 'sine_jvp' at test_bad_inputs_torch_habits.py:\d+\)")
    with pytest.raises(TypeError, match=words):
        xg.jvp(sine, (x,), (xg.ones(2),))
    with pytest.raises(TypeError, match=words):
        xg.grad(lambda u: xg.sum(sine(u)))(x)
    with pytest.raises(TypeError, match="must be equal"):       # the caller's, as checked
        xg.jvp(xg.sin, (x,), (xg.ones(2, dtype="float64"),))
