"""``x.at[mask].add/subtract/set(v)`` as a select (``xpgrad/ops/masked_updates.py``) where
the mask covers leading axes and ``v`` is the same at every place it picks: NumPy's bits
(signed zeros and NaNs where nothing is picked), the general scatter path's values,
PyTorch's values and gradients, finite differences to second order, one ``xg.function``
program for masks of any count, and the keys and values left to the general path."""
import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.ops import masked_updates
from xpgrad.testing import check_grads

#: (shape of x, shape of the mask over its leading axes, shape of v)
CASES = [((6, 5), (6, 5), ()), ((4, 5, 3), (4, 5), (3,)), ((4, 5, 3), (4,), (5, 1)),
         ((4, 5, 3), (4,), (1, 5, 3)), ((7,), (7,), (1,)), ((0, 3), (0,), (3,))]


def _numpy_update(base, mask, v, method):
    want = base.copy()
    if method == "set":
        want[mask] = v[0] if v.ndim == base.ndim - mask.ndim + 1 else v
    else:
        sign = -1 if method == "subtract" else 1
        want[mask] += sign * v
    return want


def _bits(a):
    return a.view(f"i{a.dtype.itemsize}")


@pytest.fixture
def selects(monkeypatch):
    """Counts the updates that take the select."""
    calls, real = [], masked_updates.masked_update
    monkeypatch.setattr("xpgrad.ops.indexed_updates.masked_update",
                        lambda *a: calls.append(a[-1]) or real(*a))
    return calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, mask_shape, vshape", CASES)
@pytest.mark.parametrize("method", ["add", "subtract", "set"])
def test_select_gives_numpys_bits_and_the_general_paths_values(method, shape, mask_shape,
                                                                vshape, dtype, rng, selects):
    base = rng.standard_normal(shape).astype(dtype)
    flat = base.reshape(-1)
    flat[:4] = [-0.0, np.nan, np.inf, 0.0][:flat.size]
    v = rng.standard_normal(vshape).astype(dtype)
    for mask in (rng.random(mask_shape) > 0.5, np.zeros(mask_shape, bool),
                 np.ones(mask_shape, bool)):
        x = xg.asarray(base)
        got = getattr(x.at[xg.asarray(mask)], method)(xg.asarray(v)).numpy()
        want = _numpy_update(base, mask, v, method)
        np.testing.assert_array_equal(_bits(got), _bits(want))
        positions = np.nonzero(mask)                   # integer arrays: the general path
        general = getattr(x.at[tuple(xg.asarray(p) for p in positions)], method)(
            xg.asarray(np.broadcast_to(v if len(vshape) <= len(shape) - len(mask_shape)
                                       else v[0], base[mask].shape).copy()))
        np.testing.assert_array_equal(_bits(got), _bits(general.numpy()))
    assert selects == [method] * 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["add", "subtract", "set"])
def test_gradients_match_torch(method, dtype, rng, selects):
    base = rng.standard_normal((9, 4, 3)).astype(dtype)[::2, :, ::-1]    # non-contiguous
    mask = rng.random((5, 4)) > 0.5
    v = rng.standard_normal(3).astype(dtype)
    g = rng.standard_normal(base.shape).astype(dtype)
    x, xv = xg.asarray(base), xg.asarray(v)
    with xg.GradientTape() as tape:
        tape.watch([x, xv])
        y = getattr(x.at[mask], method)(xv)
    gx, gv = tape.gradient(y, [x, xv], output_gradients=xg.asarray(g))
    t, tv = (torch.tensor(a.copy(), requires_grad=True) for a in (base, v))
    m = torch.from_numpy(mask)
    sign = -1.0 if method == "subtract" else 1.0
    moved = tv.expand(int(mask.sum()), 3)
    ty = t.index_put((m,), moved) if method == "set" else \
        t.index_put((m,), sign * moved, accumulate=True)
    tgx, tgv = torch.autograd.grad(ty, [t, tv], grad_outputs=torch.from_numpy(g))
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_allclose(gx.numpy(), tgx.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(gv.numpy(), tgv.numpy(), rtol=tol, atol=tol)
    assert selects == [method]


@pytest.mark.parametrize("method", ["add", "subtract", "set"])
def test_second_order_matches_finite_differences(method, rng, selects):
    mask = rng.random((4, 3)) > 0.5
    check_grads(lambda x, v: getattr(x.at[mask], method)(v * v) ** 2,
                [xg.asarray(rng.standard_normal((4, 3, 2))), xg.asarray(rng.standard_normal(2))],
                order=2)
    assert selects


def test_one_program_for_masks_of_any_count(rng, selects):
    fn = xg.function(lambda x, m: xg.sum(x.at[m].add(2.0) ** 2))
    x = rng.standard_normal((6, 5))
    for _ in range(4):
        mask = rng.random((6, 5)) > rng.random()
        want = np.sum(_numpy_update(x, mask, np.float64(2.0), "add") ** 2)
        np.testing.assert_allclose(fn(xg.asarray(x), xg.asarray(mask)).numpy(), want,
                                   rtol=1e-12)
    assert len(fn.programs()) == 1                    # no shape read from the count


def test_integer_x_and_values_that_vary_or_bool_x_take_the_general_path(rng, selects):
    ints = np.arange(12).reshape(3, 4)
    mask = ints % 3 == 0
    got = xg.asarray(ints).at[mask].add(5)
    np.testing.assert_array_equal(got.numpy(), np.where(mask, ints + 5, ints))
    assert selects == ["add"]
    per_place = np.arange(4.0)
    want = ints.astype(float)
    want[mask] += per_place
    got = xg.asarray(ints.astype(float)).at[mask].add(xg.asarray(per_place))
    np.testing.assert_array_equal(got.numpy(), want)
    assert selects == ["add", "add"]                   # asked, declined: values vary
    flags = np.array([True, False, True])
    got = xg.asarray(flags).at[xg.asarray([True, True, False])].set(False)
    np.testing.assert_array_equal(got.numpy(), [False, False, True])


def test_bad_masks_and_values_keep_their_errors(rng):
    x = xg.ones((3, 4))
    with pytest.raises(IndexError, match="the index is invalid for a tensor of shape"):
        x.at[np.ones((3, 5), bool)].add(1.0)
    with pytest.raises(ValueError, match=r"values of shape \(2,\) do not broadcast"):
        x.at[np.ones((3, 4), bool)].add(xg.ones(2))
    with pytest.raises(ValueError, match="mode='drop' is not supported"):
        x.at[np.ones((3, 4), bool)].add(1.0, mode="drop")
    with pytest.warns(UserWarning) as caught:
        xg.asarray(np.arange(6).reshape(2, 3)).at[np.ones(2, bool)].add(xg.asarray([1.5]))
    assert len(caught) == 1
