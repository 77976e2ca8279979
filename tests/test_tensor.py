"""Tensor and Variable: properties, operators, dtypes, creation functions, random numbers."""
from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest

import xpgrad as xg


# -- properties -------------------------------------------------------------------------------

@pytest.mark.usefixtures("numpy_default")
def test_properties():
    t = xg.asarray([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6
    assert t.dtype == xg.float32 and t.dtype == "float32" and t.dtype == np.float32
    assert t.backend.name == "numpy" and t.backend is xg.get_backend("numpy")
    assert t.device == "cpu"
    assert isinstance(t.numpy(), np.ndarray) and t.numpy().tolist() == t.tolist()
    assert xg.asarray([[7.5]]).item() == 7.5 and isinstance(xg.asarray(3).item(), int)
    assert len(t) == 2 and [r.tolist() for r in t] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert float(xg.asarray(2.5)) == 2.5 and int(xg.asarray(3)) == 3
    assert operator.index(xg.asarray(2)) == 2
    assert np.asarray(t).shape == (2, 3)
    assert "dtype=float32" in repr(t) and "backend=numpy" in repr(t)


def test_item_and_bool_need_one_element():
    with pytest.raises(ValueError, match=r"one element, got shape \(2,\)"):
        xg.asarray([1.0, 2.0]).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(xg.asarray([1.0, 2.0]))
    assert bool(xg.asarray([1.0]) > 0)


def test_setitem_gives_the_tensor_a_new_value_and_changes_no_other():
    t = xg.asarray([1.0, 2.0])
    other = xg.stop_gradient(t)            # shares t's buffer
    t[0] = 5.0                             # (tests/test_setitem.py has the rest)
    assert t.tolist() == [5.0, 2.0] and other.tolist() == [1.0, 2.0]


@pytest.mark.usefixtures("numpy_default")
def test_to_same_backend_is_identity():
    t = xg.ones(2)
    assert t.to("numpy") is t


# -- operators --------------------------------------------------------------------------------

def test_arithmetic_operators_match_numpy():
    a = np.array([[1.5, -2.0], [3.0, 0.5]])
    b = np.array([0.5, 4.0])
    x, y = xg.asarray(a, dtype=xg.float64), xg.asarray(b, dtype=xg.float64)
    cases = {
        "add": (x + y, a + b), "radd": (1.0 + x, 1.0 + a), "sub": (x - y, a - b),
        "rsub": (2.0 - x, 2.0 - a), "mul": (x * y, a * b), "rmul": (3 * x, 3 * a),
        "div": (x / y, a / b), "rdiv": (1.0 / y, 1.0 / b), "pow": (y ** 2, b ** 2),
        "rpow": (2.0 ** x, 2.0 ** a), "matmul": (x @ y, a @ b), "rmatmul": (b @ x, b @ a),
        "neg": (-x, -a), "pos": (+x, a), "abs": (abs(x), np.abs(a)),
        "T": (x.T, a.T), "mT": (xg.reshape(x, (1, 2, 2)).mT, a.reshape(1, 2, 2).swapaxes(-1, -2)),
    }
    for name, (got, want) in cases.items():
        assert isinstance(got, xg.Tensor), name
        np.testing.assert_allclose(got.numpy(), want, err_msg=name)


def test_comparison_and_logical_operators():
    x = xg.asarray([1.0, 2.0, 3.0])
    assert (x < 2).tolist() == [True, False, False]
    assert (x <= 2).tolist() == [True, True, False]
    assert (x > 2).tolist() == [False, False, True]
    assert (x >= 2).tolist() == [False, True, True]
    assert (x == 2).tolist() == [False, True, False]
    assert (x != 2).tolist() == [True, False, True]
    assert (x > 2).dtype == xg.bool
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert ((x < 2) | (x > 2)).tolist() == [True, False, True]
    assert (~(x > 1)).tolist() == [True, False, False]


def test_indexing():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = xg.asarray(a)
    for key in [1, -1, (0, 2), slice(None, None, -1), (Ellipsis, 1), (None, 0),
                (slice(None), [2, 0, 2]), ([1, 1],), (0, slice(1, None), None, 3)]:
        np.testing.assert_array_equal(x[key].numpy(), a[key], err_msg=repr(key))
    np.testing.assert_array_equal(x[x > 10.0].numpy(), a[a > 10.0])
    np.testing.assert_array_equal(x[xg.asarray([1, 0])].numpy(), a[[1, 0]])


def test_conveniences():
    x = xg.arange(6.0)
    assert x.reshape(2, 3).shape == x.reshape((2, 3)).shape == (2, 3)
    assert x.sum().item() == 15.0 and x.reshape(2, 3).mean(axis=1).tolist() == [1.0, 4.0]
    assert x.astype(xg.int32).dtype == xg.int32


# -- __array_namespace__ ----------------------------------------------------------------------

def test_array_namespace_is_xpgrad():
    assert xg.ones(2).__array_namespace__() is xg
    assert xg.Variable([1.0]).__array_namespace__() is xg


# -- dtypes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, dtype", [
    (1.5, xg.float32), ([1.0, 2.0], xg.float32), (1, xg.int64), ([True], xg.bool),
    (np.array([1.0]), xg.float64), (np.array([1], dtype=np.int32), xg.int32),
])
def test_default_dtypes(value, dtype):
    assert xg.asarray(value).dtype == dtype


