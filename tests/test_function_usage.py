"""xg.function used as TensorFlow and JAX users use theirs: Variables created inside the
function, keyword arguments and defaults, Python values, nested arguments and results --
each compared with the eager call."""
import numpy as np
import re

import pytest

import xpgrad as xg
from xpgrad.jit import TraceError


class _LazyDense:
    """A layer whose weights are made on its first call (Keras' build)."""

    def __init__(self):
        self.w = None

    def __call__(self, x):
        if self.w is None:
            self.w = xg.Variable(np.full((x.shape[-1], 1), 0.5), name="lazy_w")
        return x @ self.w


def _lazy_training(warmup):
    layer, opt = _LazyDense(), xg.optim.SGD(0.05, momentum=0.9)

    def step(x):
        layer(x)                          # builds the layer (once)
        with xg.GradientTape() as tape:
            loss = xg.sum((layer(x) - 1.0) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, [layer.w]), [layer.w]))
        return loss

    return (step if warmup is None else xg.function(step, warmup=warmup)), layer


def test_a_layer_built_by_the_eager_first_call_trains_as_eager():
    x = xg.asarray([[1.0, 2.0], [0.5, -1.0]], dtype=xg.float64)
    (eager, eager_layer), (compiled, layer) = _lazy_training(None), _lazy_training(1)
    for _ in range(5):
        np.testing.assert_allclose(compiled(x).numpy(), eager(x).numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.w.numpy(), eager_layer.w.numpy(), rtol=1e-12)
    assert compiled.trace_count == 1


def test_a_variable_created_by_the_trace_and_kept_is_refused():
    # made while tracing (warmup=0), its first value would be a constant of the program: the
    # replays would not see the updates (they returned the first loss again and again)
    compiled, _ = _lazy_training(0)
    with pytest.raises(TraceError, match="Variable created while tracing") as info:
        compiled(xg.asarray([[1.0, 2.0]], dtype=xg.float64))
    assert "test_function_usage.py" in str(info.value)      # the line that made it


def test_returning_a_variable_created_inside_is_refused_when_traced():
    compiled = xg.function(lambda x: xg.Variable(x * 2.0, name="made"))
    x = xg.asarray([1.0, 2.0])
    assert compiled(x).numpy().tolist() == [2.0, 4.0]       # eager
    with pytest.raises(TraceError, match="Variable created while tracing"):
        compiled(x)


@pytest.mark.parametrize("warmup", [0, 1])
def test_a_variable_made_and_updated_in_every_call_replays_as_eager(warmup):
    def accumulate(x):
        total = xg.Variable(np.zeros(2), name="total")      # a new one in every call
        total.assign_add(x)
        total.assign_add(x * x)
        return total * 1.0

    compiled = xg.function(accumulate, warmup=warmup)
    for k in range(4):
        x = xg.asarray([1.0 + k, -2.0], dtype=xg.float64)
        np.testing.assert_allclose(compiled(x).numpy(), accumulate(x).numpy(), rtol=1e-12)
    assert compiled.trace_count == 1


@pytest.mark.parametrize("option, hint", [
    ("static_argnums", "every argument that is not a tensor is static"),
    ("jit_compile", "fuse="),
    ("reduce_retracing", "once per signature"),
])
def test_tensorflow_and_jax_options_are_named_with_what_to_do(option, hint):
    for make in (lambda: xg.function(lambda x: x, **{option: None}),
                 lambda: xg.function(**{option: None})(lambda x: x)):
        with pytest.raises(TypeError, match=rf"xg.function has no option '{option}'.*{hint}"):
            make()
    with pytest.raises(TypeError, match="xg.function has no option 'max_trace'; its options "
                                        "are max_traces, warmup"):
        xg.function(lambda x: x, max_trace=3)


@pytest.mark.parametrize("name, hint", [
    ("experimental_get_tracing_count", "f.trace_count"),
    ("get_concrete_function", "f.programs()"),
    ("python_function", "f.fn"),
])
def test_tf_function_attributes_are_named_with_xpgrads(name, hint):
    step = xg.function(lambda x: x * 2.0)
    with pytest.raises(AttributeError, match=rf"'{name}': .*{re.escape(hint)}"):
        getattr(step, name)
    assert step.fn(3.0) == 6.0 and step.trace_count == 0


def _scaled(x, scale=2.0, shift=None, *, power=1, **extra):
    y = x * scale
    if shift is not None:
        y = y + shift
    return y ** power + sum(extra.values(), 0.0)


