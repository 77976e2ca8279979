"""NumPy's and JAX's functions a JAX user reaches for: ``median``, ``quantile``/``percentile``
(five methods) and their ``nan*`` twins, ``nansum``, ``nanmean``, ``average``, ``isclose``,
``allclose``, ``sinc``, ``nan_to_num``, ``inner``. Values against NumPy, gradients against
float64 finite differences and PyTorch, and against JAX where it is installed."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.testing import check_grads

R = np.random.default_rng(8)
A = R.normal(size=(4, 5, 3))            # distinct values: order statistics are smooth here
A_NAN = A.copy()
A_NAN[1, 2, 0] = A_NAN[3, 0, 2] = np.nan
A_NAN[2, :, 1] = np.nan                 # an all-NaN slice along axis 1
Q = np.array([0.0, 0.15, 0.5, 0.8, 1.0])
METHODS = ["linear", "lower", "higher", "nearest", "midpoint"]


def quiet(fn, *args, **kwargs):
    """NumPy's result, without its all-NaN-slice RuntimeWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


# -- order statistics ---------------------------------------------------------------------------

@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("method", METHODS)
def test_quantiles_match_numpy(method, axis):
    for keepdims in (False, True):
        for ours, theirs, data in ((xg.quantile, np.quantile, A), (xg.quantile, np.quantile, A_NAN),
                                   (xg.nanquantile, np.nanquantile, A_NAN)):
            got = ours(xg.asarray(data), Q, axis=axis, method=method, keepdims=keepdims)
            want = quiet(theirs, data, Q, axis=axis, method=method, keepdims=keepdims)
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-13)
        got = xg.percentile(xg.asarray(A), 30.0, axis=axis, method=method, keepdims=keepdims)
        np.testing.assert_allclose(got.numpy(), np.percentile(A, 30.0, axis=axis, method=method,
                                                              keepdims=keepdims), rtol=1e-13)


