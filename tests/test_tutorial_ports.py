"""What porting well-known tutorials by hand met (docs/porting.md, "Porting the well-known
tutorials"): Karpathy's makemore (``logprobs[range(n), Yb]``, ``F.one_hot(y, num_classes=)``,
``torch.multinomial``, ``hpreact.std(0, keepdim=True)``, its BatchNorm MLP and manual backprop),
PyTorch's polynomial fits (``torch.autograd.Function``), TensorFlow's custom loop (Keras'
losses and metrics), d2l's ``torch.zeros(2, 3)``. Each answered name computes what the
original computed, checked against PyTorch in float64."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.testing import check_grads

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(6, 5))
LABELS = RNG.integers(0, 5, 6)


def test_range_index_picks_each_rows_entry_as_torch():
    x = xg.asarray(LOGITS)
    t = torch.tensor(LOGITS, requires_grad=True)
    n = len(LABELS)
    np.testing.assert_array_equal(x[range(n), xg.asarray(LABELS)].numpy(),
                                  t[range(n), torch.tensor(LABELS)].detach().numpy())
    np.testing.assert_array_equal(x[range(4, 0, -2)].numpy(), LOGITS[4:0:-2])
    assert x[range(0), xg.asarray(LABELS[:0])].shape == (0,)
    (g,) = xg.grad(lambda v: xg.sum(v[range(n), xg.asarray(LABELS)] ** 3), argnums=(0,))(x)
    (t[range(n), torch.tensor(LABELS)] ** 3).sum().backward()
    np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-13)
    check_grads(lambda v: v[range(1, n, 2), xg.asarray(LABELS[1::2])] ** 2, [x])


def test_range_index_replays_under_function():
    w = xg.Variable(RNG.normal(size=(4, 5)))

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = -xg.mean(xg.nn.log_softmax(x @ w, axis=1)[range(x.shape[0]), y])
        return loss, tape.gradient(loss, w)

    compiled = xg.function(step)
    for _ in range(4):
        x, y = xg.asarray(RNG.normal(size=(6, 4))), xg.asarray(RNG.integers(0, 5, 6))
        (loss, grad), (eager_loss, eager_grad) = compiled(x, y), step(x, y)
        assert loss.item() == eager_loss.item()
        np.testing.assert_array_equal(grad.numpy(), eager_grad.numpy())
    assert compiled.trace_count == 1


def test_range_index_writes_as_torchs_in_place_subtraction():
    """makemore's manual backprop: ``dlogits = softmax(logits); dlogits[range(n), Yb] -= 1``."""
    n = len(LABELS)
    d = xg.nn.softmax(xg.asarray(LOGITS), axis=1)
    d[range(n), xg.asarray(LABELS)] -= 1
    ref = torch.softmax(torch.tensor(LOGITS), 1)
    ref[range(n), torch.tensor(LABELS)] -= 1
    np.testing.assert_allclose(d.numpy(), ref.numpy(), rtol=1e-14)
    with pytest.raises(IndexError, match="out of bounds|out of range"):
        xg.asarray(LOGITS)[range(7), 0]


def test_one_hot_takes_num_classes_by_keyword_as_torch():
    y = xg.asarray(LABELS)
    ours = xg.nn.one_hot(y, num_classes=7)
    np.testing.assert_array_equal(
        ours.numpy(), torch.nn.functional.one_hot(torch.tensor(LABELS), num_classes=7).numpy())
    assert ours.dtype == xg.float32
    with pytest.raises(ValueError, match="num_classes must be a positive int, got -1"):
        xg.nn.one_hot(y, num_classes=-1)            # torch's "infer it" is refused, by name


@pytest.mark.parametrize("make", ["zeros", "ones", "empty"])
def test_sizes_given_apart_name_the_shape_tuple(make):
    fn = getattr(xg, make)
    with pytest.raises(TypeError, match=rf"^{make}\(\) takes the shape as one tuple, "
                                        rf"{make}\(\(2, 3\)\), where PyTorch's {make}\(2, 3\)"):
        fn(2, 3)
    with pytest.raises(TypeError, match="dtype=, device= and backend= are keyword-only"):
        fn((2, 3), xg.float64)
    assert fn((2, 3)).shape == tuple(getattr(torch, make)(2, 3).shape)
    assert fn(4).shape == (4,)


