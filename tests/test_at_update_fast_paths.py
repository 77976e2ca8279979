"""``x.at[key]``'s fast paths (``xpgrad/ops/update_keys.py``): a mask over several leading
axes raveled with ``x`` first (NumPy's 1-D nonzero instead of its branching n-D one), and an
integer-array key of distinct indices updated by a gather and a setitem (no ``ufunc.at``, no
product of the other repeats in the gradient). The updates equal NumPy's (bit for bit: the
same operations in the same order), the gradients finite differences and PyTorch's, under
``xg.function`` and ``xg.vmap`` too; empty, full, negative and non-contiguous cases, and the
errors, as before."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import indexed_update_rules, update_keys
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

R = np.random.default_rng(11)
UFUNCS = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}
#: (shape of x, shape of the mask): the mask covers its leading axes
SHAPES = [((6, 5), (6, 5)), ((4, 5, 3), (4, 5)), ((3, 4, 2), (3, 4, 2)), ((2, 3, 2, 2), (2, 3))]


def masks(mask_shape):
    """A random mask, an empty one and a full one."""
    return [R.random(mask_shape) > 0.4, np.zeros(mask_shape, bool), np.ones(mask_shape, bool)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, mask_shape", SHAPES)
@pytest.mark.parametrize("method", ["add", "multiply", "min", "max", "set"])
def test_updates_equal_numpy(monkeypatch, method, shape, mask_shape, dtype):
    seen, real = [], update_keys._true_places
    monkeypatch.setattr(update_keys, "_true_places",
                        lambda xp, mask: seen.append(mask.ndim) or real(xp, mask))
    base = R.normal(size=shape).astype(dtype)
    for mask in masks(mask_shape):
        values = R.normal(size=base[mask].shape).astype(dtype)
        want = base.copy()
        if method == "set":
            want[mask] = values
        else:
            want[mask] = UFUNCS[method](want[mask], values)
        x = xg.asarray(base)
        got = getattr(x.at[xg.asarray(mask)], method)(xg.asarray(values))
        assert got.shape == shape and got.dtype == x.dtype
        np.testing.assert_array_equal(got.numpy(), want)
        np.testing.assert_array_equal(x.numpy(), base)                 # x unchanged
        scalar = getattr(x.at[mask, ...], method)(2.5)                 # broadcast, NumPy mask
        want = base.copy()
        want[mask] = 2.5 if method == "set" else UFUNCS[method](want[mask], dtype(2.5))
        np.testing.assert_array_equal(scalar.numpy(), want)
    assert seen and set(seen) == {1}                    # the raveled mask's 1-D nonzero


@pytest.mark.parametrize("method", ["add", "multiply", "min", "max", "set"])
def test_non_contiguous_x(method):
    base = R.normal(size=(5, 7)).T                                     # (7, 5), F order
    mask = R.random((7, 5)) > 0.5
    values = R.normal(size=int(mask.sum()))
    want = base.copy()
    want[mask] = values if method == "set" else UFUNCS[method](want[mask], values)
    got = getattr(xg.asarray(base).at[mask], method)(xg.asarray(values))
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("method", ["add", "multiply", "min", "max", "set"])
def test_gradients_match_finite_differences(method):
    base = np.arange(60.0).reshape(4, 5, 3) * 0.37 - 9.0      # distinct: no tie in a step
    mask = R.random((4, 5)) > 0.5
    values = R.normal(size=(int(mask.sum()), 3)) * 3.1 + 0.05
    check_grads(lambda b, v: getattr(b.at[mask], method)(v) ** 2,
                [xg.asarray(base), xg.asarray(values)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["add", "multiply", "set"])
def test_gradients_match_pytorch(method, dtype):
    base = R.normal(size=(6, 4, 3)).astype(dtype)
    mask = R.random((6, 4)) > 0.5
    values = R.normal(size=(int(mask.sum()), 3)).astype(dtype)
    weights = R.normal(size=base.shape).astype(dtype)

    def torch_update(b, v):
        m = torch.from_numpy(mask)
        new = {"add": b[m] + v, "multiply": b[m] * v, "set": v}[method]
        return b.index_put((m,), new)

    tb, tv = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (base, values))
    want = torch.autograd.grad((torch_update(tb, tv) * torch.from_numpy(weights)).sum(),
                               (tb, tv))
    got = xg.grad(lambda b, v: xg.sum(getattr(b.at[xg.asarray(mask)], method)(v)
                                      * xg.asarray(weights)), (0, 1))(
        xg.asarray(base), xg.asarray(values))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("method", ["add", "multiply", "max", "set"])
def test_under_function_the_count_of_true_places_is_followed(method):
    def update(x):
        return getattr(x.at[x > 0], method)(x[0, 0] * 3.0)

    traced = xg.function(update)
    gradient = xg.grad(lambda x: xg.sum(update(x) ** 2))
    traced_gradient = xg.function(gradient)
    for a in ([[1.0, -1.0], [2.0, 3.0]], [[-1.0, -1.0], [3.0, -2.0]], [[1.0, 1.0], [1.0, 1.0]]):
        x = xg.asarray(a, dtype=xg.float64)
        np.testing.assert_array_equal(traced(x).numpy(), update(x).numpy())
        np.testing.assert_array_equal(traced_gradient(x).numpy(), gradient(x).numpy())


def test_under_vmap_equals_a_loop():
    mask = xg.asarray(R.random((4, 3)) > 0.5)
    batch = R.normal(size=(3, 4, 3, 2))
    mapped = xg.vmap(lambda x: x.at[mask].add(1.5))(xg.asarray(batch))
    loop = np.stack([xg.asarray(b).at[mask].add(1.5).numpy() for b in batch])
    np.testing.assert_array_equal(mapped.numpy(), loop)


def test_bad_masks_and_values_are_refused():
    x = xg.zeros((3, 4))
    with pytest.raises(IndexError, match=r"(?s)x.at\[.*\].add: the index is invalid"):
        x.at[np.ones((3, 5), bool)].add(1.0)
    with pytest.raises(ValueError, match=r"values of shape \(3,\) do not broadcast"):
        x.at[np.eye(3, 4, dtype=bool) | np.eye(3, 4, 1, dtype=bool)].add(xg.ones(3))
    # a 0-d mask and a mask after a slice keep NumPy's meaning
    np.testing.assert_array_equal(x.at[np.asarray(True)].add(1.0).numpy(), np.ones((1, 3, 4))[0])
    mask = np.array([True, False, True, True])
    want = np.zeros((3, 4))
    want[:, mask] += 2.0
    np.testing.assert_array_equal(x.at[:, mask].add(2.0).numpy(), want)


# -- integer-array keys of distinct indices -------------------------------------------------------

#: (shape of x, key, NumPy's key): one integer array, distinct once negatives wrap
DISTINCT = [((64, 32), (xg.asarray([5, 0, -1, 17]),), (np.array([5, 0, -1, 17]),)),
            ((6, 40), (slice(None), xg.asarray([[3, -2], [0, 9]])),
             (slice(None), np.array([[3, -2], [0, 9]]))),
            ((3, 4, 40), (Ellipsis, xg.asarray([39, 1])), (Ellipsis, np.array([39, 1]))),
            ((20, 3, 30), (xg.asarray([2, 7]), 1), (np.array([2, 7]), 1)),
            ((64, 32), (xg.asarray(np.zeros(0, np.int64)),), (np.zeros(0, np.int64),))]
#: repeated once wrapped: ufunc.at as before
REPEATED = [((64, 32), (xg.asarray([5, -59, 1]),), (np.array([5, -59, 1]),))]


def distinct_spy(monkeypatch):
    seen, real = [], indexed_update_rules._distinct_places
    monkeypatch.setattr(indexed_update_rules, "_distinct_places",
                        lambda *a: seen.append(real(*a)) or seen[-1])
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, key, np_key, distinct",
                         [c + (True,) for c in DISTINCT] + [c + (False,) for c in REPEATED])
@pytest.mark.parametrize("method", ["multiply", "min", "max"])
def test_distinct_indices_equal_ufunc_at(monkeypatch, method, shape, key, np_key, distinct,
                                         dtype):
    seen = distinct_spy(monkeypatch)
    base = R.normal(size=shape).astype(dtype)
    values = R.normal(size=base[np_key].shape).astype(dtype)
    for x in (base, np.asfortranarray(base)):
        want = x.copy()
        UFUNCS[method].at(want, np_key, values)
        got = getattr(xg.asarray(x).at[key], method)(xg.asarray(values))
        np.testing.assert_array_equal(got.numpy(), want)
    assert set(seen) == {distinct}


@pytest.mark.parametrize("shape, key, np_key", DISTINCT + REPEATED)
def test_distinct_multiply_gradients_match_finite_differences(shape, key, np_key):
    base = R.normal(size=shape)
    values = R.normal(size=base[np_key].shape)
    check_grads(lambda b, v: b.at[key].multiply(v) ** 2, [xg.asarray(base), xg.asarray(values)])
    check_grads(lambda b, v: b.at[key].max(v) * 3.0, [xg.asarray(base), xg.asarray(values)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_distinct_multiply_gradients_match_pytorch(monkeypatch, dtype):
    seen = distinct_spy(monkeypatch)
    base = R.normal(size=(64, 48)).astype(dtype)
    rows = R.permutation(64)[:20] - 32                        # negatives too
    values = R.normal(size=(20, 48)).astype(dtype)
    weights = R.normal(size=base.shape).astype(dtype)
    tb, tv = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (base, values))
    index = torch.from_numpy(rows)
    want = torch.autograd.grad((tb.index_put((index,), tb[index] * tv)
                                * torch.from_numpy(weights)).sum(), (tb, tv))
    got = xg.grad(lambda b, v: xg.sum(b.at[xg.asarray(rows)].multiply(v) * xg.asarray(weights)),
                  (0, 1))(xg.asarray(base), xg.asarray(values))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-6, atol=1e-6)
    assert seen and all(seen)


def test_distinct_multiply_second_order_and_under_function():
    base, values = R.normal(size=(40, 20)), R.normal(size=(3, 20))
    rows = xg.asarray([4, -1, 0])
    check_grads(lambda b, v: b.at[rows].multiply(v), [xg.asarray(base), xg.asarray(values)],
                order=2)
    grad = xg.grad(lambda b, v, i: xg.sum(xg.sin(b.at[i].multiply(v))), (0, 1))
    traced = xg.function(grad)
    for index in ([4, -1, 0], [4, 4, 0], [1, 2, 3]):          # distinct, repeated, distinct
        args = xg.asarray(base), xg.asarray(values), xg.asarray(index)
        for got, want in zip(traced(*args), grad(*args)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_out_of_range_indices_are_refused():
    with pytest.raises(IndexError, match=r"(?s)x.at\[.*\].multiply: the index is invalid"):
        xg.zeros((64, 32)).at[xg.asarray([1, 64])].multiply(2.0)
