"""Bad inputs to the public API that once slipped through: each test failed before its fix (a deep
AttributeError, a silent wrong number, or an unchecked argument) and checks the clear error (or
the correct result, against NumPy or PyTorch) now."""
import numpy as np
import pytest

import xpgrad as xg


def _tape_and_square():
    x = xg.asarray([1.0, 2.0], dtype="float64")
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    return tape, x, y


# -- GradientTape.jacobian / gradient argument checks ----------------------------------------
@pytest.mark.parametrize("which", ["target", "source"])
def test_jacobian_refuses_non_tensor_arguments(which):
    """(A list of sources is TensorFlow's and taken: test_function_optimization_inputs.py.)"""
    tape, x, y = _tape_and_square()
    args = {"target": ("y", x), "source": (y, "x")}[which]
    with pytest.raises(TypeError, match="jacobian takes a target Tensor and one source"):
        tape.jacobian(*args)


def test_jacobian_checks_unconnected_gradients():
    tape, x, y = _tape_and_square()
    with pytest.raises(ValueError, match="unconnected_gradients.*'zeros'"):
        tape.jacobian(y, xg.asarray([1.0]), unconnected_gradients="zeros")
    # still correct: d(x*x)/dx = diag(2x)
    np.testing.assert_allclose(tape.jacobian(y, x).numpy(), np.diag([2.0, 4.0]))


@pytest.mark.parametrize("sources, name", [(None, "NoneType"), ("x", "str")])
def test_gradient_sources_of_the_wrong_kind_are_named(sources, name):
    tape, x, y = _tape_and_square()         # (dicts: tests/test_nested_structures.py)
    with pytest.raises(TypeError, match="sources must be a Tensor or a list of Tensors, got "
                                        f"{name}"):
        tape.gradient(y, sources)           # None: not iterable; str: 'got str' (its letters)


# -- xg.random: NumPy's checks (it raised or returned wrong numbers where NumPy raises) --------
def test_normal_refuses_a_negative_scale_like_numpy():
    with pytest.raises(ValueError):
        np.random.default_rng(0).normal(scale=-1.0)
    with pytest.raises(ValueError, match="scale must be >= 0.*-1.0"):
        xg.random.default_rng(0).normal(scale=-1.0, size=3)


def test_integers_refuses_bounds_its_dtype_cannot_hold():
    rng = xg.random.default_rng(0)
    with pytest.raises(ValueError, match="high=300 is out of bounds for int8"):
        rng.integers(0, 300, size=50, dtype="int8")          # wrapped to negatives before
    with pytest.raises(ValueError, match="low=-1 is out of bounds for uint8"):
        rng.integers(-1, 3, size=5, dtype="uint8")
    with pytest.raises(TypeError, match="dtype must be an integer dtype, got float32"):
        rng.integers(0, 3, size=3, dtype="float32")
    out = rng.integers(0, 128, size=200, dtype="int8")       # the widest range int8 holds
    assert out.dtype == xg.int8 and 0 <= int(xg.min(out)) and int(xg.max(out)) <= 127


@pytest.mark.parametrize("n, exc", [(-1, ValueError), (2.7, TypeError), ("3", TypeError),
                                    (True, TypeError)])
def test_permutation_refuses_what_is_not_a_count(n, exc):
    with pytest.raises(exc, match="permutation: n must be"):
        xg.random.default_rng(0).permutation(n)


def test_permutation_takes_integer_likes():
    for n in (5, np.int32(5), xg.asarray(5)):
        assert sorted(xg.random.default_rng(1).permutation(n).tolist()) == list(range(5))


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


# -- xg.grad / value_and_grad / jacobian: argnums ----------------------------------------------
@pytest.mark.parametrize("argnums", ["0", 0.0, True, (0, "1"), None])
@pytest.mark.parametrize("transform", [xg.grad, xg.value_and_grad, xg.jacobian])
def test_argnums_must_be_ints(transform, argnums):
    x = xg.asarray([1.0, 2.0], dtype="float64")
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
        transform(lambda a, b: xg.sum(a * b), argnums=argnums)(x, x)   # True meant argnums=1


def test_argnums_list_still_works():
    x, y = xg.asarray([1.0, 2.0], dtype="float64"), xg.asarray([3.0, 5.0], dtype="float64")
    gx, gy = xg.grad(lambda a, b: xg.sum(a * b), argnums=[0, np.int64(1)])(x, y)
    assert gx.tolist() == [3.0, 5.0] and gy.tolist() == [1.0, 2.0]


# -- $XPGRAD_BACKEND naming no backend: say where the name came from ----------------------------
def test_a_bad_xpgrad_backend_is_named_as_the_source(monkeypatch):
    monkeypatch.setenv("XPGRAD_BACKEND", "nump")
    with pytest.raises(xg.UnknownBackendError, match="\\$XPGRAD_BACKEND='nump': unknown backend"):
        xg.ones(2)
    assert xg.ones(2, backend="numpy").shape == (2,)            # an explicit backend still runs


def test_dropout_checks_its_rng_when_made():
    with pytest.raises(TypeError, match="Dropout: rng must be an xg.random.Generator.*got str"):
        xg.nn.Dropout(0.5, rng="x")          # accepted, failed at the first training call
    d = xg.nn.Dropout(0.5, rng=3)
    assert d(xg.ones(1000)).shape == (1000,)


