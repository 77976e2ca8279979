"""TensorFlow's segment reductions (``xg.segment_*``, ``xg.unsorted_segment_*``): values and
gradients against PyTorch's ``index_add`` / ``scatter_reduce(include_self=False)`` and float64
finite differences (second order too), TensorFlow's values for empty segments and negative ids,
the NumPy kernels against the generic forward, and the errors for bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.ops import segment_rules
from xpgrad.testing import check_grads

KINDS = ("sum", "mean", "max", "min", "prod")
TORCH_REDUCE = {"mean": "mean", "max": "amax", "min": "amin", "prod": "prod"}


def _empty_value(kind, dtype, unsorted):
    """TensorFlow's value of an empty segment (``tf.math`` docs)."""
    if kind == "prod":
        return 1
    if kind in ("sum", "mean") or not unsorted:
        return 0
    info = np.finfo(dtype) if np.dtype(dtype).kind == "f" else np.iinfo(dtype)
    return info.min if kind == "max" else info.max


def _torch_segments(kind, x, ids, num, unsorted):
    """The same reduction in PyTorch: rows with a negative id dropped, the rest reduced by
    ``scatter_reduce(include_self=False)``, then the empty segments' value put in. (The
    reduction starts from NaN where it can: torch splits a max's gradient with a starting
    value equal to it, though ``include_self=False`` leaves that value out.)"""
    keep = ids >= 0
    x, ids = x[torch.as_tensor(keep)], torch.as_tensor(ids[keep])
    empty = _empty_value(kind, x.detach().numpy().dtype, unsorted)
    shape = (num,) + tuple(x.shape[1:])
    if kind == "sum":
        return torch.zeros(shape, dtype=x.dtype).index_add(0, ids, x)
    start = torch.full(shape, float("nan") if x.is_floating_point() else empty, dtype=x.dtype)
    index = ids.reshape((-1,) + (1,) * (x.ndim - 1)).expand_as(x)
    out = start.scatter_reduce(0, index, x, TORCH_REDUCE[kind], include_self=False)
    present = torch.bincount(ids, minlength=num).reshape((num,) + (1,) * (x.ndim - 1)) > 0
    return torch.where(present, out, torch.full_like(out, empty))


def _both(kind, x, ids, num, unsorted, cotangent):
    """(ours, PyTorch's) values and gradients of ``sum(reduction * cotangent)``, the
    cotangent zero at empty segments (an unsorted max's lowest float would overflow)."""
    present = np.bincount(ids[ids >= 0], minlength=num) > 0
    cotangent = cotangent * present.reshape((num,) + (1,) * (cotangent.ndim - 1))
    ids_2d = ids.reshape(x.shape[:ids.ndim])
    t = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(t)
        if unsorted:
            out = getattr(xg, f"unsorted_segment_{kind}")(t, xg.asarray(ids_2d), num)
        else:
            out = getattr(xg, f"segment_{kind}")(t, xg.asarray(ids_2d))
        loss = xg.sum(out * xg.asarray(cotangent))
    ours = (out.numpy(), tape.gradient(loss, t).numpy())
    flat = x.reshape((ids.size,) + x.shape[ids_2d.ndim:])
    tt = torch.tensor(flat, requires_grad=True)
    ref = _torch_segments(kind, tt, ids.reshape(-1), num, unsorted)
    (ref * torch.tensor(cotangent)).sum().backward()
    return ours, (ref.detach().numpy(), tt.grad.numpy().reshape(x.shape))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("unsorted", [False, True], ids=["sorted", "unsorted"])
def test_values_and_gradients_match_torch(kind, unsorted, rng):
    # 2-D ids over the leading axes of 3-D data; small integers make ties for max/min, and
    # zeros (one and two in a segment) for prod; segments 1 and 5 stay empty
    x = rng.integers(-3, 4, (4, 3, 2)).astype(np.float64)
    x[0, 0, 0] = x[0, 1, 0] = 0.0
    if unsorted:
        ids = rng.permutation(np.array([0, 2, 2, 3, 3, 4, 4, 4, 6, 6, -1, 0]))
        num = 7
    else:
        ids = np.array([0, 0, 0, 2, 2, 3, 3, 3, 3, 4, 6, 6])
        num = 7
    cotangent = rng.standard_normal((num, 2))
    (got, got_grad), (want, want_grad) = _both(kind, x, ids.reshape(4, 3), num, unsorted,
                                               cotangent)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "min"])
