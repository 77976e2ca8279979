"""GradientTape semantics (TensorFlow's), nesting for higher orders, memory and depth."""
from __future__ import annotations

import gc
import warnings
import weakref

import numpy as np
import pytest

import xpgrad as xg


def f64(values):
    return xg.asarray(values, dtype=xg.float64)


# -- watching ---------------------------------------------------------------------------------

def test_an_integer_target_warns_that_every_gradient_is_none():
    x = xg.asarray([1.5, 2.5])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(x.astype(xg.int64))
    with pytest.warns(RuntimeWarning, match="the target depends on no tensor.*integer dtype"):
        assert tape.gradient(y, x) is None


def test_unwatched_tensor_has_no_gradient():
    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape() as tape:
        y = xg.sum(x * x)
    with pytest.warns(RuntimeWarning, match="the target depends on no tensor this tape"):
        assert tape.gradient(y, x) is None


def test_a_loss_computed_after_the_tape_warns_and_one_inside_does_not():
    """PyTorch users compute the loss after the forward pass; here that is outside the tape,
    and a warning says why every gradient is None (TensorFlow says nothing)."""
    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * 3.0
        inside = xg.sum(y)
    outside = xg.sum(y)
    with pytest.warns(RuntimeWarning, match="computed outside `with tape:`"):
        assert tape.gradient(outside, x) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tape.gradient(inside, x).tolist() == [3.0, 3.0]
        w = xg.Variable([1.0])
        assert tape.gradient(inside, [x, w])[1] is None        # one source unconnected


def test_watch_a_list():
    x, y = xg.asarray(2.0), xg.asarray(3.0)
    with xg.GradientTape() as tape:
        tape.watch([x, y])
        z = x * x * y
    assert [g.item() for g in tape.gradient(z, [x, y])] == [12.0, 4.0]


def test_watch_after_use_only_sees_later_operations():
    x = xg.asarray(2.0)
    with xg.GradientTape() as tape:
        early = x * 3.0
        tape.watch(x)
        z = early * x
    assert tape.gradient(z, x).item() == 6.0    # early is a constant to the tape


def test_variables_are_watched_automatically():
    v = xg.Variable([1.0, 2.0], name="v")
    frozen = xg.Variable([1.0, 1.0], name="frozen", trainable=False)
    with xg.GradientTape() as tape:
        y = xg.sum(v * v * frozen)
    assert tape.watched_variables() == (v,)
    assert tape.gradient(y, v).tolist() == [2.0, 4.0]
    assert not frozen.trainable


def test_the_unconnected_warning_names_a_source_variable_made_with_trainable_false():
    frozen = xg.Variable([1.0, 2.0], name="frozen", trainable=False)
    with xg.GradientTape() as tape:
        y = xg.sum(frozen * frozen)
    with pytest.warns(RuntimeWarning, match="Variable 'frozen' has trainable=False.*tape.watch"):
        assert tape.gradient(y, [frozen]) == [None]
    with xg.GradientTape() as tape:
        tape.watch(frozen)
        y = xg.sum(frozen * frozen)
    assert tape.gradient(y, frozen).tolist() == [2.0, 4.0]
    trained = xg.Variable([1.0], name="trained")
    with xg.GradientTape() as tape:
        pass
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tape.gradient(xg.sum(trained), [trained])
    assert "trainable=False" not in str(caught[0].message)


def test_watch_accessed_variables_false():
    v = xg.Variable([1.0, 2.0])
    w = xg.Variable([3.0, 4.0])
    with xg.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(w)
        y = xg.sum(v * w)
    assert tape.watched_variables() == (w,)
    gv, gw = tape.gradient(y, [v, w])
    assert gv is None and gw.tolist() == [1.0, 2.0]


def test_variable_gradient_sees_value_at_record_time():
    v = xg.Variable([1.0, 2.0])
    with xg.GradientTape() as tape:
        y = xg.sum(v * v)
    v.assign([10.0, 20.0])
    assert tape.gradient(y, v).tolist() == [2.0, 4.0]


# -- gradient() -------------------------------------------------------------------------------

def test_sources_structure_is_preserved():
    x, y = xg.asarray(1.0), xg.asarray(2.0)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        z = x * y
    assert isinstance(tape.gradient(z, x), xg.Tensor)
    assert isinstance(tape.gradient(z, [x, y]), list)
    as_tuple = tape.gradient(z, (x, y))
    assert isinstance(as_tuple, tuple) and [g.item() for g in as_tuple] == [2.0, 1.0]


