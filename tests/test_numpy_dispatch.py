"""NumPy on Tensors (xpgrad/numpy_dispatch/): ufuncs and functions run xpgrad and stay on the
tape; what has no mapping raises while a tape differentiates, runs NumPy otherwise;
``np.asarray`` and DLPack refuse a tensor a recording tape differentiates."""
from __future__ import annotations

import operator

import numpy as np
import pytest

import xpgrad as xg
from xpgrad import numpy_dispatch
from xpgrad.testing import check_grads


def f64(a):
    return xg.asarray(np.asarray(a, dtype=np.float64))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _has(path):
    obj = xg
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return False
    return True


def _value_and_grad(fn, x):
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        assert isinstance(y, xg.Tensor), f"{fn} left xpgrad: {type(y).__name__}"
        loss = xg.sum(y)
    return y, tape.gradient(loss, x)


# -- ufuncs ---------------------------------------------------------------------------------------

UNARY = [np.exp, np.log, np.sqrt, np.sin, np.cos, np.tanh, np.negative, np.positive,
         np.absolute, np.square, np.expm1, np.log1p, np.log2, np.log10, np.tan, np.arctan,
         np.sinh, np.cosh, np.arcsinh, np.reciprocal, np.exp2, np.deg2rad, np.rad2deg,
         np.cbrt, np.conjugate]


@pytest.mark.parametrize("ufunc", UNARY, ids=lambda u: u.__name__)
def test_unary_ufuncs_stay_on_the_tape(ufunc, rng):
    name = numpy_dispatch.UFUNCS.get(ufunc.__name__)
    if name is not None and not _has(name):
        pytest.skip(f"xpgrad has no {name} yet")
    a = np.abs(rng.standard_normal((2, 3))) + 0.5
    x = f64(a)
    y, g = _value_and_grad(ufunc, x)
    np.testing.assert_allclose(y.numpy(), ufunc(a), rtol=1e-12)
    assert g is not None
    check_grads(ufunc, [x], order=2)


BINARY = [np.add, np.subtract, np.multiply, np.divide, np.power, np.maximum, np.minimum,
          np.arctan2, np.hypot, np.logaddexp, np.logaddexp2, np.float_power, np.copysign]


@pytest.mark.parametrize("ufunc", BINARY, ids=lambda u: u.__name__)
def test_binary_ufuncs_stay_on_the_tape(ufunc, rng):
    name = numpy_dispatch.UFUNCS.get(ufunc.__name__)
    if name is not None and not _has(name):
        pytest.skip(f"xpgrad has no {name} yet")
    a = np.abs(rng.standard_normal((2, 3))) + 0.5
    b = np.abs(rng.standard_normal(3)) + 0.5
    x, y = f64(a), f64(b)
    out = ufunc(x, y)
    assert isinstance(out, xg.Tensor)
    np.testing.assert_allclose(out.numpy(), ufunc(a, b), rtol=1e-12)
    check_grads(lambda p, q: ufunc(p, q), [x, y], order=1)
    assert isinstance(ufunc(b, x), xg.Tensor)         # an ndarray first dispatches as well


def test_operators_between_ndarrays_and_tensors_stay_on_the_tape():
    x = f64([1.0, 2.0])
    a = np.array([3.0, 4.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = a * x + np.float64(2.0) * x - a / x + a @ x
        loss = xg.sum(y)
    assert isinstance(y, xg.Tensor)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(),
                               a + 2.0 + a / x.numpy() ** 2 + a * 2)


def test_comparisons_and_predicates_give_tensors():
    x = f64([1.0, np.nan, 3.0])
    assert isinstance(np.isnan(x), xg.Tensor) and np.isnan(x).tolist() == [False, True, False]
    assert np.greater(x, 2.0).tolist() == [False, False, True]
    assert np.logical_not(np.isfinite(x)).tolist() == [False, True, False]


def test_ufunc_methods_reduce_accumulate_outer(rng):
    a = rng.standard_normal((3, 4))
    x = f64(a)
    np.testing.assert_allclose(np.add.reduce(x).numpy(), np.add.reduce(a))
    np.testing.assert_allclose(np.multiply.reduce(x, axis=1, keepdims=True).numpy(),
                               np.multiply.reduce(a, axis=1, keepdims=True))
    np.testing.assert_allclose(np.maximum.reduce(x, axis=None).numpy(), a.max())
    np.testing.assert_allclose(np.add.accumulate(x, axis=1).numpy(), np.cumsum(a, axis=1))
    np.testing.assert_allclose(np.multiply.outer(x[0], x[1]).numpy(), np.outer(a[0], a[1]))
    check_grads(lambda t: np.add.reduce(t * t, axis=1), [x], order=2)
    check_grads(lambda t: np.multiply.outer(t[0], t[1]), [x], order=2)


def test_ufunc_dtype_and_out(rng):
    x = xg.asarray([1.5, 2.5], dtype=xg.float32)
    assert np.add(x, 1.0, dtype=np.float64).dtype == xg.float64
    out = xg.zeros(2, dtype=xg.float32)
    res = np.multiply(x, 2.0, out=out)
    assert res is out and out.tolist() == [3.0, 5.0]
    s = xg.zeros((), dtype=xg.float32)
    np.add.reduce(x, out=s)
    assert s.item() == 4.0
    w = f64([1.0, 2.0])
    with xg.GradientTape() as tape:       # out= is a recorded write
        tape.watch(w)
        buf = xg.zeros(2, dtype=xg.float64)
        np.exp(w, out=buf)
        loss = xg.sum(buf)
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), np.exp([1.0, 2.0]))


