"""Bad inputs to the training API that once slipped through (optimizers, clip_global_norm,
checkpoints, learning_rate, xpgrad.data.batches, tbptt_train): each test failed before its fix
(a deep AttributeError, a silent wrong number, or an unchecked argument) and checks the clear
error (or the correct result, against NumPy or PyTorch) now. The rest of the public API:
test_bad_inputs_api.py; layers: test_bad_inputs_layers.py."""
import numpy as np
import pytest

import xpgrad as xg


# -- optimizers -----------------------------------------------------------------------------
def test_complex_gradient_for_a_real_variable_is_refused_like_pytorch():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        torch.zeros(2).add_(torch.ones(2, dtype=torch.complex64))
    w = xg.Variable(np.array([1.0, 2.0]), name="w")
    with pytest.raises(TypeError, match="'w' has dtype complex64.*real floating"):
        xg.optim.SGD(0.1).apply_gradients([(xg.asarray([1j, 1j]), w)])   # dropped 1j before
    assert w.tolist() == [1.0, 2.0]
    z = xg.Variable(np.array([1j, 2.0]), name="z")                        # real into complex: ok
    xg.optim.SGD(0.5).apply_gradients([(xg.asarray([2.0, 2.0], dtype="float64"), z)])
    np.testing.assert_allclose(z.numpy(), [-1.0 + 1j, 1.0])


@pytest.mark.parametrize("arg", [3, None, xg.ones(2)])
def test_apply_gradients_names_what_it_takes(arg):
    with pytest.raises(TypeError, match="iterable of \\(gradient, variable\\) pairs"):
        xg.optim.SGD(0.1).apply_gradients(arg)


@pytest.mark.parametrize("clip", [lambda g: xg.optim.clip_global_norm(g, 1.0),
                                  lambda g: [g, None]])
def test_a_list_of_gradients_paired_with_one_variable_is_named(clip):
    """A torch user's ``grads = clip_global_norm(grads, c)`` (torch's clip_grad_norm_ clips in
    place and returns the norm) zipped the pair (grads, norm) with the variables: NumPy's
    'inhomogeneous shape' ValueError; now a TypeError saying what happened, nothing updated."""
    model = xg.nn.Linear(3, 2, rng=0)
    before = [v.numpy().copy() for v in model.trainable_variables]
    with xg.GradientTape() as tape:
        loss = xg.sum(model(xg.ones((4, 3))))
    grads = tape.gradient(loss, model.trainable_variables)
    with pytest.raises(TypeError, match="gradient for 'linear/w' is a (tuple|list) of 2 tensors, "
                                        "not one gradient.*clip_global_norm returns a pair"):
        xg.optim.SGD(0.1).apply_gradients(zip(clip(grads), model.trainable_variables))
    for v, b in zip(model.trainable_variables, before):
        np.testing.assert_array_equal(v.numpy(), b)
    xg.optim.SGD(0.1).apply_gradients([([0.5, 0.5], model.b)])    # numbers are a gradient
    np.testing.assert_allclose(model.b.numpy(), before[1] - 0.05)


def test_minimize_refuses_a_loss_value_instead_of_a_callable():
    w = xg.Variable(np.array([1.0]), name="w")
    with pytest.raises(TypeError, match="loss_fn callable.*Tensor"):
        xg.optim.SGD(0.1).minimize(xg.sum(w * w), [w])


# -- checkpoints: what is saved or loaded must be variables, the optimizer an Optimizer ----------
@pytest.mark.parametrize("model, names", [(None, "NoneType"), ("mlp", "str"),
                                          ([xg.ones(2)], "list holding a Tensor"),
                                          ({"w": np.ones(2)}, "dict holding a ndarray")])
@pytest.mark.parametrize("action", ["save", "load"])
def test_checkpoint_model_must_hold_variables(tmp_path, model, names, action):
    path = tmp_path / "c.npz"
    xg.save_checkpoint(path, [xg.Variable([1.0, 2.0], name="w")])
    call = xg.save_checkpoint if action == "save" else xg.load_checkpoint
    with pytest.raises(TypeError, match=f"model must be a Module.*got {names}"):
        call(path, model)


@pytest.mark.parametrize("action", ["save", "load"])
def test_checkpoint_optimizer_must_be_an_optimizer(tmp_path, action):
    model = xg.nn.Linear(2, 1, rng=0)
    path = tmp_path / "c.npz"
    xg.save_checkpoint(path, model)
    call = xg.save_checkpoint if action == "save" else xg.load_checkpoint
    with pytest.raises(TypeError, match="optimizer must be an xg.optim Optimizer.*got str"):
        call(path, model, "adam")


