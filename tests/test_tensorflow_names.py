"""TensorFlow 2 spellings a user porting a script reaches for (tf.reduce_sum, tf.gather,
tf.nn.l2_loss, tf.keras.layers.Dense, ...): each raises an AttributeError naming xpgrad's way
(xpgrad/tf_names.py), and that way computes TensorFlow's function, checked against PyTorch's
(or its closed form) in value and gradient, float64."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad import tf_names

R = np.random.default_rng(7)
X = R.standard_normal((4, 5))
IDS = np.array([0, 2, 0, 1])          # segment ids of X's rows, 3 segments
COLS = np.array([4, 0, 0])
PAIRS = np.array([[0, 1], [3, 4], [0, 1]])
PROBS = np.exp(X[::-1]) / np.exp(X[::-1]).sum(-1, keepdims=True)
LABELS = np.array([1, 0, 4, 2])
TARGETS = (R.random((4, 5)) > 0.5).astype(float)


def _xg(fn, x):
    t = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(t)
        out = fn(t)
        loss = xg.sum(out * xg.asarray(np.cos(np.arange(out.size)).reshape(out.shape)))
    return out.numpy(), tape.gradient(loss, t).numpy()


def _torch(fn, x):
    t = torch.tensor(x, requires_grad=True)
    out = fn(t)
    (out * torch.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))).sum().backward()
    return out.detach().numpy(), t.grad.numpy()


def _segments(t):
    return torch.zeros(3, t.shape[1], dtype=t.dtype).index_add(0, torch.tensor(IDS), t)


#: TensorFlow's name -> (module, a word its hint names, xpgrad's way, PyTorch's same function)
CASES = {
    "reduce_sum": (xg, "xg.sum", lambda x: xg.sum(x, axis=1, keepdims=True),
                   lambda t: t.sum(1, keepdim=True)),
    "reduce_mean": (xg, "xg.mean", lambda x: xg.mean(x, axis=0), lambda t: t.mean(0)),
    "reduce_max": (xg, "xg.max", lambda x: xg.max(x, axis=1), lambda t: t.amax(1)),
    "reduce_prod": (xg, "xg.prod", lambda x: xg.prod(x, axis=0), lambda t: t.prod(0)),
    "reduce_logsumexp": (xg, "xg.logsumexp", lambda x: xg.logsumexp(x, axis=1, keepdims=True),
                         lambda t: torch.logsumexp(t, 1, keepdim=True)),
    "reduce_std": (xg, "xg.std", lambda x: xg.std(x, axis=0),
                   lambda t: torch.std(t, 0, correction=0)),
    "reduce_variance": (xg, "xg.var", lambda x: xg.var(x, axis=1),
                        lambda t: torch.var(t, 1, correction=0)),
    "reduce_euclidean_norm": (xg, "vector_norm", lambda x: xg.linalg.vector_norm(x, axis=1),
                              lambda t: torch.linalg.vector_norm(t, dim=1)),
    "gather": (xg, "xg.take", lambda x: xg.take(x, xg.asarray(COLS), axis=1),
               lambda t: torch.index_select(t, 1, torch.tensor(COLS))),
    "top_k": (xg, "xg.topk", lambda x: xg.topk(x, 2)[0], lambda t: torch.topk(t, 2).values),
    "clip_by_value": (xg, "xg.clip", lambda x: xg.clip(x, -0.5, 0.7),
                      lambda t: torch.clamp(t, -0.5, 0.7)),
    # the norm of X is about 4.5: clipped to 2; the closed form is x * min(1, c / |x|)
    "clip_by_norm": (xg, "vector_norm",
                     lambda x: x * (2.0 / xg.maximum(xg.linalg.vector_norm(x), 2.0)),
                     lambda t: t * torch.clamp(2.0 / torch.linalg.vector_norm(t), max=1.0)),
    "boolean_mask": (xg, "x[mask]", lambda x: x[xg.asarray(X > 0)], lambda t: t[X > 0]),
    "l2_loss": (xg.nn, "x ** 2", lambda x: xg.sum(x ** 2) / 2, lambda t: (t ** 2).sum() / 2),
    "moments": (xg.nn, "xg.var", lambda x: xg.stack([xg.mean(x, axis=0), xg.var(x, axis=0)]),
                lambda t: torch.stack(torch.var_mean(t, 0, correction=0)[::-1])),
    "softmax_cross_entropy_with_logits": (
        xg.nn, "reduction='none'",
        lambda x: xg.losses.softmax_cross_entropy(x, xg.asarray(PROBS), reduction="none"),
        lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(PROBS), reduction="none")),
    "sparse_softmax_cross_entropy_with_logits": (
        xg.losses, "reduction='none'",
        lambda x: xg.losses.softmax_cross_entropy(x, xg.asarray(LABELS), reduction="none"),
        lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(LABELS), reduction="none")),
    "sigmoid_cross_entropy_with_logits": (
        xg.nn, "reduction='none'",
        lambda x: xg.losses.sigmoid_cross_entropy_with_logits(x, xg.asarray(TARGETS),
                                                              reduction="none"),
        lambda t: torch.nn.functional.binary_cross_entropy_with_logits(
            t, torch.tensor(TARGETS), reduction="none")),
    "squared_difference": (xg, "(x - y) ** 2", lambda x: (x - 0.3) ** 2, lambda t: (t - 0.3) ** 2),
    "reverse": (xg, "xg.flip", lambda x: xg.flip(x, axis=1), lambda t: torch.flip(t, (1,))),
    "cumprod": (xg, "xg.cumulative_prod", lambda x: xg.cumulative_prod(x, axis=1),
                lambda t: torch.cumprod(t, 1)),
    "add_n": (xg, "xg.sum(xg.stack(", lambda x: xg.sum(xg.stack([x, 2 * x, x ** 2]), axis=0),
              lambda t: torch.stack([t, 2 * t, t ** 2]).sum(0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_name_points_at_a_way_that_computes_tensorflows_function(name):
    module, ours_name, ours, theirs = CASES[name]
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': .*{re.escape(ours_name)}"):
        getattr(module, name)
    assert not hasattr(module, name)
    got, got_grad = _xg(ours, X)
    want, want_grad = _torch(theirs, X)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-12, atol=1e-12)


#: TensorFlow's names that xpgrad now has as its own functions (tests/test_segment_ops.py and
#: tests/test_gather_scatter_nd.py test them in depth) -> PyTorch's same function
OWN = {
    "gather_nd": (lambda x: xg.gather_nd(x, xg.asarray(PAIRS)),
                  lambda t: t[PAIRS[:, 0], PAIRS[:, 1]]),
    "unsorted_segment_sum": (lambda x: xg.unsorted_segment_sum(x, xg.asarray(IDS), 3),
                             _segments),
    "segment_sum": (lambda x: xg.segment_sum(x[xg.asarray(np.argsort(IDS, stable=True))],
                                             xg.asarray(np.sort(IDS))), _segments),
    "scatter_nd": (lambda u: xg.scatter_nd(xg.asarray(IDS[:, None]), u, (3, 5)), _segments),
}


@pytest.mark.parametrize("name", sorted(OWN))
def test_tensorflow_names_xpgrad_now_has_compute_tensorflows_function(name):
    assert name not in tf_names.NAMESPACE        # no stale hint
    ours, theirs = OWN[name]
    got, got_grad = _xg(ours, X)
    want, want_grad = _torch(theirs, X)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-12, atol=1e-12)


def test_clip_by_norm_clips_only_a_longer_tensor():
    short = xg.asarray([0.3, 0.4])                       # norm 0.5 < 2: unchanged
    clipped = short * (2.0 / xg.maximum(xg.linalg.vector_norm(short), 2.0))
    np.testing.assert_allclose(clipped.numpy(), [0.3, 0.4])
    with pytest.raises(AttributeError, match="clip_by_norm"):
        xg.clip_by_norm    # noqa: B018


def _named(hint):
    """The dotted ``xg.`` names a hint mentions (``xg.optim.clip_global_norm``)."""
    return re.findall(r"\bxg(?:\.[A-Za-z_]\w*)+", hint)


@pytest.mark.parametrize("table", ["NAMESPACE", "NN", "OPTIM", "TENSOR", "LAYER_KEYWORDS",
                                   "CALL_KEYWORDS"])
def test_every_xpgrad_name_a_hint_mentions_exists(table):
    mentioned = {n for hint in getattr(tf_names, table).values() for n in _named(hint)}
    for dotted in mentioned:
        obj = xg
        for part in dotted.split(".")[1:]:
            obj = getattr(obj, part)      # an AttributeError names the stale hint


@pytest.mark.parametrize("name", sorted(tf_names.NAMESPACE))
def test_no_tensorflow_name_shadows_an_xpgrad_one(name):
    with pytest.raises(AttributeError, match=f"no attribute '{name}': "):
        getattr(xg, name)


@pytest.mark.parametrize("name", sorted(tf_names.NN))
def test_tf_nn_and_keras_layer_names_get_a_hint_in_xg_nn(name):
    with pytest.raises(AttributeError, match=f"no attribute '{name}': "):
        getattr(xg.nn, name)


@pytest.mark.parametrize("name", ["EarlyStopping", "ReduceLROnPlateau"])
def test_keras_callbacks_looked_for_in_xg_nn_point_at_xg_optim(name):
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': xg\.optim\.{name}\("):
        getattr(xg.nn, name)
    assert not hasattr(xg.nn, name) and callable(getattr(xg.optim, name))


@pytest.mark.parametrize("make, words", [
    (lambda: xg.nn.Linear(2, 3, use_bias=False), "bias="),
    (lambda: xg.nn.LayerNorm(3, epsilon=1e-3), "eps="),
    (lambda: xg.nn.LSTM(2, 3, return_sequences=True), "outputs[:, -1]"),
    (lambda: xg.nn.LSTM(2, 3, stateful=True), "stop_gradient"),
    (lambda: xg.nn.LSTM(2, 3, kernel_initializer="orthogonal"), "kernel_init="),
    (lambda: xg.nn.Linear(2, units=3), "Linear(in_features, out_features)"),
    (lambda: xg.nn.Linear(2, 3, activation="relu"), "xg.nn.Sequential(xg.nn.Linear"),
])
def test_keras_layer_keywords_name_xpgrads(make, words):
    with pytest.raises(TypeError, match=re.escape(words)):
        make()


def test_keras_call_keywords_name_the_positional_state():
    lstm = xg.nn.LSTM(2, 3, dtype=xg.float64, rng=0)
    x = xg.asarray(R.standard_normal((1, 4, 2)))
    _, state = lstm(x)
    with pytest.raises(TypeError, match=r"initial_state'.*lstm\(x, \(h, c\)\)"):
        lstm(x, initial_state=state)
    with pytest.raises(TypeError, match="mask="):
        lstm(x, mask=xg.ones((1, 4)))
    with pytest.raises(TypeError, match="model.eval"):      # training= keeps its own hint
        lstm(x, training=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'") as info:
        lstm(x, foo=1)
    assert ": " not in str(info.value).split("'foo'")[1]    # an unknown keyword: no hint
    outputs, (h, c) = lstm(x, state)                        # the way the hint names
    assert outputs.shape == (1, 4, 3) and h.shape == c.shape == (1, 1, 3)


@pytest.mark.parametrize("name, words", [("get_shape", "t.shape"), ("value", "read_value"),
                                         ("initial_value", "v.numpy()"),
                                         ("scatter_nd_update", "v[index] = value")])
def test_tensorflow_tensor_and_variable_methods_point_at_xpgrads(name, words):
    for obj in (xg.asarray([1.0]), xg.Variable([1.0])):
        with pytest.raises(AttributeError, match=re.escape(words)):
            getattr(obj, name)
        assert not hasattr(obj, name) and name not in dir(obj)


def test_the_scatter_update_the_variable_hint_names_writes_in_place():
    v = xg.Variable([1.0, 2.0, 3.0])
    v[1] = 7.0
    assert v.tolist() == [1.0, 7.0, 3.0]


def test_tensorflows_keywords_of_sigmoid_cross_entropy_say_the_order_and_the_reduction():
    logits, targets = xg.asarray(X), xg.asarray(TARGETS)
    with pytest.raises(TypeError, match=r"'labels'.*\(x, t, reduction='none'\).*logits first"):
        xg.losses.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    with pytest.raises(TypeError, match=r"'foo'$"):
        xg.losses.sigmoid_cross_entropy_with_logits(logits, targets, foo=1)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'targets'"):
        xg.losses.sigmoid_cross_entropy_with_logits(logits)
    # the way the message names is TensorFlow's per-entry loss (its closed form)
    got = xg.losses.sigmoid_cross_entropy_with_logits(logits, targets, reduction="none").numpy()
    want = np.maximum(X, 0) - X * TARGETS + np.log1p(np.exp(-np.abs(X)))
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("module", [xg.optim, xg.optim.schedules])
@pytest.mark.parametrize("name", sorted(tf_names.OPTIM))
def test_keras_optimizer_and_schedule_names_point_at_xg_optims(module, name):
    with pytest.raises(AttributeError, match=f"no attribute '{name}': xg.optim"):
        getattr(module, name)


def test_piecewise_constant_takes_keras_piecewise_constant_decays_steps():
    # Keras: values[i] while step <= boundaries[i] (the boundary step keeps the earlier value)
    schedule = xg.optim.PiecewiseConstant([2, 4], [0.1, 0.05, 0.01])
    assert [schedule(k) for k in range(7)] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.01, 0.01]


@pytest.mark.parametrize("name, words", [
    ("shape", "x.shape"), ("size", "x.size"), ("gradients", "tape.gradient"),
    ("hessians", "xg.hessian"), ("summary", "xg.events.EventWriter"), ("map_fn", "xg.vmap"),
    ("vectorized_map", "xg.vmap"), ("fill", "xg.full")])
def test_names_a_tf2_autodiff_script_reaches_for_name_xpgrads(name, words):
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': .*{re.escape(words)}"):
        getattr(xg, name)


def test_tf_hessians_way_is_torchs_hessian():
    f = lambda x: xg.sum(xg.sin(x) * xg.flip(x) ** 2)           # noqa: E731
    got = xg.hessian(f)(xg.asarray(X[0])).numpy()
    want = torch.autograd.functional.hessian(lambda t: (torch.sin(t) * t.flip(0) ** 2).sum(),
                                             torch.tensor(X[0]))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-12)


def test_tf_summary_scalar_way_writes_a_tensorboard_event_file(tmp_path):
    # xg.events is there without an import, as the summary hint writes it
    with xg.events.EventWriter(str(tmp_path)) as writer:
        writer.add_scalar("loss", xg.asarray(0.25), step=3)
    (event_file,) = tmp_path.iterdir()
    assert event_file.name.startswith("events.out.tfevents.") and b"loss" in event_file.read_bytes()


@pytest.mark.parametrize("keyword, words", [
    ("shape", "assign keeps it"), ("validate_shape", "assign keeps it"),
    ("synchronization", "xg.distributed"), ("aggregation", "xg.distributed")])
def test_tf_variable_keywords_say_what_xpgrad_does(keyword, words):
    with pytest.raises(TypeError, match=rf"'{keyword}': .*{re.escape(words)}"):
        xg.Variable([1.0, 2.0], **{keyword: None})
    v = xg.Variable([1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):          # what "assign keeps it" says
        v.assign([1.0, 2.0, 3.0])


@pytest.mark.parametrize("name, words", [
    ("sequence_mask", "xg.arange(maxlen) < lengths[:, None]"), ("foldl", "xg.scan"),
    ("foldr", "reverse=True"), ("py_function", "call func(*inp) itself"),
    ("numpy_function", "xg.asarray(func(x.numpy()))"), ("is_tensor", "isinstance(x, xg.Tensor)"),
    ("executing_eagerly", "inside xg.function"), ("ensure_shape", "assert x.shape ==")])
def test_tf_control_and_shape_names_name_xpgrads_way(name, words):
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': .*{re.escape(words)}"):
        getattr(xg, name)
    assert not hasattr(xg, name)


def test_sequence_masks_way_is_tensorflows_mask():
    lengths = xg.asarray([2, 0, 4])
    mask = xg.arange(int(xg.max(lengths))) < lengths[:, None]
    want = np.array([[j < n for j in range(4)] for n in (2, 0, 4)])     # tf.sequence_mask's
    assert mask.dtype == xg.bool and (mask.numpy() == want).all()
    assert xg.astype(mask, xg.float32).numpy().tolist() == want.astype(np.float32).tolist()


@pytest.mark.parametrize("reverse", [False, True])
def test_foldl_and_foldrs_way_is_a_loop_with_torchs_gradient(reverse):
    fn = lambda acc, x: xg.tanh(acc * x + 0.1)           # noqa: E731
    ours = lambda t: xg.scan(lambda acc, x: (fn(acc, x), None), xg.ones(5, dtype=xg.float64),
                             t, reverse=reverse)[0]      # noqa: E731

    def theirs(t):
        acc = torch.ones(5, dtype=t.dtype)
        for x in (reversed(t) if reverse else t):
            acc = torch.tanh(acc * x + 0.1)
        return acc

    got, got_grad = _xg(ours, X)
    want, want_grad = _torch(theirs, X)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-12, atol=1e-12)


def test_py_and_numpy_functions_ways_run_eagerly_and_refuse_a_trace():
    x = xg.asarray(X[0])
    np.testing.assert_array_equal(xg.asarray(np.sort(x.numpy())).numpy(), np.sort(X[0]))
    assert isinstance(x, xg.Tensor) and isinstance(xg.Variable(X[0]), xg.Tensor)
    assert not isinstance(X[0], xg.Tensor)
    with pytest.raises(xg.jit.TraceError):
        traced = xg.function(lambda t: xg.asarray(np.sort(t.numpy())))
        traced(x), traced(x)


def test_ensure_shapes_way_runs_on_each_traced_shape():
    @xg.function
    def double(x):
        assert x.shape[1] == 3, f"x has shape {x.shape}"
        return 2 * x

    for _ in range(3):
        assert double(xg.ones((2, 3))).shape == (2, 3)
    with pytest.raises(AssertionError, match=r"\(2, 4\)"):
        double(xg.ones((2, 4)))