def test_a_list_of_typed_values_keeps_their_dtype_as_numpy_and_pytorch():
    torch = pytest.importorskip("torch")
    f64 = np.array([1.0, 2.0])
    for value in ([f64, f64], [np.float64(1.0)], [[np.float64(1.0)], [np.float64(2.0)]],
                  [np.float32(1.0)], [1.0, 2.0], [[1.0]]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)      # torch: a list of ndarrays is slow
            expected = str(torch.tensor(value).dtype).removeprefix("torch.")
        assert xg.asarray(value).dtype.name == expected, value
    tensor = xg.asarray(f64)
    assert xg.asarray([tensor, tensor]).dtype == xg.float64


@pytest.mark.parametrize("dtype", [xg.float32, xg.float64, xg.int32, xg.int64, xg.bool])
def test_every_dtype_round_trips(dtype):
    t = xg.asarray([1, 0], dtype=dtype)
    assert t.dtype is dtype and t.numpy().dtype == np.dtype(dtype.name)
    assert xg.zeros(2, dtype=dtype).dtype is dtype
    assert xg.asarray([1, 0], dtype=dtype.name).dtype is dtype


def test_float32_stays_float32_through_ops_and_gradients():
    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(xg.exp(x * 2.0) / 3.0 + x ** 2)
    assert y.dtype == xg.float32 and tape.gradient(y, x).dtype == xg.float32


def test_unsupported_dtype_is_rejected():
    with pytest.raises(TypeError, match="float16"):
        xg.asarray(np.ones(2, np.float16))
    with pytest.raises(TypeError, match="unsupported dtype 'float16'"):
        xg.zeros(2, dtype="float16")


# -- Variable ---------------------------------------------------------------------------------

def test_variable_assign():
    v = xg.Variable([1.0, 2.0], name="v")
    assert isinstance(v, xg.Tensor) and v.name == "v" and v.trainable
    assert v.assign([5.0, 6.0]) is v and v.tolist() == [5.0, 6.0]
    v.assign_add([1.0, 1.0])
    assert v.tolist() == [6.0, 7.0]
    v.assign_sub(xg.asarray([0.5, 0.5]))
    assert v.tolist() == [5.5, 6.5]
    v.assign(xg.asarray([1, 2]))                  # cast to the variable's dtype
    assert v.dtype == xg.float32 and v.tolist() == [1.0, 2.0]
    snapshot = v.read_value()
    v.assign([9.0, 9.0])
    assert snapshot.tolist() == [1.0, 2.0]
    assert "'v'" in repr(v)


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_variable_shape_mismatch(method):
    v = xg.Variable(xg.zeros((2, 2)), name="kernel")
    with pytest.raises(ValueError, match=rf"{method}: value of shape \(3,\) does not match "
                                         r"variable 'kernel' of shape \(2, 2\)"):
        getattr(v, method)([1.0, 2.0, 3.0])


def test_integer_variable_is_not_trainable():
    v = xg.Variable([1, 2])
    assert not v.trainable
    with xg.GradientTape() as tape:
        y = v * 2
    assert tape.watched_variables() == ()


