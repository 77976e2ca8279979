"""The in-place writes of hand-written training loops (``w.assign_sub(u)``, ``w -= u``,
``p.data.add_(g, alpha=-lr)``, ``out[a:b] += v``) compute into the tensor's own buffer where
nothing else sees it (``xpgrad/fast_updates.py``), and keep every rule of the general path:
NumPy's values, a held buffer copied rather than written, the refusals on tapes, the errors."""
import numpy as np
import pytest

import xpgrad as xg

SHAPE = (5, 4)


def _arrays(dtype):
    rng = np.random.default_rng(0)
    return (rng.standard_normal(SHAPE).astype(dtype), rng.standard_normal(SHAPE).astype(dtype),
            rng.standard_normal((2, 4)).astype(dtype))


#: (spelling, the xpgrad write of (w, u, v), NumPy's own in-place operation on (a, n, m))
WRITES = [
    ("w.assign_sub(u)", lambda w, u, v: w.assign_sub(u), lambda a, n, m: np.subtract(a, n, out=a)),
    ("w.assign_add(u)", lambda w, u, v: w.assign_add(u), lambda a, n, m: np.add(a, n, out=a)),
    ("w.assign(u)", lambda w, u, v: w.assign(u), lambda a, n, m: np.copyto(a, n)),
    ("w -= u", lambda w, u, v: w.__isub__(u), lambda a, n, m: np.subtract(a, n, out=a)),
    ("w *= u", lambda w, u, v: w.__imul__(u), lambda a, n, m: np.multiply(a, n, out=a)),
    ("w /= u", lambda w, u, v: w.__itruediv__(u), lambda a, n, m: np.divide(a, n, out=a)),
    ("w -= 0.1", lambda w, u, v: w.__isub__(0.1), lambda a, n, m: np.subtract(a, 0.1, out=a)),
    ("w.data -= u", lambda w, u, v: w.data.__isub__(u), lambda a, n, m: np.subtract(a, n, out=a)),
    ("w.data.add_(u, alpha=-0.1)", lambda w, u, v: w.data.add_(u, alpha=-0.1),
     lambda a, n, m: np.add(a, np.multiply(n, -0.1), out=a)),
    ("w.data.sub_(u, alpha=2.0)", lambda w, u, v: w.data.sub_(u, alpha=2.0),
     lambda a, n, m: np.subtract(a, np.multiply(n, 2.0), out=a)),
    ("w.data.mul_(0.9)", lambda w, u, v: w.data.mul_(0.9),
     lambda a, n, m: np.multiply(a, 0.9, out=a)),
    ("w.data.div_(3)", lambda w, u, v: w.data.div_(3), lambda a, n, m: np.divide(a, 3, out=a)),
    ("w[1:3] += v", lambda w, u, v: w.__setitem__(slice(1, 3), w[1:3].__iadd__(v)),
     lambda a, n, m: np.add(a[1:3], m, out=a[1:3])),
    ("w.data[1:3] -= v", lambda w, u, v: w.data.__getitem__(slice(1, 3)).__isub__(v),
     lambda a, n, m: np.subtract(a[1:3], m, out=a[1:3])),
]
IDS = [name for name, _, _ in WRITES]


def _make(kind, a, dtype):
    if kind == "variable":
        return xg.Variable(a, name="w", dtype=dtype)
    return xg.asarray(a, dtype=dtype, copy=True)


@pytest.mark.parametrize("kind", ["variable", "tensor"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, ours, numpys", WRITES, ids=IDS)
def test_a_write_leaves_numpys_values_in_the_same_buffer(name, ours, numpys, dtype, kind):
    if kind == "tensor" and "assign" in name:
        pytest.skip("assign is a Variable's")
    a, n, m = _arrays(dtype)
    w = _make(kind, a, getattr(xg, dtype.__name__))
    u, v = xg.asarray(n), xg.asarray(m)
    buffer = w._data.__array_interface__["data"][0]
    for _ in range(3):
        ours(w, u, v)
        numpys(a, n, m)
    np.testing.assert_array_equal(w.numpy(), a)
    assert w.dtype == getattr(xg, dtype.__name__)
    assert w._data.__array_interface__["data"][0] == buffer, "the write copied the buffer"


@pytest.mark.parametrize("name, ours, numpys", WRITES, ids=IDS)
def test_a_numpy_array_taken_from_the_buffer_keeps_its_values(name, ours, numpys):
    a, n, m = _arrays(np.float64)
    w = xg.Variable(a, name="w")
    taken = np.asarray(w)          # shares the buffer: the write must go into a copy
    kept = taken.copy()
    ours(w, xg.asarray(n), xg.asarray(m))
    numpys(a, n, m)
    np.testing.assert_array_equal(taken, kept)
    np.testing.assert_array_equal(w.numpy(), a)


@pytest.mark.parametrize("name, ours, numpys", WRITES, ids=IDS)
def test_a_persistent_tape_keeps_the_weights_its_forward_pass_used(name, ours, numpys):
    a, n, m = _arrays(np.float64)
    w = xg.Variable(a, name="w")
    x = xg.asarray(np.linspace(-1.0, 1.0, 20).reshape(4, 5))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = xg.sum(xg.tanh(x @ w) * 2.0)
    before = tape.gradient(loss, x).numpy()
    ours(w, xg.asarray(n), xg.asarray(m))
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), before)
    numpys(a, n, m)
    np.testing.assert_array_equal(w.numpy(), a)
    # the gradient the tape kept is the one at the old weights: finite differences there
    w0, x0, eps = _arrays(np.float64)[0], x.numpy(), 1e-6
    f = (lambda xv: np.sum(np.tanh(xv @ w0) * 2.0))
    step = np.zeros_like(x0)
    step[1, 2] = eps
    np.testing.assert_allclose(before[1, 2], (f(x0 + step) - f(x0 - step)) / (2 * eps),
                               rtol=1e-7)


