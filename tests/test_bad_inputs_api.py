"""Bad inputs to the public API that once slipped through: each test failed before its fix (a deep
AttributeError, a silent wrong number, or an unchecked argument) and checks the clear error (or
the correct result, against NumPy or PyTorch) now. Training's: test_bad_inputs_training.py;
layers': test_bad_inputs_layers.py."""
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
