"""TensorFlow's ``gather_nd`` (with ``batch_dims``), ``scatter_nd``, ``tensor_scatter_nd_add``
and ``tensor_scatter_nd_update``: values and gradients against PyTorch's advanced indexing and
``index_put`` (float64), second order against finite differences, and the errors for bad
input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.testing import check_grads


def _grad(fn, *arrays):
    """``fn``'s value and the gradients of ``sum(value * cos(range))`` for each array."""
    ts = [xg.asarray(a) for a in arrays]
    with xg.GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        out = fn(*ts)
        weights = np.cos(np.arange(out.size)).reshape(out.shape)
        loss = xg.sum(out * xg.asarray(weights))
    return [out.numpy()] + [g.numpy() for g in tape.gradient(loss, ts)]


def _torch_grad(fn, *arrays):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    weights = np.cos(np.arange(out.numel())).reshape(tuple(out.shape))
    (out * torch.tensor(weights)).sum().backward()
    return [out.detach().numpy()] + [t.grad.numpy() for t in ts]


def _assert_same(got, want):
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_gather_nd_matches_torch_indexing(k, rng):
    params = rng.standard_normal((3, 4, 2))
    # repeated coordinates: their gradients accumulate
    idx = np.stack([rng.integers(0, n, (5, 2)) for n in params.shape[:k]], axis=-1)
    idx[1, 0] = idx[0, 0]
    got = _grad(lambda p: xg.gather_nd(p, xg.asarray(idx)), params)
    want = _torch_grad(lambda p: p[tuple(torch.tensor(idx[..., j]) for j in range(k))], params)
    assert got[0].shape == idx.shape[:-1] + params.shape[k:]
    _assert_same(got, want)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_gather_nd_with_a_batch_axis_matches_torch(k, rng):
    params = rng.standard_normal((3, 4, 5, 2))
    idx = np.stack([rng.integers(0, n, (3, 6)) for n in params.shape[1:1 + k]] or
                   [np.zeros((3, 6), np.int64)], axis=-1)[..., :k]
    batch = torch.arange(3)[:, None]
    got = _grad(lambda p: xg.gather_nd(p, xg.asarray(idx), batch_dims=1), params)
    if k == 0:       # no coordinates: each index row repeats its batch's whole slice
        def theirs(p):
            return p[:, None].expand(3, 6, 4, 5, 2)
    else:
        def theirs(p):
            return p[(batch,) + tuple(torch.tensor(idx[..., j]) for j in range(k))]
    _assert_same(got, _torch_grad(theirs, params))


def test_gather_nd_with_one_coordinate_vector_picks_one_slice():
    params = np.arange(24.0).reshape(2, 3, 4)
    got = xg.gather_nd(xg.asarray(params), xg.asarray([1, 2])).numpy()
    np.testing.assert_array_equal(got, params[1, 2])


def test_scatter_nd_adds_repeated_coordinates_as_torch_index_put(rng):
    idx = np.array([[1, 0], [0, 2], [1, 0], [2, 1]])
    updates = rng.standard_normal((4, 5))
    got = _grad(lambda u: xg.scatter_nd(xg.asarray(idx), u, (3, 3, 5)), updates)
    want = _torch_grad(lambda u: torch.zeros(3, 3, 5, dtype=u.dtype).index_put(
        (torch.tensor(idx[:, 0]), torch.tensor(idx[:, 1])), u, accumulate=True), updates)
    _assert_same(got, want)


def test_tensor_scatter_nd_add_matches_torch(rng):
    idx = np.array([[[2], [0]], [[2], [3]]])
    tensor, updates = rng.standard_normal((4, 3)), rng.standard_normal((2, 2, 3))
    got = _grad(lambda t, u: xg.tensor_scatter_nd_add(t, xg.asarray(idx), u), tensor, updates)
    want = _torch_grad(lambda t, u: t.index_put((torch.tensor(idx[..., 0]),), u,
                                                accumulate=True), tensor, updates)
    _assert_same(got, want)


def test_tensor_scatter_nd_update_matches_torch(rng):
    idx = np.array([[1, 2], [0, 0], [2, 1]])
    tensor, updates = rng.standard_normal((3, 3)), rng.standard_normal(3)
    got = _grad(lambda t, u: xg.tensor_scatter_nd_update(t, xg.asarray(idx), u),
                tensor, updates)
    want = _torch_grad(lambda t, u: t.index_put((torch.tensor(idx[:, 0]),
                                                 torch.tensor(idx[:, 1])), u), tensor, updates)
    _assert_same(got, want)