def test_ties_split_the_gradient_equally_as_tensorflow_and_torch(kind, rng):
    x = np.array([[2.0, -1.0], [2.0, -1.0], [0.5, -1.0], [2.0, 3.0]])
    cotangent = rng.standard_normal((2, 2))
    (_, got_grad), (_, want_grad) = _both(kind, x, np.array([0, 0, 0, 1]), 2, False, cotangent)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-12)
    np.testing.assert_allclose(got_grad[:3, 1], cotangent[0, 1] / 3)   # a three-way tie


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("unsorted", [False, True], ids=["sorted", "unsorted"])
def test_second_order_gradients_match_finite_differences(kind, unsorted, rng):
    ids = xg.asarray([[0, 0], [2, 3], [3, 3]] if not unsorted else [[3, -1], [0, 3], [3, 0]])
    # distinct values: no ties for max/min, whose derivative is undefined there
    x = xg.asarray(rng.permutation(12).reshape(3, 2, 2) * 0.3 - 1.7)
    if unsorted:
        fn = getattr(xg, f"unsorted_segment_{kind}")
        check_grads(lambda a: fn(a * a, ids, 4)[xg.asarray([0, 3])], x, order=2)
    else:
        fn = getattr(xg, f"segment_{kind}")
        check_grads(lambda a: fn(a * a, ids), x, order=2)


def test_prod_second_order_is_exact_at_zeros():
    x = xg.asarray([[0.0, 2.0], [1.5, 0.0], [-2.0, 0.0], [0.7, 3.0]], dtype=xg.float64)
    ids = xg.asarray([0, 0, 1, 1])
    check_grads(lambda a: xg.segment_prod(a, ids), x, order=2)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_empty_segments_hold_tensorflows_values(kind, dtype):
    data = xg.asarray(np.array([[3, 4], [5, 6]], dtype=dtype))
    ids = xg.asarray([1, 1])
    sorted_out = getattr(xg, f"segment_{kind}")(data, ids)
    unsorted_out = getattr(xg, f"unsorted_segment_{kind}")(data, xg.asarray([1, -1]), 3)
    assert sorted_out.dtype == unsorted_out.dtype == data.dtype
    for out, unsorted in ((sorted_out, False), (unsorted_out, True)):
        empty = out.numpy()[0 if not unsorted else 2]
        np.testing.assert_array_equal(empty, _empty_value(kind, dtype, unsorted))


def test_integer_mean_truncates_toward_zero_as_tensorflow():
    data = np.array([-3, 1, -3, 7, 2, 5], dtype=np.int64)
    ids = np.array([0, 0, 0, 1, 1, 2])
    got = xg.segment_mean(xg.asarray(data), xg.asarray(ids)).numpy()
    sums, counts = np.bincount(ids, data), np.bincount(ids)
    np.testing.assert_array_equal(got, np.trunc(sums / counts).astype(np.int64))
    assert got.dtype == np.int64


def test_integer_max_and_prod_match_torch():
    data = np.array([[4, -7], [9, 2], [-1, 3]], dtype=np.int64)
    ids = np.array([2, 0, 2])
    for kind in ("max", "min", "prod", "sum"):
        got = getattr(xg, f"unsorted_segment_{kind}")(xg.asarray(data), xg.asarray(ids), 3)
        want = _torch_segments(kind, torch.tensor(data), ids, 3, True)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_nan_in_a_segment_makes_its_max_and_min_nan():
    x = xg.asarray([1.0, float("nan"), 0.0, 2.0])
    for fn in (xg.segment_max, xg.segment_min):
        got = fn(x, xg.asarray([0, 0, 0, 1])).numpy()
        assert np.isnan(got[0]) and got[1] == 2.0