def test_one_trace_whether_arguments_come_by_position_keyword_or_default():
    # as tf.function: the call is bound to the signature, defaults filled in, before keying
    compiled = xg.function(_scaled)
    x, shift = xg.asarray([1.0, -2.0]), xg.asarray([0.5, 0.25])
    calls = [((x,), {}), ((x, 2.0), {}), ((x,), {"scale": 2.0}), ((), {"x": x}),
             ((x, 2.0, None), {"power": 1}), ((x,), {"power": 1, "scale": 2.0})]
    for args, kwargs in calls:
        np.testing.assert_allclose(compiled(*args, **kwargs).numpy(),
                                   _scaled(*args, **kwargs).numpy(), rtol=1e-12)
    assert compiled.trace_count == 1
    other = [((x, 3.0), {}), ((x,), {"shift": shift}), ((x, 2.0, shift), {}),
             ((x,), {"shift": shift, "power": 2}), ((x,), {"power": 2, "shift": shift}),
             ((x,), {"bonus": 1.5}), ((x,), {"bonus": 1.5, "power": 1})]
    for _ in range(2):
        for args, kwargs in other:
            np.testing.assert_allclose(compiled(*args, **kwargs).numpy(),
                                       _scaled(*args, **kwargs).numpy(), rtol=1e-12)
    # scale 3; shift given (by position or keyword); shift and power 2 (keywords in either
    # order); an extra keyword (power=1 said or not): one trace each
    assert compiled.trace_count == 1 + 4


def test_a_call_that_does_not_fit_the_signature_fails_as_the_eager_call():
    compiled = xg.function(lambda x, y: x + y)
    for args, kwargs in [((xg.ones(2),), {}), ((xg.ones(2),) * 3, {}),
                         ((xg.ones(2),), {"y": xg.ones(2), "z": 1})]:
        with pytest.raises(TypeError, match="argument"):
            compiled(*args, **kwargs)


def test_a_compiled_module_reads_the_module_s_attributes_live():
    """``xg.function(model)`` looks like ``model`` (as ``torch.compile``'s wrapper does): its
    attributes are the module's current ones, not a copy taken when it was wrapped, so
    ``compiled.training`` follows ``model.eval()``."""
    model = xg.nn.Sequential(xg.nn.Linear(4, 3), xg.nn.Dropout(0.5))
    compiled = xg.function(model)
    assert compiled.training is True
    model.eval()
    assert compiled.training is False
    assert compiled.variables == model.variables
    model.layers = "replaced"
    assert compiled.layers == "replaced"
    with pytest.raises(AttributeError, match="no_such_attribute"):
        compiled.no_such_attribute


def test_a_compiled_function_keeps_its_own_attributes_and_the_function_s():
    def f(x):
        return x * 2.0
    f.note = "mine"
    compiled = xg.function(f)
    assert compiled.note == "mine" and compiled.__name__ == "f"
    compiled.note = "the Function's"
    assert f.note == "mine"
    assert xg.function(compiled).trace_count == 0


@pytest.mark.parametrize("folder", ["numba_project", "my-numpy-notes"])
def test_a_user_file_under_a_folder_named_like_a_library_is_named(folder, tmp_path):
    # the frames skipped as the array libraries' are those whose path has the package as a whole
    # directory: a user's folder that merely contains "numba" or "numpy" is the user's (a
    # substring test once named pytest's caller instead)
    path = tmp_path / folder / "user_step.py"
    path.parent.mkdir()
    path.write_text("import xpgrad as xg\n\n\ndef step(x):\n    return x * float(xg.sum(x))\n")
    source = {"__name__": "user_step"}
    exec(compile(path.read_text(), str(path), "exec"), source)
    with pytest.raises(TraceError, match="float()") as info:
        xg.function(source["step"], warmup=0)(xg.ones(2))
    assert info.value.where == f"{path}:5"


def test_python_if_and_while_on_a_tensor_name_cond_and_while_loop():
    # TensorFlow's AutoGraph turns them into tf.cond / tf.while_loop; xpgrad's trace refuses
    # them and names those (xg.cond, xg.while_loop), which trace
    @xg.function
    def branchy(x):
        if xg.sum(x) > 0:
            return x * 2.0
        return x * 3.0

    @xg.function
    def doubling(x):
        while xg.sum(x) < 10.0:
            x = x * 2.0
        return x

    for fn in (branchy, doubling):
        fn(xg.asarray([1.0]))                                   # the eager warm-up call
        with pytest.raises(TraceError, match=r"xg\.cond\(pred, true_fun, false_fun\).*"
                                             r"xg\.while_loop\(cond_fun, body_fun, init_val\)"):
            fn(xg.asarray([1.0]))

    @xg.function
    def branchy_cond(x):
        return xg.cond(xg.sum(x) > 0, lambda: x * 2.0, lambda: x * 3.0)

    got = [branchy_cond(xg.asarray([v])).item() for v in (1.0, 1.0, 1.0, -1.0)]
    assert got == [2.0, 2.0, 2.0, -3.0] and branchy_cond.trace_count == 1
