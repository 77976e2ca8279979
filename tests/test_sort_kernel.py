"""The NumPy backend's ``sort`` kernel (``backends/numpy/sorting.py``: a recorded sort keeps its
permutation) against the primitive's generic rule on raw arrays (values and gradients, ties,
NaNs, signed zeros, integers, complex numbers, empty and non-contiguous inputs, every axis,
both orders), and through ``xg.sort`` / ``xg.median`` on a tape against PyTorch and float64
finite differences; ``xg.function`` replay against eager."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.sorting import KERNELS
from xpgrad.primitive import PRIMITIVES
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _inputs():
    rng = np.random.default_rng(0)
    ties = rng.integers(-2, 3, size=(5, 7)).astype(np.float32)
    ties[1, 2], ties[3, 0] = np.nan, -0.0
    ties[4, :] = 0.0
    wide = rng.standard_normal((4, 6, 9))
    return {
        "ties_nan_zeros": ties,
        "float64_3d": wide,
        "non_contiguous": wide.transpose(2, 0, 1)[:, ::2],
        "integers": rng.integers(0, 4, size=(6, 5)),
        "complex": (rng.integers(0, 3, size=(3, 4)) + 1j * rng.integers(0, 2, size=(3, 4))),
        "empty_axis": np.zeros((3, 0)),
        "empty_rows": np.zeros((0, 4), np.float32),
        "one_d": rng.standard_normal(33).astype(np.float32),
    }


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("name", sorted(_inputs()))
def test_kernel_matches_generic_rule(name, descending):
    x = _inputs()[name]
    prim, kernel = PRIMITIVES["sort"], KERNELS["sort"]
    xp = xg.get_backend("numpy").xp
    for axis in range(x.ndim):
        params = {"axis": axis, "descending": descending}
        want = prim.forward(xp, x, **params)
        got, perm = kernel.forward(x, **params)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype
        if x.dtype.kind == "f":            # -0.0 and 0.0 tied: in the stable order, as torch's
            stable = torch.sort(torch.from_numpy(x), dim=axis, descending=descending,
                                stable=True).values.numpy()
            np.testing.assert_array_equal(np.signbit(got), np.signbit(stable))
            np.testing.assert_array_equal(np.signbit(want), np.signbit(stable))
        g = np.arange(1, want.size + 1).reshape(want.shape).astype(
            x.dtype if x.dtype.kind in "fc" else np.float64)
        dx, = kernel.vjp(g, perm, x, **params)
        dense = prim.vjp(xp, g, want, (True,), (x,), params)[0]
        np.testing.assert_array_equal(dx, dense)


def test_untaped_sort_declines_the_kernel():
    x = np.array([3.0, 1.0, 2.0])
    assert KERNELS["sort"].value(x, axis=0, descending=False) is None
    assert xg.sort(xg.asarray(x)).tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("descending", [False, True])
def test_sort_gradient_matches_torch_with_ties(descending):
    x = np.random.default_rng(1).integers(0, 5, size=(6, 40)).astype(np.float32)
    g = np.random.default_rng(2).standard_normal((6, 40)).astype(np.float32)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.sort(xt, axis=1, descending=descending)
    dx = tape.gradient(y, xt, output_gradients=xg.asarray(g)).numpy()
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.sort(tx, dim=1, descending=descending, stable=True).values
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())


def test_median_and_quantile_gradients_match_torch_and_finite_differences():
    x = np.random.default_rng(3).standard_normal((5, 9))
    check_grads(lambda a: xg.median(a, axis=1), [xg.asarray(x)])
    check_grads(lambda a: xg.quantile(a, 0.3, axis=0), [xg.asarray(x[:, ::2])])
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        loss = xg.sum(xg.quantile(xt, 0.3, axis=1) * xg.arange(5.0, dtype=xg.float64))
    tx = torch.tensor(x, requires_grad=True)
    (torch.quantile(tx, 0.3, dim=1) * torch.arange(5.0, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), tx.grad.numpy(), rtol=1e-12)


def test_second_order_goes_through_the_generic_rule():
    x = xg.asarray(np.random.default_rng(4).standard_normal(7))
    check_grads(lambda a: xg.sort(a * a), [x], order=2)


def test_function_replay_equals_eager():
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.sort(x, axis=0) * xg.arange(4.0, dtype=xg.float64)[:, None])
        return [loss, tape.gradient(loss, x)]

    compiled = xg.function(step)
    for seed in range(3):            # the first call traces, the others replay
        x = xg.asarray(np.random.default_rng(seed).standard_normal((4, 3)))
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-14)


def test_sort_of_a_scalar_is_refused_before_the_kernel():
    with xg.GradientTape() as tape:
        x = xg.asarray(1.0)
        tape.watch(x)
        with pytest.raises(ValueError, match="sort needs a tensor with at least one dimension"):
            xg.sort(x)
