"""Backends: selection order, the registry and its report, errors, a third-party backend over
array-api-strict (registered directly and through an entry point), moving tensors between them.
Every test that touches global backend state uses the ``clean_backends`` fixture."""
from __future__ import annotations

import importlib.metadata
import sys
import types

import numpy as np
import pytest

import xpgrad as xg
from xpgrad import dtypes as _dt

try:
    import array_api_strict as xs
except ImportError:      # only the tests with the toy backend need it
    xs = None
needs_strict = pytest.mark.skipif(xs is None, reason="the toy backend runs on array-api-strict")


from xpgrad.testing import StrictBackend  # noqa: E402 (the array API's reference as a backend)


@pytest.fixture
def strict(clean_backends):
    if xs is None:
        pytest.skip("the toy backend runs on array-api-strict")
    xg.register_backend("strict", StrictBackend)
    return xg.get_backend("strict")


def loss_and_grads(backend):
    rng = np.random.default_rng(0)
    x = xg.asarray(rng.standard_normal((4, 3)), dtype=xg.float64, backend=backend)
    w = xg.Variable(xg.asarray(rng.standard_normal((3, 2)), dtype=xg.float64, backend=backend))
    with xg.GradientTape() as tape:
        tape.watch(x)
        h = xg.tanh(x @ w) + xg.nn.sigmoid(x[:, :2])
        loss = xg.mean(xg.nn.log_softmax(h, axis=-1)) + xg.sum(xg.max(x, axis=0) ** 2)
    return loss, tape.gradient(loss, [x, w])


# -- selection order --------------------------------------------------------------------------

def test_default_is_numpy(clean_backends):
    assert xg.current_backend().name == "numpy"
    assert xg.zeros(2).backend.name == "numpy"


def test_selection_order(strict, monkeypatch):
    numpy = xg.get_backend("numpy")
    monkeypatch.setenv("XPGRAD_BACKEND", "strict")
    assert xg.zeros(1).backend is strict                        # env over the default
    xg.set_backend("numpy")
    assert xg.zeros(1).backend is numpy                         # set_backend over env
    xg.set_backend("strict")
    with xg.use_backend("numpy"):
        assert xg.zeros(1).backend is numpy                     # use_backend over set_backend
        with xg.use_backend(strict):
            assert xg.ones(1).backend is strict                 # innermost wins
        assert xg.ones(1).backend is numpy
        t = xg.asarray([1.0], backend="strict")                 # backend= over everything
        assert t.backend is strict
        assert (t * 2.0).backend is strict                      # the tensors' own backend
        assert xg.sum(t).backend is strict
    assert xg.current_backend() is strict


def test_use_backend_restores_on_error(clean_backends):
    before = xg.current_backend()
    with pytest.raises(KeyError):
        with xg.use_backend("numpy"):
            raise KeyError
    assert xg.current_backend() is before


def test_every_creation_function_takes_backend(strict):
    made = [xg.asarray([1.0], backend="strict"), xg.zeros(2, backend="strict"),
            xg.ones(2, backend="strict"), xg.full(2, 3.0, backend="strict"),
            xg.empty(2, backend="strict"), xg.arange(3, backend="strict"),
            xg.linspace(0.0, 1.0, 3, backend="strict"), xg.eye(2, backend="strict")]
    assert all(t.backend is strict for t in made)
    like = xg.zeros_like(made[0])
    assert like.backend is strict and xg.ones_like(made[1]).backend is strict


# -- the registry and its report --------------------------------------------------------------

def test_available_backends_reports_each_with_reason(clean_backends):
    def no_device():
        raise xg.BackendUnavailableError("backend 'gpu-toy' needs a CUDA device; none found")

    def broken():
        raise RuntimeError("driver exploded")

    xg.register_backend("gpu-toy", no_device)
    xg.register_backend("missing-toy", "xpgrad_no_such_module:Backend")
    xg.register_backend("broken-toy", broken)
    report = xg.available_backends()
    assert report["numpy"]["available"] is True and report["numpy"]["reason"] is None
    assert report["gpu-toy"] == {"available": False,
                                 "reason": "backend 'gpu-toy' needs a CUDA device; none found"}
    assert "could not be imported" in report["missing-toy"]["reason"]
    assert "xpgrad_no_such_module" in report["missing-toy"]["reason"]
    assert "driver exploded" in report["broken-toy"]["reason"]
    for name, entry in report.items():
        assert entry["available"] or entry["reason"], name
    for name in ("numba", "cupy"):                       # known even where not installed
        assert name in report


