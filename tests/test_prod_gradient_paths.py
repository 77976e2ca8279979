"""``prod``'s gradient: without a 0, inf or NaN entry it is the product over each entry, one
division (``ops/prod_gradient.py``'s ``_regular_entries``); with one, the general way (running
products from both sides, no division). The short way against the general way to rounding
(products that under- and overflow too), both against PyTorch, second order by finite
differences, and ``xg.function``'s trace, which takes the general way."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import prod_gradient
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _gradient(x, g, **kwargs):
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.prod(xt, **kwargs)
    return tape.gradient(y, xt, output_gradients=xg.asarray(g)).numpy()


def _general(monkeypatch, x, g, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(prod_gradient, "_regular_entries", lambda xp, ans, x: False)
        return _gradient(x, g, **kwargs)


def _inputs(rng, dtype):
    normal = rng.standard_normal((6, 7))
    return {
        "rows": (normal, {"axis": 1}),
        "columns_kept": (normal, {"axis": 0, "keepdims": True}),
        "all": (rng.uniform(0.5, 1.5, (3, 4)), {}),
        "two_axes": (rng.standard_normal((3, 4, 5)), {"axis": (0, 2)}),
        "transposed": (normal.T, {"axis": -1}),
        "underflow": (rng.standard_normal((4, 256)) * 0.1, {"axis": 1}),
        "overflow": (rng.uniform(5, 9, (4, 60)), {"axis": 1}),       # in float32
        "zero_d": (np.array(1.5), {}),
        "empty_axis": (np.ones((3, 0)), {"axis": 1}),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("name", sorted(_inputs(np.random.default_rng(0), np.float64)))
def test_short_way_equals_the_general_way_and_torch(monkeypatch, name, dtype):
    rng = np.random.default_rng(1)
    x, kwargs = _inputs(rng, dtype)[name]
    x = x.astype(dtype)
    if dtype == np.complex128:
        x = x * np.exp(1j * rng.uniform(-0.3, 0.3, x.shape))
    with np.errstate(over="ignore"):
        out = np.prod(x, axis=kwargs.get("axis"), keepdims=kwargs.get("keepdims", False))
        g = rng.standard_normal(np.shape(out)).astype(x.dtype)
        calls, real = [], prod_gradient._regular_entries
        with monkeypatch.context() as m:
            m.setattr(prod_gradient, "_regular_entries",
                      lambda *args: calls.append(real(*args)) or calls[-1])
            got = _gradient(x, g, **kwargs)
        assert calls == [True]
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, _general(monkeypatch, x, g, **kwargs), rtol=rtol,
                                   atol=1e-300)
    tx = torch.tensor(x, requires_grad=True)
    dims = kwargs.get("axis")
    ty = torch.prod(tx) if dims is None else tx
    for d in sorted((dims,) if isinstance(dims, int) else dims or (), reverse=True):
        ty = torch.prod(ty, dim=d, keepdim=kwargs.get("keepdims", False))
    ty.backward(torch.tensor(g))
    # (the underflowed products' gradients are subnormal: torch's complex ones differ there)
    np.testing.assert_allclose(got, tx.grad.numpy(), rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("special", [0.0, np.inf, -np.inf, np.nan])
def test_an_entry_zero_infinite_or_nan_takes_the_general_way(monkeypatch, special):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5))
    x[1, 2] = special
    x[2, [0, 4]] = special                       # two in one row
    calls = []
    real = prod_gradient._regular_entries

    def spy(xp, ans, x):
        calls.append(real(xp, ans, x))
        return calls[-1]

    g = rng.standard_normal(3)
    with monkeypatch.context() as m:
        m.setattr(prod_gradient, "_regular_entries", spy)
        got = _gradient(x, g, axis=1)
    assert calls == [False]
    tx = torch.tensor(x, requires_grad=True)
    torch.prod(tx, 1).backward(torch.tensor(g))
    # (torch divides beside an infinity or a NaN, inf / inf or NaN / NaN: NaN where the
    # product of the other entries is a number, as JAX's is; compared where torch's is a
    # number, and everywhere with the products of the others written out)
    want = tx.grad.numpy()
    same = ~np.isnan(want)
    np.testing.assert_allclose(got[same], want[same], rtol=1e-12)
    with np.errstate(invalid="ignore"):
        others = np.array([[np.prod(np.delete(row, j)) for j in range(row.size)] for row in x])
    np.testing.assert_allclose(got, g[:, None] * others, rtol=1e-12, equal_nan=True)


def test_second_order_matches_finite_differences():
    rng = np.random.default_rng(3)
    check_grads(lambda a: xg.prod(a, axis=1), [xg.asarray(rng.uniform(0.5, 2.0, (3, 4)))],
                order=2)
    check_grads(lambda a: xg.prod(a), [xg.asarray(rng.uniform(-2.0, -0.5, (5,)))], order=2)


def test_a_traced_program_replays_zeros_and_regular_entries_alike():
    @xg.function
    def grad_of_prod(a):
        with xg.GradientTape() as tape:
            tape.watch(a)
            y = xg.sum(xg.prod(a, axis=1))
        return tape.gradient(y, a)

    rng = np.random.default_rng(4)
    regular = rng.uniform(0.5, 2.0, (3, 4))
    with_zero = regular.copy()
    with_zero[1, 1] = 0.0
    for x in (regular, with_zero, regular):
        tx = torch.tensor(x, requires_grad=True)
        torch.prod(tx, 1).sum().backward()
        np.testing.assert_allclose(grad_of_prod(xg.asarray(x)).numpy(), tx.grad.numpy(),
                                   rtol=1e-12)


@pytest.mark.parametrize("values", [[1e200, 1e200, 0.0], [0.0, 1e200, 1e200],
                                    [2.0, -0.0, 3.0],
                                    [-0.0, -2.0, 3.0]])
def test_a_partial_product_that_overflows_or_a_signed_zero_gives_torchs_gradient(values):
    # the product of the others, by running products from both sides: a partial product that
    # overflows meets a zero only where the exact product is (no inf * 0 warning or NaN), and
    # a -0.0 gives its neighbours -0.0 (the sign compared too)
    got = _gradient(np.array(values), 1.0)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    torch.prod(tx).backward()
    want = tx.grad.numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("values", [[[1.5, 0.0, -2.0, 0.5], [0.0, 0.0, 3.0, -1.0]],
                                    [[1.5, -0.7, 2.0, 0.5], [0.9, 1.1, 3.0, -1.0]]],
                         ids=["zeros", "regular"])
def test_the_hessian_matches_torch_and_finite_differences(values):
    x = np.array(values)
    for axis, dims in ((1, (1,)), ((0, 1), (0, 1))):
        got = xg.hessian(lambda a: xg.sum(xg.prod(a, axis=axis) ** 2))(xg.asarray(x)).numpy()
        want = torch.autograd.functional.hessian(
            lambda t: (torch.prod(t, dim=1) if dims == (1,) else torch.prod(t)).pow(2).sum(),
            torch.tensor(x))
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-12)
        check_grads(lambda a: xg.prod(a, axis=axis), [xg.asarray(x)], order=2)


_OVERFLOW_BESIDE_ZEROS = [[1e200, 1e200, 0.0, 0.0], [1e200, 1e200, 0.0, 5.0],
                          [1e200, 1e200, 0.0, -0.0], [-1e200, 1e200, 0.0, 0.0],
                          [0.0, -1e300, 1e300, 0.0], [1e200, 0.0, -1e200, 1e200],
                          [1e200, 1e200, 0.0, 0.0, np.inf],
                          [1e200, 1e200, 0.0, np.inf], [np.inf, np.inf, 0.0, 0.0],
                          [np.nan, 0.0, 0.0], [-0.0, 0.0, 1.0]]


def _exact_products_of_the_others(x):
    """Each entry's product of the others by the real numbers' rules: 0 where they hold a 0
    and are finite (signed by their signs), NaN where a 0 meets an inf or a NaN."""
    out = []
    for j in range(x.size):
        others = np.delete(x, j)
        if np.isnan(others).any() or ((others == 0).any() and np.isinf(others).any()):
            out.append(np.nan)
        elif (others == 0).any():
            out.append(np.copysign(0.0, np.prod(np.copysign(1.0, others))))
        else:
            with np.errstate(over="ignore"):
                out.append(np.prod(others))
    return np.array(out)


@pytest.mark.parametrize("values", _OVERFLOW_BESIDE_ZEROS)
def test_a_partial_product_that_overflows_before_a_zero_gives_the_exact_zero(jax, values):
    # an entry whose others are finite and hold a 0 has the gradient 0, signed by the others'
    # signs, though a running product overflowed before meeting that 0 (inf * 0 was NaN);
    # beside an inf or NaN the product of the others is 0 * inf: NaN. JAX's agrees where its
    # product tree does not overflow before a 0 (there NaN); torch's full-product rule gives
    # 0 wherever two entries are 0 (else its running products meet the same NaN)
    jnp = jax.numpy
    x = np.array(values)
    want = _exact_products_of_the_others(x)
    got = _gradient(x, 1.0)
    np.testing.assert_array_equal(got, want)
    numbers = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[numbers]), np.signbit(want[numbers]))
    by_jax = np.asarray(jax.grad(jnp.prod)(jnp.asarray(x)))
    np.testing.assert_array_equal(got[~np.isnan(by_jax)], by_jax[~np.isnan(by_jax)])
    if np.isfinite(x).all() and np.count_nonzero(x == 0) > 1:
        tx = torch.tensor(x, requires_grad=True)
        torch.prod(tx).backward()
        np.testing.assert_array_equal(got, tx.grad.numpy())
    rows = np.stack([x, np.linspace(0.5, 2.0, x.size)])
    g = np.array([2.0, -1.5])
    want_rows = g[:, None] * np.stack([want, _exact_products_of_the_others(rows[1])])
    np.testing.assert_allclose(_gradient(rows, g, axis=1), want_rows, rtol=1e-12)
    np.testing.assert_allclose(_gradient(rows.reshape(2, 1, -1), g, axis=(1, 2)).reshape(2, -1),
                               want_rows, rtol=1e-12)

    @xg.function
    def traced_gradient(a):
        with xg.GradientTape() as tape:
            tape.watch(a)
            y = xg.sum(xg.prod(a, axis=1) * xg.asarray(g))
        return tape.gradient(y, a)

    np.testing.assert_allclose(traced_gradient(xg.asarray(rows)).numpy(), want_rows, rtol=1e-12)