@pytest.mark.parametrize("axis", [None, 1, (1, 2)])
def test_medians_match_numpy(axis):
    for keepdims in (False, True):
        np.testing.assert_allclose(xg.median(xg.asarray(A), axis=axis, keepdims=keepdims).numpy(),
                                   np.median(A, axis=axis, keepdims=keepdims))
        np.testing.assert_allclose(
            xg.nanmedian(xg.asarray(A_NAN), axis=axis, keepdims=keepdims).numpy(),
            quiet(np.nanmedian, A_NAN, axis=axis, keepdims=keepdims))
        np.testing.assert_allclose(
            xg.nanpercentile(xg.asarray(A_NAN), [10, 90], axis=axis, keepdims=keepdims).numpy(),
            quiet(np.nanpercentile, A_NAN, [10, 90], axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("method", ["linear", "midpoint", "nearest"])
def test_quantile_gradients_match_finite_differences(method):
    check_grads(lambda a: xg.quantile(a, [0.2, 0.5, 0.9], axis=1, method=method), [A])
    check_grads(lambda a: xg.median(a, axis=(0, 2)), [A])
    check_grads(lambda a: xg.nanquantile(a, [0.3, 0.7], axis=0, method=method),
                [np.where(np.isnan(A_NAN), 0.0, A_NAN)])


@pytest.mark.parametrize("method", METHODS)
def test_quantile_gradients_match_pytorch(method):
    for ours, theirs, data in ((xg.quantile, torch.quantile, A),
                               (xg.nanquantile, torch.nanquantile, A_NAN)):
        weights = R.normal(size=(len(Q), 4, 3))
        t = torch.tensor(data, requires_grad=True)
        (theirs(t, torch.tensor(Q), dim=1, interpolation=method)
         * torch.tensor(weights)).nansum().backward()
        x = xg.asarray(data)
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.nansum(ours(x, Q, axis=1, method=method) * xg.asarray(weights))
        np.testing.assert_allclose(tape.gradient(y, x).numpy(), t.grad.numpy(), atol=1e-15)


def test_nan_entries_and_all_nan_slices_get_no_gradient():
    x = xg.asarray(A_NAN)
    grads = [xg.grad(lambda a: xg.nansum(fn(a, axis=1)))(x).numpy()
             for fn in (xg.nanmedian, xg.nansum, xg.nanmean)]
    for g in grads:
        assert np.all(g[np.isnan(A_NAN)] == 0.0) and np.all(np.isfinite(g))
    np.testing.assert_allclose(grads[1], np.where(np.isnan(A_NAN), 0.0, 1.0))


def test_order_statistics_refuse_bad_input():
    x = xg.asarray(A)
    with pytest.raises(ValueError, match=r"quantile: q must be in \[0, 1\]"):
        xg.quantile(x, 1.5)
    with pytest.raises(ValueError, match=r"percentile: q must be in \[0, 1\] \(percentiles in "
                                         r"\[0, 100\]\)"):
        xg.percentile(x, -1)
    with pytest.raises(ValueError, match="q must be a number or 1-D, got 2 dimensions"):
        xg.quantile(x, [[0.5]])
    with pytest.raises(ValueError, match="method must be one of 'linear'"):
        xg.quantile(x, 0.5, method="inverted_cdf")
    with pytest.raises(ValueError, match="empty axis"):
        xg.median(xg.zeros((2, 0)), axis=1)
    with pytest.raises(TypeError, match="a must be real numbers, got dtype complex128"):
        xg.median(xg.asarray([1j], dtype=xg.complex128))
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        xg.median(x, axis=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'dim'"):
        xg.median(x, dim=0)


def test_order_statistics_match_jax(jax):
    jnp = jax.numpy
    for method in METHODS:
        # (no position halfway between two values: there "nearest" takes the even one, as
        # NumPy, and JAX the lower one)
        q = np.array([0.0, 0.1, 0.4, 0.9, 1.0])
        np.testing.assert_allclose(xg.quantile(xg.asarray(A), q, axis=0, method=method).numpy(),
                                   jnp.quantile(jnp.asarray(A), q, axis=0, method=method),
                                   rtol=1e-13)
    np.testing.assert_allclose(xg.nanmedian(xg.asarray(A_NAN), axis=1).numpy(),
                               jnp.nanmedian(jnp.asarray(A_NAN), axis=1))
    want = jax.grad(lambda a: jnp.sum(jnp.median(a, axis=1) ** 2))(jnp.asarray(A))
    got = xg.grad(lambda a: xg.sum(xg.median(a, axis=1) ** 2))(xg.asarray(A))
    np.testing.assert_allclose(got.numpy(), np.asarray(want))


# -- NaN-skipping reductions and average --------------------------------------------------------

@pytest.mark.parametrize("axis", [None, 0, (1, 2)])
def test_nan_reductions_match_numpy_and_pytorch(axis):
    x = xg.asarray(A_NAN)
    for name in ("nansum", "nanmean", "nanmax", "nanmin", "nanprod"):
        np.testing.assert_allclose(getattr(xg, name)(x, axis=axis, keepdims=True).numpy(),
                                   quiet(getattr(np, name), A_NAN, axis=axis, keepdims=True))
    dims = None if axis is None else axis
    for name in ("nansum", "nanmean"):
        t = torch.tensor(A_NAN, requires_grad=True)
        out = getattr(torch, name)(t) if dims is None else getattr(torch, name)(t, dim=dims)
        torch.nansum(out * 1.5).backward()
        got = xg.grad(lambda a: xg.nansum(getattr(xg, name)(a, axis=axis) * 1.5))(x)
        np.testing.assert_allclose(got.numpy(), t.grad.numpy())
    check_grads(lambda a: xg.nanmean(a, axis=axis), [np.where(np.isnan(A_NAN), 1.0, A_NAN)])
    assert xg.nansum(xg.asarray([1, 2], dtype=xg.int32), dtype=xg.float64).dtype == xg.float64


def test_average_matches_numpy_and_finite_differences():
    w3 = R.uniform(0.5, 2.0, size=3)
    w_full = R.uniform(0.5, 2.0, size=A.shape)
    cases = [dict(axis=2, weights=w3), dict(axis=None, weights=w_full), dict(axis=1),
             dict(axis=(0, 2), weights=R.uniform(0.5, 2.0, size=(4, 3)))]
    for kw in cases:
        ours = {k: xg.asarray(v) if k == "weights" else v for k, v in kw.items()}
        got, total = xg.average(xg.asarray(A), returned=True, **ours)
        want, want_total = np.average(A, returned=True, **kw)
        np.testing.assert_allclose(got.numpy(), want)
        np.testing.assert_allclose(total.numpy(), want_total)
    check_grads(lambda a, w: xg.average(a, axis=2, weights=w), [A, w3])
    check_grads(lambda a, w: xg.average(a, weights=w, keepdims=True), [A, w_full])


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [1, 2])
def test_average_with_weights_along_an_axis_matches_torch(keepdims, axis):
    """Weights along the reduced axis are summed once (not once per result entry): values,
    the returned total and both gradients as PyTorch's ``(x * w).sum(1) / w.sum()`` (along
    the last axis, a matrix-vector product)."""
    torch = pytest.importorskip("torch")
    x, w = R.normal(size=(6, 5, 7)), R.uniform(0.5, 2.0, size=(5, 7)[axis - 1])
    shape = [6, 5, 7]
    shape[axis] = 1
    g = R.normal(size=tuple(shape) if keepdims else tuple(n for i, n in enumerate(shape)
                                                           if i != axis))
    xt, wt = xg.asarray(x), xg.asarray(w)
    with xg.GradientTape() as tape:
        tape.watch([xt, wt])
        got, total = xg.average(xt, axis=axis, weights=wt, keepdims=keepdims, returned=True)
    dx, dw = tape.gradient(got, [xt, wt], output_gradients=xg.asarray(g))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    along = tw[None, :, None] if axis == 1 else tw[None, None, :]
    want = (tx * along).sum(axis, keepdim=keepdims) / tw.sum()
    want.backward(torch.tensor(g))
    assert got.shape == total.shape == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(total.numpy(), np.full(got.shape, w.sum()), rtol=1e-15)
    np.testing.assert_allclose(dx.numpy(), tx.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(dw.numpy(), tw.grad.numpy(), rtol=1e-12)


INTS = np.array([[3, 1, 4, 1], [5, 9, 2, 6]], dtype=np.int32)


@pytest.mark.parametrize("name, ours, numpys", [
    ("median", lambda a: xg.median(a, axis=1), lambda a: np.median(a, axis=1)),
    ("nanmedian", lambda a: xg.nanmedian(a), np.nanmedian),
    ("quantile", lambda a: xg.quantile(a, [0.25, 0.9], axis=0),
     lambda a: np.quantile(a, [0.25, 0.9], axis=0)),
    ("nanquantile", lambda a: xg.nanquantile(a, 0.3), lambda a: np.nanquantile(a, 0.3)),
    ("percentile", lambda a: xg.percentile(a, 40, axis=1), lambda a: np.percentile(a, 40, axis=1)),
    ("nanpercentile", lambda a: xg.nanpercentile(a, 75), lambda a: np.nanpercentile(a, 75)),
    ("nanmean", lambda a: xg.nanmean(a, axis=0), lambda a: np.nanmean(a, axis=0)),
    ("average", lambda a: xg.average(a, axis=1), lambda a: np.average(a, axis=1)),
    ("average weights", lambda a: xg.average(a, axis=1, weights=xg.asarray([1, 2, 0, 1])),
     lambda a: np.average(a, axis=1, weights=[1, 2, 0, 1])),
])
def test_integer_input_gives_means_float_dtype(name, ours, numpys):
    x = xg.asarray(INTS)
    got = ours(x)
    assert got.dtype == xg.mean(x).dtype == xg.float32, name     # not NumPy's float64
    np.testing.assert_allclose(got.numpy(), numpys(INTS), rtol=1e-6)


def test_average_refuses_weights_of_another_shape():
    with pytest.raises(ValueError, match=r"average: weights of shape \(3,\) differ from a's "
                                         r"\(4, 5, 3\); give axis="):
        xg.average(xg.asarray(A), weights=xg.ones(3))
    with pytest.raises(ValueError,
                       match=r"weights of shape \(4,\) fit neither .* axis=2 \(\(3,\)\)"):
        xg.average(xg.asarray(A), axis=2, weights=xg.ones(4))
    with pytest.raises(TypeError, match="returned must be"):
        xg.average(xg.asarray(A), returned="yes")


ROWS = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0], [-5.0, 1.0]])


