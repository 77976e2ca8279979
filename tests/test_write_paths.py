"""The write paths outside tapes (xpgrad/inplace.py, view_writes.py, views.py): a basic slice
made without a trip through ``apply``, writes into the buffer in place when only the root and
its views see it, tape keys that no live tape knows any more; values as NumPy computes them,
and the tapes' gradients untouched."""
import weakref

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.views import View

BASIC_KEYS = [
    (7,), (slice(2, 9),), (slice(None, None, -2),), (slice(-5, None),), ((1, slice(None)),),
    ((slice(1, 3), 2),), ((Ellipsis, 1),), ((None, slice(0, 4)),), ((1, None, Ellipsis),),
    ((slice(None), None, slice(1, None, 2)),), ((Ellipsis,),), ((-1, -2),), ((slice(0, 0),),),
    ((),), ((None, 1),), ((1, 2, 3, 4),),
]


def _recorded_getitem(x, key):
    """``x[key]`` while a tape records (not watching ``x``): the general path."""
    with xg.GradientTape():
        return x[key]


@pytest.mark.parametrize("shape", [(12,), (4, 6), (3, 4, 5)])
@pytest.mark.parametrize("key", BASIC_KEYS, ids=repr)
def test_a_basic_slice_is_numpys_view_whichever_path_makes_it(shape, key):
    key = key[0]
    a = np.arange(float(np.prod(shape))).reshape(shape)
    try:
        want = a[key]
    except IndexError:
        with pytest.raises(IndexError, match="is invalid for a tensor of shape"):
            xg.asarray(a)[key]
        return
    x = xg.asarray(a)
    fast, general = x[key], _recorded_getitem(x, key)
    np.testing.assert_array_equal(fast.numpy(), want)
    np.testing.assert_array_equal(general.numpy(), want)
    assert fast.__class__ is general.__class__
    if fast.__class__ is View:       # read alike again and written alike
        assert fast._how[1]["key"] == general._how[1]["key"]
        fast[...] = -1.0
        a_view = a[key]
        a_view[...] = -1.0
        np.testing.assert_array_equal(x.numpy(), a)
    else:                             # one element per axis: NumPy's scalar, a copy
        assert np.ndim(want) == 0


def test_bad_basic_keys_are_clear_errors():
    x = xg.zeros((3, 4))
    with pytest.raises(IndexError, match=r"index \(5, 0\) is invalid for a tensor of shape"):
        x[5, 0]
    with pytest.raises(IndexError, match="is invalid for a tensor of shape"):
        x[0, 1, 2]
    with pytest.raises(IndexError, match="only integers, slices"):
        x[1.5]
    with pytest.raises(IndexError, match=r"x\[\(slice\(0, 2, None\), 9\)\] = float"):
        x[0:2, 9] = 1.0
    view = x[1:]
    with pytest.raises(ValueError, match="could not broadcast"):
        view[...] = xg.ones(5)
    assert x.tolist() == [[0.0] * 4] * 3


def _loop(out, values, how):
    for i, value in enumerate(values):
        a = 3 * i
        if how == "set":
            out[a:a + 4] = value
        elif how == "iadd":
            out[a:a + 4] += value
        elif how == "view_set":
            block = out[a:a + 4]
            block[...] = value
        else:
            block = out[a:a + 4]
            block += value
    return out


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("how", ["set", "iadd", "view_set", "view_iadd"])
def test_a_block_loop_writes_numpys_values_into_the_buffer_in_place(how, backend):
    if backend == "numba":
        pytest.importorskip("numba")
    rng = np.random.default_rng(3)
    values = [rng.standard_normal(4) for _ in range(20)]     # overlapping blocks
    want = _loop(np.zeros(64), values, how)
    out = xg.zeros(64, dtype=xg.float64, backend=backend)
    buffer = weakref.ref(out._data)      # (a reference would be a holder: a copy)
    _loop(out, [xg.asarray(v, backend=backend) for v in values], how)
    assert out._data is buffer()                    # never a copy of the base
    np.testing.assert_array_equal(out.numpy(), want)


def test_views_held_side_by_side_write_into_the_buffer_in_place():
    # scipy.signal.oaconvolve's overlap-add: views of one root (the root itself unnamed), one
    # added into another: NumPy writes in place, and so does xpgrad, every view being known
    a = np.arange(24.0).reshape(4, 6)
    head, tail = (xg.asarray(a) * 1.0)[:, :3], None
    root = head.base
    tail = root[:, 3:]
    buffer = weakref.ref(root._data)
    head += tail.T.T
    a[:, :3] += a[:, 3:]
    assert root._data is buffer()
    np.testing.assert_array_equal(root.numpy(), a)
    np.testing.assert_array_equal(tail.numpy(), a[:, 3:])


def test_a_buffer_a_tape_saved_is_copied_not_written():
    c = xg.asarray([1.0, 2.0, 3.0])
    w = xg.asarray([0.5, 0.5, 0.5])
    with xg.GradientTape() as tape:
        tape.watch(w)
        loss = xg.sum(w * c)            # saves c's buffer for w's gradient
    block = c[0:2]
    block += 100.0
    assert c.tolist() == [101.0, 102.0, 3.0]
    assert tape.gradient(loss, w).tolist() == [1.0, 2.0, 3.0]


