"""xg.function used the way a tf.function / jax.jit / torch.compile user would: arguments
(objects that compare equal, NaN and -0.0, dataclasses, one tensor given twice), decorated
methods, the warnings and errors a user reads, and small user programs -- each compiled call
compared with the same function run eagerly. State the function makes or changes itself
(generators, optimizers, training modes): test_function_user_state.py."""
import dataclasses
import math
import pathlib
import re
import warnings

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import RetracingWarning, TraceError
from side_effects_on_purpose import ON_PURPOSE


class _EqualScales:
    """Objects that compare (and hash) equal whatever their weights: a config-like __eq__."""

    def __init__(self, scale):
        self.w = xg.Variable([scale, scale], dtype=xg.float64, name="w")

    def __eq__(self, other):
        return isinstance(other, _EqualScales)

    def __hash__(self):
        return 0

    @xg.function
    def apply(self, x):
        return x * self.w


def test_a_method_of_objects_that_compare_equal_traces_per_instance():
    # as tf.function keys other Python objects by identity: each instance reads its own weights
    first, second = _EqualScales(1.0), _EqualScales(3.0)
    x = xg.asarray([1.0, 2.0], dtype=xg.float64)
    for _ in range(4):
        assert first.apply(x).tolist() == [1.0, 2.0]
        assert second.apply(x).tolist() == [3.0, 6.0]


def test_an_argument_that_compares_equal_to_another_does_not_reuse_its_trace():
    first, second = _EqualScales(2.0), _EqualScales(5.0)
    compiled = xg.function(lambda x, layer: x * layer.w)
    x = xg.asarray([1.0, 1.0], dtype=xg.float64)
    for _ in range(3):
        assert compiled(x, first).tolist() == [2.0, 2.0]
        assert compiled(x, second).tolist() == [5.0, 5.0]


@pytest.mark.parametrize("value", [np.float32, xg.float32, 2, 2.5, "mode", None, (1, 2)])
def test_values_that_compare_by_value_share_one_trace(value):
    compiled = xg.function(lambda x, v: x * 2.0)
    x = xg.ones(2)
    for _ in range(3):
        compiled(x, value)
    assert compiled.trace_count == 1


class _Scaler:
    def __init__(self, scale):
        self.w = xg.Variable([scale, scale], dtype=xg.float64)

    def scale(self, x):
        return x * self.w


def test_a_bound_method_argument_made_afresh_each_call_traces_once():
    layer = _Scaler(2.0)
    compiled = xg.function(lambda x, fn: fn(x))
    x = xg.asarray([1.0, 1.0], dtype=xg.float64)
    for _ in range(3):
        assert compiled(x, layer.scale).tolist() == [2.0, 2.0]     # a new bound method each
    assert compiled.trace_count == 1


def test_a_nan_argument_is_traced_and_replayed():
    compiled = xg.function(lambda x, fill: xg.where(x > 0, x, fill))
    x = xg.asarray([1.0, -1.0], dtype=xg.float64)
    for _ in range(4):
        out = compiled(x, float("nan")).numpy()     # a new NaN object each call
        assert out[0] == 1.0 and math.isnan(out[1])
    assert compiled.trace_count == 1


def test_minus_zero_is_not_zero():
    compiled = xg.function(lambda x, d: x / d)
    x = xg.asarray([1.0], dtype=xg.float64)
    with np.errstate(divide="ignore"):
        for _ in range(2):
            assert compiled(x, 0.0).tolist() == [math.inf]
            assert compiled(x, -0.0).tolist() == [-math.inf]


