"""array-api-extra's functions that tests/test_third_party.py does not cover, on xpgrad Tensors:
the value equals array-api-extra's own on NumPy arrays, and where the result is differentiable,
the gradient (of a random cotangent) agrees with finite differences in float64, on the numpy and
numba backends. The integer- and boolean-valued ones, and the helpers that take a namespace
(``xp=xg``), are checked by value."""
import numpy as np
import pytest

import xpgrad as xg
from test_third_party import BACKENDS, _data, check


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def xpx():
    return pytest.importorskip("array_api_extra", minversion="0.11")


def _with_nans(a):
    """``a`` with NaN where it exceeds 0.8, in ``a``'s own namespace (NumPy's or xpgrad's)."""
    xp = a.__array_namespace__()
    return xp.where(a > 0.8, xp.nan, a)


DIFFERENTIABLE = {
    "angle": (lambda xpx: lambda x, y: xpx.angle(x + 1j * y), [(3, 4), (3, 4)]),
    "angle deg": (lambda xpx: lambda x, y: xpx.angle(x - 1j * y, deg=True), [(5,), (5,)]),
    "deg2rad": (lambda xpx: lambda a: xpx.deg2rad(a * 90.0), [(3, 4)]),
    "rad2deg": (lambda xpx: lambda a: xpx.rad2deg(a), [(3, 4)]),
    "nansum": (lambda xpx: lambda a: xpx.nansum(_with_nans(a), axis=0), [(4, 5)]),
    "nanmean": (lambda xpx: lambda a: xpx.nanmean(_with_nans(a), axis=1), [(4, 5)]),
    "nanmax": (lambda xpx: lambda a: xpx.nanmax(_with_nans(a), axis=0), [(4, 5)]),
    "nanmin": (lambda xpx: lambda a: xpx.nanmin(_with_nans(a)), [(4, 5)]),
    "union1d": (lambda xpx: lambda a, b: xpx.union1d(a, b), [(5,), (4,)]),
    "lazy_apply of a NumPy function": (lambda xpx: lambda a: xpx.lazy_apply(np.sin, a * 2.0),
                                       [(3, 4)]),
    "lazy_apply shape dtype": (lambda xpx: lambda a: xpx.lazy_apply(
        lambda t: np.tanh(t) * t, a, shape=(3, 4), dtype=a.dtype), [(3, 4)]),
    "one_hot times a Tensor": (lambda xpx: lambda a: a * xpx.one_hot(
        a.__array_namespace__().asarray([2, 0, 1, 2], device=a.device), 3, dtype=a.dtype),
                               [(4, 3)]),
}


@pytest.mark.parametrize("name", list(DIFFERENTIABLE))
def test_value_and_gradient(name, xpx, backend):
    make, shapes = DIFFERENTIABLE[name]
    check(make(xpx), _data(len(name), *shapes), backend)


def test_nan_reductions_give_nan_entries_zero_gradient(xpx, backend):
    a = xg.asarray(np.array([[0.5, np.nan], [2.0, -1.0]]), backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(a)
        total = xpx.nansum(a * 3.0) + xpx.nanmean(a, axis=0)[0]
    assert total.item() == pytest.approx(3.0 * 1.5 + 1.25)
    np.testing.assert_allclose(tape.gradient(total, a).numpy(), [[3.5, 0.0], [3.5, 3.0]])


def test_lazy_apply_as_numpy_refuses_on_a_tape(xpx, backend):
    x = xg.asarray(np.array([0.1, 0.2]), backend=backend)
    np.testing.assert_allclose(xpx.lazy_apply(np.sin, x, as_numpy=True).numpy(),
                               np.sin([0.1, 0.2]))
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="would cut it from the tape"):
            xpx.lazy_apply(np.sin, x, as_numpy=True)


def _same(got, expected):
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            _same(g, e)
        return
    assert isinstance(got, xg.Tensor), type(got)
    np.testing.assert_array_equal(got.numpy(), expected)
    assert np.dtype(got.dtype) == np.asarray(expected).dtype


