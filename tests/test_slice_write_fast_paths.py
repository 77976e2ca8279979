"""``t[a:b] op= v`` and ``t[a:b] = v`` on a plain Tensor where no tape records take short paths
(the view ``t[a:b]`` made inline, its update computed into the buffer, the write-back of the
same view recognised by its key object, ``x[a:b] = v`` written straight into a buffer nothing
else sees): NumPy's values in the same buffer, and every rule of the general path kept: a held
buffer is copied, not written, views see the write, a recording tape still records, bad input
raises the general path's errors with nothing written."""
import weakref

import numpy as np
import pytest

import xpgrad as xg

UPDATES = [("+=", lambda x, y: x.__iadd__(y), np.add),
           ("-=", lambda x, y: x.__isub__(y), np.subtract),
           ("*=", lambda x, y: x.__imul__(y), np.multiply),
           ("/=", lambda x, y: x.__itruediv__(y), np.divide)]
KEYS = [slice(1, 3), 2, (slice(0, 2), slice(1, 3)), (slice(None), 1), slice(0, 5, 2)]


def _update(t, key, op, value):
    """``t[key] op= value`` as Python runs it: the view read, updated, written back."""
    view = t[key]
    view = op(view, value)
    t[key] = view


@pytest.mark.parametrize("key", KEYS, ids=repr)
@pytest.mark.parametrize("name, op, ufunc", UPDATES, ids=[u[0] for u in UPDATES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_update_of_a_block_leaves_numpys_values_in_the_same_buffer(key, name, op, ufunc,
                                                                      dtype):
    rng = np.random.default_rng(0)
    a = rng.uniform(1.0, 2.0, (5, 4)).astype(dtype)
    t = xg.asarray(a, copy=True)
    block = rng.uniform(1.0, 2.0, a[key].shape).astype(dtype)
    buffer = weakref.ref(t._data)
    for value in (xg.asarray(block), 0.5):
        _update(t, key, op, value)
        a[key] = ufunc(a[key], block if isinstance(value, xg.Tensor) else value).astype(dtype)
    np.testing.assert_array_equal(t.numpy(), a)
    assert t._data is buffer() and t.dtype == getattr(xg, np.dtype(dtype).name)


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_setting_a_block_writes_numpys_values_into_the_same_buffer(key):
    a = np.arange(20.0).reshape(5, 4)
    t = xg.asarray(a, copy=True)
    buffer = weakref.ref(t._data)
    block = -np.arange(a[key].size, dtype=np.float64).reshape(a[key].shape)
    t[key] = xg.asarray(block)
    a[key] = block
    t[key] = 7.0
    a[key] = 7.0
    t[key] = 3              # a Python int into a float tensor, as NumPy takes it
    a[key] = 3
    np.testing.assert_array_equal(t.numpy(), a)
    assert t._data is buffer()


def test_a_numpy_array_taken_from_the_buffer_keeps_its_values():
    t = xg.asarray(np.zeros((4, 3)), copy=True)
    taken = np.asarray(t)           # shares the buffer: writes must go into a copy
    t[1:3] += xg.ones((2, 3), dtype=xg.float64)
    t[0] = 5.0
    assert not taken.any()
    assert t.tolist() == [[5.0] * 3, [1.0] * 3, [1.0] * 3, [0.0] * 3]


def test_a_read_only_array_is_copied_not_written():
    frozen = np.zeros(4)
    frozen.flags.writeable = False
    t = xg.asarray(frozen, copy=False)
    t[1:3] += xg.ones(2, dtype=xg.float64)
    t[0] = 5.0
    assert t.tolist() == [5.0, 1.0, 1.0, 0.0] and not frozen.any()


def test_views_held_see_the_writes():
    t = xg.asarray(np.zeros((4, 3)), copy=True)
    row, column, block = t[1], t.T[2], t[1:3]
    t[1:3] += xg.ones((2, 3), dtype=xg.float64)
    t[3] = 2.0
    assert row.tolist() == [1.0] * 3 and column.tolist() == [0.0, 1.0, 1.0, 2.0]
    assert block.tolist() == [[1.0] * 3] * 2


def test_a_view_updated_by_hand_is_written_back_once():
    t = xg.asarray(np.zeros(4), copy=True)
    key = slice(1, 3)
    view = t[key]
    view += xg.ones(2, dtype=xg.float64)
    t[key] = view                   # the same key object: the view wrote through already
    t[key] = t[key]
    assert t.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_a_view_of_another_tensor_at_the_same_key_object_is_written():
    t, u = xg.zeros(4, dtype=xg.float64), xg.asarray([1.0, 2.0, 3.0, 4.0])
    key = slice(1, 3)
    t[key] = u[key]
    u[key] += u[key]
    assert t.tolist() == [0.0, 2.0, 3.0, 0.0] and u.tolist() == [1.0, 4.0, 6.0, 4.0]


def test_a_recording_tape_differentiates_the_update_as_before():
    torch = pytest.importorskip("torch")
    x0 = np.array([0.3, -1.2, 0.7, 2.0])

    def ours(x):
        y = xg.tanh(x) * 1.0
        y[1:3] += x[0:2] ** 2
        y[0] = x[3] * 3.0
        return xg.sum(y * y)

    x = xg.asarray(x0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = ours(x)
    grad = tape.gradient(loss, x).numpy()

    tx = torch.tensor(x0, requires_grad=True)
    ty = torch.tanh(tx) * 1.0
    ty[1:3] += tx[0:2] ** 2
    ty[0] = tx[3] * 3.0
    (ty * ty).sum().backward()
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-12)
    eps = 1e-6
    numeric = [(ours(xg.asarray(x0 + eps * e)).item() - ours(xg.asarray(x0 - eps * e)).item())
               / (2 * eps) for e in np.eye(4)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6)
    np.testing.assert_allclose(loss.item(), ours(xg.asarray(x0)).item())   # untaped: same


def test_a_tensor_from_a_finished_tape_is_updated_in_place():
    x = xg.asarray([1.0, 2.0, 3.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
        loss = xg.sum(y)
    tape.gradient(loss, x)
    buffer = weakref.ref(y._data)
    y[0:2] += xg.ones(2, dtype=xg.float64)
    y[2] = 0.0
    assert y.tolist() == [3.0, 5.0, 0.0] and y._data is buffer()


def test_a_gradient_source_of_a_live_tape_refuses_the_update():
    t = xg.asarray([1.0, 2.0, 3.0])
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(t)
        y = xg.sum(t * t)
    with pytest.raises(ValueError, match="gradient source"):
        t[0:2] += xg.ones(2, dtype=xg.float64)
    with pytest.raises(ValueError, match="gradient source"):
        t[0:2] = 0.0
    assert t.tolist() == [1.0, 2.0, 3.0] and tape.gradient(y, t).tolist() == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("write, error, message", [
    (lambda t: _update(t, slice(0, 2), lambda v, y: v.__iadd__(y), xg.ones((3, 4))),
     ValueError, "could not be broadcast"),
    (lambda t: t.__setitem__(slice(0, 2), xg.ones((3, 4))), ValueError,
     r"x\[slice\(0, 2, None\)\] = value of shape \(3, 4\) is invalid"),
    (lambda t: t.__setitem__(5, 1.0), IndexError, "index 5 is out of bounds for axis 0"),
    (lambda t: _update(t, slice(0, 2), lambda v, y: v.__iadd__(y), 1j), TypeError,
     "would change float32 to complex"),
    (lambda t: t.__setitem__(slice(0, 2), 1j), TypeError, "cannot write the complex value"),
])
def test_bad_input_raises_the_general_paths_error_and_writes_nothing(write, error, message):
    t = xg.zeros((3, 4))
    with pytest.raises(error, match=message):
        write(t)
    assert not t.numpy().any()


def test_integer_and_boolean_tensors_keep_their_rules():
    n = xg.asarray([1, 2, 3], dtype=xg.int32)
    with pytest.raises(TypeError, match="would change int32 to float"):
        n[0:2] += 0.5
    n[0:2] += xg.asarray([1, 1], dtype=xg.int32)
    b = xg.asarray([True, False, False])
    b[0:2] += xg.asarray([True, True])          # NumPy's logical or, as before
    assert n.tolist() == [2, 3, 3] and b.tolist() == [True, True, False]