def test_tensor_scatter_nd_update_lands_the_last_repeated_update():
    t, u = xg.zeros(4, dtype=xg.float64), xg.asarray([5.0, 6.0, 7.0], dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(u)
        out = xg.tensor_scatter_nd_update(t, xg.asarray([[1], [1], [2]]), u)
        loss = xg.sum(out * xg.asarray([1.0, 2.0, 3.0, 4.0], dtype=xg.float64))
    assert out.tolist() == [0.0, 6.0, 7.0, 0.0]
    assert tape.gradient(loss, u).tolist() == [0.0, 2.0, 3.0]


@pytest.mark.parametrize("fn, shapes", [
    (lambda p: xg.gather_nd(p * p, xg.asarray([[[1, 0]], [[0, 1]]]), batch_dims=0), [(2, 2, 3)]),
    (lambda p: xg.gather_nd(p * p, xg.asarray([[2], [2], [0]]), batch_dims=1), [(3, 4)]),
    (lambda u: xg.scatter_nd(xg.asarray([[1], [1], [0]]), u * u, (2, 2)), [(3, 2)]),
    (lambda t, u: xg.tensor_scatter_nd_add(t * t, xg.asarray([[0, 1], [0, 1]]), u * t[0, :2]),
     [(2, 3), (2,)]),
    (lambda t, u: xg.tensor_scatter_nd_update(t * t, xg.asarray([[1]]), u * t[:1]),
     [(2, 3), (1, 3)]),
    (lambda t, u: xg.tensor_scatter_nd_update(t * t, xg.asarray([[1], [0], [1]]), u * u),
     [(3, 2), (3, 2)]),
], ids=["gather_nd", "gather_nd_batch", "scatter_nd", "tensor_scatter_nd_add",
        "tensor_scatter_nd_update", "tensor_scatter_nd_update_repeated"])
def test_second_order_gradients_match_finite_differences(fn, shapes, rng):
    check_grads(fn, [xg.asarray(rng.standard_normal(s)) for s in shapes], order=2)


# -- bad input -------------------------------------------------------------------------------

P = xg.reshape(xg.arange(24.0), (2, 3, 4))


@pytest.mark.parametrize("call, error, words", [
    (lambda: xg.gather_nd(P, [[0.0, 1.0]]), TypeError, "indices must be integers"),
    (lambda: xg.gather_nd(P, xg.asarray(1)), ValueError, "indices must have at least one axis"),
    (lambda: xg.gather_nd(P, [[0, 3]]), IndexError,
     r"indices entry \[0, 3\] does not index into params of shape \(2, 3, 4\)"),
    (lambda: xg.gather_nd(P, [[0, -1]]), IndexError, r"indices entry \[0, -1\]"),
    (lambda: xg.gather_nd(P, [[1, 2], [2, 0]]), IndexError, r"indices entry \[2, 0\]"),
    (lambda: xg.gather_nd(P, [[0, 1, 2, 3]]), ValueError,
     "4 coordinates, more than the 3 axes of params"),
    (lambda: xg.gather_nd(P, [[1], [0], [0]], batch_dims=1), ValueError,
     r"batch axes of indices \(3,\) and params \(2,\) differ"),
    (lambda: xg.gather_nd(P, [[1], [0]], batch_dims=2), ValueError,
     r"batch_dims must lie in \[0, 2\)"),
    (lambda: xg.gather_nd(P, [[1], [0]], batch_dims=0.5), TypeError,
     "batch_dims must be an int"),
    (lambda: xg.scatter_nd([[3]], xg.ones((1, 2)), (3, 2)), IndexError,
     r"indices entry \[3\] does not index into shape \(3, 2\)"),
    (lambda: xg.scatter_nd([[1]], xg.ones((1, 3)), (3, 2)), ValueError,
     r"updates must have shape indices.shape\[:-1\] \+ shape\[1:\] = \(1, 2\), got \(1, 3\)"),
    (lambda: xg.scatter_nd([[1]], xg.ones((1, 2)), (3, -2)), ValueError,
     "shape must be non-negative"),
    (lambda: xg.scatter_nd([[1, 0, 0]], xg.ones(1), (3, 2)), ValueError,
     "3 coordinates, more than the 2 axes"),
    (lambda: xg.tensor_scatter_nd_add(xg.ones(3), [[1]], xg.ones(1, dtype=xg.float64)),
     TypeError, "updates of dtype float64 into a tensor of dtype float32"),
    (lambda: xg.tensor_scatter_nd_update(xg.ones(3), [[5]], xg.ones(1)), IndexError,
     r"indices entry \[5\]"),
])
def test_bad_input_names_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_coordinates_past_the_smallest_axis_are_checked_each_against_its_own():
    """One pass finds every coordinate below the smallest axis; a larger one is checked
    against its own axis, also in a replay of ``xg.function`` traced without one."""
    params = np.arange(24.0).reshape(2, 3, 4)
    fn = xg.function(lambda p, i: xg.gather_nd(p, i))
    for ids in ([[0, 1], [1, 0]], [[1, 2], [0, 2]], [[1, 1]]):
        got = fn(xg.asarray(params), xg.asarray(ids)).numpy()
        np.testing.assert_array_equal(got, params[tuple(np.array(ids).T)])
    # (a call that traces names the axis and the value, one that runs eagerly the entry)
    for bad, axis, value in (([[2, 0]], 0, 2), ([[0, 3]], 1, 3), ([[1, 1], [1, -1]], 1, -1)):
        for _ in range(2):
            with pytest.raises(IndexError, match=rf"indices (entry \[{bad[-1][0]}, "
                               rf"{bad[-1][1]}\]|hold {value} for axis {axis} of size)"):
                fn(xg.asarray(params), xg.asarray(bad))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_node_gather_and_scatter_add_replay_and_match_torch(dtype, rng):
    """``gather_nd`` and ``tensor_scatter_nd_add`` are one primitive each: with repeated
    coordinates, under ``xg.function`` (one program for every call) and eagerly, as
    PyTorch's advanced indexing and ``index_put(accumulate=True)``."""
    def step(t, i, u):
        with xg.GradientTape() as tape:
            tape.watch([t, u])
            loss = xg.sum(xg.sin(xg.tensor_scatter_nd_add(t, i, u))) + \
                xg.sum(xg.gather_nd(t, i) ** 2 * u)
        return [loss] + tape.gradient(loss, [t, u])

    fn = xg.function(step)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for _ in range(3):
        t0 = rng.standard_normal((5, 4, 3)).astype(dtype)
        i0 = np.stack([rng.integers(0, 5, 9), rng.integers(0, 4, 9)], 1)
        i0[3] = i0[0]                                     # a repeated coordinate
        u0 = rng.standard_normal((9, 3)).astype(dtype)
        got = fn(xg.asarray(t0), xg.asarray(i0), xg.asarray(u0))
        tt, tu = torch.tensor(t0, requires_grad=True), torch.tensor(u0, requires_grad=True)
        key = (torch.tensor(i0[:, 0]), torch.tensor(i0[:, 1]))
        loss = torch.sin(tt.index_put(key, tu, accumulate=True)).sum() + \
            (tt[key] ** 2 * tu).sum()
        loss.backward()
        for ours, theirs in zip(got, (loss, tt.grad, tu.grad)):
            np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=tol,
                                       atol=tol)
    assert len(fn.programs()) == 1