def test_unavailable_backend_raises_with_reason(clean_backends):
    xg.register_backend("missing-toy", "xpgrad_no_such_module:Backend")
    for _ in range(2):                                   # the failure is remembered
        with pytest.raises(xg.BackendUnavailableError, match="missing-toy.*could not be import"):
            xg.zeros(2, backend="missing-toy")
    with pytest.raises(xg.BackendUnavailableError):
        xg.set_backend("missing-toy")


def test_unknown_backend_name(clean_backends):
    for call in (lambda: xg.get_backend("nope"), lambda: xg.zeros(2, backend="nope"),
                 lambda: xg.set_backend("nope"), lambda: xg.use_backend("nope").__enter__(),
                 lambda: xg.ones(1).to("nope")):
        with pytest.raises(xg.UnknownBackendError, match=r"unknown backend 'nope'.*numpy"):
            call()
    assert issubclass(xg.UnknownBackendError, ValueError)


def test_unknown_backend_from_environment(clean_backends, monkeypatch):
    monkeypatch.setenv("XPGRAD_BACKEND", "nope")
    with pytest.raises(xg.UnknownBackendError, match="'nope'"):
        xg.zeros(1)


def test_numpy_is_an_installed_entry_point():
    eps = importlib.metadata.entry_points(group="xpgrad.backends")
    assert "numpy" in {ep.name for ep in eps}


# -- a third-party backend --------------------------------------------------------------------

def test_registered_third_party_backend_runs_a_gradient(strict):
    loss, (gx, gw) = loss_and_grads("strict")
    ref_loss, (rx, rw) = loss_and_grads("numpy")
    assert loss.backend is strict and gx.backend is strict and gw.backend is strict
    assert isinstance(gx._data, type(xs.asarray(0.0)))          # really array-api-strict arrays
    np.testing.assert_allclose(loss.numpy(), ref_loss.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gx.numpy(), rx.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw.numpy(), rw.numpy(), rtol=1e-12)


def test_slice_gradients_accumulate_on_a_backend_without_overrides(strict):
    """The tape's in-place accumulation of slice gradients (xpgrad/accumulate.py) through the
    array-API namespace only; unstack indexes every axis, as the standard asks."""
    x0 = np.arange(12.0).reshape(3, 4)
    x = xg.asarray(x0, dtype=xg.float64, backend=strict)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(x[1:, ::2] * 3.0) + xg.sum(x * x)
        y = y + sum(xg.sum(col * float(i)) for i, col in enumerate(xg.unstack(x, axis=1)))
    g = tape.gradient(y, x)
    expected = 2 * x0 + np.arange(4.0)
    expected[1:, ::2] += 3
    assert g.backend is strict
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("labels,bad", [([2, 0, 1], None), ([0, 3, 1], 3), ([-2, 0, 2], -2)])
def test_label_range_check_on_a_backend_without_overrides(strict, labels, bad):
    """Backend.index_range's generic version (one transfer; what CuPy uses) checks labels as
    the NumPy override does."""
    logits = xg.asarray(np.zeros((3, 3)), dtype=xg.float64, backend=strict)
    y = xg.asarray(labels, dtype=xg.int64, backend=strict)
    assert strict.index_range(y._data) == (min(labels), max(labels))
    if bad is None:
        loss = xg.losses.softmax_cross_entropy(logits, y)
        np.testing.assert_allclose(loss.numpy(), np.log(3.0), rtol=1e-12)
    else:
        with pytest.raises(IndexError, match=f"label {bad} is out of range for 3 classes"):
            xg.losses.softmax_cross_entropy(logits, y)


def test_third_party_backend_second_order(strict):
    x = xg.asarray([0.3, -1.2, 2.0], dtype=xg.float64, backend=strict)
    xg.testing.check_grads(lambda a: xg.sum(xg.nn.softplus(a) * a ** 2), [x], order=2)