def test_unconnected_sources():
    x, y = xg.asarray([1.0, 2.0]), xg.asarray([[3.0]])
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        z = xg.sum(x * 2.0)
    assert tape.gradient(z, [x, y])[1] is None
    zero = tape.gradient(z, y, unconnected_gradients="zero")
    assert zero.shape == (1, 1) and zero.tolist() == [[0.0]]
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(z, y, unconnected_gradients="nan")


def test_output_gradients_default_is_gradient_of_sum():
    x = f64([1.0, 2.0, 3.0])
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        s = xg.sum(y)
    assert tape.gradient(y, x).tolist() == tape.gradient(s, x).tolist() == [2.0, 4.0, 6.0]
    weighted = tape.gradient(y, x, output_gradients=f64([1.0, 0.0, -1.0]))
    assert weighted.tolist() == [2.0, 0.0, -6.0]
    with pytest.raises(ValueError, match=r"output_gradients has shape \(2,\).*\(3,\)"):
        tape.gradient(y, x, output_gradients=f64([1.0, 0.0]))


def test_non_persistent_tape_gradient_twice_raises():
    x = xg.asarray(1.0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent.*persistent=True"):
        tape.gradient(y, x)


def test_persistent_tape_gives_gradients_repeatedly():
    x = xg.asarray(3.0)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert tape.gradient(y, x).item() == 6.0
    assert tape.gradient(z, x).item() == 108.0
    assert tape.gradient(z, y).item() == 18.0


def test_gradient_with_respect_to_intermediate():
    x = xg.asarray(2.0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        z = xg.exp(y)
    dy, dx = tape.gradient(z, [y, x])
    assert dy.item() == pytest.approx(np.exp(4.0))
    assert dx.item() == pytest.approx(4.0 * np.exp(4.0))


def test_gradient_of_source_itself_and_fan_out():
    x = xg.asarray(2.0)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x + x * 3.0 + x
    assert tape.gradient(x, x).item() == 1.0
    assert tape.gradient(y, x).item() == 8.0


def test_gradient_called_inside_the_context():
    x = xg.asarray(2.0)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        g = tape.gradient(y, x)
        z = y * 2.0                 # recording goes on after gradient()
    assert g.item() == 4.0
    assert tape.gradient(z, x).item() == 8.0


def test_dtype_of_gradient_matches_source():
    x32, x64 = xg.asarray([1.0]), f64([1.0])
    with xg.GradientTape() as tape:
        tape.watch([x32, x64])
        y = xg.sum(xg.astype(x32, xg.float64) * x64)
    g32, g64 = tape.gradient(y, [x32, x64])
    assert (g32.dtype, g64.dtype) == (xg.float32, xg.float64)


# -- jacobian, stop_recording, reset, stop_gradient -------------------------------------------

def test_jacobian():
    x = f64([1.0, 2.0, 3.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.stack([x[0] * x[1], xg.sum(x * x)])
    jac = tape.jacobian(y, x)
    assert jac.shape == (2, 3)
    np.testing.assert_allclose(jac.numpy(), [[2.0, 1.0, 0.0], [2.0, 4.0, 6.0]])


def test_jacobian_unconnected_and_matrix_shapes():
    x, u = f64([[1.0, 2.0]]), f64([5.0])
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([x, u])
        y = x.T * 2.0                                   # (2, 1)
    assert tape.jacobian(y, x).shape == (2, 1, 1, 2)
    assert tape.jacobian(y, u) is None
    assert tape.jacobian(y, u, unconnected_gradients="zero").shape == (2, 1, 1)


def test_jacobian_uses_up_a_non_persistent_tape():
    x = f64([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert tape.jacobian(y, x).shape == (2, 2)
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.gradient(y, x)


def test_tapes_record_only_their_own_thread():
    import threading

    x = xg.asarray(2.0)
    results = {}
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        worker = threading.Thread(target=lambda: results.setdefault("y", x * x))
        worker.start()
        worker.join()
        z = x * 3.0
    assert tape.gradient(results["y"], x) is None
    assert tape.gradient(z, x).item() == 3.0


def test_stop_recording():
    x = xg.asarray(2.0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            z = y * 10.0
        w = y + z
    assert tape.gradient(w, x).item() == 4.0
    with pytest.raises(RuntimeError, match="recording"):
        with tape.stop_recording():
            pass


def test_reset():
    x = xg.asarray(2.0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        tape.reset()
        tape.watch(x)
        z = x * 5.0
    assert tape.gradient(y, x) is None
    tape.reset()
    with tape:
        tape.watch(x)
        q = x * x * x
    assert tape.gradient(q, x).item() == 12.0


def test_stop_gradient():
    x = xg.asarray(3.0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * x + xg.stop_gradient(x * x)
    assert tape.gradient(y, x).item() == 6.0
    assert xg.stop_gradient(2.0).item() == 2.0


def test_tape_cannot_be_entered_twice():
    tape = xg.GradientTape()
    with tape:
        with pytest.raises(RuntimeError, match="already recording"):
            tape.__enter__()


# -- nested tapes -----------------------------------------------------------------------------

def test_grad_of_grad():
    x = f64(0.7)
    with xg.GradientTape() as t2:
        t2.watch(x)
        with xg.GradientTape() as t1:
            t1.watch(x)
            y = xg.sin(x) * x ** 3
        dy = t1.gradient(y, x)
    d2y = t2.gradient(dy, x)
    v = 0.7
    assert dy.item() == pytest.approx(np.cos(v) * v ** 3 + 3 * v ** 2 * np.sin(v), rel=1e-12)
    assert d2y.item() == pytest.approx(
        -np.sin(v) * v ** 3 + 6 * v ** 2 * np.cos(v) + 6 * v * np.sin(v), rel=1e-12)


def test_third_order_through_three_tapes():
    x = f64(1.3)
    with xg.GradientTape() as t3:
        t3.watch(x)
        with xg.GradientTape() as t2:
            t2.watch(x)
            with xg.GradientTape() as t1:
                t1.watch(x)
                y = x ** 4
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    assert t3.gradient(d2, x).item() == pytest.approx(24 * 1.3)


def test_hessian_vector_product():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    A, x, v = f64(a), f64([1.0, -1.0]), f64([0.5, 2.0])
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            q = 0.5 * xg.sum(x * (A @ x)) + xg.sum(x ** 3)
        g = inner.gradient(q, x)
        gv = xg.vecdot(g, v)
    hv = outer.gradient(gv, x)
    hess = a + np.diag(6 * x.numpy())
    np.testing.assert_allclose(hv.numpy(), hess @ v.numpy(), rtol=1e-12)


def test_hessian_by_jacobian_of_gradient():
    x = f64([0.5, -1.0, 2.0])
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = xg.sum(x ** 2) * x[0]
        g = inner.gradient(y, x)
    hess = outer.jacobian(g, x).numpy()
    x0, x1, x2 = x.numpy()
    expected = [[6 * x0, 2 * x1, 2 * x2], [2 * x1, 2 * x0, 0], [2 * x2, 0, 2 * x0]]
    np.testing.assert_allclose(hess, expected, rtol=1e-12)


def test_inner_tape_does_not_record_its_own_gradient_pass():
    x = xg.asarray(2.0)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        n = len(tape._nodes)
        tape.gradient(y, x)
        assert len(tape._nodes) == n


# -- memory and depth -------------------------------------------------------------------------

def test_non_persistent_tape_frees_saved_arrays():
    x = xg.asarray(np.linspace(0.1, 1.0, 1000))
    tensors, arrays = [], []
    with xg.GradientTape() as tape:
        tape.watch(x)
        h = x
        for _ in range(5):
            h = xg.nn.sigmoid(xg.exp(h * 0.5) / (h + 1.0)) + xg.nn.softmax(h)
            tensors.append(weakref.ref(h))
            arrays.append(weakref.ref(h._data))
        y = xg.sum(h)
        del h
    # the tape holds no Tensor, only the raw values its rules read: each h but the last is
    # read by h * 0.5's rule; the last only by sum's, which needs its shape alone
    assert all(r() is None for r in tensors)
    assert all(r() is not None for r in arrays[:-1])
    assert arrays[-1]() is None
    saved = [weakref.ref(node[6]) for node in tape._nodes if isinstance(node[6], np.ndarray)]
    assert saved                                    # residuals saved by backend kernels
    arrays += saved
    g = tape.gradient(y, x)
    assert g.shape == (1000,)
    alive = [r for r in arrays if r() is not None]
    assert not alive, f"{len(alive)} intermediate arrays outlived gradient()"
    assert tape._nodes == []


def test_persistent_tape_keeps_then_releases_on_delete():
    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h = xg.sin(x) * 2.0
        ref = weakref.ref(h._data)
        y = xg.sum(h * h)                        # multiply's rules read h
        del h
    tape.gradient(y, x)
    assert ref() is not None
    tape.reset()
    gc.collect()
    assert ref() is None


def test_long_chain_without_recursion_error():
    x = xg.asarray(np.ones(4))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(100_000):
            y = y * 1.0
        s = xg.sum(y)
    assert tape.gradient(s, x).tolist() == [1.0] * 4
