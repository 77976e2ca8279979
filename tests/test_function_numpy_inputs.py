"""``xg.function`` takes NumPy arrays as tensor inputs, as ``tf.function`` and ``jax.jit`` do: a
batch from a NumPy data pipeline (``for xb, yb in batches: step(xb, yb)``), alone or in tuples,
lists and dicts, is converted as ``xg.asarray`` would (zero-copy on the numpy and numba
backends) and keyed by shape and dtype. Before, the first call raised "xg.function takes
tensors, not numpy.ndarray arrays". A 0-d array is a tensor input too; a NumPy scalar
(``np.float32(0.5)``) counts by value, as a Python number does; a list of Python lists is a
structure of Python numbers, as before; an array xpgrad cannot hold (object, float16) is
refused naming the function and the argument."""
from __future__ import annotations

import collections

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit.fast_replay import MISS
from side_effects_on_purpose import ON_PURPOSE

pytestmark = pytest.mark.usefixtures("numpy_default")

Batch = collections.namedtuple("Batch", "x y")


def _batches(steps=5, rows=8, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((rows, features)).astype(np.float32),
             rng.integers(0, classes, size=rows)) for _ in range(steps)]


def _trainer(pack, compiled, seed=3):
    """A small MLP's SGD step, called as ``step(*pack(xb, yb))``; returns (step, model)."""
    model = xg.nn.MLP([6, 5, 3], rng=xg.random.default_rng(seed))
    opt = xg.optim.SGD(0.1, momentum=0.9)
    variables = model.trainable_variables

    def unpacked(*args, **kwargs):
        if kwargs:
            return kwargs["x"], kwargs["y"]
        first = args[0]
        if isinstance(first, dict):
            return first["x"], first["y"]
        if isinstance(first, (tuple, list)):
            return first[0], first[1]
        return args

    def step(*args, **kwargs):
        xb, yb = unpacked(*args, **kwargs)
        assert isinstance(xb, xg.Tensor) and isinstance(yb, xg.Tensor)
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(xb), yb)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return (xg.function(step) if compiled else step), model


_PACKINGS = {
    "positional": lambda x, y: ((x, y), {}),
    "tuple": lambda x, y: (((x, y),), {}),
    "list": lambda x, y: (([x, y],), {}),
    "dict": lambda x, y: (({"x": x, "y": y},), {}),
    "namedtuple": lambda x, y: ((Batch(x, y),), {}),
    "keywords": lambda x, y: ((), {"x": x, "y": y}),
}


def _train(packing, compiled, wrap):
    step, model = _trainer(packing, compiled)
    losses = []
    for xb, yb in _batches():
        args, kwargs = _PACKINGS[packing](wrap(xb), wrap(yb))
        losses.append(step(*args, **kwargs).item())
    return losses, [v.numpy() for v in model.trainable_variables], step