# -- Tensor.to with what PyTorch's .to takes: a dtype or a device --------------------------------
@pytest.mark.parametrize("arg, exc, words", [
    ("float64", TypeError, "t.astype\\(float64\\) or xg.astype\\(t, float64\\)"),
    (xg.float64, TypeError, "t.astype\\(float64\\) or xg.astype\\(t, float64\\)"),
    ("cuda", xg.UnknownBackendError, "not a device.*'cupy'"),
    ("cpu", xg.UnknownBackendError, "not a device.*'numpy'"),
])
def test_tensor_to_explains_a_dtype_or_a_device(arg, exc, words):
    with pytest.raises(exc, match=words):
        xg.ones(2).to(arg)
    with pytest.raises(xg.UnknownBackendError, match="unknown backend 'nump'"):
        xg.ones(2).to("nump")


# -- shapes given as NumPy integers or 0-d integer tensors, as NumPy takes them -----------------
@pytest.mark.parametrize("shape", [np.int64(3), np.int32(2), xg.asarray(3)])
def test_creation_takes_an_integer_like_shape(shape):
    expected = np.zeros(int(shape)).shape
    assert xg.zeros(shape).shape == expected                 # TypeError before
    assert xg.ones(shape, dtype="float64").shape == expected
    assert xg.full(shape, 2.0).shape == expected
    assert xg.random.default_rng(0).normal(size=shape).shape == expected


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


# -- xg.testing.check_grads ----------------------------------------------------------------------
def test_check_grads_takes_one_tensor_as_the_argument():
    x = xg.asarray([0.3, 1.2], dtype="float64")
    xg.testing.check_grads(lambda a: xg.sum(xg.sin(a) * a), x)      # passed its rows before
    with pytest.raises(AssertionError, match="disagrees with finite differences"):
        xg.testing.check_grads(lambda a: xg.sum(xg.stop_gradient(a) * a), x)


@pytest.mark.parametrize("kw, words", [({"eps": 0}, "eps must be a finite number > 0"),
                                       ({"eps": float("nan")}, "eps must be"),
                                       ({"rtol": -1.0}, "rtol must be a finite number >= 0"),
                                       ({"order": 0}, "order must be an integer >= 1")])
def test_check_grads_checks_its_tolerances(kw, words):
    with pytest.raises(ValueError, match=f"check_grads: {words}"):    # ZeroDivisionError, eps=0
        xg.testing.check_grads(lambda a: xg.sum(a * a), (xg.asarray([1.0], dtype="float64"),),
                               **kw)


# -- register_backend ----------------------------------------------------------------------------
def test_register_backend_checks_its_arguments(monkeypatch):
    from xpgrad import backend as registry

    monkeypatch.setattr(registry, "_factories", dict(registry._factories))   # leave no toys
    with pytest.raises(TypeError, match="factory must be a Backend class.*got 3"):
        xg.register_backend("bash-toy-int", 3)              # 'int' not callable at first use
    with pytest.raises(TypeError, match="name must be a non-empty str, got 3"):
        xg.register_backend(3, xg.testing.StrictBackend)
    xg.register_backend("bash-toy-none", lambda: None)
    with pytest.raises(TypeError, match="'bash-toy-none' returned NoneType, not an xg.Backend"):
        xg.ones(2, backend="bash-toy-none")                 # AttributeError: no 'xp'


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


# -- NumPy integers where an int is expected (n_classes = y.max() + 1 of NumPy labels) -----------
def test_numpy_integers_count_as_ints():
    y = np.array([0, 2, 1])
    n_classes = y.max() + 1                                        # np.int64
    np.testing.assert_array_equal(xg.one_hot(xg.asarray(y), n_classes).numpy(),
                                  np.eye(3, dtype=np.float32)[y])   # ValueError before
    x = np.arange(6.0).reshape(2, 3)
    for axis in (np.int64(1), (np.int64(0), 1)):
        np.testing.assert_allclose(xg.sum(xg.asarray(x), axis=axis).numpy(), x.sum(axis=axis))
    assert len(xg.unstack(xg.asarray(x), axis=np.int64(1))) == 3
    np.testing.assert_array_equal(xg.nn.Linear(2, 3, rng=np.int64(0)).w.numpy(),
                                  xg.nn.Linear(2, 3, rng=0).w.numpy())
    assert xg.nn.Dropout(0.5, rng=np.int64(3))(xg.ones(4)).shape == (4,)
    result = xg.nn.tbptt_train(xg.nn.LSTM(1, 2, rng=0), xg.losses.mse, xg.optim.SGD(0.1),
                               xg.ones((2, 6, 1)), xg.zeros((2, 6, 2)), k1=np.int64(2))
    assert result.updates == 3


@pytest.mark.parametrize("f", [lambda a: xg.argmax(a), lambda a: xg.sum(a > 0)])
def test_grad_of_an_integer_or_boolean_output_raises_like_jax(f):
    x = xg.asarray([1.0, 2.0], dtype="float64")
    with pytest.raises(TypeError, match="grad needs a floating-point output, got (int64|bool)"):
        xg.grad(f)(x)                                    # returned zeros before
