"""Statistical functions and scans: dtype=, correction=, keepdims=, complex inputs, gradients
against PyTorch and finite differences (second order, also at zeros), and the edge cases that
used to give NaN gradients."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")


def f64(a):
    return xg.asarray(np.asarray(a, dtype=np.float64))


def grad_of(fn, x):
    x = x if isinstance(x, xg.Tensor) else f64(x)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return y, tape.gradient(y, x)


def torch_grad(fn, a, w=None):
    t = torch.tensor(np.asarray(a), requires_grad=True)
    y = fn(t)
    (y if w is None else (y * torch.tensor(w)).sum()).sum().backward()
    return y.detach().numpy(), t.grad.numpy()


# -- std and var ---------------------------------------------------------------------------------

def test_std_gradient_is_zero_where_the_deviation_is_zero():
    """The known defect: std of a constant had a NaN gradient; PyTorch gives 0."""
    y, g = grad_of(xg.std, np.ones(3))
    assert y.item() == 0.0 and g.tolist() == [0.0, 0.0, 0.0]
    _, tg = torch_grad(lambda t: torch.std(t, correction=0), np.ones(3))
    np.testing.assert_array_equal(g.numpy(), tg)
    # per row: one constant row, one varying row
    a = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    _, g = grad_of(lambda x: xg.sum(xg.std(x, axis=1, correction=1)), a)
    _, tg = torch_grad(lambda t: torch.std(t, dim=1, correction=1), a)
    assert np.isfinite(g.numpy()).all()
    np.testing.assert_allclose(g.numpy(), tg, rtol=1e-12)


@pytest.mark.parametrize("correction", [0, 1, 1.5])
@pytest.mark.parametrize("axis", [None, 0, (0, 2)])
def test_std_var_match_torch(correction, axis, rng):
    a = rng.standard_normal((3, 4, 2))
    w = rng.standard_normal(np.var(a, axis=axis).shape)
    dim = axis if axis is not None else None
    for xg_fn, torch_fn in ((xg.std, torch.std), (xg.var, torch.var)):
        y, g = grad_of(lambda x: xg.sum(xg_fn(x, axis=axis, correction=correction) * f64(w)), a)
        ty, tg = torch_grad(lambda t: torch_fn(t, dim=dim, correction=correction), a, w)
        np.testing.assert_allclose(y.item(), (ty * w).sum(), rtol=1e-12)
        np.testing.assert_allclose(g.numpy(), tg, rtol=1e-10, atol=1e-12)


def test_var_std_without_degrees_of_freedom_are_nan_not_an_error():
    for fn in (xg.var, xg.std):
        y, g = grad_of(lambda x: fn(x, correction=1), np.array([2.0]))
        assert math.isnan(y.item()) and np.isnan(g.numpy()).all()
        y, g = grad_of(lambda x: fn(x, correction=3), np.array([2.0, 1.0]))
        assert math.isnan(y.item())


def test_var_std_mean_of_integers_are_float32():
    x = xg.asarray([1, 2, 3, 4], dtype=xg.int16)
    for fn in (xg.var, xg.std, xg.mean):
        assert fn(x).dtype == xg.float32
    assert xg.mean(x).item() == 2.5


def test_var_std_bad_correction():
    with pytest.raises(ValueError, match="negative"):
        xg.var(xg.ones(3), correction=-1)
    with pytest.raises(TypeError, match="correction"):
        xg.std(xg.ones(3), correction="1")


# -- sum, prod, mean with dtype= and complex inputs -----------------------------------------------

def test_sum_prod_dtype():
    x = xg.asarray([1, 2, 3], dtype=xg.int8)
    assert xg.sum(x).dtype == xg.int64 and xg.prod(x).dtype == xg.int64
    assert xg.sum(xg.asarray([1, 2], dtype=xg.uint16)).dtype == xg.uint64
    assert xg.sum(x, dtype=xg.int16).dtype == xg.int16
    assert xg.sum(xg.ones(3), dtype=xg.float64).dtype == xg.float64
    assert xg.prod(xg.ones(3, dtype=xg.float32)).dtype == xg.float32
    assert xg.sum(xg.ones((0, 2)), axis=0).tolist() == [0.0, 0.0]
    assert xg.prod(xg.ones((0, 2)), axis=0).tolist() == [1.0, 1.0]


def test_sum_mean_prod_with_dtype_are_differentiable(rng):
    a = rng.standard_normal((2, 3)).astype(np.float32)
    x = xg.asarray(a)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        s = xg.sum(x * x, axis=1, dtype=xg.float64)
        p = xg.prod(x, dtype=xg.float64)
    assert s.dtype == xg.float64 and p.dtype == xg.float64
    gs, gp = tape.gradient(s, x), tape.gradient(p, x)
    assert gs.dtype == gp.dtype == xg.float32
    np.testing.assert_allclose(gs.numpy(), 2 * a, rtol=1e-6)
    np.testing.assert_allclose(gp.numpy(), np.prod(a.astype(np.float64)) / a, rtol=1e-5)
    check_grads(lambda x: xg.sum(x, axis=0, dtype=xg.float64) * xg.prod(x, axis=1, dtype=None,
                                                                       keepdims=True),
                [f64(rng.standard_normal((3, 3)))], order=2)


def test_complex_sum_mean_prod_match_torch(rng):
    a = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    w = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    for xg_fn, torch_fn in ((xg.sum, torch.sum), (xg.mean, torch.mean),
                            (xg.prod, torch.prod)):
        z = xg.asarray(a)
        with xg.GradientTape() as tape:
            tape.watch(z)
            y = xg_fn(z, axis=0)
        t = torch.tensor(a, requires_grad=True)
        torch_fn(t, 0).backward(torch.tensor(w))           # the same output gradient
        np.testing.assert_allclose(tape.gradient(y, z, output_gradients=w).numpy(),
                                   t.grad.numpy(), rtol=1e-12)


# -- prod with zeros ------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0],
                                    [1.5, -2.0, 4.0]])
def test_prod_gradient_at_zeros_matches_torch(values):
    _, g = grad_of(xg.prod, values)
    _, tg = torch_grad(torch.prod, np.array(values))
    assert np.isfinite(g.numpy()).all()
    np.testing.assert_array_equal(g.numpy(), tg)


# -- cumulative_sum and cumulative_prod ----------------------------------------------------------

ZERO_PATTERNS = [[1.5, -2.0, 0.5, 3.0], [0.0, 2.0, 3.0, 1.5], [1.5, 0.0, 2.0, 0.0],
                 [1.5, 2.0, 3.0, 0.0], [0.0, 0.0, 2.0, 3.0], [2.0, 0.0, 0.0, 0.0],
                 [0.0, 1.5, 0.0, 2.0, 0.0, 3.0]]


@pytest.mark.parametrize("values", ZERO_PATTERNS)
def test_cumulative_prod_gradient_at_zeros_matches_torch(values, rng):
    w = rng.standard_normal(len(values))
    y, g = grad_of(lambda x: xg.sum(xg.cumulative_prod(x) * f64(w)), values)
    ty, tg = torch_grad(lambda t: torch.cumprod(t, 0), np.array(values), w)
    assert np.isfinite(g.numpy()).all()
    np.testing.assert_allclose(g.numpy(), tg, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("values", ZERO_PATTERNS)
def test_cumulative_prod_second_order_at_zeros(values):
    check_grads(xg.cumulative_prod, [f64(values)], order=2)
    check_grads(lambda x: xg.cumulative_prod(x, include_initial=True), [f64(values)], order=2)


def test_cumulative_prod_axis_batches_and_complex(rng):
    a = rng.standard_normal((3, 4, 2))
    a[1, 2, 0] = 0.0
    a[0, 0, 1] = a[0, 3, 1] = 0.0
    check_grads(lambda x: xg.cumulative_prod(x, axis=1), [f64(a)], order=2)
    w = rng.standard_normal((3, 4, 2))
    _, g = grad_of(lambda x: xg.sum(xg.cumulative_prod(x, axis=-2) * f64(w)), a)
    _, tg = torch_grad(lambda t: torch.cumprod(t, -2), a, w)
    np.testing.assert_allclose(g.numpy(), tg, rtol=1e-12, atol=1e-12)
    c = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    c[1] = 0
    cw = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    z = xg.asarray(c)
    with xg.GradientTape() as tape:
        tape.watch(z)
        y = xg.cumulative_prod(z)
    t = torch.tensor(c, requires_grad=True)
    torch.cumprod(t, 0).backward(torch.tensor(cw))
    np.testing.assert_allclose(tape.gradient(y, z, output_gradients=cw).numpy(), t.grad.numpy(),
                               rtol=1e-12)


def test_cumulative_dtype_and_include_initial():
    x = xg.asarray([1, 2, 3], dtype=xg.int8)
    assert xg.cumulative_sum(x).dtype == xg.int8 or xg.cumulative_sum(x).dtype == xg.int64
    assert xg.cumulative_sum(x, dtype=xg.int32).dtype == xg.int32
    assert xg.cumulative_prod(x, include_initial=True).tolist() == [1, 1, 2, 6]
    assert xg.cumulative_sum(x, include_initial=True).tolist() == [0, 1, 3, 6]
    y = xg.cumulative_prod(xg.ones((2, 0)), axis=1, include_initial=True)
    assert y.shape == (2, 1) and y.tolist() == [[1.0], [1.0]]
    check_grads(lambda x: xg.cumulative_sum(x, axis=0, dtype=xg.float64, include_initial=True)
                * xg.cumulative_prod(x, axis=0, dtype=xg.float64, include_initial=True),
                [f64([[1.0, 2.0], [3.0, -1.0]])], order=2)


def test_cumulative_errors():
    with pytest.raises(ValueError, match="axis="):
        xg.cumulative_prod(xg.ones((2, 2)))
    with pytest.raises(ValueError, match="at least one dimension"):
        xg.cumulative_sum(xg.asarray(1.0))
    with pytest.raises(ValueError, match="out of range"):
        xg.cumulative_prod(xg.ones(2), axis=1)


# -- diff -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, axis, pre, app", [(1, -1, None, None), (2, 0, None, None),
                                               (1, 1, 1, None), (3, 0, 2, 1), (0, 0, None, 1),
                                               (6, 0, None, None)])
def test_diff_matches_torch(n, axis, pre, app, rng):
    a = rng.standard_normal((4, 3))
    side = list(a.shape)
    pre_a = app_a = None
    if pre is not None:
        side[axis] = pre
        pre_a = rng.standard_normal(side)
    if app is not None:
        side[axis] = app
        app_a = rng.standard_normal(side)
    kw = {"prepend": None if pre_a is None else f64(pre_a),
          "append": None if app_a is None else f64(app_a)}
    got = xg.diff(f64(a), axis=axis, n=n, **kw)
    joined = np.concatenate([p for p in (pre_a, a, app_a) if p is not None], axis=axis)
    np.testing.assert_allclose(got.numpy(), np.diff(joined, n=n, axis=axis))   # n=0 joins too
    if n > 0 and got.size:
        w = rng.standard_normal(got.shape)
        tkw = {k: torch.tensor(v) for k, v in (("prepend", pre_a), ("append", app_a))
               if v is not None}
        _, g = grad_of(lambda x: xg.sum(xg.diff(x, axis=axis, n=n, **kw) * f64(w)), a)
        _, tg = torch_grad(lambda t: torch.diff(t, n=n, dim=axis, **tkw), a, w)
        np.testing.assert_allclose(g.numpy(), tg, rtol=1e-12, atol=1e-12)


def test_diff_integers_bools_and_errors():
    assert xg.diff(xg.asarray([1, 4, 9])).tolist() == [3, 5]
    assert xg.diff(xg.asarray([True, True, False])).tolist() == [False, True]
    with pytest.raises(ValueError, match="n must be"):
        xg.diff(xg.ones(3), n=-1)
    with pytest.raises(ValueError, match="does not match"):
        xg.diff(xg.ones((2, 3)), axis=1, prepend=xg.ones((3, 1)))
    with pytest.raises(ValueError, match="at least one dimension"):
        xg.diff(xg.asarray(1.0))


# -- max and min ----------------------------------------------------------------------------------

def test_max_min_nan_gives_a_nan_gradient_where_it_counts():
    # a NaN input must not give a silent zero gradient (PyTorch's amax and JAX give NaN)
    _, g = grad_of(xg.max, [1.0, math.nan, 2.0])
    assert np.isnan(g.numpy()).all()
    _, g = grad_of(lambda x: xg.sum(xg.max(x, axis=1) * xg.asarray([1.0, 1.0, 0.0])),
                   [[1.0, math.nan], [3.0, 2.0], [math.nan, 0.0]])
    np.testing.assert_array_equal(g.numpy(), [[math.nan, math.nan], [1.0, 0.0], [0.0, 0.0]])
    _, g = grad_of(lambda x: xg.min(x, axis=0), [[1.0, 1.0], [1.0, 3.0]])
    assert g.tolist() == [[0.5, 1.0], [0.5, 0.0]]


def test_max_min_nan_gradient_matches_pytorch_amax():
    torch = pytest.importorskip("torch")
    x = np.array([[np.nan, 1.0, 2.0, -1.0], [0.5, 3.0, 3.0, -2.0], [4.0, np.nan, np.nan, 0.0]])
    for ours, theirs, axis in ((xg.max, torch.amax, 1), (xg.min, torch.amin, 0),
                               (xg.max, torch.amax, None)):
        _, g = grad_of(lambda t: xg.sum(ours(t, axis=axis) * 2.0), x)
        tx = torch.tensor(x, requires_grad=True)
        ((theirs(tx, dim=axis) if axis is not None else theirs(tx)) * 2.0).sum().backward()
        np.testing.assert_allclose(g.numpy(), tx.grad.numpy(), equal_nan=True)


@pytest.mark.skipif(not hasattr(xg, "conj"), reason="second order through complex rules needs "
                                                    "xg.conj and xg.real")
@pytest.mark.parametrize("fn", [
    lambda z: xg.prod(z, axis=1), lambda z: xg.cumulative_prod(z, axis=1),
    lambda z: xg.mean(z, axis=0) * xg.sum(z), lambda z: xg.sort(z, axis=0),
    lambda z: xg.unique_values(z), lambda z: xg.astype(z, xg.float64) * xg.astype(z * z, "float64"),
    lambda z: xg.roll(z * z, 1) + xg.tile(z, (1, 1)), lambda z: xg.diff(z * z),
], ids=["prod", "cumulative_prod", "mean_sum", "sort", "unique_values", "astype_real",
        "roll_tile", "diff"])
def test_complex_second_order(fn, rng):
    z = xg.asarray(rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3)))
    check_grads(fn, [z], order=2)