@pytest.mark.parametrize("packing", sorted(_PACKINGS))
def test_numpy_batches_train_as_eager_and_as_tensors_do(packing):
    eager, eager_weights, _ = _train(packing, False, xg.asarray)
    compiled, weights, step = _train(packing, True, lambda a: a)
    tensors, tensor_weights, _ = _train(packing, True, xg.asarray)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    for w, we, wt in zip(weights, eager_weights, tensor_weights):
        np.testing.assert_allclose(w, we, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(w, wt)       # the same numbers as xg.asarray(a)
    assert compiled == tensors
    assert step.trace_count == 1 and len(step.programs()) == 1


@ON_PURPOSE
def test_plain_array_arguments_replay_the_short_way_without_copies():
    seen = []

    @xg.function
    def double(x):
        seen.append(x._data)        # eager and traced calls only
        return x * 2.0

    a = np.arange(6.0).reshape(2, 3)
    for _ in range(4):
        np.testing.assert_array_equal(double(a).numpy(), a * 2.0)
    assert seen[0] is a                               # zero-copy, as xg.asarray(a)
    assert double._fast is not None and double.trace_count == 1
    assert double._fast((a,)) is not MISS
    # the short way takes an array of the traced shape and dtype, and no other
    b = np.ones((2, 3))
    np.testing.assert_array_equal(double(b).numpy(), 2.0 * b)
    np.testing.assert_array_equal(double(np.ones((2, 3), np.float32)).numpy(),
                                  np.full((2, 3), 2.0, np.float32))
    assert double(np.ones((2, 3), np.float32)).dtype == xg.float32


def test_a_new_shape_or_dtype_retraces_as_for_a_tensor():
    f = xg.function(lambda x: x + 1.0, warmup=0)
    f(np.zeros((2, 3), np.float32))
    f(np.zeros((2, 3), np.float32))
    f(xg.zeros((2, 3)))                   # a tensor of that shape and dtype: the same trace
    assert f.trace_count == 1
    f(np.zeros((4, 3), np.float32))
    assert f.trace_count == 2
    out = f(np.zeros((2, 3), np.float64))
    assert f.trace_count == 3 and out.dtype == xg.float64
    assert f(np.arange(3)).tolist() == [1.0, 2.0, 3.0] and f.trace_count == 4


def test_arrays_beside_tensors_and_variables_in_nested_batches():
    w = xg.Variable(np.ones(3))

    @xg.function
    def f(batch, scale):
        return xg.sum(batch["x"][0] * w) + xg.sum(batch["x"][1]) * scale

    for k in range(4):
        x0, x1 = np.full(3, float(k)), xg.asarray(np.arange(3.0))
        assert f({"x": (x0, x1)}, 2.0).item() == 3.0 * k + 6.0
    assert f.trace_count == 1


def test_a_zero_d_array_is_a_tensor_input_and_a_numpy_scalar_counts_by_value():
    f = xg.function(lambda x, s: x * s)
    x = np.array([1.0, -2.0])
    for s in (0.5, 2.0, -1.0, 3.0):
        assert f(x, np.array(s)).tolist() == [s, -2.0 * s]
    assert f.trace_count == 1             # one trace for all the 0-d arrays' values
    g = xg.function(lambda x, s: x * s)
    python = xg.function(lambda x, s: x * s)
    for s in (0.5, 0.5, 0.5, 2.0, 2.0):
        assert g(x, np.float64(s)).tolist() == [s, -2.0 * s]
        python(x, s)
    assert g.trace_count == python.trace_count == 2       # per value, as a Python float
    # its type counts too: np.float32(0.5) is not np.float64(0.5)
    for _ in range(2):
        assert g(x, np.float32(0.5)).tolist() == [0.5, -1.0]
    assert g.trace_count == 3


@ON_PURPOSE
def test_a_list_of_python_lists_is_a_structure_of_python_numbers():
    """As in TensorFlow and JAX a list is a structure: its numbers count by value (and a
    replay computes with them as traced), not one tensor input."""
    received = []

    @xg.function
    def f(x, rows):
        received.append(rows)
        return x * rows[1][0]

    x = np.ones(2)
    for _ in range(3):
        assert f(x, [[1.0, 2.0], [3.0, 4.0]]).tolist() == [3.0, 3.0]
    assert f(x, [[1.0, 2.0], [5.0, 4.0]]).tolist() == [5.0, 5.0]
    assert f.trace_count == 1 and received[0] == [[1.0, 2.0], [3.0, 4.0]]


def test_arrays_xpgrad_cannot_hold_are_refused_naming_the_argument():
    def loss_of(x, batch):
        return xg.sum(x)

    f = xg.function(loss_of)
    with pytest.raises(TypeError, match=r"xg.function 'loss_of', argument 'batch'\[1\] has "
                                        r"dtype object"):
        f(np.ones(2), (np.ones(2), np.array([{}, "a"], dtype=object)))
    with pytest.raises(TypeError, match=r"'loss_of', argument 'x' has dtype float16"):
        f(np.ones(2, np.float16), ())
    with pytest.raises(TypeError, match=r"'loss_of', argument 'batch'\['y'\] has dtype float16"):
        f(np.ones(2), {"y": np.ones(2, np.float16)})
    assert f.trace_count == 0


def test_other_array_objects_are_still_refused_naming_the_argument():
    class Foreign:
        def __array__(self, dtype=None, copy=None):
            return np.ones(2)

    f = xg.function(lambda x: x)
    with pytest.raises(TypeError, match=r"argument 'x': xg.function takes tensors and NumPy "
                                        r"arrays, not .*Foreign.*xg.asarray"):
        f(Foreign())


def test_a_result_viewing_an_array_argument_is_a_view_of_its_tensor_as_eagerly():
    """A write into ``xg.asarray(a)[0]`` lands in that tensor, which copies ``a`` first: ``a``
    is left as it was, eagerly and on replay."""
    def first_row(x):
        return x[0]

    compiled = xg.function(first_row)
    for k in range(3):
        a = np.arange(4.0).reshape(2, 2) + k
        row, eager_row = compiled(a), first_row(xg.asarray(a))
        assert type(row) is type(eager_row) and row.tolist() == [k, k + 1.0]
        row[1] = eager_row[1] = -5.0
        assert row.tolist() == eager_row.tolist() == [k, -5.0]
        assert a.tolist() == [[k, k + 1.0], [k + 2.0, k + 3.0]]
    assert compiled.trace_count == 1


def test_input_signature_and_program_for_take_arrays():
    f = xg.function(lambda x: x * 2.0,
                    input_signature=[xg.TensorSpec((None, 2), xg.float64)])
    for n in (1, 3):
        assert f(np.ones((n, 2))).tolist() == [[2.0, 2.0]] * n
    with pytest.raises(ValueError, match=r"argument 'x' has shape \(3, 4\)"):
        f(np.ones((3, 4)))
    g = xg.function(lambda x: x - 1.0)
    g(np.ones(2)), g(np.ones(2))
    assert g.program_for(np.ones(2)) is g.programs()[0]


def test_arrays_on_the_numba_backend_train_as_eager():
    with xg.use_backend("numba"):
        eager, eager_weights, _ = _train("positional", False, xg.asarray)
        compiled, weights, step = _train("positional", True, lambda a: a)
        assert step.programs()[0].be.name == "numba"
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    for w, we in zip(weights, eager_weights):
        np.testing.assert_allclose(w, we, rtol=1e-5, atol=1e-6)
    assert step.trace_count == 1 and step._fast(_batches(1)[0]) is not MISS


def test_arrays_take_the_backend_of_the_tensor_arguments():
    f = xg.function(lambda x, y: x + y)
    y = xg.asarray(np.ones(2), backend="numba")
    for _ in range(3):
        out = f(np.arange(2.0), y)
        assert out.backend.name == "numba" and out.tolist() == [1.0, 2.0]


def test_a_guard_failing_on_the_short_way_runs_the_call_eagerly_on_tensors():
    """A value read at the trace (all non-negative: no shift) guards the replay; an array
    outside its range runs the function eagerly, on the array as a Tensor."""
    def shifted(x):
        lo, _ = x.backend.index_range(x._data)
        return x - lo if lo < 0 else x * 2

    compiled = xg.function(shifted)
    for row in ([1, 2], [1, 2], [2, 1], [-1, 2], [2, 1]):
        a = np.array(row)
        assert compiled(a).tolist() == shifted(xg.asarray(a)).tolist()
        if row == [2, 1]:
            assert compiled._fast is not None         # the next call takes the short way
    assert compiled.trace_count == 1


def test_on_a_backend_of_its_own_arrays_the_backends_asarray_converts_each_call(clean_backends):
    """A stand-in for cupy (raw arrays that are not NumPy's, a copy to the device): each call
    converts its arrays with the backend's asarray (the long way; no short way for arrays)."""
    from xpgrad.backends.numpy import NumpyBackend

    copies = []

    class Copying(NumpyBackend):
        name = "copying"
        array_class = None

        def asarray(self, obj, dtype=None):
            copies.append(obj)
            return np.array(obj, dtype=dtype, copy=True)

    xg.register_backend("copying", Copying)
    with xg.use_backend("copying"):
        double = xg.function(lambda x: x * 2.0)
        for k in range(4):
            a = np.full(3, float(k))
            out = double(a)
            assert out.backend.name == "copying" and out.tolist() == [2.0 * k] * 3
            assert copies[-1] is a
        assert double.trace_count == 1 and double._fast((a,)) is MISS


def test_a_model_argument_beside_arrays_takes_the_short_way():
    model = xg.nn.Linear(3, 2, rng=0)

    @xg.function
    def forward(layer, x):
        return layer(x)

    for k in range(4):
        a = np.full((2, 3), float(k), np.float32)
        np.testing.assert_allclose(forward(model, a).numpy(), model(xg.asarray(a)).numpy())
    assert forward.trace_count == 1 and forward._fast((model, a)) is not MISS
    assert forward._fast((model, np.ones((2, 3)))) is MISS       # float64: another trace


def test_strided_fortran_broadcast_and_read_only_arrays_give_the_eager_gradients():
    model = xg.nn.MLP([6, 5, 3], rng=xg.random.default_rng(0))
    variables = model.trainable_variables

    def loss_and_gradients(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        return loss, tape.gradient(loss, variables)

    compiled = xg.function(loss_and_gradients)
    rng = np.random.default_rng(1)
    base = rng.standard_normal((8, 6)).astype(np.float32)
    labels = rng.integers(0, 3, 8)
    read_only = base.copy()
    read_only.flags.writeable = False
    for x in (base, base.copy(), np.asfortranarray(base), np.broadcast_to(base[:1], (8, 6)),
              base[::-1], read_only, base[:, ::-1].copy()):
        loss, grads = compiled(x, labels)
        eager_loss, eager_grads = loss_and_gradients(xg.asarray(x), xg.asarray(labels))
        assert loss.item() == pytest.approx(eager_loss.item(), rel=1e-6)
        for g, ge in zip(grads, eager_grads):
            np.testing.assert_allclose(g.numpy(), ge.numpy(), rtol=1e-5, atol=1e-7)
    assert compiled.trace_count == 1