@pytest.mark.parametrize("name, ours, numpys", WRITES, ids=IDS)
def test_views_held_see_the_write(name, ours, numpys):
    a, n, m = _arrays(np.float64)
    w = xg.Variable(a, name="w")
    row, data, columns = w[2], w.data, w.T
    ours(w, xg.asarray(n), xg.asarray(m))
    numpys(a, n, m)
    np.testing.assert_array_equal(row.numpy(), a[2])
    np.testing.assert_array_equal(data.numpy(), a)
    np.testing.assert_array_equal(columns.numpy(), a.T)


@pytest.mark.parametrize("write", [
    lambda w, u: w.__isub__(u), lambda w, u: w.data.__isub__(u),
    lambda w, u: w.data.add_(u, alpha=-0.1), lambda w, u: w.data.mul_(0.5),
    lambda w, u: w.__imul__(0.5)], ids=["w -= u", "w.data -= u", "add_", "mul_", "w *= 0.5"])
def test_a_variable_a_recording_tape_differentiates_refuses_the_write(write):
    w = xg.Variable([1.0, 2.0], name="weights")
    u = xg.asarray([0.5, 0.5], dtype=xg.float64)
    with xg.GradientTape():
        with pytest.raises(ValueError, match="Variable 'weights'"):
            write(w, u)
    assert w.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("write", [lambda t, u: t.__isub__(u), lambda t, u: t.data.__isub__(u),
                                   lambda t, u: t.data.add_(u, alpha=2.0)],
                         ids=["t -= u", "t.data -= u", "t.data.add_"])
def test_a_gradient_source_of_a_live_tape_refuses_the_write(write):
    t = xg.asarray([1.0, 2.0], dtype=xg.float64)
    u = xg.asarray([0.5, 0.5], dtype=xg.float64)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(t)
        y = xg.sum(t * t)
    with pytest.raises(ValueError, match="gradient source"):
        write(t, u)
    assert t.tolist() == [1.0, 2.0]
    assert tape.gradient(y, t).tolist() == [2.0, 4.0]


def test_assign_sub_inside_a_tape_keeps_the_recorded_value():
    w = xg.Variable([1.0, -2.0], name="w")
    with xg.GradientTape() as tape:
        y = xg.sum(w * w)
        w.assign_sub(xg.asarray([1.0, 1.0], dtype=xg.float64))
    assert tape.gradient(y, w).tolist() == [2.0, -4.0]       # 2 w at the old w
    assert w.tolist() == [0.0, -3.0]


def test_assign_copies_the_value_so_later_writes_to_it_do_not_reach_the_variable():
    w = xg.Variable([1.0, 2.0], name="w")
    value = xg.asarray([3.0, 4.0], dtype=xg.float64)
    w.assign(value)
    value[0] = 100.0
    w.assign_add(value)
    value[1] = 100.0
    assert w.tolist() == [103.0, 8.0]


