"""A PyTorch user's first reach -- ``model.parameters()``, ``loss.backward()``, ``x.grad``,
``t.detach()`` -- gets an AttributeError that says where xpgrad has it (``hasattr`` stays
False, so code probing for PyTorch tensors is not fooled)."""
from __future__ import annotations

import pytest

import xpgrad as xg


@pytest.mark.parametrize("name, hint", [
    ("parameters", "trainable_variables"),
    ("named_parameters", "named_variables()"),
    ("zero_grad", "tape.gradient"),
    ("cuda", "backend="),
    ("to", "backend="),
    ("to", "dtype=xg.float64"),        # model.to(torch.float64) as well as model.to(device)
    ("requires_grad_", "trainable"),
])
def test_pytorch_module_names_point_to_ours(name, hint):
    model = xg.nn.MLP([3, 5, 2], rng=0)
    with pytest.raises(AttributeError) as err:
        getattr(model, name)
    assert hint in str(err.value) and name in str(err.value)
    assert not hasattr(model, name)
    with pytest.raises(AttributeError, match="no_such_thing"):
        model.no_such_thing


@pytest.mark.parametrize("name, hint", [
    ("backward", "tape.gradient"), ("grad", "tape.gradient"), ("detach", "stop_gradient"),
    ("requires_grad", "tape.watch"), ("cpu", "to('numpy')"), ("cuda", "to('cupy')"),
    ("clone", "copy=True"), ("view", "reshape"), ("dim", "ndim"), ("float", "float32"),
    ("new_zeros", "xg.zeros(shape, dtype=t.dtype, backend=t.backend)"),
    ("new_full", "xg.full(shape, value, dtype=t.dtype"), ("new_tensor", "xg.asarray(data"),
])
def test_pytorch_tensor_names_point_to_ours(name, hint):
    for t in (xg.asarray([1.0, 2.0]), xg.Variable([1.0, 2.0])):
        with pytest.raises(AttributeError) as err:
            getattr(t, name)
        assert hint in str(err.value) and repr(name) in str(err.value)
        assert not hasattr(t, name)


@pytest.mark.parametrize("name, hint", [
    ("step", "apply_gradients"), ("zero_grad", "tape.gradient"),
    ("param_groups", "opt.learning_rate"), ("lr", "opt.learning_rate"),
    ("add_param_group", "an optimizer of its own"),
])
def test_pytorch_and_old_keras_optimizer_names_point_to_ours(name, hint):
    opt = xg.optim.Adam(learning_rate=0.01)
    with pytest.raises(AttributeError) as err:
        getattr(opt, name)
    assert hint in str(err.value)
    assert not hasattr(opt, name)


def test_setting_the_old_keras_lr_is_refused_instead_of_ignored():
    opt = xg.optim.SGD(learning_rate=0.1)
    with pytest.raises(AttributeError, match="opt.learning_rate"):
        opt.lr = 0.001
    assert opt.learning_rate == pytest.approx(0.1)
    opt.learning_rate = 0.001
    assert opt.learning_rate == pytest.approx(0.001)
    assert "lr" not in opt.get_config()


@pytest.mark.parametrize("name, hint", [
    ("cat", "xg.concat"), ("split", "xg.unstack"), ("chunk", "xg.unstack"),
    ("no_grad", "GradientTape"), ("inference_mode", "GradientTape"),
    ("set_grad_enabled", "GradientTape"), ("manual_seed", "xg.random.default_rng"),
    ("from_numpy", "xg.asarray"),
])
def test_pytorch_namespace_names_point_to_ours(name, hint):
    """Met porting PyTorch's word_language_model and time_sequence_prediction."""
    with pytest.raises(AttributeError) as err:
        getattr(xg, name)
    assert hint in str(err.value) and repr(name) in str(err.value)
    assert not hasattr(xg, name)
    with pytest.raises(AttributeError, match="'no_such_thing'$"):
        xg.no_such_thing


@pytest.mark.parametrize("name", ["split", "chunk"])
def test_tensor_split_points_to_unstack_and_slicing(name):
    with pytest.raises(AttributeError, match=r"xg.unstack\(t, axis=.*t\[:, i:j\]"):
        getattr(xg.asarray([[1.0, 2.0]]), name)


@pytest.mark.parametrize("name, hint", [
    ("functional", "xg.nn.log_softmax"),
])
def test_pytorch_nn_names_point_to_ours(name, hint):
    """torch.nn.functional, met porting PyTorch's word_language_model (its criterion,
    nn.NLLLoss(), is xg.nn.NLLLoss: tests/test_loss_modules.py)."""
    with pytest.raises(AttributeError) as err:
        getattr(xg.nn, name)
    assert hint in str(err.value) and repr(name) in str(err.value)
    assert not hasattr(xg.nn, name)


