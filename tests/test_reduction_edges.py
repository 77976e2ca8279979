"""Reductions at non-finite entries: ``prod``'s gradient is the product of the other entries
also where an infinity sits beside a zero or another infinity (it divided inf by inf), and
``xg.special.logsumexp``'s ``b = 0`` masks a term whatever its ``a`` (a masked logit far
above the rest gave -inf, a masked inf NaN), as SciPy and JAX; ``logsumexp`` of a row of -inf
has PyTorch's NaN gradient without a RuntimeWarning, under ``xg.function`` too; ``mean``
over no entries is NaN without NumPy's "Mean of empty slice" warning."""
import itertools
import warnings

import numpy as np
import pytest

import xpgrad as xg

VALUES = [2.0, -3.0, np.inf, -np.inf, 0.0, 0.5]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_prod_gradient_is_the_product_of_the_others(backend):
    for combo in itertools.product(VALUES, repeat=3):
        raw = np.array(combo)
        x = xg.asarray(raw, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.prod(x)
        with np.errstate(invalid="ignore"):
            want = np.array([np.prod(np.delete(raw, i)) for i in range(3)])
        np.testing.assert_array_equal(tape.gradient(y, x).numpy(), want, err_msg=str(combo))


def test_prod_second_order_stays_exact_beside_zeros():
    x = xg.asarray(np.array([2.0, 0.0, 3.0, 0.0]))
    want = np.zeros((4, 4))
    want[1, 3] = want[3, 1] = 6.0
    np.testing.assert_array_equal(xg.hessian(xg.prod)(x).numpy(), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a, b", [([5.0, 120.0, 1.0], [1.0, 0.0, 1.0]),
                                  ([np.inf, 1.0], [0.0, 1.0]),
                                  ([1.0, 2.0, 3.0], [1.0, -1.0, 2.0]),
                                  ([-np.inf, 4.0, 400.0], [1.0, 2.0, 0.0])])
def test_logsumexp_weight_zero_masks_the_term(dtype, a, b):
    scipy_special = pytest.importorskip("scipy.special")
    x = xg.asarray(np.array(a, dtype))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.special.logsumexp(x, b=xg.asarray(np.array(b, dtype)))
    want = scipy_special.logsumexp(np.array(a, dtype), b=np.array(b, dtype))
    np.testing.assert_allclose(y.item(), want, rtol=1e-6)
    grad = tape.gradient(y, x).numpy()
    kept = np.array(b) != 0
    assert np.all(grad[~kept] == 0) and np.all(np.isfinite(grad))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weights = np.array(b) * np.exp(np.array(a, np.float64) - want)
    np.testing.assert_allclose(grad[kept], weights[kept], rtol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_logsumexp_of_a_row_of_minus_infinity_has_nan_gradient_without_a_warning(backend):
    """PyTorch's: the value -inf, the row's gradient NaN (-inf - -inf), the other row's its
    softmax; the backward pass's -inf - -inf raised NumPy's 'invalid value' RuntimeWarning."""
    torch = pytest.importorskip("torch")
    raw = np.array([[-np.inf, -np.inf], [0.0, 1.0]])
    x = xg.asarray(raw, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.logsumexp(x, axis=-1)
        grad = tape.gradient(y, x).numpy()
    t = torch.tensor(raw, requires_grad=True)
    torch.logsumexp(t, -1).sum().backward()
    np.testing.assert_array_equal(y.numpy()[0], -np.inf)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-15, equal_nan=True)


def test_logsumexp_replayed_by_function_at_a_row_of_minus_infinity_is_quiet_as_eager():
    """The replays of ``xg.function`` ran the recorded log and subtraction without the eager
    call's ``np.errstate``: NumPy's 'divide by zero' and 'invalid value' warnings on every
    replay, the values the same."""
    @xg.function
    def value_and_gradient(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.logsumexp(x, axis=-1)
        return y, tape.gradient(y, x)

    x = xg.asarray(np.array([[-np.inf, -np.inf], [0.0, 1.0]]))
    eager = [t.numpy() for t in value_and_gradient(x)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):          # eager, trace, replay
            replayed = [t.numpy() for t in value_and_gradient(x)]
    assert value_and_gradient.trace_count == 1
    for got, want in zip(replayed, eager):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("shape, axis", [((0, 3), 0), ((0, 3), None), ((2, 0), 1),
                                         ((2, 0), (0, 1))])
def test_mean_over_no_entries_is_nan_without_numpys_warning(backend, dtype, shape, axis):
    x = xg.asarray(np.zeros(shape, dtype), backend=backend)
    want = np.full(np.sum(np.zeros(shape, dtype), axis=axis).shape, np.nan, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.mean(x, axis=axis)
        assert y.dtype == xg.asarray(want).dtype
        np.testing.assert_array_equal(y.numpy(), want)
        assert tape.gradient(y, x, output_gradients=xg.ones_like(y)).shape == shape