# name: (call with the namespace ``xp`` and an array constructor ``asarray``)
VALUE_ONLY = {
    "isin": lambda xpx, xp, asarray: xpx.isin(asarray([1.0, 2.0, 5.0]), asarray([5.0, 1.0])),
    "isin invert": lambda xpx, xp, asarray: xpx.isin(asarray([1, 2, 5]), asarray([5, 1]),
                                                     invert=True),
    "searchsorted": lambda xpx, xp, asarray: xpx.searchsorted(
        asarray([1.0, 2.0, 4.0]), asarray([0.5, 2.0, 9.0])),
    "searchsorted right": lambda xpx, xp, asarray: xpx.searchsorted(
        asarray([1.0, 2.0, 4.0]), asarray([2.0]), side="right"),
    "unravel_index": lambda xpx, xp, asarray: xpx.unravel_index(asarray([1, 5, 11]), (3, 4)),
    "one_hot": lambda xpx, xp, asarray: xpx.one_hot(asarray([0, 2, 1]), 3, dtype=xp.float64),
    "one_hot axis 0": lambda xpx, xp, asarray: xpx.one_hot(asarray([0, 2]), 3, axis=0,
                                                           dtype=xp.int32),
    "isclose": lambda xpx, xp, asarray: xpx.isclose(asarray([1.0, 2.0]),
                                                    asarray([1.0 + 1e-9, 2.1])),
    "nunique": lambda xpx, xp, asarray: xpx.nunique(asarray([[1.0, 2.0], [2.0, 7.0]])),
    "setdiff1d": lambda xpx, xp, asarray: xpx.setdiff1d(asarray([3.0, 1.0, 2.0]),
                                                        asarray([2.0])),
    "diag_indices": lambda xpx, xp, asarray: xpx.diag_indices(3, xp=xp),
    "tril_indices": lambda xpx, xp, asarray: xpx.tril_indices(3, offset=-1, m=4, xp=xp),
    "triu_indices": lambda xpx, xp, asarray: xpx.triu_indices(3, offset=1, xp=xp),
}


@pytest.mark.parametrize("name", list(VALUE_ONLY))
def test_integer_and_boolean_valued(name, xpx, backend):
    call = VALUE_ONLY[name]
    got = call(xpx, xg, lambda v: xg.asarray(np.asarray(v), backend=backend))
    expected = call(xpx, np, np.asarray)
    if isinstance(expected, np.ndarray) and expected.ndim == 0 and not isinstance(got, tuple):
        assert int(got) == int(expected)
        return
    _same(got, expected if isinstance(expected, tuple) else np.asarray(expected))


def test_one_hot_default_dtype_is_xpgrads_default_float(xpx, backend):
    got = xpx.one_hot(xg.asarray([1, 0], backend=backend), 2)
    assert got.dtype == xg.float32 == xpx.default_dtype(xg)
    assert got.tolist() == [[0.0, 1.0], [1.0, 0.0]]


@pytest.mark.filterwarnings("ignore:`xpx.broadcast_shapes` is deprecated:DeprecationWarning")
def test_namespace_helpers(xpx):
    assert xpx.broadcast_shapes((3, 1), (1, 4), ()) == (3, 4) == xg.broadcast_shapes((3, 1),
                                                                                   (1, 4), ())
    with pytest.raises(ValueError):
        xpx.broadcast_shapes((3,), (4,))
    assert xpx.default_dtype(xg) == xg.float32
    assert xpx.default_dtype(xg, "complex floating") == xg.complex64
    assert xpx.default_dtype(xg, "integral") == xg.int64
    assert xpx.default_dtype(xg, "indexing") == xg.int64


@pytest.mark.parametrize("method", ["min", "max"])
def test_at_min_max_on_tensors_of_a_backend_that_is_not_the_default(xpx, method):
    """``at(x)[i].min(y)``/``.max(y)`` convert ``y`` with ``xp.asarray(y)``, no ``device=``: a 0-d
    tensor of the default backend. On numba tensors with numpy the default that raised
    MixedBackendError; a constant 0-d tensor now joins the other backend, as a CPU scalar
    tensor joins CUDA tensors in PyTorch."""
    pytest.importorskip("numba")
    (a,) = _data(7, (3, 4))
    update = lambda x: getattr(xpx.at(x * 1.0)[:, 1], method)(0.0)
    with xg.use_backend("numpy"):
        check(update, [a], "numba")


def test_apply_where_under_vmap(xpx, backend):
    """``apply_where`` indexes with the mask (``x[cond]``) where the namespace reports boolean
    indexing: under ``xg.vmap`` each example's mask selects a different count, and it raised
    "_RaggedResults getitem under xg.vmap". There xpgrad reports no boolean indexing and no
    data-dependent shapes (as JAX does), so array-api-extra takes its ``where`` form."""
    def f(x):
        # the where form computes the function everywhere: one defined everywhere, as in JAX
        return xpx.apply_where(x > 0, x, lambda t: xg.exp(t) * t, fill_value=0.5)

    batch = xg.asarray(_data(13, (3, 4))[0], backend=backend)
    mapped = xg.vmap(f)(batch)
    one_by_one = xg.stack([f(batch[i]) for i in range(3)])
    np.testing.assert_array_equal(mapped.numpy(), one_by_one.numpy())
    xg.testing.check_grads(xg.vmap(f), [batch])
    assert xg.__array_namespace_info__().capabilities()["boolean indexing"]
    inside = xg.vmap(lambda x: x * xg.__array_namespace_info__().capabilities()[
        "data-dependent shapes"])(batch)
    assert not inside.numpy().any()