@pytest.mark.parametrize("name", ["clip_grad_norm_", "clip_grad_value_"])
def test_torch_nn_utils_clipping_points_to_ours(name):
    """``xg.nn.utils`` holds the parametrizations (weight_norm, spectral_norm); torch's
    clipping there points to ``clip_global_norm`` and ``clipvalue=``."""
    with pytest.raises(AttributeError) as err:
        getattr(xg.nn.utils, name)
    assert "clip_global_norm(grads, max_norm, eps=1e-6)" in str(err.value)
    assert "clipvalue=" in str(err.value) and repr(name) in str(err.value)
    with pytest.raises(AttributeError, match="'no_such_thing'$"):
        xg.nn.utils.no_such_thing


@pytest.mark.parametrize("owner, name, hint", [
    ("xg", "randn", "rng.normal(size=shape)"), ("xg", "rand", "rng.random(size=shape)"),
    ("xg", "randint", "rng.integers"), ("xg", "randperm", "rng.permutation(n)"),
    ("xg.optim", "lr_scheduler", "learning_rate=xg.optim.StepDecay"),
    ("xg.nn.init", "xavier_uniform_", "init='xavier_uniform'"),
    ("xg.nn.init", "kaiming_normal_", "init='kaiming_normal'"),
    ("xg.nn.init", "zeros_", "init='zeros'"),
    ("xg.nn.init", "trunc_normal_", "init=xg.nn.init.truncated_normal(mean, stddev)"),
    ("xg.nn.init", "normal_", "init=xg.nn.init.normal(mean, stddev)"),
])
def test_more_pytorch_names_point_to_ours(owner, name, hint):
    """Met by a PyTorch user porting a CNN script (session 20's review)."""
    module = {"xg": xg, "xg.optim": xg.optim, "xg.nn.init": xg.nn.init}[owner]
    with pytest.raises(AttributeError) as err:
        getattr(module, name)
    assert hint in str(err.value) and repr(name) in str(err.value)
    assert not hasattr(module, name)
    with pytest.raises(AttributeError, match="'no_such_thing'$"):
        module.no_such_thing


def test_hinted_initializers_draw_what_the_hint_says():
    """The hint's ways (a layer's init=, a Variable's assign) run."""
    layer = xg.nn.Linear(3, 2, init="xavier_uniform", rng=0)
    layer.w.assign(xg.nn.init.xavier_uniform(0, layer.w.shape))
    assert layer.w.shape == (3, 2)


def test_pytorch_tensor_unsqueeze_and_size_call_point_to_ours():
    t = xg.ones((2, 3))
    with pytest.raises(AttributeError, match=r"xg.expand_dims\(t, axis=k\)"):
        t.unsqueeze(0)
    assert not hasattr(t, "unsqueeze")
    assert xg.expand_dims(t, axis=0).shape == (1, 2, 3)
    # size stays the array API's element count, an int; only calling it gets the hint
    assert t.size == 6 and isinstance(t.size, int) and t.size + 1 == 7
    assert xg.Variable([1.0, 2.0]).size == 2
    for call in (lambda: t.size(), lambda: t.size(0)):
        with pytest.raises(TypeError, match=r"t.size\(\) is t.shape, t.size\(k\) is t.shape"):
            call()


def test_calling_xg_tensor_points_to_asarray():
    """xg.tensor is the module of xg.Tensor (it stays importable); torch.tensor(data) is
    xg.asarray(data)."""
    with pytest.raises(TypeError, match=r"torch.tensor\(data\) is xg.asarray\(data"):
        xg.tensor([1.0, 2.0])
    assert xg.tensor.Tensor is xg.Tensor
    import xpgrad.tensor

    assert xpgrad.tensor.Variable is xg.Variable



@pytest.mark.parametrize("kind, name, hint, hinted", [
    ("LSTM", "weight_ih_l0", "layers[0].w_ih.T", lambda m: m.layers[0].w_ih.T),
    ("GRU", "weight_hh_l1_reverse", "reverse_layers[1].w_hh.T",
     lambda m: m.reverse_layers[1].w_hh.T),
    ("RNN", "bias_ih_l1", "in layers[1].b here, which holds bias_ih + bias_hh",
     lambda m: m.layers[1].b),
    ("GRU", "bias_hh_l0", "layers[0].b_hn", lambda m: m.layers[0].b),
    ("LSTMCell", "weight_hh", "is w_hh.T here", lambda m: m.w_hh.T),
    ("GRUCell", "bias_ih", "in b here", lambda m: m.b),
])
def test_pytorch_recurrent_weight_names_point_to_ours(kind, name, hint, hinted):
    """torch's weight_ih_l0 and the like name where the weight is, which has torch's shape."""
    torch = pytest.importorskip("torch")
    cell = "Cell" in kind
    sizes = {} if cell else {"num_layers": 2, "bidirectional": True}
    layer = getattr(xg.nn, kind)(3, 4, **sizes, rng=0)
    with pytest.raises(AttributeError) as err:
        getattr(layer, name)
    assert hint in str(err.value) and "load_torch_state_dict" in str(err.value)
    assert not hasattr(layer, name)
    theirs = getattr(getattr(torch.nn, kind)(3, 4, **sizes), name)
    assert hinted(layer).shape == tuple(theirs.shape)
