"""xg.function used as TensorFlow and JAX users use theirs: Variables created inside the
function, keyword arguments and defaults, Python values, nested arguments and results --
each compared with the eager call."""
import numpy as np
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
    ("input_signature", "once per signature"),
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
