"""Views and in-place operators (xpgrad/views.py, xpgrad/inplace.py): values and gradients as
NumPy and PyTorch compute them, refusals where PyTorch refuses, and what a write costs."""
import copy
import pickle

import numpy as np
import pytest
import torch

import xpgrad as xg


# -- programs run alike on xpgrad tensors, PyTorch tensors and NumPy arrays ------------------------
# Each uses only operators and methods the three share; it starts from copies (c = x * 1.0), as
# PyTorch refuses in-place writes into leaves that require grad.
def aliasing(x, y):
    c = x * 1.0
    alias = c
    c += y
    c *= y
    return (alias * alias).sum()


def row_view(x, y):
    c = x * 2.0
    v = c[1]
    v += y * y
    v[0] = y[1] ** 3
    return (c ** 2).sum() + (v * 3.0).sum()


def view_of_a_view(x, y):
    c = x * 1.0
    v = c[:, 1:]
    w = v[1:, :2]
    w *= y[:2]
    w[0, 1] = y[0] * y[2]
    return (c ** 2).sum() + (v * 0.5).sum() + (w * w).sum()


def overlapping_views(x, y):
    c = x * 1.0
    first, second = c[0, 0:3], c[0, 1:4]
    first *= 2.0
    second += first[0] + y[:3] * y[:3]     # (PyTorch refuses a product saving first[0])
    return (c * c).sum() + (first ** 3).sum() + second.sum()


def base_written_after_the_view(x, y):
    c = x * 1.0
    v = c[1:, 1]
    c[2] = y[:4] * 5.0
    c += 1.0
    return (v ** 2).sum() + (c * y).sum()


def transposed_views(x, y):
    c = x * 1.0
    t = c.T
    t[1] += y[:3]
    col = c.T[3]
    col *= 2.0
    return (c ** 2).sum() + (t * 0.5).sum() + col.sum()


def zero_d_views(x, y):
    c = x * 1.0
    corner = c[1, 2, ...]               # (c[1, 2] is NumPy's scalar, a copy: test below)
    corner += y[0]
    corner *= y[1]
    return (c ** 2).sum() + corner * 3.0


def subscript_augmented(x, y):
    c = x * 1.0
    c[1:, 2] += y[:2]
    c[0] *= y[:4]
    return (c ** 2).sum()


PROGRAMS = [aliasing, row_view, view_of_a_view, overlapping_views,
            base_written_after_the_view, transposed_views, zero_d_views, subscript_augmented]


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 4)), rng.standard_normal(4)


def _torch(program, a, b):
    x, y = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    loss = program(x, y)
    loss.backward()
    return loss.item(), x.grad.numpy(), y.grad.numpy()


