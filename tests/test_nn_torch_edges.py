"""Edge cases a PyTorch user hits with layers, losses, optimizers and recurrent nets: each
compared with PyTorch (float64) or finite differences on the numpy and numba backends."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import losses as L

torch = pytest.importorskip("torch", reason="PyTorch not installed")
F = torch.nn.functional


def _backends():
    out = ["numpy"]
    if backend_report().get("numba", {}).get("available"):
        out.append("numba")
    return out


BACKENDS = _backends()


def _grad(f, *arrays, backend="numpy"):
    """``f(*variables)`` and its gradients (a scalar seed of the sum of the output)."""
    vs = [xg.Variable(xg.asarray(a, backend=backend)) for a in arrays]
    with xg.GradientTape() as tape:
        out = f(*vs)
        total = xg.sum(out * 1.5)
    return out.numpy(), [g.numpy() for g in tape.gradient(total, vs)]


def _torch_grad(f, *arrays):
    ts = [torch.tensor(np.asarray(a), requires_grad=True) for a in arrays]
    out = f(*ts)
    (out * 1.5).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


# -- losses ------------------------------------------------------------------------------------
ELEMENTWISE = [
    (L.mse, lambda x, t, r: F.mse_loss(x, t, reduction=r)),
    (L.sigmoid_mse, lambda x, t, r: F.mse_loss(torch.sigmoid(x), t, reduction=r)),
    (L.sigmoid_cross_entropy_with_logits,
     lambda x, t, r: F.binary_cross_entropy_with_logits(x, t, reduction=r)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ours, theirs", ELEMENTWISE, ids=["mse", "sigmoid_mse", "bce"])
def test_elementwise_losses_of_0d_inputs_match_torch(ours, theirs, reduction, backend):
    # NumPy's 0-d arithmetic gives scalars: the fused kernels crashed or lost the factor 2
    x, t = np.float64(2.0), np.float64(0.25)
    got, grads = _grad(lambda a, b: ours(a, b, reduction=reduction), np.asarray(x),
                       np.asarray(t), backend=backend)
    ref, ref_grads = _torch_grad(lambda a, b: theirs(a, b, reduction), np.asarray(x),
                                 np.asarray(t))
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-12)


# -- recurrent layers --------------------------------------------------------------------------
@pytest.mark.parametrize("theirs, why", [
    (lambda: torch.nn.LSTM(2, 3, bidirectional=True), "_reverse"),
    (lambda: torch.nn.LSTM(2, 3, num_layers=2), "weight_ih_l1"),
    (lambda: torch.nn.LSTM(2, 3, proj_size=2), "weight_hr_l0"),
    (lambda: torch.nn.LSTM(2, 3, bias=True), "bias_ih_l0"),        # into bias=False
], ids=["bidirectional", "more-layers", "proj_size", "bias-into-no-bias"])
def test_load_torch_state_dict_refuses_weights_it_would_drop(theirs, why):
    # these loaded silently and gave other numbers than the torch module
    ours = xg.nn.LSTM(2, 3, bias=why != "bias_ih_l0", rng=0, dtype="float64")
    before = [v.numpy().copy() for v in ours.variables]
    with pytest.raises(ValueError, match=why):
        ours.load_torch_state_dict(theirs().double().state_dict())
    for v, b in zip(ours.variables, before):
        np.testing.assert_array_equal(v.numpy(), b)        # nothing changed


def test_load_torch_state_dict_checks_every_shape_first():
    ours = xg.nn.LSTM(2, 3, num_layers=2, batch_first=True, rng=0, dtype="float64")
    sd = torch.nn.LSTM(2, 3, num_layers=2).double().state_dict()
    sd["weight_hh_l1"] = torch.zeros(12, 4, dtype=torch.float64)
    before = [v.numpy().copy() for v in ours.variables]
    with pytest.raises(ValueError, match="weight_hh_l1.*(12, 4).*(12, 3)"):
        ours.load_torch_state_dict(sd)
    for v, b in zip(ours.variables, before):                # layer 0 was not loaded either
        np.testing.assert_array_equal(v.numpy(), b)
    # keys of other modules are unexpected, as torch's strict load says; strict=False skips
    # them, and a matching state dict gives torch's numbers
    theirs = torch.nn.LSTM(2, 3, num_layers=2).double()
    with pytest.raises(ValueError, match=r"unexpected keys \['head.weight'\]"):
        ours.load_torch_state_dict({**theirs.state_dict(), "head.weight": np.zeros(3)})
    assert ours.load_torch_state_dict({**theirs.state_dict(), "head.weight": np.zeros(3)},
                                      strict=False) == ([], ["head.weight"])
    x = np.random.default_rng(0).standard_normal((2, 4, 2))
    np.testing.assert_allclose(ours(xg.asarray(x))[0].numpy(),
                               theirs(torch.tensor(x).transpose(0, 1))[0].transpose(0, 1)
                               .detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "RNN"])
def test_load_torch_state_dict_copies_into_row_major_weights(kind):
    """The loaded weights are copies: training the torch module afterwards leaves ours alone
    (they were transposed views of torch's memory). And they are row-major, as a new layer's
    are, so the kernels and the fused optimizer updates use them without a copy."""
    theirs = getattr(torch.nn, kind)(2, 3, num_layers=2).double()
    ours = getattr(xg.nn, kind)(2, 3, num_layers=2, batch_first=True, rng=0, dtype="float64")
    ours.load_torch_state_dict(theirs.state_dict())
    loaded = [v.numpy().copy() for v in ours.variables]
    assert all(v.numpy().flags.c_contiguous for v in ours.variables)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(1.0)
    for v, before in zip(ours.variables, loaded):
        np.testing.assert_array_equal(v.numpy(), before)


@pytest.mark.parametrize("args, error, words", [
    ((8, 16, 10), TypeError, "hidden must be a list"),           # an int, not a list
    ((2.5, [4], 10), TypeError, "input_size"),                   # was truncated to 2
    ((8, [4.7], 10), TypeError, "hidden"),                       # was truncated to 4
    ((8, [4], 0), ValueError, "n_classes"),
])
def test_sequence_classifier_checks_its_sizes_by_name(args, error, words):
    with pytest.raises(error, match=words):
        xg.nn.SequenceClassifier(*args, rng=0)


def test_sequence_classifier_takes_array_like_input_like_linear():
    model = xg.nn.SequenceClassifier(2, [3], 4, rng=0, dtype="float64")
    x = np.random.default_rng(0).standard_normal((2, 6))
    want = model(xg.asarray(x)).numpy()
    np.testing.assert_array_equal(model(x.tolist()).numpy(), want)
    np.testing.assert_array_equal(model(x).numpy(), want)


# -- optimizers --------------------------------------------------------------------------------
def test_clip_global_norm_takes_any_iterable_and_refuses_one_tensor():
    a, b = np.array([3.0, 0.0]), np.array([[4.0]])
    grads = (xg.asarray(x) for x in (a, b))             # a generator was read twice: [] came back
    clipped, norm = xg.optim.clip_global_norm(grads, 1.0)
    assert len(clipped) == 2
    np.testing.assert_allclose(norm.item(), 5.0)
    for c, x in zip(clipped, (a, b)):
        np.testing.assert_allclose(c.numpy(), x / 5.0)
    params = [torch.zeros(x.shape, dtype=torch.float64, requires_grad=True) for x in (a, b)]
    for p, x in zip(params, (a, b)):
        p.grad = torch.tensor(x)
    torch.nn.utils.clip_grad_norm_(params, 1.0)         # torch scales by max_norm / (norm + 1e-6)
    for c, p in zip(clipped, params):
        np.testing.assert_allclose(c.numpy(), p.grad.numpy(), rtol=1e-5)
    # one Tensor was clipped row by row into a list of 0-d tensors
    for fn in (lambda g: xg.optim.clip_global_norm(g, 1.0), xg.optim.global_norm):
        with pytest.raises(TypeError, match="list of Tensors"):
            fn(xg.asarray(a))


@pytest.mark.parametrize("name, ours, theirs", [
    ("SGD", {"momentum": 0.9}, {"momentum": 0.9}),
    ("Adam", {"weight_decay": 0.1}, {"weight_decay": 0.1}),
    ("RMSprop", {"momentum": 0.5}, {"momentum": 0.5}),
])
def test_learning_rate_can_be_set_between_steps_like_torch_param_groups(name, ours, theirs):
    # Keras' opt.learning_rate = x raised AttributeError (a property without a setter)
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(6)]
    rates = [0.1, 0.1, 0.0, 0.03, 0.03, 0.2]
    w = xg.Variable(xg.asarray(w0.copy()))
    opt = getattr(xg.optim, name)(learning_rate=0.1, **ours)
    p = torch.nn.Parameter(torch.tensor(w0.copy()))
    topt = getattr(torch.optim, name)([p], lr=0.1, **theirs)
    for lr, g in zip(rates, grads):
        opt.learning_rate = lr
        topt.param_groups[0]["lr"] = lr
        assert opt.learning_rate == lr
        opt.apply_gradients([(xg.asarray(g), w)])
        p.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(w.numpy(), p.detach().numpy(), rtol=1e-12)
    opt.learning_rate = xg.optim.StepDecay(1.0, step_size=2)     # a schedule of iterations
    assert opt.learning_rate == 1.0 * 0.1 ** (6 // 2)
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1.0


# -- layers ------------------------------------------------------------------------------------
@pytest.mark.skipif("numba" not in BACKENDS, reason="needs a second backend")
def test_dropout_with_a_generator_of_another_backend_masks_on_the_inputs_backend():
    # Linear(rng=numpy generator, backend="numba") works; Dropout raised MixedBackendError
    x = np.arange(1.0, 41.0)
    want = xg.nn.Dropout(0.5, rng=xg.random.default_rng(3))(xg.asarray(x)).numpy()
    drop = xg.nn.Dropout(0.5, rng=xg.random.default_rng(3))
    xv = xg.Variable(xg.asarray(x, backend="numba"))
    with xg.GradientTape() as tape:
        y = drop(xv)
    assert y.backend.name == "numba"
    np.testing.assert_array_equal(y.numpy(), want)
    np.testing.assert_array_equal(tape.gradient(y, xv).numpy(), want / x)   # 2 or 0
    first = xg.nn.Dropout(0.5)          # rng=None: made on the first input's backend
    first(xg.asarray(x))
    assert first(xg.asarray(x, backend="numba")).backend.name == "numba"


# -- TBPTT -------------------------------------------------------------------------------------
def test_tbptt_takes_numpy_integer_k_and_names_bad_types():
    from xpgrad.nn import tbptt_train

    rng = np.random.default_rng(0)
    x = xg.asarray(rng.standard_normal((2, 7, 1)))
    y = xg.asarray(rng.standard_normal((2, 7, 2)))
    runs = []
    for k1, k2 in [(3, 5), (np.int64(3), np.int32(5))]:    # k1 = n // 2 from NumPy shapes
        lstm = xg.nn.LSTM(1, 2, rng=0, dtype="float64")
        runs.append(tbptt_train(lstm, xg.losses.mse, xg.optim.SGD(0.1), x, y, k1, k2).losses)
    assert len(runs[0]) == 3
    # to rounding: the whole suite on numba once saw the third loss 1 ulp apart between the
    # two runs (a kernel switch inside one process, most likely; not reproduced alone)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-13)
    lstm = xg.nn.LSTM(1, 2, rng=0, dtype="float64")
    for k, words in [(3.0, "k1 must be a positive int, got float"), (True, "got bool")]:
        with pytest.raises(TypeError, match=words):
            tbptt_train(lstm, xg.losses.mse, xg.optim.SGD(0.1), x, y, k)
    with pytest.raises(TypeError, match="tbptt_train: inputs must be a batch-first Tensor.* or "
                                        "a NumPy array, got list"):
        tbptt_train(lstm, xg.losses.mse, xg.optim.SGD(0.1), x.numpy().tolist(), y, 3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32"])
def test_one_hot_of_narrow_integer_labels_with_many_classes_matches_torch(dtype, backend):
    # the class numbers 0..n-1 were made in the labels' dtype and wrapped (uint8: column 261
    # was 5 too), so label 5 had two hot entries
    labels = np.array([[5, 44], [100, 0]])
    n = np.int64(300) if dtype != "int8" else np.int64(200)    # NumPy ints were refused
    got = xg.nn.one_hot(xg.asarray(labels.astype(dtype), backend=backend), n).numpy()
    want = F.one_hot(torch.tensor(labels), int(n)).numpy()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("make", [
    lambda rng: xg.nn.Linear(3, 2, rng=rng).w,
    lambda rng: xg.nn.LSTM(2, 3, rng=rng).layers[0].w_hh,
    lambda rng: xg.nn.MLP([2, 3, 1], rng=rng).layers[1].w,
], ids=["Linear", "LSTM", "MLP"])
def test_layers_take_numpy_integer_seeds(make):
    # seeds drawn with NumPy (np.random.randint, np.arange) were refused as "not an int seed"
    np.testing.assert_array_equal(make(np.int64(7)).numpy(), make(7).numpy())
    with pytest.raises(TypeError, match="rng must be"):
        make(True)


def test_module_walks_stop_at_a_back_reference_to_the_parent():
    # a child keeping its parent (self.parent = parent) made named_variables recurse forever
    class Child(xg.nn.Module):
        def __init__(self, parent):
            super().__init__("child")
            self.parent = parent
            self.k = xg.Variable(1.0)

    class Parent(xg.nn.Module):
        def __init__(self):
            super().__init__("parent")
            self.w = xg.Variable(2.0)
            self.child = Child(self)
            self.drop = xg.nn.Dropout(0.5, rng=0)

    model = Parent()
    assert list(model.named_variables()) == ["parent/w", "parent/child/k"]
    assert [type(m).__name__ for m in model.submodules()] == ["Child", "Dropout"]
    assert model.eval().drop.training is False and model.child.training is False
    assert len(model.trainable_variables) == 2
    assert "parent: Parent(name='parent') (already shown above)" in repr(model)


@pytest.mark.parametrize("make", [xg.nn.LSTM, xg.nn.LSTMCell], ids=["LSTM", "LSTMCell"])
def test_forget_bias_is_checked_by_name(make):
    # NaN made every output NaN; a string failed inside float() without naming the argument
    with pytest.raises(ValueError, match=f"{make.__name__}: forget_bias must be a finite"):
        make(2, 3, forget_bias=float("nan"), rng=0)
    with pytest.raises(TypeError, match=f"{make.__name__}: forget_bias must be a real number"):
        make(2, 3, forget_bias="1", rng=0)
    layer = make(2, 3, forget_bias=np.float32(2.0), rng=0)
    b = (layer.layers[0] if make is xg.nn.LSTM else layer).b.numpy()
    np.testing.assert_array_equal(b, [0.0] * 3 + [2.0] * 3 + [0.0] * 6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.filterwarnings("error")
def test_sgd_of_complex_variables_with_global_clipnorm_matches_torch(backend):
    # the global norm cast complex |g|**2 to float64: a ComplexWarning at every step
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    grads = [rng.standard_normal(4) * 3 + 3j * rng.standard_normal(4) for _ in range(3)]
    w = xg.Variable(xg.asarray(w0, backend=backend))
    opt = xg.optim.SGD(0.1, momentum=0.5, global_clipnorm=1.0)
    p = torch.nn.Parameter(torch.tensor(w0))
    topt = torch.optim.SGD([p], lr=0.1, momentum=0.5)
    for g in grads:
        opt.apply_gradients([(xg.asarray(g, backend=backend), w)])
        p.grad = torch.tensor(g)
        torch.nn.utils.clip_grad_norm_([p], 1.0)
        topt.step()
    np.testing.assert_allclose(w.numpy(), p.detach().numpy(), rtol=1e-5)  # torch's norm + 1e-6
    g = grads[0]
    norm = xg.optim.global_norm([xg.asarray(g, backend=backend),
                                 xg.asarray(g.astype(np.complex64), backend=backend)])
    np.testing.assert_allclose(norm.item(), np.sqrt(2) * np.linalg.norm(g), rtol=1e-6)


@pytest.mark.parametrize("name, kwargs, words", [
    ("SGD", {"lr": 0.1}, "'lr'; xpgrad uses Keras' names: learning_rate="),
    ("Adam", {"betas": (0.9, 0.99)}, "'betas'; xpgrad uses Keras' names: beta_1= and beta_2="),
    ("AdamW", {"eps": 1e-6}, "'eps'; xpgrad uses Keras' names: epsilon="),
    ("RMSprop", {"alpha": 0.9}, "'alpha'; xpgrad uses Keras' names: rho="),
    ("Adagrad", {"lr_decay": 0.1}, "'lr_decay': PyTorch's Adagrad.*InverseTimeDecay"),
    ("SGD", {"foreach": True}, "'foreach' \\(xpgrad's SGD does not have"),
])
def test_optimizers_point_pytorch_argument_names_at_xpgrads(name, kwargs, words):
    # the error named Optimizer.__init__, not the class, and gave no hint
    with pytest.raises(TypeError, match=f"^{name}\\(\\) got an unexpected keyword argument "
                                        + words):
        getattr(xg.optim, name)(**kwargs)


@pytest.mark.parametrize("options, error, words", [
    ({"callback": 5}, TypeError, "callback must be callable"),
    ({"max_grad_norm": -1.0}, ValueError, "max_grad_norm must be a finite number > 0"),
    ({"max_grad_norm": "1"}, TypeError, "max_grad_norm must be a real number"),
    ({"variables": [1, 2]}, TypeError, "variables must be Variables"),
])
def test_tbptt_checks_its_options_before_the_first_update(options, error, words):
    # these failed after an update (callback), or named an internal argument (max_norm, sources)
    from xpgrad.nn import tbptt_train

    lstm = xg.nn.LSTM(1, 2, rng=0, dtype="float64")
    before = [v.numpy().copy() for v in lstm.variables]
    x, y = xg.ones((2, 6, 1), dtype="float64"), xg.zeros((2, 6, 2), dtype="float64")
    with pytest.raises(error, match=words):
        tbptt_train(lstm, xg.losses.mse, xg.optim.SGD(0.1), x, y, 3, **options)
    for v, b in zip(lstm.variables, before):
        np.testing.assert_array_equal(v.numpy(), b)


@pytest.mark.parametrize("make", [
    lambda: xg.optim.SGD(0.3, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda: xg.optim.Adam(0.05, beta_1=0.8, global_clipnorm=1.0),
    lambda: xg.optim.RMSprop(xg.optim.StepDecay(0.1, step_size=1, gamma=0.5), momentum=0.5),
], ids=["SGD", "Adam", "RMSprop-schedule"])
def test_get_config_rebuilds_an_optimizer_that_takes_the_same_steps(make):
    # get_config left out the learning rate: a rebuilt optimizer used the default one
    rng = np.random.default_rng(0)
    w0, grads = rng.standard_normal(4), [rng.standard_normal(4) for _ in range(3)]
    original = make()
    cfg = {k: v for k, v in original.get_config().items() if k != "iterations"}
    results = []
    for opt in (original, type(original)(**cfg)):
        w = xg.Variable(xg.asarray(w0.copy()))
        for g in grads:
            opt.apply_gradients([(xg.asarray(g), w)])
        results.append(w.numpy())
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, axis", [((0, 3), 0), ((3, 0), -1), ((2, 0, 3), 1)])
@pytest.mark.filterwarnings("error")
def test_softmax_over_an_empty_axis_is_empty_like_torch(shape, axis, backend):
    # np.max of an empty axis raised "zero-size array to reduction operation maximum"
    for ours, theirs in [(xg.nn.softmax, torch.softmax), (xg.nn.log_softmax, torch.log_softmax)]:
        x = np.zeros(shape)
        got, (g,) = _grad(lambda a: ours(a, axis=axis), x, backend=backend)
        ref, (rg,) = _torch_grad(lambda a: theirs(a, axis), x)
        assert got.shape == ref.shape and g.shape == rg.shape == shape


def test_a_slice_of_a_sequential_is_a_sequential_like_torch():
    # model[:-1] was a plain list: model[:-1](x) raised "'list' object is not callable"
    rng = xg.random.default_rng(0)
    model = xg.nn.Sequential(xg.nn.Linear(3, 4, rng=rng, dtype="float64"), xg.nn.Tanh(),
                             xg.nn.Linear(4, 2, rng=rng, dtype="float64"))
    x = xg.asarray(np.random.default_rng(1).standard_normal((5, 3)))
    features = model[:-1]
    assert isinstance(features, xg.nn.Sequential) and len(features) == 2
    np.testing.assert_array_equal(model[-1](features(x)).numpy(), model(x).numpy())
    assert features.trainable_variables[0] is model.trainable_variables[0]   # shared


@pytest.mark.parametrize("activation", [xg.nn.relu, xg.nn.ReLU(), xg.nn.LeakyReLU(0.1)],
                         ids=["relu-function", "ReLU", "LeakyReLU"])
def test_mlp_uses_he_init_for_relu_given_as_a_function_or_layer(activation):
    # only the names "relu"/"leaky_relu" got the documented He init; the others got Glorot
    # (std sqrt(2 / (10 + 2000)) instead of sqrt(2 / 10) here)
    by_name = xg.nn.MLP([10, 2000, 1], activation="relu", rng=0)
    other = xg.nn.MLP([10, 2000, 1], activation=activation, rng=0)
    np.testing.assert_array_equal(other.layers[0].w.numpy(), by_name.layers[0].w.numpy())
    np.testing.assert_allclose(other.layers[0].w.numpy().std(), np.sqrt(2 / 10), rtol=0.05)


def test_linear_takes_what_a_custom_init_returns_or_names_it():
    # an array made the layer fail with AttributeError; another dtype gave float64 weights to
    # a float32 layer; a wrong shape surfaced later as a confusing input-shape error
    ones = xg.nn.Linear(3, 2, init=lambda rng, shape, dtype: np.ones(shape), rng=0)
    assert ones.w.dtype == xg.float32
    np.testing.assert_array_equal(ones(xg.ones((1, 3))).numpy(), [[3.0, 3.0]])
    wide = xg.nn.Linear(3, 2, init=lambda rng, shape, dtype: xg.ones(shape, dtype="float64"))
    assert wide.w.dtype == xg.float32
    with pytest.raises(ValueError, match=r"init .* returned shape \(1,\), expected \(3, 2\)"):
        xg.nn.Linear(3, 2, init=lambda rng, shape, dtype: xg.zeros((1,)), rng=0)