# -- tbptt_train: its callables are checked before the first update --------------------------
@pytest.mark.parametrize("arg, words", [("model", "model must be callable, got str"),
                                        ("loss_fn", "loss_fn must be callable, got str"),
                                        ("callback", "callback must be callable, got str"),
                                        ("optimizer", "optimizer must be an xg.optim")])
def test_tbptt_train_checks_its_callables_before_updating(arg, words):
    lstm = xg.nn.LSTM(1, 2, rng=0)
    before = [v.numpy().copy() for v in lstm.trainable_variables]
    args = dict(model=lstm, loss_fn=xg.losses.mse, optimizer=xg.optim.SGD(0.1),
                inputs=xg.ones((2, 6, 1)), targets=xg.zeros((2, 6, 2)), k1=2)
    args[arg] = "x"
    if arg == "model":
        args["variables"] = lstm.trainable_variables
    with pytest.raises(TypeError, match=f"tbptt_train: {words}"):
        xg.nn.tbptt_train(**args)
    for b, v in zip(before, lstm.trainable_variables):      # a bad callback updated once before
        np.testing.assert_array_equal(b, v.numpy())


# -- optimizer.learning_rate = value (Keras) ---------------------------------------------------
def test_learning_rate_can_be_set_and_is_checked():
    w = xg.Variable(np.array([1.0, 2.0]), name="w")
    opt = xg.optim.SGD(0.1)                                   # AttributeError: no setter
    opt.learning_rate = 0.5
    opt.apply_gradients([(xg.asarray([1.0, 1.0], dtype="float64"), w)])
    np.testing.assert_allclose(w.numpy(), [0.5, 1.5])
    opt.learning_rate = lambda step: 0.25 * step              # a schedule of the step
    opt.apply_gradients([(xg.asarray([1.0, 1.0], dtype="float64"), w)])
    np.testing.assert_allclose(w.numpy(), [0.25, 1.25])
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0, got -1"):
        opt.learning_rate = -1.0
    with pytest.raises(TypeError, match="learning_rate"):
        opt.learning_rate = "fast"
    assert opt.learning_rate == 0.5                           # unchanged by the refused values


# -- xpgrad.data.batches -------------------------------------------------------------------------
def test_batches_checks_n_and_rng():
    from xpgrad import data

    with pytest.raises(TypeError, match="rng must be a NumPy Generator.*got int"):
        data.batches(4, 2, rng=0)                           # AttributeError: no permutation
    with pytest.raises(ValueError, match="n must be a count >= 0.*-1"):
        data.batches(-1, 2)                                 # returned [] before
    order = np.concatenate(data.batches(7, 3, rng=np.random.default_rng(0)))
    assert sorted(order.tolist()) == list(range(7))


# -- clip_global_norm / global_norm --------------------------------------------------------------
def test_clip_global_norm_reads_a_generator_once():
    grads = [xg.asarray([3.0], dtype="float64"), xg.asarray([4.0], dtype="float64")]
    clipped, norm = xg.optim.clip_global_norm((g for g in grads), 1.0)   # returned []
    assert norm.item() == 5.0
    np.testing.assert_allclose([c.item() for c in clipped], [0.6, 0.8])


@pytest.mark.parametrize("call", [lambda g: xg.optim.clip_global_norm(g, 1.0),
                                  xg.optim.global_norm])
def test_clip_global_norm_refuses_a_bare_tensor(call):
    with pytest.raises(TypeError, match="takes a list of Tensors.*got a Tensor"):
        call(xg.ones(3))              # clipped the 3 entries as 3 tensors, returning a list


@pytest.mark.usefixtures("numpy_default")
def test_global_norm_refuses_mixed_backends_as_clip_does():
    pytest.importorskip("numba")
    with pytest.raises(xg.MixedBackendError):
        xg.optim.global_norm([xg.ones(2), xg.ones(2, backend="numba")])   # computed before


def test_checkpoint_of_a_generator_of_variables(tmp_path):
    w = xg.Variable(np.array([1.0, 2.0]), name="w")
    opt = xg.optim.Adam(0.1)
    opt.apply_gradients([(xg.asarray([1.0, 1.0], dtype="float64"), w)])
    saved = w.tolist()
    xg.save_checkpoint(tmp_path / "c.npz", (v for v in [w]), opt)   # its optimizer state too
    w.assign([5.0, 6.0])
    xg.load_checkpoint(tmp_path / "c.npz", (v for v in [w]), xg.optim.Adam(0.1))
    assert w.tolist() == saved                          # 'unexpected model/w' before
