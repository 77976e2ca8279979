"""xg.function replays that once failed, each compared with the eager call: a backend kernel
that declines its inputs (the generic rule runs instead, and is what the program records);
named tuples as arguments and results (pytrees, as in JAX and TensorFlow); ``x[key] = value``
inside the function (a write into an argument is refused: a replay cannot update the caller's
tensor); the bounded cache of traces drops the least recently used one; an unhashable
argument counts by identity, and a new one at a dead one's address is a new signature; a
traced method, bound to its instance, shows the Function's attributes; .to() of another
backend is named in the TraceError; bad options are refused when the Function is made (they
failed deep in the first trace, after its updates were applied); a NumPy scalar argument
counts by value, as a Python number."""
import collections

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import TraceError


class _Declining(type(xg.get_backend("numpy"))):
    """The numpy backend with a softmax kernel that declines every input."""

    name = "declining"


def _softmax_step(x):
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.nn.softmax(x, axis=0)
        loss = xg.sum(y * y)
    return loss, tape.gradient(loss, x)


def _assert_replays_equal_eager(fn, make_x):
    compiled = xg.function(fn)
    for k in range(4):
        x = make_x(k)
        got, want = compiled(x), fn(x)
        np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-12)
        np.testing.assert_allclose(got[1].numpy(), want[1].numpy(), rtol=1e-12, atol=1e-15)
    assert compiled.trace_count == 1


def test_a_kernel_that_declines_is_not_a_step_of_the_program():
    be = _Declining()
    be.register_kernel("softmax", xg.Kernel(lambda *a, **k: None, lambda *a, **k: None))
    rng = np.random.default_rng(0)
    _assert_replays_equal_eager(_softmax_step,
                                lambda k: xg.asarray(rng.normal(size=(6, 5)), backend=be))


@pytest.mark.parametrize("axis", [0, -1])
def test_numba_softmax_on_any_axis_replays(axis):
    pytest.importorskip("numba")
    rng = np.random.default_rng(1)

    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.nn.log_softmax(x, axis=axis) * xg.nn.softmax(x, axis=axis))
        return loss, tape.gradient(loss, x)

    _assert_replays_equal_eager(step, lambda k: xg.asarray(rng.normal(size=(6, 5)),
                                                           backend="numba"))


_State = collections.namedtuple("_State", "h loss")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_named_tuples_in_and_out(backend):
    w = xg.Variable(np.random.default_rng(2).normal(size=(3, 3)), name="w", backend=backend)

    def step(state, x):
        with xg.GradientTape() as tape:
            h = xg.tanh(state.h @ w + x)
            loss = xg.sum(h * h)
        (g,) = tape.gradient(loss, [w])
        return _State(h, loss), {"grad": g}

    compiled = xg.function(step)
    rng = np.random.default_rng(3)
    for _ in range(4):
        state = _State(xg.asarray(rng.normal(size=(2, 3)), backend=backend), None)
        x = xg.asarray(rng.normal(size=(2, 3)), backend=backend)
        (got, got_g), (want, want_g) = compiled(state, x), step(state, x)
        assert type(got) is _State
        np.testing.assert_allclose(got.h.numpy(), want.h.numpy(), rtol=1e-12)
        np.testing.assert_allclose(got.loss.numpy(), want.loss.numpy(), rtol=1e-12)
        np.testing.assert_allclose(got_g["grad"].numpy(), want_g["grad"].numpy(), rtol=1e-12)
    assert compiled.trace_count == 1       # the tensors in the named tuple are arguments


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_writes_into_tensors_and_variables_replay(backend):
    def make():
        v = xg.Variable(np.zeros(3), name="v", backend=backend)

        def step(x):
            y = x * 2.0
            y[0] = 5.0                     # a value of the function: written in a copy
            z = xg.exp(x)
            z[1:] = y[:2]
            v[2] = x[0]                    # a Variable: its new value persists
            return y + z, v * 1.0
        return step, v

    eager, v_eager = make()
    step, v = make()
    compiled = xg.function(step)
    for k in range(4):
        x = xg.asarray(np.array([1.0, 2.0, 3.0]) + k, backend=backend)
        got, want = compiled(x), eager(x)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12)
        assert x.tolist() == [1.0 + k, 2.0 + k, 3.0 + k]
        assert v.tolist() == v_eager.tolist()
    assert compiled.trace_count == 1