# -- creation ---------------------------------------------------------------------------------

def test_creation_functions():
    assert xg.zeros((2, 3)).tolist() == [[0.0] * 3] * 2 and xg.zeros(2).dtype == xg.float32
    assert xg.ones(3, dtype=xg.int32).tolist() == [1, 1, 1]
    assert xg.full((2,), 7.0).tolist() == [7.0, 7.0] and xg.full(2, 7).dtype == xg.int64
    assert xg.full(1, True).dtype == xg.bool
    assert xg.empty((4, 1)).shape == (4, 1)
    assert xg.arange(4).tolist() == [0, 1, 2, 3] and xg.arange(4).dtype == xg.int64
    assert xg.arange(1.0, 2.0, 0.25).tolist() == [1.0, 1.25, 1.5, 1.75]
    assert xg.arange(0.0, 1.0, 0.5).dtype == xg.float32
    assert xg.linspace(0.0, 1.0, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert xg.linspace(0, 1, 4, endpoint=False, dtype=xg.float64).tolist() == [
        0.0, 0.25, 0.5, 0.75]
    np.testing.assert_array_equal(xg.eye(3).numpy(), np.eye(3))
    np.testing.assert_array_equal(xg.eye(2, 3, k=1).numpy(), np.eye(2, 3, k=1))
    base = xg.asarray([[1, 2]], dtype=xg.int32)
    for fn, fill in [(xg.zeros_like, 0), (xg.ones_like, 1)]:
        t = fn(base)
        assert t.shape == (1, 2) and t.dtype == xg.int32 and t.tolist() == [[fill, fill]]
    assert xg.full_like(base, 5).tolist() == [[5, 5]]
    assert xg.empty_like(base, dtype=xg.float64).dtype == xg.float64
    assert xg.zeros_like(base, dtype=xg.float32).dtype == xg.float32


def test_asarray_copy_and_passthrough():
    a = np.array([1.0, 2.0])
    t = xg.asarray(a)
    assert xg.asarray(t) is t
    c = xg.asarray(t, copy=True)
    assert c is not t and c.tolist() == t.tolist()
    assert xg.asarray(t, dtype=xg.float32).dtype == xg.float32


def test_bad_shapes_for_creation():
    with pytest.raises(ValueError, match="negative"):
        xg.zeros((2, -1))
    with pytest.raises(TypeError, match="shape must be an int or a sequence"):
        xg.ones("abc")


# -- random -----------------------------------------------------------------------------------

def test_random_is_reproducible():
    a, b = xg.random.default_rng(42), xg.random.default_rng(42, backend="numpy")
    for draw in (lambda r: r.normal(size=(2, 3)), lambda r: r.uniform(-1.0, 1.0, size=5),
                 lambda r: r.integers(0, 10, size=(4,)), lambda r: r.permutation(6)):
        x, y = draw(a), draw(b)
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    other = xg.random.default_rng(43).normal(size=(2, 3))
    assert not np.array_equal(other.numpy(), xg.random.default_rng(42).normal(size=(2, 3))
                              .numpy())


def test_random_values_dtypes_and_ranges():
    rng = xg.random.default_rng(0)
    n = rng.normal(2.0, 0.5, size=20_000)
    assert n.dtype == xg.float32 and abs(n.numpy().mean() - 2.0) < 0.02
    assert abs(n.numpy().std() - 0.5) < 0.02
    u = rng.uniform(-1.0, 3.0, size=1000, dtype=xg.float64)
    assert u.dtype == xg.float64 and -1.0 <= u.numpy().min() and u.numpy().max() < 3.0
    i = rng.integers(5, size=1000)
    assert i.dtype == xg.int64 and set(i.tolist()) == {0, 1, 2, 3, 4}
    assert rng.integers(2, 4, size=3, dtype=xg.int32).dtype == xg.int32
    assert sorted(rng.permutation(5).tolist()) == [0, 1, 2, 3, 4]
    assert rng.normal().shape == () and rng.random(size=2).shape == (2,)
    with pytest.raises(TypeError, match="floating"):
        rng.normal(size=2, dtype=xg.int32)


@pytest.mark.parametrize("loc, scale", [(np.array([0.0, 100.0, 200.0]), 1.0),
                                        (xg.asarray([0.0, 100.0, 200.0]), 1.0),
                                        (0.0, np.array([1.0, 2.0, 3.0]))])
def test_array_parameters_draw_once_per_element(loc, scale):
    """``normal(loc_array, scale)``, ``uniform(low_array, high)``: one draw per element of the
    parameters' broadcast shape, as NumPy's Generator (one draw was broadcast over them, the
    same noise in every element)."""
    host = [np.asarray(p.numpy() if isinstance(p, xg.Tensor) else p) for p in (loc, scale)]
    z = (xg.random.default_rng(0).normal(loc, scale).numpy() - host[0]) / host[1]
    u = (xg.random.default_rng(0).uniform(loc, loc + scale).numpy() - host[0]) / host[1]
    for standard in (z, u):
        assert standard.shape == (3,) and len(set(np.round(standard, 4).tolist())) == 3
    rows = xg.random.default_rng(0).normal(np.zeros((2, 3)), 1.0).numpy()
    assert rows.shape == (2, 3) and not np.array_equal(rows[0], rows[1])
    with pytest.raises(ValueError, match=r"size \(3,\) does not fit the parameters' broadcast "
                                         r"shape \(2, 3\)"):
        xg.random.default_rng(0).normal(np.zeros((2, 3)), 1.0, size=(3,))


def test_integers_with_array_bounds_follow_numpy():
    got = xg.random.default_rng(0).integers(0, np.array([2, 10, 100])).numpy()
    np.testing.assert_array_equal(got, np.random.default_rng(0).integers(0, [2, 10, 100]))
    rng = xg.random.default_rng(0)
    with pytest.raises(ValueError, match="high=.* is out of bounds for uint8"):
        rng.integers(0, np.array([1000] * 6), size=6, dtype=xg.uint8)     # wrapped silently
    with pytest.raises(ValueError, match="high=.* is out of bounds for int8"):
        rng.integers(0, xg.asarray([1000] * 6), size=6, dtype=xg.int8)
    with pytest.raises(ValueError, match="scale must be >= 0"):
        rng.normal(0.0, np.array([-1.0, 1.0]))
    with pytest.raises(ValueError, match="high=1180591620717411303424 is out of bounds"):
        rng.integers(0, 2**70)                      # a Python int past int64


def test_numpy_array_on_the_left_stays_on_the_tape():
    a = np.array([2.0, 3.0])
    x = xg.asarray([1.0, 4.0], dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = a * x + a @ x - a / (x + a)
    assert isinstance(y, xg.Tensor)
    # a @ x is a scalar broadcast over both entries of y: it contributes 2 * a
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 3 * a + a / (x.numpy() + a) ** 2)


def test_asarray_of_tensors_on_a_tape_stacks_them_differentiably():
    """``xg.asarray([a[0], ...])`` under a recording tape stacks the tensors on it (as
    ``jnp.asarray`` does) instead of reading their values (which raised, naming np.asarray),
    in the dtype it has without a tape: NumPy's inference over the values."""
    a = xg.Variable(np.array([1.0, 2.0]))                             # float64
    with xg.GradientTape() as tape:
        b = xg.asarray([[a[0], 0.1], [a[1] * a[0], 3]])
        loss = xg.sum(b * b)
    (g,) = tape.gradient(loss, [a])
    assert b.dtype == xg.float64 and b.numpy().tolist() == [[1.0, 0.1], [2.0, 3.0]]
    # d/da0 = 2 a0 + 2 a1^2 a0, d/da1 = 2 a1 a0^2
    assert g.numpy().tolist() == [10.0, 4.0]
    untaped = xg.asarray([[a[0], 0.1], [a[1] * a[0], 3]])
    assert untaped.dtype == b.dtype and untaped.numpy().tolist() == b.numpy().tolist()
    w = xg.Variable([1.0, 2.0])                                       # float32
    with xg.GradientTape() as tape:
        c = xg.asarray([w[1], w[0]], dtype="float64")
        loss = xg.sum(c * xg.asarray([1.0, 10.0], dtype="float64"))
    assert c.dtype == xg.float64
    assert tape.gradient(loss, [w])[0].numpy().tolist() == [10.0, 1.0]
