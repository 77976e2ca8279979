"""``x[key] = value`` (xpgrad/inplace.py): NumPy's values, copy-on-write, recorded functional
updates with gradients checked against finite differences and against the same computation
written functionally, re-keyed tapes, the writes that must refuse, array-api-extra's ``at``."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads


def f64(a):
    return xg.asarray(np.asarray(a, dtype=np.float64))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# -- values, outside tapes ------------------------------------------------------------------------

KEYS = [1, -1, (0, 2), slice(1, None), (slice(None), 1), (Ellipsis, 0), (0, slice(None, None, -1)),
        ([0, 2],), (slice(None), [3, 0]), ([1, 1, 0], [2, 0, 2]), (None, 1)]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
def test_values_match_numpy(key, rng):
    a = rng.standard_normal((3, 4))
    want = a.copy()
    region = want[key]
    value = rng.standard_normal(np.shape(region))
    want[key] = value
    x = f64(a)
    x[key] = f64(value)
    np.testing.assert_array_equal(x.numpy(), want)
    x = f64(a)
    x[key] = 7.5                                  # a Python scalar broadcasts
    want = a.copy()
    want[key] = 7.5
    np.testing.assert_array_equal(x.numpy(), want)


def test_masks_tensor_keys_and_broadcast_values():
    a = np.arange(12.0).reshape(3, 4)
    x = xg.asarray(a)
    x[x > 5.0] = -1.0
    x[xg.asarray([0, 2]), 1] = xg.asarray([10.0, 20.0])
    x[1] = xg.asarray([1.0, 2.0, 3.0, 4.0])
    want = a.copy()
    want[want > 5.0] = -1.0
    want[[0, 2], 1] = [10.0, 20.0]
    want[1] = [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(x.numpy(), want)
    x[:, :2] = xg.asarray([[5.0], [6.0], [7.0]], dtype=xg.float64)   # broadcast (3, 1)
    assert x[:, :2].tolist() == [[5.0, 5.0], [6.0, 6.0], [7.0, 7.0]]


def test_value_is_cast_to_the_tensors_dtype():
    x = xg.zeros(3, dtype=xg.float32)
    x[0] = xg.asarray(2.5, dtype=xg.float64)
    x[1:] = [1, 2]
    assert x.dtype == xg.float32 and x.tolist() == [2.5, 1.0, 2.0]
    i = xg.zeros(2, dtype=xg.int16)
    i[0] = xg.asarray(3, dtype=xg.int8)
    assert i.dtype == xg.int16 and i.tolist() == [3, 0]


def test_no_other_tensor_or_array_ever_changes():
    base = xg.arange(6.0)
    shared = xg.stop_gradient(base)            # the same buffer
    view = base[1:4]                           # an xpgrad view: writes go through (test_views)
    user = np.zeros(3)
    from_user = xg.asarray(user)               # wraps the user's array
    held = base.numpy()                        # the raw buffer itself
    base[2] = 100.0
    view[0] = -5.0
    from_user[1] = 9.0
    assert base.tolist() == [0.0, -5.0, 100.0, 3.0, 4.0, 5.0]
    assert shared.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert view.tolist() == [-5.0, 100.0, 3.0]
    assert held.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert user.tolist() == [0.0, 0.0, 0.0] and from_user.tolist() == [0.0, 9.0, 0.0]


def test_an_exclusively_owned_buffer_is_written_in_place():
    x = xg.zeros(1000)
    buffer = x._data
    del buffer                                  # nothing else holds it now
    before = id(x._data)
    for i in range(10):
        x[i] = float(i)
    assert id(x._data) == before                 # no copy per write
    assert x[:10].tolist() == [float(i) for i in range(10)]
    y = xg.zeros(4)
    keep = y.numpy()                            # someone holds the buffer: copy first
    y[0] = 1.0
    assert keep[0] == 0.0 and y.tolist() == [1.0, 0.0, 0.0, 0.0]


# -- gradients ------------------------------------------------------------------------------------

def _update(x):
    h = x * 2.0
    h[1] = x[0] ** 2                            # a row from another row
    h[:, 0] = xg.sin(x[:, 2])                   # a column, overlapping the row written before
    return h * x


def _update_functional(x):
    h = x * 2.0
    rows = xg.arange(x.shape[0])[:, None]
    cols = xg.arange(x.shape[1])[None, :]
    h = xg.where(rows == 1, x[0] ** 2, h)
    return xg.where(cols == 0, xg.sin(x[:, 2])[:, None], h) * x


def test_gradient_matches_finite_differences_to_second_order(rng):
    check_grads(_update, [f64(rng.standard_normal((3, 4)))], order=2)


def test_gradient_matches_the_functional_computation(rng):
    x = f64(rng.standard_normal((3, 4)))
    seed = f64(rng.standard_normal((3, 4)))
    grads = []
    for fn in (_update, _update_functional):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        grads.append(tape.gradient(y, x, output_gradients=seed).numpy())
        np.testing.assert_allclose(y.numpy(), _update_functional(x).numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_written_into_a_fresh_tensor_from_several_sources(rng):
    def build(a, b):
        out = xg.zeros((4, 3), dtype=xg.float64)
        out[:2] = a                              # broadcasts (3,) over two rows
        out[2:, 1:] = b * b
        out[out > 0.5] = 0.5                     # a mask written with a scalar
        return out * xg.arange(12.0, dtype=xg.float64).reshape((4, 3))

    a, b = f64(rng.standard_normal(3)), f64(rng.standard_normal((2, 2)))
    check_grads(build, [a, b], order=2)
    # the same with concat and where
    with xg.GradientTape() as tape:
        tape.watch([a, b])
        y = build(a, b)
        top = xg.broadcast_to(a, (2, 3))
        bottom = xg.concat([xg.zeros((2, 1), dtype=xg.float64), b * b], axis=1)
        ref = xg.concat([top, bottom], axis=0)
        ref = xg.where(ref > 0.5, 0.5, ref) * xg.arange(12.0, dtype=xg.float64).reshape((4, 3))
        total = xg.sum(y * 1.5) + xg.sum(ref * -1.5)
    np.testing.assert_allclose(y.numpy(), ref.numpy())
    ga, gb = tape.gradient(total, [a, b])
    np.testing.assert_allclose(ga.numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(gb.numpy(), 0.0, atol=1e-12)


def test_repeated_integer_indices_give_the_gradient_to_the_write_that_landed():
    v = f64([1.0, 2.0, 3.0])
    with xg.GradientTape() as tape:
        tape.watch(v)
        z = xg.zeros(3, dtype=xg.float64)
        z[xg.asarray([0, 2, 0])] = v * 3.0       # z[0] = v[2] * 3 (last write wins)
        loss = xg.sum(z * f64([1.0, 10.0, 100.0]))
    assert z.tolist() == [9.0, 0.0, 6.0]
    assert tape.gradient(loss, v).tolist() == [0.0, 300.0, 3.0]


def test_augmented_assignment_reads_and_writes(rng):
    def fn(x):
        h = x * 1.0
        h[1:] += x[:-1] ** 2                     # getitem, add, setitem
        h[0] *= 3.0
        return h

    check_grads(fn, [f64(rng.standard_normal(5))], order=2)


def test_writes_in_a_loop_under_one_tape(rng):
    x = f64(rng.standard_normal(6))
    with xg.GradientTape() as tape:
        tape.watch(x)
        h = xg.zeros(6, dtype=xg.float64)
        for i in range(1, 6):
            h[i] = xg.tanh(h[i - 1] + x[i])      # a recurrence written in place
        loss = xg.sum(h)
    ref = [0.0]
    xs = x.numpy()
    for i in range(1, 6):
        ref.append(np.tanh(ref[-1] + xs[i]))
    np.testing.assert_allclose(h.numpy(), ref)
    g = tape.gradient(loss, x).numpy()
    check_grads(lambda x: _recurrence(x), [x], order=1)
    assert g[0] == 0.0 and np.all(g[1:] > 0)


def _recurrence(x):
    h = xg.zeros(6, dtype=xg.float64)
    for i in range(1, 6):
        h[i] = xg.tanh(h[i - 1] + x[i])
    return h


def test_a_value_from_another_tape_level_second_order():
    x = f64([0.3, -0.7])
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            h = xg.zeros(2, dtype=xg.float64)
            h[0] = x[0] ** 3
            h[1] = x[0] * x[1]
            y = xg.sum(h)
        g = inner.gradient(y, x)                 # [3 x0^2 + x1, x0]
        s = xg.sum(g)
    np.testing.assert_allclose(g.numpy(), [3 * 0.09 - 0.7, 0.3])
    np.testing.assert_allclose(outer.gradient(s, x).numpy(), [6 * 0.3 + 1.0, 1.0])


# -- tapes that recorded the old value ------------------------------------------------------------

def test_a_tape_that_recorded_the_old_value_keeps_differentiating_it():
    x = f64([0.5, 1.5])
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = xg.exp(x)                            # exp's rule reads its output
        loss = xg.sum(y * y)
    y[...] = 0.0                                 # outside the tape: y is a new value now
    y[0] = 4.0
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), 2 * np.exp(2 * x.numpy()))
    assert tape.gradient(y, x) is None           # the new y was computed outside the tape
    with xg.GradientTape() as tape2:
        tape2.watch(x)
        z = xg.exp(x)
        w = z * 2.0
        z[0] = 10.0                              # recorded: z is derived
        total = xg.sum(w) + xg.sum(z)
    np.testing.assert_allclose(tape2.gradient(total, x).numpy(),
                               [2 * np.exp(0.5), 3 * np.exp(1.5)])


def test_a_constant_written_after_use_keeps_its_old_value_for_higher_orders():
    c = f64([2.0])
    x = f64([3.0])
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = x * x * c                        # c: a constant the rules read back
        c[0] = 100.0                             # before the gradient is taken
        g = inner.gradient(y, x)                 # rules run on Tensors: they read c
    assert g.tolist() == [12.0]                  # 2 x c with the c that was used
    assert outer.gradient(g, x).tolist() == [4.0]


class _AppendOnly(list):
    """A tape's node list that refuses to be read: a write must not search the tape."""

    def _refuse(self, *a):
        raise AssertionError("an in-place write read the tape's nodes")

    __iter__ = __getitem__ = __reversed__ = index = __contains__ = _refuse