@pytest.mark.parametrize("kind", ["max", "min", "prod"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_numpy_kernel_matches_the_generic_forward(kind, dtype, rng):
    # segment sizes 1 to 40, so the padded blocks take several widths; ids in any order
    sizes = rng.integers(1, 41, 30)
    ids = rng.permutation(np.repeat(np.arange(0, 60, 2), sizes))
    data = (rng.standard_normal((ids.size, 3)) * 3).astype(dtype)
    if kind == "prod":
        data = (np.sign(data) + (data == 0)) * np.exp(rng.uniform(-0.1, 0.1, data.shape))
        data = data.astype(dtype) if np.dtype(dtype).kind == "f" else np.sign(data).astype(dtype)
    prim = getattr(segment_rules, f"segment_{kind}")
    identity = {"max": -np.inf, "min": np.inf, "prod": 1}[kind]
    if np.dtype(dtype).kind == "i" and kind != "prod":
        info = np.iinfo(dtype)
        identity = info.min if kind == "max" else info.max
    params = dict(ids=ids, num=61, identity=identity, fill=0, backend=xg.get_backend("numpy"))
    kernel = xg.get_backend("numpy").kernels[prim.name]
    fast, _ = kernel.forward(data, **params)
    generic = prim.forward(xg.get_backend("numpy").xp, data, **params)
    np.testing.assert_allclose(fast, generic, rtol=1e-12 if dtype != np.float32 else 1e-5)


def test_gradients_without_the_kernel_match_those_with_it(monkeypatch, rng):
    x = rng.integers(-2, 3, (50, 4)).astype(np.float64)
    ids = rng.integers(-1, 9, 50)
    cotangent = rng.standard_normal((9, 4))

    def run():
        return [_both(kind, x, ids, 9, True, cotangent)[0] for kind in ("max", "min", "prod")]

    with_kernel = run()
    kernels = xg.get_backend("numpy").kernels
    for name in ("segment_max", "segment_min", "segment_prod"):
        monkeypatch.delitem(kernels, name)
    without = run()
    for (a, da), (b, db) in zip(with_kernel, without):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        np.testing.assert_allclose(da, db, rtol=1e-12)


def test_no_rows_give_empty_segments():
    data = xg.zeros((0, 2))
    ids = xg.asarray(np.zeros(0, np.int64))
    assert xg.segment_sum(data, ids).shape == (0, 2)
    assert xg.unsorted_segment_max(data, ids, 2).tolist() == [[np.finfo(np.float32).min] * 2] * 2


def test_segment_sum_runs_under_function_with_new_ids():
    x = xg.asarray(np.arange(8.0).reshape(4, 2))
    step = xg.function(lambda d, i: xg.unsorted_segment_sum(d, i, 3))
    for ids in ([0, 2, 2, 1], [2, -1, 0, 0], [1, 1, 1, 1]):
        want = xg.unsorted_segment_sum(x, xg.asarray(ids), 3).numpy()
        np.testing.assert_array_equal(step(x, xg.asarray(ids)).numpy(), want)


def test_unsorted_segment_sqrt_n_is_tensorflows_sum_over_root_count(rng):
    """TensorFlow's definition: the segment's sum over the square root of its row count, 0
    where a segment is empty; the gradient of an entry is its segment's cotangent over that
    root (float64 finite differences, second order too)."""
    x = rng.standard_normal((4, 3, 2))
    ids = np.array([[3, 0, 3], [-1, 3, 0], [5, 5, 3], [0, -1, 3]])
    num = 6
    flat_x, flat_ids = x.reshape(12, 2), ids.reshape(12)
    counts = np.bincount(flat_ids[flat_ids >= 0], minlength=num)
    sums = np.zeros((num, 2))
    np.add.at(sums, flat_ids[flat_ids >= 0], flat_x[flat_ids >= 0])
    want = np.where(counts[:, None] > 0, sums / np.sqrt(np.maximum(counts, 1))[:, None], 0.0)
    t = xg.asarray(x)
    cotangent = rng.standard_normal((num, 2))
    with xg.GradientTape() as tape:
        tape.watch(t)
        out = xg.unsorted_segment_sqrt_n(t, xg.asarray(ids), num)
        loss = xg.sum(out * xg.asarray(cotangent))
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-14)
    assert out.numpy()[[1, 2, 4]].tolist() == [[0.0, 0.0]] * 3 and counts[5] == 2
    want_grad = np.where((flat_ids >= 0)[:, None],
                         cotangent[flat_ids] / np.sqrt(np.maximum(counts, 1))[flat_ids][:, None],
                         0.0)
    np.testing.assert_allclose(tape.gradient(loss, t).numpy(), want_grad.reshape(x.shape),
                               rtol=1e-14)
    ids_t = xg.asarray(ids)
    check_grads(lambda a: xg.unsorted_segment_sqrt_n(a * a, ids_t, num), xg.asarray(x),
                order=2)
    assert xg.unsorted_segment_sqrt_n(xg.asarray(x, dtype=xg.float32), ids_t, num).dtype \
        == xg.float32


# -- bad input -------------------------------------------------------------------------------

X = xg.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])


