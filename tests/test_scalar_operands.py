"""Python scalar operands of add, subtract, multiply and divide reach NumPy as cached 0-d arrays
of the other operand's dtype (``Backend.scalar_arrays``): values, dtypes and gradients are
exactly NumPy's own with the Python scalar, on either side, for every kind of scalar."""
import operator

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.primitive import PRIMITIVES

torch = pytest.importorskip("torch")

_OPS = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
        "divide": operator.truediv}
_SCALARS = [1.5, 0.1, -2.25, 3, -7, 2 ** 30, 0.0, -0.0, 0, float("inf"), float("nan"), 1e300,
            True, 1e-45]
_X = np.array([0.7, -1.3, 2.1, 0.0])


def _backends():
    return [b for b in ("numpy", "numba") if b in backend_report()]


def _values(backend, dtype, op):
    x = xg.asarray(_X.astype(dtype), backend=backend)
    with np.errstate(all="ignore"):
        return [out.numpy() for s in _SCALARS for out in (op(x, s), op(s, x))]


def _same(got, want):
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("name", sorted(_OPS))
def test_values_and_dtypes_are_those_with_the_python_scalar(backend, dtype, name, monkeypatch):
    op = _OPS[name]
    cached = _values(backend, dtype, op)
    if dtype.startswith("float"):               # xpgrad's promotion is NumPy's here
        raw = _X.astype(dtype)
        with np.errstate(all="ignore"):
            numpys = [np.asarray(out) for s in _SCALARS for out in (op(raw, s), op(s, raw))]
        for got, want in zip(cached, numpys):
            _same(got, want)
    monkeypatch.setattr(type(xg.get_backend(backend)), "array_class", None)
    for got, want in zip(cached, _values(backend, dtype, op)):
        _same(got, want)


def _gradients(backend, dtype, scalars):
    x = xg.asarray(_X + 1.0, dtype=dtype, backend=backend)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        outs = [xg.sum(op(x, s) * op(s, x)) for s in scalars for op in _OPS.values()]
    return [tape.gradient(o, x).numpy() for o in outs]


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients_equal_those_with_python_scalars(backend, dtype, monkeypatch):
    scalars = [1.5, -0.1, 3, 2 ** 30]
    cached = _gradients(backend, dtype, scalars)
    monkeypatch.setattr(type(xg.get_backend(backend)), "array_class", None)
    plain = _gradients(backend, dtype, scalars)
    for a, b in zip(cached, plain):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_gradients_match_torch_in_float64():
    x0 = _X + 1.0
    x = xg.asarray(x0, dtype="float64")
    xt = torch.tensor(x0, requires_grad=True)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(xg.tanh(xg.sin(x) * 1.5 + 0.1) / 3.0 - 2 * x + (1.0 - x) / (0.5 + x * x))
    yt = (torch.tanh(torch.sin(xt) * 1.5 + 0.1) / 3.0 - 2 * xt + (1.0 - xt) / (0.5 + xt * xt))
    yt.sum().backward()
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), xt.grad.numpy(), rtol=1e-12)


def test_second_derivative_through_a_cached_scalar():
    x = xg.asarray([0.3, -1.2], dtype="float64")
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = xg.sum(xg.sin(x * 1.5) / 2.0)
        g = inner.gradient(y, x)
    h = outer.gradient(g, x).numpy()
    np.testing.assert_allclose(h, -1.5 * 1.5 / 2.0 * np.sin(1.5 * x.numpy()), rtol=1e-12)


def test_the_tables_hold_read_only_arrays_and_stop_growing():
    be = xg.get_backend("numpy")
    x = xg.asarray(np.ones(3, np.float32))
    for i in range(400):                       # a new float every step: a schedule
        v = 1.0 + i / 1000.0
        np.testing.assert_array_equal((x * v).numpy(), np.ones(3, np.float32) * v)
    table = be.scalar_arrays[np.dtype(np.float32)]
    assert 0 < len(table) <= 256
    assert all(not a.flags.writeable and a.shape == () for a in table.values())


def test_only_the_arithmetic_primitives_take_scalar_arrays():
    assert {n for n, p in PRIMITIVES.items() if p.scalar_arrays} == set(_OPS)