@pytest.mark.parametrize("owner, make", [
    ("zeros", lambda **k: xg.zeros(3, **k)), ("ones", lambda **k: xg.ones((2, 3), **k)),
    ("full", lambda **k: xg.full(3, 0.5, **k)), ("asarray", lambda **k: xg.asarray([1.0], **k)),
    ("Generator.normal", lambda **k: xg.random.default_rng(0).normal(0.0, 0.01, (2,), **k)),
    ("Generator.standard_normal",
     lambda **k: xg.random.default_rng(0).standard_normal((2,), **k)),
    ("Generator.uniform", lambda **k: xg.random.default_rng(0).uniform(size=2, **k)),
])
def test_requires_grad_names_variable_and_watch(owner, make):
    """d2l's ``torch.normal(0, 0.01, size, requires_grad=True)``, ``torch.zeros(n,
    requires_grad=True)``: the named Variable gets the gradient the tape would have given."""
    with pytest.raises(TypeError, match=rf"^{owner}\(\) got an unexpected keyword argument "
                                        r"'requires_grad'; .* xg.Variable\(value\) .*"
                                        r"tape.watch\(t\)$"):
        make(requires_grad=True)
    with pytest.raises(TypeError, match=rf"^{owner}\(\) got an unexpected keyword argument "
                                        r"'nobodys'$"):
        make(nobodys=1)
    v = xg.Variable(make())
    with xg.GradientTape() as tape:
        loss = xg.sum(3.0 * v)
    np.testing.assert_array_equal(tape.gradient(loss, v).numpy(), np.full(v.shape, 3.0))


