"""``xg.print`` (tf.print) and ``xg.debug.print`` (jax.debug.print): eagerly they print the
tensors' NumPy values; inside an ``xg.function`` step the trace records a host step
(xpgrad/jit/replay_print.py), so every replay prints that replay's values, in program order with
the optimizer's update, and the step's results do not change (issue 18)."""
import io
import warnings

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import SideEffectWarning
from xpgrad.jit.replay_print import HostPrint

from gpu_marks import cupy_param
from test_function_cuda import FakeGraphs


def _printed(capsys, run):
    capsys.readouterr()
    result = run()
    return capsys.readouterr().out, result


def _training(backend=None, printing=True):
    """A fresh model and SGD step that prints before and after the update (its own state, so an
    eager and a compiled run of it are independent)."""
    w = xg.Variable(np.array([1.0, -2.0, 0.5]), name="w", backend=backend)
    opt = xg.optim.SGD(0.1)

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.mean((xg.sum(w * x, axis=1) - y) ** 2)
        if printing:
            xg.debug.print("loss {loss:.6f} w {}", w, loss=loss)
        grads = tape.gradient(loss, [w])
        opt.apply_gradients(zip(grads, [w]))
        if printing:
            xg.print("after", w, sep=": ")
        return loss
    return step, w


def _batches(backend=None, n=5):
    rng = np.random.default_rng(0)
    return [(xg.asarray(rng.standard_normal((4, 3)), backend=backend),
             xg.asarray(rng.standard_normal(4), backend=backend)) for _ in range(n)]


def _has_print_step(compiled):
    source = compiled.programs()[0].source
    return any(isinstance(value, HostPrint) and f"{name}(" in source
               for name, value in compiled.programs()[0]._namespace.items())


def test_eager_prints_the_numpy_values_as_print_does(capsys):
    x = xg.asarray([[1.5, -2.0], [3.0, 4.25]])
    got, _ = _printed(capsys, lambda: xg.print("x", x, 3, sep="|", end="!\n"))
    want, _ = _printed(capsys, lambda: print("x", x.numpy(), 3, sep="|", end="!\n"))
    assert got == want
    got, _ = _printed(capsys, lambda: xg.debug.print("{} and {y:.2f}", x, y=x[1, 1]))
    assert got == f"{x.numpy()} and {x.numpy()[1, 1]:.2f}\n"
    stream = io.StringIO()
    xg.print(x, file=stream)
    assert stream.getvalue() == f"{x.numpy()}\n" and capsys.readouterr().out == ""


@pytest.mark.parametrize("backend", ["numpy", "numba", cupy_param()])
def test_every_replay_prints_its_own_values_in_order_with_the_update(capsys, backend):
    eager, w_eager = _training(backend)
    compiled_fn, w_compiled = _training(backend)
    compiled = xg.function(compiled_fn)
    plain_fn, w_plain = _training(backend, printing=False)
    plain = xg.function(plain_fn)
    for x, y in _batches(backend):
        want, want_loss = _printed(capsys, lambda: eager(x, y))
        got, loss = _printed(capsys, lambda: compiled(x, y))
        assert got == want and want.count("\n") == 2
        _, plain_loss = _printed(capsys, lambda: plain(x, y))
        assert loss.item() == plain_loss.item() == want_loss.item()   # prints change nothing
    assert compiled.trace_count == 1 and _has_print_step(compiled)  # calls 3-5 replayed
    np.testing.assert_array_equal(w_compiled.numpy(), w_plain.numpy())
    np.testing.assert_array_equal(w_compiled.numpy(), w_eager.numpy())


def test_a_print_of_python_values_and_an_untraced_tensor_prints_them_on_every_replay(capsys):
    scale = xg.asarray([2.0, 3.0])          # a constant of the program

    @xg.function
    def step(x):
        xg.print("scale", scale, "step", 7)
        return x * scale
    outs = [_printed(capsys, lambda: step(xg.ones(2)))[0] for _ in range(4)]
    assert outs == [f"scale {scale.numpy()} step 7\n"] * 4


def test_the_print_warns_no_side_effect_and_a_plain_print_points_to_it():
    @xg.function
    def step(x):
        xg.print(x)
        return x + 1.0
    with warnings.catch_warnings(), io.StringIO() as out:
        warnings.simplefilter("error", SideEffectWarning)
        for _ in range(3):
            xg.print(step(xg.ones(1)), file=out)

    def plain(x):
        print("step")
        return x + 1.0
    with pytest.warns(SideEffectWarning, match=r"xg\.print\(\.\.\.\) \(tf\.print\)"):
        xg.function(plain, warmup=0)(xg.ones(1))


def test_a_failed_trace_under_eager_prints_on_the_trace_and_the_eager_run(capsys):
    def step(x):
        xg.debug.print("x {}", x)
        if float(xg.sum(x)) > 0:            # a value read: the trace fails here
            return x * 2.0
        return x
    compiled = xg.function(step, on_trace_error="eager")
    out, _ = _printed(capsys, lambda: compiled(xg.ones(1)))      # the warm-up call
    assert out == "x [1.]\n"
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        out, y = _printed(capsys, lambda: compiled(xg.ones(1) * 3.0))
    assert out == "x [3.]\n" * 2 and y.tolist() == [6.0]    # the trace's print, the eager's
    out, _ = _printed(capsys, lambda: compiled(xg.ones(1) * 4.0))
    assert out == "x [4.]\n"


def test_under_vmap_and_grad_a_print_shows_the_whole_batch_once(capsys):
    xs = xg.asarray(np.arange(6.0).reshape(2, 3))

    def per_example(x):
        xg.print("example", x)
        return xg.sum(x * x)
    out, _ = _printed(capsys, lambda: xg.vmap(per_example)(xs))
    assert out == f"example {xs.numpy()}\n"            # JAX prints each example's

    compiled = xg.function(lambda xs: xg.vmap(xg.grad(per_example))(xs))
    for k in range(4):
        batch = xs + float(k)
        out, grads = _printed(capsys, lambda: compiled(batch))
        assert out == f"example {batch.numpy()}\n"
        np.testing.assert_allclose(grads.numpy(), 2.0 * batch.numpy())
    assert compiled.trace_count == 1


@pytest.mark.usefixtures("numpy_default")
def test_under_cuda_graphs_a_print_is_a_host_segment_between_launches(capsys):
    graphs = FakeGraphs()

    @xg.function(cuda_graph=graphs)
    def step(x):
        h = xg.exp(x)
        xg.print("h", h)
        return h * 2.0
    for k in range(6):
        x = xg.asarray([0.0, float(k)])
        out, y = _printed(capsys, lambda: step(x))
        assert out == f"h {np.exp(x.numpy())}\n"
        np.testing.assert_allclose(y.numpy(), 2.0 * np.exp(x.numpy()))
    replay = step.programs()[0].graph
    assert [kind for kind, _, _ in replay.segments] == ["device", "host", "device"]
    assert graphs.captures == 2 and graphs.launches == 6   # two graphs, calls 4-6


@pytest.mark.parametrize("call, argument", [
    (lambda: xg.debug.print(3.0), "fmt"),
    (lambda: xg.print("a", sep=1), "sep"),
    (lambda: xg.print("a", end=b"\n"), "end"),
    (lambda: xg.print("a", file="out.txt"), "file"),
    (lambda: xg.debug.print("{}", 1, file=3), "file")])
def test_bad_arguments_name_the_function_and_the_argument(call, argument):
    with pytest.raises(TypeError, match=rf"xg\.(debug\.)?print: {argument} must"):
        call()