def _warning_files(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return caught


def test_the_retracing_warning_points_at_the_caller():
    compiled = xg.function(lambda x: x * 2.0, warmup=0, retrace_warning=1)
    compiled(xg.ones(1))
    caught = _warning_files(lambda: compiled(xg.ones(2)))
    assert [w.category for w in caught] == [RetracingWarning]
    assert caught[0].filename == __file__


def test_the_eager_fallback_warning_points_at_the_caller():
    compiled = xg.function(lambda x: x * x.item(), warmup=0, on_trace_error="eager")
    caught = _warning_files(lambda: compiled(xg.ones(1)))
    assert [w.category for w in caught] == [RuntimeWarning]
    assert caught[0].filename == __file__


def test_a_trace_error_names_the_function():
    def scale_by_the_first_element(x):
        return x * float(x[0])

    compiled = xg.function(scale_by_the_first_element, warmup=0)
    with pytest.raises(TraceError, match="'scale_by_the_first_element'") as info:
        compiled(xg.ones(2))
    assert "test_function_user.py" in str(info.value)        # and the line


def test_an_array_xpgrad_cannot_hold_is_refused_naming_the_function_and_the_argument():
    """NumPy arrays are tensor inputs (tests/test_function_numpy_inputs.py); one of a dtype
    xpgrad has not is refused as xg.asarray refuses it, naming the argument."""
    def loss_of(x, targets, weights=None):
        return xg.sum(x - targets)

    compiled = xg.function(loss_of)
    refused = r"xg.function 'loss_of', argument 'targets' has dtype float16.*astype"
    with pytest.raises(TypeError, match=refused):
        compiled(xg.ones(2), np.ones(2, np.float16))
    with pytest.raises(TypeError, match=r"'loss_of', argument 'weights'\['a'\] has dtype str"):
        compiled(xg.ones(2), xg.ones(2), weights={"a": np.array(["1.0"])})


class _Block(xg.nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.w = xg.Variable([scale, -scale], dtype=xg.float64)

    @xg.function(max_traces=4, retrace_warning=2)
    def __call__(self, x, power=1):
        return xg.tanh(x * self.w) ** power


# the values bit for bit: numpy (numba's fused tanh and power round to 1 ulp, docs/function.md)
@pytest.mark.usefixtures("numpy_default")
def test_each_instance_of_a_decorated_method_has_its_own_traces():
    # as tf.function on a method: ten blocks are ten functions of one trace each, not one
    # function retracing (and warning) as soon as the blocks outnumber max_traces
    blocks = [_Block(0.1 * (i + 1)) for i in range(10)]
    x = xg.asarray([1.0, 2.0], dtype=xg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RetracingWarning)
        for _ in range(4):
            for block in blocks:
                np.testing.assert_array_equal(block(x, power=2).numpy(),
                                              np.tanh(x.numpy() * block.w.numpy()) ** 2)
    assert [block.__call__.trace_count for block in blocks] == [1] * 10
    own = blocks[0].__call__
    assert own.__self__ is blocks[0] and own.__func__ is blocks[0].__call__.__func__
    assert own.__func__ is not blocks[1].__call__.__func__ and _Block.__call__.trace_count == 0
    assert own.max_traces == 4 and own.__name__ == "__call__"


def test_an_instance_s_function_does_not_keep_the_instance_alive():
    import gc
    import weakref

    block = _Block(1.0)
    x = xg.ones(2, dtype=xg.float64)
    for _ in range(3):
        block(x)
    instance, function = weakref.ref(block), weakref.ref(block.__call__.__func__)
    del block
    gc.collect()
    assert instance() is None and function() is None


@dataclasses.dataclass(frozen=True)
class _Settings:
    scale: float
    mode: str = "tanh"


@dataclasses.dataclass
class _Holder:
    w: xg.Variable


def _configured(x, settings):
    y = x * settings.scale
    return xg.tanh(y) if settings.mode == "tanh" else y


def test_a_dataclass_of_python_values_counts_by_its_values():
    compiled = xg.function(_configured)
    x = xg.asarray([0.5, -1.0], dtype=xg.float64)
    for _ in range(4):            # a fresh config each call, as one builds it in a loop
        np.testing.assert_array_equal(compiled(x, _Settings(2.0)).numpy(),
                                      _configured(x, _Settings(2.0)).numpy())
    assert compiled.trace_count == 1
    for _ in range(3):
        np.testing.assert_array_equal(compiled(x, _Settings(2.0, "linear")).numpy(), [1.0, -2.0])
    assert compiled.trace_count == 2


def test_a_dataclass_holding_variables_counts_by_identity():
    compiled = xg.function(lambda x, holder: x * holder.w)
    first = _Holder(xg.Variable([1.0, 1.0], dtype=xg.float64))
    second = _Holder(xg.Variable([3.0, 3.0], dtype=xg.float64))
    x = xg.ones(2, dtype=xg.float64)
    for _ in range(3):
        assert compiled(x, first).tolist() == [1.0, 1.0]
        assert compiled(x, second).tolist() == [3.0, 3.0]


def _leaves_equal(got, want):
    if isinstance(want, xg.Tensor):
        assert isinstance(got, xg.Tensor) and got.dtype == want.dtype
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-300)
    elif isinstance(want, (tuple, list)):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want):
            _leaves_equal(g, w)
    elif isinstance(want, dict):
        assert type(got) is dict and list(got) == list(want)
        for k in want:
            _leaves_equal(got[k], want[k])
    else:
        assert got == want


def _user_programs():
    """(name, make) pairs: ``make()`` gives a fresh ``(fn, args, kwargs, variables)``."""
    def trainer(x, y, lr=0.1, *, clip=None):
        w = xg.Variable(np.linspace(-1, 1, 6).reshape(3, 2))
        opt = xg.optim.Adam(lr, clipnorm=clip)

        def step(inputs, targets, label="loss"):
            with xg.GradientTape() as tape:
                pred = inputs["x"] @ w
                loss = xg.mean((pred - targets[0]) ** 2) + 0.0 * xg.sum(targets[1])
            grads = tape.gradient(loss, [w])
            opt.apply_gradients(zip(grads, [w]))
            return {label: loss, "pred": (pred, None, label)}, grads[0]
        return step, ({"x": x}, (y, y[:, :1])), {"label": "mse"}, [w]

    def same_tensor_twice(x, y, lr=0.1, **_):
        v = xg.Variable([0.5, -0.5])

        def f(a, b, var):
            with xg.GradientTape() as tape:
                tape.watch(a)
                out = xg.sum(a * b * var) + xg.sum(xg.stop_gradient(a) ** 2)
            da, dv = tape.gradient(out, [a, var])
            var.assign_sub(lr * dv)
            return out, da, var
        row = x[0, :2]
        return f, (row, row, v), {}, [v]

    def scalars_and_empty(x, y, **_):
        def f(s, e, n=3):
            return s * n, xg.sum(e, axis=0), e.shape, n
        return f, (xg.asarray(2.5, dtype=xg.float64), xg.zeros((0, 3), dtype=xg.float64)), {}, []

    return [("trainer", trainer), ("same_tensor_twice", same_tensor_twice),
            ("scalars_and_empty", scalars_and_empty)]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("name, make", _user_programs(), ids=[n for n, _ in _user_programs()])