@pytest.mark.parametrize("call, error, words", [
    (lambda: xg.segment_sum(X, xg.asarray([0.0, 1.0, 1.0])), TypeError,
     "segment_ids must be integers"),
    (lambda: xg.unsorted_segment_max(X, [0, 1, 1.5], 2), TypeError,
     "segment_ids must be integers"),
    (lambda: xg.segment_sum(X, xg.asarray([0, 1])), ValueError,
     r"segment_ids of shape \(2,\) must be a prefix of data's shape \(3, 2\)"),
    (lambda: xg.segment_max(X, xg.asarray(3)), ValueError, "segment_ids of shape"),
    (lambda: xg.unsorted_segment_sum(X, xg.asarray([[0, 1, 1]]), 2), ValueError,
     "must be a prefix"),
    (lambda: xg.segment_sum(X, xg.asarray([1, 0, 2])), ValueError,
     r"sorted \(non-decreasing\)"),
    (lambda: xg.segment_prod(X, xg.asarray([-1, 0, 0])), ValueError,
     "segment_ids must be non-negative"),
    (lambda: xg.unsorted_segment_sum(X, xg.asarray([0, 5, 1]), 3), IndexError,
     "segment_ids holds 5, out of range for num_segments=3"),
    (lambda: xg.unsorted_segment_min(X, xg.asarray([0, 1, 1]), -1), ValueError,
     "num_segments must be non-negative"),
    (lambda: xg.unsorted_segment_mean(X, xg.asarray([0, 1, 1]), 2.0), TypeError,
     "num_segments must be an int"),
    (lambda: xg.segment_sum(X > 2, xg.asarray([0, 1, 1])), TypeError,
     "data must be numeric"),
    (lambda: xg.segment_max(xg.asarray([1j, 2j]), xg.asarray([0, 0])), TypeError,
     "complex data has no order"),
    (lambda: xg.unsorted_segment_sqrt_n(xg.asarray([1, 2]), xg.asarray([0, 0]), 1), TypeError,
     "unsorted_segment_sqrt_n: data must be floating-point or complex.*got dtype int64"),
    (lambda: xg.unsorted_segment_sqrt_n(X, xg.asarray([0, 3, 1]), 3), IndexError,
     "unsorted_segment_sqrt_n: segment_ids holds 3, out of range for num_segments=3"),
])
def test_bad_input_names_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32])
def test_narrow_and_unsigned_ids_are_checked_for_order(dtype):
    with pytest.raises(ValueError, match="must be sorted"):
        xg.segment_sum(xg.ones((3, 2)), xg.asarray(np.array([0, 2, 1], dtype=dtype)))
    got = xg.segment_sum(xg.ones((3, 2)), xg.asarray(np.array([0, 2, 2], dtype=dtype)))
    np.testing.assert_array_equal(got.numpy(), np.bincount([0, 2, 2])[:, None] * np.ones(2))