@pytest.mark.parametrize("axis, weights", [(None, [[1.0, -1.0]] * 4), (1, [1.0, -1.0]),
                                           (0, [1.0, -1.0, 2.0, -2.0])])
def test_average_with_weights_summing_to_zero_raises_as_numpy(axis, weights):
    with pytest.raises(ZeroDivisionError, match="[Ww]eights sum to zero"):
        np.average(ROWS, axis=axis, weights=weights)
    before = xg.asarray(ROWS)
    with pytest.raises(ZeroDivisionError, match=r"average: weights sum to zero, can't be "
                                                r"normalized"):
        xg.average(before, axis=axis, weights=xg.asarray(weights))
    with pytest.raises(ZeroDivisionError, match="weights sum to zero"):
        xg.vmap(lambda row: xg.average(row, weights=xg.asarray([1.0, -1.0])))(before)


def test_average_with_weights_summing_to_zero_under_xg_function_is_quiet_arithmetic():
    step = xg.function(lambda a, w: xg.average(a, axis=1, weights=w))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for w in ([1.0, 1.0], [1.0, -1.0], [2.0, -1.0], [-3.0, 3.0]):
            w = np.array(w)
            with np.errstate(all="ignore"):
                want = (ROWS * w).sum(axis=1) / w.sum()       # NumPy's division: NaN, +-inf
            np.testing.assert_array_equal(step(xg.asarray(ROWS), xg.asarray(w)).numpy(), want)