def _xpgrad(program, a, b, backend="numpy"):
    x, y = xg.asarray(a, backend=backend), xg.asarray(b, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch([x, y])
        loss = program(x, y)
    gx, gy = tape.gradient(loss, [x, y])
    return loss.item(), gx.numpy(), gy.numpy()


def _numpy_value(program, a, b):
    return float(program(a.copy(), b.copy()))


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_values_and_gradients_are_pytorchs(program):
    a, b = _inputs()
    value, gx, gy = _xpgrad(program, a, b)
    t_value, t_gx, t_gy = _torch(program, a, b)
    assert value == pytest.approx(t_value, rel=1e-12)
    assert value == pytest.approx(_numpy_value(program, a, b), rel=1e-12)
    np.testing.assert_allclose(gx, t_gx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gy, t_gy, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_gradients_agree_with_finite_differences(program):
    a, b = _inputs(1)
    xg.testing.check_grads(program, [xg.asarray(a), xg.asarray(b)])


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_the_numba_backend_agrees_with_numpy(program):
    pytest.importorskip("numba")
    a, b = _inputs(2)
    for got, want in zip(_xpgrad(program, a, b, "numba"), _xpgrad(program, a, b)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# -- values, without tapes --------------------------------------------------------------------
def test_an_in_place_operator_updates_the_object_that_every_name_sees():
    x = xg.asarray([1.0, 2.0])
    y = x
    x += 1.0
    assert y is x and y.tolist() == [2.0, 3.0]
    i, n = xg.asarray([5, 6, -7]), np.asarray([5, 6, -7])
    same = i
    for op, other in (("//=", 2), ("%=", 5), ("<<=", 3), ("&=", 13), ("|=", 1), ("^=", 2),
                      (">>=", 1), ("-=", 1), ("*=", 3), ("**=", 2), ("+=", 1)):
        exec(f"i {op} {other}; n {op} {other}")
    assert same is i and i.tolist() == n.tolist()
    m = xg.eye(2)
    alias = m
    m @= xg.asarray([[1.0, 2.0], [3.0, 4.0]])
    assert alias is m and m.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_views_see_the_writes_into_their_base_and_each_other():
    c = xg.zeros((3, 4))
    row, col, t = c[1], c[:, 2], c.T
    row += 1.0
    t[2, 0] = 7.0
    c[2, 2] = 9.0
    expected = np.zeros((3, 4))
    expected[1] += 1.0
    expected.T[2, 0] = 7.0
    expected[2, 2] = 9.0
    assert c.tolist() == expected.tolist()
    assert row.tolist() == expected[1].tolist() and col.tolist() == expected[:, 2].tolist()
    assert t.tolist() == expected.T.tolist() and row.base is c


def test_views_of_permuted_and_matrix_transposed_tensors_write_through():
    c = xg.zeros((2, 3, 4))
    xg.permute_dims(c, (2, 0, 1))[3, 1, 2] = 1.0
    c.mT[0, 3, 1] = 2.0
    swapped = c.swapaxes(0, 2)
    swapped += 1.0
    expected = np.zeros((2, 3, 4))
    expected[1, 2, 3] = 1.0
    expected[0, 1, 3] = 2.0
    expected += 1.0
    assert c.tolist() == expected.tolist()


def test_a_block_loop_writes_into_the_base_in_place():
    out = xg.zeros(10000, dtype=xg.float64)
    buffer = id(out._data)
    for start in range(0, 10000, 100):
        block = out[start:start + 100]
        block += float(start)
    assert id(out._data) == buffer                  # no copy of the base per write
    assert out.numpy()[::100].tolist() == [float(s) for s in range(0, 10000, 100)]


def test_a_write_copies_a_buffer_that_others_hold():
    base = xg.arange(6.0)
    held, other = base.numpy(), xg.stop_gradient(base)
    view = base[1:4]
    view[0] = -5.0
    assert base.tolist() == [0.0, -5.0, 2.0, 3.0, 4.0, 5.0]
    assert held.tolist() == other.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_a_copy_of_a_view_is_a_plain_tensor_of_its_value():
    c = xg.arange(4.0)
    v = c[1:3]
    for made in (copy.deepcopy(v), pickle.loads(pickle.dumps(v))):
        assert type(made) is xg.Tensor and made.tolist() == [1.0, 2.0]
        made[0] = 10.0
    assert c.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_one_element_is_a_copy_as_in_numpy():
    c = xg.zeros((2, 3))
    element = c[1, 2]                   # NumPy's scalar; PyTorch's would be a view
    element += 1.0
    corner = c[1, 2, ...]               # the 0-d view in both
    corner += 2.0
    assert c.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]] and element.item() == 1.0


def test_advanced_indexing_is_a_copy_as_in_numpy():
    c = xg.zeros(4)
    picked = c[xg.asarray([1, 2])]
    picked += 1.0
    masked = c[c == 0]
    masked[0] = 5.0
    assert c.tolist() == [0.0, 0.0, 0.0, 0.0]


# -- tapes --------------------------------------------------------------------------------------
def test_a_view_returned_from_a_taped_function_keeps_its_gradient():
    def f(x):
        u = x * 1.0
        u = u[:, :2]
        u *= x[0, :2]
        return u

    a, _ = _inputs(3)
    xg.testing.check_grads(f, [xg.asarray(a)])
    tx = torch.tensor(a, requires_grad=True)
    f(tx).sum().backward()
    np.testing.assert_allclose(xg.grad(lambda x: xg.sum(f(x)))(xg.asarray(a)).numpy(),
                               tx.grad.numpy(), rtol=1e-12)


def test_a_tape_that_saved_the_old_value_keeps_it():
    x = xg.asarray([1.0, 2.0, 3.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        c = x * 1.0
        squared = c * c                 # saves c's old value
        c[1:] += 10.0
        loss = xg.sum(squared) + xg.sum(c)
    assert tape.gradient(loss, x).tolist() == [3.0, 5.0, 7.0]


def test_a_watched_tensor_and_its_views_refuse_writes_as_pytorchs_leaves_do():
    x = xg.asarray([1.0, 2.0, 3.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(ValueError, match="watches as a gradient source"):
            x[1:][0] = 5.0
        with pytest.raises(ValueError, match=r"x \*= y: cannot write into a tensor that a "
                                             "GradientTape watches"):
            x *= 2.0
    assert x.tolist() == [1.0, 2.0, 3.0]
    leaf = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        leaf[1:][0] = 5.0


def test_a_variable_base_is_updated_outside_tapes_and_refused_inside():
    w = xg.Variable([1.0, 2.0, 3.0], name="w")
    tail = w[1:]
    tail += 1.0
    assert w.tolist() == [1.0, 3.0, 4.0] and tail.tolist() == [3.0, 4.0]
    with xg.GradientTape():
        head = w[:2]
        with pytest.raises(ValueError, match="cannot write into Variable 'w' while a "
                                             "GradientTape records it"):
            head[0] = 0.0
    assert w.tolist() == [1.0, 3.0, 4.0]


# -- xg.function --------------------------------------------------------------------------------
def test_xg_function_replays_writes_through_views_as_eager_code_runs_them():
    def f(a, b):
        c = a * 2.0
        r = c[1:]
        r += b
        c.T[0] *= 3.0
        col = c[:, 1]
        col -= b[0]
        return c, col

    compiled = xg.function(f)
    for seed in range(4):
        a, b = _inputs(seed)
        for got, want in zip(compiled(xg.asarray(a), xg.asarray(b)),
                             f(xg.asarray(a), xg.asarray(b))):
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_xg_function_refuses_writes_it_cannot_replay():
    outside = xg.zeros(3)

    @xg.function
    def into_argument(a):
        a[:1] += 1.0
        return a * 1.0

    @xg.function
    def into_closure(a):
        v = outside[:1]
        v += a
        return a * 1.0

    with pytest.raises(xg.jit.TraceError, match="wrote into its tensor argument #1"):
        for _ in range(2):
            into_argument(xg.asarray([1.0]))
    with pytest.raises(xg.jit.TraceError, match="wrote into a tensor it did not make"):
        for _ in range(2):
            into_closure(xg.asarray([1.0]))


# -- bad input ----------------------------------------------------------------------------------
def test_bad_writes_through_views_are_clear_errors():
    c = xg.zeros((2, 3))
    v = c[0]
    with pytest.raises(ValueError, match=r"x\[slice\(0, 2, None\)\] = value of shape \(3,\) "
                                         r"is invalid for a tensor of shape \(3,\)"):
        v[0:2] = xg.ones(3)
    with pytest.raises(ValueError, match=r"in-place operator \+= cannot change the shape: "
                                         r"\(3,\) broadcasts to \(2, 3\)"):
        v += xg.ones((2, 3))
    with pytest.raises(TypeError, match="in-place operator -= would change float32 to "
                                        "complex64"):
        v -= xg.asarray([1j, 0j, 0j])
    with pytest.raises(TypeError, match="cannot write the complex value"):
        v[0] = 1j
    with pytest.raises(IndexError, match="index 5 is out of bounds"):
        v[5] = 1.0
    assert c.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_messages_name_a_view_a_tensor():
    # error messages built from type(x).__name__ (tbptt_train's "got a ...") say Tensor, the
    # type users know; the class itself still shows where it lives
    v = xg.ones((3, 4))[1]
    assert type(v).__name__ == "Tensor" and isinstance(v, xg.Tensor)
    assert "xpgrad.views" in repr(type(v))
    with pytest.raises(AttributeError, match="'Tensor' object has no attribute 'lerp_'"):
        xg.Variable([1.0, 2.0], name="w").data.lerp_