@pytest.mark.parametrize("call, error, message", [
    (lambda w: w.assign_sub(xg.ones((3, 3), dtype=xg.float64)), ValueError,
     "assign_sub: value of shape \\(3, 3\\) does not match variable 'w' of shape \\(5, 4\\)"),
    (lambda w: w.assign_add(xg.ones((4,), dtype=xg.float64)), ValueError,
     "assign_add: value of shape \\(4,\\) does not match variable 'w'"),
    (lambda w: w.assign(xg.ones((1, 4), dtype=xg.float64)), ValueError,
     "assign: value of shape \\(1, 4\\) does not match variable 'w'"),
    (lambda w: w.__isub__(xg.ones((2, 5, 4), dtype=xg.float64)), ValueError,
     "value of shape \\(2, 5, 4\\) does not match variable 'w' of shape \\(5, 4\\)"),
    (lambda w: w.data.add_(xg.ones((2, 5, 4), dtype=xg.float64), alpha=0.5), ValueError,
     "cannot change the shape"),
    (lambda w: w.assign_sub(xg.ones(SHAPE, dtype=xg.complex128)), TypeError,
     "would drop part of a complex floating value"),
    (lambda w: w.__isub__(xg.ones(SHAPE, dtype=xg.complex128)), TypeError,
     "would change float64 to complex128"),
    (lambda w: w.data.add_("a"), TypeError, r"argument 2 is a str \('a'\)"),
])
def test_bad_values_keep_the_general_paths_errors(call, error, message):
    w = xg.Variable(np.zeros(SHAPE), name="w")
    with pytest.raises(error, match=message):
        call(w)
    assert not w.numpy().any()


def test_an_integer_variable_keeps_its_refusals():
    n = xg.Variable([1, 2], name="counts", dtype=xg.int32)
    with pytest.raises(TypeError, match="variable 'counts' has dtype int32"):
        n.assign_sub(xg.asarray([0.5, 0.5]))
    with pytest.raises(OverflowError, match="out of range for variable 'counts'"):
        n.assign_add(xg.asarray([2**40, 0]))
    with pytest.raises(TypeError, match="would change int32 to float"):
        n -= 0.5
    n.assign_add(xg.asarray([1, 1], dtype=xg.int32))
    n -= xg.asarray([2, 2], dtype=xg.int32)
    assert n.tolist() == [0, 1] and n.dtype == xg.int32


def test_another_dtype_is_cast_as_before():
    w = xg.Variable(np.zeros(3), name="w")
    w.assign_sub(xg.asarray([0.1, 0.2, 0.3], dtype=xg.float32))
    expected = -np.array([0.1, 0.2, 0.3], dtype=np.float32).astype(np.float64)
    np.testing.assert_array_equal(w.numpy(), expected)
    w -= xg.asarray([0.1, 0.2, 0.3], dtype=xg.float32)
    np.testing.assert_array_equal(w.numpy(), 2 * expected)
    assert w.dtype == xg.float64


def test_hand_written_sgd_matches_pytorchs_in_place_loop():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    w0, b0, lr = rng.standard_normal((3, 2)), rng.standard_normal(2), 0.05

    w, b = xg.Variable(w0, name="w"), xg.Variable(b0, name="b")
    for step in range(5):
        with xg.GradientTape() as tape:
            loss = xg.mean((xg.tanh(xg.asarray(x) @ w + b) - xg.asarray(y)) ** 2)
        gw, gb = tape.gradient(loss, [w, b])
        w.data.add_(gw, alpha=-lr)                     # three spellings of the same update
        b -= lr * gb
        if step % 2:
            w.assign_add(0.5 * lr * gw)
            w.data -= 0.5 * lr * gw

    tw = torch.tensor(w0, requires_grad=True)
    tb = torch.tensor(b0, requires_grad=True)
    for step in range(5):
        loss = torch.mean((torch.tanh(torch.tensor(x) @ tw + tb) - torch.tensor(y)) ** 2)
        loss.backward()
        with torch.no_grad():
            tw.add_(tw.grad, alpha=-lr)
            tb -= lr * tb.grad
        tw.grad = tb.grad = None
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.numpy(), tb.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_a_block_loop_of_slice_updates_writes_in_place_and_matches_numpy():
    a = np.arange(24.0).reshape(6, 4)
    t = xg.asarray(a, copy=True)
    buffer = t._data.__array_interface__["data"][0]
    v = xg.asarray(np.full((2, 4), 0.5))
    for i in range(0, 6, 2):
        t[i:i + 2] += v
        t[i:i + 2] *= 2.0
        a[i:i + 2] += 0.5
        a[i:i + 2] *= 2.0
    np.testing.assert_array_equal(t.numpy(), a)
    assert t._data.__array_interface__["data"][0] == buffer


@pytest.mark.parametrize("name, ours, numpys", WRITES, ids=IDS)
def test_recompute_grad_still_sees_a_variable_written_after_its_block(name, ours, numpys):
    a, n, m = _arrays(np.float64)
    w = xg.Variable(a, name="w")
    block = xg.recompute_grad(lambda x: xg.tanh(x @ w))
    with xg.GradientTape() as tape:
        loss = xg.sum(block(xg.ones((2, 5), dtype=xg.float64)))
    ours(w, xg.asarray(n), xg.asarray(m))
    with pytest.raises(RuntimeError, match="Variable 'w' changed"):
        tape.gradient(loss, w)