def test_nan_reductions_and_average_match_jax(jax):
    jnp = jax.numpy
    np.testing.assert_allclose(xg.nanmean(xg.asarray(A_NAN), axis=0).numpy(),
                               jnp.nanmean(jnp.asarray(A_NAN), axis=0))
    w = R.uniform(0.5, 2.0, size=3)
    want = jax.grad(lambda a, w: jnp.sum(jnp.average(a, axis=2, weights=w) ** 2), (0, 1))(
        jnp.asarray(A), jnp.asarray(w))
    got = xg.grad(lambda a, w: xg.sum(xg.average(a, axis=2, weights=w) ** 2), (0, 1))(
        xg.asarray(A), xg.asarray(w))
    for g, v in zip(got, want):
        np.testing.assert_allclose(g.numpy(), np.asarray(v))
    want = jax.grad(lambda a: jnp.nansum(jnp.nanmean(a, axis=1) ** 2))(jnp.asarray(A_NAN))
    got = xg.grad(lambda a: xg.nansum(xg.nanmean(a, axis=1) ** 2))(xg.asarray(A_NAN))
    np.testing.assert_allclose(got.numpy(), np.asarray(want))


# -- isclose, allclose, nan_to_num, sinc, inner ------------------------------------------------

SPECIAL = np.array([0.0, 1.0, np.inf, -np.inf, np.nan, 1e-9, 1e8])


