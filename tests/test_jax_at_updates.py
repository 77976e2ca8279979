"""``x.at[key].set / add / subtract / multiply / divide / min / max / get``: JAX's functional
indexed updates. Values against NumPy's ``ufunc.at`` and setitem, gradients against float64
finite differences and PyTorch's ``index_put`` / ``scatter_reduce`` (which split ties evenly,
as JAX), and against JAX where it is installed."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.testing import check_grads

R = np.random.default_rng(3)
BASE = R.normal(size=(5, 3))
#: (key, NumPy's key) pairs: basic, negative, advanced with repeats, mixed, masks, newaxis
KEYS = [
    (1, 1),
    (-1, -1),
    ((slice(1, 4), 0), (slice(1, 4), 0)),
    (xg.asarray([0, 3, 0, -1]), np.array([0, 3, 0, -1])),
    ((xg.asarray([4, 1, 4]), slice(None, 2)), (np.array([4, 1, 4]), slice(None, 2))),
    ((xg.asarray([0, 2, 0]), xg.asarray([1, 1, 1])), (np.array([0, 2, 0]), np.array([1, 1, 1]))),
    (xg.asarray(BASE[:, 0] > 0), BASE[:, 0] > 0),
    ((None, slice(2, None)), (None, slice(2, None))),
]
UFUNCS = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}


def region_shape(np_key):
    return BASE[np_key].shape


def values_for(np_key, seed=0):
    return np.random.default_rng(seed).normal(size=region_shape(np_key))


@pytest.mark.parametrize("key,np_key", KEYS)
@pytest.mark.parametrize("method", ["add", "multiply", "min", "max"])
def test_combining_updates_match_numpy_ufunc_at(method, key, np_key):
    values = values_for(np_key)
    want = BASE.copy()
    UFUNCS[method].at(want, np_key, values)
    x = xg.asarray(BASE)
    got = getattr(x.at[key], method)(xg.asarray(values))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    np.testing.assert_array_equal(x.numpy(), BASE)            # the original is unchanged


@pytest.mark.parametrize("key,np_key", KEYS)
def test_set_matches_numpy_setitem_and_get_matches_indexing(key, np_key):
    values = values_for(np_key)
    want = BASE.copy()
    want[np_key] = values          # NumPy's order: of repeated indices the last write wins
    x = xg.asarray(BASE)
    np.testing.assert_array_equal(x.at[key].set(xg.asarray(values)).numpy(), want)
    np.testing.assert_array_equal(x.at[key].get().numpy(), BASE[np_key])
    np.testing.assert_array_equal(x.numpy(), BASE)


def test_values_broadcast_and_subtract_divide_are_add_and_multiply():
    x = xg.asarray(BASE)
    row = xg.asarray([1.0, 2.0, 4.0])
    idx = xg.asarray([0, 0, 2])
    want = BASE.copy()
    np.add.at(want, np.array([0, 0, 2]), -np.array([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(x.at[idx].subtract(row).numpy(), want)
    want = BASE.copy()
    np.multiply.at(want, np.array([0, 0, 2]), 1 / np.array([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(x.at[idx].divide(row).numpy(), want)
    np.testing.assert_array_equal(x.at[:, 1].set(7.0).numpy()[:, 1], np.full(5, 7.0))
    assert x.at[1].add(1).dtype == xg.float64          # values take x's dtype
    assert xg.arange(4).at[1].add(2).tolist() == [0, 3, 2, 3]


@pytest.mark.parametrize("key,np_key", KEYS)
@pytest.mark.parametrize("method", ["set", "add", "multiply", "min", "max"])
def test_gradients_match_finite_differences(method, key, np_key):
    # distinct magnitudes so no tie sits within a finite-difference step
    base = np.arange(15.0).reshape(5, 3) * 0.37 - 2.0
    values = values_for(np_key, seed=1) * 3.1 + 0.05
    check_grads(lambda b, v: getattr(b.at[key], method)(v) ** 2,
                [xg.asarray(base), xg.asarray(values)])


def test_repeated_multiply_gradient_handles_zeros():
    idx = xg.asarray([1, 1, 1, 2])
    for values in ([2.0, 0.0, 3.0, 5.0], [0.0, 0.0, 3.0, 0.0], [1.5, -2.0, 0.5, 4.0]):
        check_grads(lambda b, v: b.at[idx].multiply(v) * xg.asarray([1.0, 2.0, 3.0, 4.0]),
                    [np.array([0.3, -1.2, 2.0, 0.7]), np.array(values)])


def torch_scatter(method, base, index, values):
    """``base`` updated along axis 0 at ``index`` (1-D) by PyTorch."""
    index = torch.as_tensor(index)
    if method == "add":
        return base.index_put((index,), values, accumulate=True)
    if method == "set":
        return base.index_put((index,), values)
    reduce = {"multiply": "prod", "min": "amin", "max": "amax"}[method]
    return base.scatter_reduce(0, index, values, reduce, include_self=True)


@pytest.mark.parametrize("method", ["add", "multiply", "min", "max", "set"])
def test_gradients_with_repeats_and_ties_match_pytorch(method):
    index = np.array([1, 1, 2, 0, 2])
    if method == "set":
        index = np.array([1, 3, 2, 0, 4])     # PyTorch leaves repeated puts unspecified
    base = np.array([1.0, 5.0, 3.0, 4.0, -2.0])
    values = np.array([2.0, 5.0, 3.0, 0.0, 1.5])       # ties with base at 1 and at 2
    weights = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    tb = torch.tensor(base, requires_grad=True)
    tv = torch.tensor(values, requires_grad=True)
    t_out = torch_scatter(method, tb, index, tv)
    (t_out * torch.tensor(weights)).sum().backward()
    xb, xv = xg.asarray(base), xg.asarray(values)
    with xg.GradientTape() as tape:
        tape.watch([xb, xv])
        out = getattr(xb.at[xg.asarray(index)], method)(xv)
        loss = xg.sum(out * xg.asarray(weights))
    gb, gv = tape.gradient(loss, [xb, xv])
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy())
    np.testing.assert_allclose(gb.numpy(), tb.grad.numpy())
    np.testing.assert_allclose(gv.numpy(), tv.grad.numpy())


def test_repeated_set_gradient_goes_to_the_write_that_landed():
    x = xg.asarray(np.zeros(3))
    v = xg.asarray(np.array([1.0, 2.0, 3.0]))
    f = lambda x, v: xg.sum(x.at[xg.asarray([1, 1, 1])].set(v) * xg.asarray([1.0, 10.0, 100.0]))
    assert x.at[xg.asarray([1, 1, 1])].set(v).tolist() == [0.0, 3.0, 0.0]
    gx, gv = xg.grad(f, argnums=(0, 1))(x, v)
    assert gx.tolist() == [1.0, 0.0, 100.0] and gv.tolist() == [0.0, 0.0, 10.0]


def test_second_order_gradients_match_finite_differences():
    idx = xg.asarray([3, 0, 4])
    for method in ("add", "multiply", "max", "set"):
        check_grads(lambda b, v: getattr(b.at[idx, 1:], method)(v) ** 3,
                    [xg.asarray(BASE), xg.asarray(values_for((np.array([3, 0, 4]),
                                                             slice(1, None)), seed=2))], order=2)
    with pytest.raises(NotImplementedError, match="repeated indices"):
        xg.hessian(lambda v: xg.sum(xg.asarray(BASE[:, 0]).at[xg.asarray([1, 1])].multiply(v)
                                    ** 3))(xg.asarray([1.0, 2.0]))


def test_bad_input_is_refused_with_the_argument_named():
    x = xg.asarray(BASE)
    with pytest.raises(ValueError, match=r"values of shape \(4,\) do not broadcast to the "
                                         r"shape \(3,\)"):
        x.at[0].add(xg.ones(4, dtype=xg.float64))
    with pytest.raises(IndexError, match=r"x.at\[7\].set: the index is invalid .*JAX drops"):
        x.at[7].set(1.0)
    with pytest.raises(IndexError, match="invalid index|only integers"):
        x.at[1.5].add(1.0)
    with pytest.raises(ValueError, match="mode='drop' is not supported"):
        x.at[0].add(1.0, mode="drop")
    with pytest.raises(TypeError, match="unexpected keyword argument 'axis'"):
        x.at[0].max(1.0, axis=0)
    with pytest.raises(TypeError, match=r"at\[...\].set\(values\).*string"):
        x.at[0].set("a")
    with pytest.raises(TypeError, match=r"divide: x has dtype int64.*truncated"):
        xg.asarray([3, -3]).at[xg.asarray([0, 0, 1])].divide(2)   # was 3 * 0.5 cast: 0, -1
    x.at[0].add(1.0, indices_are_sorted=True, unique_indices=True)   # JAX's hints are taken


def test_at_matches_jax():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    with jax.enable_x64(True):
        index = np.array([1, 1, 2, 0, 2, -1])
        base = R.normal(size=(5, 2))
        values = R.normal(size=(6, 2))
        values[1] = base[1]                         # a tie
        weights = R.normal(size=(5, 2))
        for method in ("set", "add", "min", "max", "subtract"):
            def jf(b, v):
                return jnp.sum(getattr(b.at[index], method)(v) * weights)

            def xf(b, v):
                return xg.sum(getattr(b.at[xg.asarray(index)], method)(v) * xg.asarray(weights))

            want = jax.grad(jf, argnums=(0, 1))(jnp.asarray(base), jnp.asarray(values))
            got = xg.grad(xf, argnums=(0, 1))(xg.asarray(base), xg.asarray(values))
            np.testing.assert_allclose(xf(xg.asarray(base), xg.asarray(values)).item(),
                                       float(jf(jnp.asarray(base), jnp.asarray(values))))
            for g, w in zip(got, want):
                np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-12)
        unique = np.array([3, 0, 4])         # JAX differentiates multiply with unique indices
        want = jax.grad(lambda b, v: jnp.sum(b.at[unique].multiply(v, unique_indices=True)
                                             * weights), (0, 1))(jnp.asarray(base),
                                                                 jnp.asarray(values[:3]))
        got = xg.grad(lambda b, v: xg.sum(b.at[xg.asarray(unique)].multiply(v)
                                          * xg.asarray(weights)), (0, 1))(
            xg.asarray(base), xg.asarray(values[:3]))
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-12)


@pytest.mark.parametrize("method", ["multiply", "divide", "min", "max"])
def test_repeated_integer_indices_under_function_and_vmap(method):
    """No ``ufunc.at`` there (a trace, a batching namespace): the repeats are combined by a
    sort-based reduction; values and gradients equal the eager ones."""
    values = R.uniform(0.5, 2.0, size=(4, 3))
    grad = xg.grad(lambda x, v, i: xg.sum(xg.sin(getattr(x.at[i], method)(v))), argnums=(0, 1))
    traced = xg.function(grad)
    for index in ([0, 2, 0, 4], [1, 1, 1, 3], [4, 3, 2, 1]):     # one trace, then replays
        args = xg.asarray(BASE), xg.asarray(values), xg.asarray(index)
        for got, want in zip(traced(*args), grad(*args)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    batch_x, batch_v = R.normal(size=(2, 5, 3)), R.uniform(0.5, 2.0, size=(2, 4, 3))
    index = xg.asarray([0, 2, 0, 4])
    mapped = xg.vmap(lambda x, v: getattr(x.at[index], method)(v))
    loop = [getattr(xg.asarray(batch_x[b]).at[index], method)(xg.asarray(batch_v[b])).numpy()
            for b in range(2)]
    np.testing.assert_allclose(mapped(xg.asarray(batch_x), xg.asarray(batch_v)).numpy(),
                               np.stack(loop), rtol=1e-12)


def test_repeated_min_max_of_integers_and_booleans_under_function():
    ints = xg.function(lambda x, v: x.at[xg.asarray([0, 0, 1])].min(v))
    flags = xg.function(lambda x, v: x.at[xg.asarray([0, 0, 1])].max(v))
    for _ in range(2):
        assert ints(xg.asarray([4, 5, 6]), xg.asarray([3, 9, -5])).tolist() == [3, -5, 6]
        assert flags(xg.asarray([False, False, True]),
                     xg.asarray([True, False, False])).tolist() == [True, False, True]


@pytest.mark.parametrize("method", ["set", "add", "multiply", "min", "max"])
def test_mask_updates_under_function_follow_the_count_of_true_places(method):
    """A mask's count sizes ``x[mask]``: a replay with another count (it raised IndexError
    or a broadcast error) runs eagerly and traces anew."""
    def update(x):
        return getattr(x.at[x > 0], method)(x[0] * 3.0)

    traced = xg.function(update)
    gradient = xg.grad(lambda x: xg.sum(update(x) ** 2))
    traced_gradient = xg.function(gradient)
    for a in ([1.0, -1.0, 2.0], [-1.0, -1.0, 3.0], [1.0, 1.0, 1.0], [2.0, -1.0, 1.0]):
        x = xg.asarray(a, dtype=xg.float64)
        np.testing.assert_array_equal(traced(x).numpy(), update(x).numpy())
        np.testing.assert_array_equal(traced_gradient(x).numpy(), gradient(x).numpy())


# -- values that lose what x's dtype cannot hold: warned, as JAX's at[] (values as NumPy's) ------

LOSSY = [   # (x, value, NumPy's dtype of x, what the warning says)
    ([1, 2, 3], 2.7, np.int64, "floating values into a tensor of dtype int64: they are "
                               "truncated toward zero"),
    ([1, 2, 3], np.array([2.7]), np.int64, "truncated toward zero"),
    ([1, 2, 3], xg.asarray([-2.7], dtype=xg.float64), np.int64, "truncated toward zero"),
    ([1, 2, 3], [2.7], np.int64, "truncated toward zero"),
    ([True, False, False], 2, np.bool_, "integer values into a tensor of dtype bool: they are "
                                        "made their truthiness"),
    ([True, False, False], 0.5, np.bool_, "made their truthiness"),
    ([1.0, 2.0, 3.0], xg.asarray([1 + 2j]), np.float32, "discards their imaginary part"),
]


def _numpy_value(value):
    return np.asarray(value) if not isinstance(value, xg.Tensor) else value.numpy()


@pytest.mark.parametrize("x, value, np_dtype, says", LOSSY)
@pytest.mark.parametrize("method", ["set", "add", "multiply"])
def test_a_lossy_value_warns_as_jax_and_gives_numpys_cast(method, x, value, np_dtype, says):
    ours = xg.asarray(np.array(x, dtype=np_dtype))
    with pytest.warns(UserWarning, match=rf"x.at\[...\].{method}: writing .*{says}") as seen:
        got = getattr(ours.at[:1], method)(value)
    assert seen[0].filename == __file__                        # points at the user's line
    want = np.array(x, dtype=np_dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        cast = _numpy_value(value).astype(np_dtype)             # NumPy's setitem cast
    want[:1] = {"set": cast, "add": want[:1] + cast, "multiply": want[:1] * cast}[method]
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("x, value, np_dtype, says", LOSSY)
def test_setitem_warns_as_at_set_does(x, value, np_dtype, says):
    ours = xg.asarray(np.array(x, dtype=np_dtype))
    with pytest.warns(UserWarning, match=rf"x\[key\] = value: writing .*{says}") as seen:
        ours[:1] = value
    assert seen[0].filename == __file__
    assert ours.tolist() == xg.asarray(np.array(x, dtype=np_dtype)).at[:1].set(
        xg.astype(_as_tensor(value), ours.dtype)).tolist()


def test_jax_warns_for_the_same_writes():
    jax = pytest.importorskip("jax")
    # float32 -> int32, or float64 -> int64 where another test enabled jax_enable_x64
    with pytest.warns(FutureWarning, match=r"cannot safely cast value from dtype=float\d+ to "
                                           r"dtype=int\d+"):
        jax.numpy.asarray([1, 2, 3]).at[0].set(2.7)


@pytest.mark.parametrize("x, value", [
    ([1, 2, 3], 4), ([1, 2, 3], np.array([4], dtype=np.int8)), ([1, 2, 3], True),
    ([1.0, 2.0], 3), ([1.0, 2.0], xg.asarray([3], dtype=xg.int32)), ([1.0, 2.0], np.float64(3.5)),
    ([True, False], True), ([True, False], np.array([False])),
    ([1 + 1j, 2j], 2.5),
    # Python numbers another kind holds exactly: mask[i] = 1, counts[i] = 3.0
    ([True, False], 1), ([True, False], 0), ([True, False], 0.0), ([1, 2, 3], 3.0),
    ([1, 2, 3], -2.0),
])
def test_writes_within_numpys_same_kind_casts_stay_quiet(x, value):
    ours = xg.asarray(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours.at[:1].set(value)
        ours.at[:1].add(value)
        ours[:1] = value


def _as_tensor(value):
    return value if isinstance(value, xg.Tensor) else xg.asarray(value)


def test_a_python_int_a_small_dtype_cannot_hold_stays_numpys_overflowerror():
    with pytest.raises(OverflowError):
        np.zeros(2, dtype=np.uint8)[:1] = [-1]
    u = xg.asarray([1, 2], dtype=xg.uint8)
    with pytest.raises(OverflowError, match="-1 out of bounds for uint8"):
        u[:1] = [-1]
    with pytest.raises(OverflowError, match="-1 out of bounds for uint8"):
        u.at[:1].set([-1])
    assert u.tolist() == [1, 2]