def test_ufunc_at_refuses():
    x = xg.zeros(3)
    with pytest.raises(TypeError, match="in place"):
        np.add.at(x, [0, 0], 1.0)
    assert x.tolist() == [0.0, 0.0, 0.0]


# -- functions ------------------------------------------------------------------------------------

FUNCTIONS = [
    ("sum", lambda t: np.sum(t, axis=0)),
    ("sum", lambda t: np.sum(t, axis=(0, 1), keepdims=True)),
    ("prod", lambda t: np.prod(t, axis=1)),
    ("mean", lambda t: np.mean(t)),
    ("std", lambda t: np.std(t, axis=1, ddof=1)),
    ("var", lambda t: np.var(t, axis=0)),
    ("max", lambda t: np.max(t, axis=1)),
    ("min", lambda t: np.amin(t, axis=0, keepdims=True)),
    ("cumulative_sum", lambda t: np.cumsum(t, axis=1)),
    ("cumulative_sum", lambda t: np.cumsum(t)),
    ("cumulative_prod", lambda t: np.cumprod(t, axis=0)),
    ("mean", lambda t: np.average(t, axis=1, weights=np.array([1.0, 2.0, 3.0, 4.0]))),
    ("concat", lambda t: np.concatenate([t, t * 2.0], axis=1)),
    ("concat", lambda t: np.concatenate([t, np.ones((1, 4))], axis=None)),
    ("concat", lambda t: np.hstack([t, t])),
    ("concat", lambda t: np.vstack([t[0], t[1]])),
    ("concat", lambda t: np.column_stack([t[0], t[1], t[2]])),       # 1-D: columns
    ("concat", lambda t: np.column_stack([t, t[:, 1] * 2.0])),
    ("concat", lambda t: np.column_stack([t[0, 0], t[1, 1] * t[2, 2]])),   # 0-d: 1x1
    ("concat", lambda t: np.dstack([t, t * t])),
    ("concat", lambda t: np.dstack([t[0], t[1]])),
    ("stack", lambda t: np.apply_along_axis(lambda r: r * r[0], 1, t)),
    ("stack", lambda t: np.apply_along_axis(np.sum, 0, t)),
    ("stack", lambda t: np.apply_along_axis(lambda r: np.outer(r, r), 0, t)),   # (3, 3, 4)
    ("stack", lambda t: np.apply_along_axis(np.roll, -1, t, 1)),
    ("stack", lambda t: np.apply_along_axis(lambda r, s, power=1: s * r ** power, 2, t[None],
                                            2.0, power=3)),
    ("stack", lambda t: np.stack([t, t * t], axis=-1)),
    ("permute_dims", lambda t: np.transpose(t)),
    ("permute_dims", lambda t: np.swapaxes(t[None], 0, 2)),
    ("moveaxis", lambda t: np.moveaxis(t[None], 0, -1)),
    ("reshape", lambda t: np.reshape(t, (4, 3))),
    ("reshape", lambda t: np.ravel(t)),
    ("squeeze", lambda t: np.squeeze(t[None, :, None])),
    ("expand_dims", lambda t: np.expand_dims(t, (0, 3))),
    ("broadcast_to", lambda t: np.broadcast_to(t[0], (2, 4))),
    ("reshape", lambda t: np.atleast_3d(t[0])),
    ("where", lambda t: np.where(t > 0, t, t * t)),
    ("clip", lambda t: np.clip(t, -0.5, 0.5)),
    ("matmul", lambda t: np.dot(t, t.T)),
    ("matmul", lambda t: np.dot(t[0], t[1])),
    ("tensordot", lambda t: np.inner(t, t)),
    ("outer", lambda t: np.outer(t[0], t[1])),
    ("tensordot", lambda t: np.tensordot(t, t, axes=([1], [1]))),
    ("sum", lambda t: np.vdot(t, t)),
    ("take", lambda t: np.take(t, [3, 0, 3], axis=1)),
    ("take", lambda t: np.take(t, [[1, 5], [11, 0]])),
    ("take_along_axis", lambda t: np.take_along_axis(t, np.array([[0], [3], [1]]), axis=1)),
    ("flip", lambda t: np.flip(t, axis=0)),
    ("getitem", lambda t: np.split(t, 2, axis=1)[1]),
    ("getitem", lambda t: np.array_split(t, [1], axis=0)[1]),
    ("roll", lambda t: np.roll(t, 1, axis=1)),
    ("tile", lambda t: np.tile(t, (1, 2))),
    ("repeat", lambda t: np.repeat(t, 2, axis=0)),
    ("sort", lambda t: np.sort(t, axis=1)),
    ("diff", lambda t: np.diff(t, axis=1)),
    ("tril", lambda t: np.tril(t)),
    ("einsum", lambda t: np.einsum("ij,kj->ik", t, t)),
    ("linalg.trace", lambda t: np.trace(t)),
    ("linalg.diagonal", lambda t: np.diagonal(t, offset=1)),
    ("linalg.vector_norm", lambda t: np.linalg.norm(t)),
    ("linalg.vector_norm", lambda t: np.linalg.norm(t, axis=1)),
    ("linalg.matrix_norm", lambda t: np.linalg.norm(t[:, :3], ord="fro", axis=(0, 1))),
    ("linalg.det", lambda t: np.linalg.det(t[:, :3])),
    ("linalg.inv", lambda t: np.linalg.inv(t[:, :3])),
    ("linalg.solve", lambda t: np.linalg.solve(t[:, :3], t[:, 3])),
    ("linalg.cross", lambda t: np.cross(t[0, :3], t[1, :3])),
    ("fft.fft", lambda t: np.abs(np.fft.fft(t, axis=1))),
    ("fft.rfftn", lambda t: np.real(np.fft.rfft2(t))),
    ("fft.fftshift", lambda t: np.fft.fftshift(t)),
]