def test_isclose_and_allclose_match_numpy():
    a, b = SPECIAL[:, None], SPECIAL[None, :] * (1 + 1e-6)
    for kw in ({}, dict(rtol=1e-7, atol=0.0), dict(equal_nan=True), dict(atol=2.0)):
        np.testing.assert_array_equal(xg.isclose(xg.asarray(a), xg.asarray(b), **kw).numpy(),
                                      np.isclose(a, b, **kw))
    np.testing.assert_array_equal(xg.isclose(xg.asarray([1, 2]), 1).numpy(),
                                  np.isclose([1, 2], 1))
    same = xg.allclose(xg.asarray(A), xg.asarray(A + 1e-9))
    assert isinstance(same, xg.Tensor) and same.ndim == 0 and same.dtype == xg.bool and bool(same)
    assert not bool(xg.allclose(xg.asarray(A_NAN), xg.asarray(A_NAN)))
    assert bool(xg.allclose(xg.asarray(A_NAN), xg.asarray(A_NAN), equal_nan=True))
    with pytest.raises(ValueError, match="isclose: rtol must be a non-negative number"):
        xg.isclose(xg.asarray(A), 1.0, rtol=-1.0)


def test_allclose_returns_what_jax_returns(jax):
    jnp = jax.numpy
    want = jnp.allclose(jnp.asarray(A), jnp.asarray(A + 1e-9))
    got = xg.allclose(xg.asarray(A), xg.asarray(A + 1e-9))
    assert np.shape(want) == got.shape == () and bool(want) == bool(got)
    np.testing.assert_array_equal(xg.isclose(xg.asarray(SPECIAL), 0.0).numpy(),
                                  np.asarray(jnp.isclose(jnp.asarray(SPECIAL), 0.0)))


def test_nan_to_num_matches_numpy_and_pytorch_gradient():
    np.testing.assert_array_equal(xg.nan_to_num(xg.asarray(SPECIAL)).numpy(),
                                  np.nan_to_num(SPECIAL))
    kw = dict(nan=-1.0, posinf=5.0, neginf=-5.0)
    np.testing.assert_array_equal(xg.nan_to_num(xg.asarray(SPECIAL), **kw).numpy(),
                                  np.nan_to_num(SPECIAL, **kw))
    f32 = SPECIAL.astype(np.float32)
    np.testing.assert_array_equal(xg.nan_to_num(xg.asarray(f32)).numpy(), np.nan_to_num(f32))
    z = SPECIAL.astype(complex)
    z.imag = SPECIAL[::-1]
    np.testing.assert_array_equal(xg.nan_to_num(xg.asarray(z)).numpy(), np.nan_to_num(z))
    assert xg.nan_to_num(xg.asarray([1, 2])).tolist() == [1, 2]
    t = torch.tensor(SPECIAL, requires_grad=True)
    (torch.nan_to_num(t, **kw) * torch.arange(7.0)).sum().backward()
    got = xg.grad(lambda x: xg.sum(xg.nan_to_num(x, **kw) * xg.arange(7.0)))(
        xg.asarray(SPECIAL))
    np.testing.assert_array_equal(got.numpy(), t.grad.numpy())
    with pytest.raises(TypeError, match="nan_to_num: posinf must be a real number or None"):
        xg.nan_to_num(xg.asarray(SPECIAL), posinf="big")


def test_sinc_matches_numpy_and_its_gradient_at_zero_is_exact():
    x = np.array([-2.5, -1.0, -1e-3, 0.0, 1e-3, 0.3, 4.0])
    np.testing.assert_allclose(xg.sinc(xg.asarray(x)).numpy(), np.sinc(x), rtol=1e-15)
    t = torch.tensor(x, requires_grad=True)
    torch.sinc(t).sum().backward()
    got = xg.grad(lambda v: xg.sum(xg.sinc(v)))(xg.asarray(x))
    # (near 0 xg.special.sinc sums its Taylor series to x^6: 4e-12 relative at x = 1e-3)
    np.testing.assert_allclose(got.numpy(), t.grad.numpy(), rtol=1e-11, atol=1e-15)
    zero = xg.asarray(0.0, dtype=xg.float64)
    assert xg.grad(xg.sinc)(zero).item() == 0.0
    np.testing.assert_allclose(xg.grad(xg.grad(xg.sinc))(zero).item(), -np.pi ** 2 / 3)
    check_grads(xg.sinc, [x], order=2)


