"""Unbroadcasting sums (``backends/axis_sums.py``): NumPy's ``sum`` to rounding for every layout
(leading, trailing and both blocks of axes, size-1 axes between them, transposed, strided and
broadcast views, empty axes, other dtypes), float32 error no worse than PyTorch's cascade sum
where NumPy's row-by-row sum is 100x worse, and the tape's broadcast gradients and the dense
kernels' bias gradients equal to PyTorch's and to finite differences."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.axis_sums import DEPTH, TRAILING_MAX, sum_axes, sum_rows

torch = pytest.importorskip("torch")

CASES = [
    ((4096, 10), (0,)),                 # a dense layer's bias
    ((DEPTH * 7 + 5, 3), (0,)),          # rows past DEPTH with a remainder
    ((6, 9, 9, 16), (0, 1, 2)),          # channels-last conv bias
    ((6, 16, 9, 9), (0, 2, 3)),          # channels-first conv bias
    ((2, 3, 2 * TRAILING_MAX + 6), (0, 2)),   # a trailing run split in two products
    ((3, 2, 1031 * 2), (2,)),            # a trailing run with no split: NumPy's pairwise sum
    ((7, 1, 5, 4), (0, 2)),              # a size-1 axis between the summed ones
    ((5, 4, 6), (1,)),                   # a middle axis: NumPy's sum
    ((5, 4, 6), (0, 1, 2)),              # everything
    ((0, 5), (0,)),                      # an empty summed axis
    ((5, 0, 3), (0,)),                   # an empty kept axis
]


def _views(a):
    """``a`` and layouts of it that are not C-ordered."""
    yield "contiguous", a
    yield "transposed", a.T
    yield "strided", a[::2] if a.shape[0] > 1 else a[:, ::2]
    yield "broadcast", np.broadcast_to(a[:1], a.shape)


def _exact(a, axes):
    return a.astype(np.longdouble).sum(axes)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, axes", CASES)
def test_sum_axes_is_numpys_sum_to_rounding(shape, axes, dtype):
    rng = np.random.default_rng(0)
    base = rng.normal(size=shape).astype(dtype)
    eps = np.finfo(dtype).eps
    for name, a in _views(base):
        ax = axes if name != "transposed" else tuple(a.ndim - 1 - i for i in axes)
        got, want = sum_axes(a, ax), a.sum(ax)
        assert got.shape == want.shape and got.dtype == want.dtype, name
        exact = _exact(a, ax)
        # within 4 eps of the sum of magnitudes, or no further off than NumPy's own sum (the
        # layouts left to it: a strided view)
        bound = np.maximum(4 * eps * np.abs(a.astype(np.longdouble)).sum(ax),
                           np.abs(want - exact)) + np.finfo(dtype).tiny
        assert np.all(np.abs(got - exact) <= bound), name


@pytest.mark.parametrize("dtype", ["float16", "int32", "complex64", "bool"])
def test_other_dtypes_are_numpys_sum(dtype):
    a = (np.arange(240) % 7).reshape(40, 6).astype(dtype)
    np.testing.assert_array_equal(sum_axes(a, (0,)), a.sum((0,)))
    np.testing.assert_array_equal(sum_rows(a), a.sum(0))


def test_sum_rows_of_a_column_slice_and_of_strided_columns():
    a = np.random.default_rng(1).uniform(size=(1000, 8))
    for view in (a[:, 2:6], a[:, ::2], a[:3, :]):
        np.testing.assert_allclose(sum_rows(view), view.sum(0), rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(2 * DEPTH, 10), (4 * DEPTH, 256), (DEPTH * DEPTH, 64),
                                   (4 * DEPTH, 0)])
def test_sum_rows_by_numpys_sums_groups_as_the_products(shape, dtype):
    # a small array (axis_sums.SMALL_MAX) is summed in the products' groups by NumPy's sums:
    # the same result to rounding as the products, and as accurate
    import xpgrad.backends.axis_sums as axis_sums

    a = np.random.default_rng(8).uniform(size=shape).astype(dtype)
    assert a.size <= axis_sums.SMALL_MAX
    got = sum_rows(a)
    saved, axis_sums.SMALL_MAX = axis_sums.SMALL_MAX, -1
    try:
        by_products = sum_rows(a)
    finally:
        axis_sums.SMALL_MAX = saved
    assert got.shape == by_products.shape == (shape[1],) and got.dtype == a.dtype
    eps = np.finfo(dtype).eps
    scale = np.abs(a.astype(np.longdouble)).sum(0)
    exact = _exact(a, (0,))
    # DEPTH + rows / DEPTH terms in order per entry, as the products add them
    bound = 2 * (DEPTH + shape[0] // DEPTH) * eps * scale + np.finfo(dtype).tiny
    assert np.all(np.abs(got - exact) <= bound)
    assert np.all(np.abs(by_products - exact) <= bound)


def test_sum_rows_by_numpys_sums_warns_from_numpy_on_overflow():
    # the suite turns a RuntimeWarning from xpgrad's frames into an error: NumPy's own
    a = np.full((2 * DEPTH, 3), np.finfo(np.float32).max, np.float32)
    with pytest.warns(RuntimeWarning, match="overflow"):
        assert np.isinf(sum_rows(a)).all()


def _relative_error(total, a, axes):
    exact = a.astype(np.float64).sum(axes)
    return float(np.max(np.abs(np.asarray(total, np.float64) - exact)
                        / np.abs(a.astype(np.float64)).sum(axes)))


@pytest.mark.parametrize("shape, axes", [((200_003, 4), (0,)), ((3000, 64), (0,)),
                                         ((130, 4, 30, 30), (0, 2, 3)),
                                         ((4, 9, 3136), (0, 2))])
def test_float32_error_no_worse_than_torch(shape, axes):
    # uniform terms: no cancellation to hide an error; NumPy's sum over 200,003 rows: 2e-5
    a = np.random.default_rng(2).uniform(size=shape).astype(np.float32)
    ours = _relative_error(sum_axes(a, axes), a, axes)
    theirs = _relative_error(torch.from_numpy(a).sum(axes).numpy(), a, axes)
    assert ours <= 2 * max(theirs, np.finfo(np.float32).eps / 2), (ours, theirs)


def _tape_gradients(op, x, y, seed):
    xs = [xg.asarray(v) for v in (x, y)]
    with xg.GradientTape() as tape:
        for t in xs:
            tape.watch(t)
        out = op(*xs)
    return [g.numpy() for g in tape.gradient(out, xs, output_gradients=xg.asarray(seed))]


BROADCASTS = [((64, 5, 7, 3), (3,)), ((6, 3, 5, 5), (3, 1, 1)), ((6, 3, 5, 5), (1, 3, 1, 1)),
              ((7, 4, 6), (7, 1, 6)), ((35, 4, 8), (8,)), ((300, 3), (300, 1)),
              ((5, 6), ()), ((0, 3), (3,)), ((4, 0, 3), (1, 1, 3))]


@pytest.mark.parametrize("name", ["add", "multiply"])
@pytest.mark.parametrize("xshape, yshape", BROADCASTS)
def test_broadcast_gradients_equal_torch(xshape, yshape, name):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=xshape), rng.normal(size=yshape)
    seed = rng.normal(size=np.broadcast_shapes(xshape, yshape))
    got = _tape_gradients(getattr(xg, name), x, y, seed)
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (x, y))
    getattr(torch, name)(tx, ty).backward(torch.tensor(seed))
    for g, t in zip(got, (tx, ty)):
        assert g.shape == tuple(t.shape)
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_a_transposed_gradient_is_summed_in_memory_order():
    # the permute's gradient reaches the add as a transposed (non-contiguous) view
    rng = np.random.default_rng(4)
    x, b = rng.normal(size=(4, 3, 6, 5)), rng.normal(size=(3, 1, 1))
    seed = rng.normal(size=(4, 6, 5, 3))
    got = _tape_gradients(lambda u, v: xg.permute_dims(u + v, (0, 2, 3, 1)), x, b, seed)
    tx, tb = (torch.tensor(v, requires_grad=True) for v in (x, b))
    (tx + tb).permute(0, 2, 3, 1).backward(torch.tensor(seed))
    np.testing.assert_allclose(got[1], tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_broadcast_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    for xshape, yshape in [((40, 3, 2), (3, 1)), ((2, 3, 40), (1, 3, 1)), ((50, 4), (4,))]:
        args = [xg.asarray(rng.normal(size=s)) for s in (xshape, yshape)]
        xg.testing.check_grads(lambda u, v: u * v + v, args)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_dense_bias_gradient_float32_accuracy(activation, backend):
    # 5000 rows: past DEPTH, summed in two levels by the linear kernels' sum_rows (numba's
    # fused linear_relu loop: added in float64); in float32 in order: 4e-7 to 1e-6
    rng = np.random.default_rng(6)
    x = rng.uniform(size=(5000, 8)).astype(np.float32)
    w, b = np.abs(rng.normal(size=(8, 4))).astype(np.float32), np.ones(4, np.float32)
    seed = rng.uniform(size=(5000, 4)).astype(np.float32)
    args = [xg.asarray(v, backend=backend) for v in (x, w, b)]
    with xg.GradientTape() as tape:
        for t in args:
            tape.watch(t)
        y = xg.nn.linear(args[0], args[1], args[2], activation=activation)
    db = tape.gradient(y, args[2], output_gradients=xg.asarray(seed, backend=backend)).numpy()
    exact = seed.astype(np.float64).sum(0)            # relu is the identity: positive inputs
    assert db.dtype == np.float32
    assert np.max(np.abs(db - exact) / exact) < 2 * np.finfo(np.float32).eps


def test_operands_that_do_not_broadcast_are_refused_naming_the_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\), \(5,\)"):
        xg.asarray(np.ones((3, 4))) + xg.asarray(np.ones(5))


@pytest.mark.usefixtures("numpy_default")      # numba's fusion folds the sum into its loop
def test_a_traced_step_replays_the_eager_unbroadcasting_sum():
    import xpgrad.backends.axis_sums as axis_sums

    rng = np.random.default_rng(7)
    b = xg.Variable(rng.normal(size=(1, 6)).astype(np.float32))

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.tanh(x + b))
        return tape.gradient(loss, b)

    compiled = xg.function(step)
    for _ in range(3):
        x = xg.asarray(rng.normal(size=(300, 6)).astype(np.float32))
        np.testing.assert_array_equal(compiled(x).numpy(), step(x).numpy())
    names = compiled.programs()[0]._namespace.values()
    assert any(v is axis_sums.sum_axes for v in names)