def test_a_key_no_live_tape_knows_no_longer_forces_a_copy():
    x = xg.asarray([1.0, 2.0, 3.0, 4.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
        row = y[1:3]                    # recorded: the view has a tape key
        loss = xg.sum(y * y)
    assert tape.gradient(loss, x).tolist() == [8.0, 16.0, 24.0, 32.0]
    assert y._key and row._key          # keys of a tape that gave its gradients
    buffer = weakref.ref(y._data)
    tail = y[3:]                        # a fresh view, beside the recorded one
    tail *= 2.0
    assert y._data is buffer()          # written in place
    y[0] = -1.0
    row[...] = 0.0
    row += 5.0
    assert y._data is buffer()
    assert y.tolist() == row.base.tolist() == [-1.0, 5.0, 5.0, 16.0]
    assert y._key == 0 and row._key == 0


def test_a_persistent_tape_keeps_the_values_it_recorded():
    x = xg.asarray([1.0, 2.0, 3.0])
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * 2.0
        row = y[0:2]
        loss = xg.sum(row * y[1:])
    before = tape.gradient(loss, x).numpy()
    buffer = y._data
    y[0] = 100.0
    row[1] = -7.0
    assert y.tolist() == [100.0, -7.0, 6.0]
    assert y._data is not buffer and buffer.tolist() == [2.0, 4.0, 6.0]
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), before)


def test_a_write_recorded_on_a_tape_keeps_its_gradient():
    # the on-tape path beside the fast ones: against finite differences
    def program(x, v):
        out = x * 1.0
        for a in range(0, 6, 2):
            out[a:a + 3] = out[a:a + 3] * v
            block = out[a + 1:a + 3]
            block += v[:2] * v[1:]
        return xg.sum(out * out)

    rng = np.random.default_rng(7)
    xg.testing.check_grads(program, [xg.asarray(rng.standard_normal(9)),
                                     xg.asarray(rng.standard_normal(3))], order=2)


def test_writes_on_a_tape_keep_no_copy_of_the_output_per_write():
    # setitem's rules read only shapes: its node keeps neither the old value nor the written
    # one, so a loop of recorded writes holds one output, not one copy per write
    import tracemalloc

    w = xg.ones(10, dtype=xg.float64)
    tracemalloc.start()
    with xg.GradientTape() as tape:
        tape.watch(w)
        out = xg.zeros(100_000, dtype=xg.float64)        # 0.8 MB
        v = w * 1.0
        for i in range(50):
            out[10 * i:10 * i + 10] = v * float(i)
        loss = xg.sum(out * out)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8e6                       # 50 kept copies were 40 MB
    grad = tape.gradient(loss, w).numpy()
    np.testing.assert_allclose(grad, np.full(10, 2.0 * sum(i * i for i in range(50))))


UPDATES = {
    "float32 += python float": (np.float32, lambda c: c[1:3].__iadd__(0.1)),
    "-= a tensor": (np.float64, lambda c, y: c[:, 1:].__isub__(y[:3])),
    "*= an overlapping view": (np.float64, lambda c: c[0, 1:].__imul__(c[0, :3])),
    "+= itself": (np.float64, lambda c: c[2].__iadd__(c[2])),
    "*= a view of a transposed view": (np.float64, lambda c: c.T[1:3].__imul__(c.T[0])),
    "+= a huge int": (np.float64, lambda c: c[1].__iadd__(2 ** 60 + 1)),
    "int64 += int": (np.int64, lambda c: c[1:, ::2].__iadd__(3)),
    "/= a tensor": (np.float64, lambda c, y: c[0].__itruediv__(y)),
    "complex *= float": (np.complex128, lambda c: c[:, 2].__imul__(-1.5)),
}


@pytest.mark.parametrize("name", UPDATES)
def test_in_place_operators_on_views_compute_numpys_values(name):
    dtype, update = UPDATES[name]
    rng = np.random.default_rng(11)
    a = (rng.standard_normal((3, 4)) * 10).astype(dtype)
    y = rng.uniform(1.0, 2.0, 4)
    c = xg.asarray(a) * 1                  # the root: held by c alone
    args = (xg.asarray(y),) if update.__code__.co_argcount == 2 else ()
    buffer = weakref.ref(c._data)
    update(c, *args)
    update(a, *((y,) if args else ()))
    np.testing.assert_array_equal(c.numpy(), a)
    assert c._data is buffer()             # written in place, as NumPy writes


def test_an_in_place_operator_that_would_change_a_views_shape_writes_nothing():
    c = xg.zeros((3, 4))
    block = c[1]
    with pytest.raises(ValueError, match=r"in-place operator \+= cannot change the shape"):
        block += xg.ones((2, 4))
    with pytest.raises(TypeError, match="would change float32 to complex64"):
        block *= xg.asarray([1j, 1j, 1j, 1j])
    assert c.tolist() == [[0.0] * 4] * 3