def test_inner_matches_numpy_and_pytorch():
    a, b = R.normal(size=(2, 3, 4)), R.normal(size=(5, 4))
    np.testing.assert_allclose(xg.inner(xg.asarray(a), xg.asarray(b)).numpy(), np.inner(a, b))
    np.testing.assert_allclose(xg.inner(xg.asarray(a), 2.0).numpy(), np.inner(a, 2.0))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (torch.inner(ta, tb) ** 2).sum().backward()
    ga, gb = xg.grad(lambda x, y: xg.sum(xg.inner(x, y) ** 2), (0, 1))(xg.asarray(a),
                                                                         xg.asarray(b))
    np.testing.assert_allclose(ga.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(gb.numpy(), tb.grad.numpy())
    check_grads(lambda x, y: xg.inner(x, y), [a[0], b])
    with pytest.raises(ValueError, match=r"inner: the last axes of a \(2, 3, 4\) and b \(3,\) "
                                         r"differ in size \(4 != 3\)"):
        xg.inner(xg.asarray(a), xg.ones(3))


# -- order statistics under xg.function and xg.vmap (a Tensor q, per-slice NaN counts) -----------

@pytest.mark.parametrize("fn", ["quantile", "nanquantile"])
def test_order_statistics_replay_under_function_with_a_tensor_q(fn):
    traced = xg.function(lambda x, q: getattr(xg, fn)(x, q, axis=1))
    for q in ([0.2, 0.5], [0.9, 1.0]):                # same shapes: the second call replays
        got = traced(xg.asarray(A_NAN[0]), xg.asarray(q, dtype=xg.float64))
        np.testing.assert_allclose(got.numpy(), getattr(np, fn)(A_NAN[0], q, axis=1))
    median = xg.function(lambda x: xg.nanmedian(x, axis=1))
    for a in (A_NAN, A_NAN[::-1] * 2.0):
        np.testing.assert_allclose(median(xg.asarray(a)).numpy(),
                                   quiet(np.nanmedian, a, axis=1), equal_nan=True)


def test_order_statistics_under_vmap_match_a_loop():
    x = xg.asarray(A_NAN)
    for fn in (lambda a: xg.nanmedian(a, axis=0), lambda a: xg.nanquantile(a, 0.3, axis=1)):
        np.testing.assert_allclose(xg.vmap(fn)(x).numpy(),
                                   np.stack([fn(x[i]).numpy() for i in range(4)]),
                                   equal_nan=True)
    q = xg.asarray([0.1, 0.5, 0.9], dtype=xg.float64)
    np.testing.assert_allclose(xg.vmap(lambda q: xg.quantile(xg.asarray(A), q))(q).numpy(),
                               np.quantile(A, q.numpy()))


def test_a_tensor_q_outside_0_1_is_refused_or_nan_where_unread():
    with pytest.raises(ValueError, match="q must be in"):
        xg.quantile(xg.asarray(A), xg.asarray([1.5]))
    traced = xg.function(lambda x, q: xg.quantile(x, q))
    traced(xg.asarray(A), xg.asarray([0.5, 0.5], dtype=xg.float64))
    got = traced(xg.asarray(A), xg.asarray([-0.5, 1.5], dtype=xg.float64))   # replayed
    assert np.isnan(got.numpy()).all()


def test_quantile_gradient_in_q_matches_jax(jax):
    import jax.numpy as jnp

    for method in METHODS:
        ours = xg.grad(lambda q: xg.sum(xg.quantile(xg.asarray(A), q, axis=1, method=method)))(
            xg.asarray([0.3, 0.77], dtype=xg.float64))
        theirs = jax.grad(lambda q: jnp.sum(jnp.quantile(A, q, axis=1, method=method)))(
            jnp.asarray([0.3, 0.77]))
        np.testing.assert_allclose(ours.numpy(), np.asarray(theirs), rtol=1e-12)