# -- forward mode and vmapped higher orders (the scatter's vjp under xg.vmap) ---------------------

@pytest.mark.parametrize("ours, theirs", [
    (lambda u: xg.scatter_nd(xg.asarray([[1], [1], [0]]), u * u, (3, 2)),
     lambda u: torch.zeros(3, 2, dtype=u.dtype).index_put((torch.tensor([1, 1, 0]),), u * u,
                                                          accumulate=True)),
    (lambda t: xg.tensor_scatter_nd_add(t, xg.asarray([[0], [0]]), t[1:3] ** 2),
     lambda t: t.index_put((torch.tensor([0, 0]),), t[1:3] ** 2, accumulate=True)),
], ids=["scatter_nd", "tensor_scatter_nd_add"])
def test_jacfwd_and_hessians_through_vmap_match_torch(ours, theirs, rng):
    x = rng.standard_normal((3, 2))
    want = torch.autograd.functional.jacobian(theirs, torch.tensor(x)).numpy()
    np.testing.assert_allclose(xg.jacfwd(ours)(xg.asarray(x)).numpy(), want, rtol=1e-12)
    loss = lambda t: xg.sum(xg.sin(ours(t)))          # noqa: E731
    batch = rng.standard_normal((2, 3, 2))
    hessian = xg.hessian(lambda b: xg.sum(xg.vmap(loss)(b)))(xg.asarray(batch)).numpy()
    for k in range(2):
        want = torch.autograd.functional.hessian(lambda t: torch.sin(theirs(t)).sum(),
                                                 torch.tensor(batch[k])).numpy()
        np.testing.assert_allclose(hessian[k, :, :, k], want, rtol=1e-10, atol=1e-12)