@pytest.mark.parametrize("needs, fn", FUNCTIONS, ids=[f"{n}-{i}" for i, (n, _) in
                                                      enumerate(FUNCTIONS)])
def test_numpy_functions_match_numpy_and_differentiate(needs, fn, rng):
    if not _has(needs):
        pytest.skip(f"xpgrad has no {needs} yet")
    a = rng.standard_normal((3, 4))
    x = f64(a)
    try:
        y, g = _value_and_grad(fn, x)
    except TypeError as e:                      # a function the mapping needs is missing
        if "has no" in str(e):
            pytest.skip(str(e))
        raise
    np.testing.assert_allclose(y.numpy(), fn(a), rtol=1e-10, atol=1e-12)
    assert g is not None
    check_grads(fn, [x], order=1)


def test_integer_and_boolean_results():
    x = f64([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert np.argmax(x, axis=1).tolist() == [0, 1]
    assert np.argmin(x).item() == 3
    assert np.any(x > 4.0).item() and not np.all(x > 0.0).item()
    assert np.shape(x) == (2, 3) and np.ndim(x) == 2 and np.size(x) == 6
    if _has("argsort"):
        assert np.argsort(x, axis=1).tolist() == [[1, 2, 0], [0, 2, 1]]


def test_like_copy_and_astype():
    x = xg.asarray([1.0, 2.0], dtype=xg.float32)
    z = np.zeros_like(x)
    assert isinstance(z, xg.Tensor) and z.dtype == xg.float32 and z.tolist() == [0.0, 0.0]
    assert np.ones_like(x, dtype=np.int32).dtype == xg.int32
    assert np.full_like(x, 7.0).tolist() == [7.0, 7.0]
    assert np.zeros_like(x, shape=(3,)).shape == (3,)
    c = np.copy(x)
    assert isinstance(c, xg.Tensor) and c is not x and c.tolist() == [1.0, 2.0]
    assert np.astype(x, np.float64).dtype == xg.float64
    w = f64([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(w)
        loss = xg.sum(np.copy(w) * np.astype(w, np.float32))
    assert tape.gradient(loss, w).tolist() == [2.0, 4.0]


def test_function_out_is_honoured():
    x = f64([[1.0, 2.0], [3.0, 4.0]])
    out = xg.zeros(2, dtype=xg.float64)
    assert np.sum(x, axis=0, out=out) is out and out.tolist() == [4.0, 6.0]


# -- what has no mapping --------------------------------------------------------------------------

def test_unmapped_raises_under_a_tape_and_runs_numpy_outside():
    x = f64([0.5, 1.5])
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="np.i0 has no xpgrad counterpart"):
            np.i0(x)
        with pytest.raises(TypeError, match="gradient would come back None"):
            np.interp(x * 2.0, [0.0, 4.0], [1.0, 0.0])   # derived from x: refused too
        with pytest.raises(TypeError, match="decimals"):
            np.round(x, 2)                        # a mapped function, an argument it lacks
        with pytest.raises(TypeError, match="np.fmod"):
            np.fmod(x, 1.0)
        np.testing.assert_allclose(np.i0(xg.ones(2)), np.i0(np.ones(2)),  # not watched
                                   atol=1e-6)
        assert np.allclose(x, x) and np.isclose(x, x).all()   # no gradient: NumPy may run
    out = np.i0(x)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, np.i0([0.5, 1.5]))
    np.testing.assert_allclose(np.round(x, 1), [0.5, 1.5])


def test_numpy_cannot_write_into_a_tensor_through_the_fallback():
    x = xg.zeros(3)
    with pytest.raises(TypeError, match=r"np.put writes into .*x\[idx\] = v"):
        np.put(x, [0], [5.0])
    assert x.tolist() == [0.0, 0.0, 0.0]
    np.copyto(x, [1.0, 2.0, 3.0])                 # mapped: a write into the tensor
    assert x.tolist() == [1.0, 2.0, 3.0]


def test_ndarray_out_with_a_differentiated_tensor_is_refused():
    x = f64([1.0, 2.0])
    buf = np.zeros(2)
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="out="):
            np.exp(x, out=buf)
    np.exp(x, out=buf)                             # outside tapes NumPy writes it
    np.testing.assert_allclose(buf, np.exp([1.0, 2.0]))


def test_unknown_array_types_get_not_implemented():
    class Other:
        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            return "other"

    assert numpy_dispatch.array_ufunc(np.add, "__call__", (xg.ones(1), Other()), {}) \
        is NotImplemented


# -- leaving xpgrad: np.asarray, .numpy(), DLPack -------------------------------------------------

def test_asarray_refuses_a_differentiated_tensor_while_recording():
    x = f64([1.0, 2.0])
    w = xg.Variable([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
        for t in (x, y, w):
            with pytest.raises(TypeError, match=r"stop_gradient\(t\)\.numpy\(\)"):
                np.asarray(t)
        with pytest.raises(TypeError, match="cut it from the tape"):
            np.array([y, y])
        assert np.asarray(xg.stop_gradient(y)).tolist() == [2.0, 4.0]
        assert np.asarray(xg.ones(2)).tolist() == [1.0, 1.0]     # nothing differentiates it
        assert y.numpy().tolist() == [2.0, 4.0] and y.tolist() == [2.0, 4.0]   # explicit
        assert float(y[0]) == 2.0 and y[1].item() == 4.0 and "Tensor" in repr(y)
        loss = xg.sum(y)
    assert tape.gradient(loss, x).tolist() == [2.0, 2.0]
    assert np.asarray(y).tolist() == [2.0, 4.0]                  # after the tape: fine
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    a = np.asarray(x, copy=True)
    a[0] = 9.0
    assert x.tolist() == [1.0, 2.0]


def test_asarray_keeps_the_tape():
    """``xg.asarray(t, copy=..., dtype=...)`` is recorded (xpgrad/creation.py)."""
    x = f64([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        c = xg.asarray(x, copy=True)
        d = xg.asarray(x, dtype=xg.float32)
        same = xg.asarray(x)
        loss = xg.sum(c * 3.0) + xg.sum(d * d) + xg.sum(same)
    assert same is x and c is not x and d.dtype == xg.float32
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [3.0 + 2.0 + 1.0,
                                                                3.0 + 4.0 + 1.0])
    check_grads(lambda t: xg.asarray(t, copy=True) ** 2, [x], order=2)
    with pytest.raises(ValueError, match="copy=False"):
        xg.asarray(x, dtype=xg.float32, copy=False)


def test_dlpack():
    x = xg.asarray([1.0, 2.0, 3.0])
    assert x.__dlpack_device__() == (1, 0)
    for kwargs in ({}, {"max_version": (1, 0)}, {"dl_device": (1, 0)}, {"copy": True},
                   {"stream": None}):
        assert np.from_dlpack(x, **{k: v for k, v in kwargs.items()
                                    if k == "copy"}).tolist() == [1.0, 2.0, 3.0]
        assert x.__dlpack__(**kwargs) is not None
    assert xg.from_dlpack(np.arange(2.0)).tolist() == [0.0, 1.0]
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="DLPack"):
            np.from_dlpack(x * 2.0)
        np.from_dlpack(xg.ones(1))                # nothing differentiates it
    torch = pytest.importorskip("torch")
    assert torch.from_dlpack(x).tolist() == [1.0, 2.0, 3.0]     # another library's consumer


@pytest.mark.usefixtures("numpy_default")
def test_array_namespace_and_attributes():
    x = xg.asarray([[1.0, 2.0, 3.0]])
    assert x.__array_namespace__() is xg
    assert x.__array_namespace__(api_version="2023.12") is xg
    assert x.__array_namespace__(api_version="2022.12") is xg
    for bad in ("2020.01", "2099.12", 2023):
        with pytest.raises(ValueError, match="api_version"):
            x.__array_namespace__(api_version=bad)
    assert x.shape == (1, 3) and x.ndim == 2 and x.size == 3 and x.dtype == xg.float32
    assert x.device == xg.Device("numpy") and x.to_device(x.device).tolist() == x.tolist()
    assert x.T.shape == (3, 1) and x.mT.shape == (3, 1)
    with pytest.raises(ValueError, match="2-D"):
        xg.ones((2, 2, 2)).T


def test_scalar_conversions():
    assert complex(xg.asarray(1.5)) == 1.5 + 0j
    if hasattr(xg, "complex64"):
        assert complex(xg.asarray(1 + 2j)) == 1 + 2j
    for dt in (xg.uint8, xg.uint64, xg.int8, xg.bool):
        assert operator.index(xg.asarray(1, dtype=dt)) == 1
    assert list(range(5))[xg.asarray(3, dtype=xg.uint16)] == 3
    with pytest.raises(TypeError, match="integer"):
        list(range(5))[xg.asarray(1.0)]


# -- xpgrad's own code paths that read values under a tape ----------------------------------------

def test_training_code_that_reads_values_under_a_tape_still_runs():
    model = xg.nn.MLP([4, 8, 3]) if hasattr(xg.nn, "MLP") else None
    if model is None:
        pytest.skip("no MLP")
    x = xg.asarray(np.random.default_rng(0).standard_normal((5, 4)), dtype=xg.float32)
    y = xg.asarray([0, 1, 2, 1, 0])
    with xg.GradientTape() as tape:
        logits = model(x)
        loss = xg.losses.softmax_cross_entropy(logits, y)
        pred = np.argmax(logits.numpy(), axis=1)              # metrics read values explicitly
        acc = float(np.mean(pred == y.numpy()))
        _ = float(loss)
    grads = tape.gradient(loss, tape.watched_variables())
    assert all(g is not None for g in grads) and 0.0 <= acc <= 1.0


def test_every_ufunc_mapping_names_an_xpgrad_function():
    tables = [numpy_dispatch.UFUNCS, numpy_dispatch.REDUCE, numpy_dispatch.ACCUMULATE]
    missing = sorted({name for table in tables for name in table.values() if not _has(name)})
    assert not missing, f"numpy_dispatch maps to functions xpgrad lacks: {missing}"
    for np_name in list(numpy_dispatch.UFUNCS) + list(numpy_dispatch.COMPOSED):
        assert isinstance(getattr(np, np_name), np.ufunc), np_name


@pytest.mark.parametrize("call", [
    lambda t, k: np.sum(t, keepdims=k),
    lambda t, k: np.mean(t, axis=0, keepdims=k),
    lambda t, k: np.std(t, keepdims=k),
    lambda t, k: np.argmax(t, axis=1, keepdims=k),
    lambda t, k: np.average(t, axis=0, keepdims=k),
    lambda t, k: np.count_nonzero(t, axis=0, keepdims=k),
    lambda t, k: np.linalg.norm(t, axis=1, keepdims=k),
    lambda t, k: np.add.reduce(t, axis=0, keepdims=k),
], ids=["sum", "mean", "std", "argmax", "average", "count_nonzero", "norm", "add.reduce"])
def test_keepdims_is_read_as_numpy_reads_it(call):
    """NumPy's reductions take a bool or an integer and refuse a string or a float; before,
    the dispatch read ``keepdims="no"`` as True (truthiness), and some refused 1."""
    a = np.array([[1.0, 2.0, 0.0], [3.0, 0.5, 4.0]])
    t = xg.asarray(a)
    for k in (True, False, 1, 0):
        np.testing.assert_allclose(np.asarray(call(t, k).numpy()), call(a, k))
    for bad in ("no", 2.5):
        with pytest.raises(TypeError, match="keepdims"):
            call(t, bad)
