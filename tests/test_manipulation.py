"""Manipulation and array-building functions: values against NumPy, gradients against PyTorch
and finite differences (second order), and clear errors for bad arguments."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")


def f64(a):
    return xg.asarray(np.asarray(a, dtype=np.float64))


def grads_vs_torch(xg_fn, torch_fn, *arrays, seed=0):
    """Value and gradient of ``sum(f(*arrays) * w)`` for a random ``w``, xpgrad vs torch."""
    rng = np.random.default_rng(seed)
    xs = [f64(a) for a in arrays]
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = xg_fn(*xs)
        w = rng.standard_normal(out.shape)
        loss = xg.sum(out * f64(w))
    tout = torch_fn(*ts)
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(tape.gradient(loss, xs), ts):
        np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


# -- values --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shift, axis", [(1, None), (-7, None), (2, 0), ((1, -2), (0, 1)),
                                         (3, (0, 1)), ((1, 1), (1, 1))])
def test_roll_matches_numpy(shift, axis, rng):
    a = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(xg.roll(f64(a), shift, axis=axis).numpy(),
                                  np.roll(a, shift, axis=axis))


@pytest.mark.parametrize("shape, reps", [((3,), (2,)), ((2, 3), (2,)), ((2, 3), (2, 1, 3)),
                                         ((2, 3), (0, 2)), ((), (3,)), ((2, 1), ())])
def test_tile_matches_numpy(shape, reps, rng):
    a = rng.standard_normal(shape)
    np.testing.assert_array_equal(xg.tile(f64(a), reps).numpy(), np.tile(a, reps))


@pytest.mark.parametrize("repeats, axis", [(2, None), (0, 1), (3, -1), ([1, 0, 2], 1),
                                           ([2], 0), ([1, 2, 0, 1, 1, 3], None)])
def test_repeat_matches_numpy(repeats, axis, rng):
    a = rng.standard_normal((2, 3))
    r = repeats if isinstance(repeats, int) else xg.asarray(repeats)
    expected = np.repeat(a, repeats, axis=axis)
    out = xg.repeat(f64(a), r, axis=axis)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)


def test_repeat_integer_and_bool_inputs():
    assert xg.repeat(xg.asarray([1, 2]), 2).tolist() == [1, 1, 2, 2]
    assert xg.repeat(xg.asarray([True, False]), xg.asarray([1, 2], dtype=xg.int32)).tolist() \
        == [True, False, False]


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_meshgrid_matches_numpy(indexing, n, rng):
    vecs = [rng.standard_normal(k + 2) for k in range(n)]
    got = xg.meshgrid(*[f64(v) for v in vecs], indexing=indexing)
    want = np.meshgrid(*vecs, indexing=indexing)
    assert isinstance(got, tuple) and len(got) == n     # a list before 2025.12
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w)


@pytest.mark.parametrize("k", [-2, -1, 0, 1, 3])
def test_tril_triu_match_numpy(k, rng):
    a = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(xg.tril(f64(a), k=k).numpy(), np.tril(a, k=k))
    np.testing.assert_array_equal(xg.triu(f64(a), k=k).numpy(), np.triu(a, k=k))


def test_broadcast_arrays():
    a, b, c = xg.ones((2, 1)), xg.zeros(3, dtype=xg.int32), xg.asarray(5.0)
    out = xg.broadcast_arrays(a, b, c)
    assert [t.shape for t in out] == [(2, 3)] * 3
    assert [t.dtype for t in out] == [xg.float32, xg.int32, xg.float32]
    assert xg.broadcast_arrays() == ()


def test_expand_dims_int_and_tuple():
    x = xg.ones((2, 3))
    assert xg.expand_dims(x, axis=0).shape == (1, 2, 3)
    assert xg.expand_dims(x, axis=-3).shape == (1, 2, 3)
    assert xg.expand_dims(x, axis=2).shape == (2, 3, 1)
    assert xg.expand_dims(x, axis=(0, -1)).shape == (1, 2, 3, 1)
    assert xg.expand_dims(x, axis=(1, 2)).shape == (2, 1, 1, 3)


def test_moveaxis_tuples_match_numpy(rng):
    a = rng.standard_normal((2, 3, 4, 5))
    for src, dst in [(0, -1), ((0, 1), (3, 0)), ((-1, 0, 2), (0, 1, 3)), ((), ())]:
        np.testing.assert_array_equal(xg.moveaxis(f64(a), src, dst).numpy(),
                                      np.moveaxis(a, src, dst))


def test_concat_axis_none_and_promotion():
    out = xg.concat([xg.ones((2, 2)), xg.zeros(3)], axis=None)
    assert out.shape == (7,) and out.tolist() == [1.0] * 4 + [0.0] * 3
    mixed = xg.concat([xg.ones(2, dtype=xg.int8), xg.ones(1, dtype=xg.int16)])
    assert mixed.dtype == xg.int16


def test_reshape_copy():
    x = xg.arange(6.0).reshape((2, 3))
    y = xg.reshape(x, (3, 2), copy=True)
    assert y.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert not np.shares_memory(y._data, x._data)
    assert np.shares_memory(xg.reshape(x, (6,), copy=False)._data, x._data)
    with pytest.raises(ValueError):
        xg.reshape(x.T, (6,), copy=False)      # a transposed array cannot be flattened in place


def test_unstack_round_trip(rng):
    a = f64(rng.standard_normal((2, 3, 4)))
    for axis in (0, 1, -1):
        parts = xg.unstack(a, axis=axis)
        assert len(parts) == a.shape[axis]
        np.testing.assert_array_equal(xg.stack(parts, axis=axis).numpy(), a.numpy())


# -- gradients ------------------------------------------------------------------------------------

def test_roll_tile_repeat_tril_triu_gradients_match_torch(rng):
    a = rng.standard_normal((3, 4))
    grads_vs_torch(lambda x: xg.roll(x, (1, -2), axis=(0, 1)),
                   lambda t: torch.roll(t, (1, -2), dims=(0, 1)), a)
    grads_vs_torch(lambda x: xg.roll(x, 5), lambda t: torch.roll(t, 5), a)
    grads_vs_torch(lambda x: xg.tile(x, (2, 1, 3)), lambda t: torch.tile(t, (2, 1, 3)), a)
    grads_vs_torch(lambda x: xg.repeat(x, 3, axis=0),
                   lambda t: torch.repeat_interleave(t, 3, dim=0), a)
    grads_vs_torch(lambda x: xg.repeat(x, xg.asarray([0, 2, 1, 3]), axis=1),
                   lambda t: torch.repeat_interleave(t, torch.tensor([0, 2, 1, 3]), dim=1), a)
    grads_vs_torch(lambda x: xg.repeat(x, 2), lambda t: torch.repeat_interleave(t, 2), a)
    grads_vs_torch(lambda x: xg.tril(x, k=1), lambda t: torch.tril(t, 1), a)
    grads_vs_torch(lambda x: xg.triu(x, k=-1), lambda t: torch.triu(t, -1), a)


def test_meshgrid_broadcast_gradients_match_torch(rng):
    a, b, c = rng.standard_normal(3), rng.standard_normal(2), rng.standard_normal(4)
    for indexing in ("xy", "ij"):
        grads_vs_torch(lambda x, y, z: xg.stack(xg.meshgrid(x, y, z, indexing=indexing)),
                       lambda x, y, z: torch.stack(torch.meshgrid(x, y, z, indexing=indexing)),
                       a, b, c)
    grads_vs_torch(lambda x, y: xg.stack(xg.broadcast_arrays(x, y)),
                   lambda x, y: torch.stack(torch.broadcast_tensors(x, y)),
                   rng.standard_normal((2, 1)), rng.standard_normal(3))


@pytest.mark.parametrize("fn", [
    lambda x: xg.tile(x, (2,)),                                   # fewer reps than axes
    lambda x: xg.tile(x, (3, 1, 1)) ** 2,
    lambda x: xg.repeat(x, xg.asarray([3, 1]), axis=0) ** 2,
    lambda x: xg.repeat(x, xg.asarray([2]), axis=1) * xg.repeat(x, 2, axis=1),
    lambda x: xg.roll(x, -1, axis=1) * x,
    lambda x: xg.tril(x) @ xg.triu(x).T,
    lambda x: xg.moveaxis(xg.expand_dims(x, axis=(0, 3)), (0, 1), (2, 0)),
    lambda x: xg.concat([x, x * x], axis=None),
    lambda x: xg.reshape(x, (3, 2), copy=True) ** 2,
], ids=["tile_short", "tile_long", "repeat_array", "repeat_single", "roll_times_x",
        "tril_triu_matmul", "moveaxis_expand", "concat_none", "reshape_copy"])
def test_gradients_second_order(fn, rng):
    check_grads(fn, [f64(rng.standard_normal((2, 3)))], order=2)


def test_tril_gradient_square(rng):
    check_grads(lambda x: xg.tril(x) @ xg.triu(x, k=1), [f64(rng.standard_normal((3, 3)))],
                order=2)


# -- errors ---------------------------------------------------------------------------------------

def test_bad_arguments_raise_clearly():
    x = xg.ones((2, 3))
    with pytest.raises(IndexError, match="expand_dims"):
        xg.expand_dims(x, axis=3)
    with pytest.raises(IndexError):
        xg.expand_dims(x, axis=-4)
    with pytest.raises(ValueError, match="repeated"):
        xg.expand_dims(x, axis=(0, 0))
    with pytest.raises(ValueError, match="squeeze"):
        xg.squeeze(x, axis=0)
    with pytest.raises(ValueError, match="negative"):
        xg.repeat(x, -1)
    with pytest.raises(ValueError, match="repeats of shape"):
        xg.repeat(x, xg.asarray([1, 2]), axis=1)
    with pytest.raises(TypeError, match="integer"):
        xg.repeat(x, xg.asarray([1.0, 2.0]), axis=0)
    with pytest.raises(ValueError, match="negative"):
        xg.repeat(x, xg.asarray([1, -2]), axis=0)
    with pytest.raises(ValueError, match="negative"):
        xg.tile(x, (2, -1))
    with pytest.raises(TypeError, match="repetitions"):
        xg.tile(x, (2.5,))
    with pytest.raises(ValueError, match="differ in length"):
        xg.roll(x, (1, 2), axis=0)
    with pytest.raises(ValueError, match="tuple axis"):
        xg.roll(x, (1, 2))
    with pytest.raises(ValueError, match="out of range"):
        xg.roll(x, 1, axis=2)
    with pytest.raises(ValueError, match="1-D"):
        xg.meshgrid(xg.ones(2), x)
    with pytest.raises(ValueError, match="indexing"):
        xg.meshgrid(xg.ones(2), indexing="yx")
    with pytest.raises(ValueError, match="2 dimensions"):
        xg.tril(xg.ones(3))
    with pytest.raises(TypeError, match="k must be an int"):
        xg.triu(x, k=1.5)
    with pytest.raises(ValueError, match="differ in length"):
        xg.moveaxis(x, (0, 1), 0)
    with pytest.raises(ValueError, match="repeated"):
        xg.moveaxis(x, (0, 0), (0, 1))
    with pytest.raises(ValueError, match="do not broadcast"):
        xg.broadcast_arrays(xg.ones(2), xg.ones(3))
    with pytest.raises(TypeError, match="list or tuple"):
        xg.concat(x)
    with pytest.raises(ValueError, match="0-d"):
        xg.concat([xg.asarray(1.0), xg.asarray(2.0)])
    with pytest.raises(ValueError, match="at least one dimension"):
        xg.unstack(xg.asarray(1.0))
    with pytest.raises(ValueError, match="cannot reshape"):
        xg.reshape(x, (4, 2))


# -- astype ------------------------------------------------------------------------------------------

def test_astype_copy_and_device():
    x = xg.asarray([1.0, 2.0])
    assert xg.astype(x, xg.float32, copy=False) is x
    y = xg.astype(x, xg.float32)
    assert y is not x and not np.shares_memory(y._data, x._data) and y.tolist() == x.tolist()
    z = xg.astype(x, xg.float64, device=x.device)
    assert z.dtype == xg.float64 and z.device == x.device


@pytest.mark.parametrize("source, target", [("float64", "complex128"), ("complex64", "complex128"),
                                            ("complex128", "float64"), ("float32", "float64")])
def test_astype_gradients_between_real_and_complex_match_torch(source, target, rng):
    a = rng.standard_normal(3) + (1j * rng.standard_normal(3) if "complex" in source else 0)
    w = rng.standard_normal(3) + (1j * rng.standard_normal(3) if "complex" in target else 0)
    x = xg.asarray(a, dtype=source)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.astype(x, target)
    t = torch.tensor(a, dtype=getattr(torch, source), requires_grad=True)
    ty = t.real.to(getattr(torch, target)) if "complex" in source and "complex" not in target \
        else t.to(getattr(torch, target))
    ty.backward(torch.tensor(w, dtype=getattr(torch, target)))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6)
    g = tape.gradient(y, x, output_gradients=w)
    assert g.dtype == x.dtype
    np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-6)


def test_astype_to_integers_has_no_gradient():
    x = f64([1.5, -2.5])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.astype(x, xg.int32)
    assert y.tolist() == [1, -2] and tape.gradient(y, x) is None