def test_user_programs_equal_eager_in_values_gradients_and_state(backend, name, make):
    with xg.use_backend(backend):
        rng = np.random.default_rng(3)
        x = xg.asarray(rng.standard_normal((4, 3)))
        y = xg.asarray(rng.standard_normal((4, 2)))
        eager_fn, args, kwargs, eager_vars = make(x, y)
        fn, cargs, ckwargs, compiled_vars = make(x, y)
        compiled = xg.function(fn)
        for _ in range(5):
            _leaves_equal(compiled(*cargs, **ckwargs), eager_fn(*args, **kwargs))
            for got, want in zip(compiled_vars, eager_vars):
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
        assert compiled.trace_count == 1


def test_one_tensor_given_twice_and_two_equal_tensors_are_two_signatures():
    def gradient_of_product(a, b):
        with xg.GradientTape() as tape:
            tape.watch(a)
            out = xg.sum(a * b)
        return tape.gradient(out, a)        # 2a when b is a, else b

    compiled = xg.function(gradient_of_product)
    x = xg.asarray([1.0, 2.0], dtype=xg.float64)
    twin = xg.asarray([1.0, 2.0], dtype=xg.float64)
    for _ in range(3):
        assert compiled(x, x).tolist() == [2.0, 4.0]
        assert compiled(x, twin).tolist() == [1.0, 2.0]
        assert compiled(a=twin, b=twin).tolist() == [2.0, 4.0]
    assert compiled.trace_count == 2


def test_a_method_taken_from_an_instance_nobody_else_holds_still_works():
    step = _Block(2.0).__call__           # the bound method keeps its instance, as in Python
    x = xg.asarray([0.5, 1.0], dtype=xg.float64)
    for _ in range(4):
        np.testing.assert_array_equal(step(x).numpy(), np.tanh(x.numpy() * [2.0, -2.0]))
    assert step.trace_count == 1


class _HalvedBlock(xg.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = xg.Variable([1.0, 2.0], dtype=xg.float64)

    @xg.function
    def __call__(self, x):
        return x * self.w * (0.5 if self.training else 1.0)


def test_an_instance_whose_method_reads_its_own_mode_is_freed():
    import gc
    import weakref

    block, x = _HalvedBlock(), xg.ones(2, dtype=xg.float64)
    for mode in ("train", "eval"):
        getattr(block, mode)()
        for _ in range(3):
            assert block(x).tolist() == ([0.5, 1.0] if mode == "train" else [1.0, 2.0])
    instance = weakref.ref(block)
    del block
    gc.collect()
    assert instance() is None


@ON_PURPOSE
def test_a_leaked_tensor_names_the_function_it_leaked_from():
    kept = []

    def remember_the_loss(x):
        loss = xg.sum(x * x)
        kept.append(loss)                 # a Python side effect: the traced tensor leaks
        return loss

    compiled = xg.function(remember_the_loss, warmup=0)
    compiled(xg.ones(2))
    with pytest.raises(TraceError, match="'remember_the_loss'.*leaked"):
        kept[-1] + 1.0


def test_tensors_on_two_backends_are_refused_naming_the_function():
    def add_them(a, b):
        return a + b

    compiled = xg.function(add_them)
    with pytest.raises(ValueError, match="'add_them' got tensors on backends 'numpy' and 'numba'"):
        compiled(xg.ones(2, backend="numpy"), xg.ones(2, backend="numba"))


def test_a_static_method_under_xg_function_is_called_from_an_instance():
    class Scaler:
        @xg.function
        @staticmethod
        def double(x):
            return x * 2

    one = xg.ones(2)
    assert Scaler.double(one).tolist() == [2.0, 2.0]
    for _ in range(3):
        assert Scaler().double(one).tolist() == [2.0, 2.0]
    assert Scaler.double.trace_count == 1


def test_the_first_example_of_docs_function_md_runs_as_written():
    """A newcomer pastes it into a fresh interpreter: it defines its own batches and trains."""
    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "function.md"
    code = re.search(r"```python\n(.*?)```", page.read_text(), re.S).group(1)
    names = {}
    exec(compile(code, str(page), "exec"), names)
    assert math.isfinite(float(names["loss"])) and len(names["batches"]) == 5