def test_long_loops_of_writes_stay_linear():
    """A write re-keys the tensor and never searches the tape's nodes, so a loop of writes is
    linear in its length (what is checked is that no node is read, not time)."""
    x = f64(np.ones(200))
    with xg.GradientTape() as tape:
        tape._nodes = _AppendOnly()
        tape.watch(x)
        h = xg.zeros(200, dtype=xg.float64)
        mask = xg.zeros(200)
        for i in range(1, 200):
            h[i] = h[i - 1] * 0.5 + x[i]
            mask[i] = 1.0                    # on no tape
        loss = xg.sum(h * mask)
    # h[i - 1], * 0.5, x[i], +, the write: 5 nodes a step (3 in the first, where h is on no
    # tape yet), then h * mask and the sum
    assert len(tape._nodes) == 3 + 198 * 5 + 2
    tape._nodes = list.copy(tape._nodes)
    g = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose([g[1], g[-1]], [2 - 0.5 ** 198, 1.0])


def test_a_tape_under_stop_recording_is_re_keyed_too():
    x = f64([2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 3.0
        with tape.stop_recording():
            y[0] = 100.0                         # not recorded; the tape keeps the old y
        z = y * x                                # y here is a constant: 100 * x
    assert z.tolist() == [200.0]
    assert tape.gradient(z, x).tolist() == [100.0]


def test_failed_write_leaves_the_tapes_as_they_were():
    x = f64([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
        with pytest.raises(IndexError):
            y[5] = 1.0
        loss = xg.sum(y)
    assert tape.gradient(loss, x).tolist() == [2.0, 2.0]


# -- writes that refuse ---------------------------------------------------------------------------

def test_a_watched_source_cannot_be_written():
    x = f64([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(ValueError, match="watches as a gradient source"):
            x[0] = 3.0
    assert x.tolist() == [1.0, 2.0]
    with xg.GradientTape(persistent=True) as kept:
        kept.watch(x)
        xg.sum(x * x)
    with pytest.raises(ValueError, match="copy"):  # the finished tape still holds it
        x[0] = 3.0
    del tape, kept                               # once no tape holds it, it is a value
    gc.collect()
    x[0] = 3.0
    assert x.tolist() == [3.0, 2.0]


def test_variables_use_assign_under_a_tape():
    w = xg.Variable(xg.asarray([1.0, 2.0]), name="w")
    with xg.GradientTape():
        with pytest.raises(ValueError, match="assign"):
            w[0] = 5.0
    w[0] = 5.0                                   # outside tapes it writes, like assign
    assert w.tolist() == [5.0, 2.0]
    frozen = xg.Variable(xg.asarray([1.0]), trainable=False)
    with xg.GradientTape():
        frozen[0] = 2.0                          # nothing differentiates it
    assert frozen.tolist() == [2.0]


@pytest.mark.parametrize("key, value, error, match", [
    (5, 1.0, IndexError, "shape"),
    ((0, 0, 0), 1.0, IndexError, "index"),
    (slice(None), xg.ones(3), ValueError, "value of shape"),
    (1.5, 1.0, IndexError, "valid indices"),
    (xg.asarray([0.5]), 1.0, IndexError, "integer or boolean"),
])
def test_bad_writes_raise_clear_errors(key, value, error, match):
    x = xg.zeros((2, 2))
    with pytest.raises(error, match=match):
        x[key] = value
    assert x.tolist() == [[0.0, 0.0], [0.0, 0.0]]


@pytest.mark.usefixtures("numpy_default")
def test_a_value_on_another_backend_is_refused():
    other = xg.get_backend("numba") if "numba" in backend_report() and \
        backend_report()["numba"].get("available") else None
    if other is None:
        pytest.skip("needs a second backend")
    x = xg.zeros(2)
    with pytest.raises(ValueError, match="backends"):
        x[0] = xg.ones((), backend=other)


# -- array-api-extra's at() -----------------------------------------------------------------------

def test_array_api_extra_at_set_and_add_are_differentiable(rng):
    xpx = pytest.importorskip("array_api_extra")

    def fn(x):
        y = x * 2.0
        y = xpx.at(y, 1).set(x[0] ** 2)
        y = xpx.at(y, xg.asarray([0, 2])).add(x[3])
        y = xpx.at(y, (slice(None, 2),)).multiply(x[2])
        return y * x

    check_grads(fn, [f64(rng.standard_normal(4))], order=2)
    x = f64([1.0, 2.0, 3.0, 4.0])
    assert fn(x).tolist() == [(2.0 + 4.0) * 3.0 * 1.0, 1.0 * 3.0 * 2.0, 10.0 * 3.0, 32.0]


def test_array_api_extra_at_on_a_watched_source_copies_or_refuses():
    xpx = pytest.importorskip("array_api_extra")
    x = f64([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xpx.at(x, 0).set(5.0, copy=True)     # asks for a copy: fine
        with pytest.raises(ValueError, match="gradient source"):
            xpx.at(x, 0).set(5.0)                # may write in place: refused, not wrong
        loss = xg.sum(y * x)
    assert tape.gradient(loss, x).tolist() == [5.0, 4.0]


@pytest.mark.parametrize("name, fn", [
    ("pad", lambda xpx, t: xpx.pad(t, 1) * 2.0),
    ("create_diagonal", lambda xpx, t: xpx.create_diagonal(t[0])),
    ("kron", lambda xpx, t: xpx.kron(t, t[:2, :2])),
    ("cov", lambda xpx, t: xpx.cov(t)),
    ("sinc", lambda xpx, t: xpx.sinc(t)),
    ("apply_where", lambda xpx, t: xpx.apply_where(t > 0, t, lambda v: v ** 3, fill_value=0.0)),
])
def test_array_api_extra_functions_differentiate(name, fn, rng):
    xpx = pytest.importorskip("array_api_extra")
    a = rng.standard_normal((3, 4))
    x = f64(a)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = fn(xpx, x)
        loss = xg.sum(y)
    assert isinstance(y, xg.Tensor) and tape.gradient(loss, x) is not None
    np.testing.assert_allclose(y.numpy(), fn(xpx, a), rtol=1e-12, atol=1e-12)
    check_grads(lambda t: fn(xpx, t), [x], order=1)