@needs_strict
def test_entry_point_backend(clean_backends, monkeypatch):
    module = types.ModuleType("xpgrad_toy_plugin")
    module.StrictBackend = StrictBackend
    monkeypatch.setitem(sys.modules, "xpgrad_toy_plugin", module)
    real = importlib.metadata.entry_points

    def entry_points(**kw):
        eps = list(real(**kw))
        if kw.get("group") == "xpgrad.backends":
            eps.append(importlib.metadata.EntryPoint(
                "toy", "xpgrad_toy_plugin:StrictBackend", "xpgrad.backends"))
        return eps

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.setattr(clean_backends, "_entry_points_loaded", False)
    assert xg.available_backends()["toy"]["available"] is True
    x = xg.asarray([1.0, 2.0], backend="toy")
    g = xg.grad(lambda a: xg.sum(xg.exp(a)))(x)
    assert isinstance(g.backend, StrictBackend)
    np.testing.assert_allclose(g.numpy(), np.exp([1.0, 2.0]), rtol=1e-6)


# -- mixing and moving ------------------------------------------------------------------------

def test_mixed_backends_raise(strict):
    a = xg.ones(2)
    b = xg.ones(2, backend="strict")
    with pytest.raises(xg.MixedBackendError, match=r"'numpy' and 'strict'.*\.to\("):
        a + b
    with pytest.raises(xg.MixedBackendError, match="strict"):
        xg.concat([a, b])
    with pytest.raises(xg.MixedBackendError):
        xg.where(a > 0, b, a)
    with pytest.raises(ValueError, match="index on backend 'strict'"):
        a[xg.asarray([0], backend="strict")]


def test_tensor_to_moves_between_backends(strict):
    a = xg.asarray([[1.0, 2.0]], dtype=xg.float64)
    b = a.to("strict")
    assert b.backend is strict and b.dtype == xg.float64 and b.shape == (1, 2)
    back = b.to(xg.get_backend("numpy"))
    assert back.backend.name == "numpy" and back.tolist() == [[1.0, 2.0]]
    assert a.to("numpy") is a
    moved = xg.asarray(a, backend="strict")                  # explicit backend= moves too
    assert moved.backend is strict
    assert (a + b.to("numpy")).tolist() == [[2.0, 4.0]]


def test_gradients_flow_back_across_a_backend_move(strict):
    """``to`` is recorded: the gradient of work done on the other backend lands on the
    source tensor, on the source backend; second order works through the move too."""
    x = xg.asarray([0.5, -1.0, 2.0], dtype=xg.float64)
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.sum(xg.sin(x.to("strict")) * 3.0)
        (g,) = tape.gradient(y, [x])
        s = xg.sum(g * g)
    assert g.backend.name == "numpy"
    np.testing.assert_allclose(g.numpy(), 3.0 * np.cos(x.numpy()), rtol=1e-12)
    hvp = outer.gradient(s, x)              # d/dx sum(9 cos^2 x) = -18 sin x cos x
    np.testing.assert_allclose(hvp.numpy(), -18.0 * np.sin(x.numpy()) * np.cos(x.numpy()),
                               rtol=1e-12)
    with xg.GradientTape() as tape:
        tape.watch(x)
        back = x.to("strict").to("numpy")
        total = xg.sum(back * x)
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), 2.0 * x.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "uint64", "bool"])
@pytest.mark.parametrize("size", [1, 47, 48, 49, 200])
def test_numpy_index_range_short_and_long_arrays_agree_with_min_max(dtype, size):
    """The NumPy backend's ``index_range`` takes arrays of up to 48 entries through a list
    (twice as fast as two reductions): both ways give Python ints equal to ``min``/``max``,
    for any integer dtype (uint64 beyond int64 included) and any shape."""
    from xpgrad.backends.numpy import _LIST_RANGE_MAX

    assert _LIST_RANGE_MAX == 48
    rng = np.random.default_rng(size)
    if dtype == "bool":
        a = rng.integers(0, 2, size).astype(bool)
    else:
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, size, dtype=dtype, endpoint=True)
        a[0] = info.max
    be = xg.get_backend("numpy")
    for arr in (a, a.reshape(1, -1), a[::-1]):
        lo, hi = be.index_range(arr)
        assert (lo, hi) == (int(arr.min()), int(arr.max()))
        assert type(lo) is int and type(hi) is int
    with pytest.raises(ValueError):
        be.index_range(np.zeros(0, np.int64))