def test_a_write_into_an_argument_is_refused_or_runs_eagerly():
    def clip_first(s, x):
        x[0] = 0.0
        return x * s

    strict = xg.function(clip_first)
    strict(2.0, xg.asarray([1.0, 2.0]))
    with pytest.raises(TraceError, match="wrote into its tensor argument #1"):
        strict(2.0, xg.asarray([1.0, 2.0]))
    lenient = xg.function(clip_first, on_trace_error="eager")
    for k in range(3):
        x = xg.asarray([1.0, 2.0 + k])
        if k == 1:
            with pytest.warns(RuntimeWarning, match="runs eagerly"):
                y = lenient(2.0, x)
        else:
            y = lenient(2.0, x)
        assert (x.tolist(), y.tolist()) == ([0.0, 2.0 + k], [0.0, 4.0 + 2 * k])


def test_the_least_recently_used_signature_is_dropped():
    f = xg.function(lambda x: x * 2.0, warmup=0, max_traces=2)
    a, b, c = xg.ones(1), xg.ones(2), xg.ones(3)
    f(a), f(b), f(a)          # a traced first, but used last
    f(c)                      # drops b, the least recently used
    assert f.trace_count == 3
    assert f(a).tolist() == [2.0] and f.trace_count == 3
    assert f(b).tolist() == [2.0, 2.0] and f.trace_count == 4


class _Config:
    """An argument that cannot be hashed: it counts by identity in the signature."""

    __slots__ = ("scale",)
    __hash__ = None

    def __init__(self, scale):
        self.scale = scale

    def __eq__(self, other):
        return isinstance(other, _Config) and other.scale == self.scale


def test_an_unhashable_argument_is_never_confused_with_a_dead_one():
    import gc

    from gc_counts import only_new_objects

    f = xg.function(lambda x, config: x * config.scale)
    x = xg.asarray([1.0])
    with only_new_objects():
        for k in range(8):
            config = _Config(float(k))      # often at the address of the one freed just before
            assert f(x, config).tolist() == [float(k)]
            del config
            gc.collect()


class _Scaler:
    def __init__(self, scale):
        self.w = xg.Variable([scale, 2.0 * scale], name="w")

    @xg.function
    def step(self, x):
        return self.w * x


def test_a_method_is_traced_per_instance_and_shows_the_function():
    a, b = _Scaler(1.0), _Scaler(3.0)
    x = xg.asarray([1.0, 1.0])
    for _ in range(3):
        assert a.step(x).tolist() == [1.0, 2.0]
        assert b.step(x).tolist() == [3.0, 6.0]
    assert a.step.trace_count == 1 and len(b.step.programs()) == 1   # one Function each
    assert a.step.__self__ is a and a.step.__func__ is not b.step.__func__


@pytest.mark.usefixtures("numpy_default")
def test_moving_a_tensor_to_another_backend_is_named():
    pytest.importorskip("numba")

    def moves(x):
        return x.to("numba") * 2.0

    with pytest.raises(TraceError, match="reads a tensor's value") as info:
        xg.function(moves, warmup=0)(xg.ones(2))
    assert str(info.value).startswith("moving a tensor to another backend (.to()")
    assert "test_function_replay.py" in info.value.where


@pytest.mark.parametrize("options, error, match", [
    ({"fuse": "yes"}, TypeError, "fuse must be None, True, False or a fuser"),
    ({"fuse": 1}, TypeError, "fuse must be"),
    ({"cuda_graph": "no"}, TypeError, "cuda_graph must be None, True, False or a graph API"),
    ({"retrace_warning": "5"}, ValueError, "retrace_warning must be an integer >= 0"),
    ({"retrace_warning": -1}, ValueError, "retrace_warning must be an integer >= 0"),
    ({"max_traces": True}, ValueError, "max_traces must be an integer >= 1"),
    ({"warmup": True}, ValueError, "warmup must be an integer >= 0"),
])
def test_bad_options_are_refused_when_the_function_is_made(options, error, match):
    with pytest.raises(error, match=match):
        xg.function(lambda x: x * 2.0, **options)


def test_retrace_warning_none_or_zero_never_warns():
    import warnings

    for value in (None, 0):
        f = xg.function(lambda x: x * 2.0, warmup=0, retrace_warning=value)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for n in range(1, 9):
                f(xg.ones(n))
        assert f.trace_count == 8


def test_a_numpy_scalar_argument_counts_by_value_and_type_as_a_python_number():
    """Refused until 2026-12-07 (tests/test_function_numpy_inputs.py)."""
    f = xg.function(lambda x, s: x * s)
    for s in (np.float32(0.5), np.float32(0.5), np.float32(0.5), np.float64(0.5),
              np.float32(-0.0), np.float32("nan"), np.float32("nan"), np.int64(3)):
        expected = xg.ones(2) * s
        np.testing.assert_array_equal(f(xg.ones(2), s).numpy(), expected.numpy())
    assert f.trace_count == 2       # np.float32(0.5) and NaN, each called twice or more