def test_variable_requires_grad_names_trainable():
    with pytest.raises(TypeError, match="requires_grad=False is trainable=False"):
        xg.Variable(xg.zeros(3), requires_grad=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'nobodys'$"):
        xg.Variable(xg.zeros(3), nobodys=True)
    assert not xg.Variable(xg.zeros(3), trainable=False).trainable


def test_variable_constraint_names_the_projection_after_the_step():
    bound = lambda t: xg.clip(t, -1.0, 1.0)
    with pytest.raises(TypeError, match=r"'constraint': .* w.assign\(xg.clip\(w, low, high\)\)"):
        xg.Variable(xg.zeros(3), constraint=bound)
    w = xg.Variable([2.0, -3.0, 0.5], dtype=xg.float64)        # what the message says, done
    xg.optim.SGD(0.1).minimize(lambda: xg.sum(w * w), [w])
    w.assign(bound(w))
    assert w.numpy().tolist() == [1.0, -1.0, 0.4]


def test_unbiased_names_correction_and_it_computes_torchs_default():
    x = xg.asarray(LOGITS)
    t = torch.tensor(LOGITS)
    for call in (lambda: x.var(0, unbiased=True), lambda: xg.std(x, axis=0, unbiased=False)):
        with pytest.raises(TypeError, match="unbiased=True is correction=1 .*PyTorch's var and "
                                            "std default to the unbiased one"):
            call()
    np.testing.assert_allclose(xg.var(x, axis=0, correction=1).numpy(), t.var(0).numpy(),
                               rtol=1e-14)
    np.testing.assert_allclose(xg.std(x, axis=0, keepdims=True, correction=1).numpy(),
                               t.std(0, keepdim=True).numpy(), rtol=1e-14)
    np.testing.assert_allclose(x.var(0).numpy(), t.var(0, unbiased=False).numpy(), rtol=1e-14)


def test_multinomial_names_draws_with_the_probabilities():
    rng = xg.random.default_rng(0)
    probs = xg.asarray([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    for owner in (rng, xg, xg.random, probs):
        with pytest.raises(AttributeError, match=r"rng.choice\(n, size=k, replace=False, "
                                                 r"p=probs\).*Categorical"):
            owner.multinomial
        assert not hasattr(owner, "multinomial")
    assert "multinomial" not in dir(rng) and "choice" in dir(rng)
    one = rng.choice(3, size=3, replace=False, p=probs[0])          # torch's default: distinct
    assert sorted(one.tolist()) == [0, 1, 2]
    draws = xg.distributions.Categorical(probs=probs).sample((4000,), rng=rng).numpy()
    assert draws.shape == (4000, 2)
    for row in range(2):
        freq = np.bincount(draws[:, row], minlength=3) / 4000
        np.testing.assert_allclose(freq, probs[row].numpy(), atol=0.03)


@pytest.mark.parametrize("owner, name, hint", [
    ("tensor", "contiguous", "drop the call"),
    ("tensor", "type", "t.astype(dtype)"),
    ("xg", "Generator", "xg.random.default_rng(seed)"),
    ("generator", "manual_seed", "xg.random.default_rng(seed)"),
    ("xg", "enable_grad", "nothing is recorded outside"),
    ("xg", "autograd", "torch.autograd.Function is @xg.custom_gradient"),
    ("model", "named_parameters", "model.named_variables().items()"),
    ("xg", "metrics", "xg.mean(xg.argmax(logits, axis=-1) == labels)"),
    ("random", "categorical", "Categorical(logits=logits).sample(shape, rng=rng)"),
    ("model", "trainable_weights", "model.trainable_variables"),
    ("model", "weights", "model.variables"),
    ("model", "non_trainable_weights", "model.non_trainable_variables"),
    ("model", "fit", "write the loop with a GradientTape"),
    ("tensor", "sub", "t - other"),
    ("tensor", "add", "t + other"),
    ("tensor", "mul", "t * other"),
    ("tensor", "div", "t / other"),
])
def test_tutorial_reflexes_name_xpgrads_way(owner, name, hint):
    obj = {"tensor": xg.ones(2), "xg": xg, "generator": xg.random.default_rng(0),
           "model": xg.nn.MLP([2, 3, 1], rng=0), "random": xg.random,
           "optimizer": xg.optim.Adam()}[owner]
    with pytest.raises(AttributeError) as err:
        getattr(obj, name)
    assert hint in str(err.value) and repr(name) in str(err.value)
    assert not hasattr(obj, name)


def test_keras3_optimizer_apply_takes_gradients_and_variables_as_lists():
    w, b = xg.Variable([1.0, 2.0]), xg.Variable(0.5)
    with xg.GradientTape() as tape:
        loss = xg.sum(w * w) + 3.0 * b
    grads = tape.gradient(loss, [w, b])
    assert xg.optim.SGD(0.25).apply(grads, [w, b]) == 1
    assert w.tolist() == [0.5, 1.0] and b.item() == -0.25


def test_keras_names_the_hints_give_are_keras_variables():
    model = xg.nn.Sequential([xg.nn.Linear(2, 3, rng=0), xg.nn.BatchNorm1d(3)])
    frozen = [v for v in model.variables if not v.trainable]
    assert [v.name.rpartition("/")[2] for v in frozen] == ["running_mean", "running_var",
                                                          "num_batches_tracked"]
    assert len(model.trainable_variables) + len(frozen) == len(model.variables) == 7


def test_torch_method_arithmetic_named_is_torchs():
    """Learning PyTorch's ``y_pred.sub(y).pow(2).sum()`` and ``a.add(b, alpha=2)``."""
    a, b = RNG.normal(size=4), RNG.normal(size=4)
    x, y = xg.asarray(a), xg.asarray(b)
    ta, tb = torch.tensor(a), torch.tensor(b)
    np.testing.assert_allclose(xg.sum((x - y) ** 2).item(), ta.sub(tb).pow(2).sum().item(),
                               rtol=1e-15)
    np.testing.assert_allclose((x + 2 * y).numpy(), ta.add(tb, alpha=2).numpy(), rtol=1e-15)
    np.testing.assert_allclose((x / y).numpy(), ta.div(tb).numpy(), rtol=1e-15)


def test_a_cuda_device_on_a_host_backend_names_cupy():
    for device in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match=rf"backend 'numpy' has no device '{device}'; .*"
                                             r"'cuda' is the cupy backend here: "
                                             r"backend='cupy'"):
            xg.zeros(3, device=device, backend="numpy")
    with pytest.raises(ValueError, match=r"has no device 'tpu'; its devices are \['cpu'\]$"):
        xg.zeros(3, device="tpu", backend="numpy")


def test_batches_shuffle_keyword_names_rng():
    with pytest.raises(TypeError, match="unexpected keyword argument 'shuffle'; it shuffles "
                                        "when given rng"):
        xg.data.batches(10, 4, shuffle=True)
    shuffled = xg.data.batches(10, 4, np.random.default_rng(0))
    assert sorted(np.concatenate(shuffled).tolist()) == list(range(10))


def test_the_named_accuracy_line_is_the_fraction_right():
    logits, labels = xg.asarray(LOGITS), xg.asarray(LABELS)
    accuracy = xg.mean(xg.argmax(logits, axis=-1) == labels).item()
    assert accuracy == pytest.approx(np.mean(LOGITS.argmax(-1) == LABELS))


@pytest.mark.parametrize("name", ["MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss", "NLLLoss"])
def test_loss_classes_looked_up_on_losses_name_xg_nn(name):
    with pytest.raises(AttributeError, match=rf"the loss classes are xg.nn's.*xg.nn.{name}$"):
        getattr(xg.losses, name)
    assert isinstance(getattr(xg.nn, name)(), xg.nn.Module)


def _keras_hint(name):
    with pytest.raises(AttributeError) as err:
        getattr(xg.losses, name)
    return str(err.value)


def test_keras_loss_names_name_functions_that_compute_their_numbers():
    F = torch.nn.functional
    logits, labels = xg.asarray(LOGITS), xg.asarray(LABELS)
    tl, ty = torch.tensor(LOGITS), torch.tensor(LABELS)
    assert "xg.losses.softmax_cross_entropy(logits, labels)" in \
        _keras_hint("SparseCategoricalCrossentropy")
    assert xg.losses.softmax_cross_entropy(logits, labels).item() == \
        pytest.approx(F.cross_entropy(tl, ty).item(), rel=1e-14)
    probs = xg.nn.softmax(logits, axis=-1)                           # from_logits=False
    assert "xg.losses.nll(xg.log(probs), labels)" in \
        _keras_hint("sparse_categorical_crossentropy")
    assert xg.losses.nll(xg.log(probs), labels).item() == \
        pytest.approx(-np.mean(np.log(probs.numpy()[np.arange(6), LABELS])), rel=1e-13)
    assert "softmax_cross_entropy(logits, one_hot)" in _keras_hint("CategoricalCrossentropy")
    assert xg.losses.softmax_cross_entropy(logits, xg.nn.one_hot(labels, 5, dtype=xg.float64)
                                           ).item() == pytest.approx(F.cross_entropy(
                                               tl, F.one_hot(ty, 5).double()).item(), rel=1e-14)
    targets = (RNG.random(LOGITS.shape) > 0.5).astype(np.float64)
    assert "sigmoid_cross_entropy_with_logits(logits, targets)" in \
        _keras_hint("BinaryCrossentropy")
    assert xg.losses.sigmoid_cross_entropy_with_logits(logits, xg.asarray(targets)).item() == \
        pytest.approx(F.binary_cross_entropy_with_logits(tl, torch.tensor(targets)).item(),
                      rel=1e-14)
    assert "binary_cross_entropy(probs, targets)" in _keras_hint("binary_crossentropy")
    assert xg.losses.binary_cross_entropy(xg.sigmoid(logits), xg.asarray(targets)).item() == \
        pytest.approx(F.binary_cross_entropy(torch.sigmoid(tl), torch.tensor(targets)).item(),
                      rel=1e-12)
    assert "xg.losses.mse(prediction, target)" in _keras_hint("MeanSquaredError")
    assert "xg.losses.l1(prediction, target)" in _keras_hint("mean_absolute_error")
    assert xg.losses.mse(logits, xg.asarray(targets)).item() == \
        pytest.approx(F.mse_loss(tl, torch.tensor(targets)).item(), rel=1e-14)


class _Legendre3(torch.autograd.Function):
    """PyTorch's tutorial's custom Function: P3(x) = (5x^3 - 3x) / 2, its own backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x ** 2 - 1)


@xg.custom_gradient
def _legendre3(x):
    return 0.5 * (5 * x ** 3 - 3 * x), lambda upstream: upstream * 1.5 * (5 * x ** 2 - 1)


def test_autograd_function_ported_as_custom_gradient_fits_as_torchs():
    """Learning PyTorch with Examples: y = a + b P3(c + d x) fitted to sin by gradient steps."""
    x = np.linspace(-np.pi, np.pi, 200)
    ours = [xg.Variable(np.float64(v)) for v in (0.0, -1.0, 0.0, 0.3)]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.0, -1.0, 0.0,
                                                                                  0.3)]
    xt, yt, xs, ys = xg.asarray(x), xg.sin(xg.asarray(x)), torch.tensor(x), torch.sin(
        torch.tensor(x))
    for _ in range(20):
        a, b, c, d = ours
        with xg.GradientTape() as tape:
            loss = xg.sum((a + b * _legendre3(c + d * xt) - yt) ** 2)
        for v, g in zip(ours, tape.gradient(loss, ours)):
            v.assign_sub(5e-5 * g)
        a, b, c, d = theirs
        tloss = ((a + b * _Legendre3.apply(c + d * xs) - ys) ** 2).sum()
        tloss.backward()
        with torch.no_grad():
            for v in theirs:
                v -= 5e-5 * v.grad
                v.grad = None
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose([v.item() for v in ours], [v.item() for v in theirs], rtol=1e-11,
                               atol=1e-15)          # a and c stay at 0 (sin is odd)
    check_grads(_legendre3, [xg.asarray(np.linspace(-1, 1, 7))])


def test_makemore_batchnorm_mlp_trains_and_evaluates_as_torchs(thread_counts_kept):
    """Karpathy's makemore part 3 MLP (embedding table, flatten, linear without bias,
    BatchNorm1d, tanh, linear): SGD steps in train mode, then the loss in eval mode with the
    running statistics, against the same torch.nn.Sequential loaded from it."""
    torch.set_num_threads(1)       # tiny products: a thread pool on a busy machine costs seconds
    vocab, n_embd, block, hidden = 27, 10, 3, 64
    rng = np.random.default_rng(1)
    X, Y = rng.integers(0, vocab, (64, block)), rng.integers(0, vocab, 64)
    f64 = {"dtype": xg.float64}
    model = xg.nn.Sequential([
        xg.nn.Embedding(vocab, n_embd, rng=1, **f64), xg.nn.Flatten(),
        xg.nn.Linear(n_embd * block, hidden, bias=False, rng=2, **f64),
        xg.nn.BatchNorm1d(hidden, **f64), xg.nn.Tanh(), xg.nn.Linear(hidden, vocab, rng=3, **f64)])
    ref = torch.nn.Sequential(
        torch.nn.Embedding(vocab, n_embd), torch.nn.Flatten(),
        torch.nn.Linear(n_embd * block, hidden, bias=False), torch.nn.BatchNorm1d(hidden),
        torch.nn.Tanh(), torch.nn.Linear(hidden, vocab)).double()
    ref.load_state_dict({k: torch.as_tensor(np.asarray(v))
                         for k, v in model.torch_state_dict().items()})
    opt, ref_opt = xg.optim.SGD(0.1), torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(5):
        ix = rng.integers(0, len(X), 16)
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(xg.asarray(X[ix])), xg.asarray(Y[ix]))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
        ref_opt.zero_grad()
        ref_loss = torch.nn.functional.cross_entropy(ref(torch.tensor(X[ix])),
                                                     torch.tensor(Y[ix]))
        ref_loss.backward()
        ref_opt.step()
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-12)
    model.eval()
    ref.eval()
    assert xg.losses.softmax_cross_entropy(model(xg.asarray(X)), xg.asarray(Y)).item() == \
        pytest.approx(torch.nn.functional.cross_entropy(ref(torch.tensor(X)),
                                                        torch.tensor(Y)).item(), rel=1e-12)
    np.testing.assert_allclose(model[3].running_var.numpy(), ref[3].running_var.numpy(),
                               rtol=1e-12)
